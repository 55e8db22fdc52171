"""Channels (upstream accounts) and their abilities (group × model rows)."""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from typing import TYPE_CHECKING

from pymongo import DESCENDING, InsertOne

from .db import Database

if TYPE_CHECKING:
    from services.crypto import SecretBox

    from .events import EventBus

CH_UNKNOWN, CH_ENABLED, CH_MANUALLY_DISABLED, CH_AUTO_DISABLED = 0, 1, 2, 3

API_FIELDS = (
    "type", "status", "name", "weight", "created_time", "test_time", "response_time", "base_url",
    "other", "balance", "balance_updated_time", "models", "group", "used_quota", "model_mapping",
    "priority", "config", "system_prompt", "tag", "auto_enable_at", "test_expect", "rpm_limit", "proxy",
    "headers",
)


# -- secrets in ``config`` -----------------------------------------------------------------------
# A secret config value is never sent back: responses carry MASK instead (as ``key`` is
# always ""). On update, MASK or an absent secret keeps the stored value; "" or null clears it.
MASK = "********"
_SECRET_NAME = re.compile(r"secret|key|token|passw|credential|adc|private", re.I)
_SECRET_NAMES = {"ak", "sk"}


def _registry_secret_keys() -> frozenset[str]:
    from adaptors.registry import PROVIDERS

    return frozenset(f.key for spec in PROVIDERS.values() for f in spec.config if f.secret)


_registry_secrets: frozenset[str] | None = None


def is_secret_config_key(name: str) -> bool:
    """A config member holding a credential: flagged ``secret`` in the provider registry (any
    type), or named like one (``*secret*``, ``*key*``, ``*token*``, ``*password*``, ``*adc*``, ak, sk)."""
    global _registry_secrets
    if _registry_secrets is None:
        _registry_secrets = _registry_secret_keys()
    return name in _registry_secrets or name.lower() in _SECRET_NAMES or bool(_SECRET_NAME.search(name))


def _config_object(text: Any) -> dict[str, Any] | None:
    """The config as a dict; None when it is not a JSON object (cannot tell its secrets)."""
    try:
        return parse_json_object(text, "config")
    except ValueError:
        return None


def mask_config(text: Any) -> str:
    """The config as clients see it: every non-empty secret member replaced by MASK."""
    if text in (None, ""):
        return ""
    data = _config_object(text)
    if data is None:
        return MASK  # unparsable: it may hold anything
    if not any(is_secret_config_key(k) and v not in (None, "") for k, v in data.items()):
        return text if isinstance(text, str) else json.dumps(data, ensure_ascii=False)
    return json.dumps({k: (MASK if is_secret_config_key(k) and v not in (None, "") else v)
                       for k, v in data.items()}, ensure_ascii=False)


def merge_config(stored: Any, new: Any) -> str:
    """An update's config over the stored one: a secret member that is absent or MASK keeps its
    stored value, ``""``/``null`` removes it; other members are as sent. ``new`` == MASK keeps it all."""
    if new == MASK:
        return stored if isinstance(stored, str) else ""
    old = _config_object(stored) or {}
    data = _config_object(new)
    if data is None:
        raise ValueError("config must be a JSON object")
    out: dict[str, Any] = {}
    for k, v in data.items():
        if is_secret_config_key(k):
            if v == MASK:
                if old.get(k) not in (None, ""):
                    out[k] = old[k]
                continue
            if v is None or v == "":
                continue  # cleared on purpose
        out[k] = v
    if new not in (None, ""):  # config "" clears everything on purpose
        for k, v in old.items():
            if is_secret_config_key(k) and k not in data and v not in (None, ""):
                out[k] = v
    if not out:
        return ""
    if out == data and isinstance(new, str):
        return new.strip()
    return json.dumps(out, ensure_ascii=False)


def has_mask(text: Any) -> bool:
    data = _config_object(text)
    return text == MASK or (data is not None and any(v == MASK for v in data.values()))


def split_csv(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for part in text.split(","):
        part = part.strip()
        if part:
            seen[part] = None
    return list(seen)


def parse_json_object(text: Any, what: str) -> dict[str, Any]:
    """A JSON-object option field (model_mapping, config); "" → {}."""
    if text in (None, "", "{}"):
        return {}
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a JSON object string")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object")
    return data


