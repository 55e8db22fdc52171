"""In-process caches of tokens, users and the channel routing table.

Caches listen to change events (models/events.py): a store's write on any
process drops the entry (tokens, users) or rebuilds the routing table
(channels) on every process. Entries also expire after ``SYNC_FREQUENCY``
seconds, only as a safety net.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .channels import CH_ENABLED, ChannelRecord, ChannelStore
from .db import Database
from .tokens import TokenRecord
from .users import UserRecord

if TYPE_CHECKING:
    from .events import EventBus

log = logging.getLogger("onerelay.cache")

_NEGATIVE_TTL = 5.0
_MAX_NEGATIVE = 10000


class RecordCache:
    """key -> record with a TTL and single-flight loading."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[Any, tuple[float, Any]] = {}
        self._loading: dict[Any, asyncio.Future[Any]] = {}
        self.lookups = 0  # for /metrics: hits = lookups - misses
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: Any, loader: Any) -> Any:
        self.lookups += 1
        hit = self._items.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        self.misses += 1
        fut = self._loading.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._loading[key] = fut
        try:
            value = await loader(key)
            ttl = self.ttl if value is not None else min(self.ttl, _NEGATIVE_TTL)
            if value is None and len(self._items) > _MAX_NEGATIVE:
                self._items = {k: v for k, v in self._items.items() if v[1] is not None}
            self._items[key] = (now + ttl, value)
            fut.set_result(value)
            return value
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()
            raise
        finally:
            self._loading.pop(key, None)

    def forget(self, key: Any) -> None:
        self._items.pop(key, None)

    def forget_where(self, pred: Any) -> None:
        for k in [k for k, (_, v) in self._items.items() if v is not None and pred(v)]:
            del self._items[k]

    def clear(self) -> None:
        self._items.clear()


class Caches:
    def __init__(self, db: Database, ttl: float = 600.0, events: "EventBus | None" = None) -> None:
        self.db = db
        self.tokens = RecordCache(ttl)
        self.users = RecordCache(ttl)
        if events is not None:
            events.subscribe("token", self._on_token)
            events.subscribe("user", self._on_user)

    def _on_token(self, ev: dict[str, Any]) -> None:
        key = ev.get("key")
        if isinstance(key, str):
            self.tokens.forget(key)
        tid = ev.get("i")
        if isinstance(tid, int):
            self.tokens.forget_where(lambda t: t.id == tid)
        owner = ev.get("user_id")
        if isinstance(owner, int):
            self.forget_user_tokens(owner)

    def _on_user(self, ev: dict[str, Any]) -> None:
        uid = ev.get("i")
        if isinstance(uid, int):
            self.users.forget(uid)
            if ev.get("tokens"):
                self.forget_user_tokens(uid)

    async def token(self, key: str) -> TokenRecord | None:
        return await self.tokens.get(key, self._load_token)  # type: ignore[no-any-return]

    async def _load_token(self, key: str) -> TokenRecord | None:
        doc = await self.db.tokens.find_one({"key": key})
        return TokenRecord.from_doc(doc) if doc else None

    async def user(self, uid: int) -> UserRecord | None:
        return await self.users.get(uid, self._load_user)  # type: ignore[no-any-return]

    async def _load_user(self, uid: int) -> UserRecord | None:
        doc = await self.db.users.find_one({"_id": uid}, {"password": 0})
        return UserRecord.from_doc(doc) if doc else None

    def forget_token(self, key: str) -> None:
        self.tokens.forget(key)

    def forget_user_tokens(self, user_id: int) -> None:
        self.tokens.forget_where(lambda t: t.user_id == user_id)

    def forget_user(self, uid: int) -> None:
        self.users.forget(uid)


class Band:
    """The enabled channels of one priority for a (group, model), with their cumulative weights
    (weight 0 counts as 1): a weighted pick is a bisection, whatever the band's size."""

    __slots__ = ("priority", "channels", "cum_weights")

    def __init__(self, priority: int, channels: list[ChannelRecord]) -> None:
        self.priority = priority
        self.channels = channels
        self.cum_weights = list(itertools.accumulate(c.weight or 1 for c in channels))


