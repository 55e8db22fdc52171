"""Coze (type 34): v3 bot chat — converters, the event-stream transcoder (also used to assemble
non-stream answers), the fake upstream and OpenAI SDK clients through OneRelay."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, ChannelTarget, RelayRequest, Usage
from adaptors.coze import (
    CozeAdaptor,
    CozeAnswerError,
    CozeStream,
    bot_id,
    convert_message,
    parse_coze_error,
    to_coze_request,
    user_id,
)
from adaptors.registry import PROVIDERS
from adaptors.base import UpstreamRejected
from tests.adaptor_helpers import (
    FakeServer,
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
from tests.fake_misc_providers import COZE_CHAT_ID, COZE_REPLY, COZE_USAGE, FakeState, make_app

BOT = "bot-7342866812345678901"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url)


def make_req(messages: list[Any] | None = None, *, model: str = BOT, stream: bool = False,
             include_usage: bool = False, **extra: Any) -> RelayRequest:
    body: dict[str, Any] = {"model": model, "messages": messages or [{"role": "user", "content": "Hi"}], **extra}
    if stream:
        body["stream"] = True
    return relay_request(body, model=model, requested=model, stream=stream, include_usage=include_usage)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 9, "type": 34, "key": "pat_ok", "config": {"user_id": "u-1"}}, **kw)


# --------------------------------------------------------------------------- request


def test_bot_and_user_ids() -> None:
    assert bot_id("bot-123") == "123" and bot_id("123") == "123" and bot_id(" bot-abc ") == "abc"
    assert user_id({}, target()) == "u-1"
    assert user_id({"user": "client-7"}, target(config={})) == "client-7"
    assert user_id({"user": "client-7"}, target(config={"user_id": "  "})) == "client-7"
    assert user_id({}, target(config={})) == "onerelay"


def test_messages_to_additional_messages() -> None:
    body = to_coze_request({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is this?"},
        {"role": "assistant", "content": "A question."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                               "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "And this?"},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
    ], "user": "ignored-when-configured"}, "bot-42", target())
    assert body["bot_id"] == "42" and body["user_id"] == "u-1" and body["stream"] is True
    assert body["additional_messages"][:3] == [
        {"role": "user", "type": "question", "content": "Be brief.", "content_type": "text"},
        {"role": "user", "type": "question", "content": "What is this?", "content_type": "text"},
        {"role": "assistant", "type": "answer", "content": "A question.", "content_type": "text"},
    ]
    last = body["additional_messages"][3]
    assert len(body["additional_messages"]) == 4  # tool traffic dropped
    assert last["content_type"] == "object_string" and last["role"] == "user"
    assert json.loads(last["content"]) == [{"type": "text", "text": "And this?"},
                                           {"type": "image", "file_url": "https://x.test/cat.png"}]
    assert convert_message({"role": "user", "content": ""}) is None
    assert convert_message({"role": "user", "content": [{"type": "text", "text": "a"}, "b"]})["content"] == "a\nb"


def test_build_request() -> None:
    ad = CozeAdaptor()
    up = ad.build_request(make_req(), target())
    assert up.method == "POST" and up.url == "https://api.coze.com/v3/chat"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer pat_ok"}
    sent = json.loads(up.body or b"")
    assert sent == {"bot_id": "7342866812345678901", "user_id": "u-1", "stream": True,
                    "additional_messages": [{"role": "user", "type": "question", "content": "Hi",
                                             "content_type": "text"}]}
    up = ad.build_request(make_req(), target(base_url="https://api.coze.cn/"))
    assert up.url == "https://api.coze.cn/v3/chat"


def test_registry_entry() -> None:
    s = PROVIDERS[34]
    assert s.adaptor == "coze" and s.modes == (CHAT,) and s.supported
    assert [c.key for c in s.config] == ["user_id"] and "bot-" in s.note
    assert isinstance(build_registry()[34], CozeAdaptor)


# --------------------------------------------------------------------------- stream


def ev(name: str, data: Any) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event:{name}\ndata:{payload}\n\n"


def msg(content: str, type_: str = "answer", mid: str = "m1", **kw: Any) -> dict[str, Any]:
    return {"id": mid, "conversation_id": "c1", "chat_id": "chat1", "role": "assistant", "type": type_,
            "content": content, "content_type": "text", **kw}


RECORDED = "".join([
    ev("conversation.chat.created", {"id": "chat1", "conversation_id": "c1", "status": "created"}),
    ev("conversation.chat.in_progress", {"id": "chat1", "conversation_id": "c1", "status": "in_progress"}),
    ev("conversation.message.delta", msg("", reasoning_content="Let me think.")),
    ev("conversation.message.delta", msg("你好")),
    ev("conversation.message.delta", msg("，世界 ☀")),
    ev("conversation.message.completed", msg("你好，世界 ☀", reasoning_content="Let me think.")),
    ev("conversation.message.completed", msg("{\"msg_type\":\"generate_answer_finish\"}", "verbose", "m2")),
    ev("conversation.message.completed", msg("Anything else?", "follow_up", "m3")),
    ev("conversation.chat.completed", {"id": "chat1", "conversation_id": "c1", "status": "completed",
                                       "usage": {"token_count": 30, "output_count": 10, "input_count": 20}}),
    ev("done", '"[DONE]"'),
]).encode()


def run(pieces: list[bytes], *, include_usage: bool = True) -> tuple[CozeStream, bytes]:
    ts = CozeStream(make_req(stream=True, include_usage=include_usage), created=1)
    return ts, transcode(ts, pieces)


EXPECTED = [
    {"delta": {"role": "assistant", "reasoning_content": "Let me think."}},
    {"delta": {"content": "你好"}},
    {"delta": {"content": "，世界 ☀"}},
    {"delta": {}, "finish_reason": "stop"},
    {"usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}},
]


def simplify(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return simplify_chunks(chunks, "chat1", BOT)


def check(ts: CozeStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify(chunks) == EXPECTED
    assert ts.usage == Usage(20, 10) and ts.done and ts.error is None
    assert "".join(ts.content_parts) == "你好，世界 ☀"
    assert ts.completion_text == "Let me think.你好，世界 ☀"


def test_stream_whole_and_split_at_every_byte() -> None:
    ts, reference = run([RECORDED])
    check(ts, reference)
    assert assert_every_split(RECORDED, run, check, Usage(20, 10))[1] == reference


def test_stream_byte_by_byte_and_crlf() -> None:
    ts, out = run(byte_by_byte(RECORDED))
    check(ts, out)
    crlf = RECORDED.replace(b"\n", b"\r\n")
    ts, out = run(byte_by_byte(crlf))
    check(ts, out)


def test_stream_without_usage_chunk_unless_asked() -> None:
    ts, out = run([RECORDED], include_usage=False)
    chunks, _ = decode_frames(out)
    assert all(c["choices"] for c in chunks) and ts.usage == Usage(20, 10)


def test_completed_answer_without_deltas_is_sent() -> None:
    body = (ev("conversation.chat.created", {"id": "chat2"})
            + ev("conversation.message.completed", msg("Whole answer", mid="mx"))
            + ev("conversation.chat.completed", {"id": "chat2", "usage": {"input_count": 1, "output_count": 2}})
            + ev("done", '"[DONE]"')).encode()
    ts, out = run([body])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Whole answer"}
    assert ts.usage == Usage(1, 2)


@pytest.mark.parametrize("event, data, code, message", [
    ("conversation.chat.failed", {"id": "c", "status": "failed", "last_error": {"code": 5000, "msg": "model down"}},
     5000, "model down"),
    ("error", {"code": 4101, "msg": "bad token"}, 4101, "bad token"),
])
def test_stream_failure_events(event: str, data: dict[str, Any], code: int, message: str) -> None:
    body = (ev("conversation.message.delta", msg("part")) + ev(event, data) + ev("done", '"[DONE]"')).encode()
    for i in range(0, len(body) + 1, 5):
        ts, out = run([body[:i], body[i:]])
        chunks, dones = decode_frames(out)
        assert dones == 1
        assert chunks[-1] == {"error": {"message": message, "type": "upstream_error", "param": "", "code": code}}
        assert ts.error == message and ts.error_code == code and ts.usage is None and not ts.done
        assert ts.completion_text == "part"


def test_stream_cut_before_done() -> None:
    cut = RECORDED.split(b"event:conversation.chat.completed")[0] + b"event:conversation.cha"
    ts, out = run([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1 and all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert ts.usage is None and not ts.done
    cut = RECORDED.split(b"event:done")[0]  # completed, then cut: finish already sent
    ts, out = run([cut])
    chunks, dones = decode_frames(out)
    assert dones == 1 and simplify(chunks) == EXPECTED and not ts.done


# --------------------------------------------------------------------------- non-stream assembly, errors


def test_parse_response_assembles_the_event_stream() -> None:
    req = make_req()
    req.requested_model = "my-bot"
    parsed = CozeAdaptor().parse_response(req, 200, RECORDED)
    data = json.loads(parsed.body)
    assert data["object"] == "chat.completion" and data["model"] == "my-bot" and data["id"] == "chat1"
    assert data["choices"] == [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "你好，世界 ☀", "reasoning_content": "Let me think."}}]
    assert data["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
    assert parsed.usage == Usage(20, 10)


@pytest.mark.parametrize("body, code, disables", [
    (b'{"code":4101,"msg":"The token you entered is incorrect."}', 4101, True),
    (b'{"code":4200,"msg":"Requested resource bot_id=1 does not exist."}', 4200, False),
    (ev("conversation.chat.failed", {"last_error": {"code": 5000, "msg": "model down"}}).encode(), 5000, False),
])
def test_parse_response_errors_on_2xx_raise(body: bytes, code: int, disables: bool) -> None:
    with pytest.raises(CozeAnswerError) as e:
        CozeAdaptor().parse_response(make_req(), 200, body)
    err = e.value.failure  # the contract: an UpstreamRejected carrying the normalised failure
    assert isinstance(e.value, UpstreamRejected) and err.code == code and err.disables_channel is disables
    assert err.status == 502 and err.payload is not None and err.payload["code"] == code


def test_parse_response_non_event_json_and_garbage_raise() -> None:
    with pytest.raises(CozeAnswerError):
        CozeAdaptor().parse_response(make_req(), 200, b'{"code":0,"data":{"id":"1","status":"in_progress"}}')
    with pytest.raises(CozeAnswerError):
        CozeAdaptor().parse_response(make_req(), 200, b"<html>hi</html>")


def test_parse_error() -> None:
    f = parse_coze_error(502, b'{"code":4100,"msg":"authentication is invalid"}')
    assert f.message == "authentication is invalid" and f.code == 4100 and f.disables_channel
    assert f.payload == {"message": "authentication is invalid", "type": "upstream_error", "param": "", "code": 4100}
    f = parse_coze_error(429, b'{"code":4013,"msg":"rate limit"}')
    assert f.retryable and not f.disables_channel
    f = parse_coze_error(400, b'{"code":4000,"msg":"bad param"}')
    assert not f.retryable
    f = parse_coze_error(500, b"upstream exploded")
    assert f.message == "upstream exploded" and f.code is None
    f = parse_coze_error(502, ev("error", {"code": 4101, "msg": "bad token"}).encode())
    assert f.message == "bad token" and f.code == 4101 and f.disables_channel


# --------------------------------------------------------------------------- the fake upstream


async def test_round_trip_with_fake(fake: FakeServer) -> None:
    ad = CozeAdaptor()
    fake.state.reset()
    t = target(base_url=fake.url)
    req = make_req([{"role": "system", "content": "S"}, {"role": "user", "content": "Hello"}])
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200
    parsed = ad.parse_response(req, 200, resp.body)
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == COZE_REPLY and data["id"] == COZE_CHAT_ID
    assert parsed.usage == Usage(COZE_USAGE["input_count"], COZE_USAGE["output_count"])
    sent = fake.state.last("coze")
    assert sent["path"] == "/v3/chat" and sent["headers"]["Authorization"] == "Bearer pat_ok"
    assert sent["json"]["bot_id"] == "7342866812345678901" and sent["json"]["user_id"] == "u-1"
    assert sent["json"]["stream"] is True and len(sent["json"]["additional_messages"]) == 2

    req = make_req(stream=True, include_usage=True)
    _, ts, out = await send_stream(ad, req, t)
    chunks, dones = decode_frames(out)
    assert dones == 1 and ts.done
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == COZE_REPLY
    assert chunks[-1]["usage"]["prompt_tokens"] == COZE_USAGE["input_count"]

    resp = await send(ad.build_request(make_req(), target(base_url=fake.url, key="pat_bad")))
    assert resp.code == 200  # Coze errors come on HTTP 200
    f = ad.parse_error(502, resp.body)
    assert f.code == 4101 and f.disables_channel
    with pytest.raises(CozeAnswerError):
        ad.parse_response(make_req(), 200, resp.body)


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, fake: FakeServer, key: str = "pat_ok", config: Any = None) -> str:
    return await channel_token(gw, type=34, key=key, base_url=fake.url, models=f"{BOT},bot-missing,bot-fail",
                               config=config if config is not None else {"user_id": "u-42"})


async def test_sdk_plain_and_stream_billed_from_coze_usage(gw: Gateway, fake: FakeServer) -> None:
    fake.state.reset()
    key = await _setup(gw, fake)
    client = gw.client(key)
    resp = await client.chat.completions.create(model=BOT, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == COZE_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens == COZE_USAGE["input_count"]
    sent = fake.state.last("coze")["json"]
    assert sent["stream"] is True and sent["user_id"] == "u-42"  # non-stream client, stream upstream
    logs = await gw.logs()
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (48, 9) and not logs[0]["is_stream"]

    stream = await client.chat.completions.create(model=BOT, messages=[{"role": "user", "content": "hi"}],
                                                  stream=True, stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == COZE_REPLY and seen.finish == "stop"
    assert seen.usage is not None and seen.usage.completion_tokens == COZE_USAGE["output_count"]
    logs = await gw.logs()
    assert logs[0]["is_stream"] and (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (48, 9)
    assert logs[0]["quota"] > 0


async def test_sdk_errors_on_http_200_in_openai_shape(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake)
    client = gw.client(key)
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.create(model="bot-missing", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502 and "does not exist" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == 4200
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.create(model="bot-missing", messages=[{"role": "user", "content": "hi"}],
                                             stream=True)
    assert e.value.status_code == 502 and "does not exist" in e.value.message
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.create(model="bot-fail", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502 and "model call failed" in e.value.message


async def test_sdk_failed_chat_mid_stream(gw: Gateway, fake: FakeServer) -> None:
    """A chat that fails before any text reached the client is an HTTP error (so another channel
    could have served it), not a stream with an error event."""
    key = await _setup(gw, fake)
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(
            model="bot-fail", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "model call failed" in str(e.value) and e.value.status_code == 502


async def test_sdk_bad_token(gw: Gateway, fake: FakeServer) -> None:
    key = await _setup(gw, fake, key="pat_bad")
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(model=BOT, messages=[{"role": "user", "content": "hi"}])
    assert "token you entered is incorrect" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body.get("code") == 4101


async def test_channel_test_reports_an_error_on_http_200(gw: Gateway, fake: FakeServer) -> None:
    """A bad token is an error Coze sends with HTTP 200: the channel test says so (no 500)."""
    await gw.channel(type=34, key="pat_bad", base_url=fake.url, models=BOT)
    channels = await gw.ok("GET", "/api/channel/?p=0")
    cid = channels[0]["id"]
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert code == 200 and data["success"] is False, data
    assert "HTTP 200" in data["message"]
