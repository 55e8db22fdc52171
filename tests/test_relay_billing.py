"""Billing: reservation, settlement, refunds, exhaustion, concurrency, disconnects."""

from __future__ import annotations

import asyncio

import openai
import pytest

from models.users import ROLE_COMMON
from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]
# Each fake answer: 9 prompt + 12 completion tokens; gpt-3.5-turbo ratio 0.25, completion ratio 3
COST = 12  # ceil((9 + 12 * 3) * 0.25)


async def _token_doc(gw: Gateway, key: str) -> dict:
    await gw.ctx.ledger.flush()
    doc = await gw.ctx.db.tokens.find_one({"key": key[3:]})
    assert doc is not None
    doc["remain_quota"] = gw.ctx.ledger.view("t", doc["_id"], doc)  # leased quota is still the token's
    return doc


async def _exact_reservation(gw: Gateway) -> None:
    # PreConsumedQuota 0 and max_tokens 40: the reservation (8 local prompt tokens + 40) * 0.25 = 12 = COST
    await gw.ok("PUT", "/api/option/", {"key": "PreConsumedQuota", "value": "0"})


async def test_token_quota_exhausted_midway(gw: Gateway) -> None:
    await gw.channel()
    await _exact_reservation(gw)
    key = await gw.token(unlimited_quota=False, remain_quota=30)
    c = gw.client(key)
    for _ in range(2):
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, max_tokens=40)
    with pytest.raises(openai.PermissionDeniedError) as e:
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, max_tokens=40)
    assert e.value.code == "pre_consume_token_quota_failed"
    doc = await _token_doc(gw, key)
    assert doc["remain_quota"] == 30 - 2 * COST and doc["used_quota"] == 2 * COST
    assert len(gw.upstream.state.requests) == 2


async def test_user_quota_insufficient(gw: Gateway) -> None:
    await gw.channel()
    await gw.ctx.users.create("bob", "password1", role=ROLE_COMMON, quota=100, access_token="b" * 32)
    key = await gw.token(as_token="b" * 32)
    with pytest.raises(openai.PermissionDeniedError) as e:  # default PreConsumedQuota 500 × 0.25 > 100
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "insufficient_user_quota"
    assert gw.upstream.state.requests == []


async def test_concurrent_requests_never_overspend(gw: Gateway) -> None:
    await gw.channel()
    await _exact_reservation(gw)
    key = await gw.token(unlimited_quota=False, remain_quota=10 * COST)
    c = gw.client(key)
    results = await asyncio.gather(*[
        c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, max_tokens=40) for _ in range(50)
    ], return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 10
    assert all(isinstance(r, (openai.PermissionDeniedError, openai.AuthenticationError)) for r in refused), \
        [repr(r) for r in refused if not isinstance(r, (openai.PermissionDeniedError, openai.AuthenticationError))]
    doc = await _token_doc(gw, key)
    assert doc["remain_quota"] == 0 and doc["used_quota"] == 10 * COST
    assert len(await gw.logs(type=2)) == 10  # consume logs (the refused ones wrote error logs)


async def test_settlement_never_goes_below_zero(gw: Gateway) -> None:
    """A completion costing more than was reserved is capped at the balance."""
    await gw.channel()
    await gw.ok("PUT", "/api/option/", {"key": "PreConsumedQuota", "value": "0"})
    key = await gw.token(unlimited_quota=False, remain_quota=5)  # reservation 2, actual 12
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    doc = await _token_doc(gw, key)
    assert doc["remain_quota"] == 0 and doc["used_quota"] == 5
    logs = await gw.logs()
    assert logs[0]["quota"] == 5 and "balance ran out" in logs[0]["content"]


async def test_user_and_token_counters(gw: Gateway) -> None:
    cid = await gw.channel()
    key = await gw.token(unlimited_quota=False, remain_quota=1000)
    before = (await gw.user())["quota"]
    for _ in range(3):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    user = await gw.user()
    assert user["quota"] == before - 3 * COST and user["used_quota"] == 3 * COST
    assert user["request_count"] == 3
    ch = await gw.ok("GET", f"/api/channel/{cid}")
    assert ch["used_quota"] == 3 * COST
    tok = await _token_doc(gw, key)
    assert tok["remain_quota"] == 1000 - 3 * COST
    listed = [t for t in await gw.ok("GET", "/api/token/") if t["key"] == key[3:]][0]
    assert listed["remain_quota"] == 1000 - 3 * COST and listed["used_quota"] == 3 * COST


async def test_client_disconnect_mid_stream_is_billed_and_cancels_upstream(gw: Gateway) -> None:
    await gw.channel(key="sk-slow")
    key = await gw.token()
    stream = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
    seen = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
        if seen == 10:
            break
    await stream.close()
    for _ in range(100):
        if gw.upstream.state.cancelled:
            break
        await asyncio.sleep(0.05)
    assert gw.upstream.state.cancelled == 1
    assert gw.upstream.state.chunks_sent < 150  # the upstream stopped generating
    for _ in range(50):
        logs = await gw.logs()
        if logs:
            break
        await asyncio.sleep(0.05)
    assert len(logs) == 1
    entry = logs[0]
    assert "stream ended early" in entry["content"]
    # "tok " is one token per chunk: billed for what was generated, not for 200
    assert 10 <= entry["completion_tokens"] < 150
    assert entry["quota"] > 0


async def test_upstream_breaks_mid_stream(gw: Gateway) -> None:
    await gw.channel(key="sk-cut")
    key = await gw.token()
    stream = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as e:
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
    assert text == "Hello! How can"
    assert "request id" in str(e.value)
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0 and "ended early" in logs[0]["content"]


async def test_failed_request_refunds(gw: Gateway) -> None:
    await gw.channel(key="fail-500")
    key = await gw.token(unlimited_quota=False, remain_quota=1000)
    with pytest.raises(openai.InternalServerError):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    tok = await _token_doc(gw, key)
    assert tok["remain_quota"] == 1000 and tok["used_quota"] == 0
    assert (await gw.user())["used_quota"] == 0


async def test_group_ratio_applies(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "GroupRatio", "value": '{"default": 2, "vip": 1}'})
    await gw.channel()
    key = await gw.token()
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert (await gw.logs())[0]["quota"] == 23  # ceil(45 * 0.25 * 2)


async def test_option_json_validation(gw: Gateway) -> None:
    code, data = await gw.api("PUT", "/api/option/", {"key": "ModelRatio", "value": "{bad"})
    assert data["success"] is False and "ModelRatio" in data["message"]
    code, data = await gw.api("PUT", "/api/option/", {"key": "RetryTimes", "value": "x"})
    assert data["success"] is False
    opts = {o["key"]: o["value"] for o in await gw.ok("GET", "/api/option/")}
    assert "SMTPToken" not in opts and "GitHubClientSecret" not in opts
    assert opts["QuotaPerUnit"] == "500000"
