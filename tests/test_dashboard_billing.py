"""Billing compatibility: ``[/v1]/dashboard/billing/{subscription,usage}`` with an API key, as One API
computes them (token or user figures, currency display, unlimited tokens), and OpenAI-format errors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import Gateway

USER_TOKEN = "c" * 32
MSG = [{"role": "user", "content": "hi"}]
PATHS = ["/dashboard/billing/subscription", "/v1/dashboard/billing/subscription"]
USAGE_PATHS = ["/dashboard/billing/usage", "/v1/dashboard/billing/usage"]


async def get(gw: Gateway, path: str, key: str | None, method: str = "GET") -> tuple[int, Any, Any]:
    headers = {"Authorization": "Bearer " + key} if key else {}
    resp = await gw.http.fetch(gw.url + path, method=method, headers=headers, raise_error=False,
                               allow_nonstandard_methods=True)
    return resp.code, json.loads(resp.body) if resp.body else None, resp.headers


async def billing(gw: Gateway, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    subs, usages = [], []
    for p in PATHS:
        code, data, _ = await get(gw, p, key)
        assert code == 200, data
        subs.append(data)
    for p in USAGE_PATHS:
        code, data, _ = await get(gw, p, key)
        assert code == 200, data
        usages.append(data)
    assert subs[0] == subs[1] and usages[0] == usages[1]  # with and without /v1
    return subs[0], usages[0]


@pytest.fixture
async def alice(gw: Gateway) -> int:
    doc = await gw.ctx.users.create("alice", "password123", quota=1_000_000, access_token=USER_TOKEN)
    return int(doc["_id"])


async def spend(gw: Gateway, key: str, n: int = 1) -> None:
    for _ in range(n):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)


async def test_token_figures_in_currency(gw: Gateway, alice: int) -> None:
    """Defaults: DisplayTokenStatEnabled and DisplayInCurrencyEnabled on, QuotaPerUnit 500000."""
    await gw.channel()
    expires = int(time.time()) + 86400
    key = await gw.token(as_token=USER_TOKEN, name="lim", unlimited_quota=False, remain_quota=250_000,
                         expired_time=expires)
    await spend(gw, key, 2)  # 12 quota each
    sub, usage = await billing(gw, key)
    amount = (250_000 - 24 + 24) / 500_000
    assert sub == {"object": "billing_subscription", "has_payment_method": True,
                   "soft_limit_usd": amount, "hard_limit_usd": amount, "system_hard_limit_usd": amount,
                   "access_until": expires}
    assert usage == {"object": "list", "total_usage": pytest.approx(24 / 500_000 * 100)}


async def test_unlimited_token_reports_1e8(gw: Gateway, alice: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="unl")
    await spend(gw, key)
    sub, usage = await billing(gw, key)
    assert sub["hard_limit_usd"] == sub["soft_limit_usd"] == sub["system_hard_limit_usd"] == 100_000_000
    assert sub["access_until"] == 0  # never expires
    assert usage["total_usage"] == pytest.approx(12 / 500_000 * 100)


async def test_user_figures_when_token_stats_are_off(gw: Gateway, alice: int) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "DisplayTokenStatEnabled", "value": "false"})
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="unl")  # unlimited, but the user's figures count
    other = await gw.token(as_token=USER_TOKEN, name="other")
    await spend(gw, key, 2)
    await spend(gw, other, 1)
    sub, usage = await billing(gw, key)
    assert sub["hard_limit_usd"] == pytest.approx(1_000_000 / 500_000)  # remain + used = the original quota
    assert sub["access_until"] == 0
    assert usage["total_usage"] == pytest.approx(36 / 500_000 * 100)
    # an admin top-up shows at once
    await gw.ok("POST", "/api/topup", {"user_id": alice, "quota": 500_000})
    sub, _ = await billing(gw, key)
    assert sub["hard_limit_usd"] == pytest.approx(3.0)


async def test_raw_quota_without_currency(gw: Gateway, alice: int) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "DisplayInCurrencyEnabled", "value": "false"})
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="lim", unlimited_quota=False, remain_quota=5000)
    await spend(gw, key)
    sub, usage = await billing(gw, key)
    assert sub["hard_limit_usd"] == 5000.0 and usage["total_usage"] == 1200.0
    await gw.ok("PUT", "/api/option/", {"key": "DisplayTokenStatEnabled", "value": "false"})
    sub, usage = await billing(gw, key)
    assert sub["hard_limit_usd"] == 1_000_000.0 and usage["total_usage"] == 1200.0


async def test_quota_per_unit_option(gw: Gateway, alice: int) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "QuotaPerUnit", "value": "1000"})
    key = await gw.token(as_token=USER_TOKEN, name="lim", unlimited_quota=False, remain_quota=2500)
    sub, usage = await billing(gw, key)
    assert sub["hard_limit_usd"] == 2.5 and usage["total_usage"] == 0


async def test_auth_errors_are_openai_format(gw: Gateway, alice: int) -> None:
    key = await gw.token(as_token=USER_TOKEN, name="k")
    for path in PATHS + USAGE_PATHS:
        code, data, _ = await get(gw, path, None)
        assert code == 401 and data["error"]["code"] == "invalid_api_key" and "request id" in data["error"]["message"]
        code, data, _ = await get(gw, path, "sk-nope")
        assert code == 401 and data["error"]["code"] == "invalid_api_key"
        # a system access token is not an API key
        code, data, _ = await get(gw, path, USER_TOKEN)
        assert code == 401
    tid = (await gw.ok("GET", "/api/token/", token=USER_TOKEN))[0]["id"]
    await gw.ok("PUT", "/api/token/?status_only=1", {"id": tid, "status": 2}, token=USER_TOKEN)
    code, data, _ = await get(gw, PATHS[0], key)
    assert code == 401 and data["error"]["code"] == "token_disabled"
    await gw.ok("PUT", "/api/token/?status_only=1", {"id": tid, "status": 1}, token=USER_TOKEN)
    assert (await get(gw, PATHS[0], key))[0] == 200
    await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "disable"})
    code, data, _ = await get(gw, USAGE_PATHS[1], key)
    assert code == 403 and data["error"]["code"] == "user_disabled"


async def test_cors_and_methods(gw: Gateway, alice: int) -> None:
    key = await gw.token(as_token=USER_TOKEN, name="k")
    code, _, headers = await get(gw, PATHS[1], key)
    assert code == 200 and headers["Access-Control-Allow-Origin"] == "*"
    code, _, headers = await get(gw, PATHS[0], None, method="OPTIONS")
    assert code == 204 and "Authorization" in headers["Access-Control-Allow-Headers"]
    code, data, _ = await get(gw, USAGE_PATHS[0], key, method="POST")
    assert code == 404 and "Invalid URL" in data["error"]["message"]
    code, data, _ = await get(gw, "/v1/dashboard/billing/other", key)
    assert code == 404 and "Invalid URL" in data["error"]["message"]
