"""Tencent Hunyuan (type 23) adaptor: the TC3-HMAC-SHA256 signature against Tencent's published
examples, pure conversion tests, the stream transcoder fed recorded streams split everywhere,
round trips with a fake Hunyuan that verifies every signature, and OpenAI SDK clients talking
to a Hunyuan channel through OneRelay."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
import time
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry, families
from adaptors.base import CHAT, DONE_FRAME, EMBEDDINGS, ChannelTarget, RelayRequest, UpstreamRejected, Usage
from adaptors.registry import PROVIDERS
from adaptors.tencent import (
    HUNYUAN_REQUEST_FIELDS,
    HunyuanAnswerError,
    HunyuanStream,
    TencentAdaptor,
    canonical_request,
    convert_messages,
    convert_tool_choice,
    convert_tools,
    finish_reason,
    hunyuan_usage,
    parse_key,
    parse_tencent_error,
    status_for,
    string_to_sign,
    tc3_authorization,
    tc3_date,
    tc3_signature,
    to_hunyuan_embeddings,
    to_hunyuan_request,
    to_openai_embeddings,
    to_openai_response,
)
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
from tests.fake_tencent import (
    CREATED,
    EMBEDDING,
    PROMPT_TOKENS,
    RESPONSE_ID,
    SECRET_KEY,
    TEXT_REPLY,
    TEXT_TOKENS,
    TOOL_ARGS,
    TOOL_CALL_ID,
    TOOL_RESULT_REPLY,
    TOOL_TOKENS,
    expected_signature,
    make_tencent_app,
)

MODEL = "hunyuan-lite"
KEY = f"1300000000|AKIDok|{SECRET_KEY}"


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-hunyuan", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage, mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 7, "type": 23, "key": KEY}, **kw)


# --------------------------------------------------------------------------- TC3 signature

# Tencent Cloud API 3.0, "Signature v3" (签名方法 v3), the worked example: DescribeInstances of CVM
# in ap-guangzhou, one instance named "未命名". International edition values (EXAMPLE keys).
DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TIMESTAMP = 1551113065
DOC_HOST = "cvm.tencentcloudapi.com"
DOC_CONTENT_TYPE = "application/json; charset=utf-8"
DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_PAYLOAD_HASH = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
DOC_CANONICAL = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
                 "content-type;host\n" + DOC_PAYLOAD_HASH)
DOC_STRING_TO_SIGN = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                      "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
DOC_AUTHORIZATION = ("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
                     "SignedHeaders=content-type;host, Signature=" + DOC_SIGNATURE)
# The current Chinese page masks the keys with ******* and publishes the signature of those
# literal strings.
DOC_MASKED_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"
DOC_MASKED_KEY = "Gu5t9xGARNpq86cd98joQYCN3*******"
DOC_MASKED_SIGNATURE = "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"


def test_tc3_steps_match_the_published_example() -> None:
    assert hashlib.sha256(DOC_PAYLOAD).hexdigest() == DOC_PAYLOAD_HASH
    canonical = canonical_request(DOC_HOST, DOC_PAYLOAD, DOC_CONTENT_TYPE)
    assert canonical == DOC_CANONICAL
    to_sign = string_to_sign(DOC_TIMESTAMP, canonical, "cvm")
    assert to_sign == DOC_STRING_TO_SIGN
    assert tc3_signature(DOC_SECRET_KEY, DOC_TIMESTAMP, to_sign, "cvm") == DOC_SIGNATURE


def test_tc3_authorization_matches_the_published_examples() -> None:
    auth = tc3_authorization(DOC_SECRET_ID, DOC_SECRET_KEY, DOC_TIMESTAMP, DOC_HOST, DOC_PAYLOAD,
                             service="cvm", content_type=DOC_CONTENT_TYPE)
    assert auth == DOC_AUTHORIZATION
    masked = tc3_authorization(DOC_MASKED_ID, DOC_MASKED_KEY, DOC_TIMESTAMP, DOC_HOST, DOC_PAYLOAD,
                               service="cvm", content_type=DOC_CONTENT_TYPE)
    assert masked == (f"TC3-HMAC-SHA256 Credential={DOC_MASKED_ID}/2019-02-25/cvm/tc3_request, "
                      f"SignedHeaders=content-type;host, Signature={DOC_MASKED_SIGNATURE}")


def test_tc3_date_is_utc() -> None:
    # The page's warning: 1551113065 is 2019-02-26 00:44:25 in UTC+8, but the scope date is UTC's.
    assert tc3_date(DOC_TIMESTAMP) == "2019-02-25"
    assert tc3_date(1551139199) == "2019-02-25" and tc3_date(1551139200) == "2019-02-26"


def independent_signature(secret_key: str, timestamp: int, host: str, payload: bytes) -> str:
    """The recipe written out again, here (not the adaptor's code)."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = (f"POST\n/\n\ncontent-type:application/json\nhost:{host}\n\ncontent-type;host\n"
                 + hashlib.sha256(payload).hexdigest())
    to_sign = (f"TC3-HMAC-SHA256\n{timestamp}\n{date}/hunyuan/tc3_request\n"
               + hashlib.sha256(canonical.encode()).hexdigest())
    k = hmac.new(b"TC3" + secret_key.encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"hunyuan", hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


def test_build_request_signs_the_exact_bytes_at_the_pinned_time() -> None:
    ad = TencentAdaptor(clock=lambda: 1719816830.9)
    body = {"model": "x", "messages": [{"role": "user", "content": "你好 ☀"}], "temperature": 0.5}
    up = ad.build_request(make_req(body), target(config={"region": "ap-guangzhou"}))
    assert up.method == "POST" and up.url == "https://hunyuan.tencentcloudapi.com/"
    payload = up.body or b""
    sig = independent_signature(SECRET_KEY, 1719816830, "hunyuan.tencentcloudapi.com", payload)
    assert up.headers == {
        "Content-Type": "application/json",
        "Host": "hunyuan.tencentcloudapi.com",
        "X-TC-Action": "ChatCompletions",
        "X-TC-Version": "2023-09-01",
        "X-TC-Timestamp": "1719816830",
        "X-TC-Region": "ap-guangzhou",
        "Authorization": "TC3-HMAC-SHA256 Credential=AKIDok/2024-07-01/hunyuan/tc3_request, "
                         f"SignedHeaders=content-type;host, Signature={sig}",
    }
    assert "你好".encode() in payload  # UTF-8 as sent, and signed as sent
    assert json.loads(payload) == {"Model": MODEL, "Messages": [{"Role": "user", "Content": "你好 ☀"}],
                                   "Stream": False, "Temperature": 0.5}
    # the fake's verifier agrees (its own implementation, the real header set)
    headers = {k.lower(): v for k, v in up.headers.items()}
    assert expected_signature(SECRET_KEY, "POST", "/", "", headers, ["content-type", "host"], payload,
                              "1719816830", "2024-07-01", "hunyuan") == sig

    # another base URL signs its own host; embeddings are GetEmbedding; no region header without config
    up = ad.build_request(make_req({"input": "a"}, mode=EMBEDDINGS, model="hunyuan-embedding"),
                          target(base_url="http://127.0.0.1:8123/"))
    assert up.url == "http://127.0.0.1:8123/" and up.headers["Host"] == "127.0.0.1:8123"
    assert up.headers["X-TC-Action"] == "GetEmbedding" and "X-TC-Region" not in up.headers
    assert json.loads(up.body or b"") == {"InputList": ["a"]}
    assert up.headers["Authorization"].endswith(
        independent_signature(SECRET_KEY, 1719816830, "127.0.0.1:8123", up.body or b""))


def test_clock_is_read_at_build_time() -> None:
    now = [1700000000.0]
    ad = TencentAdaptor(clock=lambda: now[0])
    first = ad.build_request(make_req(), target())
    now[0] += 86400
    second = ad.build_request(make_req(), target())
    assert first.headers["X-TC-Timestamp"] == "1700000000" and second.headers["X-TC-Timestamp"] == "1700086400"
    assert "/2023-11-14/" in first.headers["Authorization"] and "/2023-11-15/" in second.headers["Authorization"]
    assert abs(int(TencentAdaptor().build_request(make_req(), target()).headers["X-TC-Timestamp"]) - time.time()) < 5


def test_keys() -> None:
    assert parse_key("1300000000|AKIDx|sk") == ("1300000000", "AKIDx", "sk")
    assert parse_key(" AKIDx | sk \n") == ("", "AKIDx", "sk")
    for bad in ("", "AKIDx", "a|b|c|d", "1||sk", "1|AKIDx|"):
        with pytest.raises(ValueError):
            parse_key(bad)
    with pytest.raises(UpstreamRejected) as e:
        TencentAdaptor().build_request(make_req(), target(key="just-an-api-key"))
    f = e.value.failure
    assert f.status == 503 and f.code == "channel_key_invalid" and f.retryable and not f.disables_channel
    assert "AppId|SecretId|SecretKey" in f.message


def test_registry_entry_and_families() -> None:
    s = PROVIDERS[23]
    assert s.adaptor == "tencent" and s.modes == (CHAT, EMBEDDINGS) and s.supported
    assert s.auth == "signed" and s.key_format == "AppId|SecretId|SecretKey"
    assert s.base_url == "https://hunyuan.tencentcloudapi.com" and s.color == "#0052d9"
    assert s.test_model in s.models and {"hunyuan-lite", "hunyuan-standard", "hunyuan-pro", "hunyuan-turbo",
                                         "hunyuan-embedding"} <= set(s.models)
    assert [c.key for c in s.config] == ["region"]
    assert isinstance(build_registry()[23], TencentAdaptor)
    assert sum(isinstance(a, TencentAdaptor) for a in families()) == 1


# --------------------------------------------------------------------------- request


def test_messages_roles_merging_images_and_tools() -> None:
    msgs = convert_messages([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in Chinese."}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]},
        {"role": "assistant", "content": "A logo.", "reasoning_content": "never sent back"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"SZ"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "+8"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky":"clear"}'},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "10:00"}]},
        {"role": "assistant", "content": "Clear, 10:00."},
        {"role": "user", "content": ""},  # empty: dropped
        {"role": "user", "content": "Thanks"},
        {"role": "moderator", "content": "ignored"},
    ])
    assert msgs == [
        {"Role": "system", "Content": "Be brief.\nAnswer in Chinese."},
        {"Role": "user", "Contents": [{"Type": "text", "Text": "Hi"}, {"Type": "text", "Text": "What is this?"},
                                      {"Type": "image_url", "ImageUrl": {"Url": "https://x.test/a.png"}}]},
        {"Role": "assistant", "Content": "A logo.", "ToolCalls": [
            {"Id": "call_1", "Type": "function", "Function": {"Name": "get_weather", "Arguments": '{"city":"SZ"}'}},
            {"Id": "call_2", "Type": "function", "Function": {"Name": "get_time", "Arguments": '{"tz":"+8"}'}}]},
        {"Role": "tool", "Content": '{"sky":"clear"}', "ToolCallId": "call_1"},
        {"Role": "tool", "Content": "10:00", "ToolCallId": "call_2"},
        {"Role": "assistant", "Content": "Clear, 10:00."},
        {"Role": "user", "Content": "Thanks"},
    ]
    # consecutive user texts merge into one Content; a tool-call-only assistant turn has empty Content
    assert convert_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]) == [
        {"Role": "user", "Content": "a\nb"}]
    (only,) = convert_messages([{"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": ""}}]}])
    assert only["Content"] == "" and only["ToolCalls"][0]["Id"].startswith("call_")
    assert only["ToolCalls"][0]["Function"] == {"Name": "f", "Arguments": ""}
    # data URLs are passed as they are (Hunyuan takes base64 images with their data: prefix)
    (img,) = convert_messages([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    assert img == {"Role": "user",
                   "Contents": [{"Type": "image_url", "ImageUrl": {"Url": "data:image/png;base64,AAAA"}}]}
    assert convert_messages(None) == [] and convert_messages([{"role": "system", "content": ""}]) == []


def test_tools_and_tool_choice() -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = convert_tools([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": params}},
        {"type": "function", "function": {"name": "noargs"}},
        {"type": "code_interpreter"},
        {"type": "function", "function": {"description": "nameless"}},
    ])
    assert tools == [
        {"Type": "function", "Function": {"Name": "get_weather",
                                          "Parameters": json.dumps(params, separators=(",", ":")),
                                          "Description": "Weather"}},
        {"Type": "function", "Function": {"Name": "noargs", "Parameters": '{"type":"object","properties":{}}'}},
    ]
    assert convert_tool_choice("auto", tools) == ("auto", None)
    assert convert_tool_choice("none", tools) == ("none", None)
    assert convert_tool_choice("required", tools) == ("auto", None)
    assert convert_tool_choice("required", tools[:1]) == ("custom", tools[0])
    assert convert_tool_choice({"type": "function", "function": {"name": "noargs"}}, tools) == ("custom", tools[1])
    assert convert_tool_choice({"type": "function", "function": {"name": "other"}}, tools)[1] == {
        "Type": "function", "Function": {"Name": "other", "Parameters": '{"type":"object"}'}}
    assert convert_tool_choice("auto", []) == (None, None) and convert_tool_choice(None, tools) == (None, None)


def test_request_parameters() -> None:
    body = {
        "model": "my-hunyuan", "messages": [{"role": "user", "content": "x"}], "temperature": 3.5, "top_p": 1.5,
        "stop": "END", "seed": 42, "max_tokens": 100, "n": 1, "presence_penalty": 0.1, "stream_options": {},
        "user": "u", "response_format": {"type": "text"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    out = to_hunyuan_request(body, "hunyuan-turbo", True)
    assert set(out) <= HUNYUAN_REQUEST_FIELDS
    assert out == {"Model": "hunyuan-turbo", "Messages": [{"Role": "user", "Content": "x"}], "Stream": True,
                   "Temperature": 2.0, "TopP": 1.0, "Stop": ["END"], "Seed": 42,
                   "Tools": [{"Type": "function", "Function": {"Name": "f", "Parameters": '{"type":"object"}'}}],
                   "ToolChoice": "custom",
                   "CustomTool": {"Type": "function", "Function": {"Name": "f", "Parameters": '{"type":"object"}'}}}
    out = to_hunyuan_request({"messages": [], "stop": ["a", "", 3], "seed": 0, "temperature": True}, "m", False)
    assert out == {"Model": "m", "Messages": [], "Stream": False, "Stop": ["a"]}
    assert "Seed" not in to_hunyuan_request({"seed": 10001}, "m", False)
    # legacy functions / function_call
    out = to_hunyuan_request({"messages": [], "functions": [{"name": "g", "parameters": {}}],
                              "function_call": {"name": "g"}}, "m", False)
    assert out["Tools"][0]["Function"]["Name"] == "g" and out["ToolChoice"] == "custom"


def test_embeddings_request() -> None:
    assert to_hunyuan_embeddings({"input": "hello"}, "hunyuan-embedding") == {"InputList": ["hello"]}
    assert to_hunyuan_embeddings({"input": ["a", "b"]}, "hunyuan-embedding") == {"InputList": ["a", "b"]}


# --------------------------------------------------------------------------- responses


# Tencent's ChatCompletions example 6 (hunyuan-functioncall, non-stream): the call has no Id.
DOC_TOOL_ANSWER = {"Response": {
    "RequestId": "e7f5ce41-87fd-4977-803c-54cded687cd9",
    "Note": "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记",
    "Choices": [{"Message": {
        "Role": "assistant",
        "Content": "使用get_current_weather工具来获取北京和深圳的当前天气情况。",
        "ToolCalls": [{"Type": "function", "Function": {
            "Name": "get_current_weather",
            "Arguments": "{\"location\":[\"北京\",\"深圳\"],\"unit\":\"celsius\"}"}}]},
        "FinishReason": "tool_calls"}],
    "Created": 1719638614,
    "Usage": {"PromptTokens": 6, "CompletionTokens": 46, "TotalTokens": 52}}}


def test_parse_response_text_and_usage() -> None:
    data = {"Response": {"Note": "…", "Choices": [{"FinishReason": "stop", "Message": {
        "Role": "assistant", "Content": "你好！", "ReasoningContent": "think"}}], "Created": 1710902312,
        "Id": "e4657570", "Usage": {"PromptTokens": 3, "CompletionTokens": 14, "TotalTokens": 17},
        "RequestId": "r1"}}
    out, usage, text = to_openai_response(data, "my-hunyuan")
    assert out == {"id": "chatcmpl-e4657570", "object": "chat.completion", "created": 1710902312,
                   "model": "my-hunyuan", "choices": [{"index": 0, "finish_reason": "stop", "message": {
                       "role": "assistant", "content": "你好！", "reasoning_content": "think"}}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 14, "total_tokens": 17}}
    assert usage == Usage(3, 14) and text == "think你好！"
    parsed = TencentAdaptor().parse_response(make_req(), 200, json.dumps(data).encode())
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == "你好！" and parsed.usage == Usage(3, 14)


def test_parse_response_tool_calls_from_the_docs() -> None:
    out, usage, text = to_openai_response(DOC_TOOL_ANSWER, "fc", new_id=sequential_ids())
    (choice,) = out["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [{"id": "call_test0", "type": "function", "function": {
        "name": "get_current_weather", "arguments": "{\"location\":[\"北京\",\"深圳\"],\"unit\":\"celsius\"}"}}]
    assert choice["message"]["content"].startswith("使用get_current_weather")
    assert out["id"] == "chatcmpl-e7f5ce41-87fd-4977-803c-54cded687cd9" and usage == Usage(6, 46)
    # tool calls only: content is null, and a missing FinishReason still says tool_calls
    only = {"Choices": [{"Message": {"Role": "assistant", "Content": "", "ToolCalls": [
        {"Id": "call_x", "Type": "function", "Function": {"Name": "f", "Arguments": "{}"}}]}}]}
    out, _, _ = to_openai_response(only, "m")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_x", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    assert out["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("reason, calls, expected", [
    ("stop", False, "stop"), ("stop", True, "tool_calls"), ("tool_calls", True, "tool_calls"),
    ("sensitive", False, "content_filter"), ("length", False, "length"), ("odd", False, "stop"),
    ("", False, None), (None, False, None),
])
def test_finish_reasons(reason: Any, calls: bool, expected: str | None) -> None:
    assert finish_reason(reason, calls) == expected


def test_usage_mapping() -> None:
    assert hunyuan_usage({"PromptTokens": 4, "CompletionTokens": 5, "TotalTokens": 9}) == Usage(4, 5)
    assert hunyuan_usage({"PromptTokens": 4, "TotalTokens": 9}) == Usage(4, 5)
    assert hunyuan_usage({"PromptTokens": 0, "CompletionTokens": 0, "TotalTokens": 0}) is None
    assert hunyuan_usage(None) is None and hunyuan_usage({"PromptTokens": "x"}) is None


def test_embeddings_response_float_base64_and_usage() -> None:
    data = {"Response": {"Data": [{"Embedding": [0.25, -1.0], "Index": 1, "Object": "embedding"},
                                  {"Embedding": [1.5, 2], "Index": 0, "Object": "embedding"}],
                         "Usage": {"PromptTokens": 6, "TotalTokens": 6}, "RequestId": "r"}}
    out, usage = to_openai_embeddings(data, "my-emb")
    assert [d["embedding"] for d in out["data"]] == [[1.5, 2.0], [0.25, -1.0]] and usage == Usage(6, 0)
    assert out["usage"] == {"prompt_tokens": 6, "total_tokens": 6} and out["model"] == "my-emb"
    out, _ = to_openai_embeddings(data, "my-emb", "base64")
    assert list(struct.unpack("<2f", base64.b64decode(out["data"][0]["embedding"]))) == [1.5, 2.0]
    out, usage = to_openai_embeddings({"Response": {"Data": [], "Usage": {"TotalTokens": 0}}}, "e")
    assert usage is None and "usage" not in out  # the relay counts locally


# --------------------------------------------------------------------------- errors


def terr(code: str, message: str = "boom") -> bytes:
    return json.dumps({"Response": {"Error": {"Code": code, "Message": message},
                                    "RequestId": "188cc996-ab09-49a7-aa9f-1df88f11c6b4"}}).encode()


@pytest.mark.parametrize("code, status, retryable, disables", [
    ("AuthFailure.SignatureFailure", 401, True, True),
    ("AuthFailure.SecretIdNotFound", 401, True, True),
    ("AuthFailure.InvalidSecretId", 401, True, True),
    ("AuthFailure.SignatureExpire", 401, True, False),  # this server's clock, not the key
    ("UnauthorizedOperation", 403, True, True),
    ("ResourceUnavailable.InArrears", 403, True, True),
    ("FailedOperation.ServiceNotActivated", 403, True, True),
    ("FailedOperation.FreeResourcePackExhausted", 403, True, True),
    ("ResourceInsufficient.ChargeResourceExhaust", 403, True, True),
    ("InvalidParameter", 400, False, False),
    ("InvalidParameterValue.ParameterValueError", 400, False, False),
    ("OperationDenied.TextIllegalDetected", 400, False, False),
    ("InvalidParameterValue.Model", 404, True, False),
    ("RequestLimitExceeded", 429, True, False),
    ("LimitExceeded", 429, True, False),
    ("FailedOperation.EngineServerLimitExceeded", 429, True, False),
    ("InternalError", 500, True, False),
    ("FailedOperation.EngineServerError", 500, True, False),
    ("FailedOperation.EngineRequestTimeout", 504, True, False),
    ("SomethingNew", 502, True, False),
])
def test_error_codes(code: str, status: int, retryable: bool, disables: bool) -> None:
    f = parse_tencent_error(502, terr(code))
    assert (f.status, f.retryable, f.disables_channel) == (status, retryable, disables)
    assert f.code == code and f.message == "boom"
    assert f.payload == {"message": "boom", "type": "upstream_error", "param": "", "code": code}
    assert status_for(code) == status


def test_error_on_http_200_is_rejected_by_parse_response() -> None:
    ad = TencentAdaptor()
    with pytest.raises(HunyuanAnswerError) as e:
        ad.parse_response(make_req(), 200, terr("InvalidParameter", "Temperature must be 2 or less"))
    f = e.value.failure
    assert isinstance(e.value, UpstreamRejected)
    assert f.status == 400 and not f.retryable and f.message == "Temperature must be 2 or less"
    with pytest.raises(HunyuanAnswerError) as e:
        ad.parse_response(make_req(mode=EMBEDDINGS), 200, terr("AuthFailure.SecretIdNotFound"))
    assert e.value.failure.status == 401 and e.value.failure.disables_channel
    with pytest.raises(HunyuanAnswerError) as e:
        ad.parse_response(make_req(), 200, b"<html>gateway</html>")
    assert e.value.failure.status == 502 and e.value.failure.retryable


def test_error_non_json_and_other_shapes() -> None:
    f = parse_tencent_error(500, b"<html>502 Bad Gateway</html>")
    assert f.status == 500 and f.retryable and "Bad Gateway" in f.message and f.code is None
    f = parse_tencent_error(413, b"")
    assert f.status == 413 and f.message == "upstream returned HTTP 413"
    f = parse_tencent_error(502, b'data: {"ErrorMsg":{"Code":4001,"Msg":"request timeout"}}\n\n')
    assert f.message == "request timeout" and f.code == 4001 and f.status == 502
    f = parse_tencent_error(401, b'{"message": "proxy says no"}')
    assert f.message == "proxy says no" and f.disables_channel  # failure_verdicts: 401


# --------------------------------------------------------------------------- stream

NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"


def line(obj: dict[str, Any]) -> str:
    return "data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def chunk(delta: dict[str, Any], finish: str, completion: int) -> dict[str, Any]:
    return {"Note": NOTE, "Choices": [{"Delta": {"Role": "assistant", **delta}, "FinishReason": finish}],
            "Created": 1719816830, "Id": "cd37cf66-089f-4ab2-8118-e18baa238462",
            "Usage": {"PromptTokens": 6, "CompletionTokens": completion, "TotalTokens": 6 + completion}}


# Tencent's ChatCompletions example 7 (hunyuan-functioncall, stream), led by a text part: the
# call opens with its name and empty arguments, the arguments follow under the same Id.
RECORDED_EVENTS = [
    chunk({"Content": "计划", "ReasoningContent": "思考…"}, "", 1),
    chunk({"Content": "", "ToolCalls": [{"Id": "call_cq154vk2c3m1v7ep3530", "Type": "function", "Function": {
        "Name": "get_current_weather", "Arguments": ""}}]}, "", 2),
    chunk({"Content": "", "ToolCalls": [{"Id": "call_cq154vk2c3m1v7ep3530", "Type": "function", "Function": {
        "Name": "", "Arguments": "{\"location\":\"北京\"}"}}]}, "", 3),
    chunk({"Content": "使用get_current_weather工具 ☀"}, "", 46),
    chunk({"Content": ""}, "tool_calls", 46),
]
RECORDED = "".join(line(e) for e in RECORDED_EVENTS).encode()
EXPECTED_CHUNKS: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "reasoning_content": "思考…"}},
    {"delta": {"content": "计划"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_cq154vk2c3m1v7ep3530", "type": "function",
                               "function": {"name": "get_current_weather", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":\"北京\"}"}}]}},
    {"delta": {"content": "使用get_current_weather工具 ☀"}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 6, "completion_tokens": 46, "total_tokens": 52}},
]


