"""Type-confused input (issue 11, items 1-2): never a 500, a clear error in the API's format,
and a bad ``/v1`` request is never forwarded and never billed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.fields import Field, Invalid, Shape, depth_exceeds, loads
from tests.conftest import ACCESS_TOKEN, Gateway

DEEP = ("[" * 100_000 + "]" * 100_000).encode()
DEEP_OBJ = ('{"a":' * 70 + "1" + "}" * 70).encode()
HUGE = 2**63


# -- the parser --------------------------------------------------------------------------------
def test_loads_refuses_nan_infinity_and_deep_nesting() -> None:
    assert loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    for raw in (b'{"a": NaN}', b'{"a": Infinity}', b'[-Infinity]', DEEP, DEEP_OBJ, b'{"a": 1} x', b"\xff"):
        with pytest.raises(ValueError):
            loads(raw)
    ok = ('{"a":' * 63 + "1" + "}" * 63).encode()
    assert loads(ok)  # 63 levels of objects: fine
    assert not depth_exceeds(loads(b"[" * 64 + b"]" * 64), 64)
    assert depth_exceeds([[[]]], 2)


def test_field_checks() -> None:
    shape = Shape(Field("n", "integer", min=1, max=10), Field("s", max_len=3), Field("b", "boolean"),
                  Field("x", "number"), Field("l", "array", items=Field("i", "string", nullable=False)),
                  Field("r", required=True))
    assert shape.check({"r": "y", "n": 2.0, "unknown": {"z": 1}}) == {"r": "y", "n": 2, "unknown": {"z": 1}}
    for bad in ({"r": "y", "n": True}, {"r": "y", "n": 11}, {"r": "y", "s": "long"}, {"r": "y", "b": "abc"},
                {"r": "y", "x": float("inf")}, {"r": "y", "l": [None]}, {"r": None}, {}, {"r": "y", "n": 1.5},
                {"r": "y", "x": HUGE * HUGE}):
        with pytest.raises(Invalid):
            shape.check(dict(bad))


# -- /api --------------------------------------------------------------------------------------
async def api_fails(gw: Gateway, method: str, path: str, body: Any = None, **kw: Any) -> str:
    code, data = await gw.api(method, path, body, **kw)
    assert code < 500 and isinstance(data, dict) and data.get("success") is False, (method, path, code, data)
    assert data["message"], data
    return str(data["message"])


@pytest.mark.settings(global_api_rate_limit=0, critical_rate_limit=0)
async def test_deep_json_on_api_is_refused(gw: Gateway) -> None:
    for path in ("/api/user/login", "/api/user/register", "/api/user/reset", "/api/token/", "/api/channel/",
                 "/api/option/", "/api/user/topup", "/api/redemption/"):
        for raw in (DEEP, DEEP_OBJ, b'{"username": NaN}'):
            anonymous = path in ("/api/user/login", "/api/user/register", "/api/user/reset")
            msg = await api_fails(gw, "POST", path, raw, token=None if anonymous else ACCESS_TOKEN)
            if anonymous:
                assert "JSON" in msg or "deep" in msg or "NaN" in msg, msg
    for path in ("/api/token/", "/api/channel/", "/api/redemption/", "/api/user/"):
        msg = await api_fails(gw, "PUT" if path != "/api/token/" else "POST", path, DEEP)
        assert "deep" in msg, msg


@pytest.mark.settings(global_api_rate_limit=0)
async def test_huge_page_and_ids_are_refused(gw: Gateway) -> None:
    for path in ("/api/token/", "/api/channel/", "/api/user/", "/api/redemption/", "/api/log/", "/api/log/self/",
                 "/api/audit/"):
        for p in (HUGE, -HUGE, 10**30, "1e3", "x"):
            code, data = await gw.api("GET", f"{path}?p={p}")
            assert code < 500 and isinstance(data, dict), (path, p, code, data)
            # a negative page, or one that is not a number, is page 0 (One API)
            assert data["success"] is (p in (-HUGE, "1e3", "x")), (path, p, data)
    for path in ("/api/token/", "/api/user/", "/api/channel/", "/api/redemption/"):
        for ident in (HUGE, 10**30, -HUGE, 1.5, "1", None, True):
            await api_fails(gw, "PUT", path, {"id": ident, "name": "x"})
        await api_fails(gw, "GET", f"{path}{HUGE}")
        await api_fails(gw, "DELETE", f"{path}{10**30}")


@pytest.mark.settings(global_api_rate_limit=0)
async def test_token_fields_are_typed(gw: Gateway) -> None:
    bad = [{"remain_quota": HUGE}, {"remain_quota": 10**30},
           {"remain_quota": -1}, {"expired_time": HUGE}, {"expired_time": 10**30}, {"expired_time": -5},
           {"unlimited_quota": "yes"}, {"name": 5}, {"name": "x" * 31}, {"models": ["a"]}, {"remain_quota": 1e300}]
    for body in bad:
        await api_fails(gw, "POST", "/api/token/", {"name": "t", **body})
    null = await gw.ok("POST", "/api/token/", {"name": "n", "remain_quota": None, "expired_time": None})
    assert null["remain_quota"] == 0 and null["expired_time"] == -1  # null: the default
    tok = await gw.ok("POST", "/api/token/", {"name": "t", "remain_quota": 5, "expired_time": -1})
    for body in bad:
        await api_fails(gw, "PUT", "/api/token/", {"id": tok["id"], **body})
    fresh = await gw.ok("GET", f"/api/token/{tok['id']}")
    assert fresh["remain_quota"] == 5 and fresh["expired_time"] == -1


@pytest.mark.settings(global_api_rate_limit=0)
async def test_user_and_redemption_fields_are_typed(gw: Gateway) -> None:
    user = await gw.ok("POST", "/api/user/", {"username": "bob", "password": "12345678"})
    uid = user["id"]
    for body in ({"quota": HUGE}, {"quota": None, "role": "1"}, {"status": "1"}, {"quota": float("1e400") if False else 1e300},
                 {"group": 5}, {"display_name": ["x"]}):
        await api_fails(gw, "PUT", "/api/user/", {"id": uid, **body})
    for body in ({"action": 5}, {"action": "nope"}, {"username": HUGE}):
        await api_fails(gw, "POST", "/api/user/manage", body)
    for body in ({"name": "r", "quota": HUGE}, {"name": "r", "quota": 1, "count": HUGE}, {"name": "r", "quota": None}):
        await api_fails(gw, "POST", "/api/redemption/", body)
    for q in ("start_timestamp=" + str(HUGE), "type=" + str(HUGE), "channel=" + str(10**30)):
        await api_fails(gw, "GET", "/api/log/?" + q)


@pytest.mark.settings(global_api_rate_limit=0)
async def test_options_are_typed(gw: Gateway) -> None:
    for key, value in (("QuotaPerUnit", "nan"), ("QuotaPerUnit", "inf"), ("QuotaPerUnit", "-Infinity"),
                       ("QuotaPerUnit", "1e400"), ("ChannelDisableThreshold", "NaN"), ("RetryTimes", str(HUGE)),
                       ("RetryTimes", "1.5"), ("RetryTimes", "-1"), ("QuotaForNewUser", str(10**30)),
                       ("PreConsumedQuota", "abc"), ("RegisterEnabled", "yes"), ("ModelRatio", '{"a": NaN}'),
                       ("ModelRatio", '{"a": Infinity}'), ("GroupRatio", "[" * 5000 + "]" * 5000),
                       ("SystemName", "x" * 100_001), ("SMTPPort", "70000"), ("Nope", "1")):
        await api_fails(gw, "PUT", "/api/option/", {"key": key, "value": value})
    await api_fails(gw, "PUT", "/api/option/", {"key": "QuotaPerUnit", "value": float("1e308") * 10}
                    if False else b'{"key": "QuotaPerUnit", "value": NaN}')
    await gw.ok("PUT", "/api/option/", {"key": "QuotaPerUnit", "value": 1000.5})
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": 3})
    code, raw = await gw.api("GET", "/api/status", token=None)
    status = raw["data"]
    assert status["quota_per_unit"] == 1000.5
    assert gw.ctx.options.int("RetryTimes") == 3


# -- /v1 ---------------------------------------------------------------------------------------
BAD_CHAT = [
    {"messages": [None]}, {"messages": [5]}, {"messages": [{"role": 5, "content": "x"}]},
    {"messages": [{"role": "user", "content": 5}]}, {"messages": [{"role": "user", "content": [5]}]},
    {"stream": "abc"}, {"n": "2"}, {"n": 0}, {"n": 1.5}, {"n": HUGE}, {"tools": "x"}, {"tools": [5]},
    {"tool_choice": 5}, {"temperature": "hot"}, {"temperature": 5}, {"top_p": [1]}, {"max_tokens": HUGE},
    {"messages": [{"role": "assistant", "tool_calls": 5}]}, {"messages": [{"role": "assistant", "tool_calls": [5]}]},
    {"stop": 5}, {"stream_options": []}, {"model": 5}, {"messages": []}, {"messages": "hi"},
    {"user": 5}, {"seed": 1.5}, {"logprobs": "yes"}, {"presence_penalty": 3},
]
BAD_OTHER = [
    ("/v1/completions", {"model": "M", "prompt": {}}), ("/v1/completions", {"model": "M", "prompt": [None]}),
    ("/v1/completions", {"model": "M", "prompt": "x", "stream": "abc"}),
    ("/v1/completions", {"model": "M", "prompt": "x", "n": "3"}),
    ("/v1/embeddings", {"model": "M", "input": [None]}), ("/v1/embeddings", {"model": "M", "input": {}}),
    ("/v1/embeddings", {"model": "M", "input": 5}), ("/v1/embeddings", {"model": "M", "input": "x", "dimensions": "1"}),
    ("/v1/embeddings", {"model": "M", "input": [[1, "x"]]}),
    ("/v1/moderations", {"model": "M", "input": 5}),
    ("/v1/images/generations", {"model": "M", "prompt": "x", "n": "2"}),
    ("/v1/audio/speech", {"model": "M", "input": "x", "voice": "a", "speed": "fast"}),
    ("/v1/responses", {"model": "M", "input": 5}), ("/v1/responses", {"model": "M", "input": "x", "stream": 1}),
]


@pytest.mark.settings(global_api_rate_limit=0)
async def test_bad_v1_requests_are_400_never_forwarded_never_billed(gw: Gateway) -> None:
    await gw.channel(models="M", base_url=gw.upstream.url)
    key = await gw.token(unlimited_quota=False, remain_quota=10**9)
    tid = (await gw.ok("GET", "/api/token/"))[0]["id"]
    before = await gw.user()
    gw.upstream.state.reset()
    good = {"model": "M", "messages": [{"role": "user", "content": "hi"}]}
    cases = [("/v1/chat/completions", {**good, **b}) for b in BAD_CHAT] + BAD_OTHER
    cases += [("/v1/chat/completions", DEEP), ("/v1/chat/completions", b'{"model": "M", "temperature": NaN, '
                                                 b'"messages": [{"role": "user", "content": "hi"}]}'),
              ("/v1/embeddings", DEEP_OBJ), ("/v1/completions", b'{"model": "M", "prompt": Infinity}')]
    for path, body in cases:
        code, data = await gw.api("POST", path, body if isinstance(body, bytes) else json.dumps(body),
                                  token="Bearer " + key)
        assert code == 400, (path, body if not isinstance(body, bytes) else body[:40], code, data)
        assert data["error"]["type"] == "invalid_request_error" and data["error"]["message"], data
    # Anthropic's format on /v1/messages
    for body in ({"model": "M", "messages": [None], "max_tokens": 5}, {"model": "M", "max_tokens": "5",
                 "messages": [{"role": "user", "content": "x"}]}, DEEP):
        code, data = await gw.api("POST", "/v1/messages", body if isinstance(body, bytes) else json.dumps(body),
                                  token="Bearer " + key)
        assert code == 400 and data["type"] == "error" and data["error"]["type"] == "invalid_request_error", data
    assert gw.upstream.state.requests == []  # nothing forwarded
    after = await gw.user()
    assert after["used_quota"] == before["used_quota"] and after["quota"] == before["quota"]
    tok = await gw.ok("GET", f"/api/token/{tid}")
    assert tok["used_quota"] == 0 and tok["remain_quota"] == 10**9
    # unknown extra fields still pass through, and null means "default"
    code, data = await gw.api("POST", "/v1/chat/completions", json.dumps({**good, "vendor_knob": {"x": [1]},
                              "temperature": None, "n": 1.0 if False else 1}), token="Bearer " + key)
    assert code == 200, data
    assert gw.upstream.state.requests[-1].json["vendor_knob"] == {"x": [1]}
