"""The quota ledger: exact balances across processes through leases, batched counters.

MongoDB holds the truth. An account (a user's ``quota``, a limited token's
``remain_quota``) has a free pool in that field, plus ``leased`` (the sum of
what processes hold) and ``leases.<owner> = {n, e}`` (each holder's amount as
last recorded, and when it expires). The spendable balance is
``free + leased`` minus what holders spent since they last recorded.

- **Lease:** a process takes quota with one conditional atomic update
  (``{free: {$gte: n}}``, ``$inc`` free -n, leased +n). Requests then reserve
  and settle from the local lease with a synchronous check-and-update (no
  ``await`` in between): in steady state the hot path makes no round trip.
- **Sizing:** a lease is the request's need plus up to an eighth of the free
  pool (at most ``LEASE_REQUESTS`` requests ahead). Near zero (free pool under
  ``NEAR_ZERO`` requests) a process takes exactly one request's reservation
  and gives back what a settlement leaves over at once, so the sum of what all
  processes can spend never exceeds the balance.
- **Records:** every flush (``BATCH_UPDATE_INTERVAL``) records each lease's
  remaining amount and pushes its expiry ``LEASE_TTL`` ahead. A process stops
  spending a lease it could not renew for half the TTL; every process reaps
  leases whose expiry passed (a crashed holder's unspent amount returns to the
  free pool within ``LEASE_TTL`` plus one reaper period). A clean stop returns
  every lease at once; so does a ``recall`` event (another process starved,
  or an admin set an absolute quota).
- **Credits** (top-up, redeem, invite, admin) are one ``$inc`` on the free
  pool: every reader sees them at once.

Counter deltas (used_quota, request_count, channel used_quota, token
accessed_time) and usage logs are written in bulk every
``BATCH_UPDATE_INTERVAL`` seconds, when the log queue is long, and on shutdown.
A failed flush keeps its deltas for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from pymongo import ReturnDocument, UpdateOne, WriteConcern
from pymongo.errors import BulkWriteError, PyMongoError

from .db import Database

if TYPE_CHECKING:
    from .events import EventBus

log = logging.getLogger("onerelay.ledger")

USER, TOKEN = "u", "t"
JOURNALED = WriteConcern(j=True)
LOG_FLUSH_THRESHOLD = 2000
LEASE_REQUESTS = 200  # a lease covers at most this many requests of the size that asked for it
NEAR_ZERO = 20  # free pool under this many requests: single-request reservations
STARVED_BACKOFF = 1.0  # seconds an account that could not be leased is not asked again
IDLE_RETURN = 60.0  # an unused lease goes back to the pool after this many seconds
SETTLE_WAIT = 5.0  # a reader waits at most this long for settlements of answers already sent


def _field(kind: str) -> str:
    return "quota" if kind == USER else "remain_quota"


class QuotaUnavailable(Exception):
    """The database could not be reached to take a lease."""


@dataclass(slots=True)
class Lease:
    local: int = 0  # spendable here now
    recorded: int = 0  # what the database says this process holds
    exp: float | None = None  # the recorded expiry (None: no entry in the database)
    valid_until: float = 0.0  # monotonic: spend only before this
    gen: int = 0  # bumped when the lease is lost (reaped): refunds of older reservations are dropped
    free: int | None = None  # the free pool as last seen
    leased: int = 0  # the account's leased total as last seen
    near_zero: bool = False
    starved_until: float = 0.0
    used_at: float = 0.0
    busy: "asyncio.Future[None] | None" = None  # an acquisition or sync in flight
    tried: "tuple[float, int, int] | None" = None  # a write whose answer was lost: (expiry, recorded, local delta)


@dataclass(slots=True)
class Reservation:
    user_id: int
    token_id: int | None
    amount: int
    ugen: int
    tgen: int


class QuotaLedger:
    def __init__(self, db: Database, interval: float = 5.0, *, events: "EventBus | None" = None,
                 owner: str | None = None, lease_ttl: float = 30.0) -> None:
        self.db = db
        self.interval = interval
        self.events = events
        self.owner = owner or uuid.uuid4().hex
        self.lease_ttl = lease_ttl
        self.leases: dict[tuple[str, int], Lease] = {}
        # Money is written journaled (j: true): acknowledged means on disk, even if the database
        # is killed the next moment (SecantusDB loses its last unjournaled writes on SIGKILL).
        # A lease write is one per many requests and a flush one per collection and interval.
        self._users = db.users.with_options(write_concern=JOURNALED)
        self._tokens = db.tokens.with_options(write_concern=JOURNALED)
        # unflushed deltas per collection and id: {field: delta}
        self._deltas: dict[str, dict[int, dict[str, int]]] = {
            "users": defaultdict(dict), "tokens": defaultdict(dict), "channels": defaultdict(dict),
        }
        self._accessed: dict[int, int] = {}
        # a collection's deltas being written: (batch number, {id: {field: delta}}, {token id: accessed})
        self._batches: dict[str, tuple[int, dict[int, dict[str, int]], dict[int, int]]] = {}
        self._batch_seq = 0
        self._logs: list[dict[str, Any]] = []
        self._flush_lock = asyncio.Lock()
        self._pending_flushes: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_reap = 0.0
        self._recalls: dict[tuple[str, int], float] = {}
        # Answers sent before their settlement (relay/pipeline.py): a reader (flush) waits for
        # those that began before it, so it sees the bill and log of every answer already out.
        self._next_settlement = 0
        self._settling: set[int] = set()
        self._settled_event: asyncio.Event | None = None  # set and replaced when one ends, if awaited
        if events is not None:
            events.subscribe("user", lambda ev: self._on_change(USER, ev))
            events.subscribe("token", lambda ev: self._on_change(TOKEN, ev))
            events.subscribe("lease", self._on_recall)

    def _col(self, kind: str) -> Any:
        return self._users if kind == USER else self._tokens

    # -- events -------------------------------------------------------------------------------
    def _on_change(self, kind: str, ev: dict[str, Any]) -> None:
        ident = ev.get("i")
        if not isinstance(ident, int):
            return
        lease = self.leases.get((kind, ident))
        if lease is None:
            return
        lease.starved_until = 0.0  # a credit or an edit: worth asking again
        if ev.get("quota_reset") and ev.get("o") != getattr(self.events, "origin", None):
            self._spawn(self._sync((kind, ident), give_back=True))

    def _on_recall(self, ev: dict[str, Any]) -> None:
        kind, ident = ev.get("acct"), ev.get("i")
        if ev.get("o") == getattr(self.events, "origin", None) or not isinstance(ident, int):
            return
        lease = self.leases.get((str(kind), ident))
        if lease is not None and lease.local > 0:
            self._spawn(self._give_back((str(kind), ident)))

    async def _give_back(self, key: tuple[str, int]) -> None:
        """Answer a recall: return the unused lease and tell the starved (their backoff ends)."""
        await self._sync(key, give_back=True)
        if self.events is not None:
            await self.events.publish("user" if key[0] == USER else "token", key[1], returned=True)

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._pending_flushes.add(task)
        task.add_done_callback(self._pending_flushes.discard)

    # -- reading balances ---------------------------------------------------------------------
    def unrecorded(self, kind: str, ident: int) -> int:
        """What this process spent (or holds in flight) from its lease since it last recorded."""
        lease = self.leases.get((kind, ident))
        return lease.recorded - lease.local if lease else 0

    def view(self, kind: str, ident: int, doc: dict[str, Any]) -> int:
        """The spendable balance of an account given its database document."""
        return (int(doc.get(_field(kind)) or 0) + int(doc.get("leased") or 0)
                - self.unrecorded(kind, ident))

    async def ensure(self, kind: str, ident: int) -> int:
        """The account's spendable balance now (one read)."""
        doc = await self._col(kind).find_one({"_id": ident}, {_field(kind): 1, "leased": 1})
        if doc is None:
            return 0
        lease = self.leases.get((kind, ident))
        if lease is not None:
            lease.free, lease.leased = int(doc.get(_field(kind)) or 0), int(doc.get("leased") or 0)
        return self.view(kind, ident, doc)

    def balance(self, kind: str, ident: int) -> int | None:
        """An estimate without a round trip (free pool and leases as last seen); None if unknown."""
        lease = self.leases.get((kind, ident))
        if lease is None or lease.free is None:
            return None
        return lease.free + lease.leased - (lease.recorded - lease.local)

    def pending(self, col: str, ident: int, field: str) -> int:
        """The not yet flushed delta of one counter (e.g. a user's ``used_quota``)."""
        row = self._deltas[col].get(ident)
        n = row.get(field, 0) if row else 0
        batch = self._batches.get(col)
        if batch is not None:
            n += batch[1].get(ident, {}).get(field, 0)
        return n

    def _add(self, col: str, ident: int, field: str, delta: int) -> None:
        if delta:
            row = self._deltas[col][ident]
            row[field] = row.get(field, 0) + delta

    # -- leases -------------------------------------------------------------------------------
    def _usable(self, lease: Lease | None, amount: int, now: float) -> bool:
        return (lease is not None and lease.local >= amount and lease.local > 0
                and lease.valid_until > now)

    async def has_quota(self, kind: str, ident: int) -> bool:
        """Whether the account has anything left (a token's "exhausted" check)."""
        lease = self.leases.get((kind, ident))
        now = time.monotonic()
        if self._usable(lease, 1, now):
            return True
        if lease is not None and lease.starved_until > now and lease.local <= 0:
            return False
        return await self.ensure(kind, ident) > 0

    def reserve_local(self, user_id: int, token_id: int | None, amount: int, *,
                      roomy: bool = False) -> Reservation | None:
        """:meth:`reserve`'s hot path only: a :class:`Reservation` when the leases held here cover
        ``amount``, else None, and nothing changed (no lease taken, no account marked short).
        ``roomy``: only from leases that are not near zero (an over-estimated reservation must
        never leave a concurrent request short where an exact one would not have)."""
        now = time.monotonic()
        ul = self.leases.get((USER, user_id))
        tl = self.leases.get((TOKEN, token_id)) if token_id is not None else None
        if not (self._usable(ul, amount, now) and (token_id is None or self._usable(tl, amount, now))):
            return None
        if roomy and not (self._roomy(ul, amount) and (tl is None or self._roomy(tl, amount))):
            return None
        assert ul is not None
        ul.local -= amount
        ul.used_at = now
        tgen = 0
        if tl is not None:
            tl.local -= amount
            tl.used_at = now
            tgen = tl.gen
        return Reservation(user_id, token_id, amount, ul.gen, tgen)

    @staticmethod
    def _roomy(lease: Lease | None, amount: int) -> bool:
        """Far from zero: not in single-request mode, and the free pool as last seen holds at
        least ``NEAR_ZERO`` more reservations of ``amount``."""
        return lease is not None and not lease.near_zero and lease.free is not None \
            and lease.free >= max(amount, 1) * NEAR_ZERO

    async def reserve(self, user_id: int, token_id: int | None, amount: int) -> Reservation | str:
        """Take ``amount`` from the user and (limited) token: a :class:`Reservation`, or
        ``"user"``/``"token"`` naming the account that is short. Raises
        :class:`QuotaUnavailable` when the database cannot be reached for a lease."""
        res = self.reserve_local(user_id, token_id, amount)
        if res is not None:  # the hot path: both leases cover it, no await at all
            return res
        ugen = await self._claim((USER, user_id), amount)
        if ugen is None:
            return "user"
        tgen = 0
        if token_id is not None:
            try:
                got = await self._claim((TOKEN, token_id), amount)
            except BaseException:
                self._refund(USER, user_id, ugen, amount)
                raise
            if got is None:
                self._refund(USER, user_id, ugen, amount)
                return "token"
            tgen = got
        return Reservation(user_id, token_id, amount, ugen, tgen)

    async def _claim(self, key: tuple[str, int], amount: int) -> int | None:
        """Take ``amount`` from one account's lease, growing it when needed: the lease's
        generation, or None when the account is short. What an acquisition brings in is
        claimed by the request that asked for it before anyone else can run."""
        lease = self.leases.setdefault(key, Lease())
        while True:
            now = time.monotonic()
            if self._usable(lease, amount, now):
                lease.local -= amount
                lease.used_at = now
                return lease.gen
            if lease.busy is not None:  # another request is growing it: wait, then look again
                await self._idle(lease)
                continue
            if lease.starved_until > now:
                return None
            if not await self._acquire(key, amount, claim=True):
                return None
            lease.used_at = time.monotonic()
            return lease.gen

    def _size(self, lease: Lease, need: int) -> int:
        free = lease.free
        if free is None or free < max(need, 1) * NEAR_ZERO:
            return need
        return need + min(free // 8, max(need, 1) * LEASE_REQUESTS)

    async def _acquire(self, key: tuple[str, int], amount: int, *, partial: bool = False,
                       claim: bool = False) -> bool:
        """Grow the local lease so that it covers ``amount``; False when the account is short.
        With ``partial``, take what the free pool has when it has less (settling an overrun).
        With ``claim``, ``amount`` is also taken from the lease at once (see :meth:`_claim`)."""
        lease = self.leases.setdefault(key, Lease())
        await self._idle(lease)  # one acquisition per account at a time
        now = time.monotonic()
        if self._usable(lease, amount, now):
            if claim:
                lease.local -= amount
            return True
        if lease.starved_until > now:
            return False
        with self._holding(lease):
            try:
                ok = await self._take(key, lease, amount, partial)
            except PyMongoError as e:
                raise QuotaUnavailable(str(e)) from None
            if ok and claim:  # no await between the acquisition and this: nobody can take it first
                lease.local -= amount
            return ok

    @staticmethod
    async def _idle(lease: Lease) -> None:
        """Wait until no acquisition or record is in flight for this lease."""
        while lease.busy is not None:
            await asyncio.shield(lease.busy)

    @staticmethod
    @contextlib.contextmanager
    def _holding(lease: Lease) -> Iterator[None]:
        """Mark the lease busy (others wait in :meth:`_idle`) until the block ends."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lease.busy = fut
        try:
            yield
        finally:
            lease.busy = None
            fut.set_result(None)

    async def _take(self, key: tuple[str, int], lease: Lease, amount: int, partial: bool = False) -> bool:
        kind, ident = key
        col, field = self._col(kind), _field(kind)
        o = self.owner
        if lease.valid_until <= time.monotonic() and lease.exp is not None:
            await self._sync_locked(key, lease, give_back=False)  # renew (or learn it was reaped)
        if lease.free is None:  # first use: size the lease from the balance
            cur = await col.find_one({"_id": ident}, {field: 1, "leased": 1})
            if cur is None:
                lease.starved_until = time.monotonic() + STARVED_BACKOFF
                return False
            lease.free, lease.leased = int(cur.get(field) or 0), int(cur.get("leased") or 0)
        for _ in range(3):
            need = max(amount - max(lease.local, 0), 0)
            if need == 0 and amount > 0:
                if lease.valid_until > time.monotonic():
                    return True
            want = max(self._size(lease, max(need, 1)), 1)
            if partial and lease.free is not None and 0 < lease.free < want:
                want = lease.free
            exp = time.time() + self.lease_ttl
            q: dict[str, Any] = {"_id": ident, field: {"$gte": want}}
            if lease.exp is None:
                q[f"leases.{o}"] = {"$exists": False}
            else:
                q[f"leases.{o}.e"] = lease.exp
            target = lease.local + want
            lease.tried = (exp, target, want)
            doc = await col.find_one_and_update(
                q, {"$inc": {field: -want, "leased": target - lease.recorded,
                             f"leases.{o}.n": target - lease.recorded},
                    "$set": {f"leases.{o}.e": exp}},
                projection={field: 1, "leased": 1}, return_document=ReturnDocument.AFTER)
            lease.tried = None
            if doc is not None:
                lease.local += want
                lease.recorded = target
                lease.exp = exp
                lease.valid_until = time.monotonic() + self.lease_ttl / 2
                lease.free, lease.leased = int(doc.get(field) or 0), int(doc.get("leased") or 0)
                lease.near_zero = want == max(need, 1) and lease.free < max(need, 1) * NEAR_ZERO
                return lease.local >= amount and lease.local > 0
            cur = await col.find_one({"_id": ident}, {field: 1, "leased": 1, f"leases.{o}": 1})
            if cur is None:
                break
            mine = (cur.get("leases") or {}).get(o)
            if (mine is None) != (lease.exp is None) or (mine is not None and mine.get("e") != lease.exp):
                if not self._adopt(lease, mine):
                    self._lost(lease)  # reaped while we were away: start over from nothing
                continue
            lease.free, lease.leased = int(cur.get(field) or 0), int(cur.get("leased") or 0)
            if partial and lease.free > 0:
                continue
            if lease.free < need:
                others = lease.leased - lease.recorded
                if others > 0:
                    self._recall(kind, ident)
                break
        lease.starved_until = time.monotonic() + STARVED_BACKOFF
        return False

    def _recall(self, kind: str, ident: int) -> None:
        """Ask the other holders of this account to give their unused lease back."""
        now = time.monotonic()
        if self.events is None or self._recalls.get((kind, ident), 0) > now:
            return
        self._recalls[(kind, ident)] = now + STARVED_BACKOFF
        self._spawn(self.events.publish("lease", ident, acct=kind))

    def _adopt(self, lease: Lease, mine: Any) -> bool:
        """Whether our last lease write, whose answer was lost (the database died meanwhile),
        did reach the database: then its result is taken as ours instead of losing the lease."""
        tried, lease.tried = lease.tried, None
        if tried is None or not isinstance(mine, dict) or mine.get("e") != tried[0]:
            return False
        exp, target, delta = tried
        lease.local += delta
        lease.recorded = target
        lease.exp = exp
        lease.valid_until = time.monotonic() + self.lease_ttl / 2
        return True

    def _lost(self, lease: Lease) -> None:
        lease.local = 0
        lease.recorded = 0
        lease.exp = None
        lease.valid_until = 0.0
        lease.gen += 1

    async def _sync(self, key: tuple[str, int], give_back: bool) -> None:
        lease = self.leases.get(key)
        if lease is None:
            return
        await self._idle(lease)
        with self._holding(lease):
            try:
                await self._sync_locked(key, lease, give_back)
            except PyMongoError as e:
                log.error("recording the quota lease on %s %d failed: %s", key[0], key[1], e)

    async def _sync_locked(self, key: tuple[str, int], lease: Lease, give_back: bool) -> None:
        """Record the lease's remaining amount and renew it; ``give_back`` returns what is
        left to the free pool (the entry is removed when nothing is left or in flight)."""
        kind, ident = key
        col, field, o = self._col(kind), _field(kind), self.owner
        r = max(lease.local, 0) if give_back else 0
        target = lease.local - r
        if lease.exp is None:
            if target == 0 and r == 0:
                return
            q: dict[str, Any] = {"_id": ident, f"leases.{o}": {"$exists": False}}
        else:
            q = {"_id": ident, f"leases.{o}.e": lease.exp}
        exp = time.time() + self.lease_ttl
        lease.local -= r
        prev, lease.tried = lease.tried, (exp, target, -r) if target else None
        if target == 0:
            upd: dict[str, Any] = {"$inc": {field: r, "leased": -lease.recorded}, "$unset": {f"leases.{o}": ""}}
        else:
            upd = {"$inc": {field: r, "leased": target - lease.recorded, f"leases.{o}.n": target - lease.recorded},
                   "$set": {f"leases.{o}.e": exp}}
        try:
            res = await col.update_one(q, upd)
        except PyMongoError:
            lease.local += r  # not given back: still ours (the filter makes a retry safe)
            raise
        if res.matched_count:
            lease.tried = None
            lease.recorded = target
            lease.exp = None if target == 0 else exp
            lease.valid_until = time.monotonic() + self.lease_ttl / 2 if target else 0.0
            return
        lease.local += r  # nothing happened: what was to be given back is still ours
        lease.tried = prev  # this attempt matched nothing; the one before may have been applied
        if prev is not None:
            cur = await col.find_one({"_id": ident}, {f"leases.{o}": 1})
            if self._adopt(lease, ((cur or {}).get("leases") or {}).get(o)):
                await self._sync_locked(key, lease, give_back)
                return
        if lease.exp is not None:
            log.warning("the quota lease on %s %d expired and was reclaimed", kind, ident)
            self._lost(lease)

    async def sync_leases(self, *, give_back: bool = False) -> None:
        """Record (and renew, or give back) every lease; also gives back idle ones."""
        now = time.monotonic()
        for key, lease in list(self.leases.items()):
            idle = now - lease.used_at > IDLE_RETURN
            back = give_back or idle or (lease.near_zero and lease.local > 0)
            if lease.exp is None and lease.local <= 0:
                if idle and lease.busy is None and lease.starved_until <= now:
                    self.leases.pop(key, None)
                continue
            if not back and lease.local == lease.recorded and lease.valid_until - now > self.lease_ttl / 4:
                continue
            await self._sync(key, give_back=back)

    async def reap(self) -> int:
        """Return the leases of processes that stopped renewing them (crashed); returns how many."""
        n = 0
        now = time.time()
        for kind in (USER, TOKEN):
            col, field = self._col(kind), _field(kind)
            async for doc in col.find({"leased": {"$gt": 0}}, {"leases": 1}):
                for owner, entry in (doc.get("leases") or {}).items():
                    if not isinstance(entry, dict) or float(entry.get("e") or 0) >= now:
                        continue
                    amount = int(entry.get("n") or 0)
                    res = await col.update_one(
                        {"_id": doc["_id"], f"leases.{owner}.e": entry.get("e"), f"leases.{owner}.n": amount},
                        {"$inc": {field: amount, "leased": -amount}, "$unset": {f"leases.{owner}": ""}})
                    if res.modified_count:
                        n += 1
                        log.warning("returned an expired quota lease of %d on %s %s (holder %s stopped)",
                                    amount, kind, doc["_id"], owner)
        return n

    # -- settling -----------------------------------------------------------------------------
    def _refund(self, kind: str, ident: int, gen: int, amount: int) -> None:
        lease = self.leases.get((kind, ident))
        if lease is None or lease.gen != gen:
            return  # the lease this came from is gone: its amount already returned to the pool
        lease.local += amount

    async def settle(self, res: Reservation, actual: int) -> int:
        """Replace a reservation by the actual cost; returns the quota charged.

        A cost above the reservation is taken from the leases (topped up once if
        needed) only as far as the balances go: quota is never overspent.
        """
        extra = actual - res.amount
        if extra <= 0:
            if extra < 0:
                self._refund(USER, res.user_id, res.ugen, -extra)
                if res.token_id is not None:
                    self._refund(TOKEN, res.token_id, res.tgen, -extra)
            return actual
        took = self._take_local(res, extra)
        if took < extra:
            try:
                await self._acquire((USER, res.user_id), extra - took, partial=True)
                if res.token_id is not None:
                    await self._acquire((TOKEN, res.token_id), extra - took, partial=True)
            except QuotaUnavailable:
                pass
            took += self._take_local(res, extra - took)
        return res.amount + took

    def _take_local(self, res: Reservation, want: int) -> int:
        ul = self.leases.get((USER, res.user_id))
        avail = max(ul.local, 0) if ul is not None and ul.gen == res.ugen else 0
        tl = None
        if res.token_id is not None:
            tl = self.leases.get((TOKEN, res.token_id))
            avail = min(avail, max(tl.local, 0) if tl is not None and tl.gen == res.tgen else 0)
        n = min(want, avail)
        if n > 0:
            assert ul is not None
            ul.local -= n
            if tl is not None:
                tl.local -= n
        return n

    # -- credits ------------------------------------------------------------------------------
    async def credit(self, kind: str, ident: int, amount: int) -> None:
        """Add (or with a negative amount, take) quota in the database at once; publishes."""
        if not amount:
            return
        await self._col(kind).update_one({"_id": ident}, {"$inc": {_field(kind): amount}})
        lease = self.leases.get((kind, ident))
        if lease is not None:
            lease.starved_until = 0.0
            if lease.free is not None:
                lease.free += amount
        if self.events is not None:
            await self.events.publish("user" if kind == USER else "token", ident, credit=True)

    async def set_absolute(self, kind: str, ident: int, total: int) -> bool:
        """Make the account's spendable balance ``total`` (an admin edit). Holders give their
        leases back (``quota_reset`` event); returns False when the account is gone."""
        col, field = self._col(kind), _field(kind)
        await self.sync_leases()
        for _ in range(20):
            doc = await col.find_one({"_id": ident}, {field: 1, "leased": 1})
            if doc is None:
                return False
            leased = int(doc.get("leased") or 0)
            q = {"_id": ident, field: doc.get(field), "leased": doc.get("leased")}
            res = await col.update_one(q, {"$set": {field: total - leased}})
            if res.matched_count:
                break
            await asyncio.sleep(0.01)
        lease = self.leases.get((kind, ident))
        if lease is not None:
            await self._sync((kind, ident), give_back=True)
            lease.starved_until = 0.0
            lease.free = None
        if self.events is not None:
            await self.events.publish("user" if kind == USER else "token", ident, quota_reset=True)
        return True

    # -- usage counters and logs ------------------------------------------------------------
    def record_usage(self, user_id: int, token_id: int, channel_id: int, quota: int) -> None:
        self._add("users", user_id, "used_quota", quota)
        self._add("users", user_id, "request_count", 1)
        self._add("tokens", token_id, "used_quota", quota)
        if channel_id:
            self._add("channels", channel_id, "used_quota", quota)
        self._accessed[token_id] = int(time.time())

    def add_log(self, entry: dict[str, Any]) -> None:
        self._logs.append(entry)
        if len(self._logs) >= LOG_FLUSH_THRESHOLD and not self._flush_lock.locked():
            self.spawn_flush()

    def spawn_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._pending_flushes.add(task)
        task.add_done_callback(self._pending_flushes.discard)

    # -- flushing -----------------------------------------------------------------------------
    # -- answers out before their settlement ---------------------------------------------------
    def begin_settlement(self) -> int:
        """An answer has gone out and its settlement follows: a ticket for :meth:`end_settlement`."""
        ticket = self._next_settlement
        self._next_settlement += 1
        self._settling.add(ticket)
        return ticket

    def end_settlement(self, ticket: int) -> None:
        self._settling.discard(ticket)
        ev = self._settled_event
        if ev is not None:
            self._settled_event = None
            ev.set()

    async def settled(self, timeout: float = SETTLE_WAIT) -> None:
        """Until every settlement that began before this call has ended (at most ``timeout``)."""
        target = self._next_settlement
        deadline = time.monotonic() + timeout
        while self._settling and min(self._settling) < target:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._settled_event is None:
                self._settled_event = asyncio.Event()
            try:
                await asyncio.wait_for(self._settled_event.wait(), left)
            except TimeoutError:
                return

    async def flush(self) -> None:
        """Write what is pending (counters, logs, leases); a reader's flush first waits for the
        settlements of answers already sent (:meth:`settled`)."""
        await self.settled()
        await self._flush()

    async def _flush(self) -> None:
        async with self._flush_lock:
            await self._flush_deltas()
            await self._flush_logs()
            try:
                await self.sync_leases()
            except PyMongoError as e:
                log.error("recording quota leases failed: %s", e)

    async def _flush_deltas(self) -> None:
        """Write the counter deltas, once each: a batch is retried as it was (same number) until
        it succeeds, and each row's update applies only if the document does not already carry
        that batch's number (``flushed.<owner>``), so a write that reached the database but whose
        answer was lost (the database killed meanwhile) is not counted twice."""
        accessed, self._accessed = self._accessed, {}
        mark = f"flushed.{self.owner}"
        for col_name in ("users", "tokens", "channels"):
            if col_name not in self._batches:
                deltas = self._deltas[col_name]
                snapshot = {i: {k: v for k, v in f.items() if v} for i, f in deltas.items()}
                snapshot = {i: f for i, f in snapshot.items() if f}
                touched = accessed if col_name == "tokens" else {}
                if not snapshot and not touched:
                    continue
                deltas.clear()  # moved into the batch
                self._batch_seq += 1
                self._batches[col_name] = (self._batch_seq, snapshot, touched)
            elif col_name == "tokens":  # a batch waits: its retry goes first, these go next time
                for ident, ts in accessed.items():
                    self._accessed[ident] = max(ts, self._accessed.get(ident, 0))
            seq, snapshot, touched = self._batches[col_name]
            ops = []
            for ident in snapshot.keys() | touched.keys():
                upd: dict[str, Any] = {"$set": {mark: seq}}
                if ident in snapshot:
                    upd["$inc"] = snapshot[ident]
                if ident in touched:
                    upd["$max"] = {"accessed_time": touched[ident]}
                ops.append(UpdateOne({"_id": ident, mark: {"$ne": seq}}, upd))
            try:
                await self.db.db.get_collection(col_name, write_concern=JOURNALED).bulk_write(ops, ordered=False)
            except PyMongoError as e:
                log.error("flushing %s deltas failed (retried at the next flush): %s", col_name, e)
                continue
            del self._batches[col_name]

    async def _clear_marks(self) -> None:
        """A clean stop with nothing left to retry: the batch numbers are no longer needed."""
        mark = f"flushed.{self.owner}"
        for col_name in ("users", "tokens", "channels"):
            try:
                await self.db.db[col_name].update_many({mark: {"$exists": True}}, {"$unset": {mark: ""}})
            except PyMongoError as e:
                log.info("clearing flush marks on %s: %s", col_name, e)

    async def _flush_logs(self) -> None:
        if not self._logs:
            return
        batch, self._logs = self._logs, []
        try:
            unnumbered = [e for e in batch if "_id" not in e]
            if unnumbered:
                doc = await self.db.counters.with_options(write_concern=JOURNALED).find_one_and_update(
                    {"_id": "logs"}, {"$inc": {"seq": len(unnumbered)}}, upsert=True,
                    return_document=ReturnDocument.AFTER)  # ids never handed out twice after a crash
                first = int(doc["seq"]) - len(unnumbered) + 1
                for i, entry in enumerate(unnumbered):
                    entry["_id"] = first + i
                    entry["created_dt"] = datetime.datetime.fromtimestamp(
                        entry["created_at"], datetime.timezone.utc).replace(tzinfo=None)
            await self.db.logs.with_options(write_concern=JOURNALED).insert_many(batch, ordered=False)
        except BulkWriteError as e:
            # Rows already written by an earlier, partly failed attempt are duplicates: fine.
            failed = {err["index"] for err in e.details.get("writeErrors", []) if err.get("code") != 11000}
            if failed:
                log.error("writing %d logs failed (kept for the next flush)", len(failed))
                self._logs[:0] = [batch[i] for i in sorted(failed)]
        except PyMongoError as e:
            log.error("writing %d logs failed (kept for the next flush): %s", len(batch), e)
            self._logs[:0] = batch

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(min(self.interval, self.lease_ttl / 4))
            try:
                await self._flush()
                if time.monotonic() - self._last_reap > self.lease_ttl / 3:
                    self._last_reap = time.monotonic()
                    await self.reap()
            except Exception:  # never let the flusher die
                log.exception("flush failed")

    def unwritten(self) -> int:
        """How many counter rows and logs wait for a flush."""
        return (sum(len(rows) for rows in self._deltas.values()) + len(self._accessed) + len(self._logs)
                + sum(len(b[1]) + len(b[2]) for b in self._batches.values()))

    async def stop(self, retry_for: float = 20.0) -> None:
        """The final flush, retried for up to ``retry_for`` seconds while the database is
        unreachable (a restarting embedded database), then every lease given back."""
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._pending_flushes:
            await asyncio.gather(*self._pending_flushes, return_exceptions=True)
        deadline = time.monotonic() + retry_for
        await self._flush()
        while self.unwritten() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            await self._flush()
        if self.unwritten():
            log.error("stopping with %d usage row(s) and log(s) not written: the database is unreachable",
                      self.unwritten())
        else:
            await self._clear_marks()
        while True:  # a clean stop gives every lease back at once
            try:
                await self.sync_leases(give_back=True)
            except PyMongoError as e:
                log.error("returning quota leases failed: %s", e)
            if not any(lease.exp is not None for lease in self.leases.values()):
                break
            if time.monotonic() >= deadline:
                log.error("quota leases not returned: they return to their accounts after LEASE_TTL")
                break
            await asyncio.sleep(0.5)
