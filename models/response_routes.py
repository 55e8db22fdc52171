"""Which channel created a Responses API response (``resp_…``), so its follow-up calls
(GET/DELETE, input_items, cancel) reach the same upstream on any node. Shared through the
database; remembered for 30 days (TTL index), as long as OpenAI keeps stored responses."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any

RETENTION_DAYS = 30
_LOCAL = 4096  # recently created ids kept in memory too


class ResponseRoutes:
    def __init__(self, db: Any) -> None:
        self.coll = db.db["response_routes"]
        self._recent: OrderedDict[str, tuple[int, int]] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self.coll.create_index("at", expireAfterSeconds=RETENTION_DAYS * 86400, name="response_routes_ttl")

    async def remember(self, response_id: str, channel_id: int, user_id: int) -> None:
        self._recent[response_id] = (channel_id, user_id)
        if len(self._recent) > _LOCAL:
            self._recent.popitem(last=False)
        await self.coll.update_one(
            {"_id": response_id},
            {"$set": {"channel_id": channel_id, "user_id": user_id, "at": dt.datetime.now(dt.timezone.utc)}},
            upsert=True)

    async def lookup(self, response_id: str) -> tuple[int, int] | None:
        """(channel id, user id) of the response, or None."""
        hit = self._recent.get(response_id)
        if hit is not None:
            return hit
        doc = await self.coll.find_one({"_id": response_id})
        if doc is None:
            return None
        return int(doc["channel_id"]), int(doc["user_id"])
