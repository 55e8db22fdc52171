"""Several real OneRelay processes on one database (and one real redis-server): exact quota,
change propagation, crashes, a Redis outage, shared cookies.

Each test starts its own nodes (``python server.py``) on a fresh database of the session's
embedded server; the fake upstream runs in this process and answers every node.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import tornado.httpclient
import tornado.iostream

from tests.conftest import Upstream
from tests.nodes import Node, converge
from tests.realredis import RedisServer, have_redis

assert have_redis(), "redis-server is required (scripts/test.sh installs it)"

COST = 12  # (9 prompt + 12 completion × 3 completion ratio) × 0.25 → 12; reservation (8 + 40) × 0.25 = 12
MSG = [{"role": "user", "content": "hi"}]
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def redis_srv() -> Any:
    srv = RedisServer().start()
    yield srv
    srv.cleanup()


class Cluster:
    def __init__(self, mongo: Any, upstream: Upstream, redis_url: str) -> None:
        self.uri = f"mongodb://127.0.0.1:{mongo.port}/mn{next(_seq)}"
        self.upstream = upstream
        self.redis_url = redis_url
        self.nodes: list[Node] = []

    async def start(self, n: int = 2, **env: str) -> list[Node]:
        master = await Node(self.uri, redis_url=self.redis_url, **env).start()
        self.nodes.append(master)
        others = [Node(self.uri, redis_url=self.redis_url, node_type="slave", **env) for _ in range(n - 1)]
        self.nodes.extend(others)
        await asyncio.gather(*(o.start() for o in others))
        return self.nodes

    async def setup_billing(self, budget_requests: int) -> str:
        """One channel; exact reservations; a token worth ``budget_requests`` requests."""
        a = self.nodes[0]
        await a.ok("POST", "/api/channel/", {"name": "up", "type": 1, "key": "sk-ok", "base_url": self.upstream.url,
                                            "models": "gpt-3.5-turbo", "group": "default"})
        await a.ok("PUT", "/api/option/", {"key": "PreConsumedQuota", "value": "0"})
        tok = await a.ok("POST", "/api/token/", {"name": "budget", "remain_quota": budget_requests * COST,
                                                "unlimited_quota": False, "expired_time": -1})
        for node in self.nodes:  # the channel and the option reached every node
            await converge(lambda: _routes(node, "gpt-3.5-turbo"), timeout=15)
            await converge(lambda: _option_is(node, "PreConsumedQuota", "0"), timeout=15)
        return "sk-" + tok["key"]

    def close(self) -> None:
        for n in self.nodes:
            n.close()


@pytest.fixture
async def cluster_factory(mongo: Any, upstream: Upstream) -> AsyncIterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(redis_url: str = "") -> Cluster:
        c = Cluster(mongo, upstream, redis_url)
        made.append(c)
        return c

    upstream.state.reset()
    yield make
    for c in made:
        c.close()


async def _routes(node: Node, model: str) -> bool:
    return model in await node.ok("GET", "/api/user/available_models")


async def _option_is(node: Node, key: str, value: str) -> bool:
    opts = await node.ok("GET", "/api/option/")
    return any(o["key"] == key and o["value"] == value for o in opts)


async def _token_doc(node: Node, key: str) -> dict[str, Any]:
    rows = await node.ok("GET", f"/api/token/search?keyword=budget")
    return [r for r in rows if r["key"] == key[3:]][0]


async def _burst(nodes: list[Node], key: str, n: int) -> list[tuple[int, int]]:
    """``n`` concurrent chat requests spread round-robin over the nodes: [(node index, status)]."""
    async def one(i: int) -> tuple[int, int]:
        try:
            code, _ = await nodes[i % len(nodes)].chat(key, messages=MSG, max_tokens=40)
        except (OSError, tornado.httpclient.HTTPClientError, tornado.iostream.StreamClosedError):
            code = 599  # the node went away mid-request (a killed node)
        return i % len(nodes), code
    return await asyncio.gather(*(one(i) for i in range(n)))


async def _assert_budget_holds(nodes: list[Node], key: str, budget: int) -> None:
    results = await _burst(nodes, key, 400)
    ok = [r for r in results if r[1] == 200]
    assert all(code in (200, 401, 403) for _, code in results), sorted({c for _, c in results})
    assert 0 < len(ok) <= budget, len(ok)
    # each node served part of the load
    assert {i for i, _ in ok} == set(range(len(nodes))) or len(ok) < len(nodes)
    # then, until nothing is left, requests keep succeeding: the whole budget is usable, never more
    served = len(ok)
    for _ in range(budget):
        res = await _burst(nodes, key, len(nodes))
        got = sum(1 for _, c in res if c == 200)
        served += got
        if got == 0:
            tok = await _token_doc(nodes[0], key)
            if tok["remain_quota"] < COST:
                break
            await asyncio.sleep(0.3)  # another node still holds a lease; it gives it back on recall
    assert served <= budget
    for node in nodes:
        node.terminate()  # clean stops return every lease and flush every counter
    return None


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "feed"])
async def test_budget_of_40_holds_across_two_nodes(cluster_factory: Any, redis_srv: Any, with_redis: bool,
                                                   mongo: Any) -> None:
    c = cluster_factory(redis_srv.url if with_redis else "")
    nodes = await c.start(2)
    key = await c.setup_billing(40)
    await _assert_budget_holds(nodes, key, 40)
    # read the truth straight from a fresh node: nothing overspent, nothing lost
    check = await Node(c.uri).start()
    c.nodes.append(check)
    tok = await _token_doc(check, key)
    assert tok["remain_quota"] >= 0
    assert tok["remain_quota"] + tok["used_quota"] == 40 * COST
    assert tok["used_quota"] <= 40 * COST
    logs = await check.ok("GET", "/api/log/?type=2")  # the newest page of consume logs
    assert all(entry["quota"] == COST for entry in logs)


async def test_workers_share_the_budget(cluster_factory: Any, redis_srv: Any) -> None:
    """``--workers 2`` (pre-forked processes on one port) keeps the same quota exactly."""
    c = cluster_factory("")
    c.nodes.append(await Node(c.uri, workers=2).start())
    key = await c.setup_billing(40)
    await _assert_budget_holds(c.nodes, key, 40)
    check = await Node(c.uri).start()
    c.nodes.append(check)
    tok = await _token_doc(check, key)
    assert tok["remain_quota"] >= 0 and tok["remain_quota"] + tok["used_quota"] == 40 * COST


# -- propagation --------------------------------------------------------------------------------
async def _propagation(a: Node, b: Node, upstream: Upstream) -> list[float]:
    """Every kind of change made on ``a`` becomes visible on ``b``; returns the delays."""
    delays: list[float] = []

    async def seen(check: Callable[[], Awaitable[bool]]) -> None:
        delays.append(await converge(check, timeout=15))

    # a channel created on A is routable on B
    cid = (await a.ok("POST", "/api/channel/", {"name": "p", "type": 1, "key": "sk-ok", "base_url": upstream.url,
                                                "models": "gpt-3.5-turbo", "group": "default"}))["id"]
    tok = await a.ok("POST", "/api/token/", {"name": "prop", "unlimited_quota": True, "expired_time": -1})
    key, tid = "sk-" + tok["key"], tok["id"]

    async def b_status(model: str = "gpt-3.5-turbo") -> int:
        return (await b.chat(key, model=model, messages=MSG))[0]

    await seen(lambda: _eq(b_status(), 200))
    # channel edit (models) on A: B routes the new model
    await a.ok("PUT", "/api/channel/", {"id": cid, "models": "gpt-3.5-turbo,gpt-4o-mini"})
    await seen(lambda: _eq(b_status("gpt-4o-mini"), 200))
    # channel disabled on A: B stops routing to it
    await a.ok("PUT", "/api/channel/", {"id": cid, "status": 2})
    await seen(lambda: _eq(b_status(), 503))
    await a.ok("PUT", "/api/channel/", {"id": cid, "status": 1})
    await seen(lambda: _eq(b_status(), 200))
    # token disabled on A: refused on B; enabled again: accepted
    await a.ok("PUT", "/api/token/?status_only=true", {"id": tid, "status": 2})
    await seen(lambda: _eq(b_status(), 401))
    await a.ok("PUT", "/api/token/?status_only=true", {"id": tid, "status": 1})
    await seen(lambda: _eq(b_status(), 200))
    # token quota changed on A (limited, 0 left): refused on B
    await a.ok("PUT", "/api/token/", {"id": tid, "name": "prop", "unlimited_quota": False, "remain_quota": 0,
                                      "expired_time": -1})
    await seen(lambda: _eq(b_status(), 401))
    await a.ok("PUT", "/api/token/", {"id": tid, "name": "prop", "unlimited_quota": True, "remain_quota": 0,
                                      "expired_time": -1})
    await seen(lambda: _eq(b_status(), 200))
    # a ratio changed on A: B bills with it
    await a.ok("PUT", "/api/option/", {"key": "ModelRatio", "value": json.dumps({"gpt-3.5-turbo": 100})})

    async def b_bills_new_ratio() -> bool:
        if await b_status() != 200:
            return False
        logs = await b.ok("GET", "/api/log/?type=2")
        return bool(logs) and logs[0]["quota"] > 1000
    await seen(b_bills_new_ratio)
    # a switch (LogConsumeEnabled) changed on A: B stops writing consume logs
    await a.ok("PUT", "/api/option/", {"key": "LogConsumeEnabled", "value": "false"})

    async def b_logs_off() -> bool:
        before = len(await b.ok("GET", "/api/log/?type=2&token_name=prop"))
        await b_status()
        return len(await b.ok("GET", "/api/log/?type=2&token_name=prop")) == before
    await seen(b_logs_off)
    await a.ok("PUT", "/api/option/", {"key": "LogConsumeEnabled", "value": "true"})
    # a user: created on A, group changed, disabled
    await a.ok("POST", "/api/user/", {"username": "bob", "password": "password1", "display_name": "bob"})
    bob = [u for u in await a.ok("GET", "/api/user/search?keyword=bob")][0]
    await a.ok("PUT", "/api/user/", {"id": bob["id"], "username": "bob", "display_name": "bob", "group": "default",
                                     "quota": 10**7, "role": 1})
    await a.ok("POST", "/api/channel/", {"name": "vip", "type": 1, "key": "sk-ok", "base_url": upstream.url,
                                         "models": "vip-model", "group": "vip"})
    await a.ok("PUT", "/api/option/", {"key": "GroupRatio", "value": json.dumps({"default": 1, "vip": 1})})
    login = await b.api("POST", "/api/user/login", {"username": "bob", "password": "password1"}, token=None)
    assert login[0] == 200 and login[1]["success"], login
    bob_access = await _access_token(b, "bob")
    bob_tok = await b.ok("POST", "/api/token/", {"name": "bt", "unlimited_quota": True, "expired_time": -1},
                         token=bob_access)
    bob_key = "sk-" + bob_tok["key"]

    async def bob_on_b(model: str) -> int:
        return (await b.chat(bob_key, model=model, messages=MSG))[0]
    await seen(lambda: _eq(bob_on_b("gpt-3.5-turbo"), 200))
    await a.ok("PUT", "/api/user/", {"id": bob["id"], "username": "bob", "display_name": "bob", "group": "vip",
                                     "quota": 10**7, "role": 1})
    await seen(lambda: _eq(bob_on_b("vip-model"), 200))
    # user quota set to 0 on A: B refuses; topped up on A: B serves again
    await a.ok("PUT", "/api/user/", {"id": bob["id"], "username": "bob", "display_name": "bob", "group": "vip",
                                     "quota": 0, "role": 1})
    await seen(lambda: _eq(bob_on_b("vip-model"), 403))
    await a.ok("POST", "/api/topup", {"user_id": bob["id"], "quota": 10**7})
    await seen(lambda: _eq(bob_on_b("vip-model"), 200))
    # a redemption code created on A is redeemed on B and shows at once on A
    codes = await a.ok("POST", "/api/redemption/", {"name": "r", "quota": 1234, "count": 1})
    before = (await a.ok("GET", f"/api/user/{bob['id']}"))["quota"]
    assert await b.ok("POST", "/api/user/topup", {"key": codes[0]}, token=bob_access) == 1234
    after = (await a.ok("GET", f"/api/user/{bob['id']}"))["quota"]
    assert after - before == 1234 or after - before > 1234 - 100 * COST
    # role: bob promoted on A is an admin on B
    await a.ok("POST", "/api/user/manage", {"username": "bob", "action": "promote"})
    await seen(lambda: _ok_call(b.api("GET", "/api/channel/?p=0", token=bob_access)))
    # disabled on A: refused on B, at the relay and at the management API
    await a.ok("POST", "/api/user/manage", {"username": "bob", "action": "disable"})
    await seen(lambda: _eq(bob_on_b("vip-model"), 403))
    # channel deleted on A: B stops routing (the other channel serves no gpt-3.5-turbo now)
    await a.ok("DELETE", f"/api/channel/{cid}")
    await seen(lambda: _eq(b_status(), 503))
    # a channel auto-disabled by B's relay (the upstream says 401) leaves A's routing table
    await a.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    bad = (await a.ok("POST", "/api/channel/", {"name": "bad", "type": 1, "key": "fail-401",
                                                "base_url": upstream.url, "models": "gpt-3.5-turbo",
                                                "group": "default"}))["id"]
    await converge(lambda: _option_is(b, "AutomaticDisableChannelEnabled", "true"), timeout=15)
    await seen(lambda: _eq(b_status(), 401))  # B routes to it and gets the upstream's 401

    async def a_sees_auto_disabled() -> bool:
        return (await a.ok("GET", f"/api/channel/{bad}"))["status"] == 3 and await a_status() == 503

    async def a_status() -> int:
        return (await a.chat(key, messages=MSG))[0]
    await seen(a_sees_auto_disabled)
    return delays


async def _eq(aw: Awaitable[Any], want: Any) -> bool:
    return bool(await aw == want)


async def _ok_call(aw: Awaitable[tuple[int, Any]]) -> bool:
    code, data = await aw
    return code == 200 and isinstance(data, dict) and bool(data.get("success"))


async def _access_token(node: Node, username: str) -> str:
    """Log in with a cookie, then fetch the user's system access token with it."""
    resp = await node.http.fetch(node.url + "/api/user/login", method="POST",
                                 body=json.dumps({"username": username, "password": "password1"}),
                                 raise_error=False)
    session = resp.headers.get("Set-Cookie", "").split(";")[0]
    resp = await node.http.fetch(node.url + "/api/user/token", headers={"Cookie": session}, raise_error=False)
    return str(json.loads(resp.body)["data"])


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "feed"])
async def test_every_change_reaches_the_other_node(cluster_factory: Any, redis_srv: Any, upstream: Upstream,
                                                   with_redis: bool) -> None:
    c = cluster_factory(redis_srv.url if with_redis else "")
    a, b = await c.start(2)
    assert (await b.ok("GET", "/api/status", token=None))["shared_state"] == ("redis" if with_redis else "database")
    delays = await _propagation(a, b, upstream)
    p99 = statistics.quantiles(delays, n=100)[98] if len(delays) > 1 else delays[0]
    # reported, not asserted (no timing assertions): see the README's multi-node figures
    print(f"\npropagation ({'redis' if with_redis else 'database feed'}): {len(delays)} changes, "
          f"median {statistics.median(delays) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")


