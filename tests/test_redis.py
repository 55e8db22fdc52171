"""Redis: REDIS_CONN_STRING parsing, Sentinel, and rate limits shared across nodes, against a real
redis-server (tests/realredis.py), including one SIGKILLed mid-test and restarted."""

from __future__ import annotations

import asyncio
import logging
import uuid
from types import SimpleNamespace
from typing import Any, AsyncIterator, Iterator

import pytest

from handlers.ratelimit import KEY_PREFIX, Limiter, RateLimiter, api_rate_limit, web_rate_limit
from services.redisconn import RedisConn, parse_conn_string
from tests.realredis import RedisServer, SentinelServer, have_redis

needs_redis = pytest.mark.skipif(not have_redis(), reason="redis-server is not installed")


def settings(conn: str = "", password: str = "", master: str = "") -> Any:
    return SimpleNamespace(redis_conn_string=conn, redis_password=password, redis_master_name=master)


# -- parsing (never connects) ----------------------------------------------------------------------


def test_empty_means_no_redis() -> None:
    assert RedisConn.from_settings(settings("")) is None
    assert RedisConn.from_settings(settings("   ")) is None


def test_single_url_db_and_password_precedence() -> None:
    c = parse_conn_string("redis://127.0.0.1:6390/3", "envpass")
    assert c is not None and c.mode == "redis" and c.nodes == (("127.0.0.1", 6390),)
    assert c.db == 3 and c.password == "envpass" and not c.tls  # REDIS_PASSWORD when the URL has none
    c = parse_conn_string("redis://bob:url%40pass@redis.internal", "envpass")
    assert c is not None and c.username == "bob" and c.password == "url@pass"  # the URL's wins
    assert c.nodes == (("redis.internal", 6379),) and c.db == 0
    c = parse_conn_string("cache:6380")  # bare host:port
    assert c is not None and c.mode == "redis" and c.nodes == (("cache", 6380),) and c.password is None

    conn = RedisConn.from_settings(settings("redis://:secret@127.0.0.1:1/2", "ignored"))
    assert conn is not None and conn.mode == "redis" and conn.healthy is True
    kw = conn.client.connection_pool.connection_kwargs
    assert kw["password"] == "secret" and kw["db"] == 2 and kw["port"] == 1
    assert kw["socket_connect_timeout"] <= 1 and kw["socket_timeout"] <= 2 and kw["health_check_interval"] > 0
    assert "secret" not in conn.describe()


def test_rediss_is_tls() -> None:
    from redis.asyncio.connection import SSLConnection

    c = parse_conn_string("rediss://default:pw@redis.example.com:6380/0")
    assert c is not None and c.tls and c.mode == "redis" and c.password == "pw" and c.username == "default"
    conn = RedisConn.from_settings(settings("rediss://redis.example.com:6380"))
    assert conn is not None and conn.client.connection_pool.connection_class is SSLConnection


def test_sentinel_list_with_master_name() -> None:
    c = parse_conn_string("10.0.0.1:26379, 10.0.0.2:26380,redis://10.0.0.3", "masterpw", "mymaster")
    assert c is not None and c.mode == "sentinel" and c.master_name == "mymaster"
    assert c.nodes == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379))
    assert c.password == "masterpw" and c.sentinel_password is None
    # one sentinel is still Sentinel when a master name is set
    conn = RedisConn.from_settings(settings("127.0.0.1:1", "", "mymaster"))
    assert conn is not None and conn.mode == "sentinel"


def test_several_addresses_without_master_name_is_cluster() -> None:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub
    from redis.asyncio.cluster import RedisCluster

    conn = RedisConn.from_settings(settings("127.0.0.1:7000,127.0.0.1:7001,redis://127.0.0.1:7002", "pw"))
    assert conn is not None and conn.mode == "cluster" and isinstance(conn.client, RedisCluster)
    assert conn.config.nodes[0] == ("127.0.0.1", 7000) and conn.config.password == "pw"
    ps = conn.pubsub()  # a plain client to the first startup node, not created until asked for
    assert isinstance(ps, PubSub) and isinstance(conn._pubsub_client, Redis)
    assert conn._pubsub_client.connection_pool.connection_kwargs["port"] == 7000


