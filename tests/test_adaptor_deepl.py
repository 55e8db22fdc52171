"""DeepL (type 38): translation as a chat answer — converters, the JSON-to-SSE transcoder, the fake
upstream and OpenAI SDK clients through OneRelay."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest
from adaptors.deepl import (
    DeepLAdaptor,
    DeepLAnswerError,
    DeepLStream,
    base_url,
    parse_deepl_error,
    source_text,
    target_lang,
    to_deepl_request,
)
from adaptors.registry import PROVIDERS
from adaptors.base import UpstreamRejected
from tests.adaptor_helpers import (
    FakeServer,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    relay_request,
    send,
    serving,
)
from tests.conftest import Gateway
from tests.fake_misc_providers import FakeState, make_app


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url)


def make_req(text: Any = "Good morning", *, model: str = "deepl-zh", stream: bool = False,
             messages: list[Any] | None = None) -> RelayRequest:
    body: dict[str, Any] = {"model": model, "messages": messages or [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return relay_request(body, model=model, requested=model, stream=stream, include_usage=False)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 3, "type": 38, "key": "0123-abcd:fx"}, **kw)


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize("model, lang", [
    ("deepl-zh", "ZH"), ("deepl-en", "EN"), ("deepl-ja", "JA"), ("deepl", "ZH"), ("deepl-", "ZH"),
    ("deepl-en-us", "EN-US"), ("deepl-pt-br", "PT-BR"), ("DeepL-De", "DE"), ("deepl-zh-hant", "ZH-HANT"),
])
def test_target_lang_from_model(model: str, lang: str) -> None:
    assert target_lang(model) == lang


def test_request_translates_the_last_message() -> None:
    req = make_req(messages=[
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "Line one"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                                     {"type": "text", "text": "Line two"}]},
    ], model="deepl-ja")
    assert source_text(req.body) == "Line one\nLine two"
    assert to_deepl_request(req.body, req.model) == {"text": ["Line one\nLine two"], "target_lang": "JA"}
    assert source_text({"messages": []}) == "" and source_text({}) == ""


def test_build_request_auth_and_hosts() -> None:
    ad = DeepLAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.method == "POST" and up.url == "https://api-free.deepl.com/v2/translate"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "DeepL-Auth-Key 0123-abcd:fx"}
    assert json.loads(up.body or b"") == {"text": ["Good morning"], "target_lang": "ZH"}
    # the mapped (upstream) model decides the language
    req = make_req(model="deepl-en")
    req.requested_model = "translate-to-english"
    assert json.loads(ad.build_request(req, target()).body or b"")["target_lang"] == "EN"
    # free vs pro host by key when the base URL is empty or an official DeepL host
    assert base_url(target(key="pro-key")) == "https://api.deepl.com"
    assert base_url(target(key="pro-key", base_url="https://api-free.deepl.com")) == "https://api.deepl.com"
    assert base_url(target(key="k:fx", base_url="https://api.deepl.com/")) == "https://api-free.deepl.com"
    assert base_url(target(key="k", base_url="http://127.0.0.1:9/deepl/")) == "http://127.0.0.1:9/deepl"


def test_registry_entry() -> None:
    s = PROVIDERS[38]
    assert s.adaptor == "deepl" and s.modes == (CHAT,) and s.supported
    assert s.models == ("deepl-zh", "deepl-en", "deepl-ja") and s.test_model in s.models
    ad = build_registry()[38]
    assert isinstance(ad, DeepLAdaptor) and ad.json_streams and ad.modes == frozenset({CHAT})


def test_parse_response_chat_completion_without_usage() -> None:
    body = json.dumps({"translations": [{"detected_source_language": "EN", "text": "早上好"}]}).encode()
    req = make_req()
    req.requested_model = "my-translator"
    parsed = DeepLAdaptor().parse_response(req, 200, body)
    data = json.loads(parsed.body)
    assert data["object"] == "chat.completion" and data["model"] == "my-translator"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "早上好"},
                                "finish_reason": "stop"}]
    assert "usage" not in data and parsed.usage is None  # the relay counts
    assert parsed.completion_text == "早上好"


def test_parse_response_2xx_without_translation_is_an_error() -> None:
    with pytest.raises(DeepLAnswerError) as e:
        DeepLAdaptor().parse_response(make_req(), 200, b'{"message":"Internal error"}')
    assert isinstance(e.value, UpstreamRejected) and e.value.failure.message == "Internal error"


def test_errors() -> None:
    f = parse_deepl_error(403, b'{"message":"Wrong endpoint. Use https://api.deepl.com"}')
    assert f.message.startswith("Wrong endpoint") and f.disables_channel and f.code == "deepl_error"
    f = parse_deepl_error(456, b'{"message":"Quota Exceeded"}')
    assert f.disables_channel and f.message == "Quota Exceeded"
    f = parse_deepl_error(456, b"")
    assert "quota" in f.message.lower() and f.disables_channel
    f = parse_deepl_error(429, b'{"message":"Too many requests"}')
    assert f.retryable and not f.disables_channel
    f = parse_deepl_error(400, b'{"message":"Bad request","detail":"Value for \'target_lang\' not supported."}')
    assert not f.retryable and "target_lang" in f.message
    assert f.payload == {"message": f.message, "type": "upstream_error", "param": "", "code": "deepl_error"}
    f = parse_deepl_error(403, b"")
    assert f.message == "upstream returned HTTP 403"


ANSWER = json.dumps({"translations": [{"detected_source_language": "EN", "text": "早上好，世界"}]},
                    ensure_ascii=False).encode()


def test_stream_split_at_every_byte() -> None:
    reference = None
    for i in range(len(ANSWER) + 1):
        ts = DeepLStream(make_req(stream=True), created=1)
        assert ts.feed(ANSWER[:i]) == [] and ts.feed(ANSWER[i:]) == []
        out = b"".join(ts.finish())
        chunks, dones = decode_frames(out)
        assert dones == 1 and out.endswith(DONE_FRAME)
        simplified = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
        assert simplified == [({"role": "assistant", "content": "早上好，世界"}, None), ({}, "stop")]
        assert all(c["object"] == "chat.completion.chunk" and c["model"] == "deepl-zh" for c in chunks)
        assert ts.completion_text == "早上好，世界" and ts.done and ts.usage is None and ts.error is None
        if reference is None:
            reference = [c["choices"] for c in chunks]
        assert [c["choices"] for c in chunks] == reference
        assert ts.finish() == []  # idempotent


def test_stream_of_an_error_body() -> None:
    ts = DeepLAdaptor().new_stream(make_req(stream=True))
    ts.feed(b'{"message":"oops"}')
    chunks, dones = decode_frames(b"".join(ts.finish()))
    assert dones == 1 and chunks == [{"error": {"message": "oops", "type": "upstream_error", "param": "",
                                                "code": "deepl_error"}}]
    assert ts.error == "oops" and not ts.done


# --------------------------------------------------------------------------- the fake upstream


async def test_round_trip_with_fake(fake: FakeServer) -> None:
    ad = DeepLAdaptor()
    fake.state.reset()
    req = make_req("Good morning", model="deepl-en-gb")
    resp = await send(ad.build_request(req, target(base_url=fake.url)))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, 200, resp.body)
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == "[EN-GB] Good morning"
    sent = fake.state.last("deepl")
    assert sent["path"] == "/v2/translate"
    assert sent["headers"]["Authorization"] == "DeepL-Auth-Key 0123-abcd:fx"
    assert sent["json"] == {"text": ["Good morning"], "target_lang": "EN-GB"}

    ts = ad.new_stream(make_req(stream=True))
    resp = await send(ad.build_request(make_req(stream=True), target(base_url=fake.url)))
    ts.feed(resp.body)
    chunks, _ = decode_frames(b"".join(ts.finish()))
    assert chunks[0]["choices"][0]["delta"]["content"] == "[ZH] Good morning"

    for key, status, word in (("deepl-bad", 403, "Wrong endpoint"), ("deepl-quota", 456, "Quota")):
        resp = await send(ad.build_request(make_req(), target(base_url=fake.url, key=key)))
        f = ad.parse_error(resp.code, resp.body)
        assert resp.code == status and word in f.message and f.disables_channel
    resp = await send(ad.build_request(make_req(model="deepl-xx"), target(base_url=fake.url)))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 400 and "target_lang" in f.message and not f.retryable


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, fake: FakeServer, key: str = "deepl-key:fx") -> str:
    return await channel_token(gw, type=38, key=key, base_url=fake.url, models="deepl-zh,deepl-en,deepl-ja,deepl-xx")


async def test_sdk_plain_and_stream_billed_locally(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    resp = await client.chat.completions.create(
        model="deepl-ja", messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "Thank you"}])
    assert resp.choices[0].message.content == "[JA] Thank you"
    assert resp.choices[0].finish_reason == "stop" and resp.model == "deepl-ja"
    logs = await gw.logs()
    assert logs[0]["model_name"] == "deepl-ja" and logs[0]["prompt_tokens"] > 0
    assert logs[0]["completion_tokens"] > 0 and not logs[0]["is_stream"]
    assert fake.state.last("deepl")["headers"]["Authorization"] == "DeepL-Auth-Key deepl-key:fx"

    stream = await client.chat.completions.create(
        model="deepl-zh", messages=[{"role": "user", "content": "Good night"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == "[ZH] Good night" and seen.finish == "stop"
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] > 0 and logs[0]["quota"] > 0


async def test_sdk_upstream_errors_in_openai_shape(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model="deepl-xx", messages=[{"role": "user", "content": "a"}])
    assert "target_lang" in e.value.message and isinstance(e.value.body, dict)
    assert e.value.body.get("code") == "deepl_error"


async def test_sdk_quota_exceeded_stream_request(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, key="deepl-quota")
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(
            model="deepl-zh", messages=[{"role": "user", "content": "a"}], stream=True)
    assert e.value.status_code == 456 and "Quota Exceeded" in e.value.message
