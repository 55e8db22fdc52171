"""Change events: how every process learns that a store changed something.

A store writes to the database, then calls :meth:`EventBus.publish`. The event
is applied to this process's listeners at once (read-your-writes on the node
that made the change) and broadcast to every other process:

- **Redis** (``REDIS_CONN_STRING``): one ``PUBLISH`` on ``onerelay:changes``;
  subscribers on every node see it in milliseconds.
- **Database feed** (always written): one small document in the ``changes``
  collection (TTL one hour). Without Redis, or while Redis is down, each
  process polls it with one indexed query every ``POLL_INTERVAL`` seconds, so
  nodes converge within about a second. When Redis comes back the poller
  stops after one catch-up read.

Events are tiny: ``{"k": kind, "i": id, "o": origin, ...data}``. Kinds used:
``user``, ``token``, ``channel``, ``option``, ``redemption``. A listener for
``"*"`` sees all of them. Listeners are synchronous and must not raise; slow
work (a reload) is scheduled by the listener itself.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from pymongo.errors import PyMongoError

if TYPE_CHECKING:
    from services.redisconn import RedisConn

    from .db import Database

log = logging.getLogger("onerelay.events")

CHANNEL = "onerelay:changes"
POLL_INTERVAL = 0.5  # database feed: seconds between two reads of `changes`
FEED_TTL = 3600  # seconds a change document is kept
_OVERLAP = 3.0  # re-read this many seconds back (clock skew, late inserts); dedup by id
_SEEN_MAX = 20000

Listener = Callable[[dict[str, Any]], Any]


class EventBus:
    """Publish/subscribe for change events, across processes when configured."""

    def __init__(self, db: "Database | None" = None, redis: "RedisConn | None" = None) -> None:
        self.db = db
        self.redis = redis
        self.origin = uuid.uuid4().hex[:12]
        self._listeners: dict[str, list[Listener]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._since = time.time()
        self._redis_up = False
        self._redis_ready = asyncio.Event()
        self._stopping = False
        self.received = 0  # remote events applied (tests, /api/status)

    # -- subscribing --------------------------------------------------------------------------
    def subscribe(self, kind: str, fn: Listener) -> None:
        self._listeners.setdefault(kind, []).append(fn)

    def _dispatch(self, ev: dict[str, Any]) -> list[Any]:
        """Call the listeners; returns the awaitables some of them gave back (reloads)."""
        pending = []
        for fn in self._listeners.get(ev.get("k", ""), []) + self._listeners.get("*", []):
            try:
                out = fn(ev)
            except Exception:
                log.exception("change listener failed for %s", ev)
                continue
            if out is not None and inspect.isawaitable(out):
                pending.append(out)
        return pending

    @property
    def mode(self) -> str:
        """``redis`` (pub/sub healthy), ``database`` (change feed), or ``local`` (one process, no db)."""
        if self.redis is not None and self._redis_up:
            return "redis"
        return "database" if self.db is not None else "local"

    # -- publishing ---------------------------------------------------------------------------
    async def publish(self, kind: str, ident: Any = None, **data: Any) -> None:
        """Apply locally now, then tell every other process (Redis and the database feed)."""
        ev: dict[str, Any] = {"k": kind, "i": ident, "o": self.origin, **data}
        for aw in self._dispatch(ev):  # read-your-writes: this process's reloads land first
            try:
                await asyncio.shield(aw)
            except Exception:  # noqa: BLE001 - logged by the listener
                pass
        if self.db is None:
            return
        eid = uuid.uuid4().hex
        ev["id"] = eid
        self._remember(eid)
        now = time.time()
        doc = {"_id": eid, "ts": now, "at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
               .replace(tzinfo=None), "ev": ev}
        try:
            await self.db.changes.insert_one(doc)
        except PyMongoError as e:
            log.error("could not record change %s %s: %s", kind, ident, e)
        if self.redis is not None and self._redis_up:
            try:
                await self.redis.client.publish(CHANNEL, json.dumps(ev, separators=(",", ":")))
            except Exception as e:  # noqa: BLE001 - any Redis failure: the feed still carries it
                self._redis_down(e)

    # -- receiving ----------------------------------------------------------------------------
    def _remember(self, eid: str) -> bool:
        """True when ``eid`` is new (and remember it)."""
        if eid in self._seen:
            return False
        self._seen.add(eid)
        self._seen_order.append(eid)
        if len(self._seen_order) > _SEEN_MAX:
            self._seen.discard(self._seen_order.popleft())
        return True

    def _receive(self, ev: dict[str, Any]) -> None:
        eid = ev.get("id")
        if not isinstance(eid, str) or not self._remember(eid):
            return
        if ev.get("o") == self.origin:
            return
        self.received += 1
        self._dispatch(ev)

    async def poll_once(self) -> None:
        """One read of the database feed (also the catch-up after a Redis outage)."""
        assert self.db is not None
        start = time.time()
        cur = self.db.changes.find({"ts": {"$gte": self._since - _OVERLAP}}).sort("ts", 1)
        async for doc in cur:
            ev = doc.get("ev")
            if isinstance(ev, dict):
                self._receive(ev)
        self._since = start

    async def _poll_loop(self) -> None:
        failing = False
        while not self._stopping:
            if self.redis is not None and self._redis_up:
                await asyncio.sleep(POLL_INTERVAL)
                continue
            try:
                await self.poll_once()
                if failing:
                    log.warning("change feed: database reachable again")
                failing = False
            except PyMongoError as e:
                if not failing:
                    log.error("change feed: reading the database failed: %s", e)
                failing = True
            await asyncio.sleep(POLL_INTERVAL)

    def _redis_down(self, err: BaseException) -> None:
        self._redis_up = False
        if self.redis is not None:
            self.redis.mark_down(err)  # one warning per outage for the whole process

    async def _redis_loop(self) -> None:
        """Subscribe; on any failure fall back to the feed and retry every second."""
        assert self.redis is not None
        first = True
        while not self._stopping:
            pubsub = None
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                # the subscription is live: catch up what the feed holds, then rely on pub/sub
                if self.db is not None:
                    await self.poll_once()
                self._redis_up = True
                self.redis.mark_up()
                first = False
                self._redis_ready.set()
                while not self._stopping:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None:
                        continue
                    try:
                        ev = json.loads(msg["data"])
                    except (ValueError, TypeError, KeyError):
                        continue
                    if isinstance(ev, dict):
                        self._receive(ev)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - connection refused, reset, timeout...
                if first:
                    first = False
                    self._redis_up = False
                    self.redis.mark_down(e, at_start=True)
                    self._redis_ready.set()
                else:
                    self._redis_down(e)
                await asyncio.sleep(1.0)
            finally:
                if pubsub is not None:
                    try:
                        await pubsub.aclose()
                    except Exception:  # noqa: BLE001
                        pass

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.db is not None:
            self._since = time.time()
            self._tasks.append(loop.create_task(self._poll_loop()))
        if self.redis is not None:
            self._tasks.append(loop.create_task(self._redis_loop()))
            try:  # start in the right mode: wait briefly for the first subscription
                await asyncio.wait_for(self._redis_ready.wait(), timeout=5.0)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks.clear()

