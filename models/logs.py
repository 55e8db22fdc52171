"""Logs: one store builds every record (consume, top-up, manage, system, channel test).

Records are queued in the :class:`~models.ledger.QuotaLedger`'s batch writer
and inserted in bulk; :meth:`LogStore.write_now` flushes at once (an admin's
action shows in the log list immediately). Reads flush first, so a page shows
what this process just relayed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING

from services.i18n import EN, translate

from .db import Database

if TYPE_CHECKING:
    from .ledger import QuotaLedger

# One API's log types (plus 5, channel tests, and 6, relay requests that failed after
# authentication: never billed, with status, error code, channel and retry chain).
LOG_UNKNOWN, LOG_TOPUP, LOG_CONSUME, LOG_MANAGE, LOG_SYSTEM, LOG_TEST, LOG_ERROR = 0, 1, 2, 3, 4, 5, 6
LOG_TYPES = {LOG_UNKNOWN: "unknown", LOG_TOPUP: "topup", LOG_CONSUME: "consume",
             LOG_MANAGE: "manage", LOG_SYSTEM: "system", LOG_TEST: "test", LOG_ERROR: "error"}

NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def build(log_type: int, *, user_id: int = 0, username: str = "", content: str = "",
          quota: int = 0, token_name: str = "", token_id: int = 0, model_name: str = "",
          prompt_tokens: int = 0, completion_tokens: int = 0, channel_id: int = 0,
          request_id: str = "", elapsed_time: int = 0, is_stream: bool = False,
          **extra: Any) -> dict[str, Any]:
    """One log record with every field One API's log list shows."""
    if log_type not in LOG_TYPES:
        raise ValueError(f"unknown log type {log_type}")
    rec = {
        "user_id": int(user_id), "created_at": int(time.time()), "type": log_type,
        "content": content, "username": username, "token_name": token_name,
        "model_name": model_name, "quota": int(quota), "prompt_tokens": int(prompt_tokens),
        "completion_tokens": int(completion_tokens), "channel_id": int(channel_id),
        "request_id": request_id, "elapsed_time": int(elapsed_time), "is_stream": bool(is_stream),
    }
    if token_id:
        rec["token_id"] = int(token_id)
    rec.update(extra)
    return rec


class LogStore:
    def __init__(self, db: Database, ledger: "QuotaLedger") -> None:
        self.db = db
        self.col = db.logs
        self.ledger = ledger
        self.language = EN  # the operator's language (option Language): content is written in it

    # -- writing --------------------------------------------------------------------------------
    def add(self, log_type: int, **fields: Any) -> None:
        """Queue one record (written with the next batch), its content in the operator's language."""
        if self.language != EN and fields.get("content"):
            fields["content"] = translate(fields["content"], self.language)
        self.ledger.add_log(build(log_type, **fields))

    def consume(self, **fields: Any) -> None:
        self.add(LOG_CONSUME, **fields)

    def test(self, **fields: Any) -> None:
        self.add(LOG_TEST, **fields)

    def error(self, **fields: Any) -> None:
        self.add(LOG_ERROR, **fields)

    async def write_now(self, log_type: int, **fields: Any) -> None:
        """Queue one record and flush: top-up, manage and system logs show at once."""
        self.add(log_type, **fields)
        await self.ledger.flush()

    def system(self, user_id: int, username: str, content: str, quota: int = 0) -> None:
        self.add(LOG_SYSTEM, user_id=user_id, username=username, content=content, quota=quota)

    # -- reading --------------------------------------------------------------------------------
    async def page(self, query: dict[str, Any], page: int, size: int,
                   sort: list[tuple[str, int]] | None = None) -> list[dict[str, Any]]:
        await self.ledger.flush()
        cur = self.col.find(query).sort(sort or NEWEST).skip(page * size).limit(size)
        return [d async for d in cur]

    async def iterate(self, query: dict[str, Any], batch: int = 1000) -> Any:
        """Every matching log, newest first, read in batches (CSV export of any size)."""
        await self.ledger.flush()
        async for d in self.col.find(query).sort(NEWEST).batch_size(batch):
            yield d

    async def count(self, query: dict[str, Any]) -> int:
        """How many logs match (the console's page count); capped to keep a huge table cheap."""
        return int(await self.col.count_documents(query, limit=100_000))

    async def newest(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        await self.ledger.flush()
        cur = self.col.find(query).sort(NEWEST).limit(limit)
        return [d async for d in cur]

    async def sum_quota(self, query: dict[str, Any]) -> int:
        """Sum of ``quota`` over the matching logs (consume logs unless ``type`` is given)."""
        await self.ledger.flush()
        q = dict(query)
        q.setdefault("type", LOG_CONSUME)
        cur = await self.col.aggregate([{"$match": q}, {"$group": {"_id": None, "quota": {"$sum": "$quota"}}}])
        rows = [r async for r in cur]
        return int(rows[0]["quota"] or 0) if rows else 0

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await self.ledger.flush()
        return [d async for d in await self.col.aggregate(pipeline)]

    async def delete_before(self, ts: int) -> int:
        await self.ledger.flush()
        res = await self.col.delete_many({"created_at": {"$lt": ts}})
        return int(res.deleted_count)
