"""Failed logins lock accounts and addresses with growing delays, without locking the owner out;
cross-site GETs that change state are refused for cookie sessions.

The gateway trusts 127.0.0.1 as its reverse proxy here, so each test names the client address in
X-Forwarded-For. The throttle's in-process clock is replaced by a hand-driven one: delays are
asserted on Retry-After values, never by waiting.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.ratelimit import (
    LOGIN_ACCOUNT_FREE, LOGIN_ADDRESS_FREE, LOGIN_MAX_DELAY, LoginCounters, login_lock_seconds,
)
from tests.apiclient import ACCESS_TOKEN

pytestmark = pytest.mark.settings(trusted_proxies="127.0.0.1", critical_rate_limit=10_000)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def frozen(gw: Any) -> Clock:
    clock = Clock()
    gw.ctx.limiter.logins.local = LoginCounters(clock)
    return clock


async def login(gw: Any, username: str, password: str, ip: str,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    resp = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                               body=json.dumps({"username": username, "password": password}),
                               headers={"X-Forwarded-For": ip, **(headers or {})})
    return resp.code, json.loads(resp.body), resp.headers


def retry_after(h: Any) -> int:
    return int(h.get("Retry-After", "0"))


async def make_user(gw: Any, name: str, password: str = "password1") -> int:
    await gw.ok("POST", "/api/user/", {"username": name, "password": password})
    doc = await gw.ctx.db.users.find_one({"username": name})
    return int(doc["_id"])


def test_lock_schedule() -> None:
    free = LOGIN_ACCOUNT_FREE
    assert [login_lock_seconds(n, free) for n in range(1, free)] == [0] * (free - 1)
    locks = [login_lock_seconds(n, free) for n in range(free, free + 12)]
    assert 1 <= locks[0] <= 10  # a few seconds at first
    assert all(b == min(2 * a, LOGIN_MAX_DELAY) for a, b in zip(locks, locks[1:]))
    assert locks[-1] == LOGIN_MAX_DELAY == 900


async def test_account_lock_grows_across_rotating_addresses(gw: Any) -> None:
    clock = frozen(gw)
    await make_user(gw, "victim")
    # the free failures, each from another address
    for i in range(1, LOGIN_ACCOUNT_FREE):
        code, data, h = await login(gw, "victim", "wrong-pass", f"198.51.100.{i}")
        assert code == 200 and not data["success"] and "Retry-After" not in h
        assert data["message"] == "Wrong username or password, or the user has been banned"
    code, data, h = await login(gw, "victim", "wrong-pass", "198.51.100.5")
    assert code == 200 and data == {"success": False, "message": data["message"]}
    assert retry_after(h) == 5 and "try again in 5 seconds" in data["message"]
    # every address that already failed waits; a fresh address gets one guess, which doubles the lock
    waits = []
    for i in range(6, 12):
        code, data, h = await login(gw, "victim", "wrong-pass", f"198.51.100.{i - 1}")
        assert code == 429 and not data["success"] and "for this account" in data["message"], data
        assert retry_after(h) == (waits[-1] if waits else 5)
        code, data, h = await login(gw, "victim", "wrong-pass", f"198.51.100.{i}")
        assert code == 200 and not data["success"]
        waits.append(retry_after(h))
        assert f"try again in {waits[-1]} seconds" in data["message"] or "minutes" in data["message"]
    assert waits == [10, 20, 40, 80, 160, 320]
    assert "try again in 6 minutes" in data["message"]  # 320 s
    # even the right password from a dirty address waits; the throttle never checked it
    code, data, h = await login(gw, "victim", "password1", "198.51.100.3")
    assert code == 429 and retry_after(h) == 320
    # the wait elapses: a dirty address may guess again, and the lock keeps doubling up to the cap
    for expected in (640, 900, 900):
        clock.t += LOGIN_MAX_DELAY + 1
        code, data, h = await login(gw, "victim", "wrong-pass", "198.51.100.3")
        assert code == 200 and retry_after(h) == expected
    # unknown accounts are throttled alike (no way to tell them apart)
    for i in range(LOGIN_ACCOUNT_FREE):
        code, data, h = await login(gw, "ghost", "wrong-pass", f"203.0.113.{i}")
    assert code == 200 and retry_after(h) == 5
    code, data, h = await login(gw, "ghost", "whatever1", "203.0.113.1")
    assert code == 429 and "for this account" in data["message"]
    # an IPv6 address counts as its /64: hopping inside it is one address
    for i in range(LOGIN_ACCOUNT_FREE):
        await login(gw, "ghost6", "wrong-pass", f"2001:db8:{i}::1")
    code, data, h = await login(gw, "ghost6", "wrong-pass", "2001:db8:4::2")
    assert code == 429 and "for this account" in data["message"]
    code, data, h = await login(gw, "ghost6", "wrong-pass", "2001:db8:5::1")
    assert code == 200 and retry_after(h) == 10


async def test_owner_gets_in_while_the_account_is_locked(gw: Any) -> None:
    frozen(gw)
    uid = await make_user(gw, "owner")
    for i in range(LOGIN_ACCOUNT_FREE + 4):
        await login(gw, "owner", "wrong-pass", f"192.0.2.{i}")
    code, data, h = await login(gw, "owner", "password1", "192.0.2.1")
    assert code == 429 and retry_after(h) == 80
    # the owner's correct password from an address with no failures gets in
    code, data, h = await login(gw, "owner", "password1", "198.51.100.200")
    assert code == 200 and data["success"] and data["data"]["id"] == uid, data
    assert "session=" in h["Set-Cookie"]
    # which also clears the account's count: the attacker starts over at the free failures
    code, data, h = await login(gw, "owner", "wrong-pass", "192.0.2.1")
    assert code == 200 and not data["success"] and "Retry-After" not in h
    # the owner can also log in by email
    await gw.ctx.db.users.update_one({"_id": uid}, {"$set": {"email": "owner@example.com"}})
    code, data, h = await login(gw, "owner@example.com", "password1", "198.51.100.201")
    assert data["success"]


async def test_access_token_works_while_locked(gw: Any) -> None:
    frozen(gw)
    for i in range(LOGIN_ACCOUNT_FREE + 2):
        await login(gw, "root", "wrong-pass", f"192.0.2.{i}")
    code, data, _ = await login(gw, "root", "123456", "192.0.2.0")
    assert code == 429
    me = await gw.ok("GET", "/api/user/self", token=ACCESS_TOKEN, headers={"X-Forwarded-For": "192.0.2.0"})
    assert me["username"] == "root"
    assert await gw.ok("GET", "/api/user/token", token=ACCESS_TOKEN)  # (a new access token)


async def test_address_lock_grows_across_accounts(gw: Any) -> None:
    clock = frozen(gw)
    for i in range(LOGIN_ADDRESS_FREE - 1):
        code, data, h = await login(gw, f"user{i}", "wrong-pass", "203.0.113.50")
        assert code == 200 and "Retry-After" not in h
    code, data, h = await login(gw, "user99", "wrong-pass", "203.0.113.50")
    assert code == 200 and retry_after(h) == 5
    # locked: every login from the address waits, the right password for root too
    code, data, h = await login(gw, "root", "123456", "203.0.113.50")
    assert code == 429 and retry_after(h) == 5 and data["success"] is False
    assert data["message"] == "Too many failed logins from your address: try again in 5 seconds"
    clock.t += 2
    code, data, h = await login(gw, "root", "123456", "203.0.113.50")
    assert code == 429 and retry_after(h) == 3
    clock.t += 3
    code, data, h = await login(gw, "user100", "wrong-pass", "203.0.113.50")
    assert code == 200 and retry_after(h) == 10
    # other addresses are unaffected, and a correct login does not wash the address
    code, data, _ = await login(gw, "root", "123456", "203.0.113.51")
    assert data["success"]
    clock.t += 10
    code, data, _ = await login(gw, "root", "123456", "203.0.113.50")
    assert data["success"]
    code, data, h = await login(gw, "user101", "wrong-pass", "203.0.113.50")
    assert retry_after(h) == 20
    # a day without failures forgets them
    clock.t += 24 * 3600 + 1
    code, data, h = await login(gw, "user102", "wrong-pass", "203.0.113.50")
    assert code == 200 and "Retry-After" not in h


@pytest.mark.settings(trusted_proxies="")
async def test_spoofed_addresses_do_not_buy_guesses(gw: Any) -> None:
    """Without a trusted proxy, rotating X-Forwarded-For / X-Real-Ip is one address: 127.0.0.1."""
    frozen(gw)
    for i in range(LOGIN_ADDRESS_FREE):
        code, data, h = await login(gw, f"user{i}", "wrong-pass", f"10.0.{i}.1",
                                    headers={"X-Real-Ip": f"10.1.{i}.1"})
        assert code == 200
    assert retry_after(h) == 5
    code, data, h = await login(gw, "root", "123456", "10.9.9.9", headers={"X-Real-Ip": "10.8.8.8"})
    assert code == 429 and "from your address" in data["message"]


# -- cross-site GETs that change state -----------------------------------------------------------
async def browser_session(gw: Any) -> str:
    code, data, h = await login(gw, "root", "123456", "198.51.100.9")
    assert data["success"]
    return h["Set-Cookie"].split(";", 1)[0]


async def token_get(gw: Any, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await gw.http.fetch(gw.url + "/api/user/token", raise_error=False, headers=headers)
    return resp.code, json.loads(resp.body)


async def test_cross_site_access_token_regeneration_refused(gw: Any) -> None:
    cookie = await browser_session(gw)
    before = (await gw.ctx.db.users.find_one({"_id": 1}))["access_token"]
    host = gw.url.split("://", 1)[1]
    for h in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
              {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"},
              {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site", "Origin": f"http://{host}"}):
        code, data = await token_get(gw, {"Cookie": cookie, **h})
        assert code == 403 and data == {"success": False, "message": data["message"]}, h
        assert "Cross-site" in data["message"]
    assert (await gw.ctx.db.users.find_one({"_id": 1}))["access_token"] == before  # unchanged
    # our own pages: same-origin fetch, a typed URL (none), or an old browser naming our host
    seen = {before}
    for h in ({"Sec-Fetch-Site": "same-origin", "Origin": f"http://{host}"}, {"Sec-Fetch-Site": "none"},
              {"Referer": f"http://{host}/panel"}, {}):
        code, data = await token_get(gw, {"Cookie": cookie, **h})
        assert code == 200 and data["success"] and data["data"] not in seen, h
        seen.add(data["data"])
    # an access-token caller is not a browser: whatever the headers say
    code, data = await token_get(gw, {"Authorization": data["data"], "Sec-Fetch-Site": "cross-site",
                                      "Origin": "https://evil.example"})
    assert code == 200 and data["success"]


# -- shared through Redis -------------------------------------------------------------------------
async def test_two_nodes_share_login_locks() -> None:
    from handlers.ratelimit import LOGIN_PREFIX, Limiter
    from services.redisconn import RedisConn
    from tests.realredis import RedisServer, have_redis

    if not have_redis():
        pytest.skip("redis-server is not installed")
    with RedisServer() as srv:
        conns = [RedisConn.from_url(srv.url), RedisConn.from_url(srv.url)]
        try:
            a, b = Limiter(conns[0]).logins, Limiter(conns[1]).logins
            for i in range(LOGIN_ACCOUNT_FREE - 1):  # failures spread over two nodes
                assert await (a if i % 2 else b).failed("u:7", f"192.0.2.{i}") == 0
            assert await a.failed("u:7", "192.0.2.9") == 5
            assert (await b.check("u:7", "192.0.2.9")).retry_after == 5  # the other node knows
            assert not (await b.check("u:7", "198.51.100.1")).refused  # a clean address may try
            assert 4 <= await b.failed("u:7", "198.51.100.1") <= 10  # ... which doubles the lock
            assert len(a.local) == 0 and len(b.local) == 0  # nothing counted in process memory
            ttl = await conns[0].client.pttl(LOGIN_PREFIX + "acct:u:7")
            assert 23 * 3600_000 < ttl <= 24 * 3600_000
            await a.succeeded("u:7")
            assert not await conns[0].client.exists(LOGIN_PREFIX + "acct:u:7")
            assert not (await b.check("u:7", "198.51.100.1")).refused
            # Redis gone: counted in process, never an error
            srv.kill()
            assert await a.failed("u:8", "192.0.2.1") == 0
            assert len(a.local) == 2
        finally:
            for c in conns:
                await c.close()


async def test_cross_site_channel_test_and_balance_refused(gw: Any) -> None:
    """A cross-site link followed by a logged-in admin must not test channels (a failed test can
    disable one) or refresh balances."""
    await gw.channel()
    resp = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                               body=json.dumps({"username": "root", "password": "123456"}),
                               headers={"Content-Type": "application/json"})
    cookie = resp.headers["Set-Cookie"].split(";")[0]
    for path in ("/api/channel/test/1", "/api/channel/test", "/api/channel/update_balance/1",
                 "/api/channel/update_balance"):
        resp = await gw.http.fetch(gw.url + path, headers={"Cookie": cookie, "Sec-Fetch-Site": "cross-site"},
                                   raise_error=False)
        assert resp.code == 403 and "Cross-site" in json.loads(resp.body)["message"], path
