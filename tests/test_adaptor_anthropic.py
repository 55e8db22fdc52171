"""Anthropic adaptor: pure conversion tests plus a round trip through the fake upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adaptors.registry import PROVIDERS
from adaptors.anthropic import (
    AnthropicAdaptor,
    AnthropicStream,
    finish_reason,
    image_block,
    to_anthropic_request,
    to_openai_response,
)
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest, UpstreamRequest, Usage
from tests.adaptor_helpers import (
    assert_every_split,
    byte_by_byte,
    channel_target,
    decode_frames,
    relay_request,
    send,
    send_stream,
    serving,
    simplify_chunks,
    transcode,
)

try:  # works whether or not tests/ becomes a package later
    from tests.fake_anthropic import FakeAnthropicHandler
except ImportError:  # pragma: no cover
    from fake_anthropic import FakeAnthropicHandler  # type: ignore[no-redef]


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False,
             model: str = "claude-3-5-sonnet-20241022", requested: str = "claude-alias",
             include_usage: bool | None = None) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 7, "type": 14, "key": "sk-ant-test"}, **kw)


# --------------------------------------------------------------------------- request


def test_system_and_developer_messages_are_all_merged() -> None:
    out = to_anthropic_request({"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Bye"},
    ]}, "claude-x")
    assert out["system"] == "You are terse.\n\nAnswer in French."
    # the two user turns around the (removed) developer message merge into one
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Hi"}, {"type": "text", "text": "Bye"}]}]
    assert out["model"] == "claude-x"


def test_system_with_cache_control_keeps_blocks() -> None:
    out = to_anthropic_request({"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Big doc", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "Q"},
    ]}, "m")
    assert out["system"] == [{"type": "text", "text": "Big doc", "cache_control": {"type": "ephemeral"}}]


def test_no_system_key_without_system_messages() -> None:
    out = to_anthropic_request({"messages": [{"role": "user", "content": "Hi"}]}, "m")
    assert "system" not in out


def test_images_data_url_and_http_url() -> None:
    out = to_anthropic_request({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "xx", "format": "wav"}},
        {"type": "text", "text": ""},
    ]}]}, "m")
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    ]
    assert image_block("data:image/png,notbase64") is None
    assert image_block("ftp://x") is None


def test_assistant_tool_calls_and_tool_results_merge() -> None:
    out = to_anthropic_request({"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            {"id": "call_3", "type": "function", "function": {"name": "get_weather", "arguments": "{bad"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
        {"role": "tool", "tool_call_id": "call_3", "content": ""},
        {"role": "user", "content": "Thanks, summarise."},
    ]}, "m")
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
        {"type": "tool_use", "id": "call_3", "name": "get_weather", "input": {}},
    ]
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
        {"type": "tool_result", "tool_use_id": "call_3", "content": ""},
        {"type": "text", "text": "Thanks, summarise."},
    ]


def test_assistant_with_only_tool_calls_and_null_content() -> None:
    out = to_anthropic_request({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
    ]}, "m")
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "c", "name": "f", "input": {}}]}
    assert out["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c", "content": "ok"}]


def test_same_role_neighbours_merge_and_empty_messages_drop() -> None:
    out = to_anthropic_request({"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]}, "m")
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
    ]


def test_tools_keep_whole_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]},
                       "units": {"$ref": "#/$defs/units"}},
        "required": ["city"],
        "$defs": {"units": {"type": "string"}},
        "additionalProperties": False,
    }
    out = to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": schema}},
        {"type": "function", "function": {"name": "noargs"}},
    ]}, "m")
    assert out["tools"] == [
        {"name": "get_weather", "description": "Weather", "input_schema": schema},
        {"name": "noargs", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]


@pytest.mark.parametrize("choice, parallel, expected", [
    ("auto", None, {"type": "auto"}),
    ("required", None, {"type": "any"}),
    ("none", None, {"type": "none"}),
    ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("none", False, {"type": "none"}),
    ({"type": "function", "function": {"name": "f"}}, False,
     {"type": "tool", "name": "f", "disable_parallel_tool_use": True}),
])
def test_tool_choice(choice: Any, parallel: Any, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert to_anthropic_request(body, "m")["tool_choice"] == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    out = to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required",
                                "parallel_tool_calls": False}, "m")
    assert "tool_choice" not in out and "tools" not in out


def test_stop_clamp_user_stream_max_tokens() -> None:
    base = {"messages": [{"role": "user", "content": "x"}]}
    assert to_anthropic_request({**base, "stop": "END"}, "m")["stop_sequences"] == ["END"]
    assert to_anthropic_request({**base, "stop": ["a", "", " ", "b"]}, "m")["stop_sequences"] == ["a", "b"]
    assert "stop_sequences" not in to_anthropic_request({**base, "stop": None}, "m")
    assert to_anthropic_request({**base, "temperature": 1.7}, "m")["temperature"] == 1.0
    assert to_anthropic_request({**base, "temperature": -1}, "m")["temperature"] == 0.0
    assert to_anthropic_request({**base, "temperature": 0.3}, "m")["temperature"] == 0.3
    out = to_anthropic_request({**base, "top_p": 0.9, "top_k": 40, "user": "u-42", "stream": True}, "m")
    assert out["top_p"] == 0.9 and out["top_k"] == 40
    assert out["metadata"] == {"user_id": "u-42"}
    assert out["stream"] is True
    assert to_anthropic_request(base, "m")["max_tokens"] == 4096
    assert to_anthropic_request({**base, "max_tokens": 100}, "m")["max_tokens"] == 100
    assert to_anthropic_request({**base, "max_tokens": 100, "max_completion_tokens": 50}, "m")["max_tokens"] == 50
    assert to_anthropic_request({**base, "max_tokens": None}, "m")["max_tokens"] == 4096


def test_allow_list_drops_openai_only_fields() -> None:
    body = {
        "model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 2, "seed": 7,
        "response_format": {"type": "json_object"}, "presence_penalty": 0.5, "frequency_penalty": 0.5,
        "logprobs": True, "top_logprobs": 2, "logit_bias": {"1": 2}, "stream_options": {"include_usage": True},
        "service_tier": "auto", "store": True, "metadata": {"a": "b"}, "reasoning_effort": "high",
        "functions": [], "modalities": ["text"], "prediction": {}, "audio": {},
    }
    out = to_anthropic_request(body, "claude-3-5-haiku-20241022")
    assert set(out) == {"model", "messages", "max_tokens"}
    assert out["model"] == "claude-3-5-haiku-20241022"


def test_thinking_passthrough_drops_temperature_and_fits_budget() -> None:
    out = to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000,
                                "temperature": 0.2, "top_k": 5,
                                "thinking": {"type": "enabled", "budget_tokens": 2048}}, "m")
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in out and "top_k" not in out
    assert out["max_tokens"] > 2048


def test_build_request_url_headers_body() -> None:
    ad = AnthropicAdaptor()
    req = make_req({"model": "claude-alias", "messages": [{"role": "user", "content": "Hi"}], "seed": 1,
                    "stream": True, "stream_options": {"include_usage": True}}, stream=True)
    up = ad.build_request(req, target())
    assert up.method == "POST"
    assert up.url == "https://api.anthropic.com/v1/messages"
    assert up.headers == {"Content-Type": "application/json", "x-api-key": "sk-ant-test",
                          "anthropic-version": "2023-06-01"}
    assert up.body is not None and b" " not in up.body.replace(b'"Hi"', b"")  # compact JSON
    sent = json.loads(up.body)
    assert sent["model"] == "claude-3-5-sonnet-20241022"  # the mapped model, not the alias
    assert sent["stream"] is True and "seed" not in sent and "stream_options" not in sent

    up = ad.build_request(make_req(), target(base_url="http://127.0.0.1:9999/", config={"anthropic_beta": "a-1,b-2"}))
    assert up.url == "http://127.0.0.1:9999/v1/messages"
    assert up.headers["anthropic-beta"] == "a-1,b-2"
    assert "stream" not in json.loads(up.body or b"")
    up = ad.build_request(make_req(), target(config={"anthropic_beta": ["x", "y"]}))
    assert up.headers["anthropic-beta"] == "x,y"


def test_adaptor_metadata() -> None:
    ad = AnthropicAdaptor()
    assert ad.name == "anthropic" and ad.modes == frozenset({CHAT, "messages"})
    assert PROVIDERS[14].adaptor == "anthropic"
    models = PROVIDERS[14].models
    assert "claude-3-5-sonnet-20241022" in models and "claude-opus-4-20250514" in models


# --------------------------------------------------------------------------- response


def test_parse_response_text_with_cache_usage() -> None:
    msg = {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
        "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20},
    }
    parsed = AnthropicAdaptor().parse_response(make_req(), 200, json.dumps(msg).encode())
    data = json.loads(parsed.body)
    assert data["object"] == "chat.completion" and data["model"] == "claude-alias"
    assert data["id"] == "msg_01" and isinstance(data["created"], int)
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello world"},
                                "finish_reason": "stop"}]
    assert data["usage"] == {"prompt_tokens": 130, "completion_tokens": 4, "total_tokens": 134}
    assert parsed.usage == Usage(130, 4)
    assert parsed.completion_text == "Hello world"


def test_parse_response_tool_use_and_thinking() -> None:
    msg = {
        "id": "msg_02", "content": [
            {"type": "thinking", "thinking": "User wants weather.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xxx"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
        "stop_reason": "tool_use", "usage": {"input_tokens": 50, "output_tokens": 30},
    }
    out, usage, text = to_openai_response(msg, "req-model", created=1)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["reasoning_content"] == "User wants weather."
    assert choice["message"]["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert usage == Usage(50, 30)
    assert text == 'User wants weather.get_weather{"city":"Paris"}get_time{}'


def test_parse_response_text_plus_tool_keeps_content() -> None:
    out, _, _ = to_openai_response({"content": [{"type": "text", "text": "Checking."},
                                                {"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                                    "stop_reason": "tool_use"}, "m")
    assert out["choices"][0]["message"]["content"] == "Checking."
    assert len(out["choices"][0]["message"]["tool_calls"]) == 1


@pytest.mark.parametrize("stop, expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
    ("something_new", "stop"),
])
def test_finish_reasons(stop: str, expected: str) -> None:
    assert finish_reason(stop) == expected
    out, _, _ = to_openai_response({"content": [{"type": "text", "text": "x"}], "stop_reason": stop}, "m")
    assert out["choices"][0]["finish_reason"] == expected
    assert finish_reason(None) is None


def test_parse_response_non_json_passthrough() -> None:
    parsed = AnthropicAdaptor().parse_response(make_req(), 200, b"<html>oops</html>")
    assert parsed.body == b"<html>oops</html>" and parsed.usage is None


# --------------------------------------------------------------------------- errors


def err_body(etype: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": etype, "message": message},
                       "request_id": "req_1"}).encode()


def test_error_401_disables() -> None:
    f = AnthropicAdaptor().parse_error(401, err_body("authentication_error", "invalid x-api-key"))
    assert f.status == 401 and f.message == "invalid x-api-key"
    assert f.disables_channel and f.retryable
    assert f.type == "authentication_error" and f.code == "authentication_error"
    assert f.payload == {"message": "invalid x-api-key", "type": "authentication_error", "param": "",
                         "code": "authentication_error"}


def test_error_403_permission_disables() -> None:
    f = AnthropicAdaptor().parse_error(403, err_body("permission_error", "Your API key does not have permission"))
    assert f.disables_channel


def test_error_402_billing_disables() -> None:
    f = AnthropicAdaptor().parse_error(402, err_body("billing_error", "Billing issue"))
    assert f.disables_channel


def test_error_429_retryable_not_disabling() -> None:
    f = AnthropicAdaptor().parse_error(429, err_body("rate_limit_error", "Number of request tokens has exceeded"))
    assert f.retryable and not f.disables_channel and f.code == "rate_limit_error"


def test_error_529_overloaded_retryable() -> None:
    f = AnthropicAdaptor().parse_error(529, err_body("overloaded_error", "Overloaded"))
    assert f.retryable and not f.disables_channel


def test_error_400_not_retryable() -> None:
    f = AnthropicAdaptor().parse_error(400, err_body("invalid_request_error", "seed: Extra inputs are not permitted"))
    assert not f.retryable and not f.disables_channel
    assert f.message == "seed: Extra inputs are not permitted"


def test_error_400_low_credit_disables() -> None:
    f = AnthropicAdaptor().parse_error(
        400, err_body("invalid_request_error", "Your credit balance is too low to access the Anthropic API."))
    assert not f.retryable and f.disables_channel


def test_error_non_json() -> None:
    f = AnthropicAdaptor().parse_error(502, b"<html>Bad Gateway</html>\n")
    assert f.message == "<html>Bad Gateway</html>" and f.retryable and not f.disables_channel
    assert f.payload is not None and f.payload["type"] == "upstream_error" and f.payload["code"] is None
    f = AnthropicAdaptor().parse_error(500, b"")
    assert f.message == "upstream returned HTTP 500"


# --------------------------------------------------------------------------- stream


def ev(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


RECORDED_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "content": [],
        "model": "claude-3-5-sonnet-20241022", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 472, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 100,
                  "output_tokens": 2}}}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Okay, let's check "}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "the weather — 東京 ☀"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": "{\"location\":"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": " \"San Fra"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "input_json_delta", "partial_json": "ncisco, CA\"}"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                       "usage": {"output_tokens": 89}}),
    ("message_stop", {"type": "message_stop"}),
]
RECORDED = "".join(ev(n, d) for n, d in RECORDED_EVENTS).encode()

EXPECTED_CHUNKS: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "content": ""}},
    {"delta": {"content": "Okay, let's check "}},
    {"delta": {"content": "the weather — 東京 ☀"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"San Fra"}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "ncisco, CA\"}"}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 582, "completion_tokens": 89, "total_tokens": 671}},
]


def stream_req() -> RelayRequest:
    return make_req(stream=True, requested="my-claude")


def simplify(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reduce chunks to what varies: the single choice's delta/finish, or the usage."""
    return simplify_chunks(chunks, "msg_01XFDUDYJgAACzvnptvVoYEL", "my-claude")


