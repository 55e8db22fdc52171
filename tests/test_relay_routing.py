"""Channel choice: priority bands, weights, retries, mapping, system prompt, pinning, Azure."""

from __future__ import annotations

import collections

import openai
import pytest

from models.users import ROLE_COMMON
from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]


async def _chat(gw: Gateway, key: str, **kw: object) -> object:
    return await gw.client(key).chat.completions.create(model=kw.pop("model", "gpt-3.5-turbo"),  # type: ignore[arg-type]
                                                         messages=MSG, **kw)  # type: ignore[arg-type]


async def test_weighted_selection_distribution(gw: Gateway) -> None:
    await gw.channel(key="sk-w1", weight=1)
    await gw.channel(key="sk-w3", weight=3)
    key = await gw.token()
    gw.ctx.router.rng.seed(7)
    for _ in range(400):
        await _chat(gw, key)
    counts = collections.Counter(gw.upstream.state.keys())
    share = counts["sk-w3"] / 400
    assert 0.65 < share < 0.85, counts  # expected 0.75


async def test_highest_priority_band_wins(gw: Gateway) -> None:
    await gw.channel(key="sk-low", priority=0)
    await gw.channel(key="sk-high", priority=10)
    key = await gw.token()
    for _ in range(20):
        await _chat(gw, key)
    assert set(gw.upstream.state.keys()) == {"sk-high"}


@pytest.mark.settings()
async def test_retry_skips_failed_channel_and_walks_down_bands(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "3"})
    await gw.channel(key="fail-500", priority=10)
    await gw.channel(key="fail-429", priority=10)
    await gw.channel(key="sk-backup", priority=0)
    key = await gw.token()
    resp = await _chat(gw, key)
    assert resp.choices[0].message.content  # type: ignore[attr-defined]
    keys = gw.upstream.state.keys()
    # both failing top-band channels were tried once each, then the lower band
    assert sorted(keys[:2]) == ["fail-429", "fail-500"] and keys[2] == "sk-backup"
    assert len(keys) == 3
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_no_retry_without_retry_times_and_error_relayed(gw: Gateway) -> None:
    await gw.channel(key="fail-500")
    await gw.channel(key="sk-other", priority=-1)
    key = await gw.token()
    with pytest.raises(openai.InternalServerError) as e:
        await _chat(gw, key)
    assert e.value.status_code == 500
    assert "The server had an error" in e.value.message and "request id" in e.value.message
    assert gw.upstream.state.keys() == ["fail-500"]
    assert await gw.logs() == []
    # the reservation was refunded in full
    assert (await gw.user())["quota"] == 500_000_000_000_000


async def test_400_is_not_retried(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(key="fail-400", priority=5)
    await gw.channel(key="sk-ok")
    key = await gw.token()
    with pytest.raises(openai.BadRequestError):
        await _chat(gw, key)
    assert gw.upstream.state.keys() == ["fail-400"]


async def test_429_after_all_retries(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "5"})
    await gw.channel(key="fail-429")
    key = await gw.token()
    with pytest.raises(openai.RateLimitError) as e:
        await _chat(gw, key)
    assert "saturated" in e.value.message
    assert gw.upstream.state.keys() == ["fail-429"]  # never the same failed channel twice


async def test_unreachable_upstream_is_502_and_retried(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(key="sk-dead", base_url="http://127.0.0.1:9", priority=1)
    await gw.channel(key="sk-ok")
    key = await gw.token()
    await _chat(gw, key)
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "0"})
    with pytest.raises(openai.APIStatusError) as e:
        await _chat(gw, key)
    assert e.value.status_code == 502