def mask_proxy(url: str) -> str:
    """A proxy URL with its password masked (``socks5://user:********@host:1080``)."""
    m = re.match(r"^([a-z0-9]+://[^:/@\s]+):([^@/\s]+)@", url or "")
    return f"{m.group(1)}:{MASK}@{url[m.end():]}" if m else (url or "")


def _headers(value: Any) -> dict[str, str]:
    try:
        h = parse_json_object(value, "headers")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in h.items() if isinstance(v, str)}


@dataclass(slots=True)
class ChannelRecord:
    """The routing view of a channel (holds its keys: never serialised to clients)."""

    id: int
    type: int
    name: str
    status: int
    keys: list[str]
    base_url: str
    models: list[str]
    groups: list[str]
    model_mapping: dict[str, str]
    system_prompt: str
    priority: int
    weight: int
    config: dict[str, Any]
    other: str
    rpm_limit: int = 0  # requests per minute across the deployment (services/limits.py); 0: none
    proxy: str = ""  # this channel's own proxy URL (http, https, socks5, socks5h)
    headers: dict[str, str] = field(default_factory=dict)  # extra request headers sent upstream
    _rotation: Any = field(default=None, repr=False)

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> "ChannelRecord":
        keys = [k.strip() for k in str(d.get("key") or "").splitlines() if k.strip()]
        try:
            mapping = {str(k): str(v) for k, v in parse_json_object(d.get("model_mapping"), "model_mapping").items()
                       if isinstance(v, str) and v}
        except ValueError:
            mapping = {}
        try:
            config = parse_json_object(d.get("config"), "config")
        except ValueError:
            config = {}
        return cls(
            id=int(d["_id"]), type=int(d.get("type", 1)), name=d.get("name", ""),
            status=int(d.get("status", 1)), keys=keys or [""], base_url=d.get("base_url") or "",
            models=split_csv(d.get("models")), groups=split_csv(d.get("group")) or ["default"],
            model_mapping=mapping, system_prompt=d.get("system_prompt") or "",
            priority=int(d.get("priority") or 0), weight=max(0, int(d.get("weight") or 0)),
            config=config, other=d.get("other") or "", rpm_limit=max(0, int(d.get("rpm_limit") or 0)),
            proxy=str(d.get("proxy") or ""), headers=_headers(d.get("headers")),
        )

    def next_key(self) -> str:
        """Several keys (one per line) are used in rotation."""
        if len(self.keys) == 1:
            return self.keys[0]
        if self._rotation is None:
            self._rotation = itertools.cycle(self.keys)
        return str(next(self._rotation))


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(doc["_id"]), "key": ""}
    for k in API_FIELDS:
        out[k] = doc.get(k)
    for k in ("weight", "priority", "used_quota", "test_time", "response_time", "created_time",
              "balance_updated_time", "auto_enable_at", "rpm_limit"):
        out[k] = int(out[k] or 0)
    out["balance"] = float(out["balance"] or 0)
    for k in ("base_url", "other", "models", "group", "system_prompt", "name", "tag", "test_expect", "proxy",
              "headers"):
        out[k] = out[k] or ""
    out["model_mapping"] = out["model_mapping"] or ""
    # the last test: passed (or never run), else why it failed
    out["test_ok"] = bool(doc.get("test_ok", True))
    out["test_error"] = str(doc.get("test_error") or "")
    out["config"] = mask_config(out["config"])
    out["proxy"] = mask_proxy(out["proxy"])
    out["group"] = out["group"] or "default"
    return out


