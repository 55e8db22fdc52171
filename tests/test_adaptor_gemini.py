"""Gemini (type 24) adaptor: pure conversion tests, the stream transcoder fed a recorded
stream split everywhere, round trips with the fake Gemini server, and OpenAI SDK clients
talking to a Gemini channel through OneRelay."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from types import SimpleNamespace
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry, families
from adaptors.base import CHAT, DONE_FRAME, EMBEDDINGS, ChannelTarget, RelayRequest, Usage
from adaptors.gemini import (
    SAFETY_CATEGORIES,
    SKIP_SIGNATURE,
    GeminiAdaptor,
    GeminiStream,
    convert_messages,
    embedding_texts,
    finish_reason,
    gemini_usage,
    media_part,
    parse_gemini_error,
    sanitize_schema,
    to_gemini_embeddings,
    to_gemini_request,
    to_openai_embeddings,
    to_openai_response,
)
from adaptors.registry import PROVIDERS
from tests.adaptor_helpers import (
    ask,
    assert_every_split,
    byte_by_byte,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    read_text,
    relay_request,
    send,
    send_stream,
    sequential_ids,
    serving,
    simplify_chunks,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_gemini import (
    EMBEDDING,
    PROMPT_TOKENS,
    RESPONSE_ID,
    TEXT_REPLY,
    TEXT_TOKENS,
    THOUGHT_SIGNATURE,
    TOOL_ARGS,
    TOOL_RESULT_REPLY,
    TOOL_TOKENS,
    make_gemini_app,
)

MODEL = "gemini-2.0-flash"


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-gemini", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 7, "type": 24, "key": "AIza-test"}, **kw)


# --------------------------------------------------------------------------- request


def test_system_developer_roles_and_merging() -> None:
    out = to_gemini_request({"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Salut"},
        {"role": "assistant", "content": [{"type": "text", "text": "Au revoir"}]},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Again"},
    ]})
    assert out["systemInstruction"] == {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}, {"text": "Bye"}]},
        {"role": "model", "parts": [{"text": "Salut"}, {"text": "Au revoir"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert "systemInstruction" not in to_gemini_request({"messages": [{"role": "user", "content": "x"}]})


def test_images_audio_and_files() -> None:
    out = to_gemini_request({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": "gs://bucket/dog.webp"},
        {"type": "image_url", "image_url": {"url": "https://example.com/noext"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "text", "text": ""},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
    ]}]})
    assert out["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "gs://bucket/dog.webp"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/noext"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
    ]
    assert media_part("ftp://x") is None
    # assistants' images are not sent back (Gemini's model turn carries text and calls)
    _, contents = convert_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}])
    assert contents == [{"role": "user", "parts": [{"text": "a"}]}]


def test_tool_calls_and_results() -> None:
    _, contents = convert_messages([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18}'},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "Thanks, summarise."},
    ])
    assert contents == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}},
        ]},
        {"role": "user", "parts": [{"text": "Thanks, summarise."}]},
    ]


def test_tool_result_fallback_names_and_legacy_function_role() -> None:
    _, contents = convert_messages([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": "{bad"}},
        {"role": "function", "name": "lookup", "content": "[1, 2]"},
        {"role": "tool", "tool_call_id": "unknown_id", "content": ""},
    ])
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {}}}]}
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "lookup", "response": {"content": "[1, 2]"}}},
        {"functionResponse": {"name": "unknown_id", "response": {"content": ""}}},
    ]


def test_thought_signatures_round_trip_and_gemini_3_sentinel() -> None:
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"},
             "extra_content": {"google": {"thought_signature": "SIG"}}},
            {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "1"},
        {"role": "tool", "tool_call_id": "call_b", "content": "2"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_c", "content": "3"},
    ]
    _, contents = convert_messages(history, "gemini-2.5-flash")
    assert contents[1]["parts"][0]["thoughtSignature"] == "SIG"
    assert "thoughtSignature" not in contents[1]["parts"][1]
    assert "thoughtSignature" not in contents[3]["parts"][0]  # only Gemini 3 needs one
    _, contents = convert_messages(history, "gemini-3-pro-preview")
    assert contents[1]["parts"][0]["thoughtSignature"] == "SIG"  # a real one is never replaced
    assert contents[3]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


def test_sanitize_schema_strips_what_gemini_rejects() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "title": "Args",
        "additionalProperties": False,
        "properties": {
            "city": {"type": "string", "description": "City", "format": "uri", "minLength": 1, "default": "x"},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "units": {"$ref": "#/$defs/units"},
            "mode": {"const": "fast"},
            "count": {"type": "integer", "enum": [1, 2], "exclusiveMinimum": 0, "format": "int32"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 3},
            "loose": {"type": "array"},
            "opt": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "multi": {"type": ["string", "integer"]},
            "obj": {"type": "object", "propertyNames": {"pattern": "^a"}, "properties": {}},
            "both": {"allOf": [{"type": "string"}, {"description": "merged"}]},
        },
        "required": ["city", "ghost", "city"],
        "$defs": {"units": {"type": "string", "enum": ["C", "F", None]}},
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "title": "Args",
        "properties": {
            "city": {"type": "string", "description": "City", "minLength": 1},
            "when": {"type": "string", "format": "date-time", "nullable": True},
            "units": {"type": "string", "enum": ["C", "F"], "nullable": True},
            "mode": {"type": "string", "enum": ["fast"]},
            "count": {"type": "integer", "minimum": 0, "format": "int32"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "loose": {"type": "array", "items": {"type": "string"}},
            "opt": {"type": "number", "nullable": True},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "multi": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "obj": {"type": "object"},
            "both": {"type": "string", "description": "merged"},
        },
        "required": ["city"],
    }


def test_sanitize_schema_recursive_ref_terminates() -> None:
    schema = {"type": "object", "properties": {"node": {"$ref": "#/definitions/Node"}},
              "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}}}
    out = sanitize_schema(schema)
    depth, node = 0, out["properties"]["node"]
    while "properties" in node:
        node = node["properties"]["child"]
        depth += 1
    assert 3 < depth < 30
    assert sanitize_schema(None) == {} and sanitize_schema("x") == {}


def test_tools_and_tool_choice() -> None:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
            "additionalProperties": False}}},
        {"type": "function", "function": {"name": "noargs", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "bare"}},
        {"type": "code_interpreter"},
    ]
    body = {"messages": [{"role": "user", "content": "x"}], "tools": tools}
    out = to_gemini_request(body)
    assert out["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "noargs"},
        {"name": "bare"},
    ]}]
    assert "toolConfig" not in out
    for choice, expected in [
        ("auto", {"mode": "AUTO"}), ("required", {"mode": "ANY"}), ("none", {"mode": "NONE"}),
        ({"type": "function", "function": {"name": "get_weather"}},
         {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ]:
        assert to_gemini_request({**body, "tool_choice": choice})["toolConfig"] == {"functionCallingConfig": expected}
    without = to_gemini_request({"messages": body["messages"], "tool_choice": "required"})
    assert "toolConfig" not in without and "tools" not in without


def test_generation_config_mapping() -> None:
    base = {"messages": [{"role": "user", "content": "x"}]}
    out = to_gemini_request({**base, "temperature": 0.3, "top_p": 0.9, "top_k": 40, "max_tokens": 100, "stop": "END",
                             "n": 2, "seed": 7, "response_format": {"type": "json_object"},
                             "presence_penalty": 0.5, "frequency_penalty": 0.5, "logprobs": True, "user": "u",
                             "stream_options": {"include_usage": True}, "parallel_tool_calls": False})
    assert out["generationConfig"] == {
        "temperature": 0.3, "topP": 0.9, "topK": 40, "maxOutputTokens": 100, "stopSequences": ["END"],
        "candidateCount": 2, "seed": 7, "responseMimeType": "application/json",
    }
    assert set(out) == {"contents", "generationConfig", "safetySettings"}
    cfg = to_gemini_request({**base, "temperature": 3, "top_p": -1, "max_tokens": 100, "max_completion_tokens": 50,
                             "stop": ["a", "", "b", "c", "d", "e", "f"], "n": 1})["generationConfig"]
    assert cfg == {"temperature": 2.0, "topP": 0.0, "maxOutputTokens": 50, "stopSequences": ["a", "b", "c", "d", "e"]}
    assert "generationConfig" not in to_gemini_request({**base, "max_tokens": None, "temperature": None})
    cfg = to_gemini_request({**base, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "strict": True, "schema": {"type": "object", "additionalProperties": False,
                                                "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}}
                            )["generationConfig"]
    assert cfg == {"responseMimeType": "application/json", "responseSchema": {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}
    assert to_gemini_request({**base, "response_format": {"type": "text"}}).get("generationConfig") is None
    assert to_gemini_request({**base, "reasoning_effort": "low"})["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    assert to_gemini_request({**base, "reasoning_effort": "none"})["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0}}


def test_safety_settings_every_category() -> None:
    out = to_gemini_request({"messages": [{"role": "user", "content": "x"}]})
    assert out["safetySettings"] == [{"category": c, "threshold": "BLOCK_NONE"} for c in SAFETY_CATEGORIES]
    assert len(SAFETY_CATEGORIES) == 5
    out = to_gemini_request({"messages": [{"role": "user", "content": "x"}]}, safety_threshold="OFF")
    assert {s["threshold"] for s in out["safetySettings"]} == {"OFF"}


def test_build_request_urls_headers_and_settings() -> None:
    ad = GeminiAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.method == "POST"
    assert up.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
    assert up.headers == {"Content-Type": "application/json", "x-goog-api-key": "AIza-test"}
    assert up.body is not None and b" " not in up.body.replace(b'"Hi"', b"")  # compact JSON
    assert "key=" not in up.url  # the key never goes in the URL

    stream = ad.build_request(make_req(stream=True), target(base_url="http://127.0.0.1:9/"))
    assert stream.url == "http://127.0.0.1:9/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    emb = ad.build_request(make_req({"model": "e", "input": "x"}, mode=EMBEDDINGS, model="text-embedding-004"),
                           target(config={"api_version": "v1"}))
    assert emb.url == "https://generativelanguage.googleapis.com/v1/models/text-embedding-004:batchEmbedContents"
    up = ad.build_request(make_req(model="models/gemini-2.5-pro"), target(base_url="https://proxy.example/v1beta"))
    assert up.url == "https://proxy.example/v1beta/models/gemini-2.5-pro:generateContent"
    up = ad.build_request(make_req(model="tunedModels/my-model-1"), target())
    assert up.url.endswith("/v1beta/tunedModels/my-model-1:generateContent")

    custom = GeminiAdaptor(SimpleNamespace(gemini_version="v1", gemini_safety_setting="BLOCK_ONLY_HIGH"))
    up = custom.build_request(make_req(), target())
    assert "/v1/models/" in up.url
    assert {s["threshold"] for s in json.loads(up.body or b"")["safetySettings"]} == {"BLOCK_ONLY_HIGH"}
    up = custom.build_request(make_req(), target(config={"api_version": "v1alpha"}))
    assert "/v1alpha/models/" in up.url  # the channel's config wins over the server default


def test_registry_entry_and_families() -> None:
    s = PROVIDERS[24]
    assert s.adaptor == "gemini" and s.supported and s.auth == "api-key"
    assert set(s.modes) == {CHAT, EMBEDDINGS}
    assert s.models == ("gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-flash",
                        "gemini-2.5-pro", "text-embedding-004")
    assert s.test_model in s.models and s.color == "#4285f4" and s.note
    assert [c.key for c in s.config] == ["api_version"]
    assert isinstance(build_registry()[24], GeminiAdaptor)
    settings = SimpleNamespace(gemini_version="v1", gemini_safety_setting="OFF")
    (ad,) = [a for a in families(settings) if a.name == "gemini"]
    assert isinstance(ad, GeminiAdaptor) and ad.version == "v1" and ad.safety_threshold == "OFF"
    (ad,) = [a for a in families(None) if a.name == "gemini"]
    assert ad.version == "v1beta" and ad.safety_threshold == "BLOCK_NONE"
    assert GeminiAdaptor().modes == frozenset({CHAT, EMBEDDINGS})


# --------------------------------------------------------------------------- response


def test_parse_response_text_thoughts_and_usage() -> None:
    data = {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Let me think.", "thought": True},
            {"text": "Hello"}, {"text": " world"}]}, "finishReason": "STOP", "index": 0,
            "safetyRatings": []}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 20,
                          "totalTokenCount": 34},
        "modelVersion": "gemini-2.5-flash", "responseId": "abc123",
    }
    parsed = GeminiAdaptor().parse_response(make_req(), 200, json.dumps(data).encode())
    out = json.loads(parsed.body)
    assert out["object"] == "chat.completion" and out["model"] == "my-gemini" and out["id"] == "chatcmpl-abc123"
    assert out["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Hello world", "reasoning_content": "Let me think."}}]
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 24, "total_tokens": 34}
    assert parsed.usage == Usage(10, 24)
    assert parsed.completion_text == "Let me think.Hello world"


def test_parse_response_tool_calls() -> None:
    data = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "SIG"},
        {"functionCall": {"name": "get_time"}},
        {"functionCall": {"name": "given_id", "args": {}, "id": "abc"}},
    ]}, "finishReason": "STOP"}]}
    out, usage, text = to_openai_response(data, "m", created=1, new_id=sequential_ids())
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_test0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
         "extra_content": {"google": {"thought_signature": "SIG"}}},
        {"id": "call_test1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        {"id": "call_abc", "type": "function", "function": {"name": "given_id", "arguments": "{}"}},
    ]
    assert usage is None and text == 'get_weather{"city":"Paris"}get_time{}given_id{}'
    real = to_openai_response(data, "m")[0]["choices"][0]["message"]["tool_calls"][0]["id"]
    assert real.startswith("call_") and len(real) > 10


@pytest.mark.parametrize("reason, calls, expected", [
    ("STOP", False, "stop"), ("STOP", True, "tool_calls"), ("MAX_TOKENS", False, "length"),
    ("MAX_TOKENS", True, "length"), ("SAFETY", False, "content_filter"), ("RECITATION", False, "content_filter"),
    ("BLOCKLIST", False, "content_filter"), ("PROHIBITED_CONTENT", False, "content_filter"),
    ("SPII", False, "content_filter"), ("IMAGE_SAFETY", False, "content_filter"), ("OTHER", False, "stop"),
    ("MALFORMED_FUNCTION_CALL", False, "stop"),
])
def test_finish_reasons(reason: str, calls: bool, expected: str) -> None:
    assert finish_reason(reason, calls) == expected
    parts = [{"functionCall": {"name": "f", "args": {}}}] if calls else [{"text": "x"}]
    out, _, _ = to_openai_response({"candidates": [{"content": {"parts": parts}, "finishReason": reason}]}, "m")
    assert out["choices"][0]["finish_reason"] == expected
    assert finish_reason(None) is None


def test_parse_response_blocked_prompt_and_candidates() -> None:
    out, usage, _ = to_openai_response({"promptFeedback": {"blockReason": "SAFETY"},
                                        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}}, "m")
    assert out["choices"] == [{"index": 0, "message": {"role": "assistant", "content": ""},
                               "finish_reason": "content_filter"}]
    assert usage == Usage(7, 0)
    out, _, _ = to_openai_response({"candidates": [
        {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1},
        {"finishReason": "SAFETY", "index": 2}]}, "m")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] == [
        (0, "a", "stop"), (1, "b", "length"), (2, "", "content_filter")]


def test_usage_mapping() -> None:
    assert gemini_usage({"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}) == Usage(5, 3)
    assert gemini_usage({"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 4}) == Usage(5, 7)
    assert gemini_usage({"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 4,
                         "totalTokenCount": 12}) == Usage(5, 7)
    assert gemini_usage(None) is None


def test_parse_response_non_json_passthrough() -> None:
    parsed = GeminiAdaptor().parse_response(make_req(), 200, b"<html>oops</html>")
    assert parsed.body == b"<html>oops</html>" and parsed.usage is None


# --------------------------------------------------------------------------- embeddings


def test_embeddings_request() -> None:
    body = {"model": "e", "input": ["a", "b"], "dimensions": 256, "encoding_format": "float", "user": "u"}
    assert to_gemini_embeddings(body, "text-embedding-004") == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 256},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 256},
    ]}
    assert to_gemini_embeddings({"input": "one"}, "models/x")["requests"] == [
        {"model": "models/x", "content": {"parts": [{"text": "one"}]}}]
    # token ids (LangChain's default) are decoded back to text
    from relay.tokenizer import TokenCounter
    enc = TokenCounter().encoder_for("text-embedding-004")
    tokens = enc.encode("hello world")
    assert embedding_texts(tokens) == ["hello world"]
    assert embedding_texts([tokens, enc.encode("bye")]) == ["hello world", "bye"]


def test_embeddings_response_float_base64_and_usage() -> None:
    data = {"embeddings": [{"values": [0.5, -0.25]}, {"values": [1.0, 0.0]}]}
    out, usage = to_openai_embeddings(data, "my-emb", ["hello world", "bye"])
    assert out["object"] == "list" and out["model"] == "my-emb"
    assert out["data"] == [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
                           {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]}]
    assert usage.prompt_tokens == out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] == 3
    assert usage.completion_tokens == 0
    out, _ = to_openai_embeddings(data, "m", ["x"], "base64")
    raw = base64.b64decode(out["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -0.25)
    out, usage = to_openai_embeddings({**data, "usageMetadata": {"promptTokenCount": 42}}, "m", ["x"])
    assert usage == Usage(42, 0) and out["usage"]["prompt_tokens"] == 42
    parsed = GeminiAdaptor().parse_response(
        make_req({"model": "e", "input": "hello world"}, mode=EMBEDDINGS, requested="emb-alias"), 200,
        json.dumps({"embeddings": [{"values": [0.25]}]}).encode())
    assert json.loads(parsed.body)["model"] == "emb-alias" and parsed.usage == Usage(2, 0)


# --------------------------------------------------------------------------- errors


def gerr(code: int, status: str, message: str, reason: str | None = None) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                           "domain": "googleapis.com"}]
    return json.dumps({"error": err}).encode()


def test_error_api_key_invalid_disables_without_retry() -> None:
    f = parse_gemini_error(400, gerr(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                     "API_KEY_INVALID"))
    assert f.status == 400 and f.message == "API key not valid. Please pass a valid API key."
    assert f.disables_channel and not f.retryable
    assert f.code == "API_KEY_INVALID" and f.type == "INVALID_ARGUMENT"
    assert f.payload == {"message": f.message, "type": "INVALID_ARGUMENT", "param": "", "code": "API_KEY_INVALID"}
    # the reason alone is enough, whatever the wording
    assert parse_gemini_error(400, gerr(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.",
                                        "API_KEY_INVALID")).disables_channel


def test_error_plain_400_neither_retried_nor_disabling() -> None:
    f = parse_gemini_error(400, gerr(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "x"'))
    assert not f.retryable and not f.disables_channel and f.code == "INVALID_ARGUMENT"
    f = parse_gemini_error(400, gerr(400, "FAILED_PRECONDITION", "User location is not supported for the API use."))
    assert not f.retryable and not f.disables_channel


@pytest.mark.parametrize("status, gstatus", [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"),
                                             (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")])
def test_error_retryable(status: int, gstatus: str) -> None:
    f = parse_gemini_error(status, gerr(status, gstatus, "try later"))
    assert f.retryable and not f.disables_channel and f.code == gstatus


def test_error_permission_denied_disables() -> None:
    f = parse_gemini_error(403, gerr(403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended.",
                                     "CONSUMER_SUSPENDED"))
    assert f.disables_channel and f.code == "CONSUMER_SUSPENDED"


def test_error_non_json_and_array() -> None:
    f = parse_gemini_error(502, b"<html>Bad Gateway</html>\n")
    assert f.message == "<html>Bad Gateway</html>" and f.retryable and not f.disables_channel
    assert f.payload is not None and f.payload["type"] == "upstream_error" and f.payload["code"] is None
    assert parse_gemini_error(500, b"").message == "upstream returned HTTP 500"
    f = parse_gemini_error(404, b"[" + gerr(404, "NOT_FOUND", "models/x is not found") + b"]")
    assert f.message == "models/x is not found" and f.code == "NOT_FOUND"


# --------------------------------------------------------------------------- stream

RECORDED_EVENTS: list[dict[str, Any]] = [
    {"candidates": [{"content": {"parts": [{"text": "**Planning**\n\nThe user wants the weather.", "thought": True}],
                                 "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 52, "totalTokenCount": 82, "thoughtsTokenCount": 30},
     "modelVersion": "gemini-2.5-flash", "responseId": "2iKkaM-xOpizz7IPnNzT4Ak"},
    {"candidates": [{"content": {"parts": [{"text": "Okay, let's check "}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 4, "totalTokenCount": 86,
                       "thoughtsTokenCount": 30},
     "modelVersion": "gemini-2.5-flash", "responseId": "2iKkaM-xOpizz7IPnNzT4Ak"},
    {"candidates": [{"content": {"parts": [{"text": "the weather — 東京 ☀"}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 12, "totalTokenCount": 94,
                       "thoughtsTokenCount": 30},
     "modelVersion": "gemini-2.5-flash", "responseId": "2iKkaM-xOpizz7IPnNzT4Ak"},
    {"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "San Francisco, CA"}},
         "thoughtSignature": "CiQB0e2Kb6Zl"}], "role": "model"}, "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 25, "totalTokenCount": 107,
                       "thoughtsTokenCount": 30},
     "modelVersion": "gemini-2.5-flash", "responseId": "2iKkaM-xOpizz7IPnNzT4Ak"},
]
RECORDED = "".join("data: " + json.dumps(e, ensure_ascii=False) + "\r\n\r\n" for e in RECORDED_EVENTS).encode()

EXPECTED_CHUNKS: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "reasoning_content": "**Planning**\n\nThe user wants the weather."}},
    {"delta": {"content": "Okay, let's check "}},
    {"delta": {"content": "the weather — 東京 ☀"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_test0", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"location":"San Francisco, CA"}'},
                               "extra_content": {"google": {"thought_signature": "CiQB0e2Kb6Zl"}}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 52, "completion_tokens": 55, "total_tokens": 107}},
]


def stream_req(include_usage: bool = True) -> RelayRequest:
    return make_req(stream=True, requested="my-gemini", include_usage=include_usage)


def simplify(chunks: list[dict[str, Any]], chat_id: str = "chatcmpl-2iKkaM-xOpizz7IPnNzT4Ak") -> list[dict[str, Any]]:
    return simplify_chunks(chunks, chat_id, "my-gemini", 1700000000)


def run_stream(pieces: list[bytes], include_usage: bool = True) -> tuple[GeminiStream, bytes]:
    ts = GeminiStream(stream_req(include_usage), created=1700000000, new_id=sequential_ids())
    return ts, transcode(ts, pieces)


def check_recorded(ts: GeminiStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(52, 55)
    assert ts.done and ts.error is None
    assert ts.completion_text == ("**Planning**\n\nThe user wants the weather.Okay, let's check the weather — 東京 ☀"
                                  'get_weather{"location":"San Francisco, CA"}')


def test_stream_whole() -> None:
    ts, out = run_stream([RECORDED])
    check_recorded(ts, out)


def test_stream_split_at_every_byte_boundary() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(52, 55))


def test_stream_byte_by_byte_and_lf_framing() -> None:
    ts, out = run_stream(byte_by_byte(RECORDED))
    check_recorded(ts, out)
    lf = RECORDED.replace(b"\r\n", b"\n")
    ts, out2 = run_stream([lf])
    assert out2 == out
    for i in range(0, len(lf) + 1, 5):
        assert run_stream([lf[:i], lf[i:]])[1] == out


def test_stream_without_usage_chunk_unless_asked() -> None:
    ts, out = run_stream([RECORDED], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks)
    assert ts.usage == Usage(52, 55)  # billing still sees it


def test_stream_last_frame_without_blank_line_is_flushed() -> None:
    ts, out = run_stream([RECORDED[:-4]])  # the final \r\n\r\n is missing
    check_recorded(ts, out)


def test_stream_text_only_and_finish_chunk() -> None:
    events = [
        {"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}]},
        {"candidates": [{"content": {"parts": [{"text": "lo"}, {"text": "!"}], "role": "model"},
                         "finishReason": "MAX_TOKENS", "index": 0}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}},
    ]
    ts, out = run_stream([b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert chunks[0]["id"].startswith("chatcmpl-")  # no responseId: one generated id for the stream
    assert len({c["id"] for c in chunks}) == 1
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c["choices"]]
    assert deltas == [({"role": "assistant", "content": "Hel"}, None), ({"content": "lo!"}, None), ({}, "length")]
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_stream_mid_stream_error() -> None:
    head = b"data: " + json.dumps(RECORDED_EVENTS[1]).encode() + b"\r\n\r\n"
    err = b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n'
    after = b"data: " + json.dumps(RECORDED_EVENTS[2]).encode() + b"\r\n\r\n"
    ts, out = run_stream([head + err + after])
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert chunks[-1] == {"error": {"message": "The model is overloaded.", "type": "UNAVAILABLE", "param": "",
                                    "code": "UNAVAILABLE"}}
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [{"role": "assistant", "content": "Okay, let's check "}]
    assert ts.error == "The model is overloaded." and not ts.done
    assert ts.finish() == []


def test_stream_cut_before_finish() -> None:
    cut = RECORDED[:RECORDED.index(b"data: ", 10)] + b'data: {"candidates": [{"cont'  # torn second frame
    ts, out = run_stream([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks if c["choices"])
    assert not ts.done and ts.error is None
    assert ts.usage == Usage(52, 30)  # the last usage seen (cumulative) is what is billed


def test_stream_blocked_prompt_and_two_candidates() -> None:
    blocked = b'data: {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, ' \
              b'"usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}\r\n\r\n'
    ts, out = run_stream([blocked])
    chunks, _ = decode_frames(out)
    assert chunks[0]["choices"][0] == {"index": 0, "delta": {"role": "assistant", "content": ""},
                                       "finish_reason": "content_filter"}
    assert ts.usage == Usage(9, 0)
    two = {"candidates": [
        {"content": {"parts": [{"text": "A"}]}, "index": 0},
        {"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}, "index": 1, "finishReason": "STOP"}]}
    last = {"candidates": [{"content": {"parts": [{"text": "B"}]}, "index": 0, "finishReason": "STOP"}]}
    ts, out = run_stream([b"data: " + json.dumps(two).encode() + b"\n\ndata: " + json.dumps(last).encode() + b"\n\n"])
    chunks, _ = decode_frames(out)
    got = [(c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert got == [
        (0, {"role": "assistant", "content": "A"}, None),
        (1, {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_test0", "type": "function",
                                                  "function": {"name": "f", "arguments": "{}"}}]}, None),
        (1, {}, "tool_calls"),
        (0, {"content": "B"}, None),
        (0, {}, "stop"),
    ]


def test_new_stream_returns_transcoder() -> None:
    assert isinstance(GeminiAdaptor().new_stream(stream_req()), GeminiStream)


# --------------------------------------------------------------------------- the fake Gemini server


class FakeGemini:
    def __init__(self, recorder: list[dict[str, Any]], url: str) -> None:
        self.recorder = recorder
        self.url = url

    def keys(self) -> list[str]:
        return [r["headers"].get("X-Goog-Api-Key", "") for r in self.recorder]


@pytest.fixture
async def gemini() -> AsyncIterator[FakeGemini]:
    recorder: list[dict[str, Any]] = []
    async with serving(make_gemini_app(recorder)) as url:
        yield FakeGemini(recorder, url)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"city": {"type": "string", "format": "uri"},
                                  "unit": {"type": ["string", "null"], "enum": ["C", "F"]}},
                   "required": ["city"], "additionalProperties": False}}}


async def test_round_trip_with_fake_gemini(gemini: FakeGemini) -> None:
    ad = GeminiAdaptor()
    t = target(base_url=gemini.url, key="gm-key")
    body = {"model": "my-gemini", "messages": [{"role": "system", "content": "Be nice"},
                                               {"role": "user", "content": "Hi"}],
            "seed": 3, "n": 1, "stream_options": {"include_usage": True}, "max_tokens": 64}
    # plain
    req = make_req(body)
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == TEXT_REPLY and data["model"] == "my-gemini"
    assert parsed.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)

    # tool call, then its result
    req = make_req({**body, "tools": [WEATHER_TOOL], "tool_choice": "required"})
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    data = json.loads(ad.parse_response(req, resp.code, resp.body).body)
    (call,) = data["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == TOOL_ARGS
    assert call["extra_content"] == {"google": {"thought_signature": THOUGHT_SIGNATURE}}
    follow = {**body, "tools": [WEATHER_TOOL], "messages": body["messages"] + [
        data["choices"][0]["message"], {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]}
    req = make_req(follow)
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    assert json.loads(ad.parse_response(req, resp.code, resp.body).body)["choices"][0]["message"]["content"] \
        == TOOL_RESULT_REPLY

    # stream
    req = make_req({**body, "stream": True}, stream=True)
    resp, ts, out = await send_stream(ad, req, t)
    assert resp.code == 200
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == TEXT_REPLY
    assert ts.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS) and ts.done

    # embeddings
    req = make_req({"model": "e", "input": ["a", "b"]}, mode=EMBEDDINGS, model="text-embedding-004")
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    data = json.loads(ad.parse_response(req, resp.code, resp.body).body)
    assert [d["embedding"] for d in data["data"]] == [EMBEDDING, EMBEDDING]

    # errors
    resp = await send(ad.build_request(make_req(body), target(base_url=gemini.url, key="bad-key")))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 400 and f.disables_channel and not f.retryable and f.code == "API_KEY_INVALID"
    resp = await send(ad.build_request(make_req(body), target(base_url=gemini.url, key="fail-429")))
    f = ad.parse_error(resp.code, resp.body)
    assert resp.code == 429 and f.retryable and not f.disables_channel

    rec = gemini.recorder
    assert len(rec) == 7
    first = rec[0]
    assert first["path"] == "/v1beta/models/gemini-2.0-flash:generateContent" and first["query"] == ""
    assert first["headers"]["X-Goog-Api-Key"] == "gm-key"
    assert first["json"]["systemInstruction"] == {"parts": [{"text": "Be nice"}]}
    assert first["json"]["generationConfig"] == {"maxOutputTokens": 64, "seed": 3}
    assert [s["category"] for s in first["json"]["safetySettings"]] == list(SAFETY_CATEGORIES)
    decl = rec[1]["json"]["tools"][0]["functionDeclarations"][0]
    assert decl["parameters"] == {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"], "nullable": True}},
        "required": ["city"]}
    assert rec[1]["json"]["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    model_turn, result_turn = rec[2]["json"]["contents"][1:]
    assert model_turn == {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": TOOL_ARGS},
                                                      "thoughtSignature": THOUGHT_SIGNATURE}]}
    assert result_turn == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}]}
    assert rec[3]["path"].endswith(":streamGenerateContent") and rec[3]["query"] == "alt=sse"
    assert rec[4]["path"] == "/v1beta/models/text-embedding-004:batchEmbedContents"


async def test_fake_gemini_rejects_what_gemini_rejects(gemini: FakeGemini) -> None:
    ad = GeminiAdaptor()
    t = target(base_url=gemini.url)
    good = ad.build_request(make_req(), t)

    async def post(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        up = ad.build_request(make_req(), t)
        up.body = json.dumps(body).encode()
        if headers is not None:
            up.headers = headers
        resp = await send(up)
        return resp.code, json.loads(resp.body)

    sent = json.loads(good.body or b"")
    code, err = await post(sent, {"Content-Type": "application/json"})
    assert code == 403 and err["error"]["status"] == "PERMISSION_DENIED"
    code, err = await post({**sent, "messages": []})
    assert code == 400 and 'Unknown name "messages"' in err["error"]["message"]
    code, err = await post({**sent, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}]}]})
    assert code == 400 and "additionalProperties" in err["error"]["message"]
    code, err = await post({**sent, "contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})
    assert code == 400 and "valid role" in err["error"]["message"]
    code, err = await post({**sent, "contents": [{"role": "user", "parts": [{"text": ""}]}]})
    assert code == 400 and "empty text" in err["error"]["message"]
    code, err = await post({**sent, "generationConfig": {"max_tokens": 5}})
    assert code == 400 and "max_tokens" in err["error"]["message"]
    code, _ = await post(sent)
    assert code == 200


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, gemini: FakeGemini, key: str = "gm-key", **fields: Any) -> str:
    return await channel_token(gw, type=24, key=key, base_url=gemini.url,
                               models=f"{MODEL},text-embedding-004", **fields)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "additionalProperties": False,
                                                          "properties": {"city": {"type": "string"}}}}}]


async def test_gateway_chat_plain(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, max_tokens=100, temperature=0.2,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert resp.choices[0].finish_reason == "stop" and resp.model == MODEL and resp.object == "chat.completion"
    assert resp.id == "chatcmpl-" + RESPONSE_ID
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    sent = gemini.recorder[-1]
    assert sent["headers"]["X-Goog-Api-Key"] == "gm-key" and "key=" not in sent["query"]
    assert sent["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert sent["json"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["json"]["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 100}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_TOKENS)
    assert logs[0]["model_name"] == MODEL


async def test_gateway_model_mapping_answers_requested_name(gw: Gateway, gemini: FakeGemini) -> None:
    await gw.channel(type=24, key="gm-key", base_url=gemini.url, models="my-flash",
                     model_mapping=json.dumps({"my-flash": "gemini-2.5-flash"}))
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(model="my-flash", messages=[{"role": "user", "content": "x"}])
    assert resp.model == "my-flash"
    assert gemini.recorder[-1]["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_gateway_stream(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini)
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == TEXT_REPLY and seen.finish == "stop" and seen.models == {MODEL}
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    sent = gemini.recorder[-1]
    assert sent["path"].endswith(":streamGenerateContent") and sent["query"] == "alt=sse"
    assert "stream_options" not in sent["json"] and "stream" not in sent["json"]
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["quota"] > 0 and logs[0]["completion_tokens"] == TEXT_TOKENS


async def test_gateway_tool_call_round_trip(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS,  # type: ignore[arg-type]
                                                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == TOOL_ARGS
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_TOKENS
    sent = gemini.recorder[-1]["json"]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert "additionalProperties" not in sent["tools"][0]["functionDeclarations"][0]["parameters"]

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == TOOL_RESULT_REPLY
    contents = gemini.recorder[-1]["json"]["contents"]
    assert contents[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": TOOL_ARGS}
    assert contents[1]["parts"][0]["thoughtSignature"] == THOUGHT_SIGNATURE  # carried through the SDK
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}}]}

    # streamed tool call
    stream = await client.chat.completions.create(model=MODEL, messages=messages[:1], tools=TOOLS,  # type: ignore
                                                  stream=True)
    name, args, finish, indexes = None, "", None, set()
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                indexes.add(tc.index)
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == TOOL_ARGS
    assert finish == "tool_calls" and indexes == {0}
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)


async def test_gateway_embeddings(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini)
    client = gw.client(key)
    resp = await client.embeddings.create(model="text-embedding-004", input=["hello world", "bye"])  # SDK: base64
    assert [d.embedding for d in resp.data] == [EMBEDDING, EMBEDDING]
    assert [d.index for d in resp.data] == [0, 1] and resp.model == "text-embedding-004"
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == 3
    resp = await client.embeddings.create(model="text-embedding-004", input="hello world", encoding_format="float",
                                          dimensions=3)
    assert resp.data[0].embedding == EMBEDDING
    sent = gemini.recorder[-1]
    assert sent["path"] == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert sent["json"] == {"requests": [{"model": "models/text-embedding-004",
                                          "content": {"parts": [{"text": "hello world"}]},
                                          "outputDimensionality": 3}]}
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)
    assert logs[0]["prompt_tokens"] == 2


async def test_gateway_error_in_openai_shape_and_channel_disabled(gw: Gateway, gemini: FakeGemini) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=24, key="bad-key", base_url=gemini.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 400
    assert "API key not valid" in e.value.message and "request id" in e.value.message
    assert e.value.code == "API_KEY_INVALID"
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "INVALID_ARGUMENT"
    status = None
    for _ in range(50):
        status = (await gw.ok("GET", f"/api/channel/{cid}"))["status"]
        if status == 3:
            break
        await asyncio.sleep(0.05)
    assert status == 3  # API_KEY_INVALID disabled the channel
    assert await gw.logs() == []


async def test_gateway_400_is_not_retried(gw: Gateway, gemini: FakeGemini) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(type=24, key="bad-key", base_url=gemini.url, models=MODEL, priority=5)
    await gw.channel(type=24, key="gm-key", base_url=gemini.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.BadRequestError):
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert gemini.keys() == ["bad-key"]


@pytest.mark.parametrize("failing, stream", [("fail-429", False), ("fail-500", False), ("fail-503", True)])
async def test_gateway_retries_another_channel(gw: Gateway, gemini: FakeGemini, failing: str, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=24, key=failing, base_url=gemini.url, models=MODEL, priority=10)
    await gw.channel(type=24, key="gm-key", base_url=gemini.url, models=MODEL, priority=0)
    key = await gw.token()
    client = gw.client(key)
    assert await ask(client, MODEL, stream) == TEXT_REPLY
    assert gemini.keys() == [failing, "gm-key"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_gateway_429_without_retry_is_rate_limit(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini, key="fail-429")
    with pytest.raises(openai.RateLimitError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "RESOURCE_EXHAUSTED"


async def test_gateway_mid_stream_error_and_local_usage(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini, key="gm-streamerror-nousage")
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e:
        await read_text(stream, parts)
    assert "overloaded" in str(e.value.message)
    assert "".join(parts) == "Hello"
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0  # counted locally: no usageMetadata


@pytest.mark.settings(gemini_version="v1", gemini_safety_setting="BLOCK_ONLY_HIGH")
async def test_gateway_settings_version_and_threshold(gw: Gateway, gemini: FakeGemini) -> None:
    key = await _setup(gw, gemini)
    await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    sent = gemini.recorder[-1]
    assert sent["path"] == f"/v1/models/{MODEL}:generateContent"
    assert {s["threshold"] for s in sent["json"]["safetySettings"]} == {"BLOCK_ONLY_HIGH"}
    await gw.channel(type=24, key="gm-key2", base_url=gemini.url, models="gemini-2.5-pro",
                     config=json.dumps({"api_version": "v1beta"}))
    await gw.client(key).chat.completions.create(model="gemini-2.5-pro", messages=[{"role": "user", "content": "x"}])
    assert gemini.recorder[-1]["path"] == "/v1beta/models/gemini-2.5-pro:generateContent"