class ChannelRouter:
    """group -> model -> priority bands of enabled channels, rebuilt on every change."""

    def __init__(self, store: ChannelStore, events: "EventBus | None" = None) -> None:
        self.store = store
        self._again = False
        self._reloading: asyncio.Task[None] | None = None
        if events is not None:
            events.subscribe("channel", self._on_channel)
        self.channels: dict[int, ChannelRecord] = {}
        self.all_models: frozenset[str] = frozenset()  # every model some channel serves (metrics labels)
        # index[group][model] = [Band, ...] highest priority first
        self.index: dict[str, dict[str, list[Band]]] = {}
        self.rng = random.Random()
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        async with self._lock:
            docs = await self.store.all()
            channels = {int(d["_id"]): ChannelRecord.from_doc(d) for d in docs}
            for cid, ch in channels.items():  # keep key rotation position across reloads
                old = self.channels.get(cid)
                if old is not None and old.keys == ch.keys:
                    ch._rotation = old._rotation
            bands: dict[str, dict[str, dict[int, list[ChannelRecord]]]] = defaultdict(
                lambda: defaultdict(lambda: defaultdict(list)))
            for ch in channels.values():
                if ch.status != CH_ENABLED:
                    continue
                for g in ch.groups:
                    for m in ch.models:
                        bands[g][m][ch.priority].append(ch)
            self.index = {
                g: {m: [Band(p, lst) for p, lst in sorted(by_p.items(), key=lambda b: -b[0])]
                    for m, by_p in models.items()}
                for g, models in bands.items()
            }
            self.channels = channels
            self.all_models = frozenset(m for ch in channels.values() for m in ch.models)

    def _on_channel(self, ev: dict[str, Any]) -> "asyncio.Task[None] | None":
        cid = ev.get("i")
        if isinstance(cid, int) and (ev.get("deleted") or ev.get("status", CH_ENABLED) != CH_ENABLED):
            self.withdraw(cid)  # stop routing to it now, before the reload lands
        return self.schedule_reload()

    def schedule_reload(self) -> "asyncio.Task[None] | None":
        """Rebuild soon; bursts of events coalesce into one more reload. Returns the task."""
        if self._reloading is not None and not self._reloading.done():
            self._again = True
            return self._reloading
        try:
            self._reloading = asyncio.get_running_loop().create_task(self._reload_loop())
        except RuntimeError:
            return None
        return self._reloading

    async def _reload_loop(self) -> None:
        while True:
            self._again = False
            try:
                await self.reload()
            except Exception:  # noqa: BLE001 - the periodic sync retries
                log.exception("reloading the channel table failed")
            if not self._again:
                return

    def get(self, cid: int) -> ChannelRecord | None:
        return self.channels.get(cid)

    def withdraw(self, cid: int) -> None:
        """Stop routing to a channel at once (before the database write and reload)."""
        for models in self.index.values():
            for model, bands in models.items():
                if any(c.id == cid for b in bands for c in b.channels):
                    kept = [Band(b.priority, [c for c in b.channels if c.id != cid]) for b in bands]
                    models[model] = [b for b in kept if b.channels]

    def models_for_group(self, group: str) -> list[str]:
        return sorted(self.index.get(group, {}))

    def has_route(self, group: str, model: str) -> bool:
        return bool(self.index.get(group, {}).get(model))

    def pick(self, group: str, model: str, exclude: set[int] | frozenset[int] = frozenset()) -> ChannelRecord | None:
        """Weighted random choice in the highest priority band that still has a
        channel not in ``exclude``; lower bands are used only when higher ones
        are exhausted. Weight 0 counts as 1 (One API's default weight is 0)."""
        rng = self.rng
        for band in self.index.get(group, {}).get(model, ()):
            channels = band.channels
            if len(channels) == 1:
                if channels[0].id in exclude:
                    continue
                return channels[0]
            if not exclude:  # the usual case: a bisection of the band's cumulative weights
                return rng.choices(channels, cum_weights=band.cum_weights)[0]
            for _ in range(4):  # a retry: a few draws that skip the excluded, before filtering
                ch = rng.choices(channels, cum_weights=band.cum_weights)[0]
                if ch.id not in exclude:
                    return ch
            cands = [c for c in channels if c.id not in exclude]
            if cands:
                return rng.choices(cands, weights=[c.weight or 1 for c in cands])[0]
        return None
