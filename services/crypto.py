"""Encryption at rest of stored secrets (channel keys, secret channel config, SMTP/OAuth options).

With ``CRYPTO_SECRET`` set, the stores write every secret as ``enc:v1:<base64url(nonce ‖ ciphertext)>``:
AES-256-GCM (``cryptography``'s AESGCM, a fresh 12-byte nonce per value) under a key derived
from the secret with scrypt (N=2**15, r=8, p=1) and split with HKDF-SHA256 into the
encryption key and a search key (keyed digests, so a channel can still be found by one of
its keys). Without the prefix a stored value is plaintext: both kinds coexist, so turning
encryption on needs no migration (``python server.py rotate-secret`` encrypts the old ones).

Reads decrypt in the stores, once per load (the routing table and the option cache hold
plaintext); nothing here runs per relayed request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from models.db import Database

PREFIX = "enc:v1:"
_SALT = b"onerelay/crypto/v1"
_AAD = b"onerelay:v1"
_CHECK = "onerelay-crypto-check"
CHECK_ID = "crypto_check"  # the ``system`` document holding the deployment's check value


class CryptoError(Exception):
    """A stored secret cannot be decrypted: CRYPTO_SECRET is missing or wrong."""


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


@lru_cache(maxsize=8)
def _derive(secret: str) -> tuple[bytes, bytes]:
    """(AES-256 key, digest key) from the operator's secret; scrypt once per process."""
    master = hashlib.scrypt(secret.encode("utf-8"), salt=_SALT, n=2**15, r=8, p=1,
                            maxmem=64 * 1024 * 1024, dklen=32)
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=_SALT, info=b"onerelay enc+digest").derive(master)
    return okm[:32], okm[32:]


class SecretBox:
    """Encrypts and decrypts stored secrets; a box without a secret only reads plaintext."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret or ""
        self._aes: AESGCM | None = None
        self._digest_key = b""
        if self.secret:
            enc, dig = _derive(self.secret)
            self._aes = AESGCM(enc)
            self._digest_key = dig

    @property
    def enabled(self) -> bool:
        return self._aes is not None

    def encrypt(self, value: str) -> str:
        """The stored form of ``value``: encrypted when enabled ("" stays "")."""
        if self._aes is None or not value:
            return value
        nonce = os.urandom(12)
        ct = self._aes.encrypt(nonce, value.encode("utf-8"), _AAD)
        return PREFIX + base64.urlsafe_b64encode(nonce + ct).decode("ascii").rstrip("=")

    def decrypt(self, value: str) -> str:
        """The plaintext of a stored value (plaintext passes through)."""
        if not is_encrypted(value):
            return value
        if self._aes is None:
            raise CryptoError("stored secrets are encrypted but CRYPTO_SECRET is not set: start "
                              "OneRelay with the CRYPTO_SECRET they were encrypted with")
        raw = value[len(PREFIX):]
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            return self._aes.decrypt(blob[:12], blob[12:], _AAD).decode("utf-8")
        except (InvalidTag, ValueError) as e:
            raise CryptoError("a stored secret cannot be decrypted with this CRYPTO_SECRET (wrong "
                              "secret, or the value is damaged): start OneRelay with the secret it was "
                              "encrypted with, or re-encrypt with `python server.py rotate-secret`") from e

    def digest(self, value: str) -> str:
        """A keyed digest for exact-match lookups of encrypted values ("" when disabled)."""
        if not self._digest_key or not value:
            return ""
        return hmac.new(self._digest_key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def check_value(self) -> str:
        """A value stored once per deployment: a node with another secret is refused at start."""
        return self.encrypt(_CHECK)

    def verify_check(self, stored: str) -> None:
        if self.decrypt(stored) != _CHECK:
            raise CryptoError("the CRYPTO_SECRET check value does not match")


NO_CRYPTO = SecretBox()


async def check_deployment_secret(db: "Database", box: SecretBox, refused: str) -> None:
    """With a secret: the deployment's check value (stored by the first process that had one)
    must decrypt with ``box``; CryptoError(``refused``) otherwise. Without one: nothing to check."""
    if not box.enabled:
        return
    from pymongo import ReturnDocument

    doc = await db.system.find_one_and_update(
        {"_id": CHECK_ID}, {"$setOnInsert": {"value": box.check_value()}},
        upsert=True, return_document=ReturnDocument.AFTER)
    try:
        box.verify_check(str((doc or {}).get("value") or ""))
    except CryptoError:
        raise CryptoError(refused) from None


async def rotate_secrets(db: "Database", old: SecretBox, new: SecretBox) -> dict[str, int]:
    """Re-encrypt every stored secret from ``old`` to ``new`` (plaintext ones are encrypted; a
    ``new`` box without a secret writes plaintext). Everything is decrypted first, so a wrong
    ``old`` secret changes nothing. Returns how many channels and options were rewritten."""
    from models.channels import ChannelStore
    from models.options import is_secret_option

    reader, writer = ChannelStore(db, crypto=old), ChannelStore(db, crypto=new)
    channels = [reader.open(d) async for d in db.channels.find({})]
    options = [(d["_id"], old.decrypt(d["value"])) async for d in db.options.find({})
               if isinstance(d.get("_id"), str) and is_secret_option(d["_id"]) and isinstance(d.get("value"), str)]
    for doc in channels:
        assert doc is not None
        fields = writer.seal({"key": doc.get("key") or "", "config": doc.get("config") or ""})
        await db.channels.update_one({"_id": doc["_id"]}, {"$set": fields})
    for key, value in options:
        await db.options.update_one({"_id": key}, {"$set": {"value": new.encrypt(value)}})
    if new.enabled:
        await db.system.update_one({"_id": CHECK_ID}, {"$set": {"value": new.check_value()}}, upsert=True)
    else:
        await db.system.delete_one({"_id": CHECK_ID})
    return {"channels": len(channels), "options": len(options)}
