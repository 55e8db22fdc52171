"""The client address: X-Forwarded-For / X-Real-Ip / X-Forwarded-Proto count only from TRUSTED_PROXIES.

First the pure resolver (services/clientip.py), then a running OneRelay: a spoofed header from an
untrusted peer changes nothing (token subnets, rate limits, the login throttle), a trusted proxy's
chain resolves to the right-most untrusted address. The test client reaches OneRelay from
127.0.0.1, or from 127.0.0.2 (``via_proxy``) to play a trusted reverse proxy.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import tornado.httpclient

from services.clientip import TrustedProxies, forwarded_proto, parse_ip, resolve
from services.context import Settings

T = TrustedProxies.parse("10.0.0.0/8, 127.0.0.1 fd00::/8")


# -- the resolver ---------------------------------------------------------------------------------
def test_parse_trusted_proxies() -> None:
    assert not TrustedProxies.parse("")
    assert not Settings().trusted_proxies and not Settings.from_env(env={}).trusted_proxies
    t = Settings.from_env(env={"TRUSTED_PROXIES": " 10.0.0.0/8,192.168.1.7  2001:db8::/32,::ffff:172.16.0.0/108"})
    tp = t.trusted_proxies
    assert [str(n) for n in tp.networks] == ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "172.16.0.0/12"]
    assert "10.9.9.9" in tp and "192.168.1.7" in tp and "192.168.1.8" not in tp
    assert "2001:db8::1" in tp and "2001:db9::1" not in tp and "::ffff:10.1.1.1" in tp and "172.20.0.1" in tp
    with pytest.raises(SystemExit) as e:
        Settings.from_env(env={"TRUSTED_PROXIES": "10.0.0.0/8, nginx"})
    assert "TRUSTED_PROXIES" in str(e.value) and "'nginx'" in str(e.value) and "\n" not in str(e.value)


def test_untrusted_peer_headers_ignored() -> None:
    assert resolve("203.0.113.9", T, "10.1.2.3", "10.1.2.3") == "203.0.113.9"
    assert resolve("203.0.113.9", TrustedProxies(), "1.2.3.4", "1.2.3.4") == "203.0.113.9"
    assert resolve("::ffff:203.0.113.9", T, "1.2.3.4") == "203.0.113.9"  # a dual-stack socket's v4 peer
    assert resolve("2001:db8::5", T, "1.2.3.4", "1.2.3.4") == "2001:db8::5"


def test_trusted_peer_walks_xff_from_the_right() -> None:
    # client-written junk on the left, then what each trusted proxy appended
    assert resolve("127.0.0.1", T, "6.6.6.6, 198.51.100.4, 10.0.0.3") == "198.51.100.4"
    assert resolve("127.0.0.1", T, "198.51.100.4") == "198.51.100.4"
    assert resolve("10.0.0.2", T, "10.0.0.9,10.0.0.3") == "10.0.0.9"  # all trusted: the left-most
    # several header lines are one list; X-Real-Ip only when there is no X-Forwarded-For
    assert resolve("127.0.0.1", T, "6.6.6.6,198.51.100.4", "10.9.9.9") == "198.51.100.4"
    assert resolve("127.0.0.1", T, None, "198.51.100.8") == "198.51.100.8"
    assert resolve("127.0.0.1", T, " ", "198.51.100.8") == "198.51.100.8"
    # ports, brackets, IPv6, zones, mapped addresses
    assert resolve("127.0.0.1", T, "198.51.100.4:5555") == "198.51.100.4"
    assert resolve("127.0.0.1", T, "[2001:db8::7]:443, fd00::1") == "2001:db8::7"
    assert resolve("fd00::2", T, "2001:DB8::7") == "2001:db8::7"
    assert resolve("::ffff:127.0.0.1", T, "::ffff:198.51.100.4") == "198.51.100.4"
    assert resolve("127.0.0.1", T, "fe80::1%eth0") == "fe80::1"


def test_garbage_falls_back() -> None:
    assert resolve("127.0.0.1", T, "not-an-ip") == "127.0.0.1"
    assert resolve("127.0.0.1", T, "198.51.100.4, junk") == "127.0.0.1"  # the nearest entry is garbage
    assert resolve("127.0.0.1", T, "junk, 10.0.0.3") == "10.0.0.3"  # nothing left of garbage is believed
    assert resolve("127.0.0.1", T, "junk, 198.51.100.4") == "198.51.100.4"  # never reached
    assert resolve("127.0.0.1", T, ",,,") == "127.0.0.1"
    assert resolve("127.0.0.1", T, None, "<script>") == "127.0.0.1"
    assert resolve("127.0.0.1", T, None, "999.1.1.1") == "127.0.0.1"
    assert resolve("127.0.0.1", T, "x" * 10000) == "127.0.0.1"
    assert resolve("127.0.0.1", T, ", ".join(["10.0.0.1"] * 1000)) == "10.0.0.1"
    assert parse_ip("[::1") is None and parse_ip("") is None and parse_ip("1.2.3.4:80") is not None


def test_forwarded_proto_only_from_trusted() -> None:
    assert forwarded_proto("127.0.0.1", T, "https") == "https"
    assert forwarded_proto("127.0.0.1", T, "http, HTTPS") == "https"
    assert forwarded_proto("127.0.0.1", T, "gopher") is None
    assert forwarded_proto("203.0.113.9", T, "https") is None


# -- a running OneRelay ---------------------------------------------------------------------------
async def call(gw: Any, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
               via_proxy: bool = False) -> tuple[int, Any, Any]:
    req = tornado.httpclient.HTTPRequest(
        gw.url + path, method=method, headers=headers or {},
        body=None if body is None else json.dumps(body),
        network_interface="127.0.0.2" if via_proxy else None)
    resp = await gw.http.fetch(req, raise_error=False)
    try:
        data = json.loads(resp.body or b"null")
    except ValueError:
        data = resp.body
    return resp.code, data, resp.headers


async def seen_as(gw: Any, key: str, headers: dict[str, str], via_proxy: bool = False) -> str:
    """The address OneRelay resolved: a token limited to 192.0.2.0/24 names it when refused."""
    code, data, _ = await call(gw, "GET", "/dashboard/billing/subscription",
                               headers={"Authorization": "Bearer " + key, **headers}, via_proxy=via_proxy)
    assert code == 403 and data["error"]["code"] == "ip_not_allowed", (code, data)
    m = re.search(r"may not be used from (\S+?)(?: \(|$)", str(data["error"]["message"]))
    assert m, data
    return m.group(1)


async def test_spoofed_headers_do_not_pass_a_token_subnet(gw: Any) -> None:
    """No TRUSTED_PROXIES (the default): X-Real-Ip / X-Forwarded-For are the client's word only."""
    key = await gw.token(subnet="10.0.0.0/8")
    for h in ({"X-Real-Ip": "10.1.2.3"}, {"X-Forwarded-For": "10.1.2.3"},
              {"X-Forwarded-For": "10.1.2.3, 10.4.5.6", "X-Real-Ip": "10.1.2.3"}):
        code, data, _ = await call(gw, "GET", "/dashboard/billing/subscription",
                                   headers={"Authorization": "Bearer " + key, **h})
        assert code == 403 and data["error"]["code"] == "ip_not_allowed", (h, data)
        assert "127.0.0.1" in data["error"]["message"]
    # nor from 127.0.0.2, which is not trusted either
    code, data, _ = await call(gw, "GET", "/dashboard/billing/subscription", via_proxy=True,
                               headers={"Authorization": "Bearer " + key, "X-Real-Ip": "10.1.2.3"})
    assert code == 403 and "127.0.0.2" in data["error"]["message"]