def stream_req(include_usage: bool = True) -> RelayRequest:
    return make_req(stream=True, requested="my-hunyuan", include_usage=include_usage)


def simplify(chunks: list[dict[str, Any]], chat_id: str = "chatcmpl-cd37cf66-089f-4ab2-8118-e18baa238462",
             created: int = 1700000000) -> list[dict[str, Any]]:
    return simplify_chunks(chunks, chat_id, "my-hunyuan", created)


def run_stream(pieces: list[bytes], include_usage: bool = True,
               created: int | None = 1700000000) -> tuple[HunyuanStream, bytes]:
    ts = HunyuanStream(stream_req(include_usage), created=created, new_id=sequential_ids())
    return ts, transcode(ts, pieces)


def check_recorded(ts: HunyuanStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(6, 46)
    assert ts.done and ts.error is None
    assert ts.completion_text == ("思考…计划get_current_weather{\"location\":\"北京\"}使用get_current_weather工具 ☀")


def test_stream_whole() -> None:
    ts, out = run_stream([RECORDED])
    check_recorded(ts, out)


def test_stream_split_at_every_byte_boundary() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(6, 46))


def test_stream_byte_by_byte_crlf_and_doc_framing() -> None:
    ts, out = run_stream(byte_by_byte(RECORDED))
    check_recorded(ts, out)
    crlf = RECORDED.replace(b"\n", b"\r\n")
    for i in range(0, len(crlf) + 1, 7):
        assert run_stream([crlf[:i], crlf[i:]])[1] == out
    # the API page prints its example with "\n\t\n" between the lines; an id:/event:/comment line
    # and a trailing [DONE] change nothing either
    tabbed = RECORDED.replace(b"\n\n", b"\n\t\n")
    assert run_stream([tabbed])[1] == out
    extra = b": keep-alive\nid: 1\nevent: message\n" + RECORDED + b"data: [DONE]\n\n"
    assert run_stream([extra])[1] == out


