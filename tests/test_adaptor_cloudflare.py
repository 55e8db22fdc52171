"""Cloudflare Workers AI (type 37): URL rules, errors, the pass-through stream, the fake upstream
and OpenAI SDK clients through OneRelay."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, EMBEDDINGS, ChannelTarget, RelayRequest, Usage
from adaptors.cloudflare import ChannelConfigError, CloudflareAdaptor, is_ai_gateway, parse_cloudflare_error
from adaptors.registry import PROVIDERS
from adaptors.base import UpstreamRejected
from relay.pipeline import Job
from tests.adaptor_helpers import (
    FakeServer,
    channel_target,
    channel_token,
    read_stream,
    relay_request,
    send,
    send_stream,
    serving,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_misc_providers import CF_ACCOUNT, CF_REPLY, CF_USAGE, FakeState, make_app

MODEL = "@cf/meta/llama-3.1-8b-instruct"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url)


def make_req(body: dict[str, Any] | None = None, *, mode: str = CHAT, stream: bool = False,
             model: str = MODEL) -> RelayRequest:
    if body is None:
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}]} if mode == CHAT else \
            {"model": model, "input": "Hi"}
    if stream:
        body = {**body, "stream": True}
    return relay_request(body, model=model, requested=model, stream=stream, include_usage=False, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 5, "type": 37, "key": "cf-token", "config": {"user_id": CF_ACCOUNT}}, **kw)


# --------------------------------------------------------------------------- pure


def test_urls_and_headers() -> None:
    ad = CloudflareAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.method == "POST"
    assert up.url == f"https://api.cloudflare.com/client/v4/accounts/{CF_ACCOUNT}/ai/v1/chat/completions"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer cf-token"}
    req = make_req()
    assert up.body == req.raw  # pass-through
    up = ad.build_request(make_req(mode=EMBEDDINGS, model="@cf/baai/bge-base-en-v1.5"),
                          target(base_url="http://proxy.local:8080/"))
    assert up.url == f"http://proxy.local:8080/client/v4/accounts/{CF_ACCOUNT}/ai/v1/embeddings"
    # an account id with odd characters stays one path segment
    up = ad.build_request(make_req(), target(config={"user_id": " a/b "}))
    assert "/accounts/a%2Fb/ai/v1/" in up.url


def test_ai_gateway_base_needs_no_account() -> None:
    gw_url = f"https://gateway.ai.cloudflare.com/v1/{CF_ACCOUNT}/my-gateway/workers-ai"
    assert is_ai_gateway(gw_url) and is_ai_gateway(gw_url + "/")
    assert not is_ai_gateway("https://api.cloudflare.com")
    up = CloudflareAdaptor().build_request(make_req(), target(base_url=gw_url + "/", config={}))
    assert up.url == gw_url + "/v1/chat/completions"


@pytest.mark.parametrize("config", [{}, {"user_id": ""}, {"user_id": "   "}, {"user_id": None}])
def test_missing_account_is_a_clear_channel_error(config: dict[str, Any]) -> None:
    with pytest.raises(ChannelConfigError) as e:
        CloudflareAdaptor().build_request(make_req(), target(config=config))
    assert isinstance(e.value, UpstreamRejected)  # the relay and the channel test both handle it
    err = Job.rejected(e.value)  # what the relay answers
    assert err.status == 503 and err.code == "channel_config_missing" and err.retryable
    assert "account ID" in err.message and "#5" in err.message
    body = err.to_openai("req-1")
    assert body["error"]["code"] == "channel_config_missing" and "(request id: req-1)" in body["error"]["message"]


def test_registry_entry() -> None:
    s = PROVIDERS[37]
    assert s.adaptor == "cloudflare" and set(s.modes) == {CHAT, EMBEDDINGS} and s.supported
    assert MODEL in s.models and s.test_model == MODEL and s.auth == "bearer"
    assert [c.key for c in s.config] == ["user_id"] and s.config[0].required
    assert "no_stream_options" in s.quirks
    assert isinstance(build_registry()[37], CloudflareAdaptor)


def test_parse_response_keeps_body_and_usage() -> None:
    ad = CloudflareAdaptor()
    body = json.dumps({"id": "x", "object": "chat.completion", "model": MODEL, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Yo"}, "finish_reason": "stop"}],
        "usage": CF_USAGE}).encode()
    parsed = ad.parse_response(make_req(), 200, body)
    assert parsed.body == body and parsed.usage == Usage(11, 4)
    # an all-zero usage is no report: the text is counted instead
    zero = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Yo"}}],
                       "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}).encode()
    parsed = ad.parse_response(make_req(), 200, zero)
    assert parsed.body == zero and parsed.usage is None and parsed.completion_text == "Yo"


def test_errors() -> None:
    envelope = {"success": False, "result": None, "messages": [],
                "errors": [{"code": 10000, "message": "Authentication error"}]}
    f = parse_cloudflare_error(401, json.dumps(envelope).encode())
    assert f.message == "Authentication error" and f.code == 10000 and f.disables_channel and f.retryable
    assert f.payload == {"message": "Authentication error", "type": "upstream_error", "param": "", "code": 10000}
    f = parse_cloudflare_error(400, json.dumps({"errors": [{"code": 5007, "message": "No such model x"},
                                                           {"code": 1, "message": "second"}]}).encode())
    assert f.message == "No such model x; second" and f.code == 5007
    assert not f.retryable and not f.disables_channel
    # OpenAI-shaped errors and plain text go through the OpenAI reader
    f = CloudflareAdaptor().parse_error(429, b'{"error":{"message":"slow down","type":"rate_limit","code":"x"}}')
    assert f.message == "slow down" and f.retryable and not f.disables_channel
    f = CloudflareAdaptor().parse_error(502, b"<html>bad gateway</html>")
    assert f.message == "<html>bad gateway</html>"


STREAM = (
    b'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
    b'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    b'"delta":{"content":"lo \xe4\xb8\x96\xe7\x95\x8c"},"finish_reason":null}]}\n\n'
    b'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n'
    b"data: [DONE]\n\n"
)


def test_stream_split_at_every_byte() -> None:
    ad = CloudflareAdaptor()
    for i in range(len(STREAM) + 1):
        ts = ad.new_stream(make_req(stream=True))
        out = transcode(ts, [STREAM[:i], STREAM[i:]])
        assert out == STREAM, i  # forwarded byte for byte, one [DONE]
        assert ts.usage == Usage(7, 3) and ts.done
        assert ts.completion_text == "Hello 世界"
    ts = ad.new_stream(make_req(stream=True))
    cut = STREAM.split(b"data: [DONE]")[0][:-30]
    out = transcode(ts, [cut])
    assert out.endswith(DONE_FRAME) and ts.usage is None and not ts.done


# --------------------------------------------------------------------------- the fake upstream


async def test_round_trip_with_fake(fake: FakeServer) -> None:
    ad = CloudflareAdaptor()
    fake.state.reset()
    t = target(base_url=fake.url)
    req = make_req()
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, 200, resp.body)
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == CF_REPLY
    assert parsed.usage == Usage(11, 4)
    sent = fake.state.last("cloudflare")
    assert sent["path"] == f"/client/v4/accounts/{CF_ACCOUNT}/ai/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer cf-token" and sent["json"]["model"] == MODEL

    req = make_req(stream=True)
    resp, ts, out = await send_stream(ad, req, t)
    assert resp.code == 200 and ts.done and ts.completion_text == CF_REPLY
    assert out.count(DONE_FRAME) == 1

    req = make_req(mode=EMBEDDINGS, model="@cf/baai/bge-base-en-v1.5")
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200 and len(json.loads(resp.body)["data"]) == 1
    assert fake.state.last("cloudflare")["path"].endswith("/ai/v1/embeddings")

    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, key="cf-bad")))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 401 and f.message == "Authentication error" and f.disables_channel

    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, config={"user_id": "other"})))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 404 and "Could not route" in f.message and f.code == 7003

    gw_base = f"{fake.url}/v1/{CF_ACCOUNT}/my-gateway/workers-ai"
    resp = await send(ad.build_request(make_req(), target(base_url=gw_base, config={})))
    assert resp.code == 200
    assert fake.state.last("cloudflare")["path"] == f"/v1/{CF_ACCOUNT}/my-gateway/workers-ai/v1/chat/completions"


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, fake: FakeServer, **kw: Any) -> str:
    fields: dict[str, Any] = {"type": 37, "key": "cf-token", "base_url": fake.url,
                              "models": f"{MODEL},@cf/baai/bge-base-en-v1.5,gpt-x",
                              "config": {"user_id": CF_ACCOUNT}}
    fields.update(kw)
    return await channel_token(gw, **fields)


async def test_sdk_chat_plain_stream_embeddings(gw: Gateway, fake: FakeServer) -> None:
    fake.state.reset()
    key = await _setup(gw, fake)
    client = gw.client(key)
    resp = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == CF_REPLY
    assert resp.usage is not None and resp.usage.completion_tokens == 4
    logs = await gw.logs()
    assert logs[0]["model_name"] == MODEL
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (11, 4) and logs[0]["quota"] > 0

    stream = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                  stream=True)
    assert (await read_stream(stream)).text == CF_REPLY
    sent = fake.state.last("cloudflare")["json"]
    assert sent["stream"] is True and "stream_options" not in sent  # no_stream_options quirk
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] > 0  # counted locally

    emb = await client.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input="hello")
    assert len(emb.data) == 1 and emb.data[0].embedding == [0.1, 0.2, 0.3]
    logs = await gw.logs()
    assert logs[0]["model_name"] == "@cf/baai/bge-base-en-v1.5" and logs[0]["prompt_tokens"] == 3


async def test_sdk_upstream_errors_in_openai_shape(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 400 and "No such model gpt-x" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == 5007


async def test_sdk_bad_token_is_401(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, key="cf-bad")
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert "Authentication error" in e.value.message


async def test_sdk_missing_account_is_a_503_not_a_500(gw: Gateway, fake: FakeServer) -> None:
    fake.state.reset()
    key = await _setup(gw, fake, config="")
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 503
    assert "no account ID" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == "channel_config_missing"
    assert not fake.state.requests  # nothing was sent upstream
