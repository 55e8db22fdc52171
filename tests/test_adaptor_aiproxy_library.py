"""AIProxy Library (type 21): converters, the stream transcoder, the fake upstream and OpenAI SDK
clients through OneRelay."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.aiproxy_library import (
    DOCUMENTS_HEADING,
    AIProxyLibraryAdaptor,
    ChannelConfigError,
    LibraryAnswerError,
    LibraryStream,
    documents_markdown,
    library_id,
    parse_library_error,
    query_text,
    read_answer,
    to_library_request,
)
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest, UpstreamRejected
from adaptors.registry import PROVIDERS
from tests.adaptor_helpers import (
    FakeServer,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    relay_request,
    send,
    serving,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_palm_aiproxy import LIB_DOCUMENTS, LIB_ID, FakeState, make_app

MODEL = "gpt-3.5-turbo"
REFS = (f"\n\n{DOCUMENTS_HEADING}\n1. [Getting started](https://docs.example.com/start)\n"
        "2. [FAQ](https://docs.example.com/faq)\n")


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url)


def make_req(text: Any = "What is OneRelay?", *, model: str = MODEL, stream: bool = False,
             messages: list[Any] | None = None) -> RelayRequest:
    body: dict[str, Any] = {"model": model, "messages": messages or [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return relay_request(body, model=model, requested=model, stream=stream, include_usage=False)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 6, "type": 21, "key": "ak-key", "config": {"library_id": LIB_ID}}, **kw)


# --------------------------------------------------------------------------- pure


def test_request_asks_the_last_message() -> None:
    req = make_req(messages=[{"role": "system", "content": "ignored"}, {"role": "user", "content": "first"},
                             {"role": "assistant", "content": "a"},
                             {"role": "user", "content": [{"type": "text", "text": "Line one"},
                                                          {"type": "text", "text": "Line two"}]}], stream=True)
    assert query_text(req.body) == "Line one\nLine two"
    assert to_library_request(req, "lib") == {"model": MODEL, "query": "Line one\nLine two", "libraryId": "lib",
                                              "stream": True}
    assert query_text({"messages": []}) == "" and query_text({}) == ""


def test_build_request_url_auth_and_library() -> None:
    up = AIProxyLibraryAdaptor().build_request(make_req(), target())
    assert up.method == "POST" and up.url == "https://api.aiproxy.io/api/library/ask"
    assert up.headers == {"Content-Type": "application/json", "Api-Key": "ak-key", "Authorization": "Bearer ak-key"}
    assert json.loads(up.body or b"") == {"model": MODEL, "query": "What is OneRelay?", "libraryId": LIB_ID,
                                          "stream": False}
    up = AIProxyLibraryAdaptor().build_request(make_req(stream=True), target(base_url="http://h:1/x/"))
    assert up.url == "http://h:1/x/api/library/ask" and up.headers["Accept"] == "text/event-stream"
    # the mapped (upstream) model is sent
    req = make_req()
    req.model = "gpt-4"
    assert json.loads(AIProxyLibraryAdaptor().build_request(req, target()).body or b"")["model"] == "gpt-4"


def test_library_id_from_config_or_legacy_other() -> None:
    assert library_id(target(config={"library_id": " lib-1 "})) == "lib-1"
    assert library_id(target(config={"library_id": 42})) == "42"
    assert library_id(target(config={}, other="lib-old")) == "lib-old"
    assert library_id(target(config={"library_id": ""}, other=" ")) == ""


@pytest.mark.parametrize("config", [{}, {"library_id": ""}, {"library_id": None}, {"library_id": "  "}])
def test_missing_library_is_a_clear_channel_error(config: dict[str, Any]) -> None:
    with pytest.raises(ChannelConfigError) as e:
        AIProxyLibraryAdaptor().build_request(make_req(), target(config=config))
    f = e.value.failure
    assert isinstance(e.value, UpstreamRejected) and f.status == 503 and f.code == "channel_config_missing"
    assert f.retryable and not f.disables_channel and "library ID" in f.message


def test_registry_entry() -> None:
    s = PROVIDERS[21]
    assert s.adaptor == "aiproxy_library" and s.modes == (CHAT,) and s.supported
    assert s.base_url == "https://api.aiproxy.io" and s.test_model in s.models
    assert [c.key for c in s.config] == ["library_id"] and s.config[0].required
    ad = build_registry()[21]
    assert isinstance(ad, AIProxyLibraryAdaptor) and not ad.json_streams and ad.modes == frozenset({CHAT})


def test_documents_as_references() -> None:
    assert documents_markdown(LIB_DOCUMENTS) == REFS
    assert documents_markdown([]) == "" and documents_markdown(None) == ""
    assert documents_markdown([{"title": "T"}, "junk"]) == f"\n\n{DOCUMENTS_HEADING}\n1. [T]()\n"


def test_parse_response_answer_with_references() -> None:
    body = json.dumps({"success": True, "answer": "It is a gateway.", "documents": LIB_DOCUMENTS}).encode()
    req = make_req()
    req.requested_model = "my-library"
    parsed = AIProxyLibraryAdaptor().parse_response(req, 200, body)
    data = json.loads(parsed.body)
    assert data["object"] == "chat.completion" and data["model"] == "my-library"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "It is a gateway." + REFS},
                                "finish_reason": "stop"}]
    assert "usage" not in data and parsed.usage is None and parsed.completion_text == "It is a gateway." + REFS
    assert read_answer(b'{"success":true,"answer":"x","documents":[],"errCode":0}') == "x"


@pytest.mark.parametrize("body, word", [
    (b'{"success":false,"errCode":3001,"message":"library not found"}', "library not found"),
    (b'{"success":false}', "request failed"),
    (b'{"errCode":12,"message":""}', "error 12"),
    (b'{"success":true}', "no answer"),
    (b"<html>", "no answer"),
])
def test_2xx_errors(body: bytes, word: str) -> None:
    with pytest.raises(LibraryAnswerError) as e:
        AIProxyLibraryAdaptor().parse_response(make_req(), 200, body)
    assert word in e.value.failure.message and e.value.failure.status == 502


def test_errors() -> None:
    f = parse_library_error(401, b'{"success":false,"errCode":401,"message":"Invalid API key"}')
    assert f.message == "Invalid API key" and f.code == 401 and f.disables_channel
    assert f.payload == {"message": "Invalid API key", "type": "upstream_error", "param": "", "code": 401}
    f = parse_library_error(502, b'{"success":false,"errCode":3001,"message":"library lib-x not found"}')
    assert f.code == 3001 and f.retryable and not f.disables_channel
    f = parse_library_error(429, b'{"message":"Too many requests"}')
    assert f.retryable and f.message == "Too many requests" and f.code == "aiproxy_error"
    f = parse_library_error(400, b"bad")
    assert not f.retryable and f.message == "bad"
    assert parse_library_error(500, b"").message == "upstream returned HTTP 500"


STREAM = (
    'data:{"content":"Hello","finish":false,"model":"gpt-3.5-turbo","documents":[]}\n'
    '\n'
    'data: {"content":", wörld","finish":false,"model":"gpt-3.5-turbo","documents":[]}\r\n'
    ': keep-alive\n'
    'data:not json\n'
    'data:{"content":"","finish":true,"model":"gpt-3.5-turbo","documents":'
    + json.dumps(LIB_DOCUMENTS) + '}'  # no final newline: the last line ends with the body
).encode()


def test_stream_split_at_every_byte() -> None:
    reference = None
    for i in range(len(STREAM) + 1):
        ts = LibraryStream(make_req(stream=True), created=1)
        out = transcode(ts, [STREAM[:i], STREAM[i:]])
        chunks, dones = decode_frames(out)
        assert dones == 1 and out.endswith(DONE_FRAME)
        simplified = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
        assert simplified == [({"role": "assistant", "content": "Hello"}, None), ({"content": ", wörld"}, None),
                              ({"content": REFS}, "stop")]
        assert all(c["object"] == "chat.completion.chunk" and c["model"] == MODEL for c in chunks)
        assert ts.completion_text == "Hello, wörld" + REFS and ts.done and ts.usage is None and ts.error is None
        if reference is None:
            reference = [c["choices"] for c in chunks]
        assert [c["choices"] for c in chunks] == reference
        assert ts.finish() == []  # idempotent


def test_stream_without_documents_and_with_an_error() -> None:
    ts = AIProxyLibraryAdaptor().new_stream(make_req(stream=True))
    out = ts.feed(b'data:{"content":"Hi","finish":true,"documents":[]}\n') + ts.finish()
    chunks, dones = decode_frames(b"".join(out))
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks] == [
        ({"role": "assistant", "content": "Hi"}, None), ({}, "stop")]

    ts = AIProxyLibraryAdaptor().new_stream(make_req(stream=True))
    assert ts.finish()[-1] == DONE_FRAME  # an empty body still ends the stream properly

    ts = AIProxyLibraryAdaptor().new_stream(make_req(stream=True))
    out = ts.feed(b'data:{"content":"Hi"}\n{"success":false,"errCode":500,"message":"model overloaded"}\n'
                  b'data:{"content":"ignored"}\n')
    out += ts.finish()
    chunks, dones = decode_frames(b"".join(out))
    assert dones == 1 and chunks[-1] == {"error": {"message": "model overloaded", "type": "upstream_error",
                                                   "param": "", "code": 500}}
    assert ts.error == "model overloaded" and ts.completion_text == "Hi"


# --------------------------------------------------------------------------- the fake upstream


async def test_round_trip_with_fake(fake: FakeServer) -> None:
    ad = AIProxyLibraryAdaptor()
    fake.state.reset()
    req = make_req("How do I start?")
    resp = await send(ad.build_request(req, target(base_url=fake.url)))
    assert resp.code == 200, resp.body
    content = json.loads(ad.parse_response(req, 200, resp.body).body)["choices"][0]["message"]["content"]
    assert content == "Library: How do I start?" + REFS
    sent = fake.state.last("aiproxy_library")
    assert sent["path"] == "/api/library/ask"
    assert sent["headers"]["Api-Key"] == "ak-key" and sent["headers"]["Authorization"] == "Bearer ak-key"
    assert sent["json"] == {"model": MODEL, "query": "How do I start?", "libraryId": LIB_ID, "stream": False}

    req = make_req("q", stream=True)
    ts = ad.new_stream(req)
    resp = await send(ad.build_request(req, target(base_url=fake.url)))
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    chunks, _ = decode_frames(transcode(ts, [resp.body]))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Library: the answer to q" + REFS

    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, key="ak-bad")))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 401 and f.disables_channel and f.message == "Invalid API key"
    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, config={"library_id": "lib-missing"})))
    assert resp.code == 200
    with pytest.raises(LibraryAnswerError) as e:
        ad.parse_response(make_req(), 200, resp.body)
    assert e.value.failure.code == 3001 and "not found" in e.value.failure.message


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, fake: FakeServer, key: str = "ak-key", **kw: Any) -> str:
    fields: dict[str, Any] = {"type": 21, "key": key, "base_url": fake.url, "models": f"{MODEL},gpt-4",
                              "config": {"library_id": LIB_ID}}
    fields.update(kw)
    return await channel_token(gw, **fields)


async def test_sdk_plain_and_stream_billed_locally(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    resp = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "Where are docs?"}])
    assert resp.choices[0].message.content == "Library: Where are docs?" + REFS
    assert resp.choices[0].finish_reason == "stop" and resp.model == MODEL
    assert fake.state.last("aiproxy_library")["json"]["libraryId"] == LIB_ID
    logs = await gw.logs()
    assert logs[0]["model_name"] == MODEL and logs[0]["prompt_tokens"] > 0
    assert logs[0]["completion_tokens"] > 0 and logs[0]["quota"] > 0 and not logs[0]["is_stream"]

    stream = await client.chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "stream it"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == "Library: the answer to stream it" + REFS and seen.finish == "stop"
    sent = fake.state.last("aiproxy_library")["json"]
    assert sent == {"model": "gpt-4", "query": "stream it", "libraryId": LIB_ID, "stream": True}
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] > 0 and logs[0]["quota"] > 0


async def test_sdk_library_error_on_200_in_openai_shape(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, config={"library_id": "lib-missing"})
    client = gw.client(key)
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    assert e.value.status_code == 502 and "lib-missing not found" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == 3001
    with pytest.raises(openai.APIStatusError) as e:  # a stream request answered with a JSON error
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}], stream=True)
    assert e.value.status_code == 502 and "lib-missing not found" in e.value.message


async def test_sdk_bad_key_is_401(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, key="ak-bad")
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    assert "Invalid API key" in e.value.message


async def test_sdk_missing_library_is_a_503(gw: Gateway, fake: FakeServer) -> None:
    fake.state.reset()
    key = await _setup(gw, fake, config="")
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    assert e.value.status_code == 503 and "library ID" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == "channel_config_missing"
    assert not fake.state.requests
