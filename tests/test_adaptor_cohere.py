"""Cohere (type 35, v1 chat): pure converter tests, the NDJSON event-stream transcoder fed a
recorded stream split at every byte, and OpenAI SDK clients through OneRelay to a fake Cohere."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest, UpstreamRequest, Usage
from adaptors.cohere import (
    CohereAdaptor,
    CohereStream,
    cohere_usage,
    convert_tools,
    finish_reason,
    parse_cohere_error,
    to_cohere_request,
    to_openai_response,
    tool_outputs,
)
from tests.adaptor_helpers import (
    assert_every_split,
    byte_by_byte,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    relay_request,
    send,
    serving,
    simplify_chunks,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_cohere import (
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    TEXT_REPLY,
    TOOL_ARGS,
    TOOL_PLAN,
    TOOL_RESULT_REPLY,
    V1_FIELDS,
    FakeCohereState,
    make_cohere_app,
)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = "command-r",
             requested: str = "command-r", include_usage: bool | None = None) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 4, "type": 35, "key": "co-key"}, **kw)


# --------------------------------------------------------------------------- request


def test_preamble_history_and_message() -> None:
    out = to_cohere_request({"messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "system", "content": "Now be verbose."},
        {"role": "user", "content": [{"type": "text", "text": "Describe"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                     {"type": "text", "text": "this."}]},
    ]}, "command-r-plus", stream=False)
    assert out == {
        "model": "command-r-plus", "message": "Describe\nthis.",
        "preamble": "Be terse.\n\nAnswer in French.",
        "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Bonjour"},
                         {"role": "SYSTEM", "message": "Now be verbose."}],
    }
    assert set(out) <= V1_FIELDS


def test_sampling_fields_and_dropped_ones() -> None:
    out = to_cohere_request({
        "messages": [{"role": "user", "content": "x"}], "temperature": 0.7, "top_p": 1.0, "top_k": 900,
        "max_tokens": 50, "max_completion_tokens": 60, "stop": ["a", "b", "c", "d", "e", "f"], "seed": 3,
        "frequency_penalty": 1.5, "presence_penalty": -0.5, "n": 2, "user": "u", "logprobs": True,
        "stream_options": {"include_usage": True},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    }, "command-r", stream=True)
    assert out == {"model": "command-r", "message": "x", "temperature": 0.7, "p": 0.99, "k": 500,
                   "max_tokens": 60, "stop_sequences": ["a", "b", "c", "d", "e"], "seed": 3,
                   "frequency_penalty": 1.0, "presence_penalty": 0.0,
                   "response_format": {"type": "json_object", "schema": {"type": "object"}}, "stream": True}
    assert set(out) <= V1_FIELDS


def test_internet_suffix_adds_web_search() -> None:
    out = to_cohere_request({"messages": [{"role": "user", "content": "news?"}]}, "command-r-internet", False)
    assert out["model"] == "command-r" and out["connectors"] == [{"id": "web-search"}]


def test_tools_parameter_definitions() -> None:
    tools = convert_tools([WEATHER_TOOL, {"type": "function", "function": {
        "name": "search", "parameters": {"type": "object", "properties": {
            "terms": {"type": "array", "items": {"type": "string"}}, "limit": {"type": ["integer", "null"]},
            "exact": {"type": "boolean"}, "filters": {"type": "object"}, "score": {"type": "number"},
            "anything": {}}}}}, {"type": "function", "function": {"name": "now"}}, {"type": "retrieval"}])
    assert tools == [
        {"name": "get_weather", "description": "Weather by city",
         "parameter_definitions": {"city": {"type": "str", "description": "City name", "required": True}}},
        {"name": "search", "description": "", "parameter_definitions": {
            "terms": {"type": "List[str]", "required": False}, "limit": {"type": "int", "required": False},
            "exact": {"type": "bool", "required": False}, "filters": {"type": "dict", "required": False},
            "score": {"type": "float", "required": False}, "anything": {"type": "str", "required": False}}},
        {"name": "now", "description": ""},
    ]


def test_tool_turns_become_history_and_tool_results() -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "I will look up the weather.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
    ]
    out = to_cohere_request({"messages": messages, "tools": [WEATHER_TOOL], "tool_choice": "none"}, "command-r", False)
    assert out["message"] == ""
    assert out["chat_history"] == [
        {"role": "USER", "message": "Weather in Paris and Rome?"},
        {"role": "CHATBOT", "message": "I will look up the weather.", "tool_calls": [
            {"name": "get_weather", "parameters": {"city": "Paris"}},
            {"name": "get_weather", "parameters": {"city": "Rome"}}]},
    ]
    assert out["tool_results"] == [
        {"call": {"name": "get_weather", "parameters": {"city": "Paris"}}, "outputs": [{"temp": 21}]},
        {"call": {"name": "get_weather", "parameters": {"city": "Rome"}}, "outputs": [{"result": "sunny"}]},
    ]
    assert out["tools"][0]["name"] == "get_weather"  # tool_results need tools, even with tool_choice none

    # a later user turn: the results stay in the history as a TOOL entry
    out = to_cohere_request({"messages": messages + [
        {"role": "assistant", "content": "Paris 21, Rome sunny."}, {"role": "user", "content": "Thanks"}],
        "tools": [WEATHER_TOOL], "tool_choice": "none"}, "command-r", False)
    assert out["message"] == "Thanks" and "tool_results" not in out and "tools" not in out
    assert [m["role"] for m in out["chat_history"]] == ["USER", "CHATBOT", "TOOL", "CHATBOT"]
    assert len(out["chat_history"][2]["tool_results"]) == 2


def test_tool_outputs_shapes() -> None:
    assert tool_outputs('{"a": 1}') == [{"a": 1}]
    assert tool_outputs('[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert tool_outputs("[1, 2]") == [{"result": "[1, 2]"}]
    assert tool_outputs("plain") == [{"result": "plain"}]
    assert tool_outputs(None) == [{"result": ""}]


def test_build_request() -> None:
    ad = CohereAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.url == "https://api.cohere.ai/v1/chat" and up.method == "POST"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer co-key"}
    assert "stream" not in json.loads(up.body or b"")
    up = ad.build_request(make_req(stream=True), target(base_url="https://api.cohere.com/v1/"))
    assert up.url == "https://api.cohere.com/v1/chat" and json.loads(up.body or b"")["stream"] is True


def test_registry_entry() -> None:
    from adaptors.registry import PROVIDERS
    s = PROVIDERS[35]
    assert s.adaptor == "cohere" and s.modes == (CHAT,) and s.supported and s.auth == "bearer"
    assert {"command-r", "command-r-plus", "command-light"} <= set(s.models) and s.test_model == "command-r"
    assert isinstance(build_registry()[35], CohereAdaptor) and CohereAdaptor.json_streams


# --------------------------------------------------------------------------- response


def test_response_text_and_usage() -> None:
    data = {"response_id": "r-1", "text": "Hello!", "generation_id": "g-1", "finish_reason": "COMPLETE",
            "meta": {"api_version": {"version": "1"}, "billed_units": {"input_tokens": 5, "output_tokens": 2},
                     "tokens": {"input_tokens": 70, "output_tokens": 2}}}
    out, usage, text = to_openai_response(data, "command-r", created=9)
    assert out == {"id": "chatcmpl-r-1", "object": "chat.completion", "created": 9, "model": "command-r",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 70, "completion_tokens": 2, "total_tokens": 72}}
    assert usage == Usage(70, 2) and text == "Hello!"


def test_usage_falls_back_to_billed_units() -> None:
    assert cohere_usage({"billed_units": {"input_tokens": 5, "output_tokens": 2}}) == Usage(5, 2)
    assert cohere_usage({"api_version": {"version": "1"}}) is None and cohere_usage(None) is None


def test_response_tool_calls() -> None:
    data = {"response_id": "r-2", "text": "I will look up the weather.", "finish_reason": "COMPLETE",
            "tool_calls": [{"name": "get_weather", "parameters": {"city": "Paris"}},
                           {"name": "get_time", "parameters": {}}]}
    out, usage, _ = to_openai_response(data, "command-r")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I will look up the weather."
    assert [tc["function"] for tc in choice["message"]["tool_calls"]] == [
        {"name": "get_weather", "arguments": '{"city":"Paris"}'}, {"name": "get_time", "arguments": "{}"}]
    ids = [tc["id"] for tc in choice["message"]["tool_calls"]]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)
    assert usage is None
    out, _, _ = to_openai_response({"text": "", "tool_calls": [{"name": "x", "parameters": {}}]}, "m")
    assert out["choices"][0]["message"]["content"] is None


def test_finish_reason_table() -> None:
    assert finish_reason("COMPLETE") == "stop" and finish_reason("STOP_SEQUENCE") == "stop"
    assert finish_reason("COMPLETE", True) == "tool_calls"
    assert finish_reason("MAX_TOKENS") == "length" and finish_reason("ERROR_LIMIT") == "length"
    assert finish_reason("ERROR_TOXIC") == "content_filter" and finish_reason(None) == "stop"
    assert finish_reason("USER_CANCEL") == "stop"


# --------------------------------------------------------------------------- errors


def test_errors() -> None:
    f = parse_cohere_error(401, b'{"message":"invalid api token"}')
    assert f.message == "invalid api token" and f.disables_channel and f.type == "authentication_error"
    assert f.payload == {"message": "invalid api token", "type": "authentication_error", "param": "",
                         "code": None}
    f = parse_cohere_error(400, b'{"message":"invalid request: message must be at least 1 token long"}')
    assert not f.retryable and not f.disables_channel and f.type == "invalid_request_error"
    f = parse_cohere_error(429, b'{"message":"You are using a Trial key"}')
    assert f.retryable and not f.disables_channel and f.type == "rate_limit_error"
    assert parse_cohere_error(402, b'{"message":"payment required"}').disables_channel
    assert parse_cohere_error(498, b'{"message":"blocked"}').disables_channel
    f = parse_cohere_error(503, b"upstream connect error")
    assert f.message == "upstream connect error" and f.retryable and f.type == "upstream_error"


# --------------------------------------------------------------------------- stream

RECORDED_EVENTS: list[dict[str, Any]] = [
    {"is_finished": False, "event_type": "stream-start", "generation_id": "2f1e-77"},
    {"is_finished": False, "event_type": "tool-calls-chunk", "text": "I will check "},
    {"is_finished": False, "event_type": "tool-calls-chunk", "text": "東京 ☀."},
    {"is_finished": False, "event_type": "tool-calls-chunk", "tool_call_delta": {"index": 0, "name": "get_weather"}},
    {"is_finished": False, "event_type": "tool-calls-chunk", "tool_call_delta": {"index": 0, "parameters": "{\n \""}},
    {"is_finished": False, "event_type": "tool-calls-chunk",
     "tool_call_delta": {"index": 0, "parameters": "city\": \"Tōkyō\"}"}},
    {"is_finished": False, "event_type": "tool-calls-chunk", "tool_call_delta": {"index": 1, "name": "get_time"}},
    {"is_finished": False, "event_type": "tool-calls-chunk", "tool_call_delta": {"index": 1, "parameters": "{}"}},
    {"is_finished": False, "event_type": "tool-calls-generation", "text": "I will check 東京 ☀.",
     "tool_calls": [{"name": "get_weather", "parameters": {"city": "Tōkyō"}}, {"name": "get_time", "parameters": {}}]},
    {"is_finished": True, "event_type": "stream-end", "finish_reason": "COMPLETE", "response": {
        "response_id": "r", "text": "I will check 東京 ☀.", "generation_id": "2f1e-77", "finish_reason": "COMPLETE",
        "tool_calls": [{"name": "get_weather", "parameters": {"city": "Tōkyō"}}],
        "meta": {"billed_units": {"input_tokens": 20, "output_tokens": 31},
                 "tokens": {"input_tokens": 900, "output_tokens": 31}}}},
]
RECORDED = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in RECORDED_EVENTS).encode()

EXPECTED_CHUNKS: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "content": ""}},
    {"delta": {"content": "I will check "}},
    {"delta": {"content": "東京 ☀."}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_fixed_0", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\n \""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "city\": \"Tōkyō\"}"}}]}},
    {"delta": {"tool_calls": [{"index": 1, "id": "call_fixed_1", "type": "function",
                               "function": {"name": "get_time", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 900, "completion_tokens": 31, "total_tokens": 931}},
]


def simplify(chunks: list[dict[str, Any]], id_: str = "chatcmpl-fixed") -> list[dict[str, Any]]:
    return simplify_chunks(chunks, id_, "my-command", 1700000000)


def run_stream(pieces: list[bytes], include_usage: bool = True, id_: str | None = "chatcmpl-fixed"
               ) -> tuple[CohereStream, bytes]:
    req = make_req(stream=True, requested="my-command", include_usage=include_usage)
    ts = CohereStream(req, created=1700000000, id_=id_)
    return ts, transcode(ts, pieces)


def check_recorded(ts: CohereStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(900, 31) and ts.done and ts.error is None
    assert ts.completion_text == 'I will check 東京 ☀.get_weather{\n "city": "Tōkyō"}get_time{}'


def test_stream_whole() -> None:
    check_recorded(*run_stream([RECORDED]))


def test_stream_split_at_every_byte_boundary() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(900, 31))


def test_stream_byte_by_byte_and_crlf() -> None:
    check_recorded(*run_stream(byte_by_byte(RECORDED)))
    crlf = RECORDED.replace(b"\n", b"\r\n")
    check_recorded(*run_stream(byte_by_byte(crlf)))


def test_stream_last_line_without_newline() -> None:
    check_recorded(*run_stream([RECORDED[:-1]]))


def test_stream_id_from_generation_id() -> None:
    _, out = run_stream([RECORDED], id_=None)
    chunks, _ = decode_frames(out)
    assert {c["id"] for c in chunks} == {"chatcmpl-2f1e-77"}
    ids = [tc["id"] for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", ())
           if "id" in tc]
    assert ids == ["call_2f1e77_0", "call_2f1e77_1"]


def test_stream_text_only_without_usage_chunk() -> None:
    events = [{"event_type": "stream-start", "generation_id": "g"},
              {"event_type": "text-generation", "text": "Hello"},
              {"event_type": "citation-generation", "citations": []},
              {"event_type": "text-generation", "text": " there"},
              {"event_type": "stream-end", "finish_reason": "MAX_TOKENS",
               "response": {"text": "Hello there", "meta": {"billed_units": {"input_tokens": 3, "output_tokens": 2}}}}]
    ts, out = run_stream([b"\n".join(json.dumps(e).encode() for e in events)], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " there"}, {}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert ts.usage == Usage(3, 2) and ts.completion_text == "Hello there"


def test_stream_tool_calls_generation_without_chunks() -> None:
    """Older API versions send the tool calls whole, in tool-calls-generation only."""
    events = [{"event_type": "stream-start", "generation_id": "g"},
              {"event_type": "tool-calls-generation", "text": "Plan.",
               "tool_calls": [{"name": "get_weather", "parameters": {"city": "Paris"}}]},
              {"event_type": "stream-end", "finish_reason": "COMPLETE", "response": {}}]
    ts, out = run_stream([b"".join(json.dumps(e).encode() + b"\n" for e in events)])
    chunks, _ = decode_frames(out)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[1] == {"content": "Plan."}
    assert deltas[2] == {"tool_calls": [{"index": 0, "id": "call_fixed_0", "type": "function",
                                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls" and ts.usage is None


def test_stream_error_finish_and_error_object() -> None:
    events = [{"event_type": "stream-start", "generation_id": "g"},
              {"event_type": "text-generation", "text": "Hal"},
              {"event_type": "stream-end", "finish_reason": "ERROR",
               "response": {"meta": {"tokens": {"input_tokens": 4, "output_tokens": 1}}}}]
    ts, out = run_stream([b"".join(json.dumps(e).encode() + b"\n" for e in events)])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["message"] == "Cohere stopped generating (finish_reason ERROR)"
    assert ts.error and not ts.done and ts.usage == Usage(4, 1)
    ts, out = run_stream([b'{"event_type":"stream-start"}\n{"message":"internal error"}\n{"event_type":"text-generation","text":"x"}\n'])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["message"] == "internal error" and ts.completion_text == ""


def test_stream_cut_before_stream_end() -> None:
    cut = b"".join(json.dumps(e).encode() + b"\n" for e in RECORDED_EVENTS[:5]) + b'{"event_type":"tool-ca'
    ts, out = run_stream([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert ts.usage is None and not ts.done and ts.error is None


# --------------------------------------------------------------------------- the fake itself


@pytest.fixture
async def cohere() -> AsyncIterator[tuple[FakeCohereState, str]]:
    state = FakeCohereState()
    async with serving(make_cohere_app(state)) as url:
        yield state, url


async def test_fake_checks_auth_and_fields(cohere: tuple[FakeCohereState, str]) -> None:
    _, url = cohere
    body = json.dumps({"model": "command-r", "message": "hi"})
    resp = await send(UpstreamRequest("POST", url + "/v1/chat", {}, body.encode()))
    assert resp.code == 401 and json.loads(resp.body) == {"message": "no api key supplied"}
    auth = {"Authorization": "Bearer k"}
    resp = await send(UpstreamRequest("POST", url + "/v1/chat", auth, body.encode()))
    assert resp.code == 200 and json.loads(resp.body)["text"] == TEXT_REPLY
    bad = json.dumps({"model": "command-r", "messages": [{"role": "user", "content": "hi"}], "message": "x"})
    resp = await send(UpstreamRequest("POST", url + "/v1/chat", auth, bad.encode()))
    assert resp.code == 400 and "messages" in json.loads(resp.body)["message"]
    stream = json.dumps({"model": "command-r", "message": "hi", "stream": True})
    resp = await send(UpstreamRequest("POST", url + "/v1/chat", auth, stream.encode()))
    assert resp.headers["Content-Type"] == "application/stream+json"
    events = [json.loads(x) for x in resp.body.splitlines()]
    assert events[0]["event_type"] == "stream-start" and events[-1]["event_type"] == "stream-end"


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, url: str, key: str = "co-key", **kw: Any) -> str:
    kw.setdefault("models", "command-r,command-r-plus")
    return await channel_token(gw, type=35, key=key, base_url=url, **kw)


async def test_e2e_chat_plain(gw: Gateway, cohere: tuple[FakeCohereState, str]) -> None:
    state, url = cohere
    key = await _setup(gw, url)
    resp = await gw.client(key).chat.completions.create(
        model="command-r", max_tokens=100, temperature=0.3,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                  {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert resp.choices[0].finish_reason == "stop" and resp.model == "command-r"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (INPUT_TOKENS, OUTPUT_TOKENS)
    sent = state.requests[-1]
    assert sent["path"] == "/v1/chat" and sent["headers"]["Authorization"] == "Bearer co-key"
    assert sent["json"] == {"model": "command-r", "message": "Again", "preamble": "Be brief.",
                            "chat_history": [{"role": "USER", "message": "hi"},
                                             {"role": "CHATBOT", "message": "Hello."}],
                            "temperature": 0.3, "max_tokens": 100}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (INPUT_TOKENS, OUTPUT_TOKENS)


async def test_e2e_stream_with_usage(gw: Gateway, cohere: tuple[FakeCohereState, str]) -> None:
    state, url = cohere
    key = await _setup(gw, url)
    stream = await gw.client(key).chat.completions.create(
        model="command-r", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == TEXT_REPLY and seen.finish == "stop"
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (INPUT_TOKENS, OUTPUT_TOKENS)
    sent = state.requests[-1]["json"]
    assert sent["stream"] is True and "stream_options" not in sent
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["quota"] > 0 and logs[0]["completion_tokens"] == OUTPUT_TOKENS


async def test_e2e_tool_call_round_trip(gw: Gateway, cohere: tuple[FakeCohereState, str]) -> None:
    state, url = cohere
    key = await _setup(gw, url)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    resp = await client.chat.completions.create(model="command-r", messages=messages, tools=[WEATHER_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == TOOL_PLAN
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == TOOL_ARGS
    sent = state.requests[-1]["json"]
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather by city", "parameter_definitions": {
        "city": {"type": "str", "description": "City name", "required": True}}}]

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "sunny"}'}]
    resp = await client.chat.completions.create(model="command-r", messages=messages, tools=[WEATHER_TOOL])
    assert resp.choices[0].message.content == TOOL_RESULT_REPLY and resp.choices[0].finish_reason == "stop"
    sent = state.requests[-1]["json"]
    assert sent["message"] == ""
    assert sent["tool_results"] == [{"call": {"name": "get_weather", "parameters": TOOL_ARGS},
                                     "outputs": [{"sky": "sunny"}]}]
    assert sent["chat_history"][-1] == {"role": "CHATBOT", "message": TOOL_PLAN,
                                        "tool_calls": [{"name": "get_weather", "parameters": TOOL_ARGS}]}

    stream = await client.chat.completions.create(
        model="command-r", messages=messages[:1], tools=[WEATHER_TOOL], stream=True)
    calls: dict[int, dict[str, str]] = {}
    text, finish = "", None
    async for chunk in stream:
        for ch in chunk.choices:
            text += ch.delta.content or ""
            for tc in ch.delta.tool_calls or ():
                entry = calls.setdefault(tc.index, {"name": "", "args": "", "id": ""})
                entry["name"] += (tc.function.name or "") if tc.function else ""
                entry["args"] += (tc.function.arguments or "") if tc.function else ""
                entry["id"] = tc.id or entry["id"]
            finish = ch.finish_reason or finish
    assert text == TOOL_PLAN and finish == "tool_calls"
    assert list(calls) == [0] and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["args"]) == TOOL_ARGS and calls[0]["id"].startswith("call_")


async def test_e2e_errors_in_openai_shape(gw: Gateway, cohere: tuple[FakeCohereState, str]) -> None:
    _, url = cohere
    key = await _setup(gw, url, key="bad-key")
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model="command-r", messages=[{"role": "user", "content": "x"}])
    assert "invalid api token" in e.value.message and "request id" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "authentication_error"
    # a conversation ending with an assistant turn leaves v1 no message: Cohere's 400 is relayed
    await gw.channel(type=35, key="co-key", base_url=url, models="command-light")
    with pytest.raises(openai.BadRequestError) as e2:
        await gw.client(key).chat.completions.create(
            model="command-light", messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])
    assert "message must be at least 1 token long" in e2.value.message
    assert await gw.logs() == []


async def test_e2e_retry_on_5xx_to_another_channel(gw: Gateway, cohere: tuple[FakeCohereState, str]) -> None:
    state, url = cohere
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=35, key="fail-500", base_url=url, models="command-r", priority=10)
    key = await _setup(gw, url, key="co-ok", priority=0)
    stream = await gw.client(key).chat.completions.create(
        model="command-r", messages=[{"role": "user", "content": "hi"}], stream=True)
    text = "".join([ch.delta.content or "" async for chunk in stream for ch in chunk.choices])
    assert text == TEXT_REPLY
    assert state.keys() == ["fail-500", "co-ok"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