async def test_cookie_from_one_node_works_on_another(cluster_factory: Any) -> None:
    c = cluster_factory("")
    a, b = await c.start(2)
    resp = await a.http.fetch(a.url + "/api/user/login", method="POST",
                              body=json.dumps({"username": "root", "password": "123456"}), raise_error=False)
    session = resp.headers.get("Set-Cookie", "").split(";")[0]
    assert session.startswith("session=")
    resp = await b.http.fetch(b.url + "/api/user/self", headers={"Cookie": session}, raise_error=False)
    assert json.loads(resp.body)["data"]["username"] == "root"
    # logging out everywhere on A (password change) ends the session on B
    await a.http.fetch(a.url + "/api/user/self", method="PUT", headers={"Cookie": session},
                       body=json.dumps({"username": "root", "password": "newpassword1"}), raise_error=False)
    resp = await b.http.fetch(b.url + "/api/user/self", headers={"Cookie": session}, raise_error=False)
    assert resp.code == 401 or not json.loads(resp.body)["success"]


async def test_a_killed_node_gives_its_lease_back(cluster_factory: Any, redis_srv: Any) -> None:
    c = cluster_factory(redis_srv.url)
    a, b = await c.start(2)
    key = await c.setup_billing(1000)
    for _ in range(5):
        await _burst([a, b], key, 20)
    load = asyncio.ensure_future(_burst([a, b], key, 60))
    await asyncio.sleep(0.05)
    b.kill()  # mid-load
    results = await load
    assert all(code in (200, 502, 599) or i == 1 for i, code in results)
    assert all(code == 200 for i, code in results if i == 0)  # the survivor kept serving
    assert all(code == 200 for _, code in await _burst([a], key, 20))

    async def only_a_holds_a_lease() -> bool:
        doc = await _raw_token(c.uri, key)
        return len(doc.get("leases") or {}) <= 1
    await converge(only_a_holds_a_lease, timeout=30)  # LEASE_TTL 4 s + one reaper period
    a.terminate()
    doc = await _raw_token(c.uri, key)
    assert int(doc.get("leased") or 0) == 0 and not doc.get("leases")
    assert 0 <= doc["remain_quota"] <= 1000 * COST