class ChannelStore:
    """Owns every write of ``channels`` and ``abilities``; each write publishes ``channel``.

    Routing tables on every process listen for ``channel`` events and rebuild
    (models/cache.ChannelRouter). Test times and balances are not routing facts
    and publish nothing.
    """

    def __init__(self, db: Database, events: "EventBus | None" = None,
                 crypto: "SecretBox | None" = None) -> None:
        from services.crypto import NO_CRYPTO

        self.db = db
        self.col = db.channels
        self.events = events
        self.crypto = crypto or NO_CRYPTO

    # -- secrets at rest (CRYPTO_SECRET): sealed on write, opened on read -----------------------
    def seal(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The stored form of channel fields: ``key`` and secret config members encrypted when
        CRYPTO_SECRET is set, with keyed digests of the key lines (search by key)."""
        out = dict(fields)
        key = out.get("key")
        if isinstance(key, str):
            out["key"] = self.crypto.encrypt(key)
            out["key_digests"] = ([self.crypto.digest(k.strip()) for k in key.splitlines() if k.strip()]
                                  if self.crypto.enabled else [])
        if "config" in out:
            out["config"] = self._seal_config(out["config"])
        return out

    def _seal_config(self, text: Any) -> Any:
        if not self.crypto.enabled:
            return text
        data = _config_object(text)
        if not data:
            return text
        changed = False
        for k, v in data.items():
            if is_secret_config_key(k) and v not in (None, ""):
                data[k] = self.crypto.encrypt(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                changed = True
        return json.dumps(data, ensure_ascii=False) if changed else text

    def open(self, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        """A stored document with its secrets decrypted (raises CryptoError on a wrong secret)."""
        if doc is None:
            return None
        from services.crypto import is_encrypted

        if is_encrypted(doc.get("key")):
            doc["key"] = self.crypto.decrypt(doc["key"])
        cfg = doc.get("config")
        if isinstance(cfg, str) and "enc:v1:" in cfg:
            data = _config_object(cfg)
            if data:
                doc["config"] = json.dumps({k: self.crypto.decrypt(v) if is_encrypted(v) else v
                                            for k, v in data.items()}, ensure_ascii=False)
        doc.pop("key_digests", None)
        return doc

    async def _changed(self, cid: int | None, **data: Any) -> None:
        if self.events is not None:
            await self.events.publish("channel", cid, **data)

    @staticmethod
    def abilities_for(doc: dict[str, Any]) -> list[dict[str, Any]]:
        enabled = int(doc.get("status", 1)) == CH_ENABLED
        return [
            {"group": g, "model": m, "channel_id": int(doc["_id"]), "enabled": enabled,
             "priority": int(doc.get("priority") or 0)}
            for g in (split_csv(doc.get("group")) or ["default"])
            for m in split_csv(doc.get("models"))
        ]

    async def rebuild_abilities(self, doc: dict[str, Any]) -> None:
        await self.db.abilities.delete_many({"channel_id": int(doc["_id"])})
        rows = self.abilities_for(doc)
        if rows:
            await self.db.abilities.bulk_write([InsertOne(r) for r in rows], ordered=False)

    # -- writes (each publishes) ----------------------------------------------------------------
    async def create(self, fields: dict[str, Any], *, publish: bool = True) -> dict[str, Any]:
        cid = await self.db.next_id("channels")
        doc = {
            "_id": cid, "type": 1, "key": "", "status": CH_ENABLED, "name": "", "weight": 0,
            "created_time": int(time.time()), "test_time": 0, "response_time": 0, "base_url": "",
            "other": "", "balance": 0.0, "balance_updated_time": 0, "models": "",
            "group": "default", "used_quota": 0, "model_mapping": "", "priority": 0, "config": "",
            "system_prompt": "", "tag": "", "auto_enable_at": 0, "test_expect": "",
        }
        doc.update(fields)
        doc["_id"] = cid
        await self.col.insert_one(self.seal(doc))
        await self.rebuild_abilities(doc)
        if publish:
            await self._changed(cid)
        return doc

    async def update(self, cid: int, fields: dict[str, Any], *, publish: bool = True) -> dict[str, Any] | None:
        if fields:
            await self.col.update_one({"_id": cid}, {"$set": self.seal(fields)})
        doc = await self.get(cid)
        if doc is not None:
            await self.rebuild_abilities(doc)
        if publish:
            await self._changed(cid)
        return doc

    async def set_status(self, cid: int, status: int, *, only_from: int | None = None) -> bool:
        """Set a channel's status; with ``only_from``, only when it currently has that status
        (re-enabling an auto-disabled channel never touches a manually disabled one).
        Returns whether the channel changed."""
        q: dict[str, Any] = {"_id": cid}
        if only_from is not None:
            q["status"] = only_from
        res = await self.col.update_one(q, {"$set": {"status": status}})
        if not res.matched_count:
            return False
        await self.db.abilities.update_many({"channel_id": cid}, {"$set": {"enabled": status == CH_ENABLED}})
        await self._changed(cid, status=status)
        return True

    async def delete(self, cid: int, *, publish: bool = True) -> bool:
        res = await self.col.delete_one({"_id": cid})
        await self.db.abilities.delete_many({"channel_id": cid})
        if publish:
            await self._changed(cid, deleted=True)
        return res.deleted_count > 0

    async def delete_disabled(self) -> int:
        """Delete every disabled channel (manual or automatic); returns how many."""
        ids = [d["_id"] async for d in self.col.find(
            {"status": {"$in": [CH_MANUALLY_DISABLED, CH_AUTO_DISABLED]}}, {"_id": 1})]
        for cid in ids:
            await self.delete(int(cid), publish=False)
        if ids:
            await self._changed(None)
        return len(ids)

    async def announce(self) -> None:
        """Publish one ``channel`` event for a batch of writes made with ``publish=False``."""
        await self._changed(None)

    async def record_test(self, cid: int, response_time_ms: int, ok: bool = True, error: str = "") -> None:
        """A test's outcome: when, how long, and whether it passed (with why not)."""
        await self.col.update_one({"_id": cid}, {"$set": {
            "test_time": int(time.time()), "response_time": int(response_time_ms),
            "test_ok": bool(ok), "test_error": "" if ok else error[:300]}})

    async def record_balance(self, cid: int, balance: float) -> None:
        await self.col.update_one({"_id": cid}, {"$set": {"balance": balance,
                                                         "balance_updated_time": int(time.time())}})

    # -- reads ----------------------------------------------------------------------------------
    # Every read returns plaintext (decrypted here, once per load: the routing table keeps it).
    async def get(self, cid: int) -> dict[str, Any] | None:
        return self.open(await self.col.find_one({"_id": cid}))

    async def all(self) -> list[dict[str, Any]]:
        return [self.open(d) async for d in self.col.find({})]  # type: ignore[misc]

    async def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Channels matching a query, oldest first (bulk tests and balance rounds)."""
        return [self.open(d) async for d in self.col.find(query).sort("_id", 1)]  # type: ignore[misc]

    async def page(self, page: int, size: int, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.col.find(query or {}, {"key": 0}).sort([("_id", DESCENDING)]).skip(page * size).limit(size)
        return [self.open(d) async for d in cur]  # type: ignore[misc]

    async def ids(self, query: dict[str, Any]) -> list[int]:
        """The ids of the channels matching a query (tags, batch edits, auto-enable)."""
        return [int(d["_id"]) async for d in self.col.find(query, {"_id": 1}).sort("_id", 1)]

    async def tags(self) -> list[str]:
        """Every tag in use, sorted."""
        return sorted({str(t) for t in await self.col.distinct("tag") if t})

    async def search(self, keyword: str, limit: int = 100) -> list[dict[str, Any]]:
        """Name, models or group contain the keyword; or the id, or one of the keys, equals it."""
        q: dict[str, Any] = {}
        if keyword:
            rx = {"$regex": re.escape(keyword), "$options": "i"}
            ors: list[dict[str, Any]] = [
                {"name": rx}, {"models": rx}, {"group": rx}, {"key": keyword},
                {"key": {"$regex": f"^{re.escape(keyword)}$", "$options": "m"}}]
            if self.crypto.enabled:  # encrypted keys are found by their keyed digests
                ors.append({"key_digests": self.crypto.digest(keyword)})
            if keyword.isdigit() and len(keyword) < 18:
                ors.append({"_id": int(keyword)})
            q = {"$or": ors}
        cur = self.col.find(q, {"key": 0}).sort([("_id", DESCENDING)]).limit(limit)
        return [self.open(d) async for d in cur]  # type: ignore[misc]
