"""The relay through the official openai SDK: chat, stream, completions, embeddings, models."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.conftest import Gateway
from tests.fakeupstream import REPLY


async def test_chat_non_stream(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == REPLY
    assert resp.usage is not None and resp.usage.total_tokens == 21
    rec = gw.upstream.state.requests[-1]
    assert rec.path == "/v1/chat/completions" and rec.key == "sk-ok"
    assert rec.json == {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}


async def test_chat_stream_and_usage_log(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    stream = await gw.client(key).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == REPLY
    assert usage is not None and usage.completion_tokens == 12
    logs = await gw.logs()
    assert len(logs) == 1
    entry = logs[0]
    assert entry["type"] == 2 and entry["is_stream"] is True
    assert entry["prompt_tokens"] == 9 and entry["completion_tokens"] == 12
    # gpt-3.5-turbo: ratio 0.25, completion ratio 3 → ceil((9 + 12*3) * 0.25) = 12
    assert entry["quota"] == 12
    assert entry["model_name"] == "gpt-3.5-turbo" and entry["token_name"] == "test"
    assert entry["username"] == "root" and entry["channel"] > 0 and entry["request_id"]


async def test_stream_without_usage_is_counted_locally(gw: Gateway) -> None:
    await gw.channel(key="sk-nousage")
    key = await gw.token()
    stream = await gw.client(key).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    logs = await gw.logs()
    assert logs[0]["completion_tokens"] > 0 and logs[0]["prompt_tokens"] > 0


async def test_completions_and_embeddings(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo-instruct,text-embedding-3-small")
    key = await gw.token()
    c = gw.client(key)
    comp = await c.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello")
    assert comp.choices[0].text == " world"
    emb = await c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2 and emb.usage.prompt_tokens == 10
    logs = await gw.logs()
    assert {l["model_name"] for l in logs} == {"gpt-3.5-turbo-instruct", "text-embedding-3-small"}


async def test_models_list_and_get(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo,gpt-4o")
    key = await gw.token()
    c = gw.client(key)
    ids = sorted([m.id async for m in c.models.list()])
    assert ids == ["gpt-3.5-turbo", "gpt-4o"]
    m = await c.models.retrieve("gpt-4o")
    assert m.id == "gpt-4o" and m.owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        await c.models.retrieve("nope")
    limited = await gw.token(models="gpt-4o")
    assert [m.id async for m in gw.client(limited).models.list()] == ["gpt-4o"]


async def test_not_implemented_routes(gw: Gateway) -> None:
    key = await gw.token()
    code, body = await gw.api("GET", "/v1/files", token="Bearer " + key)
    assert code == 501 and body["error"]["code"] == "api_not_implemented"
    code, body = await gw.api("GET", "/v1/nothing-here", token="Bearer " + key)
    assert code == 404 and "Invalid URL (GET /v1/nothing-here)" in body["error"]["message"]
    code, body = await gw.api("GET", "/api/nothing-here")
    assert code == 404 and body["success"] is False


async def test_concurrent_requests_are_all_logged(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    c = gw.client(key)
    await asyncio.gather(*[c.chat.completions.create(model="gpt-3.5-turbo",
                                                     messages=[{"role": "user", "content": "hi"}])
                           for _ in range(20)])
    user = await gw.user()
    assert user["request_count"] == 20 and user["used_quota"] == 20 * 12


async def test_v1_is_not_gzipped_but_api_is(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    import tornado.httpclient

    client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    body = b'{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}],"stream":true}'
    resp = await client.fetch(gw.url + "/v1/chat/completions", method="POST", body=body,
                              headers={"Authorization": "Bearer " + key, "Accept-Encoding": "gzip"},
                              decompress_response=False)
    assert "Content-Encoding" not in resp.headers and resp.body.endswith(b"data: [DONE]\n\n")
    resp = await client.fetch(gw.url + "/api/option/", headers={"Authorization": gw.ctx.settings.initial_root_access_token,
                                                                 "Accept-Encoding": "gzip"}, decompress_response=False)
    assert resp.headers.get("Content-Encoding") == "gzip"
    client.close()