async def _raw_token(uri: str, key: str) -> dict[str, Any]:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        doc = await client.get_default_database()["tokens"].find_one({"key": key[3:]})
        assert doc is not None
        return doc
    finally:
        await client.close()


async def test_redis_killed_and_restarted_mid_load(cluster_factory: Any, upstream: Upstream) -> None:
    srv = RedisServer().start()
    try:
        c = cluster_factory(srv.url)
        a, b = await c.start(2)
        key = await c.setup_billing(5000)
        assert (await b.ok("GET", "/api/status", token=None))["shared_state"] == "redis"
        load = asyncio.ensure_future(_burst([a, b], key, 200))
        await asyncio.sleep(0.05)
        srv.kill()
        results = await load
        assert all(code == 200 for _, code in results), sorted({c for _, c in results})
        await converge(lambda: _state_is(b, "database"), timeout=15)
        # changes still propagate (database feed): a token disabled on A is refused on B
        tok = await a.ok("POST", "/api/token/", {"name": "t2", "unlimited_quota": True, "expired_time": -1})
        assert (await b.chat("sk-" + tok["key"], messages=MSG))[0] == 200
        await a.ok("PUT", "/api/token/?status_only=true", {"id": tok["id"], "status": 2})
        await converge(lambda: _eq(_code(b.chat("sk-" + tok["key"], messages=MSG)), 401), timeout=15)
        assert all(code == 200 for _, code in await _burst([a, b], key, 50))
        srv.restart()
        await converge(lambda: _state_is(b, "redis"), timeout=15)
        await converge(lambda: _state_is(a, "redis"), timeout=15)
        await a.ok("PUT", "/api/token/?status_only=true", {"id": tok["id"], "status": 1})
        await converge(lambda: _eq(_code(b.chat("sk-" + tok["key"], messages=MSG)), 200), timeout=15)
        for n in (a, b):
            assert "Traceback" not in n.log_tail(200000)
    finally:
        srv.cleanup()


