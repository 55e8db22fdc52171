"""Anthropic Messages <-> OpenAI chat conversion (adaptors/messages.py), checked against the
official SDKs' types: requests as OpenAI chat params, answers as ``anthropic.types.Message``,
stream events as ``RawMessageStreamEvent`` and through the SDK's own stream accumulator."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pydantic
import pytest

try:  # the HTTP library this anthropic build uses (httpx2 here, httpx in others)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]
from anthropic.lib.streaming._messages import accumulate_event
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

from adaptors.base import Usage
from adaptors.common import dumps
from adaptors.messages import (
    STOP_REASONS,
    MessagesFromChatStream,
    MessagesPassthroughStream,
    MessagesRequestError,
    anthropic_error_body,
    chat_request_from_messages,
    count_input_tokens,
    messages_response_from_chat,
    usage_of_message,
)
from tests.adaptor_helpers import assert_every_split, byte_by_byte, transcode

EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
CHAT_PARAMS = pydantic.TypeAdapter(CompletionCreateParamsStreaming)
PDF = "JVBERi0xLjQK"
PNG = "iVBORw0KGgo="


def convert(**body: Any) -> dict[str, Any]:
    """A Messages body (max_tokens 100 and one user message unless given) as a chat body, which
    must also be valid OpenAI chat params."""
    body = {"max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}], **body}
    out = chat_request_from_messages(body, "gpt-x")
    CHAT_PARAMS.validate_python({**out, "stream": True})
    return out


# --------------------------------------------------------------------------- request


def test_minimal_request() -> None:
    assert convert() == {"model": "gpt-x", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 100}


def test_system_string_and_blocks() -> None:
    assert convert(system="Be terse.")["messages"][0] == {"role": "system", "content": "Be terse."}
    out = convert(system=[{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
                          {"type": "text", "text": "B"}])
    assert out["messages"][0] == {"role": "system", "content": "A\n\nB"}
    assert convert(system="")["messages"][0]["role"] == "user"


def test_user_text_blocks_become_a_string() -> None:
    out = convert(messages=[{"role": "user", "content": [
        {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "two"}]}])
    assert out["messages"] == [{"role": "user", "content": "one\ntwo"}]


def test_images_and_documents() -> None:
    out = convert(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
        {"type": "document", "title": "spec.pdf", "source": {"type": "base64", "media_type": "application/pdf",
                                                             "data": PDF}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
    ]}])
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
        {"type": "file", "file": {"filename": "spec.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}},
        {"type": "text", "text": "plain doc"},
    ]}]


def test_tool_round_trip_messages() -> None:
    out = convert(messages=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Two cities.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}},
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "here you go"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
             "content": [{"type": "text", "text": "timeout"}]},
        ]},
    ])
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "reasoning_content": "Two cities.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout"},
        {"role": "user", "content": "here you go"},
    ]


def test_tool_only_turns() -> None:
    out = convert(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": [
            {"type": "text", "text": "see image"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "abc"}}]}]},
    ])
    assert out["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]}
    # the result's text goes to the tool message, its image to a user message right after
    assert out["messages"][2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "see image"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,abc"}}]},
    ]


def test_tools_and_choices() -> None:
    tools = [
        {"name": "weather", "description": "Get weather", "input_schema": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
         "cache_control": {"type": "ephemeral"}},
        {"type": "custom", "name": "noop", "input_schema": {}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ]
    out = convert(tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert out["tools"] == [
        {"type": "function", "function": {"name": "weather", "description": "Get weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    assert convert(tools=tools, tool_choice={"type": "auto"})["tool_choice"] == "auto"
    assert convert(tools=tools, tool_choice={"type": "none"})["tool_choice"] == "none"
    assert convert(tools=tools, tool_choice={"type": "tool", "name": "weather"})["tool_choice"] == {
        "type": "function", "function": {"name": "weather"}}
    assert "tool_choice" not in convert(tools=tools) and "parallel_tool_calls" not in convert(tools=tools)
    # only server tools: nothing to send, tool_choice dropped with them
    only_server = convert(tools=tools[2:], tool_choice={"type": "auto"})
    assert "tools" not in only_server and "tool_choice" not in only_server


def test_sampling_and_other_fields() -> None:
    out = convert(max_tokens=512, temperature=0.2, top_p=0.9, top_k=40, stop_sequences=["END", ""],
                  metadata={"user_id": "u-1"}, stream=True)
    assert out["max_tokens"] == 512 and out["temperature"] == 0.2 and out["top_p"] == 0.9 and out["top_k"] == 40
    assert out["stop"] == ["END"] and out["user"] == "u-1"
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert "stream" not in convert(stream=False)


@pytest.mark.parametrize("budget, effort", [(1024, "low"), (4095, "low"), (4096, "medium"),
                                            (16383, "medium"), (16384, "high"), (64000, "high")])
def test_thinking_budget_to_reasoning_effort(budget: int, effort: str) -> None:
    out = convert(max_tokens=100000, thinking={"type": "enabled", "budget_tokens": budget})
    assert out["reasoning_effort"] == effort


def test_thinking_disabled_and_output_effort() -> None:
    assert "reasoning_effort" not in convert(thinking={"type": "disabled"})
    assert convert(thinking={"type": "adaptive"}, output_config={"effort": "max"})["reasoning_effort"] == "high"
    assert convert(output_config={"effort": "low"})["reasoning_effort"] == "low"


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "Hi"}]},  # no max_tokens
    {"max_tokens": 0, "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": "100", "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": True, "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "messages": "Hi"},
    {"max_tokens": 10, "messages": []},
    {"max_tokens": 10, "messages": [{"role": "system", "content": "Hi"}]},
    {"max_tokens": 10, "messages": ["Hi"]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": 5}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "mystery"}]}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [{"text": "no type"}]}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "tool_use", "id": "x", "name": "f", "input": {}}]}]},
    {"max_tokens": 10, "messages": [{"role": "assistant", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}]}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "f1"}}]}]},
    {"max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}]}]},
    {"max_tokens": 10, "system": [{"type": "image"}], "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "temperature": "hot", "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "stop_sequences": "END", "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "tools": [{"name": "f"}], "messages": [{"role": "user", "content": "Hi"}]},
    {"max_tokens": 10, "tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "tool"},
     "messages": [{"role": "user", "content": "Hi"}]},
])
def test_invalid_requests_raise(body: dict[str, Any]) -> None:
    with pytest.raises(MessagesRequestError):
        chat_request_from_messages(body, "gpt-x")
    assert issubclass(MessagesRequestError, ValueError)


def test_unknown_block_with_text_is_text() -> None:
    out = convert(messages=[{"role": "user", "content": [{"type": "search_result_like", "text": "found"}]}])
    assert out["messages"] == [{"role": "user", "content": "found"}]


# --------------------------------------------------------------------------- response


def chat_completion(message: dict[str, Any], finish: str | None = "stop", usage: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "chatcmpl-abc123", "object": "chat.completion", "created": 1, "model": "gpt-x",
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def test_response_text_thinking_tools_and_usage() -> None:
    chat = chat_completion({"role": "assistant", "content": "Let me look.", "reasoning_content": "Hmm.",
                            "tool_calls": [
                                {"id": "call_1", "type": "function",
                                 "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                                {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{"}},
                            ]}, "tool_calls",
                           {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                            "prompt_tokens_details": {"cached_tokens": 100}})
    msg = messages_response_from_chat(chat, "claude-sonnet-4")
    assert msg == {
        "id": "msg_abc123", "type": "message", "role": "assistant", "model": "claude-sonnet-4",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": ""},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "broken", "input": {}},
        ],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 0},
    }
    anthropic.types.Message.model_validate(msg)
    sdk_msg = sdk_client(dumps(msg).encode(), stream=False).messages.create(**SDK_ARGS)
    assert sdk_msg.content[2].input == {"city": "Paris"} and sdk_msg.usage.cache_read_input_tokens == 100
    assert usage_of_message(msg) == Usage(120, 30)  # what pass-through billing would read back


@pytest.mark.parametrize("finish, tools, expected", [
    ("stop", False, "end_turn"), ("length", False, "max_tokens"), ("tool_calls", True, "tool_use"),
    ("function_call", True, "tool_use"), ("content_filter", False, "refusal"), (None, False, "end_turn"),
    ("stop", True, "tool_use"), ("weird", False, "end_turn"),
])
def test_response_stop_reasons(finish: str | None, tools: bool, expected: str) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    if tools:
        message["tool_calls"] = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    msg = messages_response_from_chat(chat_completion(message, finish), "m")
    assert msg["stop_reason"] == expected
    anthropic.types.Message.model_validate(msg)


def test_stop_reasons_invert_the_anthropic_table() -> None:
    assert STOP_REASONS == {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                            "content_filter": "refusal", "function_call": "tool_use"}


def test_response_without_usage_or_content() -> None:
    msg = messages_response_from_chat({"choices": [{"message": {"role": "assistant", "content": None},
                                                    "finish_reason": "stop"}]}, "m")
    assert msg["content"] == [] and msg["id"].startswith("msg_") and len(msg["id"]) > 4
    assert msg["usage"] == {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                            "cache_creation_input_tokens": 0}
    anthropic.types.Message.model_validate(msg)


def test_response_reasoning_field() -> None:
    msg = messages_response_from_chat(chat_completion({"role": "assistant", "content": "4", "reasoning": "2+2"}), "m")
    assert msg["content"] == [{"type": "thinking", "thinking": "2+2", "signature": ""}, {"type": "text", "text": "4"}]


def test_response_legacy_function_call() -> None:
    msg = messages_response_from_chat(chat_completion(
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"a":1}'}},
        "function_call"), "m")
    (block,) = msg["content"]
    assert block["type"] == "tool_use" and block["name"] == "f" and block["input"] == {"a": 1}
    assert msg["stop_reason"] == "tool_use"


# --------------------------------------------------------------------------- OpenAI stream -> Messages stream


def sse(*chunks: Any) -> bytes:
    return b"".join(b"data: " + (c if isinstance(c, bytes) else dumps(c).encode()) + b"\n\n" for c in chunks)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
                           "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def events(out: bytes) -> list[dict[str, Any]]:
    """The output's events, each frame ``event: T`` + ``data:`` of type T and valid for the SDK."""
    assert out.endswith(b"\n\n")
    parsed: list[dict[str, Any]] = []
    for frame in out.decode().split("\n\n")[:-1]:
        head, data = frame.split("\n")
        assert head.startswith("event: ") and data.startswith("data: "), frame
        obj = json.loads(data[6:])
        assert obj["type"] == head[7:]
        if obj["type"] == "error":
            anthropic.types.ErrorResponse.model_validate(obj)
        elif obj["type"] != "ping":  # ping is no RawMessageStreamEvent: the SDK skips it by name
            EVENT.validate_python(obj)
        parsed.append(obj)
    return parsed