def run_stream(pieces: list[bytes]) -> tuple[AnthropicStream, bytes]:
    ts = AnthropicStream(stream_req(), created=1700000000)
    return ts, transcode(ts, pieces)


def check_recorded(ts: AnthropicStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(582, 89)  # cumulative output, not 2 + 89
    assert ts.done and ts.error is None
    assert ts.completion_text == ("Okay, let's check the weather — 東京 ☀get_weather"
                                  "{\"location\": \"San Francisco, CA\"}")


def test_stream_whole() -> None:
    ts, out = run_stream([RECORDED])
    check_recorded(ts, out)


def test_stream_split_at_every_byte_boundary() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(582, 89))


def test_stream_byte_by_byte() -> None:
    ts, out = run_stream(byte_by_byte(RECORDED))
    check_recorded(ts, out)


def test_stream_crlf_line_endings() -> None:
    crlf = RECORDED.replace(b"\n", b"\r\n")
    ts, out = run_stream([crlf])
    check_recorded(ts, out)
    for i in range(0, len(crlf) + 1, 7):
        ts, out2 = run_stream([crlf[:i], crlf[i:]])
        assert out2 == out
    ts, out3 = run_stream(byte_by_byte(crlf))
    assert out3 == out


def test_stream_data_only_frames_without_event_lines() -> None:
    data_only = "".join(f"data: {json.dumps(d)}\n\n" for _, d in RECORDED_EVENTS).encode()
    ts, out = run_stream([data_only])
    check_recorded(ts, out)