@pytest.mark.parametrize("value,master,expect", [
    ("http://127.0.0.1:6379", "", "unknown scheme"),
    ("mongodb://localhost", "", "unknown scheme"),
    ("redis://127.0.0.1:notaport", "", "bad port 'notaport'"),
    ("redis://127.0.0.1:70000", "", "bad port"),
    ("127.0.0.1:0", "", "bad port 0"),
    ("redis://:6379/0", "", "host is empty"),
    ("redis://", "", "host is empty"),
    ("127.0.0.1:", "", "port is empty"),
    ("redis://127.0.0.1/abc", "", "database must be a number"),
    ("redis://127.0.0.1:6379/0?ssl=true", "", "not supported"),
    ("h1:7000,,h2:7001", "", "empty address"),
    ("h1:7000,h1:7000", "", "listed twice"),
    ("redis://h1:7000,rediss://h2:7001", "", "mixes"),
    ("redis://h1:7000/1,redis://h2:7001/1", "", "Cluster only has database 0"),
    ("redis://u:hunter2@h1:x", "", "bad port"),
    ("s1:26379,:26380", "mymaster", "host is empty"),
])
def test_malformed_exits_with_one_line(value: str, master: str, expect: str) -> None:
    with pytest.raises(SystemExit) as ei:
        RedisConn.from_settings(settings(value, "", master))
    msg = str(ei.value.code)
    assert msg.startswith("REDIS_CONN_STRING ") and "\n" not in msg and expect in msg, msg
    assert "hunter2" not in msg  # never echo a password


# -- real servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if not have_redis():
        pytest.skip("redis-server is not installed")
    with RedisServer() as srv:
        yield srv


@pytest.fixture
async def conns(redis_server: RedisServer) -> AsyncIterator[list[RedisConn]]:
    """Two independent connections (two 'nodes') to one flushed server."""
    made = [RedisConn.from_url(redis_server.url), RedisConn.from_url(redis_server.url)]
    await made[0].client.flushdb()
    yield made
    for c in made:
        await c.close()


async def align(conn: RedisConn, window: float, margin: float = 0.15) -> None:
    """Wait for a fresh window on the Redis clock when the current one ends within ``margin`` seconds,
    so a test's burst of hits never straddles a window boundary."""
    sec, usec = await conn.client.time()
    into = (sec + usec / 1e6) % window
    if window - into < margin:
        await asyncio.sleep(window - into + 0.01)


@needs_redis
async def test_sentinel_master_set_get() -> None:
    with RedisServer(password="m4ster") as master, SentinelServer(master, "relaymaster") as sentinel:
        conn = RedisConn.from_settings(settings(sentinel.address, "m4ster", "relaymaster"))
        assert conn is not None and conn.mode == "sentinel"
        try:
            await conn.client.set("onerelay:test", "via-sentinel")
            assert await conn.client.get("onerelay:test") == b"via-sentinel"
            assert await conn.ping()
            # the value is on the monitored master
            direct = RedisConn.from_url(master.url)
            assert await direct.client.get("onerelay:test") == b"via-sentinel"
            await direct.close()
        finally:
            await conn.close()


async def test_ping_and_pubsub(conns: list[RedisConn]) -> None:
    a, b = conns
    assert await a.ping()
    ps = a.pubsub()
    await ps.subscribe("onerelay:test-events")
    assert (await ps.get_message(timeout=2))["type"] == "subscribe"
    assert await b.client.publish("onerelay:test-events", "user:42") == 1
    msg = await ps.get_message(timeout=2)
    assert msg is not None and msg["data"] == b"user:42"
    await ps.aclose()


async def test_ping_false_when_nothing_listens() -> None:
    from tests.realredis import free_port

    conn = RedisConn.from_url(f"redis://127.0.0.1:{free_port()}")
    assert await conn.ping() is False
    await conn.close()


async def test_two_nodes_share_one_limit(conns: list[RedisConn]) -> None:
    a, b = Limiter(conns[0]), Limiter(conns[1])
    assert a.shared and b.shared
    await align(conns[0], 60)
    results = []
    for _ in range(6):  # interleaved, as two nodes behind a load balancer see one client
        results.append(await a.hit("api:10.0.0.9", 10, 60))
        results.append(await b.hit("api:10.0.0.9", 10, 60))
    assert results.count(True) == 10 and results[-2:] == [False, False]
    assert 1 <= a.retry_after("api:10.0.0.9") <= 61 and 1 <= b.retry_after("api:10.0.0.9") <= 61
    assert await a.hit("api:10.0.0.10", 10, 60)  # another key has its own budget
    assert len(a.local) == 0 and len(b.local) == 0  # nothing counted in process memory
    keys = sorted(k.decode() for k in await conns[0].client.keys("*"))
    assert keys == [KEY_PREFIX + "api:10.0.0.10", KEY_PREFIX + "api:10.0.0.9"]
    ttl = await conns[0].client.pttl(KEY_PREFIX + "api:10.0.0.9")
    assert 0 < ttl <= 120_000  # expires after two windows
    # limit 0 is off and never touches Redis
    assert all([await a.hit("api:off", 0, 60) for _ in range(20)])
    assert not await conns[0].client.exists(KEY_PREFIX + "api:off")


async def test_windows_expire(conns: list[RedisConn]) -> None:
    a, b = Limiter(conns[0]), Limiter(conns[1])
    window = 0.4
    await align(conns[0], window)
    assert [await a.hit("crit:ip", 2, window), await b.hit("crit:ip", 2, window),
            await a.hit("crit:ip", 2, window)] == [True, True, False]
    await asyncio.sleep(2 * window + 0.05)  # two windows later the old counts weigh nothing
    assert not await conns[0].client.exists(KEY_PREFIX + "crit:ip")  # and the key has expired
    await align(conns[0], window)
    assert [await b.hit("crit:ip", 2, window), await a.hit("crit:ip", 2, window),
            await b.hit("crit:ip", 2, window)] == [True, True, False]


