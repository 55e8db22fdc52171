"""Baidu ERNIE v1 (type 15) adaptor: pure conversion tests, the stream transcoder fed a recorded
stream split everywhere, and OpenAI SDK clients talking to a Baidu channel through OneRelay, the
fake Baidu counting token exchanges."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import urllib.parse
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.baidu import (
    BaiduAdaptor,
    BaiduStream,
    baidu_failure,
    convert_messages,
    endpoint,
    parse_baidu_error,
    to_baidu_request,
)
from adaptors.base import CHAT, DONE_FRAME, EMBEDDINGS, ChannelTarget, RelayRequest, UpstreamRejected, Usage
from adaptors.registry import PROVIDERS
from tests.conftest import Gateway, listen
from tests.fake_baidu_vertex import (
    BAIDU_ID,
    BAIDU_REPLY,
    BAIDU_TOOL_ARGS,
    BAIDU_TOOL_RESULT_REPLY,
    BAIDU_USAGE,
    EMBED_TOKENS_PER_TEXT,
    EMBEDDING,
    FakeState,
    make_app,
)

MODEL = "ERNIE-4.0-8K"


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-ernie", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    body = body if body is not None else {"model": requested, "messages": [{"role": "user", "content": "你好"}]}
    return RelayRequest(mode=mode, body=body, raw=json.dumps(body).encode(), model=model, requested_model=requested,
                        stream=stream, include_usage=stream if include_usage is None else include_usage)


def target(**kw: Any) -> ChannelTarget:
    base: dict[str, Any] = {"id": 3, "type": 15, "key": "ak-1|sk-1", "token": "24.tok"}
    base.update(kw)
    return ChannelTarget(**base)


# --------------------------------------------------------------------------- key, token, URLs


@pytest.mark.parametrize("model, mode, expected", [
    ("ERNIE-4.0-8K", CHAT, "chat/completions_pro"),
    ("ERNIE-3.5-8K", CHAT, "chat/completions"),
    ("ernie-3.5-8k", CHAT, "chat/completions"),
    ("ERNIE-Speed-8K", CHAT, "chat/ernie_speed"),
    ("ERNIE-Bot-turbo", CHAT, "chat/eb-instant"),
    ("ERNIE-Lite-8K-0308", CHAT, "chat/ernie-lite-8k"),
    ("BLOOMZ-7B", CHAT, "chat/bloomz_7b1"),
    ("ERNIE-Speed-128K", CHAT, "chat/ernie-speed-128k"),
    ("My_Custom_Service", CHAT, "chat/my_custom_service"),  # unknown names: lower-cased, as One API
    ("Embedding-V1", EMBEDDINGS, "embeddings/embedding-v1"),
    ("embedding-v1", EMBEDDINGS, "embeddings/embedding-v1"),
    ("bge-large-zh", EMBEDDINGS, "embeddings/bge_large_zh"),
    ("tao-8k", EMBEDDINGS, "embeddings/tao_8k"),
])
def test_endpoints(model: str, mode: str, expected: str) -> None:
    assert endpoint(model, mode) == expected


def test_token_request_and_base_url() -> None:
    ad = BaiduAdaptor()
    up = ad.token_request(target(key=" ak-1 | s/k+= "))
    assert up.method == "POST" and up.body == b""
    parts = urllib.parse.urlsplit(up.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://aip.baidubce.com/oauth/2.0/token"
    assert urllib.parse.parse_qs(parts.query) == {"grant_type": ["client_credentials"], "client_id": ["ak-1"],
                                                  "client_secret": ["s/k+="]}
    up = ad.token_request(target(base_url="http://127.0.0.1:9/"))
    assert up.url.startswith("http://127.0.0.1:9/oauth/2.0/token?")


@pytest.mark.parametrize("key", ["", "onlyone", "a|b|c", "|sk", "ak|"])
def test_malformed_key_is_a_disabling_rejection(key: str) -> None:
    with pytest.raises(UpstreamRejected) as e:
        BaiduAdaptor().token_request(target(key=key))
    f = e.value.failure
    assert f.status == 401 and f.disables_channel and "API Key|Secret Key" in f.message


def test_parse_token() -> None:
    ad = BaiduAdaptor()
    grant = ad.parse_token(200, json.dumps({"access_token": "24.abc", "expires_in": 2592000}).encode())
    assert (grant.token, grant.expires_in) == ("24.abc", 2592000.0)
    assert ad.parse_token(200, b'{"access_token": "24.x"}').expires_in == 2592000.0
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_token(401, b'{"error": "invalid_client", "error_description": "unknown client id"}')
    f = e.value.failure
    assert f.disables_channel and f.status == 401 and f.code == "invalid_client"
    assert "unknown client id" in f.message and f.payload and f.payload["code"] == "invalid_client"
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_token(503, b"<html>busy</html>")
    assert e.value.failure.retryable and not e.value.failure.disables_channel and e.value.failure.status == 502


def test_build_request_url_token_and_body() -> None:
    ad = BaiduAdaptor()
    up = ad.build_request(make_req(), target(token="24.a/b"))
    assert up.url == ("https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
                      "?access_token=24.a%2Fb")
    assert up.headers == {"Content-Type": "application/json"}
    assert json.loads(up.body or b"") == {"messages": [{"role": "user", "content": "你好"}]}
    up = ad.build_request(make_req(stream=True), target(base_url="http://h:1"))
    assert up.url.startswith("http://h:1/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro?")
    assert json.loads(up.body or b"")["stream"] is True
    up = ad.build_request(make_req({"model": "e", "input": ["a", "b"], "user": "u1"}, mode=EMBEDDINGS,
                                   model="Embedding-V1"), target())
    assert "/wenxinworkshop/embeddings/embedding-v1?access_token=24.tok" in up.url
    assert json.loads(up.body or b"") == {"input": ["a", "b"], "user_id": "u1"}


# --------------------------------------------------------------------------- request body


def test_messages_system_merging_and_parameters() -> None:
    body = {
        "model": "x", "messages": [
            {"role": "system", "content": "你是助手。"},
            {"role": "developer", "content": [{"type": "text", "text": "简洁回答。"}]},
            {"role": "user", "content": "第一"},
            {"role": "user", "content": [{"type": "text", "text": "第二"},
                                         {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "content": "好"},
            {"role": "user", "content": "再来"},
        ],
        "temperature": 0, "top_p": 1.5, "frequency_penalty": 1.0, "max_tokens": 1, "stop": "END", "user": "u-9",
        "n": 2, "seed": 3, "stream_options": {"include_usage": True}, "logprobs": True,
        "response_format": {"type": "json_object"},
    }
    out = to_baidu_request(body)
    assert out == {
        "messages": [{"role": "user", "content": "第一\n第二"}, {"role": "assistant", "content": "好"},
                     {"role": "user", "content": "再来"}],
        "system": "你是助手。\n\n简洁回答。",
        "temperature": 0.01, "top_p": 1.0, "penalty_score": 1.5, "max_output_tokens": 2, "stop": ["END"],
        "user_id": "u-9", "response_format": "json_object",
    }
    out = to_baidu_request({"messages": [{"role": "user", "content": "x"}], "temperature": 1.7,
                            "penalty_score": 5, "max_completion_tokens": 300, "stop": ["a", "", "b", "c", "d", "e"]},
                           stream=True)
    assert out["temperature"] == 1.0 and out["penalty_score"] == 2.0 and out["max_output_tokens"] == 300
    assert out["stop"] == ["a", "b", "c", "d"] and out["stream"] is True and "system" not in out
    assert "penalty_score" not in to_baidu_request({"messages": [], "frequency_penalty": -1})


def test_tools_become_functions() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "天气",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}},
             {"type": "function", "function": {"name": "noargs"}}]
    msgs = [
        {"role": "user", "content": "北京天气？"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"北京"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky":"晴"}'},
    ]
    out = to_baidu_request({"messages": msgs, "tools": tools,
                            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    assert out["functions"] == [
        {"name": "get_weather", "description": "天气",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "noargs", "description": "noargs", "parameters": {"type": "object", "properties": {}}}]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["messages"] == [
        {"role": "user", "content": "北京天气？"},
        {"role": "assistant", "content": "", "function_call": {"name": "get_weather", "arguments": '{"city":"北京"}'}},
        {"role": "function", "name": "get_weather", "content": '{"sky":"晴"}'},
    ]
    system, legacy = convert_messages([
        {"role": "assistant", "content": "", "function_call": {"name": "f", "arguments": {"a": 1}}},
        {"role": "function", "name": "f", "content": "ok"}])
    assert system is None and legacy[0]["function_call"] == {"name": "f", "arguments": '{"a":1}'}
    assert legacy[1] == {"role": "function", "name": "f", "content": "ok"}


# --------------------------------------------------------------------------- answers


def test_parse_response_text_usage_and_model() -> None:
    ad = BaiduAdaptor()
    answer = {"id": "as-1", "object": "chat.completion", "created": 1700000001, "result": "你好！",
              "is_truncated": False, "need_clear_history": False, "finish_reason": "normal",
              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    parsed = ad.parse_response(make_req(), 200, json.dumps(answer).encode())
    data = json.loads(parsed.body)
    assert data == {"id": "as-1", "object": "chat.completion", "created": 1700000001, "model": "my-ernie",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "你好！"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    assert parsed.usage == Usage(3, 2) and parsed.completion_text == "你好！"
    parsed = ad.parse_response(make_req(), 200, json.dumps({**answer, "finish_reason": "length",
                                                            "usage": {"prompt_tokens": 3, "total_tokens": 9}}).encode())
    assert json.loads(parsed.body)["choices"][0]["finish_reason"] == "length" and parsed.usage == Usage(3, 6)
    parsed = ad.parse_response(make_req(), 200, json.dumps({**answer, "finish_reason": "", "usage": {},
                                                            "need_clear_history": True}).encode())
    assert json.loads(parsed.body)["choices"][0]["finish_reason"] == "content_filter" and parsed.usage is None


def test_parse_response_function_call() -> None:
    answer = {"id": "as-2", "result": "", "finish_reason": "function_call",
              "function_call": {"name": "get_weather", "thoughts": "查天气", "arguments": '{"city":"北京"}'},
              "usage": {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}}
    data = json.loads(BaiduAdaptor().parse_response(make_req(), 200, json.dumps(answer).encode()).body)
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"北京"}'}


@pytest.mark.parametrize("code, status, retryable, disables", [
    (110, 401, True, False),  # the relay forgets the token; the channel stays
    (111, 401, True, False),
    (100, 401, True, False),
    (18, 429, True, False),
    (336501, 429, True, False),
    (336599, 429, True, False),
    (336003, 400, False, False),
    (336100, 503, True, False),
    (6, 403, True, True),
    (14, 401, True, True),
    (19, 429, True, True),
    (99999, 500, True, False),
])
def test_http_200_errors_are_rejections(code: int, status: int, retryable: bool, disables: bool) -> None:
    body = json.dumps({"error_code": code, "error_msg": f"msg {code}"}).encode()
    with pytest.raises(UpstreamRejected) as e:
        BaiduAdaptor().parse_response(make_req(), 200, body)
    f = e.value.failure
    assert (f.status, f.retryable, f.disables_channel) == (status, retryable, disables)
    assert f.payload == {"message": f"msg {code}", "type": "baidu_error", "param": "", "code": code}
    assert parse_baidu_error(200, body).status == status  # the same verdict through parse_error


def test_error_phrases_and_shapes() -> None:
    assert baidu_failure(336000, "账户已欠费").disables_channel
    assert not baidu_failure(110, "balance token").disables_channel  # a stale token never disables
    f = parse_baidu_error(500, b"<html>oops</html>")
    assert f.status == 500 and f.retryable and f.message == "<html>oops</html>" and f.type == "upstream_error"
    f = parse_baidu_error(401, b'{"error": "invalid_client", "error_description": "unknown client id"}')
    assert f.disables_channel and f.code == "invalid_client"
    sse_err = b'data: {"error_code": 336003, "error_msg": "bad"}\n\n'
    f = parse_baidu_error(200, sse_err)
    assert f.status == 400 and f.message == "bad"


def test_embeddings_response_float_base64_and_usage() -> None:
    ad = BaiduAdaptor()
    answer = {"id": "as-e", "object": "embedding_list",
              "data": [{"object": "embedding", "embedding": [0.5, 1.5], "index": 1},
                       {"object": "embedding", "embedding": [0.25, -1.0], "index": 0}],
              "usage": {"prompt_tokens": 4, "total_tokens": 4}}
    req = make_req({"model": "e", "input": ["a", "b"]}, mode=EMBEDDINGS, model="Embedding-V1", requested="emb")
    parsed = ad.parse_response(req, 200, json.dumps(answer).encode())
    data = json.loads(parsed.body)
    assert [d["embedding"] for d in data["data"]] == [[0.25, -1.0], [0.5, 1.5]]
    assert data["model"] == "emb" and data["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert parsed.usage == Usage(4, 0)
    req = make_req({"model": "e", "input": "hello world", "encoding_format": "base64"}, mode=EMBEDDINGS)
    parsed = ad.parse_response(req, 200, json.dumps({"data": [{"embedding": [0.5, 2.0], "index": 0}]}).encode())
    vec = json.loads(parsed.body)["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(vec)) == (0.5, 2.0)
    assert parsed.usage is not None and parsed.usage.prompt_tokens == 2  # counted locally


# --------------------------------------------------------------------------- stream

RECORDED_EVENTS: list[dict[str, Any]] = [
    {"id": "as-s1", "object": "chat.completion", "created": 1700000000, "sentence_id": 0, "is_end": False,
     "is_truncated": False, "result": "你好，", "need_clear_history": False, "finish_reason": "normal",
     "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
    {"id": "as-s1", "object": "chat.completion", "created": 1700000000, "sentence_id": 1, "is_end": False,
     "is_truncated": False, "result": "我是文心 ☀ — ", "need_clear_history": False, "finish_reason": "normal",
     "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}},
    {"id": "as-s1", "object": "chat.completion", "created": 1700000000, "sentence_id": 2, "is_end": True,
     "is_truncated": False, "result": "一言。", "need_clear_history": False, "finish_reason": "normal",
     "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}},
]
RECORDED = "".join("data: " + json.dumps(e, ensure_ascii=False) + "\n\n" for e in RECORDED_EVENTS).encode()


def decode_frames(out: bytes) -> tuple[list[dict[str, Any]], int]:
    assert out.endswith(b"\n\n")
    payloads: list[dict[str, Any]] = []
    dones = 0
    for frame in out.split(b"\n\n")[:-1]:
        assert frame.startswith(b"data: "), frame
        if frame[6:] == b"[DONE]":
            dones += 1
            continue
        assert dones == 0, "a frame after [DONE]"
        payloads.append(json.loads(frame[6:]))
    return payloads, dones


def run_stream(pieces: list[bytes], include_usage: bool = True) -> tuple[BaiduStream, bytes]:
    ts = BaiduStream(make_req(stream=True, include_usage=include_usage), created=1700000000)
    out: list[bytes] = []
    for p in pieces:
        out.extend(ts.feed(p))
    out.extend(ts.finish())
    return ts, b"".join(out)


def check_recorded(ts: BaiduStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert all(c["id"] == "as-s1" and c["model"] == "my-ernie" and c["created"] == 1700000000 for c in chunks)
    got = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) if c["choices"] else c["usage"]
           for c in chunks]
    assert got == [
        ({"role": "assistant", "content": "你好，"}, None),
        ({"content": "我是文心 ☀ — "}, None),
        ({"content": "一言。"}, None),
        ({}, "stop"),
        {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    ]
    assert ts.usage == Usage(5, 9) and ts.done and ts.error is None
    assert ts.completion_text == "你好，我是文心 ☀ — 一言。"


def test_stream_whole() -> None:
    check_recorded(*run_stream([RECORDED]))


def test_stream_split_at_every_byte_boundary() -> None:
    reference = run_stream([RECORDED])[1]
    for i in range(len(RECORDED) + 1):
        ts, out = run_stream([RECORDED[:i], RECORDED[i:]])
        assert out == reference, f"split at {i}"
        assert ts.usage == Usage(5, 9) and ts.done


def test_stream_byte_by_byte_and_crlf() -> None:
    ts, out = run_stream([RECORDED[i:i + 1] for i in range(len(RECORDED))])
    check_recorded(ts, out)
    crlf = RECORDED.replace(b"\n", b"\r\n")
    for i in range(0, len(crlf) + 1, 7):
        assert run_stream([crlf[:i], crlf[i:]])[1] == out


def test_stream_without_usage_chunk_unless_asked() -> None:
    ts, out = run_stream([RECORDED], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks) and ts.usage == Usage(5, 9)


def test_stream_error_event_and_cut_stream() -> None:
    head = RECORDED[:RECORDED.index(b"\n\n") + 2]
    err = '{"error_code": 336100, "error_msg": "服务繁忙"}'.encode()
    ts, out = run_stream([head + b"data: " + err + b"\n\n" + RECORDED[len(head):]])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1] == {"error": {"message": "服务繁忙", "type": "baidu_error", "param": "",
                                                   "code": 336100}}
    assert ts.error == "服务繁忙" and not ts.done and ts.finish() == []
    ts, out = run_stream([RECORDED[:RECORDED.rindex(b"data: ") + 20]])  # torn last frame
    chunks, dones = decode_frames(out)
    assert dones == 1 and not ts.done and ts.usage == Usage(5, 6)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_stream_function_call_and_content_filter() -> None:
    fc = {"id": "as-f", "sentence_id": 0, "is_end": True, "result": "", "finish_reason": "function_call",
          "function_call": {"name": "get_weather", "arguments": '{"city":"北京"}', "thoughts": "t"},
          "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
    ts, out = run_stream([b"data: " + json.dumps(fc).encode() + b"\n\n"])
    chunks, _ = decode_frames(out)
    (call,) = chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert call["index"] == 0 and call["function"] == {"name": "get_weather", "arguments": '{"city":"北京"}'}
    assert chunks[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    flagged = {"id": "as-c", "sentence_id": 0, "is_end": True, "result": "", "need_clear_history": True,
               "ban_round": -1, "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    ts, out = run_stream([b"data: " + json.dumps(flagged).encode() + b"\n\n"])
    chunks, _ = decode_frames(out)
    assert chunks[0]["choices"][0] == {"index": 0, "delta": {"role": "assistant", "content": ""},
                                       "finish_reason": "content_filter"}


def test_registry_entry() -> None:
    s = PROVIDERS[15]
    assert s.adaptor == "baidu" and s.supported and set(s.modes) == {CHAT, EMBEDDINGS}
    assert s.auth == "signed" and s.key_format == "AK|SK" and s.test_model in s.models
    assert "ERNIE-4.0-8K" in s.models and "Embedding-V1" in s.models
    assert isinstance(build_registry()[15], BaiduAdaptor) and BaiduAdaptor.credentials


# --------------------------------------------------------------------------- through OneRelay


@pytest.fixture
async def fake() -> AsyncIterator[FakeState]:
    state = FakeState()
    server, port = listen(make_app(state))
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.stop()
    await server.close_all_connections()


async def _setup(gw: Gateway, fake: FakeState, key: str = "ak-1|sk-1", **fields: Any) -> str:
    fields.setdefault("models", f"{MODEL},ERNIE-Speed-8K,Embedding-V1")
    await gw.channel(type=15, key=key, base_url=fake.url, **fields)
    return await gw.token()


async def _channel_status(gw: Gateway, cid: int, want: int | None = None) -> int:
    status = 0
    for _ in range(40):
        status = int((await gw.ok("GET", f"/api/channel/{cid}"))["status"])
        if want is None or status == want:
            break
        await asyncio.sleep(0.05)
    return status


async def test_gateway_chat_plain(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, max_tokens=100, temperature=0.3,
        messages=[{"role": "system", "content": "简洁"}, {"role": "user", "content": "你好"}])
    assert resp.choices[0].message.content == BAIDU_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL and resp.id == BAIDU_ID and resp.object == "chat.completion"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (7, 9)
    sent = fake.last("baidu")
    assert sent["path"] == "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
    assert urllib.parse.parse_qs(sent["query"])["access_token"][0].startswith("24.fake1.")
    assert sent["json"] == {"messages": [{"role": "user", "content": "你好"}], "system": "简洁",
                            "temperature": 0.3, "max_output_tokens": 100}
    assert fake.baidu_exchanges == ["ak-1"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and logs[0]["model_name"] == MODEL
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (7, 9)


async def test_gateway_stream(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake)
    stream = await gw.client(key).chat.completions.create(
        model="ERNIE-Speed-8K", messages=[{"role": "user", "content": "你好"}], stream=True,
        stream_options={"include_usage": True})
    text, finish, usage, models = "", None, None, set()
    async for chunk in stream:
        models.add(chunk.model)
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert text == BAIDU_REPLY and finish == "stop" and models == {"ERNIE-Speed-8K"}
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (7, 9)
    sent = fake.last("baidu")
    assert sent["path"].endswith("/chat/ernie_speed") and sent["json"]["stream"] is True
    assert "stream_options" not in sent["json"]
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["quota"] > 0 and logs[0]["completion_tokens"] == 9


async def test_gateway_one_token_exchange_for_many_requests(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    results = await asyncio.gather(*(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"q{i}"}]) for i in range(6)))
    assert all(r.choices[0].message.content == BAIDU_REPLY for r in results)
    emb = await client.embeddings.create(model="Embedding-V1", input=["a", "b"], encoding_format="float")
    assert [d.embedding for d in emb.data] == [EMBEDDING, EMBEDDING]
    assert emb.usage.prompt_tokens == 2 * EMBED_TOKENS_PER_TEXT
    assert fake.baidu_exchanges == ["ak-1"]  # one exchange, shared by concurrent requests, then cached
    tokens = {urllib.parse.parse_qs(r["query"])["access_token"][0] for r in fake.of("baidu")}
    assert len(tokens) == 1
    assert fake.last("baidu")["path"].endswith("/embeddings/embedding-v1")
    assert len(await gw.logs()) == 7


async def test_gateway_expired_token_is_exchanged_again(gw: Gateway, fake: FakeState) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=15, key="ak-1|sk-1", base_url=fake.url, models=MODEL)
    client = gw.client(await gw.token())
    await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    fake.revoke()  # Baidu now answers 111 "Access token expired" on HTTP 200
    with pytest.raises(openai.AuthenticationError) as e:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "b"}])
    assert e.value.status_code == 401 and e.value.code == "111"
    assert "Access token expired" in e.value.message and "request id" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "baidu_error"
    resp = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "c"}])
    assert resp.choices[0].message.content == BAIDU_REPLY
    assert fake.baidu_exchanges == ["ak-1", "ak-1"]  # the stale token was dropped, a new one fetched
    assert await _channel_status(gw, cid) == 1  # a stale token does not disable the channel
    assert len(await gw.logs()) == 2


async def test_gateway_upstream_errors_in_openai_shape(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    # an even number of messages: ERNIE's 336003 on HTTP 200, a 400 that is not retried
    with pytest.raises(openai.BadRequestError) as e:
        await client.chat.completions.create(model=MODEL, messages=[
            {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert e.value.code == "336003" and "odd number" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "baidu_error"
    # an unknown endpoint
    await gw.channel(type=15, key="ak-1|sk-1", base_url=fake.url, models="no-such-model")
    with pytest.raises(openai.NotFoundError) as e2:
        await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "a"}])
    assert e2.value.code == "3" and fake.last("baidu")["path"].endswith("/chat/no-such-model")
    assert await gw.logs() == []


async def test_gateway_rate_limit_plain_and_stream(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake, key="ak-qps|sk")
    client = gw.client(key)
    with pytest.raises(openai.RateLimitError) as e:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    assert e.value.code == "18" and "qps" in e.value.message
    with pytest.raises(openai.APIStatusError) as e2:  # a JSON error answering a stream request
        async for _ in await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "a"}], stream=True):
            pass
    assert e2.value.code == "18" and "qps" in e2.value.message


async def test_gateway_refused_key_disables_channel(gw: Gateway, fake: FakeState) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=15, key="bad-ak|sk", base_url=fake.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a"}])
    assert e.value.code == "invalid_client" and "unknown client id" in e.value.message
    assert await _channel_status(gw, cid, 3) == 3
    assert fake.of("baidu") == []  # no chat call without a token


async def test_gateway_tool_call_round_trip(gw: Gateway, fake: FakeState) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    tools: Any = [{"type": "function", "function": {
        "name": "get_weather", "description": "天气",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    messages: list[Any] = [{"role": "user", "content": "北京天气？"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == BAIDU_TOOL_ARGS
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "晴"}'}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    assert resp.choices[0].message.content == BAIDU_TOOL_RESULT_REPLY
    sent = fake.last("baidu")["json"]["messages"]
    assert sent[1]["function_call"]["name"] == "get_weather"
    assert sent[2] == {"role": "function", "name": "get_weather", "content": '{"sky": "晴"}'}


async def test_gateway_channel_test(gw: Gateway, fake: FakeState) -> None:
    cid = await gw.channel(type=15, key="ak-1|sk-1", base_url=fake.url, models="ERNIE-3.5-8K")
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert data["success"], data
    assert fake.last("baidu")["path"].endswith("/chat/completions") and fake.baidu_exchanges == ["ak-1"]
    assert BAIDU_USAGE["total_tokens"] == 16
