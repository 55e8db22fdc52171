"""Data migrations, run once per database by the master node at start-up (in order, each
recorded in ``system.schema`` so it never runs twice)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from models.channels import ChannelStore

log = logging.getLogger("onerelay.migrations")


async def _type50_keeps_v1(channels: ChannelStore) -> int:
    """Type 50 (OpenAI-compatible) used to drop a trailing /v1 from the base URL and add /v1
    before every path; it now uses the base as given (One API). Base URLs saved before keep
    their old meaning by getting the /v1 they were always sent with."""
    n = 0
    for doc in await channels.find({"type": 50}):
        base = str(doc.get("base_url") or "").rstrip("/")
        if base and not base.endswith("/v1"):
            await channels.update(int(doc["_id"]), {"base_url": base + "/v1"})
            n += 1
    return n


MIGRATIONS: list[tuple[int, str, Callable[[ChannelStore], Awaitable[int]]]] = [
    (1, "OpenAI-compatible (type 50) base URLs keep their /v1", _type50_keeps_v1),
]


async def migrate(system: Any, channels: ChannelStore) -> list[int]:
    """Run the migrations this database has not had yet; returns their numbers."""
    doc = await system.find_one({"_id": "schema"}) or {}
    done = int(doc.get("version") or 0)
    ran = []
    for number, what, step in MIGRATIONS:
        if number <= done:
            continue
        changed = await step(channels)
        await system.update_one({"_id": "schema"}, {"$set": {"version": number}}, upsert=True)
        log.info("migration %d (%s): %d records changed", number, what, changed)
        ran.append(number)
    return ran
