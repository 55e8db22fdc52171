"""Alibaba DashScope (type 17) adaptor: pure conversion tests, the stream transcoder fed a
recorded DashScope stream split everywhere, round trips with the fake DashScope server, and
OpenAI SDK clients talking to an Ali channel through OneRelay."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.ali import (
    PARAMETER_FIELDS,
    AliAdaptor,
    AliAnswerError,
    AliStream,
    convert_messages,
    dashscope_size,
    finish_reason,
    is_multimodal,
    parse_ali_error,
    split_model,
    to_dashscope_embeddings,
    to_dashscope_image_request,
    to_dashscope_request,
    to_openai_embeddings,
    to_openai_response,
)
from adaptors.base import (
    CHAT,
    EMBEDDINGS,
    IMAGES,
    ChannelTarget,
    RelayRequest,
    UpstreamRejected,
    UpstreamRequest,
    Usage,
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
    serving,
    simplify_chunks,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_zhipu_ali import (
    ALI_REQUEST_ID,
    EMBEDDING,
    PROMPT_TOKENS,
    TEXT_REPLY,
    TEXT_TOKENS,
    TOOL_ARGS,
    TOOL_RESULT_REPLY,
    TOOL_TOKENS,
    image_bytes,
    make_ali_app,
)

MODEL = "qwen-turbo"
KEY = "sk-ali-test"
TEXT_URL = "https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation"


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-qwen", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 9, "type": 17, "key": KEY}, **kw)


# --------------------------------------------------------------------------- request


def test_request_shape_and_parameters() -> None:
    out = to_dashscope_request({
        "model": "x", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 64, "temperature": 2.5, "top_p": 1.0, "top_k": 20, "seed": 42, "stop": "END",
        "presence_penalty": 3, "frequency_penalty": 0.5, "n": 1, "stream_options": {"include_usage": True},
        "response_format": {"type": "json_object"}, "enable_thinking": False, "user": "u1", "logprobs": True,
    }, "qwen-plus", stream=True)
    assert out == {"model": "qwen-plus",
                   "input": {"messages": [{"role": "system", "content": "Be terse."},
                                          {"role": "user", "content": "Hi"}]},
                   "parameters": {"result_format": "message", "incremental_output": True, "max_tokens": 64,
                                  "temperature": 1.99, "top_p": 0.9999, "top_k": 20, "seed": 42, "stop": ["END"],
                                  "presence_penalty": 2.0, "response_format": {"type": "json_object"},
                                  "enable_thinking": False}}
    assert set(out["parameters"]) <= PARAMETER_FIELDS
    plain = to_dashscope_request({"messages": [], "top_p": 0, "max_completion_tokens": 9}, MODEL, stream=False)
    assert plain["parameters"] == {"result_format": "message", "max_tokens": 9}  # no incremental_output


def test_internet_suffix_enables_search() -> None:
    assert split_model("qwen-max-internet") == ("qwen-max", True) and split_model("qwen-max") == ("qwen-max", False)
    out = to_dashscope_request({"messages": []}, "qwen-max-internet", stream=False)
    assert out["model"] == "qwen-max" and out["parameters"]["enable_search"] is True


def test_messages_tools_and_results() -> None:
    msgs = convert_messages([
        {"role": "developer", "content": [{"type": "text", "text": "Rules"}]},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url",
                                                                             "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "function", "name": "legacy", "content": "x"},
        {"role": "critic", "content": "dropped"},
    ])
    assert msgs == [
        {"role": "system", "content": "Rules"},
        {"role": "user", "content": "Weather?"},  # a text model gets text only
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
                                                             "function": {"name": "get_weather",
                                                                          "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1", "name": "get_weather"},
        {"role": "tool", "content": "x", "name": "legacy"},
    ]
    tools = [{"type": "function", "function": {"name": "f", "description": "F",
                                               "parameters": {"type": "object", "properties": {}}}},
             {"type": "function", "function": {"name": "g"}}, {"type": "retrieval"}]
    p = to_dashscope_request({"messages": [], "tools": tools, "parallel_tool_calls": False,
                              "tool_choice": {"type": "function", "function": {"name": "f"}}},
                             MODEL, False)["parameters"]
    assert p["tools"] == [
        {"type": "function", "function": {"name": "f", "description": "F",
                                          "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}}]
    assert p["tool_choice"] == {"type": "function", "function": {"name": "f"}} and p["parallel_tool_calls"] is False
    for choice, sent in (("none", "none"), ("auto", "auto"), ("required", "auto")):
        assert to_dashscope_request({"messages": [], "tools": tools, "tool_choice": choice}, MODEL,
                                    False)["parameters"]["tool_choice"] == sent
    no_tools = to_dashscope_request({"messages": [], "tool_choice": "auto"}, MODEL, False)["parameters"]
    assert "tool_choice" not in no_tools


def test_multimodal_models_and_content() -> None:
    assert [is_multimodal(m) for m in ("qwen-vl-max", "qwen2.5-vl-72b-instruct", "qvq-72b-preview",
                                       "qwen-audio-turbo", "qwen-turbo", "qwen-max", "deepseek-v3")] == [
        True, True, True, True, False, False, False]
    out = to_dashscope_request({"messages": [
        {"role": "system", "content": "Describe."},
        {"role": "user", "content": [{"type": "text", "text": "What is it?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                     {"type": "image_url", "image_url": "https://x/cat.jpg"},
                                     {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]},
        {"role": "assistant", "content": "A cat."}, {"role": "user", "content": "Sure?"}]}, "qwen-vl-max", False)
    assert out["input"]["messages"] == [
        {"role": "system", "content": [{"text": "Describe."}]},
        {"role": "user", "content": [{"text": "What is it?"}, {"image": "data:image/png;base64,AAAA"},
                                     {"image": "https://x/cat.jpg"}, {"audio": "data:audio/wav;base64,UklG"}]},
        {"role": "assistant", "content": [{"text": "A cat."}]},
        {"role": "user", "content": [{"text": "Sure?"}]}]


def test_build_request_urls_headers_and_plugin() -> None:
    ad = AliAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.url == TEXT_URL
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer " + KEY}
    up = ad.build_request(make_req(stream=True), target(config={"plugin": '{"pdf_extracter":{}}'}))
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer " + KEY,
                          "Accept": "text/event-stream", "X-DashScope-SSE": "enable",
                          "X-DashScope-Plugin": '{"pdf_extracter":{}}'}
    assert json.loads(up.body or b"")["parameters"]["incremental_output"] is True
    up = ad.build_request(make_req(), target(config={"plugin": {"code_interpreter": {}}}))
    assert up.headers["X-DashScope-Plugin"] == '{"code_interpreter":{}}'
    for base in ("https://dashscope-intl.aliyuncs.com/", "https://dashscope-intl.aliyuncs.com/api/v1",
                 "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"):
        assert ad.build_request(make_req(), target(base_url=base)).url == \
            "https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/text-generation/generation"
    vl = ad.build_request(make_req(model="qwen-vl-plus"), target())
    assert vl.url.endswith("/api/v1/services/aigc/multimodal-generation/generation")
    emb = ad.build_request(make_req({"input": ["a", "b"], "dimensions": 512}, mode=EMBEDDINGS,
                                    model="text-embedding-v3", stream=False), target())
    assert emb.url == "https://dashscope.aliyuncs.com/api/v1/services/embeddings/text-embedding/text-embedding"
    assert json.loads(emb.body or b"") == {"model": "text-embedding-v3", "input": {"texts": ["a", "b"]},
                                           "parameters": {"dimension": 512}}
    assert "X-DashScope-SSE" not in emb.headers


def test_registry_entry_and_family() -> None:
    s = PROVIDERS[17]
    assert s.adaptor == "ali" and s.supported and s.auth == "bearer"
    assert set(s.modes) == {CHAT, EMBEDDINGS, IMAGES} and AliAdaptor.modes == frozenset(s.modes)
    assert s.test_model in s.models and "text-embedding-v3" in s.models
    assert {"wanx-v1", "wanx2.1-t2i-turbo"} <= set(s.models)
    assert [c.key for c in s.config] == ["plugin"] and s.base_url == "https://dashscope.aliyuncs.com"
    assert s.color == "#ff6a00" and s.note
    assert isinstance(build_registry()[17], AliAdaptor)


# --------------------------------------------------------------------------- responses


def test_response_text_usage_and_model() -> None:
    out, usage, text = to_openai_response({
        "output": {"choices": [{"finish_reason": "stop", "message": {
            "role": "assistant", "content": "Hello", "reasoning_content": "Hmm"}}]},
        "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}, "request_id": "rid-1"}, "my-qwen", 5)
    assert out == {"id": "chatcmpl-rid-1", "object": "chat.completion", "created": 5, "model": "my-qwen",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello",
                                                        "reasoning_content": "Hmm"}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}
    assert usage == Usage(10, 2) and text == "HmmHello"
    out, _, text = to_openai_response({"output": {"text": "old style", "finish_reason": "length"}}, "m")
    assert out["choices"][0]["message"]["content"] == "old style" and out["choices"][0]["finish_reason"] == "length"
    out, _, text = to_openai_response({"output": {"choices": [{"finish_reason": "stop", "message": {
        "role": "assistant", "content": [{"text": "A "}, {"text": "cat"}]}}]}}, "m")
    assert text == "A cat" and out["choices"][0]["message"]["content"] == "A cat"


def test_response_tool_calls() -> None:
    out, _, text = to_openai_response({"output": {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}, "index": 0, "id": "call_a",
             "type": "function"}]}}]}}, "m")
    assert out["choices"][0] == {"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [{"id": "call_a", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Paris"}'}}]}}
    assert text == 'get_weather{"city":"Paris"}'


@pytest.mark.parametrize("reason, expected", [("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
                                              ("null", None), (None, None), ("", None), ("other", "stop")])
def test_finish_reasons(reason: str | None, expected: str | None) -> None:
    assert finish_reason(reason) == expected


def test_embeddings_request_and_response() -> None:
    assert to_dashscope_embeddings({"input": "hi", "encoding_format": "base64", "text_type": "query"},
                                   "text-embedding-v2") == {
        "model": "text-embedding-v2", "input": {"texts": ["hi"]}, "parameters": {"text_type": "query"}}
    data = {"output": {"embeddings": [{"text_index": 1, "embedding": [1, 2]}, {"text_index": 0, "embedding": [0.5]}]},
            "usage": {"total_tokens": 6}, "request_id": "r"}
    out, usage = to_openai_embeddings(data, "my-emb")
    assert out == {"object": "list", "model": "my-emb", "usage": {"prompt_tokens": 6, "total_tokens": 6},
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5]},
                            {"object": "embedding", "index": 1, "embedding": [1.0, 2.0]}]}
    assert usage == Usage(6, 0)
    out, _ = to_openai_embeddings(data, "my-emb", "base64")
    assert struct.unpack("<2f", base64.b64decode(out["data"][1]["embedding"])) == (1.0, 2.0)
    assert to_openai_embeddings({"output": {"embeddings": []}}, "m")[1] is None


def aerr(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message, "request_id": "req-9"}).encode()


def test_errors_and_verdicts() -> None:
    f = parse_ali_error(401, aerr("InvalidApiKey", "Invalid API-key provided."))
    assert f.disables_channel and f.retryable and f.code == "InvalidApiKey" and f.type == "InvalidApiKey"
    assert f.payload == {"message": "Invalid API-key provided. (DashScope request id: req-9)",
                         "type": "InvalidApiKey", "param": "", "code": "InvalidApiKey"}
    f = parse_ali_error(400, aerr("Arrearage", "Access denied, plesase make sure your account is in good standing."))
    assert f.disables_channel and f.retryable  # unlike other 400s: another channel may pay
    f = parse_ali_error(400, aerr("InvalidParameter", "Range of top_p should be (0.0, 1.0)"))
    assert not f.retryable and not f.disables_channel
    f = parse_ali_error(400, aerr("DataInspectionFailed", "Input or output data may contain inappropriate content."))
    assert not f.retryable and not f.disables_channel
    f = parse_ali_error(429, aerr("Throttling.RateQuota", "Requests rate limit exceeded"))
    assert f.retryable and not f.disables_channel
    f = parse_ali_error(500, aerr("InternalError", "An internal error has occured"))
    assert f.retryable and f.status == 500
    sse = b'id:1\nevent:error\n:HTTP_STATUS/401\ndata:{"code":"InvalidApiKey","message":"Invalid API-key provided.",' \
          b'"request_id":"r2"}\n\n'
    f = parse_ali_error(401, sse)
    assert f.code == "InvalidApiKey" and f.disables_channel and f.message.startswith("Invalid API-key provided.")
    assert parse_ali_error(502, b"bad gateway").message == "bad gateway"
    assert parse_ali_error(502, b"").message == "upstream returned HTTP 502"


def test_error_object_on_http_200_is_rejected() -> None:
    with pytest.raises(AliAnswerError) as e:
        AliAdaptor().parse_response(make_req(), 200, aerr("InvalidParameter", "bad"))
    assert e.value.failure.code == "InvalidParameter"


# --------------------------------------------------------------------------- stream


def frame(n: int, obj: dict[str, Any], event: str = "result", status: int = 200) -> str:
    return f"id:{n}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{json.dumps(obj, ensure_ascii=False)}\n\n"


def ev(message: dict[str, Any], finish: str, output_tokens: int) -> dict[str, Any]:
    return {"output": {"choices": [{"message": message, "finish_reason": finish}]},
            "usage": {"total_tokens": 30 + output_tokens, "output_tokens": output_tokens, "input_tokens": 30},
            "request_id": "e1b1-recorded"}


RECORDED = "".join([
    frame(1, ev({"content": "", "reasoning_content": "Let me check", "role": "assistant"}, "null", 3)),
    frame(2, ev({"content": "Looking up 東京 ☀ ", "role": "assistant"}, "null", 8)),
    frame(3, ev({"content": "", "role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_e2", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":'}}]}, "null", 12)),
    frame(4, ev({"content": "", "role": "assistant", "tool_calls": [
        {"index": 0, "id": "", "type": "function", "function": {"arguments": ' "Tokyo"}'}}]}, "null", 15)),
    frame(5, ev({"content": "", "role": "assistant"}, "tool_calls", 16)),
]).encode()
EXPECTED: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "reasoning_content": "Let me check"}},
    {"delta": {"content": "Looking up 東京 ☀ "}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_e2", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city":'}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ' "Tokyo"}'}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 30, "completion_tokens": 16, "total_tokens": 46}},
]


def simplify(chunks: list[dict[str, Any]], chat_id: str = "chatcmpl-e1b1-recorded") -> list[dict[str, Any]]:
    return simplify_chunks(chunks, chat_id, "my-qwen", 1700000000)


def run(pieces: list[bytes], include_usage: bool = True) -> tuple[AliStream, bytes]:
    ts = AliStream(make_req(stream=True, include_usage=include_usage), created=1700000000)
    return ts, transcode(ts, pieces)


def test_stream_split_at_every_byte() -> None:
    def check(ts: AliStream, out: bytes) -> None:
        chunks, dones = decode_frames(out)
        assert dones == 1 and simplify(chunks) == EXPECTED

    ts, reference = assert_every_split(RECORDED, run, check, Usage(30, 16))
    assert ts.completion_text == 'Let me checkLooking up 東京 ☀ get_weather{"city": "Tokyo"}'
    assert run(byte_by_byte(RECORDED))[1] == reference
    assert run([RECORDED.replace(b"\n", b"\r\n")])[1] == reference
    assert run([RECORDED[:-2]])[1] == reference  # the last frame without its blank line


def test_stream_text_finish_and_no_usage_chunk_unless_asked() -> None:
    text = (frame(1, ev({"content": "Hel", "role": "assistant"}, "null", 1))
            + frame(2, ev({"content": "lo", "role": "assistant"}, "length", 2))).encode()
    ts, out = run([text], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and ts.usage == Usage(30, 2)
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks] == [
        ({"role": "assistant", "content": "Hel"}, None), ({"content": "lo"}, None), ({}, "length")]


def test_stream_error_frame_and_cut() -> None:
    err = frame(2, {"code": "InternalError.Algo", "message": "Model inference failed.", "request_id": "x"},
                event="error", status=500)
    ts, out = run([(frame(1, ev({"content": "Hi", "role": "assistant"}, "null", 1)) + err).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1] == {"error": {"message": "Model inference failed.", "type": "InternalError.Algo",
                                                   "param": "", "code": "InternalError.Algo"}}
    assert ts.error == "Model inference failed." and not ts.done
    ts, out = run([frame(1, ev({"content": "Hi", "role": "assistant"}, "null", 1)).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1 and not ts.done and ts.usage == Usage(30, 1)


def test_new_stream_returns_transcoder() -> None:
    assert isinstance(AliAdaptor().new_stream(make_req(stream=True)), AliStream)


# --------------------------------------------------------------------------- the fake DashScope server


class FakeAli:
    def __init__(self, recorder: list[dict[str, Any]], url: str) -> None:
        self.recorder = recorder
        self.url = url

    def keys(self) -> list[str]:
        return [r["headers"].get("Authorization", "")[7:] for r in self.recorder]


@pytest.fixture
async def ali() -> AsyncIterator[FakeAli]:
    recorder: list[dict[str, Any]] = []
    async with serving(make_ali_app(recorder)) as url:
        yield FakeAli(recorder, url)


async def test_round_trips_with_fake_ali(ali: FakeAli) -> None:
    ad = AliAdaptor()
    t = target(base_url=ali.url)
    body = {"model": "my-qwen", "messages": [{"role": "user", "content": "Hi"}], "top_p": 1, "temperature": 2}
    req = make_req(body)
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == TEXT_REPLY and data["model"] == "my-qwen"
    assert data["id"] == "chatcmpl-" + ALI_REQUEST_ID and parsed.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)

    req = make_req({**body, "stream": True}, stream=True)
    resp, ts, out = await send_stream(ad, req, t)
    chunks, dones = decode_frames(out)
    assert resp.code == 200 and dones == 1 and ts.done and ts.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == TEXT_REPLY

    req = make_req({"model": "v", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}]},
        model="qwen-vl-plus")
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    assert json.loads(ad.parse_response(req, 200, resp.body).body)["choices"][0]["message"]["content"] == TEXT_REPLY
    assert ali.recorder[-1]["path"].endswith("/multimodal-generation/generation")

    # an error to a stream request is SSE-framed
    req = make_req(body, stream=True)
    resp = await send(ad.build_request(req, target(base_url=ali.url, key="sk-bad")))
    assert resp.code == 401 and resp.body.startswith(b"id:1\nevent:error")
    f = ad.parse_error(resp.code, resp.body)
    assert f.code == "InvalidApiKey" and f.disables_channel


async def test_fake_ali_rejects_what_dashscope_rejects(ali: FakeAli) -> None:
    ad = AliAdaptor()
    t = target(base_url=ali.url)
    up = ad.build_request(make_req(), t)
    sent = json.loads(up.body or b"")

    async def post(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        req = ad.build_request(make_req(), t)
        req.body = json.dumps(body).encode()
        if headers is not None:
            req.headers = headers
        resp = await send(req)
        return resp.code, json.loads(resp.body)

    assert (await post(sent, {"Content-Type": "application/json"}))[1]["code"] == "InvalidApiKey"
    code, err = await post({**sent, "messages": sent["input"]["messages"]})
    assert code == 400
    code, err = await post({**sent, "parameters": {**sent["parameters"], "top_p": 1.0}})
    assert code == 400 and "top_p" in err["message"]
    code, err = await post({**sent, "parameters": {**sent["parameters"], "incremental_output": True}})
    assert code == 400  # incremental output without SSE
    code, err = await post({**sent, "parameters": {**sent["parameters"], "stream_options": {}}})
    assert code == 400
    code, err = await post({**sent, "input": {"messages": [{"role": "user", "content": [{"text": "x"}]}]}})
    assert code == 400 and "string" in err["message"]
    assert (await post(sent))[0] == 200


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, ali: FakeAli, key: str = KEY, **fields: Any) -> str:
    return await channel_token(gw, type=17, key=key, base_url=ali.url,
                               models=f"{MODEL},qwen-vl-plus,text-embedding-v3", **fields)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


async def test_gateway_chat_plain_usage_and_plugin(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali, config=json.dumps({"plugin": '{"pdf_extracter":{}}'}))
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, max_tokens=50, top_p=1, messages=[{"role": "system", "content": "Be brief."},
                                                       {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL and resp.id == "chatcmpl-" + ALI_REQUEST_ID
    assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (
        PROMPT_TOKENS, TEXT_TOKENS)
    sent = ali.recorder[-1]
    assert sent["path"] == "/api/v1/services/aigc/text-generation/generation"
    assert sent["headers"]["Authorization"] == "Bearer " + KEY
    assert sent["headers"]["X-Dashscope-Plugin"] == '{"pdf_extracter":{}}'
    assert sent["json"] == {"model": MODEL, "input": {"messages": [{"role": "system", "content": "Be brief."},
                                                                   {"role": "user", "content": "hi"}]},
                            "parameters": {"result_format": "message", "max_tokens": 50, "top_p": 0.9999}}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and logs[0]["model_name"] == MODEL
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_TOKENS)


async def test_gateway_stream(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali)
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.models == {MODEL} and seen.text == TEXT_REPLY and seen.finish == "stop"
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    sent = ali.recorder[-1]
    assert sent["headers"]["X-Dashscope-Sse"] == "enable" and sent["json"]["parameters"]["incremental_output"] is True
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] == TEXT_TOKENS and logs[0]["quota"] > 0


async def test_gateway_tool_call_round_trip(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS,  # type: ignore[arg-type]
                                                tool_choice="auto")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id == "call_ali0123456789" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_ARGS
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_TOKENS
    assert ali.recorder[-1]["json"]["parameters"]["tool_choice"] == "auto"

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == TOOL_RESULT_REPLY
    sent = ali.recorder[-1]["json"]["input"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": call.id, "name": "get_weather"}

    stream = await client.chat.completions.create(model=MODEL, messages=messages[:1], tools=TOOLS,  # type: ignore
                                                  stream=True)
    name, args, finish, ids = None, "", None, set()
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                ids.add(tc.id)
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == TOOL_ARGS and finish == "tool_calls"
    assert ids == {"call_ali0123456789", None}
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)


async def test_gateway_vision_model(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali)
    resp = await gw.client(key).chat.completions.create(model="qwen-vl-plus", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}])
    assert resp.choices[0].message.content == TEXT_REPLY
    sent = ali.recorder[-1]
    assert sent["path"].endswith("/multimodal-generation/generation")
    assert sent["json"]["input"]["messages"][0]["content"] == [{"text": "What is it?"}, {"image": "https://x/cat.png"}]


async def test_gateway_embeddings(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali)
    client = gw.client(key)
    resp = await client.embeddings.create(model="text-embedding-v3", input=["hello world", "bye"])  # base64 by SDK
    assert [d.embedding for d in resp.data] == [EMBEDDING, EMBEDDING] and resp.model == "text-embedding-v3"
    assert resp.usage.prompt_tokens == 3
    resp = await client.embeddings.create(model="text-embedding-v3", input="hi", encoding_format="float",
                                          dimensions=512)
    assert resp.data[0].embedding == EMBEDDING
    assert ali.recorder[-1]["json"] == {"model": "text-embedding-v3", "input": {"texts": ["hi"]},
                                        "parameters": {"dimension": 512}}
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)


@pytest.mark.parametrize("stream", [False, True])
async def test_gateway_error_in_openai_shape_and_channel_disabled(gw: Gateway, ali: FakeAli, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=17, key="sk-bad", base_url=ali.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                     stream=stream)
    assert e.value.status_code == 401 and "Invalid API-key provided." in e.value.message
    assert e.value.code == "InvalidApiKey"
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "InvalidApiKey"
    status = None
    for _ in range(50):
        status = (await gw.ok("GET", f"/api/channel/{cid}"))["status"]
        if status == 3:
            break
        await asyncio.sleep(0.05)
    assert status == 3
    assert await gw.logs() == []


async def test_gateway_400_is_not_retried(gw: Gateway, ali: FakeAli) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(type=17, key="sk-invalid", base_url=ali.url, models=MODEL, priority=5)
    await gw.channel(type=17, key=KEY, base_url=ali.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "InvalidParameter" and "input length" in e.value.message
    assert ali.keys() == ["sk-invalid"]


@pytest.mark.parametrize("failing, stream", [("sk-fail500", False), ("sk-fail500", True), ("sk-fail429", False)])
async def test_gateway_retries_another_channel(gw: Gateway, ali: FakeAli, failing: str, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=17, key=failing, base_url=ali.url, models=MODEL, priority=10)
    await gw.channel(type=17, key=KEY, base_url=ali.url, models=MODEL, priority=0)
    key = await gw.token()
    client = gw.client(key)
    assert await ask(client, MODEL, stream) == TEXT_REPLY
    assert ali.keys() == [failing, KEY]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_gateway_mid_stream_error(gw: Gateway, ali: FakeAli) -> None:
    key = await _setup(gw, ali, key="sk-ali-streamerror")
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e:
        await read_text(stream, parts)
    assert "inference failed" in str(e.value.message) and "".join(parts) == "Hello"
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] == 1  # the last usage DashScope reported


async def test_channel_test(gw: Gateway, ali: FakeAli) -> None:
    cid = await gw.channel(type=17, key=KEY, base_url=ali.url, models=MODEL)
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert code == 200 and data["success"] is True, data
    assert ali.recorder[-1]["json"]["model"] == MODEL


# --------------------------------------------------------------------------- images (wanx)

SYNTHESIS_URL = "https://dashscope.aliyuncs.com/api/v1/services/aigc/text2image/image-synthesis"
TASKS_URL = "https://dashscope.aliyuncs.com/api/v1/tasks/"
OSS = "https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/1d/a1/"
CREATED = 1_700_000_000


def image_req(body: dict[str, Any], model: str = "wanx-v1") -> RelayRequest:
    return make_req({"model": model, **body}, model=model, requested=model, mode=IMAGES)


def task(status: str, task_id: str = "t-1", **output: Any) -> bytes:
    return json.dumps({"request_id": "r-1", "output": {"task_id": task_id, "task_status": status, **output}}).encode()


def image_adaptor() -> AliAdaptor:
    return AliAdaptor(clock=lambda: CREATED + 0.5)


def test_image_request_shape() -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat", "n": 2, "size": "720x1280", "style": "<anime>", "quality": "hd",
                     "negative_prompt": "dogs", "seed": 42, "user": "u1", "response_format": "url"})
    up = ad.build_request(req, target(config={"plugin": '{"pdf_extracter":{}}'}))
    assert (up.method, up.url) == ("POST", SYNTHESIS_URL)
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer " + KEY,
                          "X-DashScope-Async": "enable"}  # no chat plugin on an image task
    assert json.loads(up.body or b"") == {
        "model": "wanx-v1", "input": {"prompt": "a cat", "negative_prompt": "dogs"},
        "parameters": {"n": 2, "size": "720*1280", "style": "<anime>", "seed": 42}}
    # OpenAI's styles mean nothing to wanx; wanx2 models take no style; n defaults to 1
    assert to_dashscope_image_request({"prompt": "x", "style": "vivid"}, "wanx-v1") == {
        "model": "wanx-v1", "input": {"prompt": "x"}, "parameters": {"n": 1}}
    assert to_dashscope_image_request({"prompt": "x", "style": "anime", "prompt_extend": False},
                                      "wanx2.1-t2i-turbo")["parameters"] == {"n": 1, "prompt_extend": False}
    assert to_dashscope_image_request({"prompt": "x", "style": "oil painting"}, "wanx-v1")["parameters"][
        "style"] == "<oil painting>"
    assert to_dashscope_image_request({"prompt": "x"}, "ali-stable-diffusion-xl")["model"] == "stable-diffusion-xl"
    assert [dashscope_size(s) for s in ("1024x1024", "1280X720", "1024*1024", "big", None)] == [
        "1024*1024", "1280*720", "1024*1024", None, None]
    intl = ad.build_request(image_req({"prompt": "x"}), target(base_url="https://dashscope-intl.aliyuncs.com/api/v1"))
    assert intl.url == "https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/text2image/image-synthesis"


def test_image_task_polled_until_it_succeeds() -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat", "n": 3}, "wanx2.1-t2i-turbo")
    ad.build_request(req, target(key=" " + KEY + " "))
    poll = UpstreamRequest("GET", TASKS_URL + "t-1", {"Authorization": "Bearer " + KEY}, None)
    created = ad.parse_response(req, 200, task("PENDING"))
    assert created.follow == poll and created.follow_delay == 1.0 and created.usage is None
    for status in ("RUNNING", "PENDING", "SUSPENDED"):
        assert ad.parse_response(req, 200, task(status)).follow == poll
    done = ad.parse_response(req, 200, task("SUCCEEDED", results=[
        {"url": OSS + "a.png", "orig_prompt": "a cat", "actual_prompt": "A fluffy cat"},
        {"code": "DataInspectionFailed", "message": "Output data may contain inappropriate content."},
        {"url": OSS + "b.png"}], task_metrics={"TOTAL": 3, "SUCCEEDED": 2, "FAILED": 1}))
    assert done.follow is None and done.usage is None
    assert json.loads(done.body) == {"created": CREATED, "data": [
        {"url": OSS + "a.png", "revised_prompt": "A fluffy cat"}, {"url": OSS + "b.png"}]}


def test_image_task_b64_json_fetches_each_image() -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat", "n": 2, "response_format": "b64_json"}, "wanx2.1-t2i-plus")
    ad.build_request(req, target())
    ad.parse_response(req, 200, task("PENDING"))
    fetch = ad.parse_response(req, 200, task("SUCCEEDED", results=[
        {"url": OSS + "a.png", "actual_prompt": "A fluffy cat"}, {"url": OSS + "b.png"}]))
    assert fetch.follow == UpstreamRequest("GET", OSS + "a.png", {"Accept": "image/*"}, None)  # no key sent
    fetch = ad.parse_response(req, 200, b"\x89PNG-a")
    assert fetch.follow is not None and fetch.follow.url == OSS + "b.png" and fetch.follow_delay == 0
    done = ad.parse_response(req, 200, b"\x89PNG-b")
    assert done.follow is None
    assert json.loads(done.body)["data"] == [
        {"b64_json": base64.b64encode(b"\x89PNG-a").decode(), "revised_prompt": "A fluffy cat"},
        {"b64_json": base64.b64encode(b"\x89PNG-b").decode()}]


@pytest.mark.parametrize("answer, status, code, retryable, text", [
    (task("FAILED", code="DataInspectionFailed", message="Output data may contain inappropriate content."),
     400, "content_policy_violation", False, "inappropriate content"),
    (task("FAILED", code="InvalidParameter", message="size is invalid"), 400, "InvalidParameter", False,
     "size is invalid"),
    (task("FAILED", code="InternalError.Algo", message="Algorithm process error."), 500, "InternalError.Algo",
     True, "Algorithm process error."),
    (task("CANCELED"), 500, "task_canceled", True, "DashScope task t-1 ended CANCELED"),
    (task("UNKNOWN"), 500, "task_unknown", True, "expired or never existed"),
    (task("SUCCEEDED", results=[{"code": "DataInspectionFailed", "message": "inappropriate content"}]),
     400, "content_policy_violation", False, "inappropriate content"),
    (task("SUCCEEDED", results=[]), 502, "empty_output", True, "without an image URL"),
    (json.dumps({"code": "InvalidParameter", "message": "url error", "request_id": "r-2"}).encode(), 502,
     "InvalidParameter", True, "url error"),
    (b"<html>gateway</html>", 502, "bad_task_answer", True, "other than an image task"),
    (task("WEIRD"), 502, "bad_task_answer", True, "WEIRD"),
])
def test_image_task_failures(answer: bytes, status: int, code: str, retryable: bool, text: str) -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat"})
    ad.build_request(req, target())
    ad.parse_response(req, 200, task("PENDING"))
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 200, answer)
    f = e.value.failure
    assert (f.status, f.code, f.retryable, f.disables_channel) == (status, code, retryable, False)
    assert text in f.message and f.payload is not None and f.payload["code"] == code


def test_image_task_arrears_disable_the_channel() -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat"})
    ad.build_request(req, target())
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 200, task("FAILED", code="Arrearage", message="Access denied, account in arrears."))
    assert e.value.failure.disables_channel and e.value.failure.retryable
    with pytest.raises(UpstreamRejected):  # a create answer without a task id cannot be polled
        ad.parse_response(image_req({"prompt": "a cat"}), 200, task("PENDING", task_id=""))


async def test_image_round_trip_with_fake_ali(ali: FakeAli) -> None:
    ad = image_adaptor()
    req = image_req({"prompt": "a cat", "n": 2, "size": "1280x720", "response_format": "b64_json"})
    up: UpstreamRequest | None = ad.build_request(req, target(base_url=ali.url))
    parsed = None
    while up is not None:
        resp = await send(up)
        assert resp.code == 200, resp.body
        parsed = ad.parse_response(req, resp.code, resp.body)
        up = parsed.follow
    assert parsed is not None
    assert [base64.b64decode(d["b64_json"]) for d in json.loads(parsed.body)["data"]] == [
        image_bytes("task-0001-0.png"), image_bytes("task-0001-1.png")]
    assert [r["path"] for r in ali.recorder] == [
        "/api/v1/services/aigc/text2image/image-synthesis", "/api/v1/tasks/task-0001", "/api/v1/tasks/task-0001",
        "/files/task-0001-0.png", "/files/task-0001-1.png"]
    # what DashScope refuses: a synchronous call, an OpenAI size
    up = ad.build_request(image_req({"prompt": "x"}), target(base_url=ali.url))
    resp = await send(UpstreamRequest(up.method, up.url, {k: v for k, v in up.headers.items()
                                                          if k != "X-DashScope-Async"}, up.body))
    assert resp.code == 403 and ad.parse_error(resp.code, resp.body).code == "AccessDenied"
    bad = json.loads(up.body or b"")
    bad["parameters"]["size"] = "1024x1024"
    resp = await send(UpstreamRequest(up.method, up.url, up.headers, json.dumps(bad).encode()))
    assert resp.code == 400


def image_quota(gw: Gateway, model: str, body: dict[str, Any]) -> int:
    """What OneRelay bills for these images (the model and group ratios it uses)."""
    from relay import endpoints, ratios
    mr = ratios.model_ratio(gw.ctx.options.json("ModelRatio"), model, 17)
    gr = ratios.group_ratio(gw.ctx.options.json("GroupRatio"), "default")
    return endpoints.image_quota(body, model, mr * gr)


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adaptors.ali.POLL_DELAY", 0.05)


async def test_gateway_image_task_billed(gw: Gateway, ali: FakeAli, fast_polls: None) -> None:
    key = await channel_token(gw, type=17, key=KEY, base_url=ali.url, models="wanx-v1,wanx2.1-t2i-turbo")
    before = (await gw.user())["quota"]
    client = gw.client(key)
    resp = await client.images.generate(model="wanx-v1", prompt="a red fox", n=2, size="1024x1024",
                                         extra_body={"negative_prompt": "blur"})
    assert resp.data is not None
    assert [d.url for d in resp.data] == [f"{ali.url}/files/task-0001-{i}.png" for i in range(2)]
    create, poll1, poll2 = ali.recorder
    assert create["path"] == "/api/v1/services/aigc/text2image/image-synthesis"
    assert create["headers"]["X-Dashscope-Async"] == "enable" and create["headers"]["Authorization"] == "Bearer " + KEY
    assert create["json"] == {"model": "wanx-v1", "input": {"prompt": "a red fox", "negative_prompt": "blur"},
                              "parameters": {"n": 2, "size": "1024*1024"}}
    assert poll1["path"] == poll2["path"] == "/api/v1/tasks/task-0001"
    assert poll2["headers"]["Authorization"] == "Bearer " + KEY
    two = image_quota(gw, "wanx-v1", {"n": 2, "size": "1024x1024"})
    assert two == 2 * 30 * 1000  # wanx-v1 has no ratio of its own: One API's 30 for unknown models

    resp = await client.images.generate(model="wanx2.1-t2i-turbo", prompt="a red fox", response_format="b64_json")
    assert resp.data is not None and len(resp.data) == 1
    assert base64.b64decode(resp.data[0].b64_json or "") == image_bytes("task-0002-0.png")
    assert resp.data[0].revised_prompt == "revised: a red fox" and resp.data[0].url is None
    assert "Authorization" not in ali.recorder[-1]["headers"]
    one = image_quota(gw, "wanx2.1-t2i-turbo", {})
    logs = await gw.logs()
    assert sorted(log["quota"] for log in logs) == sorted([two, one]) and all(log["channel"] for log in logs)
    assert before - (await gw.user())["quota"] == one + two


@pytest.mark.parametrize("prompt, error, status, code", [
    ("BROKEN fox", openai.InternalServerError, 500, "InternalError.Algo"),
    ("UNSAFE fox", openai.BadRequestError, 400, "content_policy_violation"),
])
async def test_gateway_failed_task_refunds(gw: Gateway, ali: FakeAli, fast_polls: None, prompt: str,
                                           error: type[openai.APIStatusError], status: int, code: str) -> None:
    key = await channel_token(gw, type=17, key=KEY, base_url=ali.url, models="wanx-v1")
    before = (await gw.user())["quota"]
    with pytest.raises(error) as e:
        await gw.client(key).images.generate(model="wanx-v1", prompt=prompt)
    assert e.value.status_code == status and e.value.code == code
    assert isinstance(e.value.body, dict) and e.value.body["message"] and "type" in e.value.body
    assert [r["path"] for r in ali.recorder][-1] == "/api/v1/tasks/task-0001"
    assert await gw.logs() == []
    assert (await gw.user())["quota"] == before
