"""Tokens: the ``sk-`` API keys users hand to clients."""

from __future__ import annotations

import ipaddress
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument

from .db import Database

if TYPE_CHECKING:
    from .events import EventBus

TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4

API_FIELDS = (
    "user_id", "key", "status", "name", "created_time", "accessed_time", "expired_time",
    "remain_quota", "unlimited_quota", "used_quota", "models", "subnet",
)


def generate_key() -> str:
    """One API's shape: 16 random alphanumerics + a UUID's 32 hex chars with the
    letters at even positions upper-cased. Stored without ``sk-``."""
    alphabet = string.ascii_letters + string.digits
    head = "".join(secrets.choice(alphabet) for _ in range(16))
    tail = "".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(uuid.uuid4().hex))
    return head + tail


def parse_subnets(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated CIDRs (or bare addresses); raises ValueError naming the bad one."""
    nets = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"invalid subnet: {part}") from None
    return nets


@dataclass(slots=True)
class TokenRecord:
    """The cached view of a token used by relay authentication."""

    id: int
    user_id: int
    key: str
    name: str
    status: int
    expired_time: int
    unlimited_quota: bool
    models: frozenset[str] | None
    subnets: list[Any] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)  # services/limits.py (RPM/TPM, periodic quotas)
    billing: str = "ratio"  # "ratio" (tokens x ratios) or "per_call" (ModelPrice per request)
    group: str = ""  # the group this key routes and bills in ("" : its owner's)

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> "TokenRecord":
        models = frozenset(m.strip() for m in (d.get("models") or "").split(",") if m.strip())
        try:
            subnets = parse_subnets(d.get("subnet") or "")
        except ValueError:
            subnets = [ipaddress.ip_network("0.0.0.0/32")]  # a corrupt subnet refuses everyone
        return cls(
            id=int(d["_id"]), user_id=int(d["user_id"]), key=d["key"], name=d.get("name", ""),
            status=int(d.get("status", 1)), expired_time=int(d.get("expired_time", -1)),
            unlimited_quota=bool(d.get("unlimited_quota")), models=models or None,
            subnets=subnets, limits=_limits(d.get("limits")), billing=d.get("billing_mode") or "ratio",
            group=d.get("group") or "",
        )

    def ip_allowed(self, ip: str) -> bool:
        if not self.subnets:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.subnets if net.version == addr.version)


def _limits(value: Any) -> dict[str, Any]:
    from services.limits import LimitError, parse_limits

    try:
        return parse_limits(value)
    except LimitError:
        return {}


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(doc["_id"])}
    for k in API_FIELDS:
        out[k] = doc.get(k)
    out["models"] = out["models"] or ""
    out["subnet"] = out["subnet"] or ""
    out["unlimited_quota"] = bool(out["unlimited_quota"])
    for k in ("remain_quota", "used_quota", "accessed_time", "created_time"):
        out[k] = int(out[k] or 0)
    out["remain_quota"] += int(doc.get("leased") or 0)  # leased to processes, still the token's
    if out["expired_time"] is None:
        out["expired_time"] = -1
    out["limits"] = _limits(doc.get("limits"))
    out["billing_mode"] = doc.get("billing_mode") or "ratio"
    out["group"] = doc.get("group") or ""
    return out


class TokenStore:
    """Owns every write of ``tokens``; each write publishes ``token`` with its key."""

    def __init__(self, db: Database, events: "EventBus | None" = None) -> None:
        self.db = db
        self.col = db.tokens
        self.events = events

    async def _changed(self, tid: int, key: str | None, **data: Any) -> None:
        if self.events is not None:
            await self.events.publish("token", tid, key=key, **data)

    async def update(self, tid: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set fields of one token; returns the updated document (None when gone)."""
        doc = await self.col.find_one_and_update({"_id": tid}, {"$set": fields},
                                                 return_document=ReturnDocument.AFTER)
        if doc is not None:
            await self._changed(tid, doc.get("key"))
        return doc

    async def delete(self, tid: int, user_id: int | None = None) -> dict[str, Any] | None:
        q: dict[str, Any] = {"_id": tid}
        if user_id is not None:
            q["user_id"] = user_id
        doc = await self.col.find_one_and_delete(q)
        if doc is not None:
            await self._changed(tid, doc.get("key"), deleted=True)
        return doc

    async def page(self, user_id: int, page: int, size: int,
                   sort: list[tuple[str, int]]) -> list[dict[str, Any]]:
        cur = self.col.find({"user_id": user_id}).sort(sort).skip(page * size).limit(size)
        return [d async for d in cur]

    async def search(self, query: dict[str, Any], limit: int = 100) -> list[dict[str, Any]]:
        cur = self.col.find(query).sort([("_id", 1)]).limit(limit)
        return [d async for d in cur]

    async def create(
        self, user_id: int, name: str, *, remain_quota: int = 0, unlimited_quota: bool = False,
        expired_time: int = -1, models: str = "", subnet: str = "", key: str | None = None,
        key_suffix: str | None = None, **extra: Any,
    ) -> dict[str, Any]:
        """A new token; with ``key_suffix``, the key is 16 random characters and that suffix (unique
        across tokens: a DuplicateKeyError when taken)."""
        tid = await self.db.next_id("tokens")
        now = int(time.time())
        if key_suffix:
            key = generate_key()[:16] + key_suffix
        doc = {
            "_id": tid, "user_id": user_id, "key": key or generate_key(), "status": TOKEN_ENABLED,
            "name": name, "created_time": now, "accessed_time": now, "expired_time": expired_time,
            "remain_quota": int(remain_quota), "unlimited_quota": bool(unlimited_quota),
            "used_quota": 0, "models": models, "subnet": subnet,
        }
        if key_suffix:
            doc["key_suffix"] = key_suffix
        doc.update({k: v for k, v in extra.items() if k in ("limits", "billing_mode", "group")})
        await self.col.insert_one(doc)
        return doc

    async def suffix_taken(self, suffix: str) -> bool:
        return await self.col.find_one({"key_suffix": suffix}, {"_id": 1}) is not None

    async def by_key(self, key: str) -> dict[str, Any] | None:
        return await self.col.find_one({"key": key})

    async def get(self, tid: int, user_id: int | None = None) -> dict[str, Any] | None:
        q: dict[str, Any] = {"_id": tid}
        if user_id is not None:
            q["user_id"] = user_id
        return await self.col.find_one(q)