async def test_entry_points_with_redis_limiter(conns: list[RedisConn]) -> None:
    s = SimpleNamespace(debug=False, global_api_rate_limit=3, critical_rate_limit=1, global_web_rate_limit=1)
    node1 = SimpleNamespace(settings=s, limiter=Limiter(conns[0]))
    node2 = SimpleNamespace(settings=s, limiter=Limiter(conns[1]))
    await align(conns[0], 180)
    assert await api_rate_limit(node1, "1.2.3.4", critical=True) is None
    refused = await api_rate_limit(node2, "1.2.3.4", critical=True)  # the critical budget is shared
    assert refused is not None and "Too many attempts" in refused[0] and refused[1] >= 1
    assert await api_rate_limit(node2, "1.2.3.4", critical=False) is None  # 3rd api hit
    refused = await api_rate_limit(node1, "1.2.3.4", critical=False)
    assert refused is not None and "Too many requests" in refused[0]
    assert await web_rate_limit(node2, "1.2.3.4") is None
    assert (await web_rate_limit(node1, "1.2.3.4") or 0) >= 1
    s.debug = True
    assert await api_rate_limit(node1, "1.2.3.4", critical=True) is None


async def test_gateway_counts_hits_from_another_node(gw: Any, conns: list[RedisConn]) -> None:
    gw.ctx.limiter = Limiter(conns[0])
    other_node = Limiter(conns[1])
    gw.ctx.settings.global_api_rate_limit = 5
    await align(conns[0], 180)
    for _ in range(3):
        assert await other_node.hit("api:127.0.0.1", 5, 180)
    for _ in range(2):
        code, data = await gw.api("GET", "/api/status", token=None)
        assert code == 200 and data["success"]
    resp = await gw.http.fetch(gw.url + "/api/status", raise_error=False)
    assert resp.code == 429 and int(resp.headers["Retry-After"]) >= 1


async def test_killed_redis_falls_back_then_resumes(caplog: pytest.LogCaptureFixture) -> None:
    if not have_redis():
        pytest.skip("redis-server is not installed")
    caplog.set_level(logging.INFO, logger="onerelay.redis")
    key = "api:" + uuid.uuid4().hex
    with RedisServer() as srv:
        ca, cb = RedisConn.from_url(srv.url), RedisConn.from_url(srv.url)
        a, b = Limiter(ca, retry_every=0.2), Limiter(cb, retry_every=0.2)
        try:
            await align(ca, 60)
            assert all([await a.hit(key, 5, 60) for _ in range(3)])
            assert a.shared and len(a.local) == 0

            srv.kill()
            # never raises; counts in this process from zero: 5 allowed, then refused
            results = [await a.hit(key, 5, 60) for _ in range(7)]
            assert results == [True] * 5 + [False, False]
            assert not a.shared and ca.healthy is False and len(a.local) == 1
            assert a.retry_after(key) >= 1
            assert [await b.hit(key, 5, 60) for _ in range(2)] == [True, True]
            outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(outage) == 2  # once per connection (each stands for a process), not once per hit
            assert all(r.levelno == logging.WARNING for r in outage)

            srv.restart()  # same port, empty data (no persistence)
            for _ in range(200):  # a limiter retries Redis by itself at most every retry_every
                await a.hit("probe:" + key, 1000, 60)
                await b.hit("probe:" + key, 1000, 60)
                if a.shared and b.shared:
                    break
                await asyncio.sleep(0.05)
            assert a.shared and b.shared and ca.healthy and cb.healthy
            back = [r for r in caplog.records if "reachable again" in r.getMessage()]
            assert len(back) == 2
            # shared counting again: 2 on one node + 3 on the other, limit 4
            await align(ca, 60)
            results = [await a.hit(key + ":2", 4, 60) for _ in range(2)]
            results += [await b.hit(key + ":2", 4, 60) for _ in range(3)]
            assert results == [True, True, True, True, False]
            assert await ca.ping()
        finally:
            await ca.close()
            await cb.close()


async def test_no_redis_limiter_counts_in_process() -> None:
    lim = Limiter(None)
    assert not lim.shared
    assert [await lim.hit("k", 2, 60) for _ in range(3)] == [True, True, False]
    assert lim.retry_after("k") >= 1
    # the entry points also accept a plain RateLimiter (sync hit)
    ctx = SimpleNamespace(settings=SimpleNamespace(debug=False, global_api_rate_limit=1, critical_rate_limit=5),
                          limiter=RateLimiter())
    assert await api_rate_limit(ctx, "9.9.9.9", critical=False) is None
    assert (await api_rate_limit(ctx, "9.9.9.9", critical=False) or ("", 0))[1] >= 1
