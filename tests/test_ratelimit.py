"""Rate limits: the limiter itself, then the API, critical and web limits through a running gateway."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.ratelimit import RateLimiter


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_limiter_allows_limit_then_refuses() -> None:
    clock = Clock(1000.0)
    rl = RateLimiter(clock)
    assert [rl.hit("a", 3, 10) for _ in range(4)] == [True, True, True, False]
    assert rl.hit("b", 3, 10)  # keys are independent
    assert 1 <= rl.retry_after("a") <= 11


def test_limiter_slides_and_forgets() -> None:
    clock = Clock(1000.0)  # the start of a 10 s window
    rl = RateLimiter(clock)
    for _ in range(4):
        rl.hit("a", 4, 10)
    assert not rl.hit("a", 4, 10)
    clock.t = 1012.5  # a quarter into the next window: 4 * 0.75 = 3 still count
    assert rl.hit("a", 4, 10)
    assert not rl.hit("a", 4, 10)
    clock.t = 1035.0  # two windows later: all forgotten
    assert all(rl.hit("a", 4, 10) for _ in range(4))
    assert not rl.hit("a", 4, 10)


def test_limiter_zero_disables_and_sweeps() -> None:
    clock = Clock(0.0)
    rl = RateLimiter(clock)
    assert all(rl.hit("x", 0, 10) for _ in range(100))
    for i in range(50):
        rl.hit(f"ip{i}", 5, 10)
    assert len(rl) == 50
    clock.t = 200.0
    rl.hit("fresh", 5, 10)  # a hit after SWEEP_EVERY sweeps stale keys
    assert len(rl) == 1


@pytest.mark.settings(trusted_proxies="127.0.0.1")
async def test_api_limit_429_envelope_per_ip(gw: Any) -> None:
    gw.ctx.settings.global_api_rate_limit = 5
    for _ in range(5):
        code, data = await gw.api("GET", "/api/status", token=None)
        assert code == 200 and data["success"]
    resp = await gw.http.fetch(gw.url + "/api/status", raise_error=False)
    assert resp.code == 429
    import json

    body = json.loads(resp.body)
    assert body["success"] is False and "Too many requests" in body["message"]
    assert int(resp.headers["Retry-After"]) >= 1
    # another client IP (behind a proxy: X-Real-Ip) has its own budget
    code, data = await gw.api("GET", "/api/status", token=None, headers={"X-Real-Ip": "10.1.2.3"})
    assert code == 200 and data["success"]
    # authenticated management calls count too
    code, data = await gw.api("GET", "/api/option/")
    assert code == 429 and data["success"] is False


async def test_critical_limit_on_login_and_register(gw: Any) -> None:
    gw.ctx.settings.critical_rate_limit = 3
    for _ in range(2):
        code, data = await gw.api("POST", "/api/user/login", {"username": "root", "password": "wrong-pass"},
                                  token=None)
        assert code == 200 and not data["success"]
    code, data = await gw.api("POST", "/api/user/register", {"username": "u1", "password": "12345678"},
                              token=None)
    assert code == 200 and data["success"], data
    code, data = await gw.api("POST", "/api/user/login", {"username": "root", "password": "123456"},
                              token=None)
    assert code == 429 and data == {"success": False, "message": data["message"]}
    assert "Too many attempts" in data["message"]
    for path in ("/api/verification?email=a@gmail.com", "/api/reset_password?email=a@gmail.com",
                 "/api/oauth/state", "/api/oauth/github?code=x&state=y"):
        code, data = await gw.api("GET", path, token=None)
        assert code == 429, path
    code, data = await gw.api("POST", "/api/user/reset", {"email": "a@gmail.com", "token": "x"}, token=None)
    assert code == 429
    # non-critical routes still answer
    code, data = await gw.api("GET", "/api/status", token=None)
    assert code == 200 and data["success"]


async def test_debug_disables_limits(gw: Any) -> None:
    gw.ctx.settings.global_api_rate_limit = 1
    gw.ctx.settings.critical_rate_limit = 1
    gw.ctx.settings.debug = True
    for _ in range(4):
        code, _ = await gw.api("POST", "/api/user/login", {"username": "root", "password": "x" * 8}, token=None)
        assert code == 200


async def test_web_limit_and_relay_unlimited(gw: Any) -> None:
    gw.ctx.settings.global_web_rate_limit = 2
    gw.ctx.settings.global_api_rate_limit = 1
    for _ in range(5):  # hashed assets do not count
        resp = await gw.http.fetch(gw.url + "/assets/index-abc123.js", raise_error=False)
        assert resp.code != 429
    for _ in range(2):
        resp = await gw.http.fetch(gw.url + "/some/page", raise_error=False)
        assert resp.code == 200 and b"OneRelay" in resp.body
    resp = await gw.http.fetch(gw.url + "/some/page", raise_error=False)
    assert resp.code == 429 and resp.headers["Retry-After"]
    # a page that explains itself and reloads when allowed, in the visitor's language
    assert resp.headers["Content-Type"].startswith("text/html")
    page = resp.body.decode()
    assert "at most 2 page loads per 3 minutes" in page and "Nothing is wrong with your account" in page
    assert f'http-equiv="refresh" content="{resp.headers["Retry-After"]}"' in page
    resp = await gw.http.fetch(gw.url + "/some/page", raise_error=False, headers={"Accept-Language": "zh-CN"})
    assert resp.code == 429 and "请求过于频繁" in resp.body.decode()
    # /v1 relay routes have no rate limit (One API)
    for _ in range(3):
        resp = await gw.http.fetch(gw.url + "/v1/models", raise_error=False,
                                   headers={"Authorization": "Bearer sk-nope"})
        assert resp.code == 401