@pytest.mark.settings(trusted_proxies="127.0.0.2/32, 10.0.0.0/8, fd00::/8")
async def test_trusted_proxy_chain_resolves_right_most_untrusted(gw: Any) -> None:
    probe = await gw.token(subnet="192.0.2.0/24")
    xff = {"X-Forwarded-For": "6.6.6.6, 198.51.100.4, 10.0.0.3"}
    assert await seen_as(gw, probe, xff, via_proxy=True) == "198.51.100.4"
    assert await seen_as(gw, probe, xff) == "127.0.0.1"  # the same header from an untrusted peer
    assert await seen_as(gw, probe, {"X-Real-Ip": "198.51.100.8"}, via_proxy=True) == "198.51.100.8"
    assert await seen_as(gw, probe, {"X-Forwarded-For": "2001:db8::7, fd00::1"}, via_proxy=True) == "2001:db8::7"
    for junk in ({"X-Forwarded-For": "198.51.100.4, nonsense"}, {"X-Real-Ip": "nonsense"},
                 {"X-Forwarded-For": "unknown, ::g, 1.2.3.4.5, 198.51.100.4 ;;"}, {"X-Forwarded-For": ""}):
        assert await seen_as(gw, probe, junk, via_proxy=True) == "127.0.0.2", junk
    # a token limited to the client's subnet works through the proxy, not around it
    key = await gw.token(subnet="198.51.100.0/24,2001:db8::/32")
    for h in ({"X-Forwarded-For": "198.51.100.4"}, {"X-Forwarded-For": "[2001:db8::7]:1234, 10.0.0.3"}):
        code, data, _ = await call(gw, "GET", "/dashboard/billing/subscription", via_proxy=True,
                                   headers={"Authorization": "Bearer " + key, **h})
        assert code == 200, (h, data)
        code, data, _ = await call(gw, "GET", "/dashboard/billing/subscription",
                                   headers={"Authorization": "Bearer " + key, **h})
        assert code == 403, h


