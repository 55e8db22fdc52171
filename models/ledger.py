"""The quota ledger: atomic in-process balances, batched writes to MongoDB.

MongoDB stays the source of truth. The ledger keeps, per account (user quota,
limited token remain_quota), the balance read from the database plus the
deltas not yet written. Reservation and settlement are synchronous
check-and-update steps on the event loop (no ``await`` between the check and
the update), so concurrent requests can never spend more than the balance.

Counter deltas (quota, used_quota, request_count, channel used_quota, token
accessed_time) and usage logs are written in bulk every
``BATCH_UPDATE_INTERVAL`` seconds, when the log queue is long, and on
shutdown. A failed flush keeps its deltas for the next one.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections import defaultdict
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from .db import Database

log = logging.getLogger("onerelay.ledger")

USER, TOKEN = "u", "t"
LOG_FLUSH_THRESHOLD = 2000


class QuotaLedger:
    def __init__(self, db: Database, interval: float = 5.0) -> None:
        self.db = db
        self.interval = interval
        # balances[(kind, id)] = balance as known here (database value + unflushed deltas)
        self.balances: dict[tuple[str, int], int] = {}
        # unflushed deltas per collection and id: {field: delta}
        self._deltas: dict[str, dict[int, dict[str, int]]] = {
            "users": defaultdict(dict), "tokens": defaultdict(dict), "channels": defaultdict(dict),
        }
        self._accessed: dict[int, int] = {}
        self._logs: list[dict[str, Any]] = []
        self._loading: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._flush_lock = asyncio.Lock()
        self._pending_flushes: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- balances ---------------------------------------------------------------------------
    async def ensure(self, kind: str, ident: int) -> int:
        """The balance of an account, loaded from the database on first use."""
        k = (kind, ident)
        bal = self.balances.get(k)
        if bal is not None:
            return bal
        fut = self._loading.get(k)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._loading[k] = fut
            try:
                col, field = (self.db.users, "quota") if kind == USER else (self.db.tokens, "remain_quota")
                async with self._flush_lock:  # base and pending must come from the same moment
                    doc = await col.find_one({"_id": ident}, {field: 1})
                    base = int((doc or {}).get(field) or 0)
                    pending = self._deltas["users" if kind == USER else "tokens"].get(ident, {}).get(field, 0)
                    self.balances[k] = base + pending
                fut.set_result(None)
            except BaseException as e:
                fut.set_exception(e)
                fut.exception()  # mark retrieved
                raise
            finally:
                self._loading.pop(k, None)
        else:
            await asyncio.shield(fut)
        return self.balances[k]

    def forget(self, kind: str, ident: int) -> None:
        """Drop a cached balance (after an admin changed it in the database)."""
        self.balances.pop((kind, ident), None)

    def balance(self, kind: str, ident: int) -> int | None:
        return self.balances.get((kind, ident))

    def pending(self, col: str, ident: int, field: str) -> int:
        """The not yet flushed delta of one counter (e.g. a user's ``used_quota``)."""
        row = self._deltas[col].get(ident)
        return row.get(field, 0) if row else 0

    def _add(self, col: str, ident: int, field: str, delta: int) -> None:
        if delta:
            row = self._deltas[col][ident]
            row[field] = row.get(field, 0) + delta

    def _move(self, kind: str, ident: int, delta: int) -> None:
        if (kind, ident) in self.balances:
            self.balances[(kind, ident)] += delta
        if kind == USER:
            self._add("users", ident, "quota", delta)
        else:
            self._add("tokens", ident, "remain_quota", delta)

    def try_reserve(self, user_id: int, token_id: int | None, amount: int) -> str | None:
        """Atomically take ``amount`` from the user (and the limited token).

        Both balances must be loaded (``ensure``). Returns None on success or
        which account was short: ``"user"`` or ``"token"``.
        """
        ub = self.balances[(USER, user_id)]
        if ub < amount or ub <= 0:
            return "user"
        if token_id is not None:
            tb = self.balances[(TOKEN, token_id)]
            if tb < amount or tb <= 0:
                return "token"
            self._move(TOKEN, token_id, -amount)
        self._move(USER, user_id, -amount)
        return None

    def settle(self, user_id: int, token_id: int | None, reserved: int, actual: int) -> int:
        """Replace a reservation by the actual cost; returns the quota charged.

        A cost above the reservation is taken only as far as the balances go
        (never below zero): quota cannot be overspent even when a completion
        ran longer than its reservation covered.
        """
        extra = actual - reserved
        if extra > 0:
            avail = self.balances.get((USER, user_id), 0)
            if token_id is not None:
                avail = min(avail, self.balances.get((TOKEN, token_id), 0))
            extra = min(extra, max(0, avail))
        if extra:
            self._move(USER, user_id, -extra)
            if token_id is not None:
                self._move(TOKEN, token_id, -extra)
        return reserved + extra

    def credit(self, user_id: int, amount: int) -> None:
        """Add quota to a user (redeem, top-up); written with the next flush."""
        self._move(USER, user_id, amount)

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
        task = asyncio.get_running_loop().create_task(self.flush())
        self._pending_flushes.add(task)
        task.add_done_callback(self._pending_flushes.discard)

    # -- flushing -----------------------------------------------------------------------------
    async def flush(self) -> None:
        async with self._flush_lock:
            await self._flush_deltas()
            await self._flush_logs()

    async def _flush_deltas(self) -> None:
        accessed, self._accessed = self._accessed, {}
        for col_name in ("users", "tokens", "channels"):
            deltas = self._deltas[col_name]
            snapshot = {i: {k: v for k, v in f.items() if v} for i, f in deltas.items()}
            snapshot = {i: f for i, f in snapshot.items() if f}
            touched = accessed if col_name == "tokens" else {}
            ops = []
            for ident in snapshot.keys() | touched.keys():
                upd: dict[str, Any] = {}
                if ident in snapshot:
                    upd["$inc"] = snapshot[ident]
                if ident in touched:
                    upd["$max"] = {"accessed_time": touched[ident]}
                ops.append(UpdateOne({"_id": ident}, upd))
            if not ops:
                continue
            try:
                await self.db.db[col_name].bulk_write(ops, ordered=False)
            except PyMongoError as e:
                log.error("flushing %s deltas failed (kept for the next flush): %s", col_name, e)
                for ident, ts in touched.items():
                    self._accessed[ident] = max(ts, self._accessed.get(ident, 0))
                continue
            for ident, fields in snapshot.items():
                row = deltas[ident]
                for k, v in fields.items():
                    row[k] = row.get(k, 0) - v
                    if not row[k]:
                        del row[k]
                if not row:
                    del deltas[ident]

    async def _flush_logs(self) -> None:
        if not self._logs:
            return
        batch, self._logs = self._logs, []
        try:
            unnumbered = [e for e in batch if "_id" not in e]
            if unnumbered:
                first = await self.db.next_id("logs", len(unnumbered))
                for i, entry in enumerate(unnumbered):
                    entry["_id"] = first + i
                    entry["created_dt"] = datetime.datetime.fromtimestamp(
                        entry["created_at"], datetime.timezone.utc).replace(tzinfo=None)
            await self.db.logs.insert_many(batch, ordered=False)
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
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:  # never let the flusher die
                log.exception("flush failed")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._pending_flushes:
            await asyncio.gather(*self._pending_flushes, return_exceptions=True)
        await self.flush()
