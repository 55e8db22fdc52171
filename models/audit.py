"""The audit log: who changed what, and when (admin writes to channels, users, tokens,
redemption codes and options; top-ups).

A collection of its own (``audit``), not One API's log table: logs are user-facing (a manage
log shows in the affected user's own log list), can be deleted in bulk by admins and expire
with ``LOG_RETENTION_DAYS``; an audit trail must survive both. Only root reads it
(``GET /api/audit/``). Records name the fields that changed, never their values, except
a few non-secret facts (a new status, a role, a quota amount, how many codes).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Iterable

from pymongo import ASCENDING, DESCENDING

from .db import Database

log = logging.getLogger("onerelay")

ENTITIES = ("channel", "token", "user", "option", "redemption")
ACTIONS = ("create", "update", "delete", "status", "topup", "manage")
# detail keys that may be recorded with their values (never credentials)
SAFE_DETAIL = frozenset({"status", "role", "quota", "count", "ids", "op"})
_SECRETISH = re.compile(r"secret|key|token|passw|credential|adc|private", re.I)


def redact_fields(names: Iterable[str]) -> list[str]:
    """Field names, sorted and de-duplicated (names only: values are never stored)."""
    return sorted({str(n) for n in names if n not in ("id", "_id")})


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.col = db.db["audit"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("created_at", DESCENDING)])
        await self.col.create_index([("entity", ASCENDING), ("entity_id", ASCENDING)])

    async def record(self, *, user_id: int, username: str, action: str, entity: str,
                     entity_id: Any, fields: Iterable[str] = (), ip: str = "",
                     **detail: Any) -> None:
        """One record; a failed write is logged, never fails the admin's request."""
        rec: dict[str, Any] = {
            "created_at": int(time.time()), "user_id": int(user_id), "username": username,
            "action": action, "entity": entity, "entity_id": entity_id,
            "fields": redact_fields(fields), "ip": ip,
        }
        safe = {k: v for k, v in detail.items()
                if k in SAFE_DETAIL and v is not None and not _SECRETISH.search(k)}
        if safe:
            rec["detail"] = safe
        try:
            await self.col.insert_one(rec)
        except Exception:  # noqa: BLE001
            log.exception("writing an audit record failed: %s %s %s", action, entity, entity_id)

    async def page(self, query: dict[str, Any], page: int, size: int) -> list[dict[str, Any]]:
        cur = self.col.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return [d async for d in cur.skip(page * size).limit(size)]


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]), "created_at": int(doc.get("created_at") or 0),
        "user_id": int(doc.get("user_id") or 0), "username": doc.get("username") or "",
        "action": doc.get("action") or "", "entity": doc.get("entity") or "",
        "entity_id": doc.get("entity_id"), "fields": list(doc.get("fields") or []),
        "detail": dict(doc.get("detail") or {}), "ip": doc.get("ip") or "",
    }
