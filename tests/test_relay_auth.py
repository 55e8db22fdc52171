"""Token authentication and request validation errors, in OpenAI's error format."""

from __future__ import annotations

import time

import openai
import pytest

from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]


async def _raw(gw: Gateway, body: bytes | str, key: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    code, data = await gw.api("POST", "/v1/chat/completions", body, token=None, headers=headers)
    return code, data


async def test_missing_and_unknown_key(gw: Gateway) -> None:
    await gw.channel()
    code, data = await _raw(gw, '{"model":"gpt-3.5-turbo","messages":[]}', None)
    assert code == 401 and data["error"]["code"] == "invalid_api_key"
    assert "request id" in data["error"]["message"]
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client("sk-doesnotexist").chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "invalid_api_key"


async def test_malformed_json_is_400(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    for body, code_name in [("{not json", "invalid_json"), ("[1,2]", "invalid_json"), ("", "invalid_json"),
                            ('{"messages":[{"role":"user","content":"x"}]}', "model_required"),
                            ('{"model":"gpt-3.5-turbo"}', "invalid_messages"),
                            ('{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"max_tokens":"9"}',
                             "invalid_max_tokens")]:
        code, data = await _raw(gw, body, key)
        assert code == 400, body
        assert data["error"]["code"] == code_name, (body, data)
        assert data["error"]["type"] == "invalid_request_error"


async def test_disabled_expired_exhausted_tokens_are_401(gw: Gateway) -> None:
    await gw.channel()
    disabled = await gw.token(name="d")
    tid = [t for t in await gw.ok("GET", "/api/token/?p=0") if t["name"] == "d"][0]["id"]
    await gw.ok("PUT", "/api/token/?status_only=1", {"id": tid, "status": 2})
    expired = await gw.token(name="e", expired_time=int(time.time()) - 10)
    exhausted = await gw.token(name="x", unlimited_quota=False, remain_quota=0)
    for key, code in [(disabled, "token_disabled"), (expired, "token_expired"),
                      (exhausted, "token_quota_exhausted")]:
        with pytest.raises(openai.AuthenticationError) as e:
            await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
        assert e.value.code == code
    # re-enabling brings it back at once (the cache is invalidated)
    await gw.ok("PUT", "/api/token/?status_only=1", {"id": tid, "status": 1})
    await gw.client(disabled).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)


async def test_model_allow_list_is_403(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo,gpt-4")
    key = await gw.token(models="gpt-4")
    with pytest.raises(openai.PermissionDeniedError) as e:
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "model_not_allowed"
    await gw.client(key).chat.completions.create(model="gpt-4", messages=MSG)


async def test_subnet_refusal(gw: Gateway) -> None:
    await gw.channel()
    refused = await gw.token(subnet="10.0.0.0/8")
    allowed = await gw.token(subnet="10.0.0.0/8,127.0.0.1/32")
    with pytest.raises(openai.PermissionDeniedError) as e:
        await gw.client(refused).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "ip_not_allowed"
    await gw.client(allowed).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    code, data = await gw.api("POST", "/api/token/", {"name": "bad", "subnet": "10.0.0.0/99"})
    assert data["success"] is False and "subnet" in data["message"]


async def test_no_channel_is_503_naming_group_and_model(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo")
    key = await gw.token()
    with pytest.raises(openai.InternalServerError) as e:
        await gw.client(key).chat.completions.create(model="gpt-4-nope", messages=MSG)
    assert e.value.status_code == 503
    assert "gpt-4-nope" in e.value.message and "default" in e.value.message


async def test_disabled_user_is_refused(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    await gw.ctx.db.users.update_one({"_id": 1}, {"$set": {"status": 2}})
    gw.ctx.caches.forget_user(1)
    with pytest.raises(openai.PermissionDeniedError) as e:
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "user_disabled"
