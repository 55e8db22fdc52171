"""Short-lived verification codes (email codes, password-reset tokens) in MongoDB.

Codes live in the ``verifications`` collection so every node agrees on them.
Only a SHA-256 digest of each code is stored; checks compare digests in
constant time. A code expires after its TTL (checked on read; a TTL index
only cleans up), dies after ``MAX_ATTEMPTS`` wrong guesses, and is consumed
atomically: two concurrent uses of one code cannot both succeed.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import time
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from .db import Database

PURPOSE_EMAIL = "email_verification"
PURPOSE_RESET = "password_reset"
CODE_TTL = 10 * 60  # seconds (One API: 10 minutes)
MAX_ATTEMPTS = 5
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to type


def new_code(length: int = 6) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def _digest(purpose: str, key: str, code: str) -> str:
    return hashlib.sha256(f"{purpose}\0{key}\0{code}".encode()).hexdigest()


class VerificationStore:
    def __init__(self, db: Database) -> None:
        self.col = db.db["verifications"]
        self._indexed = False

    async def _ensure_index(self) -> None:
        if self._indexed:
            return
        self._indexed = True
        try:
            await self.col.create_index("expires_dt", expireAfterSeconds=0)
        except PyMongoError:  # cleanup only: expiry is enforced on read
            pass

    @staticmethod
    def _id(purpose: str, key: str) -> str:
        return f"{purpose}:{key.lower()}"

    async def issue(self, purpose: str, key: str, code: str, ttl: int = CODE_TTL) -> None:
        """Store ``code`` for (purpose, key), replacing any earlier one."""
        await self._ensure_index()
        now = time.time()
        await self.col.update_one(
            {"_id": self._id(purpose, key)},
            {"$set": {
                "digest": _digest(purpose, key.lower(), code), "attempts": 0,
                "expires_at": now + ttl,
                "expires_dt": datetime.datetime.fromtimestamp(now + ttl, datetime.timezone.utc)
                .replace(tzinfo=None),
            }},
            upsert=True,
        )

    async def check(self, purpose: str, key: str, code: str, *, consume: bool) -> bool:
        """True when ``code`` is the live code for (purpose, key); ``consume`` uses it up."""
        if not code or not key:
            return False
        _id = self._id(purpose, key)
        doc: dict[str, Any] | None = await self.col.find_one({"_id": _id})
        if doc is None:
            return False
        if float(doc.get("expires_at", 0)) < time.time():
            await self.col.delete_one({"_id": _id, "digest": doc.get("digest")})
            return False
        given = _digest(purpose, key.lower(), code)
        if not hmac.compare_digest(str(doc.get("digest", "")), given):
            after = await self.col.find_one_and_update(
                {"_id": _id, "digest": doc.get("digest")}, {"$inc": {"attempts": 1}},
                return_document=ReturnDocument.AFTER,
            )
            if after is not None and int(after.get("attempts", 0)) >= MAX_ATTEMPTS:
                await self.col.delete_one({"_id": _id, "digest": doc.get("digest")})
            return False
        if int(doc.get("attempts", 0)) >= MAX_ATTEMPTS:
            return False
        if consume:
            res = await self.col.delete_one({"_id": _id, "digest": given})
            return res.deleted_count == 1  # a concurrent use of the same code lost the race
        return True

    async def delete(self, purpose: str, key: str) -> None:
        await self.col.delete_one({"_id": self._id(purpose, key)})
