"""Quota leases, process by process: two (or three) ledgers with their own event buses on one
real database stand for separate processes. The multi-process journeys are in
tests/test_multinode.py; these pin the lease rules down quickly."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, AsyncIterator

import pytest

from models.db import Database
from models.events import EventBus
from models.ledger import USER, QuotaLedger, Reservation
from tests.nodes import converge

_seq = itertools.count(1)


class Proc:
    """One "process": its own event bus and ledger."""

    def __init__(self, db: Database, ttl: float = 30.0) -> None:
        self.events = EventBus(db)
        self.ledger = QuotaLedger(db, interval=0.1, events=self.events, owner=self.events.origin, lease_ttl=ttl)

    async def start(self) -> "Proc":
        await self.events.start()
        self.ledger.start()  # records and renews leases every 0.1 s, reaps expired ones
        return self

    async def stop(self) -> None:
        await self.ledger.stop()
        await self.events.stop()

    async def crash(self) -> None:
        """Gone without giving anything back (the background tasks just stop)."""
        self.ledger._stopping = True
        if self.ledger._task is not None:
            self.ledger._task.cancel()
        await self.events.stop()


@pytest.fixture
async def db(mongo: Any) -> AsyncIterator[Database]:
    d = Database(f"mongodb://127.0.0.1:{mongo.port}/ledger{next(_seq)}")
    await d.ensure_indexes()
    await d.users.insert_one({"_id": 1, "quota": 1000, "used_quota": 0})
    yield d
    await d.close()


async def _spendable(db: Database) -> tuple[int, int]:
    doc = await db.users.find_one({"_id": 1})
    assert doc is not None
    return int(doc["quota"]), int(doc.get("leased") or 0)


async def test_concurrent_reservations_on_two_processes_never_exceed_the_balance(db: Database) -> None:
    a, b = await Proc(db).start(), await Proc(db).start()
    try:
        async def one(p: Proc) -> bool:
            res = await p.ledger.reserve(1, None, 10)
            if not isinstance(res, Reservation):
                return False
            await asyncio.sleep(0)
            assert await p.ledger.settle(res, 10) == 10
            return True

        results = await asyncio.gather(*(one(a if i % 2 else b) for i in range(300)))
        # then, asking again until nothing is left, the whole balance is usable and no more
        served = sum(results)
        for _ in range(200):
            got = await asyncio.gather(one(a), one(b))
            served += sum(got)
            if not any(got):
                free, leased = await _spendable(db)
                if free < 10 and leased == 0:
                    break
                await asyncio.sleep(0.05)
        assert served == 100
    finally:
        await a.stop()
        await b.stop()
    assert await _spendable(db) == (0, 0)


async def test_steady_state_needs_no_round_trip_and_the_lease_is_sized_to_the_balance(db: Database) -> None:
    await db.users.update_one({"_id": 1}, {"$set": {"quota": 10**9}})
    a = await Proc(db).start()
    try:
        res = await a.ledger.reserve(1, None, 100)
        assert isinstance(res, Reservation)
        lease = a.ledger.leases[(USER, 1)]
        assert lease.local >= 100 * 100  # many requests ahead, not one
        free, leased = await _spendable(db)
        assert free + leased == 10**9 and leased == lease.recorded
        for _ in range(50):  # no await at all: the coroutine finishes in one step
            coro = a.ledger.reserve(1, None, 100)
            try:
                coro.send(None)
            except StopIteration as done:
                assert isinstance(done.value, Reservation)
            else:
                raise AssertionError("a covered reservation awaited something")
    finally:
        await a.stop()
    assert await _spendable(db) == (10**9 - 51 * 100, 0)


async def test_a_crashed_process_lease_returns_after_its_ttl(db: Database) -> None:
    a, b = await Proc(db, ttl=1.0).start(), await Proc(db, ttl=1.0).start()
    res = await a.ledger.reserve(1, None, 10)
    assert isinstance(res, Reservation)
    await a.ledger.settle(res, 10)
    await a.ledger.flush()  # recorded: 10 spent
    held = a.ledger.leases[(USER, 1)].recorded
    assert held > 0
    await a.crash()
    started = time.monotonic()

    async def returned() -> bool:
        await b.ledger.reap()
        return await _spendable(db) == (990, 0)
    await converge(returned, timeout=10, interval=0.1)
    assert time.monotonic() - started < 10
    await b.stop()


async def test_credits_are_seen_at_once_and_absolute_edits_recall_leases(db: Database) -> None:
    a, b = await Proc(db).start(), await Proc(db).start()
    try:
        res = await a.ledger.reserve(1, None, 10)
        assert isinstance(res, Reservation)
        await a.ledger.settle(res, 10)
        await b.ledger.credit(USER, 1, 500)
        assert await a.ledger.ensure(USER, 1) == 1000 - 10 + 500  # read-your-writes on every reader
        # B sees the credit at once; A's spend of 10 once A records it (its next flush)
        assert await b.ledger.ensure(USER, 1) in (1490, 1500)
        await a.ledger.flush()
        assert await b.ledger.ensure(USER, 1) == 1490
        # an admin on B sets 200: A gives its lease back (event), the balance is exactly 200
        await b.ledger.set_absolute(USER, 1, 200)

        async def settled() -> bool:
            free, leased = await _spendable(db)
            return leased == 0 and free == 200
        await converge(settled, timeout=10)
    finally:
        await a.stop()
        await b.stop()


async def test_a_starved_process_recalls_the_others_leases(db: Database) -> None:
    a, b = await Proc(db).start(), await Proc(db).start()
    try:
        res = await a.ledger.reserve(1, None, 10)  # A leases well beyond one request
        assert isinstance(res, Reservation)
        free, leased = await _spendable(db)
        assert leased > 10
        want = free + 10  # more than the free pool: only with A's unused lease
        assert await b.ledger.reserve(1, None, want) == "user"

        async def b_gets_it() -> bool:
            return isinstance(await b.ledger.reserve(1, None, want), Reservation)
        await converge(b_gets_it, timeout=10, interval=0.2)
    finally:
        await a.stop()
        await b.stop()


async def test_overruns_are_charged_only_as_far_as_the_balance_goes(db: Database) -> None:
    await db.users.update_one({"_id": 1}, {"$set": {"quota": 30}})
    a = await Proc(db).start()
    try:
        res = await a.ledger.reserve(1, None, 10)
        assert isinstance(res, Reservation)
        assert await a.ledger.settle(res, 100) == 30  # reserved 10, cost 100, balance 30
    finally:
        await a.stop()
    assert await _spendable(db) == (0, 0)


async def test_a_reader_waits_for_settlements_of_answers_already_sent(db: Database) -> None:
    """Answers go out before their settlement (relay/pipeline.py): flush() — what every reader of
    quotas and logs calls — waits for the settlements that began before it, not for later ones."""
    ledger = QuotaLedger(db)
    first, second = ledger.begin_settlement(), ledger.begin_settlement()
    reader = asyncio.ensure_future(ledger.flush())
    await asyncio.sleep(0.05)
    assert not reader.done()
    ledger.end_settlement(second)
    await asyncio.sleep(0.05)
    assert not reader.done()  # the first is still settling
    later = ledger.begin_settlement()  # began after the reader: not waited for
    ledger.end_settlement(first)
    await asyncio.wait_for(reader, 5)
    t0 = time.monotonic()
    await ledger.settled(timeout=0.2)  # a reader after ``later`` began waits for it, up to its bound
    assert time.monotonic() - t0 >= 0.15
    ledger.end_settlement(later)
    await asyncio.wait_for(ledger.flush(), 5)
