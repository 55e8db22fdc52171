"""Google PaLM (type 11): converters, the JSON-to-SSE transcoder, the fake upstream and OpenAI SDK
clients through OneRelay."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest, UpstreamRejected
from adaptors.palm import (
    PaLMAdaptor,
    PaLMAnswerError,
    PaLMStream,
    api_base,
    palm_model,
    parse_palm_error,
    read_answer,
    request_url,
    to_openai_response,
    to_palm_request,
)
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
)
from tests.conftest import Gateway
from tests.fake_palm_aiproxy import FakeState, make_app

MODEL = "chat-bison-001"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url)


def make_req(text: Any = "Hello", *, model: str = MODEL, stream: bool = False,
             messages: list[Any] | None = None, **extra: Any) -> RelayRequest:
    body: dict[str, Any] = {"model": model, "messages": messages or [{"role": "user", "content": text}], **extra}
    if stream:
        body["stream"] = True
    return relay_request(body, model=model, requested=model, stream=stream, include_usage=False)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 4, "type": 11, "key": "palm-key"}, **kw)


# --------------------------------------------------------------------------- pure


def test_request_messages_authors_and_context() -> None:
    body = {"model": MODEL, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "system", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": [{"type": "text", "text": "Part one"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                                     {"type": "text", "text": "Part two"}]},
        {"role": "user", "content": "And more"},
        {"role": "tool", "tool_call_id": "c1", "content": "tool output"},
    ]}
    assert to_palm_request(body) == {"prompt": {
        "context": "Be brief.\n\nAnswer in English.",
        "messages": [
            {"author": "0", "content": "Hi"},
            {"author": "1", "content": "Hello!"},
            {"author": "0", "content": "Part one\nPart two\n\nAnd more"},
            {"author": "1", "content": "tool output"},
        ]}}


def test_request_parameters() -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 0.3, "top_p": 0.9,
            "n": 2, "top_k": 40, "max_tokens": 100, "stop": ["\n"], "presence_penalty": 1}
    out = to_palm_request(body)
    assert out == {"prompt": {"messages": [{"author": "0", "content": "x"}]}, "temperature": 0.3,
                   "candidateCount": 2, "topP": 0.9, "topK": 40}
    # max_tokens is not topK (One API's bug), odd values are dropped
    out = to_palm_request({"messages": [{"role": "user", "content": "x"}], "max_tokens": 7, "n": 0,
                           "temperature": True, "top_k": "3", "top_p": None})
    assert out == {"prompt": {"messages": [{"author": "0", "content": "x"}]}}
    assert to_palm_request({"messages": [{"role": "user", "content": "x"}], "n": 3.0})["candidateCount"] == 3


@pytest.mark.parametrize("model, expected", [
    ("chat-bison-001", "chat-bison-001"), ("PaLM-2", "chat-bison-001"), ("palm2", "chat-bison-001"),
    ("models/chat-bison-001", "chat-bison-001"), ("", "chat-bison-001"), (" my-tuned ", "my-tuned"),
])
def test_model_names(model: str, expected: str) -> None:
    assert palm_model(model) == expected


def test_build_request_url_and_auth() -> None:
    up = PaLMAdaptor().build_request(make_req(temperature=0.5), target())
    assert up.method == "POST"
    assert up.url == "https://generativelanguage.googleapis.com/v1beta2/models/chat-bison-001:generateMessage"
    assert up.headers == {"Content-Type": "application/json", "x-goog-api-key": "palm-key"}
    assert "key=" not in up.url
    assert json.loads(up.body or b"") == {"prompt": {"messages": [{"author": "0", "content": "Hello"}]},
                                          "temperature": 0.5}
    # the mapped (upstream) model names the URL; PaLM-2 is chat-bison-001
    req = make_req(model="PaLM-2")
    assert PaLMAdaptor().build_request(req, target()).url.endswith("/models/chat-bison-001:generateMessage")
    assert api_base(target(base_url="https://proxy.example.com/google/")) == \
        "https://proxy.example.com/google/v1beta2"
    assert api_base(target(base_url="https://proxy.example.com/v1beta3")) == "https://proxy.example.com/v1beta3"
    assert request_url("a b", target()).endswith("/models/a%20b:generateMessage")


def test_registry_entry() -> None:
    s = PROVIDERS[11]
    assert s.adaptor == "palm" and s.modes == (CHAT,) and s.supported and s.auth == "api-key"
    assert s.models[0] == "chat-bison-001" and s.test_model == "chat-bison-001"
    assert s.base_url == "https://generativelanguage.googleapis.com"
    ad = build_registry()[11]
    assert isinstance(ad, PaLMAdaptor) and ad.json_streams and ad.modes == frozenset({CHAT})


def test_parse_response_candidates_to_choices() -> None:
    body = json.dumps({"candidates": [{"author": "1", "content": "One"}, {"author": "1", "content": "Two"}],
                       "messages": [{"author": "0", "content": "Hello"}]}).encode()
    req = make_req()
    req.requested_model = "palm-alias"
    parsed = PaLMAdaptor().parse_response(req, 200, body)
    data = json.loads(parsed.body)
    assert data["object"] == "chat.completion" and data["model"] == "palm-alias"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    assert data["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "One"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "Two"}, "finish_reason": "stop"}]
    assert "usage" not in data and parsed.usage is None and parsed.completion_text == "OneTwo"


def test_filtered_answer_is_content_filter() -> None:
    body = b'{"messages":[{"author":"0","content":"x"}],"filters":[{"reason":"OTHER"}]}'
    assert read_answer(body) == ([], True)
    data = json.loads(PaLMAdaptor().parse_response(make_req(), 200, body).body)
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": ""},
                                "finish_reason": "content_filter"}]
    assert to_openai_response(["a"], False, "m", created=5)["created"] == 5


@pytest.mark.parametrize("body, word", [
    (b'{"messages":[]}', "no candidates"),
    (b'{"candidates":[]}', "no candidates"),
    (b'not json', "not json"),
    (b'{"error":{"code":500,"message":"Internal error","status":"INTERNAL"}}', "Internal error"),
])
def test_2xx_without_an_answer_is_an_error(body: bytes, word: str) -> None:
    with pytest.raises(PaLMAnswerError) as e:
        PaLMAdaptor().parse_response(make_req(), 200, body)
    assert isinstance(e.value, UpstreamRejected) and word in e.value.failure.message
    assert e.value.failure.status == 502 and e.value.failure.retryable


def test_errors() -> None:
    f = parse_palm_error(400, json.dumps({"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}).encode())
    assert f.disables_channel and not f.retryable and f.code == "API_KEY_INVALID"
    assert f.payload == {"message": "API key not valid. Please pass a valid API key.", "type": "INVALID_ARGUMENT",
                         "param": "", "code": "API_KEY_INVALID"}
    f = parse_palm_error(429, b'{"error":{"code":429,"message":"Resource has been exhausted","status":'
                              b'"RESOURCE_EXHAUSTED"}}')
    assert f.retryable and not f.disables_channel and f.type == "RESOURCE_EXHAUSTED"
    f = parse_palm_error(403, b'{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}')
    assert f.disables_channel
    f = parse_palm_error(404, b'{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}')
    assert f.retryable and not f.disables_channel and "not found" in f.message
    assert parse_palm_error(502, b"").message == "upstream returned HTTP 502"


ANSWER = json.dumps({"candidates": [{"author": "1", "content": "Bonjour, ça va ?"},
                                    {"author": "1", "content": "Salut"}],
                     "messages": [{"author": "0", "content": "hi"}]}, ensure_ascii=False).encode()


def test_stream_split_at_every_byte() -> None:
    reference = None
    for i in range(len(ANSWER) + 1):
        ts = PaLMStream(make_req(stream=True), created=1)
        assert ts.feed(ANSWER[:i]) == [] and ts.feed(ANSWER[i:]) == []
        out = b"".join(ts.finish())
        chunks, dones = decode_frames(out)
        assert dones == 1 and out.endswith(DONE_FRAME)
        simplified = [(c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"])
                      for c in chunks]
        assert simplified == [(0, {"role": "assistant", "content": "Bonjour, ça va ?"}, None),
                              (1, {"role": "assistant", "content": "Salut"}, None),
                              (0, {}, "stop"), (1, {}, "stop")]
        assert all(c["object"] == "chat.completion.chunk" and c["model"] == MODEL for c in chunks)
        assert len({c["id"] for c in chunks}) == 1
        assert ts.completion_text == "Bonjour, ça va ?Salut" and ts.done and ts.usage is None and ts.error is None
        if reference is None:
            reference = [c["choices"] for c in chunks]
        assert [c["choices"] for c in chunks] == reference
        assert ts.finish() == []  # idempotent


def test_stream_of_a_filtered_answer_and_of_an_error() -> None:
    ts = PaLMAdaptor().new_stream(make_req(stream=True))
    ts.feed(b'{"filters":[{"reason":"OTHER"}]}')
    chunks, dones = decode_frames(b"".join(ts.finish()))
    assert dones == 1 and [c["choices"][0]["finish_reason"] for c in chunks] == [None, "content_filter"]
    assert ts.completion_text == "" and ts.error is None

    ts = PaLMAdaptor().new_stream(make_req(stream=True))
    ts.feed(b'{"error":{"code":500,"message":"boom","status":"INTERNAL"}}')
    chunks, dones = decode_frames(b"".join(ts.finish()))
    assert dones == 1 and chunks == [{"error": {"message": "boom", "type": "INTERNAL", "param": "",
                                                "code": "INTERNAL"}}]
    assert ts.error == "boom" and not ts.done


# --------------------------------------------------------------------------- the fake upstream


async def test_round_trip_with_fake(fake: FakeServer) -> None:
    ad = PaLMAdaptor()
    fake.state.reset()
    req = make_req(messages=[{"role": "system", "content": "ctx"}, {"role": "user", "content": "a"},
                             {"role": "user", "content": "b"}], n=2, temperature=0.2, top_p=0.8)
    resp = await send(ad.build_request(req, target(base_url=fake.url)))
    assert resp.code == 200, resp.body
    data = json.loads(ad.parse_response(req, 200, resp.body).body)
    assert [c["message"]["content"] for c in data["choices"]] == ["PaLM: a\n\nb", "PaLM: a\n\nb #2"]
    sent = fake.state.last("palm")
    assert sent["path"] == "/v1beta2/models/chat-bison-001:generateMessage" and sent["query"] == ""
    assert sent["headers"]["X-Goog-Api-Key"] == "palm-key"
    assert sent["json"] == {"prompt": {"context": "ctx", "messages": [{"author": "0", "content": "a\n\nb"}]},
                            "temperature": 0.2, "candidateCount": 2, "topP": 0.8}

    ts = ad.new_stream(make_req("hey", stream=True))
    resp = await send(ad.build_request(make_req("hey", stream=True), target(base_url=fake.url)))
    ts.feed(resp.body)
    chunks, _ = decode_frames(b"".join(ts.finish()))
    assert chunks[0]["choices"][0]["delta"]["content"] == "PaLM: hey"

    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, key="palm-bad")))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 400 and f.disables_channel and f.code == "API_KEY_INVALID"
    resp = await send(ad.build_request(make_req(model="text-bison-001"), target(base_url=fake.url)))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 404 and "not found" in f.message and not f.disables_channel
    resp = await send(ad.build_request(make_req("QUOTA"), target(base_url=fake.url)))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 429 and f.retryable


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, fake: FakeServer, key: str = "palm-key") -> str:
    return await channel_token(gw, type=11, key=key, base_url=fake.url, models="chat-bison-001,PaLM-2,text-bison-001")


async def test_sdk_plain_and_stream_billed_locally(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    resp = await client.chat.completions.create(
        model="PaLM-2", messages=[{"role": "system", "content": "Be nice"}, {"role": "user", "content": "Hi there"}],
        n=2)
    assert [c.message.content for c in resp.choices] == ["PaLM: Hi there", "PaLM: Hi there #2"]
    assert resp.choices[0].finish_reason == "stop" and resp.model == "PaLM-2"
    sent = fake.state.last("palm")
    assert sent["path"].endswith("/chat-bison-001:generateMessage")
    assert sent["json"]["prompt"]["context"] == "Be nice" and sent["headers"]["X-Goog-Api-Key"] == "palm-key"
    logs = await gw.logs()
    assert logs[0]["model_name"] == "PaLM-2" and logs[0]["prompt_tokens"] > 0
    assert logs[0]["completion_tokens"] > 0 and logs[0]["quota"] > 0 and not logs[0]["is_stream"]

    stream = await client.chat.completions.create(
        model="chat-bison-001", messages=[{"role": "user", "content": "Stream please"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == "PaLM: Stream please" and seen.finish == "stop"
    assert "stream_options" not in fake.state.last("palm")["json"]
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] > 0 and logs[0]["quota"] > 0


async def test_sdk_upstream_errors_in_openai_shape(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    with pytest.raises(openai.NotFoundError) as e:
        await gw.client(key).chat.completions.create(model="text-bison-001",
                                                     messages=[{"role": "user", "content": "a"}])
    assert "not found" in e.value.message and isinstance(e.value.body, dict)
    assert e.value.body.get("type") == "NOT_FOUND"


async def test_sdk_bad_key_stream_request(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, key="palm-bad")
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(
            model="chat-bison-001", messages=[{"role": "user", "content": "a"}], stream=True)
    assert "API key not valid" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == "API_KEY_INVALID"
