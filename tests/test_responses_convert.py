"""The Responses API converters (adaptors/responses.py): requests to chat, chat answers and chat
streams to Responses objects and events (each checked against the OpenAI SDK's types, its stream
accumulator and its client), and the pass-through readers."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx2
import openai
import pytest
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletionMessageParam
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from adaptors.responses import (
    DetailedUsage,
    ResponsesFromChatStream,
    ResponsesPassthroughStream,
    ResponsesRequestError,
    chat_request_from_responses,
    response_id_of,
    responses_from_chat,
    usage_of_response,
)
from tests.adaptor_helpers import assert_every_split, transcode

EVENT = TypeAdapter(ResponseStreamEvent)
MESSAGES = TypeAdapter(list[ChatCompletionMessageParam])
RID = "resp_abc"
CREATED = 1_700_000_000
WEATHER = {"type": "function", "name": "weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": False}
CHAT_USAGE = {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29,
              "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 4}}
USAGE = DetailedUsage(20, 9, cached_tokens=8, reasoning_tokens=4)


# --------------------------------------------------------------------------- request


def test_request_string_input_instructions_and_options() -> None:
    body = {"model": "gpt-x", "input": "Hi", "instructions": "Be brief", "max_output_tokens": 50,
            "temperature": 0.5, "top_p": 0.9, "user": "u1", "metadata": {"k": "v"}, "store": True,
            "reasoning": {"effort": "low", "summary": "auto"}, "stream": True}
    assert chat_request_from_responses(body, "up-model") == {
        "model": "up-model",
        "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}],
        "max_completion_tokens": 50, "temperature": 0.5, "top_p": 0.9, "user": "u1",
        "reasoning_effort": "low", "stream": True, "stream_options": {"include_usage": True},
    }


def test_request_items_tools_and_history() -> None:
    body = {
        "model": "gpt-x",
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "Use tools"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Weather?"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "low"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"},
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Think"}]},
            {"type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Checking", "annotations": []}]},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city":"Rome"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "cold"},
            {"type": "function_call_output", "call_id": "call_2",
             "output": [{"type": "input_text", "text": "warm"}]},
            {"type": "function_call", "call_id": "call_3", "name": "weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_3", "output": "?"},
        ],
        "tools": [WEATHER], "tool_choice": {"type": "function", "name": "weather"}, "parallel_tool_calls": True,
    }
    chat = chat_request_from_responses(body, "m")
    call = lambda i, city: {"id": f"call_{i}", "type": "function",  # noqa: E731
                            "function": {"name": "weather", "arguments": city}}
    assert chat["messages"] == [
        {"role": "system", "content": "Use tools"},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather?"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}},
        ]},
        {"role": "assistant", "content": "Checking", "reasoning_content": "Think",
         "tool_calls": [call(1, '{"city":"Oslo"}'), call(2, '{"city":"Rome"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "cold"},
        {"role": "tool", "tool_call_id": "call_2", "content": "warm"},
        {"role": "assistant", "content": None, "tool_calls": [call(3, "{}")]},
        {"role": "tool", "tool_call_id": "call_3", "content": "?"},
    ]
    MESSAGES.validate_python(chat["messages"])
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "weather", "description": "Weather of a city", "parameters": WEATHER["parameters"], "strict": False}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert chat["parallel_tool_calls"] is True


@pytest.mark.parametrize("text, expected", [
    ({"format": {"type": "json_schema", "name": "city", "strict": True,
                 "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}},
     {"type": "json_schema", "json_schema": {"name": "city", "strict": True,
                                             "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}),
    ({"format": {"type": "json_object"}}, {"type": "json_object"}),
    ({"format": {"type": "text"}}, None),
])
def test_request_text_format(text: dict[str, Any], expected: dict[str, Any] | None) -> None:
    chat = chat_request_from_responses({"input": "x", "text": text}, "m")
    assert chat.get("response_format") == expected


@pytest.mark.parametrize("body, param, words", [
    ({}, "input", "required"),
    ({"input": 5}, "input", "string or an array"),
    ({"input": []}, "input", "no message"),
    ({"input": ["hi"]}, "input[0]", "object"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "role"),
    ({"input": "x", "previous_response_id": "resp_1"}, "previous_response_id", "whole conversation"),
    ({"input": "x", "conversation": "conv_1"}, "conversation", "stored"),
    ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt", "Responses API"),
    ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", "Responses API"),
    ({"input": "x", "tools": [WEATHER, {"type": "file_search", "vector_store_ids": []}]}, "tools[1].type",
     "Responses API"),
    ({"input": "x", "tool_choice": {"type": "web_search_preview"}}, "tool_choice", "Responses API"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1", "detail": "auto"}]}]},
     "input[0].content[0].image_url", "file_id"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "stored"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type", "Responses API"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id", "call_id"),
    ({"input": "x", "max_output_tokens": -3}, "max_output_tokens", "positive"),
    ({"input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format", "schema"),
])
def test_request_errors(body: dict[str, Any], param: str, words: str) -> None:
    with pytest.raises(ResponsesRequestError) as err:
        chat_request_from_responses(body, "m")
    assert isinstance(err.value, ValueError)
    assert err.value.param == param and words in err.value.message


# --------------------------------------------------------------------------- chat answer → Response


def chat_completion(message: dict[str, Any], finish: str = "stop", usage: Any = CHAT_USAGE) -> dict[str, Any]:
    out = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up-model",
           "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def test_response_text_and_usage() -> None:
    request = {"model": "gpt-x", "input": "Hi", "instructions": "Be brief", "max_output_tokens": 50,
               "metadata": {"k": "v"}, "temperature": 0.2}
    body = responses_from_chat(chat_completion({"content": "Hello!"}), request, RID, CREATED)
    resp = Response.model_validate(body)
    assert resp.output_text == "Hello!" and resp.status == "completed" and resp.model == "gpt-x"
    assert body["output"] == [{"id": "msg_abc_0", "type": "message", "role": "assistant", "status": "completed",
                               "content": [{"type": "output_text", "text": "Hello!", "annotations": [],
                                            "logprobs": []}]}]
    assert body["usage"] == {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
                             "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4},
                             "total_tokens": 29}
    assert (resp.instructions, resp.max_output_tokens, resp.metadata, resp.temperature) == \
        ("Be brief", 50, {"k": "v"}, 0.2)
    assert (resp.tools, resp.tool_choice, resp.parallel_tool_calls, resp.previous_response_id) == \
        ([], "auto", True, None)
    assert usage_of_response(body) == USAGE


def test_response_reasoning_and_two_tool_calls() -> None:
    message = {"content": None, "reasoning_content": "Two cities", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
    ]}
    request = {"model": "gpt-x", "input": "x", "tools": [WEATHER], "tool_choice": "required",
               "text": {"format": {"type": "json_object"}}}
    body = responses_from_chat(chat_completion(message, "tool_calls"), request, RID, CREATED)
    resp = Response.model_validate(body)
    assert [o.type for o in resp.output] == ["reasoning", "function_call", "function_call"]
    assert body["output"][0] == {"id": "rs_abc_0", "type": "reasoning", "status": "completed",
                                 "summary": [{"type": "summary_text", "text": "Two cities"}]}
    assert body["output"][2] == {"id": "fc_abc_2", "type": "function_call", "call_id": "call_2", "name": "weather",
                                 "arguments": '{"city":"Rome"}', "status": "completed"}
    assert resp.tools[0].type == "function" and resp.tool_choice == "required"
    assert body["text"] == {"format": {"type": "json_object"}}


@pytest.mark.parametrize("finish, reason", [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_response_incomplete(finish: str, reason: str) -> None:
    body = responses_from_chat(chat_completion({"content": "Hel"}, finish, usage=None), {"input": "x"}, RID,
                               CREATED)
    resp = Response.model_validate(body)
    assert resp.status == "incomplete" and resp.incomplete_details is not None
    assert resp.incomplete_details.reason == reason and body["output"][0]["status"] == "incomplete"
    assert resp.usage is None and resp.model == "up-model"  # the request named no model
    assert usage_of_response(body) is None


# --------------------------------------------------------------------------- chat stream → Responses events


def chat_sse(*deltas: dict[str, Any], finish: str | None = "stop", usage: Any = CHAT_USAGE,
             done: bool = True) -> bytes:
    """An OpenAI chat stream: one chunk per delta, the finish chunk, the usage-only chunk, [DONE]."""
    def chunk(choices: list[Any], **kw: Any) -> bytes:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": choices}
        return b"data: " + json.dumps({**body, **kw}).encode() + b"\n\n"
    frames = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    frames += [chunk([{"index": 0, "delta": d, "finish_reason": None}]) for d in deltas]
    if finish:
        frames.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
    if usage is not None:
        frames.append(chunk([], usage=usage))
    if done:
        frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


def decode_events(out: bytes) -> list[dict[str, Any]]:
    """Responses SSE frames: each ``event:`` names its data's type, sequence numbers count from 0,
    and every event is one the SDK's union accepts."""
    assert out.endswith(b"\n\n")
    events = []
    for i, frame in enumerate(out.decode().split("\n\n")[:-1]):
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}" and event["sequence_number"] == i
        EVENT.validate_python(event)
        events.append(event)
    return events


