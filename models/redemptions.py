"""Redemption codes: quota vouchers an admin creates and a user redeems once."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING, ReturnDocument

from .db import Database

if TYPE_CHECKING:
    from .events import EventBus

RED_ENABLED, RED_DISABLED, RED_USED = 1, 2, 3

API_FIELDS = ("user_id", "key", "status", "name", "quota", "created_time", "redeemed_time",
              "used_user_id")


class RedeemError(ValueError):
    """A code that cannot be redeemed (unknown, disabled, already used)."""


def new_key() -> str:
    """A 32-hex UUID, One API's redemption key shape."""
    return uuid.uuid4().hex


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(doc["_id"])}
    for k in API_FIELDS:
        out[k] = doc.get(k)
    for k in ("user_id", "quota", "created_time", "redeemed_time", "used_user_id"):
        out[k] = int(out[k] or 0)
    out["status"] = int(out["status"] or RED_ENABLED)
    out["name"] = out["name"] or ""
    return out


class RedemptionStore:
    """Owns every write of ``redemptions``; each write publishes ``redemption``."""

    def __init__(self, db: Database, events: "EventBus | None" = None) -> None:
        self.db = db
        self.col = db.redemptions
        self.events = events

    async def _changed(self, rid: int | None, **data: Any) -> None:
        if self.events is not None:
            await self.events.publish("redemption", rid, **data)

    async def create_many(self, creator_id: int, name: str, quota: int, count: int) -> list[dict[str, Any]]:
        """Insert ``count`` codes with consecutive ids; returns the documents."""
        first = await self.db.next_id("redemptions", count)
        now = int(time.time())
        docs = [{
            "_id": first + i, "user_id": creator_id, "key": new_key(), "status": RED_ENABLED,
            "name": name, "quota": int(quota), "created_time": now, "redeemed_time": 0,
            "used_user_id": 0,
        } for i in range(count)]
        await self.col.insert_many(docs, ordered=True)
        await self._changed(None, created=count)
        return docs

    async def get(self, rid: int) -> dict[str, Any] | None:
        return await self.col.find_one({"_id": rid})

    async def page(self, page: int, size: int) -> list[dict[str, Any]]:
        cur = self.col.find({}).sort([("_id", DESCENDING)]).skip(page * size).limit(size)
        return [d async for d in cur]

    async def search(self, keyword: str, limit: int = 100) -> list[dict[str, Any]]:
        """One API: the id, or a name prefix."""
        ors: list[dict[str, Any]] = [{"name": {"$regex": "^" + re.escape(keyword)}}]
        if keyword.isdigit() and len(keyword) < 19:
            ors.append({"_id": int(keyword)})
        cur = self.col.find({"$or": ors}).sort([("_id", DESCENDING)]).limit(limit)
        return [d async for d in cur]

    async def update_unused(self, rid: int, fields: dict[str, Any]) -> bool:
        """Update a code that has not been redeemed; False when it was (or is gone)."""
        res = await self.col.update_one({"_id": rid, "status": {"$ne": RED_USED}}, {"$set": fields})
        if res.matched_count:
            await self._changed(rid)
        return res.matched_count == 1

    async def update(self, rid: int, fields: dict[str, Any]) -> None:
        await self.col.update_one({"_id": rid}, {"$set": fields})
        await self._changed(rid)

    async def delete(self, rid: int) -> bool:
        res = await self.col.delete_one({"_id": rid})
        if res.deleted_count:
            await self._changed(rid, deleted=True)
        return res.deleted_count == 1

    async def redeem(self, key: str, user_id: int) -> dict[str, Any]:
        """Mark an enabled code used by ``user_id`` in one atomic step; returns the code.

        A single conditional ``find_one_and_update`` (status 1 → 3) means that of
        any number of concurrent calls for one code exactly one succeeds.
        """
        doc = await self.col.find_one_and_update(
            {"key": key, "status": RED_ENABLED},
            {"$set": {"status": RED_USED, "redeemed_time": int(time.time()), "used_user_id": user_id}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            await self._changed(int(doc["_id"]), used_by=user_id)
            return doc
        existing = await self.col.find_one({"key": key}, {"status": 1})
        if existing is None:
            raise RedeemError("Invalid redemption code")
        if int(existing.get("status", 0)) == RED_USED:
            raise RedeemError("This redemption code has already been used")
        raise RedeemError("This redemption code is disabled")