@pytest.mark.settings(trusted_proxies="127.0.0.2")
async def test_forwarded_proto_from_the_proxy_makes_secure_cookies(gw: Any) -> None:
    body = {"username": "root", "password": "123456"}
    _, data, h = await call(gw, "POST", "/api/user/login", body, headers={"X-Forwarded-Proto": "https"},
                            via_proxy=True)
    assert data["success"] and "secure" in h["Set-Cookie"].lower()
    _, data, h = await call(gw, "POST", "/api/user/login", body, headers={"X-Forwarded-Proto": "https"})
    assert data["success"] and "secure" not in h["Set-Cookie"].lower()  # an untrusted peer's claim


async def test_rotating_spoofed_ip_does_not_evade_rate_limits(gw: Any) -> None:
    gw.ctx.settings.critical_rate_limit = 3
    for i in range(3):
        code, data, _ = await call(gw, "POST", "/api/user/register", {"username": f"u{i}", "password": "password1"},
                                   headers={"X-Real-Ip": f"10.0.0.{i}", "X-Forwarded-For": f"10.1.0.{i}"})
        assert code == 200 and data["success"], data
    code, data, h = await call(gw, "POST", "/api/user/login", {"username": "root", "password": "123456"},
                               headers={"X-Real-Ip": "10.0.0.99", "X-Forwarded-For": "10.1.0.99"})
    assert code == 429 and "Too many attempts" in data["message"] and int(h["Retry-After"]) >= 1
    # the web limit reads the same address
    gw.ctx.settings.global_web_rate_limit = 2
    for i in range(2):
        code, _, _ = await call(gw, "GET", "/some/page", headers={"X-Real-Ip": f"10.2.0.{i}"})
        assert code == 200
    code, _, h = await call(gw, "GET", "/some/page", headers={"X-Real-Ip": "10.2.0.9"})
    assert code == 429 and h["Retry-After"]


@pytest.mark.settings(trusted_proxies="127.0.0.2", critical_rate_limit=1000)
async def test_nobody_can_lock_another_address(gw: Any) -> None:
    """An attacker naming the victim's address in X-Forwarded-For only locks themself."""
    victim = {"X-Forwarded-For": "198.51.100.7"}
    for i in range(12):
        code, data, _ = await call(gw, "POST", "/api/user/login", {"username": f"nobody{i}", "password": "x" * 8},
                                   headers={**victim, "X-Real-Ip": "198.51.100.7"})
        assert code in (200, 429) and not data["success"]
    code, data, h = await call(gw, "POST", "/api/user/login", {"username": "root", "password": "123456"},
                               headers=victim)
    assert code == 429 and "from your address" in data["message"] and int(h["Retry-After"]) >= 1
    # the victim, whose address really is 198.51.100.7 (reaching OneRelay through the proxy), logs in
    code, data, _ = await call(gw, "POST", "/api/user/login", {"username": "root", "password": "123456"},
                               headers=victim, via_proxy=True)
    assert code == 200 and data["success"], data
