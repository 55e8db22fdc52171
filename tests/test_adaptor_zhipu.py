"""Zhipu (type 16) adaptor: pure conversion tests (v4 and v3), the JWT checked against the
documented recipe, the stream transcoders fed recorded streams split everywhere, round trips
with the fake Zhipu server (which verifies the JWT itself), and OpenAI SDK clients talking to
a Zhipu channel through OneRelay."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import (
    CHAT,
    EMBEDDINGS,
    IMAGES,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    UpstreamRejected,
    UpstreamRequest,
    Usage,
)
from adaptors.registry import PROVIDERS
from adaptors.zhipu import (
    V4_REQUEST_FIELDS,
    ZhipuAdaptor,
    ZhipuAnswerError,
    ZhipuStream,
    ZhipuV3Stream,
    api_version,
    parse_zhipu_error,
    status_for_code,
    to_openai_embeddings,
    to_openai_response,
    to_openai_response_v3,
    to_zhipu_embeddings,
    to_zhipu_image_request,
    to_zhipu_request,
    to_zhipu_v3_request,
    zhipu_jwt,
)
from tests.adaptor_helpers import (
    ask,
    assert_every_split,
    byte_by_byte,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    relay_request,
    send,
    send_stream,
    serving,
    simplify_chunks,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_zhipu_ali import (
    EMBEDDING,
    PROMPT_TOKENS,
    TEXT_REPLY,
    TEXT_TOKENS,
    TOOL_ARGS,
    TOOL_RESULT_REPLY,
    TOOL_TOKENS,
    V3_REPLY,
    V3_TASK_ID,
    ZHIPU_ID,
    ZHIPU_KEYS,
    image_bytes,
    make_zhipu_app,
    verify_jwt,
)

MODEL = "glm-4-flash"
V3_MODEL = "chatglm_turbo"
KEY = "zp-id.zp-secret"
NOW_MS = 1_700_000_000_123


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-glm", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 7, "type": 16, "key": KEY}, **kw)


def fixed_clock() -> float:
    return NOW_MS / 1000


# --------------------------------------------------------------------------- versions and the JWT


@pytest.mark.parametrize("model, version", [
    ("glm-4-flash", "v4"), ("glm-4.5", "v4"), ("glm-3-turbo", "v4"), ("GLM-4", "v4"), ("codegeex-4", "v4"),
    ("charglm-4", "v4"), ("embedding-3", "v4"), ("chatglm_turbo", "v3"), ("chatglm_pro", "v3"),
    ("chatglm_std", "v3"), ("characterglm", "v3"),
])
def test_api_version_by_model(model: str, version: str) -> None:
    assert api_version(model) == version


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def documented_jwt(key: str, now_ms: int, ttl_ms: int) -> str:
    """PROVIDERS.md §6 / One API zhipu.GetToken: split the key at '.', header alg HS256 +
    sign_type SIGN (+ typ JWT, as the JWT libraries add), claims api_key / exp / timestamp in
    milliseconds, HMAC-SHA256 with the secret, base64url without padding."""
    kid, secret = key.split(".")
    header = json.dumps({"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}, separators=(",", ":"), sort_keys=True)
    claims = json.dumps({"api_key": kid, "exp": now_ms + ttl_ms, "timestamp": now_ms}, separators=(",", ":"),
                        sort_keys=True)
    signing_input = _b64url(header.encode()) + "." + _b64url(claims.encode())
    return signing_input + "." + _b64url(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def test_jwt_matches_the_documented_recipe() -> None:
    token = zhipu_jwt(KEY, NOW_MS, ttl_ms=3_600_000)
    assert token == documented_jwt(KEY, NOW_MS, 3_600_000)
    header, claims, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(claims + "==")) == {
        "api_key": "zp-id", "exp": NOW_MS + 3_600_000, "timestamp": NOW_MS}
    assert "=" not in token
    assert verify_jwt(token, ZHIPU_KEYS, now_ms=NOW_MS + 1000) == "zp-id"  # the fake's own check agrees
    assert zhipu_jwt(" zp-id.zp-secret ", NOW_MS) == zhipu_jwt(KEY, NOW_MS)
    for bad in ("no-dot", "a.b.c", ".secret", "id."):
        with pytest.raises(ValueError):
            zhipu_jwt(bad, NOW_MS)


def test_fake_rejects_bad_jwts() -> None:
    from tests.fake_zhipu_ali import ZhipuInvalid
    good = zhipu_jwt(KEY, NOW_MS)
    cases = {
        "wrong secret": zhipu_jwt("zp-id.other", NOW_MS),
        "seconds, not ms": zhipu_jwt(KEY, NOW_MS // 1000),
        "expired": zhipu_jwt(KEY, NOW_MS - 10_000, ttl_ms=5_000),
        "bearer": "Bearer " + good,
        "unknown id": zhipu_jwt("nobody.zp-secret", NOW_MS),
    }
    for name, token in cases.items():
        with pytest.raises(ZhipuInvalid):
            verify_jwt(token, ZHIPU_KEYS, now_ms=NOW_MS)
            pytest.fail(name)


# --------------------------------------------------------------------------- v4 request


def test_v4_request_allow_list_and_clamps() -> None:
    out = to_zhipu_request({
        "model": "x", "messages": [{"role": "user", "content": "Hi"}], "temperature": 1.7, "top_p": 1.0,
        "max_completion_tokens": 50, "max_tokens": 10, "stop": ["END", "STOP"], "n": 2, "seed": 7,
        "stream_options": {"include_usage": True}, "frequency_penalty": 0.5, "logprobs": True,
        "user": "user-12345", "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
        "thinking": {"type": "enabled"}, "parallel_tool_calls": True,
    }, "glm-4.5", stream=True)
    assert out == {"model": "glm-4.5", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                   "temperature": 1.0, "top_p": 0.99, "max_tokens": 50, "stop": ["END"], "user_id": "user-12345",
                   "response_format": {"type": "json_object"}, "thinking": {"type": "enabled"}}
    assert set(out) <= V4_REQUEST_FIELDS
    out = to_zhipu_request({"messages": [], "temperature": 0, "top_p": 0.0, "user": "abc"}, MODEL, stream=False)
    assert out == {"model": MODEL, "messages": [], "do_sample": False}  # greedy: no sampling parameters
    out = to_zhipu_request({"messages": [], "top_p": 0.0, "stop": "x"}, MODEL, stream=False)
    assert out["top_p"] == 0.01 and out["stop"] == ["x"] and "stream" not in out


def test_v4_messages_images_tools_and_results() -> None:
    out = to_zhipu_request({"messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be terse."}]},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "CET"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        {"role": "assistant", "content": "Sunny at noon."},
        {"role": "critic", "content": "dropped"},
    ]}, "glm-4v", stream=False)
    assert out["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hello\nthere"},  # text-only parts become a string
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "iVBORw0K"}},  # Zhipu wants bare base64
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": "tool", "content": "noon", "tool_call_id": "call_2"},
        {"role": "assistant", "content": "Sunny at noon."},
    ]


def test_v4_tools_and_tool_choice() -> None:
    tools = [{"type": "function", "function": {"name": "f", "description": "F", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}},
        {"type": "function", "function": {"name": "g"}},
        {"type": "web_search", "web_search": {"enable": True}},
        {"type": "code_interpreter"}]
    out = to_zhipu_request({"messages": [], "tools": tools,
                            "tool_choice": {"type": "function", "function": {"name": "f"}}}, MODEL, False)
    assert out["tools"] == [
        {"type": "function", "function": {"name": "f", "description": "F", "parameters": {
            "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}},
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}},
        {"type": "web_search", "web_search": {"enable": True}}]
    assert out["tool_choice"] == "auto"  # the only choice Zhipu accepts
    out = to_zhipu_request({"messages": [], "tools": tools, "tool_choice": "none"}, MODEL, False)
    assert "tools" not in out and "tool_choice" not in out


def test_v3_request() -> None:
    out = to_zhipu_v3_request({"messages": [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": "!"}, {"role": "user", "content": ""},
        {"role": "user", "content": "Bye"}], "temperature": 0, "top_p": 1, "max_tokens": 5}, stream=True)
    assert out == {"prompt": [{"role": "user", "content": "Be terse.\nHi"},
                              {"role": "assistant", "content": "Hello\n!"},
                              {"role": "user", "content": "Bye"}],
                   "temperature": 0.01, "top_p": 0.99, "incremental": True}
    assert "incremental" not in to_zhipu_v3_request({"messages": []}, stream=False)


def test_build_request_urls_and_headers() -> None:
    ad = ZhipuAdaptor(clock=fixed_clock)
    up = ad.build_request(make_req(), target())
    assert up.method == "POST" and up.url == "https://open.bigmodel.cn/api/paas/v4/chat/completions"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer " + KEY}
    assert json.loads(up.body or b"") == {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}

    for base in ("https://api.z.ai/api/paas/v4", "https://api.z.ai/api/paas/v4/", "https://api.z.ai/api/paas",
                 "https://api.z.ai"):
        assert ad.build_request(make_req(), target(base_url=base)).url == \
            "https://api.z.ai/api/paas/v4/chat/completions", base

    emb = ad.build_request(make_req({"model": "e", "input": "hi"}, mode=EMBEDDINGS, model="embedding-3"), target())
    assert emb.url == "https://open.bigmodel.cn/api/paas/v4/embeddings"
    assert emb.headers["Authorization"] == "Bearer " + KEY

    v3 = ad.build_request(make_req(model=V3_MODEL), target(base_url="http://127.0.0.1:9/"))
    assert v3.url == "http://127.0.0.1:9/api/paas/v3/model-api/chatglm_turbo/invoke"
    assert v3.headers == {"Content-Type": "application/json", "Authorization": zhipu_jwt(KEY, NOW_MS)}
    assert not v3.headers["Authorization"].startswith("Bearer")
    v3s = ad.build_request(make_req(model=V3_MODEL, stream=True), target())
    assert v3s.url.endswith("/api/paas/v3/model-api/chatglm_turbo/sse-invoke")
    assert v3s.headers["Accept"] == "text/event-stream"
    assert json.loads(v3s.body or b"") == {"prompt": [{"role": "user", "content": "Hi"}], "incremental": True}

    with pytest.raises(UpstreamRejected) as e:
        ad.build_request(make_req(model=V3_MODEL), target(key="not-an-id-secret-key"))
    assert e.value.failure.status == 503 and e.value.failure.retryable and not e.value.failure.disables_channel
    assert e.value.failure.payload and e.value.failure.payload["code"] == "channel_key_invalid"
    # the v4 API takes any key as a Bearer token
    assert ad.build_request(make_req(), target(key="plain")).headers["Authorization"] == "Bearer plain"


def test_registry_entry_and_family() -> None:
    s = PROVIDERS[16]
    assert s.adaptor == "zhipu" and s.supported and s.auth == "signed"
    assert set(s.modes) == {CHAT, EMBEDDINGS, IMAGES}
    assert s.test_model in s.models and "embedding-3" in s.models and "glm-4-flash" in s.models
    assert {"cogview-3", "cogview-3-plus", "cogview-4"} <= set(s.models)
    assert s.base_url == "https://open.bigmodel.cn" and s.color == "#3b82f6" and s.note
    assert isinstance(build_registry()[16], ZhipuAdaptor)
    assert ZhipuAdaptor().modes == frozenset({CHAT, EMBEDDINGS, IMAGES})


# --------------------------------------------------------------------------- responses


def test_v4_response_text_reasoning_usage() -> None:
    out, usage, text = to_openai_response({
        "id": "2024abc", "created": 1, "model": "glm-4.5", "request_id": "2024abc",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Hello", "reasoning_content": "Thinking..."}}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11}}, "my-glm", created=5)
    assert out == {"id": "2024abc", "object": "chat.completion", "created": 5, "model": "my-glm",
                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                       "role": "assistant", "content": "Hello", "reasoning_content": "Thinking..."}}],
                   "usage": {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11}}
    assert usage == Usage(8, 3) and text == "Thinking...Hello"


@pytest.mark.parametrize("reason, expected", [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"), ("sensitive", "content_filter"),
    ("model_context_window_exceeded", "length"), ("whatever", "stop"), (None, "stop")])
def test_v4_finish_reasons(reason: str | None, expected: str) -> None:
    out, _, _ = to_openai_response({"choices": [{"finish_reason": reason, "message": {"content": "x"}}]}, "m")
    assert out["choices"][0]["finish_reason"] == expected


def test_v4_response_tool_calls_and_network_error() -> None:
    out, usage, text = to_openai_response({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "", "tool_calls": [
            {"id": "call_9", "index": 0, "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}}]}, "m")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert out["choices"][0]["finish_reason"] == "tool_calls" and usage is None
    assert text == 'get_weather{"city":"Paris"}' and out["id"].startswith("chatcmpl-")
    with pytest.raises(ZhipuAnswerError) as e:
        to_openai_response({"choices": [{"finish_reason": "network_error", "message": {"content": "par"}}]}, "m")
    assert e.value.failure.retryable and e.value.failure.status == 502


def test_v3_response_and_http_200_errors() -> None:
    out, usage, text = to_openai_response_v3({"code": 200, "msg": "操作成功", "success": True, "data": {
        "task_id": "77", "request_id": "r", "task_status": "SUCCESS",
        "choices": [{"role": "assistant", "content": '" Hello\\n\\"world\\""'}],
        "usage": {"prompt_tokens": 4, "total_tokens": 9}}}, "my-glm", created=3)
    assert text == ' Hello\n"world"'  # the JSON string literal is decoded, not just trimmed
    assert out["choices"] == [{"index": 0, "message": {"role": "assistant", "content": text},
                               "finish_reason": "stop"}]
    assert out["id"] == "chatcmpl-77" and out["model"] == "my-glm" and usage == Usage(4, 5)
    with pytest.raises(ZhipuAnswerError) as e:
        to_openai_response_v3({"code": 1002, "msg": "Authorization Token非法", "success": False}, "m")
    f = e.value.failure
    assert f.status == 401 and f.disables_channel and f.payload == {
        "message": "Authorization Token非法", "type": "zhipu_error", "param": "", "code": "1002"}
    with pytest.raises(ZhipuAnswerError) as e:
        to_openai_response_v3({"code": 1261, "msg": "Prompt 超长", "success": False}, "m")
    assert e.value.failure.status == 400 and not e.value.failure.retryable


def test_embeddings_request_and_response() -> None:
    assert to_zhipu_embeddings({"input": "hello", "dimensions": 256, "encoding_format": "base64"}, "embedding-3") \
        == {"model": "embedding-3", "input": "hello", "dimensions": 256}
    assert to_zhipu_embeddings({"input": ["a", "b"]}, "embedding-2") == {"model": "embedding-2", "input": ["a", "b"]}
    data = {"model": "embedding-3", "object": "list", "usage": {"prompt_tokens": 4, "completion_tokens": 0,
                                                                  "total_tokens": 4},
            "data": [{"embedding": [0.5, 1], "index": 1, "object": "embedding"},
                     {"embedding": [0.25, -2], "index": 0, "object": "embedding"}]}
    out, usage = to_openai_embeddings(data, "my-emb")
    assert out == {"object": "list", "model": "my-emb", "usage": {"prompt_tokens": 4, "total_tokens": 4},
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -2.0]},
                            {"object": "embedding", "index": 1, "embedding": [0.5, 1.0]}]}
    assert usage == Usage(4, 0)
    out, _ = to_openai_embeddings(data, "my-emb", "base64")
    assert struct.unpack("<2f", base64.b64decode(out["data"][0]["embedding"])) == (0.25, -2.0)
    out, usage = to_openai_embeddings({"data": []}, "m")
    assert usage is None and "usage" not in out


def zerr(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()


def test_errors_and_verdicts() -> None:
    f = parse_zhipu_error(401, zerr("1002", "Authorization Token非法，请确认Authorization Token正确传递。"))
    assert f.disables_channel and f.retryable and f.code == "1002" and f.type == "zhipu_error"
    assert f.payload == {"message": "Authorization Token非法，请确认Authorization Token正确传递。",
                         "type": "zhipu_error", "param": "", "code": "1002"}
    f = parse_zhipu_error(429, zerr("1113", "您的账户已欠费，请充值后重试。"))
    assert f.disables_channel and f.retryable
    f = parse_zhipu_error(429, zerr("1302", "并发数过高"))
    assert f.retryable and not f.disables_channel
    f = parse_zhipu_error(400, zerr("1214", "messages 参数非法"))
    assert not f.retryable and not f.disables_channel
    f = parse_zhipu_error(400, zerr("1301", "系统检测到输入或生成内容可能包含不安全或敏感内容"))
    assert not f.retryable and f.code == "1301"
    f = parse_zhipu_error(500, zerr("500", "Internal Error"))
    assert f.retryable and not f.disables_channel
    f = parse_zhipu_error(200, json.dumps({"code": 1113, "msg": "欠费", "success": False}).encode())
    assert f.disables_channel and f.code == "1113" and f.message == "欠费"
    assert parse_zhipu_error(502, b"<html>Bad Gateway</html>").message == "<html>Bad Gateway</html>"
    assert parse_zhipu_error(503, b"").message == "upstream returned HTTP 503"
    assert [status_for_code(c) for c in ("1002", "1113", "1112", "1214", "1301", "1302", "1234", "500", None,
                                         "x")] == [401, 429, 403, 400, 400, 429, 500, 500, 500, 500]


# --------------------------------------------------------------------------- streams


def simplify(chunks: list[dict[str, Any]], chat_id: str) -> list[dict[str, Any]]:
    return simplify_chunks(chunks, chat_id, "my-glm", 1700000000)


V4_EVENTS: list[dict[str, Any]] = [
    {"id": "20240718abc", "created": 1721, "model": "glm-4-flash",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris — "}}]},
    {"id": "20240718abc", "created": 1721, "model": "glm-4-flash",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "東京 ☀"}}]},
    {"id": "20240718abc", "created": 1721, "model": "glm-4-flash",
     "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {"role": "assistant", "tool_calls": [
         {"id": "call_8c9", "index": 0, "type": "function",
          "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}],
     "usage": {"prompt_tokens": 120, "completion_tokens": 17, "total_tokens": 137}},
]
V4_RECORDED = ("".join("data: " + json.dumps(e, ensure_ascii=False) + "\n\n" for e in V4_EVENTS)
               + "data: [DONE]\n\n").encode()
V4_EXPECTED: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "content": "Paris — "}},
    {"delta": {"content": "東京 ☀"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_8c9", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
     "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 120, "completion_tokens": 17, "total_tokens": 137}},
]


def v4_stream(include_usage: bool = True) -> ZhipuStream:
    return ZhipuStream(make_req(stream=True, include_usage=include_usage), created=1700000000)


def run_v4(pieces: list[bytes]) -> tuple[ZhipuStream, bytes]:
    ts = v4_stream()
    return ts, transcode(ts, pieces)


def test_v4_stream_split_at_every_byte() -> None:
    def check(ts: ZhipuStream, out: bytes) -> None:
        chunks, dones = decode_frames(out)
        assert dones == 1 and simplify(chunks, "20240718abc") == V4_EXPECTED

    ts, reference = assert_every_split(V4_RECORDED, run_v4, check, Usage(120, 17))
    assert ts.completion_text == 'Paris — 東京 ☀get_weather{"city": "Paris"}'
    ts = v4_stream()
    assert transcode(ts, byte_by_byte(V4_RECORDED)) == reference
    assert transcode(v4_stream(), [V4_RECORDED.replace(b"\n", b"\r\n")]) == reference


def test_v4_stream_usage_only_when_asked_and_content_filter() -> None:
    ts = v4_stream(include_usage=False)
    chunks, _ = decode_frames(transcode(ts, [V4_RECORDED]))
    assert all(c["choices"] for c in chunks) and ts.usage == Usage(120, 17)
    sensitive = (b'data: {"id":"s1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hm"}}]}\n\n'
                 b'data: {"id":"s1","choices":[{"index":0,"finish_reason":"sensitive","delta":{"role":"assistant",'
                 b'"content":""}}]}\n\ndata: [DONE]\n\n')
    chunks, _ = decode_frames(transcode(v4_stream(), [sensitive]))
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "content_filter"]
    assert chunks[1]["choices"][0]["delta"] == {}


def test_v4_stream_network_error_and_error_event() -> None:
    head = b'data: {"id":"n1","choices":[{"index":0,"delta":{"role":"assistant","content":"Par"}}]}\n\n'
    net = b'data: {"id":"n1","choices":[{"index":0,"finish_reason":"network_error","delta":{"content":"is"}}]}\n\n'
    ts = v4_stream()
    chunks, dones = decode_frames(transcode(ts, [head + net + b"data: [DONE]\n\n"]))
    assert dones == 1 and [c.get("choices", [{}])[0].get("delta") for c in chunks[:2]] == [
        {"role": "assistant", "content": "Par"}, {"content": "is"}]
    assert chunks[-1]["error"]["code"] == "network_error" and ts.error and not ts.done
    ts = v4_stream()
    chunks, dones = decode_frames(transcode(ts, [head + b'data: {"error":{"code":"1301","message":"unsafe"}}\n\n']))
    assert chunks[-1] == {"error": {"message": "unsafe", "type": "zhipu_error", "param": "", "code": "1301"}}
    assert dones == 1 and ts.error == "unsafe"
    ts = v4_stream()  # cut before [DONE]: still closed properly
    chunks, dones = decode_frames(transcode(ts, [head]))
    assert dones == 1 and not ts.done and chunks[0]["id"] == "n1"


V3_RECORDED = (
    "event:add\nid:8311577435637212345\ndata:Hello\n\n"
    "event:add\nid:8311577435637212345\ndata: from\n\n"          # the leading space is content
    "event:add\nid:8311577435637212345\ndata: 智谱\ndata:v3\n\n"  # two data lines: a newline
    "event:finish\nid:8311577435637212345\ndata:\n"
    'meta:{"task_status":"SUCCESS","usage":{"prompt_tokens":7,"completion_tokens":4,"total_tokens":11},'
    '"task_id":"8311577435637212345","request_id":"r1"}\n\n'
).encode()


def v3_stream(include_usage: bool = True) -> ZhipuV3Stream:
    return ZhipuV3Stream(make_req(stream=True, model=V3_MODEL, include_usage=include_usage), created=1700000000)


def run_v3(pieces: list[bytes]) -> tuple[ZhipuV3Stream, bytes]:
    ts = v3_stream()
    return ts, transcode(ts, pieces)


def test_v3_stream_split_at_every_byte() -> None:
    expected = [
        {"delta": {"role": "assistant", "content": "Hello"}},
        {"delta": {"content": " from"}},
        {"delta": {"content": " 智谱\nv3"}},
        {"delta": {}, "finish_reason": "stop"},
        {"usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}},
    ]

    def check(ts: ZhipuV3Stream, out: bytes) -> None:
        chunks, dones = decode_frames(out)
        assert dones == 1 and simplify(chunks, "chatcmpl-" + V3_TASK_ID) == expected

    ts, reference = assert_every_split(V3_RECORDED, run_v3, check, Usage(7, 4))
    assert ts.completion_text == "Hello from 智谱\nv3"
    assert transcode(v3_stream(), [V3_RECORDED.replace(b"\n", b"\r\n")]) == reference
    assert transcode(v3_stream(), [V3_RECORDED[:-2]]) == reference  # last frame without its blank line


def test_v3_stream_error_and_cut() -> None:
    ts = v3_stream()
    error = b"event:add\nid:1\ndata:Hi\n\nevent:error\nid:1\ndata:model overloaded\n\n"
    chunks, dones = decode_frames(transcode(ts, [error]))
    assert dones == 1 and chunks[-1]["error"]["message"] == "model overloaded" and ts.error == "model overloaded"
    ts = v3_stream()
    chunks, dones = decode_frames(transcode(ts, [b"event:add\nid:1\ndata:Hi\n\n"]))
    assert dones == 1 and not ts.done and ts.usage is None and [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "Hi"}]


def test_new_stream_by_version() -> None:
    ad = ZhipuAdaptor()
    assert type(ad.new_stream(make_req(stream=True))) is ZhipuStream
    assert type(ad.new_stream(make_req(stream=True, model=V3_MODEL))) is ZhipuV3Stream


# --------------------------------------------------------------------------- the fake Zhipu server


class FakeZhipu:
    def __init__(self, recorder: list[dict[str, Any]], url: str) -> None:
        self.recorder = recorder
        self.url = url

    def auth(self) -> list[str]:
        return [r["headers"].get("Authorization", "") for r in self.recorder]


@pytest.fixture
async def zhipu() -> AsyncIterator[FakeZhipu]:
    recorder: list[dict[str, Any]] = []
    async with serving(make_zhipu_app(recorder)) as url:
        yield FakeZhipu(recorder, url)


async def _stream_through(ad: ZhipuAdaptor, req: RelayRequest, t: ChannelTarget) -> tuple[Any, bytes]:
    resp, ts, out = await send_stream(ad, req, t)
    assert resp.code == 200
    return ts, out


async def test_round_trips_with_fake_zhipu(zhipu: FakeZhipu) -> None:
    ad = ZhipuAdaptor()
    t = target(base_url=zhipu.url)
    body = {"model": "my-glm", "messages": [{"role": "system", "content": "Be nice"},
                                            {"role": "user", "content": "Hi"}],
            "temperature": 1.5, "top_p": 1, "stop": ["a", "b"], "seed": 1, "stream_options": {"include_usage": True}}
    req = make_req(body)
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == TEXT_REPLY and data["model"] == "my-glm"
    assert data["id"] == ZHIPU_ID and parsed.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)
    assert zhipu.auth()[-1] == "Bearer " + KEY

    ts, out = await _stream_through(ad, make_req({**body, "stream": True}, stream=True), t)
    chunks, dones = decode_frames(out)
    assert dones == 1 and ts.done and ts.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == TEXT_REPLY

    # v3: the fake verifies the JWT on its own
    req = make_req(body, model=V3_MODEL)
    resp = await send(ad.build_request(req, t))
    parsed = ad.parse_response(req, resp.code, resp.body)
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == V3_REPLY
    assert parsed.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)
    kid = verify_jwt(zhipu.auth()[-1], ZHIPU_KEYS)
    assert kid == "zp-id" and zhipu.recorder[-1]["path"] == "/api/paas/v3/model-api/chatglm_turbo/invoke"
    ts, out = await _stream_through(ad, make_req(body, stream=True, model=V3_MODEL), t)
    chunks, _ = decode_frames(out)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == V3_REPLY
    assert ts.done and ts.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)

    # a v3 key the fake does not know: HTTP 200 with success false
    req = make_req(body, model=V3_MODEL)
    resp = await send(ad.build_request(req, target(base_url=zhipu.url, key="stranger.secret")))
    assert resp.code == 200
    with pytest.raises(ZhipuAnswerError) as e:
        ad.parse_response(req, resp.code, resp.body)
    assert e.value.failure.status == 401 and e.value.failure.disables_channel


async def test_fake_zhipu_rejects_what_zhipu_rejects(zhipu: FakeZhipu) -> None:
    ad = ZhipuAdaptor()
    t = target(base_url=zhipu.url)
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
    assert code == 401 and err["error"]["code"] == "1001"
    code, err = await post({**sent, "stream_options": {"include_usage": True}})
    assert code == 400 and err["error"]["code"] == "1214"
    code, err = await post({**sent, "temperature": 1.5})
    assert code == 400
    code, err = await post({**sent, "tool_choice": "required"})
    assert code == 400
    code, err = await post({**sent, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]})
    assert code == 400 and "图片" in err["error"]["message"]
    assert (await post(sent))[0] == 200


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, zhipu: FakeZhipu, key: str = KEY, **fields: Any) -> str:
    return await channel_token(gw, type=16, key=key, base_url=zhipu.url,
                               models=f"{MODEL},{V3_MODEL},embedding-3", **fields)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


async def test_gateway_chat_plain_and_usage_billed(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, temperature=0, max_tokens=30,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL and resp.object == "chat.completion"
    assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (
        PROMPT_TOKENS, TEXT_TOKENS)
    sent = zhipu.recorder[-1]
    assert sent["path"] == "/api/paas/v4/chat/completions" and sent["headers"]["Authorization"] == "Bearer " + KEY
    assert sent["json"] == {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": "hi"}],
                            "do_sample": False, "max_tokens": 30}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and logs[0]["model_name"] == MODEL
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_TOKENS)


async def test_gateway_stream(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.models == {MODEL} and seen.text == TEXT_REPLY and seen.finish == "stop"
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    assert zhipu.recorder[-1]["json"]["stream"] is True and "stream_options" not in zhipu.recorder[-1]["json"]
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] == TEXT_TOKENS and logs[0]["quota"] > 0


async def test_gateway_tool_call_round_trip(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS,  # type: ignore[arg-type]
                                                tool_choice="auto")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == TOOL_ARGS
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_TOKENS
    assert zhipu.recorder[-1]["json"]["tools"][0]["function"]["name"] == "get_weather"

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == TOOL_RESULT_REPLY
    sent = zhipu.recorder[-1]["json"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2] == {
        "role": "tool", "content": '{"sky": "clear"}', "tool_call_id": call.id}

    stream = await client.chat.completions.create(model=MODEL, messages=messages[:1], tools=TOOLS,  # type: ignore
                                                  stream=True)
    name, args, finish = None, "", None
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == TOOL_ARGS and finish == "tool_calls"
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)


async def test_gateway_v3_model_signed_with_jwt(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    client = gw.client(key)
    resp = await client.chat.completions.create(model=V3_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == V3_REPLY and resp.model == V3_MODEL
    assert verify_jwt(zhipu.recorder[-1]["headers"]["Authorization"], ZHIPU_KEYS) == "zp-id"
    text = ""
    async for chunk in await client.chat.completions.create(
            model=V3_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True):
        text += "".join(ch.delta.content or "" for ch in chunk.choices)
    assert text == V3_REPLY
    assert zhipu.recorder[-1]["path"].endswith("/sse-invoke")
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["completion_tokens"] == TEXT_TOKENS for log in logs)


async def test_gateway_embeddings(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    client = gw.client(key)
    resp = await client.embeddings.create(model="embedding-3", input=["hello world", "bye"])  # the SDK asks base64
    assert [d.embedding for d in resp.data] == [EMBEDDING, EMBEDDING] and resp.model == "embedding-3"
    assert resp.usage.prompt_tokens == 3
    assert zhipu.recorder[-1]["json"] == {"model": "embedding-3", "input": ["hello world", "bye"]}
    resp = await client.embeddings.create(model="embedding-3", input="hi", encoding_format="float", dimensions=256)
    assert resp.data[0].embedding == EMBEDDING
    assert zhipu.recorder[-1]["json"] == {"model": "embedding-3", "input": "hi", "dimensions": 256}
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)


async def test_gateway_error_in_openai_shape_and_channel_disabled(gw: Gateway, zhipu: FakeZhipu) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=16, key="bad.key", base_url=zhipu.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401 and "Authorization Token" in e.value.message
    assert e.value.code == "1002" and isinstance(e.value.body, dict) and e.value.body["type"] == "zhipu_error"
    status = None
    for _ in range(50):
        status = (await gw.ok("GET", f"/api/channel/{cid}"))["status"]
        if status == 3:
            break
        await asyncio.sleep(0.05)
    assert status == 3
    assert await gw.logs() == []


async def test_gateway_sensitive_is_content_filter(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await _setup(gw, zhipu)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "SENSITIVE stuff"}])
    assert resp.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize("stream", [False, True])
async def test_gateway_retries_another_channel_on_5xx(gw: Gateway, zhipu: FakeZhipu, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=16, key="fail500.key", base_url=zhipu.url, models=MODEL, priority=10)
    await gw.channel(type=16, key=KEY, base_url=zhipu.url, models=MODEL, priority=0)
    key = await gw.token()
    client = gw.client(key)
    assert await ask(client, MODEL, stream) == TEXT_REPLY
    assert zhipu.auth() == ["Bearer fail500.key", "Bearer " + KEY]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_gateway_network_error_is_retried(gw: Gateway, zhipu: FakeZhipu) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=16, key="zp-neterror.k", base_url=zhipu.url, models=MODEL, priority=10)
    await gw.channel(type=16, key=KEY, base_url=zhipu.url, models=MODEL, priority=0)
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert zhipu.auth() == ["Bearer zp-neterror.k", "Bearer " + KEY]


async def test_channel_test(gw: Gateway, zhipu: FakeZhipu) -> None:
    good = await gw.channel(type=16, key=KEY, base_url=zhipu.url, models=MODEL)
    code, data = await gw.api("GET", f"/api/channel/test/{good}")
    assert code == 200 and data["success"] is True, data
    assert zhipu.recorder[-1]["json"]["model"] == MODEL
    # a v3 model with a key the fake does not know: an error on HTTP 200, reported (no 500)
    bad = await gw.channel(type=16, key="stranger.secret", base_url=zhipu.url, models=V3_MODEL, test_model=V3_MODEL)
    code, data = await gw.api("GET", f"/api/channel/test/{bad}")
    assert code == 200 and data["success"] is False, data
    assert "unknown api_key" in data["message"]


# --------------------------------------------------------------------------- images (CogView)

IMAGE_URL = "https://open.bigmodel.cn/api/paas/v4/images/generations"
CDN = "https://aigc-files.bigmodel.cn/api/cogview/"


def image_req(body: dict[str, Any], model: str = "cogview-3") -> RelayRequest:
    return make_req({"model": model, **body}, model=model, requested=model, mode=IMAGES)


def answer(*urls: str) -> bytes:
    return json.dumps({"created": 1700000001, "data": [{"url": u} for u in urls],
                       "content_filter": [{"role": "assistant", "level": 3}]}).encode()


def test_image_request_shape() -> None:
    ad = ZhipuAdaptor(clock=fixed_clock)
    req = image_req({"prompt": "a cat", "n": 1, "size": "1024x1024", "quality": "hd", "style": "vivid",
                     "response_format": "url", "user": "user-123456", "watermark_enabled": False}, "cogview-4")
    up = ad.build_request(req, target())
    assert (up.method, up.url) == ("POST", IMAGE_URL)
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer " + KEY}
    assert json.loads(up.body or b"") == {"model": "cogview-4", "prompt": "a cat", "size": "1024x1024",
                                          "quality": "hd", "user_id": "user-123456", "watermark_enabled": False}
    # the minimum, as One API sends it; a user id Zhipu would refuse (under 6 characters) is dropped
    assert to_zhipu_image_request({"prompt": "a cat", "user": "bob", "quality": "low", "size": "big"},
                                  "cogview-3") == {"model": "cogview-3", "prompt": "a cat"}
    assert ad.build_request(image_req({"prompt": "x"}), target(base_url="https://api.z.ai/api/paas/v4")).url == \
        "https://api.z.ai/api/paas/v4/images/generations"


def test_image_answer_and_n_by_asking_again() -> None:
    ad = ZhipuAdaptor(clock=fixed_clock)
    req = image_req({"prompt": "a cat"})
    ad.build_request(req, target())
    parsed = ad.parse_response(req, 200, answer(CDN + "1.png"))
    assert parsed.follow is None and parsed.usage is None
    assert json.loads(parsed.body) == {"created": int(fixed_clock()), "data": [{"url": CDN + "1.png"}]}

    req = image_req({"prompt": "a cat", "n": 3}, "cogview-4")
    up = ad.build_request(req, target())
    first = ad.parse_response(req, 200, answer(CDN + "1.png"))
    assert first.follow == up and first.follow_delay == 0  # the same request again
    assert ad.parse_response(req, 200, answer(CDN + "2.png")).follow == up
    last = ad.parse_response(req, 200, answer(CDN + "3.png", CDN + "4.png"))  # never more than n
    assert last.follow is None
    assert [d["url"] for d in json.loads(last.body)["data"]] == [CDN + f"{i}.png" for i in (1, 2, 3)]


def test_image_b64_json_fetches_each_image() -> None:
    ad = ZhipuAdaptor(clock=fixed_clock)
    req = image_req({"prompt": "a cat", "n": 2, "response_format": "b64_json"}, "cogview-4")
    up = ad.build_request(req, target())
    assert ad.parse_response(req, 200, answer(CDN + "1.png")).follow == up
    fetch = ad.parse_response(req, 200, answer(CDN + "2.png"))
    assert fetch.follow == UpstreamRequest("GET", CDN + "1.png", {"Accept": "image/*"}, None)  # no key sent
    fetch = ad.parse_response(req, 200, b"PNG-1")
    assert fetch.follow is not None and fetch.follow.url == CDN + "2.png"
    done = ad.parse_response(req, 200, b"PNG-2")
    assert done.follow is None and done.usage is None
    assert json.loads(done.body) == {"created": int(fixed_clock()), "data": [
        {"b64_json": base64.b64encode(b"PNG-1").decode()}, {"b64_json": base64.b64encode(b"PNG-2").decode()}]}


def test_image_errors() -> None:
    ad = ZhipuAdaptor(clock=fixed_clock)
    req = image_req({"prompt": "a cat"})
    ad.build_request(req, target())
    with pytest.raises(ZhipuAnswerError) as e:
        ad.parse_response(req, 200, json.dumps({"error": {"code": "1301", "message": "敏感内容"}}).encode())
    assert e.value.failure.code == "1301" and not e.value.failure.retryable
    with pytest.raises(ZhipuAnswerError) as e:
        ad.parse_response(req, 200, json.dumps({"created": 1, "data": []}).encode())
    assert e.value.failure.status == 502 and e.value.failure.retryable
    with pytest.raises(ZhipuAnswerError):
        ad.parse_response(req, 200, b"<html>busy</html>")
    f = ad.parse_error(400, zerr("1301", "系统检测到输入或生成内容可能包含不安全或敏感内容"))
    assert f.status == 400 and not f.retryable and not f.disables_channel
    # an empty download is an error, not an empty image
    req = image_req({"prompt": "a cat", "response_format": "b64_json"})
    ad.build_request(req, target())
    assert isinstance(ad.parse_response(req, 200, answer(CDN + "1.png")), ParsedResponse)
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 200, b"")
    assert e.value.failure.code == "image_download_failed"


async def test_image_round_trip_with_fake_zhipu(zhipu: FakeZhipu) -> None:
    ad = ZhipuAdaptor()
    req = image_req({"prompt": "a cat", "n": 2, "size": "768x1344", "response_format": "b64_json"}, "cogview-4")
    up: UpstreamRequest | None = ad.build_request(req, target(base_url=zhipu.url))
    parsed = None
    while up is not None:
        resp = await send(up)
        assert resp.code == 200, resp.body
        parsed = ad.parse_response(req, resp.code, resp.body)
        up = parsed.follow
    assert parsed is not None
    data = json.loads(parsed.body)["data"]
    assert [base64.b64decode(d["b64_json"]) for d in data] == [image_bytes("cogview-1.png"),
                                                                 image_bytes("cogview-2.png")]
    assert [r["path"] for r in zhipu.recorder] == ["/api/paas/v4/images/generations"] * 2 + [
        "/files/cogview-1.png", "/files/cogview-2.png"]
    resp = await send(ad.build_request(image_req({"prompt": "x", "size": "100x100"}), target(base_url=zhipu.url)))
    assert resp.code == 400 and ad.parse_error(resp.code, resp.body).code == "1214"


def image_quota(gw: Gateway, model: str, body: dict[str, Any]) -> int:
    """What OneRelay bills for these images (the model and group ratios it uses)."""
    from relay import endpoints, ratios
    mr = ratios.model_ratio(gw.ctx.options.json("ModelRatio"), model, 16)
    gr = ratios.group_ratio(gw.ctx.options.json("GroupRatio"), "default")
    return endpoints.image_quota(body, model, mr * gr)


async def test_gateway_image_generation_billed(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await channel_token(gw, type=16, key=KEY, base_url=zhipu.url, models="cogview-3,cogview-4")
    before = (await gw.user())["quota"]
    client = gw.client(key)
    resp = await client.images.generate(model="cogview-3", prompt="a red fox", size="1024x1024", user="user-42abc")
    assert resp.data is not None and [d.url for d in resp.data] == [zhipu.url + "/files/cogview-1.png"]
    assert resp.created > 0
    sent = zhipu.recorder[-1]
    assert sent["path"] == "/api/paas/v4/images/generations" and sent["headers"]["Authorization"] == "Bearer " + KEY
    assert sent["json"] == {"model": "cogview-3", "prompt": "a red fox", "size": "1024x1024", "user_id": "user-42abc"}
    one = image_quota(gw, "cogview-3", {"size": "1024x1024", "n": 1})
    assert one == 30 * 1000  # cogview-3 has no ratio of its own: One API's 30 for unknown models

    resp = await client.images.generate(model="cogview-4", prompt="a red fox", n=2, response_format="b64_json")
    assert resp.data is not None
    assert [base64.b64decode(d.b64_json or "") for d in resp.data] == [image_bytes("cogview-2.png"),
                                                                        image_bytes("cogview-3.png")]
    files = [r for r in zhipu.recorder if r["path"].startswith("/files/")]
    assert len(files) == 2 and all("Authorization" not in r["headers"] for r in files)
    two = image_quota(gw, "cogview-4", {"n": 2})
    logs = await gw.logs()
    assert sorted(log["quota"] for log in logs) == sorted([one, two])
    assert all(log["prompt_tokens"] == 0 and log["completion_tokens"] == 0 for log in logs)
    assert before - (await gw.user())["quota"] == one + two


async def test_gateway_image_refused_is_not_billed(gw: Gateway, zhipu: FakeZhipu) -> None:
    key = await channel_token(gw, type=16, key=KEY, base_url=zhipu.url, models="cogview-3")
    before = (await gw.user())["quota"]
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).images.generate(model="cogview-3", prompt="SENSITIVE things")
    assert e.value.status_code == 400 and e.value.code == "1301"
    assert isinstance(e.value.body, dict) and "敏感" in e.value.body["message"]
    assert await gw.logs() == []
    assert (await gw.user())["quota"] == before