def accumulate(events: list[dict[str, Any]], tools: list[Any] | None = None) -> Response:
    """The SDK's stream accumulator over the events: the final response it parsed."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=tools or openai.omit, text_format=openai.omit)
    final = None
    for event in events:
        for seen in state.handle_event(EVENT.validate_python(event)):
            if seen.type in ("response.completed", "response.incomplete", "response.failed"):
                final = seen.response
    assert final is not None
    return final


def run_stream(data: bytes, request: dict[str, Any] | None = None,
               check: Callable[[ResponsesFromChatStream, bytes], None] = lambda ts, out: None,
               usage: DetailedUsage | None = USAGE) -> tuple[ResponsesFromChatStream, list[dict[str, Any]]]:
    """The transcoder over ``data`` cut at every byte (the output the same each time): its events."""
    def run(pieces: list[bytes]) -> tuple[ResponsesFromChatStream, bytes]:
        ts = ResponsesFromChatStream(request or {"model": "gpt-x", "input": "x"}, RID, CREATED, "gpt-x")
        return ts, transcode(ts, pieces)
    ts, out = assert_every_split(data, run, check, usage)
    return ts, decode_events(out)


def test_stream_text() -> None:
    ts, events = run_stream(chat_sse({"content": "Hel"}, {"content": "lo"}))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    delta = events[4]
    assert (delta["item_id"], delta["output_index"], delta["content_index"], delta["logprobs"]) == \
        ("msg_abc_0", 0, 0, [])
    final = events[-1]["response"]
    assert final == responses_from_chat(chat_completion({"content": "Hello"}), {"model": "gpt-x", "input": "x"},
                                        RID, CREATED)
    assert accumulate(events).output_text == "Hello"
    assert ts.completion_text == "Hello"


def test_stream_reasoning_text_and_two_tool_calls() -> None:
    deltas = [
        {"reasoning_content": "Two "}, {"reasoning_content": "cities"},
        {"content": "Checking"},
        {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                         "function": {"name": "weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]},
        {"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                         "function": {"name": "weather", "arguments": '{"city":"Rome"}'}}]},
    ]
    request = {"model": "gpt-x", "input": "x", "tools": [WEATHER]}
    ts, events = run_stream(chat_sse(*deltas, finish="tool_calls"), request)
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"], e["item"]["status"]) for e in added] == [
        (0, "reasoning", "in_progress"), (1, "message", "in_progress"),
        (2, "function_call", "in_progress"), (3, "function_call", "in_progress")]
    assert added[2]["item"] == {"id": "fc_abc_2", "type": "function_call", "call_id": "call_1", "name": "weather",
                                "arguments": "", "status": "in_progress"}
    assert [e["arguments"] for e in events if e["type"] == "response.function_call_arguments.done"] == \
        ['{"city":"Oslo"}', '{"city":"Rome"}']
    final = events[-1]["response"]
    message = {"content": "Checking", "reasoning_content": "Two cities", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}}]}
    assert final == responses_from_chat(chat_completion(message, "tool_calls"), request, RID, CREATED)
    resp = accumulate(events, [WEATHER])
    assert [o.type for o in resp.output] == ["reasoning", "message", "function_call", "function_call"]
    assert resp.usage is not None and resp.usage.input_tokens_details.cached_tokens == 8
    assert resp.usage.output_tokens_details.reasoning_tokens == 4
    assert ts.completion_text == 'Two citiesCheckingweather{"city":"Oslo"}weather{"city":"Rome"}'


def test_stream_incomplete_on_length() -> None:
    ts, events = run_stream(chat_sse({"content": "Hel"}, finish="length"))
    final = events[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["status"] == "incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"
    assert accumulate(events).output_text == "Hel"


def test_stream_ends_without_finish_reason_or_done() -> None:
    data = chat_sse({"content": "Hi"}, finish=None, usage=None, done=False)
    for pieces in ([data], [data[:-1]]):  # the last frame's blank line may be missing too
        ts = ResponsesFromChatStream({"input": "x"}, RID, CREATED, "gpt-x")
        events = decode_events(transcode(ts, pieces))
        assert events[-1]["type"] == "response.completed" and events[-1]["response"]["usage"] is None
        assert Response.model_validate(events[-1]["response"]).output_text == "Hi"
        assert ts.usage is None and not ts.done and ts.error is None


def test_stream_empty_answer() -> None:
    _, events = run_stream(chat_sse())
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.completed"]
    assert events[-1]["response"]["output"] == []


def test_stream_error_frame_fails_the_response() -> None:
    error = {"message": "upstream exploded", "type": "upstream_error", "param": "", "code": None}
    data = chat_sse({"content": "Hel"}, finish=None, usage=None, done=False)
    data += b"data: " + json.dumps({"error": error}).encode() + b"\n\ndata: [DONE]\n\n"
    reference = None
    for i in range(len(data) + 1):
        ts = ResponsesFromChatStream({"input": "x"}, RID, CREATED, "gpt-x")
        out = transcode(ts, [data[:i], data[i:]])
        assert reference in (None, out) and ts.error == "upstream exploded" and ts.done, f"split at {i}"
        reference = out
    assert reference is not None
    events = decode_events(reference)
    assert [e["type"] for e in events][-2:] == ["response.output_text.delta", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "upstream exploded"}
    assert failed["output"][0]["status"] == "incomplete"
    assert accumulate(events).status == "failed"
    assert [e.type for e in sdk_client(reference).responses.create(model="gpt-x", input="x", stream=True)][-1] == \
        "response.failed"  # the SDK yields the event, it does not raise


# --------------------------------------------------------------------------- through the SDK's client


def sdk_client(body: bytes) -> openai.OpenAI:
    """An SDK client whose every request is answered with this SSE body (strict validation on)."""
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    return openai.OpenAI(api_key="sk-test", base_url="http://relay.test/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
                         _strict_response_validation=True)


def test_sdk_reads_the_stream() -> None:
    deltas = [{"reasoning_content": "Hm"}, {"content": "Hi "}, {"content": "there"},
              {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}]}]
    ts = ResponsesFromChatStream({"model": "gpt-x", "input": "x", "tools": [WEATHER]}, RID, CREATED, "gpt-x")
    out = transcode(ts, [chat_sse(*deltas, finish="tool_calls")])
    client = sdk_client(out)
    with client.responses.stream(model="gpt-x", input="x", tools=[WEATHER]) as stream:  # type: ignore[list-item]
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert texts == ["Hi ", "there"] and final.output_text == "Hi there" and final.id == RID
    assert final.output[-1].type == "function_call" and final.output[-1].arguments == '{"city":"Oslo"}'
    raw = list(client.responses.create(model="gpt-x", input="x", stream=True))
    assert [e.sequence_number for e in raw] == list(range(len(raw)))


# --------------------------------------------------------------------------- pass-through


def test_passthrough_unchanged_with_usage_id_and_text() -> None:
    ts0 = ResponsesFromChatStream({"input": "x"}, RID, CREATED, "gpt-x")
    data = transcode(ts0, [chat_sse({"reasoning_content": "Hm"}, {"content": "Hel"}, {"content": "lo"})])
    for i in range(len(data) + 1):
        ts = ResponsesPassthroughStream()
        assert transcode(ts, [data[:i], data[i:]]) == data, f"split at {i}"
        assert (ts.response_id, ts.usage, ts.completion_text, ts.done, ts.error) == \
            (RID, USAGE, "HmHello", True, None), f"split at {i}"


def test_passthrough_failed_and_error_events() -> None:
    failed = {"type": "response.failed", "sequence_number": 1, "response": {
        "id": "resp_9", "status": "failed", "error": {"code": "server_error", "message": "boom"}, "usage": None}}
    ts = ResponsesPassthroughStream()
    ts.feed(b"event: response.failed\ndata: " + json.dumps(failed).encode())  # no blank line: read at finish
    assert ts.finish() == [] and (ts.response_id, ts.error, ts.done, ts.usage) == ("resp_9", "boom", True, None)
    ts = ResponsesPassthroughStream()
    ts.feed(b'event: error\ndata: {"type":"error","sequence_number":0,"message":"rate","code":"429"}\n\n')
    assert ts.error == "rate" and not ts.done


def test_response_id_of() -> None:
    assert response_id_of({"id": RID, "object": "response"}) == RID
    assert response_id_of(json.dumps({"id": RID}).encode()) == RID
    assert response_id_of(b"not json") is None and response_id_of({"id": 3}) is None