def test_stream_second_tool_gets_index_1_and_thinking() -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_x", "usage": {"input_tokens": 5,
                                                                                       "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "signature_delta", "signature": "abc"}}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "tool_use", "id": "t1", "name": "a", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        ("content_block_start", {"type": "content_block_start", "index": 2,
                                 "content_block": {"type": "tool_use", "id": "t2", "name": "b", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2,
                                 "delta": {"type": "input_json_delta", "partial_json": "{\"x\":1}"}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                           "usage": {"output_tokens": 20}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    ts, out = run_stream(["".join(ev(n, d) for n, d in events).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": "Hmm."}
    assert deltas[2]["tool_calls"][0]["index"] == 0 and deltas[2]["tool_calls"][0]["id"] == "t1"
    assert deltas[3] == {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}
    assert deltas[4]["tool_calls"][0]["index"] == 1 and deltas[4]["tool_calls"][0]["id"] == "t2"
    assert deltas[5] == {"tool_calls": [{"index": 1, "function": {"arguments": "{\"x\":1}"}}]}
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 20
    assert ts.usage == Usage(5, 20)
    assert ts.completion_text == "Hmm.a{}b{\"x\":1}"


def test_stream_mid_stream_error_event() -> None:
    head = "".join(ev(n, d) for n, d in RECORDED_EVENTS[:4])
    tail = ev("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    after = ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "ignored"}})
    ts, out = run_stream([(head + tail + after).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert chunks[-1] == {"error": {"message": "Overloaded", "type": "overloaded_error", "param": "",
                                    "code": "overloaded_error"}}
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": ""}, {"content": "Okay, let's check "}]
    assert ts.error == "Overloaded"
    assert ts.usage is None and not ts.done
    assert ts.completion_text == "Okay, let's check "
    assert ts.finish() == []  # still exactly one [DONE]


def test_stream_cut_without_message_stop() -> None:
    cut = "".join(ev(n, d) for n, d in RECORDED_EVENTS[:9]).encode()
    cut += b"event: content_block_delta\ndata: {\"type\":\"content_blo"  # torn frame
    ts, out = run_stream([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert all(c["choices"] and c["choices"][0]["finish_reason"] is None for c in chunks)
    assert ts.usage is None and not ts.done and ts.error is None
    assert ts.completion_text.endswith('get_weather{"location":')


def test_stream_last_frame_without_blank_line_is_flushed() -> None:
    data = RECORDED[:-1]  # message_stop frame ends with a single \n
    ts, out = run_stream([data])
    check_recorded(ts, out)


def test_new_stream_returns_transcoder() -> None:
    ts = AnthropicAdaptor().new_stream(stream_req())
    assert isinstance(ts, AnthropicStream)


# --------------------------------------------------------------------------- round trip with the fake


async def _with_fake(fn: Any) -> list[dict[str, Any]]:
    from tornado.web import Application

    recorder: list[dict[str, Any]] = []
    async with serving(Application([(r"/v1/messages", FakeAnthropicHandler, {"recorder": recorder})])) as url:
        await fn(url)
    return recorder


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


async def test_round_trip_with_fake_upstream() -> None:
    ad = AnthropicAdaptor()
    results: dict[str, Any] = {}

    async def scenario(base: str) -> None:
        t = target(base_url=base)
        body = {"model": "claude-alias", "messages": [{"role": "system", "content": "Be nice"},
                                                      {"role": "user", "content": "Hi"}],
                "seed": 3, "n": 1, "stream_options": {"include_usage": True}}
        # non-stream text
        req = make_req(body)
        resp = await send(ad.build_request(req, t))
        assert resp.code == 200, resp.body
        parsed = ad.parse_response(req, resp.code, resp.body)
        data = json.loads(parsed.body)
        assert data["choices"][0]["message"]["content"] == "Hello from Claude"
        assert data["choices"][0]["finish_reason"] == "stop"
        assert parsed.usage == Usage(12, 5)

        # non-stream tool call
        req = make_req({**body, "tools": [WEATHER_TOOL], "tool_choice": "required"})
        resp = await send(ad.build_request(req, t))
        data = json.loads(ad.parse_response(req, resp.code, resp.body).body)
        (call,) = data["choices"][0]["message"]["tool_calls"]
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
        assert data["choices"][0]["finish_reason"] == "tool_calls"
        assert data["usage"]["completion_tokens"] == 9

        # stream text
        req = make_req({**body, "stream": True}, stream=True)
        resp, ts, out = await send_stream(ad, req, t)
        assert resp.code == 200
        chunks, dones = decode_frames(out)
        assert dones == 1
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        assert text == "Hello from Claude"
        assert ts.usage == Usage(12, 5) and ts.done

        # stream tool call
        req = make_req({**body, "stream": True, "tools": [WEATHER_TOOL]}, stream=True)
        _, ts, out = await send_stream(ad, req, t)
        chunks, dones = decode_frames(out)
        assert dones == 1
        args = "".join(tc["function"].get("arguments", "") for c in chunks if c["choices"]
                       for tc in c["choices"][0]["delta"].get("tool_calls", ()))
        assert json.loads(args) == {"city": "Paris"}
        assert all(tc["index"] == 0 for c in chunks if c["choices"]
                   for tc in c["choices"][0]["delta"].get("tool_calls", ()))
        assert ts.usage == Usage(12, 9)

        # errors
        resp = await send(ad.build_request(make_req(body), target(base_url=base, key="bad-key")))
        f = ad.parse_error(resp.code, resp.body)
        assert resp.code == 401 and f.disables_channel and f.code == "authentication_error"
        up = ad.build_request(make_req(body), t)
        up.body = json.dumps({**json.loads(up.body or b""), "seed": 1}).encode()
        resp = await send(up)
        f = ad.parse_error(resp.code, resp.body)
        assert resp.code == 400 and "Extra inputs are not permitted" in f.message and not f.retryable
        results["ok"] = True

    recorder = await _with_fake(scenario)
    assert results.get("ok")
    assert len(recorder) == 6
    first = recorder[0]
    assert first["path"] == "/v1/messages"
    assert first["headers"]["X-Api-Key"] == "sk-ant-test"
    assert first["headers"]["Anthropic-Version"] == "2023-06-01"
    assert first["json"]["system"] == "Be nice"
    assert first["json"]["model"] == "claude-3-5-sonnet-20241022"
    assert first["json"]["max_tokens"] == 4096
    assert recorder[1]["json"]["tool_choice"] == {"type": "any"}
    assert recorder[2]["json"]["stream"] is True


async def test_fake_rejects_missing_version_and_max_tokens() -> None:
    async def scenario(base: str) -> None:
        ok = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
        resp = await send(UpstreamRequest("POST", base + "/v1/messages", {"x-api-key": "k"}, json.dumps(ok).encode()))
        assert resp.code == 400 and json.loads(resp.body)["error"]["type"] == "invalid_request_error"
        no_max = {k: v for k, v in ok.items() if k != "max_tokens"}
        resp = await send(UpstreamRequest("POST", base + "/v1/messages",
                                          {"x-api-key": "k", "anthropic-version": "2023-06-01"},
                                          json.dumps(no_max).encode()))
        assert resp.code == 400 and "max_tokens" in json.loads(resp.body)["error"]["message"]

    recorder = await _with_fake(scenario)
    assert len(recorder) == 2


def test_stream_usage_chunk_only_when_asked() -> None:
    """Without stream_options.include_usage the client gets no usage chunk, but billing still sees usage."""
    ts = AnthropicAdaptor().new_stream(make_req(stream=True, include_usage=False))
    out = transcode(ts, [RECORDED])
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks)
    assert ts.usage is not None and ts.usage.completion_tokens == 89