def test_stream_without_usage_chunk_unless_asked() -> None:
    ts, out = run_stream([RECORDED], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"] for c in chunks)
    assert ts.usage == Usage(6, 46)  # billing still sees it


def test_stream_last_line_without_newline_is_read() -> None:
    ts, out = run_stream([RECORDED[:-2]])
    check_recorded(ts, out)


def test_stream_text_from_the_docs() -> None:
    # Tencent's example 4 ("计算1+1"), created taken from the upstream when not pinned
    frags = ["1", "+", "1", "=", "2"]
    events = [{"Note": NOTE, "Choices": [{"FinishReason": "", "Delta": {"Role": "assistant", "Content": f}}],
               "Created": 1700549760, "Id": "148b89ef", "Usage": {"PromptTokens": 4, "CompletionTokens": n + 1,
                                                                  "TotalTokens": 5 + n}}
              for n, f in enumerate(frags)]
    events.append({"Note": NOTE, "Choices": [{"FinishReason": "stop", "Delta": {"Role": "assistant", "Content": ""}}],
                   "Created": 1700549760, "Id": "148b89ef",
                   "Usage": {"PromptTokens": 4, "CompletionTokens": 5, "TotalTokens": 9}})
    ts, out = run_stream(["".join(line(e) for e in events).encode()], created=None)
    chunks, dones = decode_frames(out)
    got = simplify(chunks, "chatcmpl-148b89ef", 1700549760)
    assert got[0] == {"delta": {"role": "assistant", "content": "1"}}
    assert "".join(c["delta"].get("content", "") for c in got if "delta" in c) == "1+1=2"
    assert got[-2:] == [{"delta": {}, "finish_reason": "stop"},
                        {"usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}}]
    assert ts.usage == Usage(4, 5) and ts.done


def test_stream_sensitive_finish() -> None:
    ts, out = run_stream([(line(chunk({"Content": "部分"}, "", 1)) + line(chunk({"Content": ""}, "sensitive", 1))
                           + line(chunk({"Content": "late"}, "", 2))).encode()])
    got = simplify(decode_frames(out)[0])
    assert got == [{"delta": {"role": "assistant", "content": "部分"}}, {"delta": {}, "finish_reason": "content_filter"},
                   {"usage": {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}}]


def test_stream_mid_stream_error() -> None:
    err = {"Note": NOTE, "Choices": [], "Created": 1, "Id": "x", "ErrorMsg": {"Code": 4000, "Msg": "服务内部异常"}}
    ts, out = run_stream([(line(RECORDED_EVENTS[0]) + line(err) + line(RECORDED_EVENTS[3])).encode()])
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert chunks[-1] == {"error": {"message": "服务内部异常", "type": "upstream_error", "param": "", "code": 4000}}
    assert len(chunks) == 3  # reasoning, content, error
    assert ts.error == "服务内部异常" and not ts.done
    assert ts.finish() == []


def test_stream_cut_before_finish() -> None:
    cut = RECORDED[:RECORDED.index(b"data: ", 10)] + b'data: {"Choices": [{"Del'  # torn second line
    ts, out = run_stream([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks if c["choices"])
    assert not ts.done and ts.error is None
    assert ts.usage == Usage(6, 1)  # the last usage seen (cumulative) is what is billed


def test_stream_tool_calls_by_index_and_without_ids() -> None:
    events = [
        chunk({"ToolCalls": [{"Index": 0, "Type": "function", "Function": {"Name": "a", "Arguments": "{\"x\":"}}]},
              "", 1),
        chunk({"ToolCalls": [{"Index": 0, "Function": {"Arguments": "1}"}},
                             {"Index": 1, "Id": "call_b", "Function": {"Name": "b", "Arguments": "{}"}}]}, "", 2),
        chunk({"ToolCalls": [{"Function": {"Name": "c", "Arguments": "{"}}]}, "", 3),
        chunk({"ToolCalls": [{"Function": {"Arguments": "}"}}, {"Id": "orphan", "Function": {"Arguments": "x"}}]},
              "", 4),
        chunk({}, "stop", 4),
    ]
    ts, out = run_stream(["".join(line(e) for e in events).encode()])
    got = simplify(decode_frames(out)[0])
    calls = [tc for c in got if "delta" in c for tc in c["delta"].get("tool_calls", ())]
    assert calls == [
        {"index": 0, "id": "call_test0", "type": "function", "function": {"name": "a", "arguments": "{\"x\":"}},
        {"index": 0, "function": {"arguments": "1}"}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b", "arguments": "{}"}},
        {"index": 2, "id": "call_test1", "type": "function", "function": {"name": "c", "arguments": "{"}},
        {"index": 2, "function": {"arguments": "}"}},
    ]
    assert got[-2] == {"delta": {}, "finish_reason": "tool_calls"}  # "stop" after tool calls


def test_new_stream_returns_transcoder() -> None:
    assert isinstance(TencentAdaptor().new_stream(stream_req()), HunyuanStream)


# --------------------------------------------------------------------------- the fake Hunyuan


class FakeHunyuan:
    def __init__(self, recorder: list[dict[str, Any]], url: str) -> None:
        self.recorder = recorder
        self.url = url

    def secret_ids(self) -> list[str]:
        return [r["headers"].get("authorization", "").split("Credential=")[-1].split("/")[0] for r in self.recorder]


@pytest.fixture
async def hunyuan() -> AsyncIterator[FakeHunyuan]:
    recorder: list[dict[str, Any]] = []
    async with serving(make_tencent_app(recorder)) as url:
        yield FakeHunyuan(recorder, url)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


async def test_round_trip_with_fake_hunyuan(hunyuan: FakeHunyuan) -> None:
    ad = TencentAdaptor()
    t = target(base_url=hunyuan.url)
    body = {"model": "my-hunyuan", "messages": [{"role": "system", "content": "Be nice"},
                                                {"role": "user", "content": "你好"}],
            "temperature": 0.3, "max_tokens": 64, "stream_options": {"include_usage": True}}
    # plain
    req = make_req(body)
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == TEXT_REPLY and data["model"] == "my-hunyuan"
    assert data["id"] == "chatcmpl-" + RESPONSE_ID and data["created"] == CREATED
    assert parsed.usage == Usage(PROMPT_TOKENS, TEXT_TOKENS)

    # tool call, then its result
    req = make_req({**body, "tools": [WEATHER_TOOL], "tool_choice": "required"})
    resp = await send(ad.build_request(req, t))
    data = json.loads(ad.parse_response(req, resp.code, resp.body).body)
    (call,) = data["choices"][0]["message"]["tool_calls"]
    assert call["id"] == TOOL_CALL_ID and json.loads(call["function"]["arguments"]) == TOOL_ARGS
    assert data["choices"][0]["finish_reason"] == "tool_calls"
    follow = {**body, "tools": [WEATHER_TOOL], "messages": body["messages"] + [
        data["choices"][0]["message"], {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]}
    req = make_req(follow)
    resp = await send(ad.build_request(req, t))
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
    req = make_req({"model": "e", "input": ["a", "b"]}, mode=EMBEDDINGS, model="hunyuan-embedding")
    resp = await send(ad.build_request(req, t))
    parsed = ad.parse_response(req, resp.code, resp.body)
    assert [d["embedding"] for d in json.loads(parsed.body)["data"]] == [EMBEDDING, EMBEDDING]
    assert parsed.usage == Usage(4, 0)

    rec = hunyuan.recorder
    assert len(rec) == 5 and all(r["path"] == "/" for r in rec)
    first = rec[0]
    assert first["headers"]["x-tc-action"] == "ChatCompletions" and first["headers"]["x-tc-version"] == "2023-09-01"
    assert first["json"] == {"Model": MODEL, "Messages": [{"Role": "system", "Content": "Be nice"},
                                                          {"Role": "user", "Content": "你好"}],
                             "Stream": False, "Temperature": 0.3}
    assert rec[1]["json"]["ToolChoice"] == "custom"
    assert rec[1]["json"]["CustomTool"]["Function"]["Name"] == "get_weather"
    assert rec[2]["json"]["Messages"][2:] == [
        {"Role": "assistant", "Content": "", "ToolCalls": [{"Id": TOOL_CALL_ID, "Type": "function", "Function": {
            "Name": "get_weather", "Arguments": json.dumps(TOOL_ARGS)}}]},
        {"Role": "tool", "Content": "sunny", "ToolCallId": TOOL_CALL_ID}]
    assert rec[3]["json"]["Stream"] is True
    assert rec[4]["headers"]["x-tc-action"] == "GetEmbedding" and rec[4]["json"] == {"InputList": ["a", "b"]}


async def test_fake_hunyuan_verifies_every_signature(hunyuan: FakeHunyuan) -> None:
    t = target(base_url=hunyuan.url)

    async def error_of(up: Any) -> str:
        resp = await send(up)
        assert resp.code == 200 and resp.headers["Content-Type"] == "application/json"
        return str(json.loads(resp.body)["Response"]["Error"]["Code"])

    good = TencentAdaptor().build_request(make_req(), t)
    assert "Error" not in json.loads((await send(good)).body)["Response"]
    # the body changed after signing
    up = TencentAdaptor().build_request(make_req(), t)
    up.body = (up.body or b"").replace(b'"Hi"', b'"Hi!"')
    assert await error_of(up) == "AuthFailure.SignatureFailure"
    # another secret key, an unknown SecretId
    assert await error_of(TencentAdaptor().build_request(make_req(), target(base_url=hunyuan.url,
                                                                           key="1|AKIDok|wrong"))) \
        == "AuthFailure.SignatureFailure"
    assert await error_of(TencentAdaptor().build_request(make_req(), target(base_url=hunyuan.url,
                                                                           key="1|nobody|x"))) \
        == "AuthFailure.SecretIdNotFound"
    # a clock 10 minutes off
    assert await error_of(TencentAdaptor(clock=lambda: time.time() - 600).build_request(make_req(), t)) \
        == "AuthFailure.SignatureExpire"
    # the signed Host is not the one sent
    up = TencentAdaptor().build_request(make_req(), t)
    up.headers["Host"] = "hunyuan.tencentcloudapi.com"
    resp = await send(up)  # Tornado's server routes by path, so the fake still answers
    assert json.loads(resp.body)["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    # a version the API does not have, or fields it does not know
    up = TencentAdaptor().build_request(make_req(), t)
    up.headers["X-TC-Version"] = "2017-03-12"
    assert await error_of(up) == "NoSuchVersion"
    ad = TencentAdaptor()
    for body, code in [
        ({"Model": MODEL, "Messages": [{"Role": "user", "Content": "x"}], "max_tokens": 5}, "UnknownParameter"),
        ({"Model": MODEL, "Messages": [{"Role": "assistant", "Content": "x"}]}, "InvalidParameter"),
        ({"Model": MODEL, "Messages": [{"Role": "user", "Content": ""}]}, "InvalidParameter"),
        ({"Model": MODEL, "Messages": [{"Role": "user", "Content": "x"}], "Temperature": 4.8}, "InvalidParameter"),
        ({"Model": "gpt-4", "Messages": [{"Role": "user", "Content": "x"}]}, "InvalidParameterValue.Model"),
    ]:
        up = ad.build_request(make_req(), t)
        up.body = json.dumps(body).encode()
        up.headers["Authorization"] = tc3_authorization("AKIDok", SECRET_KEY, int(up.headers["X-TC-Timestamp"]),
                                                        up.headers["Host"], up.body)
        assert await error_of(up) == code, body


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, hunyuan: FakeHunyuan, key: str = KEY, **fields: Any) -> str:
    return await channel_token(gw, type=23, key=key, base_url=hunyuan.url,
                               models=f"{MODEL},hunyuan-embedding", **fields)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


async def test_gateway_chat_plain(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, max_tokens=100, temperature=0.2, top_p=0.9,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert resp.choices[0].finish_reason == "stop" and resp.model == MODEL and resp.object == "chat.completion"
    assert resp.id == "chatcmpl-" + RESPONSE_ID
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    sent = hunyuan.recorder[-1]
    assert sent["headers"]["x-tc-action"] == "ChatCompletions"
    assert sent["headers"]["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDok/")
    assert sent["json"] == {"Model": MODEL, "Messages": [{"Role": "system", "Content": "Be brief."},
                                                         {"Role": "user", "Content": "hi"}],
                            "Stream": False, "Temperature": 0.2, "TopP": 0.9}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_TOKENS)
    assert logs[0]["model_name"] == MODEL


async def test_gateway_stream(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan)
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == TEXT_REPLY and seen.finish == "stop" and seen.models == {MODEL}
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_TOKENS)
    sent = hunyuan.recorder[-1]["json"]
    assert sent["Stream"] is True and "stream_options" not in sent
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["is_stream"] and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_TOKENS)


async def test_gateway_tool_call_round_trip(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "weather in Shenzhen?"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS,  # type: ignore[arg-type]
                                                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id == TOOL_CALL_ID and call.type == "function"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == TOOL_ARGS
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_TOKENS
    sent = hunyuan.recorder[-1]["json"]
    assert sent["ToolChoice"] == "custom" and sent["CustomTool"]["Function"]["Name"] == "get_weather"
    assert json.loads(sent["Tools"][0]["Function"]["Parameters"]) == TOOLS[0]["function"]["parameters"]

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == TOOL_RESULT_REPLY
    assert hunyuan.recorder[-1]["json"]["Messages"][-1] == {"Role": "tool", "Content": '{"sky": "clear"}',
                                                            "ToolCallId": TOOL_CALL_ID}

    # streamed tool call: Hunyuan's pieces merged by Id into one OpenAI call
    stream = await client.chat.completions.create(model=MODEL, messages=messages[:1], tools=TOOLS,  # type: ignore
                                                  stream=True)
    name, args, finish, indexes, ids_ = None, "", None, set(), set()
    async for c in stream:
        for ch in c.choices:
            for tc in ch.delta.tool_calls or ():
                indexes.add(tc.index)
                if tc.id:
                    ids_.add(tc.id)
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == TOOL_ARGS
    assert finish == "tool_calls" and indexes == {0} and ids_ == {TOOL_CALL_ID}
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)


async def test_gateway_embeddings(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan)
    client = gw.client(key)
    resp = await client.embeddings.create(model="hunyuan-embedding", input=["hello world", "bye"])  # SDK: base64
    assert [d.embedding for d in resp.data] == [EMBEDDING, EMBEDDING]
    assert [d.index for d in resp.data] == [0, 1] and resp.model == "hunyuan-embedding"
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == 4
    resp = await client.embeddings.create(model="hunyuan-embedding", input="hello", encoding_format="float")
    assert resp.data[0].embedding == EMBEDDING
    sent = hunyuan.recorder[-1]
    assert sent["headers"]["x-tc-action"] == "GetEmbedding" and sent["json"] == {"InputList": ["hello"]}
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)
    assert sorted(log["prompt_tokens"] for log in logs) == [2, 4]


async def _wait_status(gw: Gateway, cid: int, want: int) -> int | None:
    status = None
    for _ in range(50):
        status = (await gw.ok("GET", f"/api/channel/{cid}"))["status"]
        if status == want:
            break
        await asyncio.sleep(0.05)
    return status


async def test_gateway_error_on_http_200_in_openai_shape_and_channel_disabled(gw: Gateway,
                                                                              hunyuan: FakeHunyuan) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=23, key="1|AKIDok|wrong-secret", base_url=hunyuan.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert "credentials could not be validated" in e.value.message and "request id" in e.value.message
    assert e.value.code == "AuthFailure.SignatureFailure"
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "upstream_error"
    assert await _wait_status(gw, cid, 3) == 3  # AuthFailure disabled the channel
    assert await gw.logs() == []


async def test_gateway_invalid_parameter_is_400_and_not_retried(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(type=23, key="1|AKIDfirst|" + SECRET_KEY, base_url=hunyuan.url, models=MODEL, priority=5)
    await gw.channel(type=23, key="1|AKIDsecond|" + SECRET_KEY, base_url=hunyuan.url, models=MODEL)
    key = await gw.token()
    too_many = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(41)]
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=too_many)  # type: ignore[arg-type]
    assert e.value.code == "InvalidParameter" and "40" in e.value.message
    assert hunyuan.secret_ids() == ["AKIDfirst"]


@pytest.mark.parametrize("failing, stream", [
    ("AKIDfail500", False), ("AKIDfail500", True),  # HTTP 500 from in front of the API
    ("AKIDinternal", False), ("AKIDinternal", True),  # InternalError on HTTP 200
])
async def test_gateway_retries_another_channel(gw: Gateway, hunyuan: FakeHunyuan, failing: str, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=23, key=f"1|{failing}|{SECRET_KEY}", base_url=hunyuan.url, models=MODEL, priority=10)
    await gw.channel(type=23, key=KEY, base_url=hunyuan.url, models=MODEL, priority=0)
    key = await gw.token()
    client = gw.client(key)
    assert await ask(client, MODEL, stream) == TEXT_REPLY
    assert hunyuan.secret_ids() == [failing, "AKIDok"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_gateway_rate_limit_without_retry(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan, key=f"1|AKIDlimit|{SECRET_KEY}")
    with pytest.raises(openai.RateLimitError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "RequestLimitExceeded"


async def test_gateway_stream_with_a_bad_key_fails_before_streaming(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    """Hunyuan answers a stream request's error as JSON on HTTP 200: nothing is streamed, the
    error reaches the client in OpenAI's shape and the verdict (disable) holds."""
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=23, key=f"1|AKIDarrears|{SECRET_KEY}", base_url=hunyuan.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.APIStatusError) as e:
        stream = await gw.client(key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
        async for _ in stream:
            pass
    assert e.value.code == "ResourceUnavailable.InArrears" and "欠费" in e.value.message
    assert await _wait_status(gw, cid, 3) == 3


async def test_gateway_mid_stream_error_and_local_usage(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    key = await _setup(gw, hunyuan, key=f"1|AKIDstreamerror-nousage|{SECRET_KEY}")
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e:
        await read_text(stream, parts)
    assert "服务内部异常" in str(e.value.message)
    assert "".join(parts) == "Hello"
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0  # counted locally: no Usage


async def test_channel_test(gw: Gateway, hunyuan: FakeHunyuan) -> None:
    """A channel test signs like the relay; a bad secret (an error on HTTP 200) is reported, not a 500."""
    good = await gw.channel(type=23, key=KEY, base_url=hunyuan.url, models=MODEL)
    bad = await gw.channel(type=23, key="1|AKIDok|wrong-secret", base_url=hunyuan.url, models=MODEL)
    code, data = await gw.api("GET", f"/api/channel/test/{good}")
    assert code == 200 and data["success"] is True and data["message"] == TEXT_REPLY, data
    assert hunyuan.recorder[-1]["json"]["Model"] == MODEL
    code, data = await gw.api("GET", f"/api/channel/test/{bad}")
    assert code == 200 and data["success"] is False, data
    assert "HTTP 200" in data["message"] and "credentials could not be validated" in data["message"]
