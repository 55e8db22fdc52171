"""Limits and channel extras on the relay (issue 15, items 1-3): RPM/TPM per token, user and group
(per model too), periodic quotas, channel RPM (a full channel is skipped; 429 only when none can
serve), per-call billing, token groups, per-channel proxy and headers, empty-reply retries; and
the limits holding across two real nodes, with Redis and with the database alone."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import openai
import pytest
import tornado.web

from tests.conftest import Gateway, Upstream, listen
from tests.nodes import Node
from tests.realredis import RedisServer
from tests.test_relay_transport import ProxyHandler

MSG = [{"role": "user", "content": "hi"}]


async def chat(gw: Gateway, key: str, model: str = "gpt-3.5-turbo", **kw: Any) -> Any:
    return await gw.client(key).chat.completions.create(model=model, messages=MSG, **kw)


async def refused(gw: Gateway, key: str, model: str = "gpt-3.5-turbo") -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as e:
        await chat(gw, key, model)
    return e.value


async def option(gw: Gateway, key: str, value: Any) -> None:
    await gw.ok("PUT", "/api/option/", {"key": key, "value": json.dumps(value) if not isinstance(value, str) else value})


async def test_token_rpm_tpm_and_periodic_quotas(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo,gpt-4o")
    key = await gw.token(name="rpm", limits={"rpm": 3, "models": {"gpt-4o": {"rpm": 1}}})
    for _ in range(3):
        await chat(gw, key)
    e = await refused(gw, key)
    assert e.status_code == 429 and e.response.headers["Retry-After"].isdigit()
    assert "3 requests per minute" in e.message and e.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    other = await gw.token(name="per-model", limits={"models": {"gpt-4o": {"rpm": 1}}})
    await chat(gw, other, "gpt-4o")
    assert "for gpt-4o" in (await refused(gw, other, "gpt-4o")).message
    await chat(gw, other)  # other models are not limited
    # TPM: the first request uses the minute's tokens, the next waits
    tpm = await gw.token(name="tpm", limits={"tpm": 10})
    await chat(gw, tpm)
    e = await refused(gw, tpm)
    assert e.status_code == 429 and "tokens per minute" in e.message
    # a daily quota: the reservation must fit; the refusal is 403 and says when it resets
    await gw.ok("PUT", "/api/option/", {"key": "PreConsumedQuota", "value": "0"})
    daily = await gw.token(name="daily", limits={"daily": 40})
    served = 0
    for _ in range(10):  # each costs 12 here: the reservation must fit what is left of 40
        try:
            await chat(gw, daily)
            served += 1
        except openai.APIStatusError as err:
            e = err
            break
    assert 1 <= served <= 3 and e.status_code == 403 and "daily quota (40)" in e.message, e.message
    spent = sum(r["quota"] for r in await gw.logs(type=2) if r["token_name"] == "daily")
    assert spent <= 40
    # refusals are error logs, never billed
    errs = [r for r in await gw.logs(type=6) if r["token_name"] in ("rpm", "daily")]
    assert {r["status"] for r in errs} == {429, 403} and all(r["quota"] == 0 for r in errs)
    # zh-CN for a client that asks
    zh = gw.client(key, default_headers={"Accept-Language": "zh-CN"})
    with pytest.raises(openai.APIStatusError) as z:
        await zh.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert "该令牌每分钟 3 次请求的限制已达上限" in z.value.message


async def test_user_and_group_limits(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo")
    await option(gw, "GroupLimits", {"default": {"models": {"gpt-3.5-turbo": {"rpm": 2}}}})
    key = await gw.token()
    await chat(gw, key)
    await chat(gw, key)
    e = await refused(gw, key)
    assert e.status_code == 429 and "Your group" in e.message
    await option(gw, "GroupLimits", {})
    await gw.ok("PUT", "/api/user/", {"id": 1, "limits": {"rpm": 1}})
    await asyncio.sleep(0)
    for _ in range(50):  # the user cache follows the change event
        try:
            await chat(gw, key)
        except openai.APIStatusError as err:
            assert "Your account" in err.message
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the user's limit never applied")


async def test_channel_rpm_skips_a_full_channel(gw: Gateway) -> None:
    a = await gw.channel(name="small", key="sk-small", rpm_limit=2, priority=10)
    key = await gw.token()
    for _ in range(2):
        await chat(gw, key)
    assert gw.upstream.state.keys()[-2:] == ["sk-small", "sk-small"]
    e = await refused(gw, key)  # the only channel is full: 429
    assert e.status_code == 429 and e.body["code"] == "channel_rate_limited"  # type: ignore[index]
    await gw.channel(name="big", key="sk-big", priority=0)
    await gw.ctx.channels_changed()
    for _ in range(3):  # the full one is skipped, no 429
        await chat(gw, key)
    assert gw.upstream.state.keys()[-3:] == ["sk-big"] * 3
    assert (await gw.ok("GET", f"/api/channel/{a}"))["rpm_limit"] == 2


async def test_per_call_billing_and_token_groups(gw: Gateway) -> None:
    await gw.channel(name="vip-only", key="sk-vip", group="vip", models="gpt-4o")
    await gw.channel(name="default", key="sk-default", models="gpt-4o,gpt-4o-mini")
    await option(gw, "ModelPrice", {"gpt-4o": 0.02})
    await option(gw, "GroupRatio", {"default": 1, "vip": 2})
    await option(gw, "UserUsableGroups", {"vip": "the fast lane"})
    key = await gw.token(name="per-call", billing_mode="per_call")
    await chat(gw, key, "gpt-4o")
    log = (await gw.logs(type=2))[0]
    assert log["quota"] == 10000 and "per-call price 0.02 USD" in log["content"]  # 0.02 x 500000 x 1
    vip = await gw.token(name="vip", billing_mode="per_call", group="vip")
    await chat(gw, vip, "gpt-4o")
    assert gw.upstream.state.keys()[-1] == "sk-vip"  # routed in the token's group
    assert (await gw.logs(type=2))[0]["quota"] == 20000  # and priced with its ratio
    unpriced = await gw.token(name="unpriced", billing_mode="per_call")
    await chat(gw, unpriced, "gpt-4o-mini")
    assert "billed by tokens" in (await gw.logs(type=2))[0]["content"]


async def test_channel_proxy_headers_and_empty_reply_retry(gw: Gateway) -> None:
    seen: list[str] = []
    server, port = listen(tornado.web.Application([(r".*", ProxyHandler, {"seen": seen})]))
    try:
        await gw.channel(name="proxied", key="sk-via-proxy", proxy=f"http://127.0.0.1:{port}",
                         headers={"X-Org": "acme"})
        key = await gw.token()
        await chat(gw, key)
        assert seen == [gw.upstream.url + "/v1/chat/completions"]
        got = gw.upstream.state.requests[-1]
        assert got.key == "sk-via-proxy" and got.headers.get("X-Org") == "acme"
    finally:
        server.stop()
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.ok("PUT", "/api/channel/batch", {"ids": [1], "status": 2})
    await gw.channel(name="hollow", key="sk-empty", priority=10)
    await gw.channel(name="solid", key="sk-solid", priority=0)
    await gw.ctx.channels_changed()
    r = await chat(gw, key)
    assert r.choices[0].message.content  # the empty answer was retried on the other channel
    assert gw.upstream.state.keys()[-2:] == ["sk-empty", "sk-solid"]
    # a stream too: nothing reached the client before the retry, which streams the whole answer
    text = ""
    async for chunk in await chat(gw, key, stream=True):
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text == "Hello! How can I help you today?"
    assert gw.upstream.state.keys()[-2:] == ["sk-empty", "sk-solid"]


# -- across two real nodes ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_srv() -> Any:
    srv = RedisServer().start()
    yield srv
    srv.cleanup()


_seq = iter(range(10_000))


@pytest.fixture(params=["redis", "database"])
async def two_nodes(request: Any, mongo: Any, upstream: Upstream, redis_srv: Any) -> AsyncIterator[list[Node]]:
    uri = f"mongodb://127.0.0.1:{mongo.port}/lim{next(_seq)}"
    redis_url = redis_srv.url if request.param == "redis" else ""
    nodes = [await Node(uri, redis_url=redis_url).start()]
    nodes.append(await Node(uri, redis_url=redis_url, node_type="slave").start())
    try:
        yield nodes
    finally:
        for n in nodes:
            n.close()


async def test_limits_hold_across_two_nodes(two_nodes: list[Node], upstream: Upstream) -> None:
    a, b = two_nodes
    await a.ok("POST", "/api/channel/", {"name": "up", "type": 1, "key": "sk-ok", "base_url": upstream.url,
                                         "models": "gpt-3.5-turbo,m-small", "group": "default"})
    await a.ok("POST", "/api/channel/", {"name": "small", "type": 1, "key": "sk-small", "base_url": upstream.url,
                                         "models": "m-small", "group": "default", "rpm_limit": 5, "priority": 9})
    tok = await a.ok("POST", "/api/token/", {"name": "rpm", "unlimited_quota": True, "limits": {"rpm": 10}})
    key = "sk-" + tok["key"]
    for node in (a, b):  # both nodes route the model
        for _ in range(100):
            if "gpt-3.5-turbo" in await node.ok("GET", "/api/user/available_models"):
                break
            await asyncio.sleep(0.1)
    results = await asyncio.gather(*((a if i % 2 else b).chat(key) for i in range(40)))
    codes = [c for c, _ in results]
    assert codes.count(200) == 10 and codes.count(429) == 30, codes
    # the channel's RPM across both nodes: 5 go to the small channel, the rest to the other, no 429
    upstream.state.reset()
    free = await a.ok("POST", "/api/token/", {"name": "free", "unlimited_quota": True})
    fkey = "sk-" + free["key"]
    results = await asyncio.gather(*((a if i % 2 else b).chat(fkey, model="m-small") for i in range(16)))
    assert [c for c, _ in results].count(200) == 16
    assert upstream.state.keys().count("sk-small") == 5


async def test_user_group_tpm_and_quota_limits_hold_across_two_nodes(two_nodes: list[Node], upstream: Upstream) -> None:
    """Every kind of limit, spread over both nodes: user and group RPM, a token's TPM, a
    token's daily quota and a user's rolling 5-hour quota."""
    a, b = two_nodes
    await a.ok("POST", "/api/channel/", {"name": "up", "type": 1, "key": "sk-ok", "base_url": upstream.url,
                                         "models": "gpt-3.5-turbo", "group": "default,team"})
    await a.ok("PUT", "/api/option/", {"key": "PreConsumedQuota", "value": "0"})
    await a.ok("PUT", "/api/option/", {"key": "GroupLimits", "value": json.dumps({"team": {"rpm": 6}})})

    async def user_with(name: str, **fields: Any) -> str:
        await a.ok("POST", "/api/user/", {"username": name, "password": name + "-pass-1"})
        uid = (await a.ok("GET", f"/api/user/search?keyword={name}"))[0]["id"]
        await a.ok("PUT", "/api/user/", {"id": uid, "quota": 10**9, **fields})
        login = await a.http.fetch(a.url + "/api/user/login", method="POST", raise_error=False,
                                   body=json.dumps({"username": name, "password": name + "-pass-1"}))
        cookie = login.headers["Set-Cookie"].split(";")[0]
        access = json.loads((await a.http.fetch(a.url + "/api/user/token", headers={"Cookie": cookie})).body)["data"]
        tok = await a.ok("POST", "/api/token/", {"name": name, "unlimited_quota": True}, token=access)
        return "sk-" + tok["key"]

    u_rpm = await user_with("urpm", limits={"rpm": 7})
    team = await user_with("teamer", group="team")
    u_5h = await user_with("fivehours", limits={"5h": 100})
    root_daily = await a.ok("POST", "/api/token/", {"name": "daily", "unlimited_quota": True, "limits": {"daily": 60}})
    root_tpm = await a.ok("POST", "/api/token/", {"name": "tpm", "unlimited_quota": True, "limits": {"tpm": 30}})
    for node in (a, b):  # the channel and the options reached both nodes (no limited request spent)
        for _ in range(150):
            opts = {o["key"]: o["value"] for o in await node.ok("GET", "/api/option/")}
            if "gpt-3.5-turbo" in await node.ok("GET", "/api/user/available_models") \
                    and "team" in opts.get("GroupLimits", "") and opts.get("PreConsumedQuota") == "0":
                break
            await asyncio.sleep(0.1)

    async def burst(key: str, n: int) -> list[int]:
        return [c for c, _ in await asyncio.gather(*((a if i % 2 else b).chat(key) for i in range(n)))]

    assert (await burst(u_rpm, 20)).count(200) == 7
    assert (await burst(team, 20)).count(200) == 6
    daily = await burst("sk-" + root_daily["key"], 20)  # each costs about 12: at most 60 in all
    assert 1 <= daily.count(200) <= 5 and set(daily) <= {200, 403}
    fh = await burst(u_5h, 20)
    assert 1 <= fh.count(200) <= 8 and set(fh) <= {200, 403}
    spent = sum(r["quota"] for r in await a.ok("GET", "/api/log/?type=2&username=fivehours"))
    assert spent <= 100
    tpm = "sk-" + root_tpm["key"]
    code, _ = await a.chat(tpm)  # uses ~21 of 30 tokens this minute
    assert code == 200
    code, _ = await b.chat(tpm)  # admitted (21 < 30): now over
    assert code == 200
    code, body = await a.chat(tpm)  # refused on the other node too
    assert code == 429 and "tokens per minute" in body["error"]["message"]