async def _state_is(node: Node, mode: str) -> bool:
    return bool((await node.ok("GET", "/api/status", token=None))["shared_state"] == mode)


async def _code(aw: Awaitable[tuple[int, Any]]) -> int:
    return (await aw)[0]


async def test_malformed_redis_string_is_one_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.nodes import ROOT

    env = {**__import__("os").environ, "REDIS_CONN_STRING": "redis://host:notaport",
           "MONGODB_URI": "mongodb://127.0.0.1:1/none", "DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "server.py", "--log-dir", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, timeout=60)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("REDIS_CONN_STRING"), err


async def test_unreachable_redis_at_start_means_one_warning_and_the_feed(cluster_factory: Any) -> None:
    from tests.realredis import free_port

    c = cluster_factory(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    a, b = await c.start(2)
    assert (await a.ok("GET", "/api/status", token=None))["shared_state"] == "database"
    # the nodes work and converge through the database feed
    tok = await a.ok("POST", "/api/token/", {"name": "t", "unlimited_quota": True, "expired_time": -1})
    await a.ok("PUT", "/api/token/?status_only=true", {"id": tok["id"], "status": 2})
    await a.ok("POST", "/api/channel/", {"name": "p", "type": 1, "key": "sk-ok", "base_url": c.upstream.url,
                                         "models": "gpt-3.5-turbo", "group": "default"})
    await converge(lambda: _eq(_code(b.chat("sk-" + tok["key"], messages=MSG)), 401), timeout=15)
    for _ in range(3):  # requests (and their rate-limit checks) add no more warnings
        await b.api("GET", "/api/user/self")
    for n in (a, b):
        warnings = [ln for ln in n.log_tail(200000).splitlines() if "WARNING" in ln and "Redis" in ln]
        assert len(warnings) == 1, warnings
        assert "Traceback" not in n.log_tail(200000)
