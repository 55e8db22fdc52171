"""Usage limits (issue 15, items 1 and 3): the shared counters behind them, on the embedded
database and on a real redis-server, exact under concurrency; the declarations' validation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Iterator

import pytest

from services.limits import Counters, LimitError, Limits, LimitRefused, parse_limits, period_windows
from services.redisconn import RedisConn
from tests.conftest import Gateway
from tests.realredis import RedisServer, have_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if not have_redis():
        pytest.fail("redis-server is missing: apt-get install redis-server (scripts/test.sh does this)")
    with RedisServer() as srv:
        yield srv


@pytest.fixture(params=["database", "redis"])
async def counters(request: Any, gw: Gateway) -> AsyncIterator[Counters]:
    if request.param == "database":
        yield Counters(gw.ctx.db)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    conn = RedisConn.from_url(server.url)
    try:
        yield Counters(gw.ctx.db, conn)
    finally:
        await conn.close()


async def test_takes_are_exact_under_concurrency(counters: Counters) -> None:
    key = "rpm:test:" + uuid.uuid4().hex
    results = await asyncio.gather(*(counters.op(key, 60, limit=10) for _ in range(60)))
    assert sum(ok for ok, _, _ in results) == 10
    ok, left, level = await counters.op(key, 60, mode="peek")
    assert ok and 0 < left <= 60 and level == 10


async def test_amounts_adds_and_fixed_periods(counters: Counters) -> None:
    key = "q:test:" + uuid.uuid4().hex
    assert (await counters.op(key, 3600, limit=1000, amount=600, fixed=True))[0]
    assert not (await counters.op(key, 3600, limit=1000, amount=600, fixed=True))[0]  # would exceed
    await counters.op(key, 3600, amount=-500, mode="add", fixed=True)  # settled cheaper than reserved
    assert (await counters.op(key, 3600, limit=1000, amount=600, fixed=True))[0]
    assert (await counters.op(key, 3600, mode="peek", fixed=True))[2] == 700
    many = await asyncio.gather(*(counters.op(key, 3600, limit=1000, amount=100, fixed=True) for _ in range(10)))
    assert sum(ok for ok, _, _ in many) == 3  # 700 + 3 x 100 = 1000
    tpm = "tpm:test:" + uuid.uuid4().hex
    await counters.op(tpm, 60, amount=250, mode="add")
    await counters.op(tpm, 60, amount=250, mode="add")
    assert (await counters.op(tpm, 60, mode="peek"))[2] == 500


def test_declarations_are_validated() -> None:
    assert parse_limits(None) == {} and parse_limits("") == {}
    assert parse_limits({"rpm": 60, "tpm": 0, "daily": 5000, "models": {"gpt-4o": {"rpm": 5, "tpm": 0}}}) == {
        "rpm": 60, "daily": 5000, "models": {"gpt-4o": {"rpm": 5}}}
    assert parse_limits('{"5h": 100}') == {"5h": 100}
    for bad in ({"rpm": -1}, {"rpm": 1.5}, {"rpm": True}, {"hourly": 3}, {"models": {"m": {"daily": 1}}},
                {"models": []}, "[1]", "{", {"rpm": 10**16}):
        with pytest.raises(LimitError):
            parse_limits(bad)
    with pytest.raises(LimitError):
        parse_limits({"daily": 5}, periods=False)  # groups: rates only


def test_calendar_periods() -> None:
    w = period_windows(1764547200.0 + 3600)  # 2025-12-01 01:00 UTC, a Monday
    assert w["daily"] == ("2025-12-01", 23 * 3600)
    assert w["weekly"][0] == "2025-W49" and w["weekly"][1] == 7 * 86400 - 3600
    assert w["monthly"] == ("2025-12", 31 * 86400 - 3600)
    assert w["5h"] == ("", 5 * 3600)


class Rec:
    def __init__(self, ident: int, limits: dict[str, Any]) -> None:
        self.id, self.limits = ident, limits


async def test_admission_settles_and_refuses(gw: Gateway) -> None:
    lim = Limits(Counters(gw.ctx.db))
    tok, user = Rec(90001, {"rpm": 2, "daily": 1000}), Rec(90001, {"tpm": 100})
    a = await lim.admit(tok, user, "default", {}, "gpt-4o", reserve=400)
    assert a is not None
    await lim.settle(a, tokens=150, quota=300)  # 300 spent of 1000 today; 150 tokens this minute
    with pytest.raises(LimitRefused) as e:  # the user's TPM is used up
        await lim.admit(tok, user, "default", {}, "gpt-4o", reserve=400)
    assert e.value.status == 429 and "tokens per minute" in e.value.message
    b = await lim.admit(tok, Rec(90002, {}), "default", {}, "gpt-4o", reserve=600)
    assert b is not None
    await lim.settle(b, tokens=0, quota=600)  # 900 spent
    with pytest.raises(LimitRefused) as e:  # the token's 2 requests per minute are used
        await lim.admit(tok, None, "default", {}, "gpt-4o", reserve=50)
    assert e.value.status == 429 and "2 requests per minute" in e.value.message
    with pytest.raises(LimitRefused) as e:  # another token of the same limits id is not limited
        await lim.admit(Rec(90003, {"daily": 100}), None, "default", {}, "gpt-4o", reserve=200)
    assert e.value.status == 403 and "daily quota (100)" in e.value.message
    assert await lim.admit(Rec(90004, {}), Rec(90004, {}), "default", {}, "m", 10) is None  # nothing applies
    group = {"vip": {"rpm": 1, "models": {"gpt-4o": {"rpm": 1}}}}
    assert await lim.admit(None, None, "vip", group, "other-model", 1) is not None
    with pytest.raises(LimitRefused):
        await lim.admit(None, None, "vip", group, "gpt-4o", 1)  # the group's minute is used
