"""Ollama (type 30, native API): pure converter tests, the NDJSON stream transcoder fed a
recorded stream split at every byte, and OpenAI SDK clients through OneRelay to a fake Ollama."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, EMBEDDINGS, ChannelTarget, RelayRequest, UpstreamRequest, Usage
from adaptors.ollama import (
    OllamaAdaptor,
    OllamaStream,
    finish_reason,
    image_data,
    parse_ollama_error,
    to_ollama_request,
    to_openai_embeddings,
    to_openai_response,
)
from tests.adaptor_helpers import (
    assert_every_split,
    byte_by_byte,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    read_text,
    relay_request,
    send,
    serving,
    simplify_chunks,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_ollama import (
    PROMPT_TOKENS,
    TEXT_EVAL,
    TEXT_REPLY,
    TOOL_ARGS,
    TOOL_EVAL,
    TOOL_REPLY,
    FakeOllamaState,
    embedding_for,
    make_ollama_app,
)

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, mode: str = CHAT,
             model: str = "llama3.1:8b", requested: str = "llama3.1", include_usage: bool | None = None
             ) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 3, "type": 30, "key": ""}, **kw)


# --------------------------------------------------------------------------- request


def test_messages_text_images_tools_and_roles() -> None:
    out = to_ollama_request({"messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},  # cannot be fetched
            {"type": "text", "text": "And the weather?"},
        ]},
        {"role": "assistant", "content": None, "reasoning_content": "Need a tool.", "tool_calls": [
            {"id": "call_abc", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_def", "type": "function", "function": {"name": "noop", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "21 degrees"},
        {"role": "tool", "tool_call_id": "call_def", "content": [{"type": "text", "text": "ok"}]},
        {"role": "function", "content": "legacy, dropped"},
    ]}, "llama3.1:8b", stream=False)
    assert out["model"] == "llama3.1:8b" and out["stream"] is False
    assert out["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "What is this?\nAnd the weather?", "images": [PNG_B64]},
        {"role": "assistant", "content": "", "thinking": "Need a tool.", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_abc"},
            {"function": {"name": "noop", "arguments": {}}, "id": "call_def"}]},
        {"role": "tool", "content": "21 degrees", "tool_name": "get_weather", "tool_call_id": "call_abc"},
        {"role": "tool", "content": "ok", "tool_name": "noop", "tool_call_id": "call_def"},
    ]


def test_options_format_and_dropped_fields() -> None:
    out = to_ollama_request({
        "messages": [{"role": "user", "content": "x"}], "temperature": 0.2, "top_p": 0.9, "max_tokens": 50,
        "max_completion_tokens": 64, "stop": "END", "seed": 7, "frequency_penalty": 0.5, "n": 2, "user": "u1",
        "stream_options": {"include_usage": True}, "logprobs": True, "response_format": {"type": "json_object"},
        "tools": [WEATHER_TOOL], "tool_choice": "auto", "top_k": 40, "num_ctx": 8192,
    }, "m", stream=True)
    assert out["stream"] is True
    assert out["options"] == {"temperature": 0.2, "top_p": 0.9, "frequency_penalty": 0.5, "top_k": 40,
                              "num_ctx": 8192, "num_predict": 64, "stop": ["END"], "seed": 7}
    assert out["format"] == "json"
    assert out["tools"] == [WEATHER_TOOL]
    assert set(out) == {"model", "messages", "stream", "options", "format", "tools"}

    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    out = to_ollama_request({"messages": [], "max_tokens": 10, "stop": ["a", "", 3],
                             "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
                             "tools": [WEATHER_TOOL], "tool_choice": "none"}, "m", stream=False)
    assert out["options"] == {"num_predict": 10, "stop": ["a"]}
    assert out["format"] == schema and "tools" not in out
    assert "options" not in to_ollama_request({"messages": []}, "m", stream=False)


def test_image_data_only_base64_data_urls() -> None:
    assert image_data(f"data:image/jpeg;base64,{PNG_B64}") == PNG_B64
    assert image_data("data:text/plain,hello") is None
    assert image_data("https://example.com/a.png") is None
    assert image_data("data:image/png;base64,") is None


def test_build_request_urls_and_optional_key() -> None:
    ad = OllamaAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.url == "http://localhost:11434/api/chat" and up.method == "POST"
    assert "Authorization" not in up.headers and up.headers["Content-Type"] == "application/json"
    assert json.loads(up.body or b"")["stream"] is False
    up = ad.build_request(make_req(stream=True), target(base_url="https://ollama.example.com/", key=" sk-1 "))
    assert up.url == "https://ollama.example.com/api/chat"
    assert up.headers["Authorization"] == "Bearer sk-1"
    assert json.loads(up.body or b"")["stream"] is True
    emb = make_req({"model": "nomic", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64"},
                   mode=EMBEDDINGS, model="nomic-embed-text")
    up = ad.build_request(emb, target(base_url="http://10.0.0.2:11434"))
    assert up.url == "http://10.0.0.2:11434/api/embed"
    assert json.loads(up.body or b"") == {"model": "nomic-embed-text", "input": ["a", "b"], "dimensions": 256}


def test_registry_entry() -> None:
    from adaptors.registry import PROVIDERS
    s = PROVIDERS[30]
    assert s.adaptor == "ollama" and set(s.modes) == {CHAT, EMBEDDINGS} and s.supported
    assert "llama3.1" in s.models and "nomic-embed-text" in s.models and s.test_model == "llama3.1"
    assert isinstance(build_registry()[30], OllamaAdaptor) and OllamaAdaptor.json_streams


# --------------------------------------------------------------------------- response


def test_response_text_usage_and_finish() -> None:
    data = {"model": "llama3.1", "created_at": "2023-12-12T14:13:43Z",
            "message": {"role": "assistant", "content": "Hello! How are you today?", "thinking": "Greet."},
            "done": True, "done_reason": "length", "prompt_eval_count": 26, "eval_count": 298}
    out, usage, text = to_openai_response(data, "llama3.1", created=5, id_="chatcmpl-x")
    assert out == {"id": "chatcmpl-x", "object": "chat.completion", "created": 5, "model": "llama3.1",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How are you today?",
                                                        "reasoning_content": "Greet."},
                                "finish_reason": "length"}],
                   "usage": {"prompt_tokens": 26, "completion_tokens": 298, "total_tokens": 324}}
    assert usage == Usage(26, 298) and text == "Greet.Hello! How are you today?"
    # an old server: no done_reason, no prompt_eval_count (prompt cached)
    out, usage, _ = to_openai_response({"message": {"content": "x"}, "done": True, "eval_count": 3}, "m")
    assert out["choices"][0]["finish_reason"] == "stop" and usage == Usage(0, 3)
    _, usage, _ = to_openai_response({"message": {"content": "x"}, "done": True}, "m")
    assert usage is None


def test_response_tool_calls() -> None:
    data = {"message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
        {"id": "call_srv", "function": {"index": 1, "name": "get_time", "arguments": {}}}]},
        "done": True, "done_reason": "stop", "prompt_eval_count": 169, "eval_count": 18}
    out, usage, text = to_openai_response(data, "llama3.2")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_") and len(first["id"]) > 10 and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": '{"city":"Tokyo"}'}
    assert second["id"] == "call_srv" and second["function"] == {"name": "get_time", "arguments": "{}"}
    assert usage == Usage(169, 18) and text == 'get_weather{"city":"Tokyo"}get_time{}'


def test_finish_reason_table() -> None:
    assert finish_reason("stop") == "stop" and finish_reason("stop", True) == "tool_calls"
    assert finish_reason("length", True) == "length" and finish_reason(None) == "stop"
    assert finish_reason("load") == "stop" and finish_reason("unload") == "stop"


def test_embeddings_float_and_base64() -> None:
    data = {"model": "all-minilm", "embeddings": [[0.5, -1.0, 0.25], [1, 2, 3]], "prompt_eval_count": 8}
    out, usage = to_openai_embeddings(data, "minilm")
    assert out == {"object": "list", "model": "minilm",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0, 0.25]},
                            {"object": "embedding", "index": 1, "embedding": [1, 2, 3]}],
                   "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    assert usage == Usage(8, 0)
    out, _ = to_openai_embeddings(data, "minilm", "base64")
    raw = base64.b64decode(out["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == (0.5, -1.0, 0.25)
    out, usage = to_openai_embeddings({"embeddings": [[0.1]]}, "m")
    assert usage is None and out["usage"] == {"prompt_tokens": 0, "total_tokens": 0}


def test_parse_response_modes() -> None:
    ad = OllamaAdaptor()
    emb = make_req({"model": "e", "input": "x"}, mode=EMBEDDINGS, requested="e")
    parsed = ad.parse_response(emb, 200, json.dumps({"embeddings": [[1.0]], "prompt_eval_count": 2}).encode())
    assert json.loads(parsed.body)["data"][0]["embedding"] == [1.0] and parsed.usage == Usage(2, 0)
    parsed = ad.parse_response(make_req(), 200, b"not json")
    assert parsed.body == b"not json" and parsed.usage is None


# --------------------------------------------------------------------------- errors


def test_errors() -> None:
    f = parse_ollama_error(404, b'{"error":"model \\"llama9\\" not found, try pulling it first"}')
    assert f.message == 'model "llama9" not found, try pulling it first'
    assert f.retryable and not f.disables_channel and f.payload is not None
    assert f.payload == {"message": f.message, "type": "not_found_error", "param": "", "code": None}
    f = parse_ollama_error(401, b'{"error":"unauthorized"}')
    assert f.disables_channel and f.type == "authentication_error"
    f = parse_ollama_error(400, b'{"error":"invalid options"}')
    assert not f.retryable
    f = parse_ollama_error(502, b"<html>Bad Gateway</html>")
    assert f.message == "<html>Bad Gateway</html>" and f.retryable and f.type == "upstream_error"
    assert parse_ollama_error(500, b"").message == "upstream returned HTTP 500"


# --------------------------------------------------------------------------- stream

RECORDED_LINES: list[dict[str, Any]] = [
    {"model": "llama3.1", "created_at": "2025-07-07T20:22:19.1Z",
     "message": {"role": "assistant", "content": "", "thinking": "The user greets."}, "done": False},
    {"model": "llama3.1", "created_at": "2025-07-07T20:22:19.2Z",
     "message": {"role": "assistant", "content": "Héllo — 東京"}, "done": False},
    {"model": "llama3.1", "created_at": "2025-07-07T20:22:19.3Z",
     "message": {"role": "assistant", "content": " ☀"}, "done": False},
    {"model": "llama3.1", "created_at": "2025-07-07T20:22:19.4Z",
     "message": {"role": "assistant", "content": "", "tool_calls": [
         {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}]}, "done": False},
    {"model": "llama3.1", "created_at": "2025-07-07T20:22:19.5Z",
     "message": {"role": "assistant", "content": ""}, "done_reason": "stop", "done": True,
     "total_duration": 182242375, "prompt_eval_count": 169, "eval_count": 15},
]
RECORDED = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in RECORDED_LINES).encode()

EXPECTED_CHUNKS: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "reasoning_content": "The user greets."}},
    {"delta": {"content": "Héllo — 東京"}},
    {"delta": {"content": " ☀"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_fixed_0", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 169, "completion_tokens": 15, "total_tokens": 184}},
]


def simplify(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return simplify_chunks(chunks, "chatcmpl-fixed", "my-llama", 1700000000)


def run_stream(pieces: list[bytes], include_usage: bool = True) -> tuple[OllamaStream, bytes]:
    req = make_req(stream=True, requested="my-llama", include_usage=include_usage)
    ts = OllamaStream(req, created=1700000000, id_="chatcmpl-fixed")
    return ts, transcode(ts, pieces)


def check_recorded(ts: OllamaStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(169, 15) and ts.done and ts.error is None
    assert ts.completion_text == 'The user greets.Héllo — 東京 ☀get_weather{"city":"Tokyo"}'


def test_stream_whole() -> None:
    check_recorded(*run_stream([RECORDED]))


def test_stream_split_at_every_byte_boundary() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(169, 15))


def test_stream_byte_by_byte_and_crlf() -> None:
    check_recorded(*run_stream(byte_by_byte(RECORDED)))
    crlf = RECORDED.replace(b"\n", b"\r\n")
    ts, out = run_stream(byte_by_byte(crlf))
    check_recorded(ts, out)


def test_stream_last_line_without_newline() -> None:
    check_recorded(*run_stream([RECORDED[:-1]]))


def test_stream_no_usage_chunk_unless_asked() -> None:
    ts, out = run_stream([RECORDED], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks)
    assert ts.usage == Usage(169, 15)


def test_stream_empty_first_line_sends_role_and_length() -> None:
    lines = [{"message": {"role": "assistant", "content": ""}, "done": False},
             {"message": {"role": "assistant", "content": "a"}, "done": False},
             {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "length",
              "eval_count": 2}]
    ts, out = run_stream([b"\n".join(json.dumps(x).encode() for x in lines)])
    chunks, _ = decode_frames(out)
    assert [c["choices"][0]["delta"] for c in chunks if c["choices"]] == [
        {"role": "assistant", "content": ""}, {"content": "a"}, {}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert ts.usage == Usage(0, 2)  # the pipeline fills the prompt count in


def test_stream_mid_stream_error() -> None:
    head = b"".join(json.dumps(x).encode() + b"\n" for x in RECORDED_LINES[:2])
    tail = b'{"error":"an error was encountered while running the model"}\n' + json.dumps(RECORDED_LINES[2]).encode()
    ts, out = run_stream([head + tail])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert chunks[-1] == {"error": {"message": "an error was encountered while running the model",
                                    "type": "upstream_error", "param": "", "code": None}}
    assert ts.error and not ts.done and ts.usage is None
    assert ts.completion_text == "The user greets.Héllo — 東京"
    assert ts.finish() == []


def test_stream_cut_before_done() -> None:
    cut = b"".join(json.dumps(x).encode() + b"\n" for x in RECORDED_LINES[:3]) + b'{"model":"lla'
    ts, out = run_stream([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert ts.usage is None and not ts.done and ts.error is None


def test_stream_of_a_non_stream_answer() -> None:
    """An upstream that ignored stream:true answers one JSON object: still a valid stream."""
    body = {"message": {"role": "assistant", "content": "whole"}, "done": True, "done_reason": "stop",
            "prompt_eval_count": 3, "eval_count": 1}
    ts, out = run_stream([json.dumps(body).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "whole"}
    assert chunks[1]["choices"][0]["finish_reason"] == "stop" and ts.usage == Usage(3, 1)


# --------------------------------------------------------------------------- the fake itself


@pytest.fixture
async def ollama() -> AsyncIterator[tuple[FakeOllamaState, str]]:
    state = FakeOllamaState()
    async with serving(make_ollama_app(state)) as url:
        yield state, url


async def test_fake_speaks_ndjson_by_default_and_checks_auth(ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    body = json.dumps({"model": "llama3.1", "messages": [{"role": "user", "content": "hi"}]})
    resp = await send(UpstreamRequest("POST", url + "/api/chat", {}, body.encode()))
    assert resp.code == 200 and resp.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(x) for x in resp.body.splitlines()]
    assert lines[-1]["done"] is True and "".join(x["message"]["content"] for x in lines) == TEXT_REPLY
    resp = await send(UpstreamRequest("POST", url + "/api/chat", {"Authorization": "Bearer bad-key"}, body.encode()))
    assert resp.code == 401 and json.loads(resp.body) == {"error": "unauthorized"}
    state.require_key = True
    resp = await send(UpstreamRequest("POST", url + "/api/chat", {}, body.encode()))
    assert resp.code == 401
    bad = json.dumps({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]})
    resp = await send(UpstreamRequest("POST", url + "/api/chat", {"Authorization": "Bearer k"}, bad.encode()))
    assert resp.code == 400 and "cannot unmarshal" in json.loads(resp.body)["error"]


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, url: str, key: str = "ollama", **kw: Any) -> str:
    kw.setdefault("models", "llama3.1,nomic-embed-text,missing")
    return await channel_token(gw, type=30, key=key, base_url=url, **kw)


async def test_e2e_chat_plain(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    key = await _setup(gw, url)
    resp = await gw.client(key).chat.completions.create(
        model="llama3.1", max_tokens=100, temperature=0.3, seed=1,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert resp.choices[0].finish_reason == "stop" and resp.model == "llama3.1"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_EVAL)
    sent = state.requests[-1]
    assert sent["path"] == "/api/chat" and sent["headers"]["Authorization"] == "Bearer ollama"
    assert sent["json"]["stream"] is False
    assert sent["json"]["options"] == {"temperature": 0.3, "num_predict": 100, "seed": 1}
    assert sent["json"]["messages"][0] == {"role": "system", "content": "Be brief."}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
    assert logs[0]["prompt_tokens"] == PROMPT_TOKENS and logs[0]["completion_tokens"] == TEXT_EVAL


async def test_e2e_stream_with_usage(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    key = await _setup(gw, url)
    stream = await gw.client(key).chat.completions.create(
        model="llama3.1", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == TEXT_REPLY and seen.finish == "stop" and seen.roles == ["assistant"]
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_EVAL)
    sent = state.requests[-1]["json"]
    assert sent["stream"] is True and "stream_options" not in sent
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] == TEXT_EVAL and logs[0]["quota"] > 0


async def test_e2e_tool_call_round_trip(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    key = await _setup(gw, url)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": [
        {"type": "text", "text": "Weather where this photo was taken?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]}]
    resp = await client.chat.completions.create(model="llama3.1", messages=messages, tools=[WEATHER_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == TOOL_ARGS
    assert call.id.startswith("call_")
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_EVAL
    sent = state.requests[-1]["json"]
    assert sent["tools"] == [WEATHER_TOOL] and sent["messages"][0]["images"] == [PNG_B64]

    # the client answers the call; Ollama gets tool_name and object arguments back
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "21 degrees"}]
    resp = await client.chat.completions.create(model="llama3.1", messages=messages, tools=[WEATHER_TOOL])
    assert resp.choices[0].message.content == TOOL_REPLY and resp.choices[0].finish_reason == "stop"
    sent = state.requests[-1]["json"]
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": TOOL_ARGS}
    assert sent["messages"][2] == {"role": "tool", "content": "21 degrees", "tool_name": "get_weather",
                                   "tool_call_id": call.id}

    # streamed
    stream = await client.chat.completions.create(
        model="llama3.1", messages=messages[:1], tools=[WEATHER_TOOL], stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish = None
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                entry = calls.setdefault(tc.index, {"name": "", "args": "", "id": ""})
                entry["name"] += (tc.function.name or "") if tc.function else ""
                entry["args"] += (tc.function.arguments or "") if tc.function else ""
                entry["id"] = tc.id or entry["id"]
            finish = ch.finish_reason or finish
    assert list(calls) == [0] and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["args"]) == TOOL_ARGS and calls[0]["id"].startswith("call_")
    assert finish == "tool_calls"


async def test_e2e_embeddings(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    key = await _setup(gw, url)
    client = gw.client(key)
    resp = await client.embeddings.create(model="nomic-embed-text", input=["the sky is blue", "grass"])
    assert state.requests[-1]["path"] == "/api/embed"
    assert state.requests[-1]["json"] == {"model": "nomic-embed-text", "input": ["the sky is blue", "grass"]}
    # the SDK asked for base64 by default and decoded it
    got = [[round(x, 4) for x in d.embedding] for d in resp.data]
    assert got == [embedding_for("the sky is blue", 0), embedding_for("grass", 1)]
    assert resp.usage.prompt_tokens == 5
    resp = await client.embeddings.create(model="nomic-embed-text", input="hello", encoding_format="float")
    assert resp.data[0].embedding == embedding_for("hello", 0)
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)
    assert sorted(log["prompt_tokens"] for log in logs) == [1, 5]


async def test_e2e_errors_in_openai_shape(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    key = await _setup(gw, url)
    client = gw.client(key)
    with pytest.raises(openai.NotFoundError) as e:
        await client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "hi"}])
    assert 'model "missing" not found' in e.value.message and "request id" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "not_found_error"

    # a mid-stream error reaches the SDK as an error event
    await gw.channel(type=30, key="midfail", base_url=url, models="llama-mid")
    stream = await client.chat.completions.create(
        model="llama-mid", messages=[{"role": "user", "content": "hi"}], stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e2:
        await read_text(stream, parts)
    assert "error was encountered" in e2.value.message and "".join(parts) == "Hello from"
    assert await gw.logs() != []  # what was generated is billed


async def test_e2e_bad_key_is_401(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    _, url = ollama
    key = await _setup(gw, url, key="bad-key")
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model="llama3.1", messages=[{"role": "user", "content": "x"}])
    assert "unauthorized" in e.value.message


async def test_e2e_retry_on_5xx_to_another_channel(gw: Gateway, ollama: tuple[FakeOllamaState, str]) -> None:
    state, url = ollama
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=30, key="fail-500", base_url=url, models="llama3.1", priority=10)
    key = await _setup(gw, url, key="ollama-ok", priority=0)
    resp = await gw.client(key).chat.completions.create(
        model="llama3.1", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert state.keys() == ["fail-500", "ollama-ok"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