def accumulate(evs: list[dict[str, Any]]) -> Any:
    """The message the SDK's own stream accumulator builds from these events."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for ev in evs:
        if ev["type"] != "ping":
            snapshot = accumulate_event(event=EVENT.validate_python(ev), current_snapshot=snapshot,
                                        json_bufs=json_bufs)
    return snapshot


SDK_ARGS: dict[str, Any] = {"model": "claude-sonnet-4", "max_tokens": 100,
                            "messages": [{"role": "user", "content": "Hi"}]}


def sdk_client(body: bytes, stream: bool = True) -> anthropic.Anthropic:
    """An SDK client whose every request is answered with ``body`` (in-process, no socket)."""
    headers = {"content-type": "text/event-stream" if stream else "application/json"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=body))
    return anthropic.Anthropic(api_key="sk-test", base_url="http://relay.test",
                               http_client=httpx.Client(transport=transport), max_retries=0)


def run_stream(pieces: list[bytes], input_tokens: int = 42) -> tuple[MessagesFromChatStream, bytes]:
    ts = MessagesFromChatStream("claude-sonnet-4", input_tokens)
    return ts, transcode(ts, pieces)


USAGE = {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62, "prompt_tokens_details": {"cached_tokens": 8}}

THINK_TEXT_TOOLS = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Need "}), chunk({"reasoning_content": "weather."}),
    chunk({"content": "Checking "}), chunk({"content": "Paris ☀."}),
    chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                           "function": {"name": "weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                           "function": {"name": "time", "arguments": '{"tz":"CET"}'}}]}),
    chunk({}, "tool_calls"),
    chunk(None, usage=USAGE),
    b"[DONE]",
)


def test_stream_thinking_text_tools_every_split() -> None:
    def check(ts: MessagesFromChatStream, out: bytes) -> None:
        evs = events(out)
        assert [(e["type"], e.get("index"), (e.get("delta") or e.get("content_block") or {}).get("type"))
                for e in evs] == [
            ("message_start", None, None), ("ping", None, None),
            ("content_block_start", 0, "thinking"), ("content_block_delta", 0, "thinking_delta"),
            ("content_block_delta", 0, "thinking_delta"), ("content_block_delta", 0, "signature_delta"),
            ("content_block_stop", 0, None),
            ("content_block_start", 1, "text"), ("content_block_delta", 1, "text_delta"),
            ("content_block_delta", 1, "text_delta"), ("content_block_stop", 1, None),
            ("content_block_start", 2, "tool_use"), ("content_block_delta", 2, "input_json_delta"),
            ("content_block_delta", 2, "input_json_delta"), ("content_block_stop", 2, None),
            ("content_block_start", 3, "tool_use"), ("content_block_delta", 3, "input_json_delta"),
            ("content_block_stop", 3, None),
            ("message_delta", None, None), ("message_stop", None, None),
        ]
        start = evs[0]["message"]
        assert start["id"] == "msg_s1" and start["model"] == "claude-sonnet-4"
        assert start["usage"]["input_tokens"] == 42
        assert evs[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
        assert evs[-2]["usage"] == {"input_tokens": 42, "cache_read_input_tokens": 8, "output_tokens": 12}
        msg = accumulate(evs)
        assert [b.type for b in msg.content] == ["thinking", "text", "tool_use", "tool_use"]
        assert msg.content[0].thinking == "Need weather." and msg.content[0].signature == ""
        assert msg.content[1].text == "Checking Paris ☀."
        assert (msg.content[2].id, msg.content[2].name, msg.content[2].input) == ("call_a", "weather", {"city": "Paris"})
        assert (msg.content[3].id, msg.content[3].name, msg.content[3].input) == ("call_b", "time", {"tz": "CET"})
        assert msg.stop_reason == "tool_use"
        assert (msg.usage.input_tokens, msg.usage.output_tokens, msg.usage.cache_read_input_tokens) == (42, 12, 8)
        assert ts.completion_text == 'Need weather.Checking Paris ☀.weather{"city":"Paris"}time{"tz":"CET"}'

    ts, out = assert_every_split(THINK_TEXT_TOOLS, run_stream, check, Usage(50, 12))
    assert run_stream(byte_by_byte(THINK_TEXT_TOOLS))[1] == out
    with sdk_client(out).messages.stream(**SDK_ARGS) as stream:  # the SDK's own client reads it
        final = stream.get_final_message()
    assert final.model_dump() == accumulate(events(out)).model_dump()
    assert final.content[2].input == {"city": "Paris"} and final.usage.output_tokens == 12


def test_stream_usage_chunk_ends_the_message_before_done() -> None:
    ts = MessagesFromChatStream("m", 3)
    before = b"".join(ts.feed(sse(chunk({"content": "Hi"}), chunk({}, "length"), chunk(None, usage=USAGE))))
    assert [e["type"] for e in events(before)][-2:] == ["message_delta", "message_stop"]
    assert events(before)[-2]["delta"]["stop_reason"] == "max_tokens"
    assert ts.feed(sse(b"[DONE]")) == [] and ts.finish() == [] and ts.done


def test_stream_without_finish_reason_or_usage() -> None:
    data = sse(chunk({"role": "assistant"}), chunk({"content": "Hello there"}))
    ts, out = run_stream([data])
    evs = events(out)
    assert [e["type"] for e in evs] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                        "content_block_stop", "message_delta", "message_stop"]
    assert evs[-2]["delta"]["stop_reason"] == "end_turn"
    assert evs[-2]["usage"]["output_tokens"] > 0  # counted locally
    assert ts.usage is None and not ts.done and ts.error is None
    assert accumulate(evs).content[0].text == "Hello there"
    assert run_stream(byte_by_byte(data))[1] == out


def test_empty_stream_is_an_empty_message() -> None:
    ts, out = run_stream([b""])
    msg = accumulate(events(out))
    assert msg.content == [] and msg.stop_reason == "end_turn" and msg.id.startswith("msg_")


def test_tool_call_whole_in_one_chunk_and_text_after() -> None:
    data = sse(
        chunk({"tool_calls": [
            {"index": 0, "id": "c1", "function": {"name": "a", "arguments": '{"x":1}'}},
            {"index": 1, "id": "c2", "function": {"name": "b", "arguments": {"y": 2}}},
        ]}),
        chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 2}),
        b"[DONE]",
    )
    ts, out = run_stream([data])
    msg = accumulate(events(out))
    assert [(b.name, b.input) for b in msg.content] == [("a", {"x": 1}), ("b", {"y": 2})]
    assert msg.stop_reason == "tool_use" and ts.usage == Usage(5, 2) and ts.done


def test_stream_error_frame() -> None:
    data = sse(chunk({"content": "partial"}),
               {"error": {"message": "upstream overloaded", "type": "server_error", "code": 529}},
               chunk({"content": "ignored"}))
    ts, out = run_stream([data])
    evs = events(out)
    assert [e["type"] for e in evs] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                        "error"]
    assert evs[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "upstream overloaded"}}
    assert ts.error == "upstream overloaded" and not ts.done
    with pytest.raises(anthropic.APIStatusError, match="upstream overloaded"):
        with sdk_client(out).messages.stream(**SDK_ARGS) as stream:
            stream.get_final_message()


# --------------------------------------------------------------------------- pass-through


def anthropic_sse(etype: str, payload: dict[str, Any]) -> bytes:
    return f"event: {etype}\ndata: {dumps({'type': etype, **payload})}\n\n".encode()


CLAUDE_STREAM = b"".join([
    anthropic_sse("message_start", {"message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5,
                  "output_tokens": 1}}}),
    anthropic_sse("ping", {}),
    anthropic_sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    anthropic_sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Bonjour"}}),
    anthropic_sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": " à tous"}}),
    anthropic_sse("content_block_stop", {"index": 0}),
    anthropic_sse("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                    "usage": {"output_tokens": 7}}),
    anthropic_sse("message_stop", {}),
])


def test_passthrough_stream_every_split() -> None:
    def run(pieces: list[bytes]) -> tuple[MessagesPassthroughStream, bytes]:
        ts = MessagesPassthroughStream()
        outs = [ts.feed(p) for p in pieces]
        assert outs == [[p] if p else [] for p in pieces]  # the same chunks, nothing re-framed
        assert ts.finish() == []
        return ts, b"".join(b"".join(o) for o in outs)

    def check(ts: MessagesPassthroughStream, out: bytes) -> None:
        assert out == CLAUDE_STREAM and ts.completion_text == "Bonjour à tous"

    assert_every_split(CLAUDE_STREAM, run, check, Usage(115, 7))


def test_passthrough_error_event() -> None:
    ts = MessagesPassthroughStream()
    data = anthropic_sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert ts.feed(data) == [data] and ts.finish() == []
    assert ts.error == "Overloaded" and ts.usage is None and not ts.done


# --------------------------------------------------------------------------- helpers


def test_usage_of_message() -> None:
    body = {"type": "message", "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 2}}
    assert usage_of_message(body) == Usage(5, 4)
    assert usage_of_message(json.dumps(body).encode()) == Usage(5, 4)
    assert usage_of_message(b"not json") is None and usage_of_message({"type": "message"}) is None


@pytest.mark.parametrize("status, etype", [
    (400, "invalid_request_error"), (401, "authentication_error"), (402, "billing_error"),
    (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"), (429, "rate_limit_error"),
    (500, "api_error"), (502, "api_error"), (503, "api_error"), (504, "timeout_error"), (529, "overloaded_error"),
    (418, "api_error"),
])
def test_anthropic_error_body(status: int, etype: str) -> None:
    body = anthropic_error_body(status, "nope")
    assert body == {"type": "error", "error": {"type": etype, "message": "nope"}}
    if status != 413:  # request_too_large is in Anthropic's error docs, not in the SDK's type union
        anthropic.types.ErrorResponse.model_validate(body)


def test_count_input_tokens_estimate() -> None:
    base = {"messages": [{"role": "user", "content": "Hello, how are you today?"}]}
    n = count_input_tokens(base, "claude-x")
    assert n > 0
    more = {**base, "system": [{"type": "text", "text": "You are a helpful assistant."}], "tools": [
        {"name": "weather", "description": "Get weather", "input_schema": {"type": "object"}}]}
    assert count_input_tokens(more, "claude-x") > n
    with_tools_history = {"messages": [*base["messages"],
                                       {"role": "assistant", "content": [
                                           {"type": "tool_use", "id": "t", "name": "weather", "input": {"c": "P"}}]},
                                       {"role": "user", "content": [
                                           {"type": "tool_result", "tool_use_id": "t", "content": "sunny"}]}]}
    assert count_input_tokens(with_tools_history, "claude-x") > n
    assert count_input_tokens({}, "claude-x") == 0