async def test_auto_disable_on_invalid_key(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(key="fail-401")
    key = await gw.token()
    with pytest.raises(openai.AuthenticationError):
        await _chat(gw, key)
    for _ in range(50):
        ch = await gw.ok("GET", f"/api/channel/{cid}")
        if ch["status"] == 3:
            break
        import asyncio
        await asyncio.sleep(0.05)
    assert ch["status"] == 3
    with pytest.raises(openai.InternalServerError) as e:  # no channel left: 503
        await _chat(gw, key)
    assert e.value.status_code == 503


async def test_model_mapping_and_system_prompt(gw: Gateway) -> None:
    await gw.channel(models="my-gpt", model_mapping='{"my-gpt": "gpt-4o-mini"}',
                     system_prompt="You are terse.")
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(
        model="my-gpt", messages=[{"role": "system", "content": "old"}, {"role": "user", "content": "hi"}])
    rec = gw.upstream.state.requests[-1].json
    assert rec["model"] == "gpt-4o-mini"
    assert rec["messages"][0] == {"role": "system", "content": "You are terse."}
    assert len(rec["messages"]) == 2
    assert resp.model == "gpt-4o-mini"
    await gw.client(key).chat.completions.create(model="my-gpt", messages=MSG)
    rec = gw.upstream.state.requests[-1].json
    assert rec["messages"][0]["content"] == "You are terse." and rec["messages"][1] == MSG[0]
    logs = await gw.logs()
    assert logs[0]["model_name"] == "my-gpt"


async def test_body_passes_through_untouched(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    raw = b'{"model":"gpt-3.5-turbo",  "messages":[{"role":"user","content":"hi"}], "x_custom": {"a": 1}}'
    code, _ = await gw.api("POST", "/v1/chat/completions", raw, token="Bearer " + key)
    assert code == 200
    assert gw.upstream.state.requests[-1].json["x_custom"] == {"a": 1}


async def test_base_url_override_and_key_rotation(gw: Gateway) -> None:
    await gw.channel(key="sk-a\nsk-b", base_url=gw.upstream.url + "/prefix", key_mode="rotate")
    key = await gw.token()
    for _ in range(4):
        await _chat(gw, key)
    reqs = gw.upstream.state.requests
    assert {r.path for r in reqs} == {"/prefix/v1/chat/completions"}
    assert [r.key for r in reqs] == ["sk-a", "sk-b", "sk-a", "sk-b"]


async def test_batch_create_one_channel_per_line(gw: Gateway) -> None:
    data = await gw.ok("POST", "/api/channel/", {"name": "b", "type": 1, "key": "k1\nk2\nk3",
                                                 "models": "gpt-3.5-turbo"})
    assert len(data["ids"]) == 3


async def test_pinning_admin_only(gw: Gateway) -> None:
    await gw.channel(key="sk-a")
    pinned = await gw.channel(key="sk-pinned", priority=-5)
    key = await gw.token()
    for _ in range(3):
        await _chat(gw, f"{key}-{pinned}")
    assert set(gw.upstream.state.keys()) == {"sk-pinned"}
    # a common user cannot pin
    await gw.ctx.users.create("alice", "password1", role=ROLE_COMMON, quota=10**9,
                              access_token="a" * 32)
    ukey = await gw.token(as_token="a" * 32)
    await _chat(gw, ukey)
    with pytest.raises(openai.PermissionDeniedError) as e:
        await _chat(gw, f"{ukey}-{pinned}")
    assert e.value.code == "channel_pin_forbidden"
    with pytest.raises(openai.PermissionDeniedError):
        await _chat(gw, f"{key}-9999")


async def test_azure_channel(gw: Gateway) -> None:
    await gw.channel(type=3, key="azure-key", base_url=gw.upstream.url, models="gpt-35-turbo",
                     config='{"api_version": "2024-06-01"}')
    key = await gw.token()
    resp = await _chat(gw, key, model="gpt-35-turbo")
    assert resp.choices[0].message.content  # type: ignore[attr-defined]
    rec = gw.upstream.state.requests[-1]
    assert rec.path == "/openai/deployments/gpt-35-turbo/chat/completions"
    assert rec.query == "api-version=2024-06-01"
    assert rec.headers.get("Api-Key") == "azure-key" and "Authorization" not in rec.headers


@pytest.mark.settings(enforce_include_usage=True)
async def test_enforce_include_usage(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    stream = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
    [c async for c in stream]
    assert gw.upstream.state.requests[-1].json["stream_options"] == {"include_usage": True}
    logs = await gw.logs()
    assert logs[0]["prompt_tokens"] == 9 and logs[0]["completion_tokens"] == 12


async def test_json_answer_to_stream_request_is_an_error(gw: Gateway) -> None:
    await gw.channel(key="sk-jsonstream")
    key = await gw.token()
    with pytest.raises(openai.APIStatusError) as e:
        stream = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
        [c async for c in stream]
    assert "streaming is not supported" in str(e.value)


def test_router_pick_weights_bands_and_exclusions() -> None:
    """ChannelRouter.pick without the database: a band's weighted choice (a bisection of its
    cumulative weights; weight 0 counts as 1), exclusions on retries, lower bands only when the
    higher ones are used up, and a withdrawn channel gone from its band."""
    import random

    from models.cache import Band, ChannelRouter
    from models.channels import ChannelRecord

    def ch(cid: int, weight: int, priority: int = 0) -> ChannelRecord:
        return ChannelRecord.from_doc({"_id": cid, "type": 1, "key": "k", "status": 1, "models": "m",
                                       "group": "default", "weight": weight, "priority": priority})

    router = ChannelRouter(None)  # type: ignore[arg-type]  # no store: the index is set here
    router.rng = random.Random(7)
    high = [ch(1, 0), ch(2, 1), ch(3, 8)] + [ch(1000 + i, 0) for i in range(200)]
    router.index = {"default": {"m": [Band(10, high), Band(0, [ch(99, 5, 0)])]}}
    counts = collections.Counter(router.pick("default", "m").id for _ in range(21000))  # type: ignore[union-attr]
    total = sum(c.weight or 1 for c in high)  # 210
    assert abs(counts[3] / 21000 - 8 / total) < 0.01 and 99 not in counts
    assert abs(counts[1] / 21000 - 1 / total) < 0.005 and abs(counts[2] / 21000 - 1 / total) < 0.005
    exclude = {c.id for c in high if c.id != 2}  # only channel 2 left in the high band
    assert {router.pick("default", "m", exclude).id for _ in range(50)} == {2}  # type: ignore[union-attr]
    exclude.add(2)  # the high band used up: the lower band
    assert router.pick("default", "m", exclude).id == 99  # type: ignore[union-attr]
    assert router.pick("default", "m", exclude | {99}) is None
    assert router.pick("default", "other") is None and router.pick("vip", "m") is None
    router.withdraw(3)
    assert 3 not in {router.pick("default", "m").id for _ in range(3000)}  # type: ignore[union-attr]
    assert router.index["default"]["m"][0].cum_weights[-1] == total - 8
