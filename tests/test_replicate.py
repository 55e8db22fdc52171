"""Replicate (type 46, predictions): pure converter tests (requests, the create → poll → stream
follow steps, answers, errors), the SSE transcoder fed a recorded stream split at every byte,
a fake Replicate API on loopback, and OpenAI SDK clients through OneRelay to it."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator

import openai
import pytest
import tornado.web

from adaptors import build_registry, families
from adaptors.base import CHAT, DONE_FRAME, IMAGES, ChannelConfigError, ChannelTarget, RelayRequest, \
    UpstreamRejected, UpstreamRequest, Usage
from adaptors.common import count_tokens
from adaptors.registry import PROVIDERS
from adaptors.replicate import (
    ReplicateAdaptor,
    ReplicateStream,
    api_base,
    aspect_ratio,
    create_endpoint,
    flatten_messages,
    output_text,
    output_urls,
    parse_replicate_error,
    poll_delay,
    prediction_failure,
    prediction_usage,
    to_chat_input,
    to_image_input,
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

LLAMA = "meta/meta-llama-3-8b-instruct"
FLUX = "black-forest-labs/flux-schnell"
NOW = 1_717_000_000.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = LLAMA,
             requested: str = "llama", include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage,
                         mode=mode)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 46, "type": 46, "key": "r8_key"}, **kw)


def adaptor() -> ReplicateAdaptor:
    return ReplicateAdaptor(clock=lambda: NOW)


def prediction(status: str, **kw: Any) -> dict[str, Any]:
    pid = kw.pop("id", "p1")
    base = "https://api.replicate.com/v1/predictions/" + pid
    data = {"id": pid, "model": LLAMA, "version": "dp-1", "status": status, "output": None, "error": None,
            "logs": "", "created_at": iso(NOW - 1), "metrics": {},
            "urls": {"get": base, "cancel": base + "/cancel", "stream": "https://stream.replicate.com/v1/files/s-" + pid}}
    data.update(kw)
    return data


def body_of(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


# --------------------------------------------------------------------------- request


def test_base_url_rule_and_model_paths() -> None:
    for base in ("", "https://api.replicate.com", "https://api.replicate.com/", "https://api.replicate.com/v1",
                 "https://api.replicate.com/v1/models/"):
        assert api_base(target(base_url=base)) == "https://api.replicate.com", base
    assert api_base(target(base_url="https://proxy.example.com/replicate/v1")) == \
        "https://proxy.example.com/replicate"
    b = "https://api.replicate.com"
    assert create_endpoint(b, LLAMA) == (b + "/v1/models/meta/meta-llama-3-8b-instruct/predictions", None)
    assert create_endpoint(b, "stability-ai/sdxl:7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc") \
        == (b + "/v1/predictions", "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc")
    for bad in ("gpt-4o", "a/b/c", "/x", "owner/"):
        with pytest.raises(ChannelConfigError) as e:
            create_endpoint(b, bad)
        assert e.value.failure.status == 503 and e.value.failure.code == "model_name_invalid"


def test_messages_flattened() -> None:
    assert flatten_messages([{"role": "user", "content": "Hi there"}]) == ("Hi there", "")
    prompt, system = flatten_messages([
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                     {"type": "image_url", "image_url": {"url": "https://x/img.png"}}]},
        {"role": "assistant", "content": "An image."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                               "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "developer", "content": "Answer in French."},
        {"role": "tool", "tool_call_id": "c", "content": "42"},
        {"role": "user", "content": "And now?"},
    ])
    assert system == "Be terse.\n\nAnswer in French."
    assert prompt == "user: Look:\n\nassistant: An image.\n\ntool: 42\n\nuser: And now?"
    # a lone assistant message is still flattened with its role
    assert flatten_messages([{"role": "assistant", "content": "x"}]) == ("assistant: x", "")


def test_chat_input_fields() -> None:
    inp = to_chat_input({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                         "max_tokens": 64, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "presence_penalty": 0.5,
                         "frequency_penalty": 0.1, "seed": 7, "stop": ["\n\n", "END", ""], "tools": [{}],
                         "n": 2, "user": "u"})
    assert inp == {"prompt": "Q", "system_prompt": "S", "max_tokens": 64, "max_new_tokens": 64,
                   "temperature": 0.2, "top_p": 0.9, "top_k": 40, "presence_penalty": 0.5,
                   "frequency_penalty": 0.1, "seed": 7, "stop_sequences": "\n\n,END"}
    inp = to_chat_input({"messages": [{"role": "user", "content": "Q"}], "max_completion_tokens": 9,
                         "max_tokens": 100, "temperature": True, "stop": "x", "seed": 1.5})
    assert inp == {"prompt": "Q", "max_tokens": 9, "max_new_tokens": 9, "stop_sequences": "x"}


def test_build_request_plain_and_stream() -> None:
    ad = adaptor()
    req = make_req({"model": "llama", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5})
    up = ad.build_request(req, target())
    assert up.method == "POST"
    assert up.url == "https://api.replicate.com/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer r8_key", "Prefer": "wait"}
    assert json.loads(up.body or b"") == {"input": {"prompt": "Hi", "max_tokens": 5, "max_new_tokens": 5}}
    up = ad.build_request(make_req(stream=True), target(base_url="http://127.0.0.1:9/v1"))
    assert up.url == "http://127.0.0.1:9/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    assert "Prefer" not in up.headers and json.loads(up.body or b"") == {"input": {"prompt": "Hi"}, "stream": True}
    up = ad.build_request(make_req(model="owner/model:abc123"), target())
    assert up.url == "https://api.replicate.com/v1/predictions"
    assert json.loads(up.body or b"") == {"version": "abc123", "input": {"prompt": "Hi"}}


def test_image_input() -> None:
    assert [aspect_ratio(s) for s in ("1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536",
                                      "512x512", "1280x1024", "2048x1152", "1000x333", None, "big")] == \
        ["1:1", "16:9", "9:16", "3:2", "2:3", "1:1", "5:4", "16:9", "1:1", "1:1", "1:1"]
    assert to_image_input({"prompt": "a cat", "n": 2, "size": "1792x1024", "quality": "hd",
                           "response_format": "b64_json"}, FLUX) == \
        {"prompt": "a cat", "num_outputs": 2, "aspect_ratio": "16:9", "output_format": "png"}
    assert to_image_input({"prompt": "a dog"}, "stability-ai/sdxl") == \
        {"prompt": "a dog", "num_outputs": 1, "aspect_ratio": "1:1", "output_format": "png"}
    assert to_image_input({"prompt": "a dog", "size": "1024x768"}, "stability-ai/sdxl") == \
        {"prompt": "a dog", "num_outputs": 1, "aspect_ratio": "4:3", "output_format": "png",
         "width": 1024, "height": 768}
    req = make_req({"model": "flux", "prompt": "a cat", "n": 1, "size": "1024x1792"}, model=FLUX, requested="flux",
                   mode=IMAGES)
    up = adaptor().build_request(req, target())
    assert up.url.endswith("/v1/models/black-forest-labs/flux-schnell/predictions")
    assert up.headers["Prefer"] == "wait"
    assert json.loads(up.body or b"") == {"input": {"prompt": "a cat", "num_outputs": 1, "aspect_ratio": "9:16",
                                                    "output_format": "png"}}


def test_registry_entry_and_families() -> None:
    s = PROVIDERS[46]
    assert s.adaptor == "replicate" and s.modes == (CHAT, IMAGES) and s.supported and not s.tools
    assert s.base_url == "https://api.replicate.com" and s.auth == "bearer"
    assert s.test_model == LLAMA and {LLAMA, FLUX, "black-forest-labs/flux-pro", "meta/meta-llama-3-70b-instruct",
                                      "stability-ai/sdxl"} <= set(s.models)
    ad = build_registry()[46]
    assert isinstance(ad, ReplicateAdaptor) and ad.stream_after_create and ad.models() == list(s.models)
    assert sum(isinstance(a, ReplicateAdaptor) for a in families()) == 1


# --------------------------------------------------------------------------- create, poll, answer


def test_running_prediction_is_polled_with_a_growing_delay() -> None:
    ad = adaptor()
    req = make_req()
    ad.build_request(req, target())
    parsed = ad.parse_response(req, 201, body_of(prediction("starting", created_at=iso(NOW - 0.2))))
    assert parsed.follow == UpstreamRequest("GET", "https://api.replicate.com/v1/predictions/p1",
                                            {"Authorization": "Bearer r8_key"}, None)
    assert parsed.follow_delay == 0.5 and parsed.usage is None
    parsed = ad.parse_response(req, 200, body_of(prediction("processing", output=["Hel"], created_at=iso(NOW - 6))))
    assert parsed.follow is not None and parsed.follow_delay == 1.5
    parsed = ad.parse_response(req, 200, body_of(prediction("processing", created_at=iso(NOW - 60))))
    assert parsed.follow is not None and parsed.follow_delay == 2.0
    # no created_at: 1 s; no urls.get: the prediction URL is made from the channel's base
    data = prediction("starting", created_at=None, urls={})
    parsed = ad.parse_response(req, 201, body_of(data))
    assert parsed.follow is not None and parsed.follow.url == "https://api.replicate.com/v1/predictions/p1"
    assert parsed.follow_delay == 1.0


def test_poll_delay_reads_rfc3339() -> None:
    assert poll_delay({"created_at": "2024-05-29T16:26:38.123456789Z"},
                      datetime(2024, 5, 29, 16, 26, 46, tzinfo=timezone.utc).timestamp()) == pytest.approx(1.969, 0.01)
    assert poll_delay({"created_at": "2024-05-29T16:26:38+00:00"}, 0) == 0.5  # a clock behind Replicate's
    assert poll_delay({"created_at": "yesterday"}, NOW) == 1.0


def test_succeeded_chat_answer() -> None:
    ad = adaptor()
    req = make_req({"model": "llama", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50})
    ad.build_request(req, target())
    data = prediction("succeeded", output=["Hello", " there", "!\n", "Bye"],
                      metrics={"input_token_count": 11, "output_token_count": 4, "predict_time": 0.4})
    parsed = ad.parse_response(req, 201, body_of(data))
    assert parsed.follow is None and parsed.usage == Usage(11, 4) and parsed.completion_text == "Hello there!\nBye"
    out = json.loads(parsed.body)
    assert out == {"id": "chatcmpl-p1", "object": "chat.completion", "created": int(NOW), "model": "llama",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!\nBye"},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}}
    # the output reached max_tokens: length; no metrics: no usage (the relay counts)
    req = make_req({"model": "llama", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    parsed = ad.parse_response(req, 200, body_of({**data, "output": "One text"}))
    assert json.loads(parsed.body)["choices"][0]["finish_reason"] == "length"
    parsed = ad.parse_response(req, 200, body_of({**data, "metrics": {"predict_time": 1}}))
    assert parsed.usage is None and "usage" not in json.loads(parsed.body)


def test_output_and_usage_readers() -> None:
    assert output_text(["a", None, "b", 3]) == "ab3" and output_text("x") == "x" and output_text(None) == ""
    assert output_urls("https://r/1.png") == ["https://r/1.png"]
    assert output_urls(["https://r/1.png", "", {"url": "https://r/2.png"}, 5]) == ["https://r/1.png", "https://r/2.png"]
    assert output_urls(None) == []
    assert prediction_usage({"predict_time": 1}) is None and prediction_usage(None) is None
    assert prediction_usage({"output_token_count": 3}) == Usage(0, 3)


def test_failed_and_canceled_predictions() -> None:
    ad = adaptor()
    req = make_req()
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 200, body_of(prediction("failed", error="CUDA out of memory")))
    f = e.value.failure
    assert (f.status, f.type, f.code, f.retryable, f.disables_channel) == \
        (500, "upstream_error", "prediction_failed", True, False)
    assert f.message == "Replicate prediction p1 failed: CUDA out of memory"
    assert f.payload == {"message": f.message, "type": "upstream_error", "param": "", "code": "prediction_failed"}
    f = prediction_failure(prediction("canceled"))
    assert f.status == 500 and f.code == "prediction_canceled" and f.message == "Replicate prediction p1 canceled"
    f = prediction_failure(prediction("failed", error="NSFW content detected. Try running it again."))
    assert f.status == 400 and f.code == "content_policy_violation" and not f.retryable
    # a failed prediction found at create time of a stream request fails the same way
    with pytest.raises(UpstreamRejected):
        ad.parse_response(make_req(stream=True), 201, body_of(prediction("failed", error="boom")))


def test_not_a_prediction() -> None:
    for body in (b"<html>", b"[]", b'{"id": "x"}'):
        with pytest.raises(UpstreamRejected) as e:
            adaptor().parse_response(make_req(), 200, body)
        assert e.value.failure.status == 502 and e.value.failure.retryable


def test_stream_create_follows_the_stream_url() -> None:
    ad = adaptor()
    req = make_req(stream=True)
    ad.build_request(req, target())
    parsed = ad.parse_response(req, 201, body_of(prediction("starting", id="abc")))
    assert parsed.follow == UpstreamRequest(
        "GET", "https://stream.replicate.com/v1/files/s-abc",
        {"Authorization": "Bearer r8_key", "Accept": "text/event-stream", "Cache-Control": "no-store"}, None)
    assert parsed.follow_delay == 0
    ts = ad.new_stream(req)
    assert isinstance(ts, ReplicateStream)
    chunks, _ = decode_frames(transcode(ts, [b"event: done\ndata: {}\n\n"]))
    assert chunks[0]["id"] == "chatcmpl-abc"
    data = prediction("starting", urls={"get": "https://api.replicate.com/v1/predictions/p1"})
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 201, body_of(data))
    assert e.value.failure.status == 400 and e.value.failure.code == "stream_unsupported"
    assert not e.value.failure.retryable


def test_succeeded_images_answer() -> None:
    ad = adaptor()
    req = make_req({"model": "flux", "prompt": "a cat", "n": 2}, model=FLUX, requested="flux", mode=IMAGES)
    ad.build_request(req, target())
    parsed = ad.parse_response(req, 201, body_of(prediction("processing", model=FLUX)))
    assert parsed.follow is not None and parsed.follow.method == "GET"
    data = prediction("succeeded", output=["https://replicate.delivery/a.png", "https://replicate.delivery/b.png"],
                      metrics={"image_count": 2, "predict_time": 1.2})
    parsed = ad.parse_response(req, 200, body_of(data))
    assert json.loads(parsed.body) == {"created": int(NOW), "data": [{"url": "https://replicate.delivery/a.png"},
                                                                     {"url": "https://replicate.delivery/b.png"}]}
    assert parsed.follow is None and parsed.usage is None
    parsed = ad.parse_response(req, 200, body_of({**data, "output": "https://replicate.delivery/c.png"}))
    assert json.loads(parsed.body)["data"] == [{"url": "https://replicate.delivery/c.png"}]
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_response(req, 200, body_of({**data, "output": []}))
    assert e.value.failure.status == 502


def test_errors() -> None:
    f = parse_replicate_error(401, b'{"title":"Unauthenticated","detail":"You did not pass a valid '
                                   b'authentication token","status":401}')
    assert f.message == "You did not pass a valid authentication token" and f.type == "authentication_error"
    assert f.disables_channel and f.retryable and f.status == 401
    assert f.payload == {"message": f.message, "type": "authentication_error", "param": "", "code": None}
    f = parse_replicate_error(402, b'{"title":"Insufficient credit","detail":"You have insufficient credit to run '
                                   b'this model.","status":402}')
    assert f.disables_channel and f.type == "insufficient_quota"
    f = parse_replicate_error(422, json.dumps({
        "title": "Input validation failed", "detail": "- input: prompt is required", "status": 422,
        "invalid_fields": [{"type": "required", "field": "input", "description": "prompt is required"},
                           {"type": "type", "field": "input.top_k", "description": "top_k must be an integer"}],
    }).encode())
    assert f.status == 400 and f.type == "invalid_request_error" and not f.retryable and not f.disables_channel
    assert f.message == "- input: prompt is required; top_k must be an integer"
    f = parse_replicate_error(429, b'{"title":"Too many requests","detail":"Request was throttled.","status":429}')
    assert f.retryable and not f.disables_channel and f.type == "rate_limit_error"
    f = parse_replicate_error(403, b'{"detail":"You do not have permission to run this model.","status":403}')
    assert f.retryable and not f.disables_channel
    f = parse_replicate_error(404, b'{"title":"Not found","detail":"The requested resource could not be found."}')
    assert f.retryable and f.type == "not_found_error" and not f.disables_channel
    f = parse_replicate_error(422, b'{"detail":[{"loc":["body","input"],"msg":"field required"}]}')
    assert f.message == "field required"
    f = parse_replicate_error(503, b"upstream connect error")
    assert f.message == "upstream connect error" and f.retryable and f.type == "upstream_error"
    assert parse_replicate_error(500, b"").message == "upstream returned HTTP 500"


# --------------------------------------------------------------------------- stream

RECORDED = (
    b": connected\n\n"
    b"event: output\nid: 1690212292:0\ndata: Hello\n\n"
    b"event: logs\nid: 1690212292:1\ndata: Loading weights\n\n"
    b"event: output\nid: 1690212292:2\ndata:  w\xc3\xb6rld \xe6\x9d\xb1\xe4\xba\xac\n\n"
    b"event: output\r\nid: 1690212292:3\r\ndata: !\r\ndata: Second line\r\n\r\n"
    b"event: output\nid: 1690212292:4\ndata: \n\n"
    b"event: done\nid: 1690212292:5\ndata: {}\n\n"
)
TEXT = "Hello wörld 東京!\nSecond line"
BODY = {"model": "llama", "messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"}]}
EXPECTED = [
    {"delta": {"role": "assistant", "content": "Hello"}},
    {"delta": {"content": " wörld 東京"}},
    {"delta": {"content": "!\nSecond line"}},
    {"delta": {}, "finish_reason": "stop"},
]


def local_usage() -> Usage:
    return Usage(count_tokens(["Be nice.", "Hi"], "my-llama"), count_tokens([TEXT], "my-llama"))


def run_stream(pieces: list[bytes], include_usage: bool = True) -> tuple[ReplicateStream, bytes]:
    req = make_req(BODY, stream=True, requested="my-llama", include_usage=include_usage)
    ts = ReplicateStream(req, created=1700000000, id_="chatcmpl-fixed")
    return ts, transcode(ts, pieces)


def check_recorded(ts: ReplicateStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    u = local_usage()
    assert simplify_chunks(chunks, "chatcmpl-fixed", "my-llama", 1700000000) == EXPECTED + [{"usage": u.to_openai()}]
    assert ts.completion_text == TEXT and ts.usage == u


def test_stream_whole() -> None:
    check_recorded(*run_stream([RECORDED]))


def test_stream_split_at_every_byte_boundary() -> None:
    _, ref = assert_every_split(RECORDED, run_stream, check_recorded, local_usage())
    ts, out = run_stream(byte_by_byte(RECORDED))
    assert out == ref and ts.done


def test_stream_without_usage_chunk_leaves_counting_to_the_relay() -> None:
    ts, out = run_stream([RECORDED], include_usage=False)
    chunks, dones = decode_frames(out)
    assert dones == 1 and simplify_chunks(chunks, "chatcmpl-fixed", "my-llama") == EXPECTED
    assert ts.usage is None and ts.done and ts.completion_text == TEXT


def test_stream_error_canceled_and_cut() -> None:
    ts, out = run_stream([b"event: output\ndata: Hi\n\nevent: error\ndata: {\"detail\": \"CUDA out of memory\"}\n\n"
                          b"event: done\ndata: {\"reason\": \"error\"}\n\n"])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1] == {"error": {"message": "CUDA out of memory", "type": "upstream_error",
                                                   "param": "", "code": "prediction_failed"}}
    assert ts.error == "CUDA out of memory" and not ts.done
    ts, out = run_stream([b"event: error\ndata: plain text failure\n\n"])
    assert decode_frames(out)[0][-1]["error"]["message"] == "plain text failure"
    ts, out = run_stream([b"event: output\ndata: Hi\n\nevent: done\ndata: {\"reason\": \"canceled\"}\n\n"])
    chunks, _ = decode_frames(out)
    assert chunks[-1]["error"]["code"] == "prediction_canceled" and ts.error and ts.usage is None
    ts, out = run_stream([b"event: output\ndata: Hi\n\nevent: output\ndata: the"])  # cut, last frame unterminated
    chunks, dones = decode_frames(out)
    assert dones == 1 and [c["choices"][0]["delta"]["content"] for c in chunks] == ["Hi", "the"]
    assert not ts.done and ts.error is None
    ts, out = run_stream([b"event: done\ndata: {}\n\n", b"event: output\ndata: late\n\n"])
    assert b"late" not in out and out.count(DONE_FRAME) == 1


# --------------------------------------------------------------------------- a fake Replicate

TOKENS = ["Hello", " from", " Replicate", "!\nSecond", " line"]
REPLY = "".join(TOKENS)
IN_TOKENS, OUT_TOKENS = 12, 5
LLMS = {LLAMA, "meta/meta-llama-3-70b-instruct", "owner/failing"}
IMAGE_MODELS = {FLUX, "black-forest-labs/flux-pro"}


@dataclass
class FakeReplicateState:
    """What the fake saw, and how it behaves: ``processing_polls`` GETs answer ``processing``
    before the prediction succeeds; ``sync`` makes ``Prefer: wait`` creates answer finished."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    processing_polls: int = 1
    sync: bool = False
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def keys(self, kind: str = "create") -> list[str]:
        return [r["key"] for r in self.requests if r["kind"] == kind]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["kind"] == kind]


class _Base(tornado.web.RequestHandler):
    def initialize(self, state: FakeReplicateState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:
        pass

    def fail(self, status: int, title: str, detail: str, **extra: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/problem+json")
        self.finish(json.dumps({"title": title, "detail": detail, "status": status, **extra}))

    def record(self, kind: str) -> str | None:
        auth = self.request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        self.state.requests.append({"kind": kind, "path": self.request.path, "key": key,
                                    "headers": dict(self.request.headers),
                                    "json": json.loads(self.request.body) if self.request.body else None})
        if not key.startswith("r8_"):
            self.fail(401, "Unauthenticated", "You did not pass a valid authentication token")
            return None
        return key

    def view(self, p: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.request.protocol}://{self.request.host}"
        out = {k: v for k, v in p.items() if not k.startswith("_")}
        out["urls"] = {"get": f"{base}/v1/predictions/{p['id']}", "cancel": f"{base}/v1/predictions/{p['id']}/cancel",
                       "web": f"https://replicate.com/p/{p['id']}"}
        if p["model"] in LLMS and p["_stream"]:
            out["urls"]["stream"] = f"{base}/stream/{p['id']}"
        return out

    def finish_prediction(self, p: dict[str, Any]) -> None:
        base = f"{self.request.protocol}://{self.request.host}"
        p["completed_at"] = iso(time.time())
        if p["model"] == "owner/failing":
            p.update(status="failed", error="CUDA out of memory")
        elif p["model"] in IMAGE_MODELS:
            n = int(p["input"].get("num_outputs") or 1)
            urls = [f"{base}/files/{p['id']}-{i}.png" for i in range(n)]
            p.update(status="succeeded", output=urls if p["model"] == FLUX else urls[0],
                     metrics={"image_count": n, "predict_time": 0.3})
        else:
            p.update(status="succeeded", output=TOKENS,
                     metrics={"input_token_count": IN_TOKENS, "output_token_count": OUT_TOKENS, "predict_time": 0.2})


class CreateHandler(_Base):
    def post(self, owner: str, name: str) -> None:
        key = self.record("create")
        if key is None:
            return
        if key == "r8_fail-500":
            return self.fail(500, "Internal Server Error", "Internal server error")
        if key == "r8_fail-429":
            return self.fail(429, "Too many requests", "Request was throttled. Your rate limit resets in ~1s.")
        model = f"{owner}/{name}"
        if model not in LLMS | IMAGE_MODELS:
            return self.fail(404, "Not found", "The requested resource could not be found.")
        body = json.loads(self.request.body)
        extra = set(body) - {"input", "stream", "webhook", "webhook_events_filter"}
        if extra or not isinstance(body.get("input"), dict):
            return self.fail(422, "Invalid request", f"unexpected fields {sorted(extra)}")
        prompt = body["input"].get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self.fail(422, "Input validation failed", "- input: prompt is required",
                             invalid_fields=[{"type": "required", "field": "input", "description": "prompt is required"}])
        pid = f"pred{next(self.state.ids)}"
        p = {"id": pid, "model": model, "version": "v1", "input": body["input"], "logs": "", "output": None,
             "error": None, "status": "starting", "created_at": iso(time.time()), "metrics": {},
             "_stream": body.get("stream") is True or model in LLMS, "_polls": 0}
        self.state.predictions[pid] = p
        if self.state.sync and self.request.headers.get("Prefer") == "wait":
            self.finish_prediction(p)
        self.set_status(201)
        self.finish(self.view(p))


class GetHandler(_Base):
    def get(self, pid: str) -> None:
        if self.record("get") is None:
            return
        p = self.state.predictions.get(pid)
        if p is None:
            return self.fail(404, "Not found", "The requested resource could not be found.")
        p["_polls"] += 1
        if p["status"] in ("starting", "processing"):
            if p["_polls"] <= self.state.processing_polls:
                p["status"] = "processing"
                if p["model"] in LLMS and p["model"] != "owner/failing":
                    p["output"] = TOKENS[:2]
            else:
                self.finish_prediction(p)
        self.finish(self.view(p))


class StreamHandler(_Base):
    async def get(self, pid: str) -> None:
        if self.record("stream") is None:
            return
        p = self.state.predictions.get(pid)
        if p is None or self.request.headers.get("Accept") != "text/event-stream":
            return self.fail(404, "Not found", "The requested resource could not be found.")
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        if p["model"] == "owner/failing":
            self.write('event: error\ndata: {"detail": "CUDA out of memory"}\n\n')
            self.write('event: done\ndata: {"reason": "error"}\n\n')
            return
        for i, token in enumerate(TOKENS):
            data = "\n".join("data: " + line for line in token.split("\n"))
            self.write(f"event: output\nid: {pid}:{i}\n{data}\n\n")
            await self.flush()
        self.write(f"event: done\nid: {pid}:{len(TOKENS)}\ndata: {{}}\n\n")
        self.finish_prediction(p)


def make_replicate_app(state: FakeReplicateState) -> tornado.web.Application:
    kw = {"state": state}
    return tornado.web.Application([
        (r"/v1/models/([^/]+)/([^/]+)/predictions", CreateHandler, kw),
        (r"/v1/predictions/([^/]+)", GetHandler, kw),
        (r"/stream/([^/]+)", StreamHandler, kw),
    ])


@pytest.fixture
async def replicate() -> AsyncIterator[tuple[FakeReplicateState, str]]:
    state = FakeReplicateState()
    async with serving(make_replicate_app(state)) as url:
        yield state, url


async def drive(ad: ReplicateAdaptor, req: RelayRequest, up: UpstreamRequest) -> tuple[Any, list[float]]:
    """Run the create → poll steps as the relay does (without sleeping): the final ParsedResponse
    and the delays asked for."""
    delays = []
    while True:
        resp = await send(up)
        assert 200 <= resp.code < 300, resp.body
        parsed = ad.parse_response(req, resp.code, resp.body)
        if parsed.follow is None or req.stream:
            return parsed, delays
        delays.append(parsed.follow_delay)
        up = parsed.follow


async def test_fake_speaks_the_documented_format(replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    body = json.dumps({"input": {"prompt": "hi"}}).encode()
    create = url + "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    resp = await send(UpstreamRequest("POST", create, {}, body))
    assert resp.code == 401 and json.loads(resp.body)["title"] == "Unauthenticated"
    auth = {"Authorization": "Bearer r8_x"}
    resp = await send(UpstreamRequest("POST", create, auth, body))
    assert resp.code == 201
    p = json.loads(resp.body)
    assert p["status"] == "starting" and p["urls"]["get"] == f"{url}/v1/predictions/{p['id']}"
    assert p["urls"]["stream"] == f"{url}/stream/{p['id']}"
    resp = await send(UpstreamRequest("GET", p["urls"]["get"], auth, None))
    assert json.loads(resp.body)["status"] == "processing"
    resp = await send(UpstreamRequest("GET", p["urls"]["get"], auth, None))
    done = json.loads(resp.body)
    assert done["status"] == "succeeded" and done["output"] == TOKENS
    assert done["metrics"]["output_token_count"] == OUT_TOKENS
    resp = await send(UpstreamRequest("GET", p["urls"]["stream"], {**auth, "Accept": "text/event-stream"}, None))
    assert resp.headers["Content-Type"] == "text/event-stream" and b"data: !\ndata: Second" in resp.body
    resp = await send(UpstreamRequest("POST", create, auth, json.dumps({"input": {}}).encode()))
    assert resp.code == 422 and json.loads(resp.body)["invalid_fields"][0]["description"] == "prompt is required"


async def test_adaptor_against_the_fake_chat_poll_and_stream(replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    state.processing_polls = 2
    ad = ReplicateAdaptor()
    req = make_req()
    parsed, delays = await drive(ad, req, ad.build_request(req, target(key="r8_ok", base_url=url)))
    assert delays == [0.5, 0.5, 0.5]  # created just now: the shortest delay
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == REPLY
    assert parsed.usage == Usage(IN_TOKENS, OUT_TOKENS)
    assert state.keys("get") == ["r8_ok"] * 3
    # stream: create, then the stream URL through the transcoder
    req = make_req(stream=True)
    parsed, _ = await drive(ad, req, ad.build_request(req, target(key="r8_ok", base_url=url)))
    assert parsed.follow is not None
    ts = ad.new_stream(req)
    frames: list[bytes] = []
    resp = await send(parsed.follow, lambda b: frames.extend(ts.feed(b)))
    frames.extend(ts.finish())
    assert resp.code == 200 and ts.completion_text == REPLY and ts.done
    chunks, dones = decode_frames(b"".join(frames))
    assert dones == 1 and chunks[0]["id"] == "chatcmpl-" + state.of("stream")[-1]["path"].rsplit("/", 1)[1]
    assert state.of("stream")[-1]["key"] == "r8_ok"


async def test_adaptor_against_the_fake_images(replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    ad = ReplicateAdaptor()
    req = make_req({"model": "flux", "prompt": "a red fox", "n": 3, "size": "1792x1024"}, model=FLUX,
                   requested="flux", mode=IMAGES)
    parsed, delays = await drive(ad, req, ad.build_request(req, target(key="r8_ok", base_url=url)))
    (created,) = state.of("create")
    assert created["json"] == {"input": {"prompt": "a red fox", "num_outputs": 3, "aspect_ratio": "16:9",
                                         "output_format": "png"}}
    assert created["headers"]["Prefer"] == "wait" and len(delays) == 2
    out = json.loads(parsed.body)
    pid = list(state.predictions)[0]
    assert out["data"] == [{"url": f"{url}/files/{pid}-{i}.png"} for i in range(3)]
    # Prefer: wait answered at once: no poll at all; flux-pro answers one URL
    state.sync = True
    req = make_req({"model": "flux", "prompt": "a red fox"}, model="black-forest-labs/flux-pro", requested="flux",
                   mode=IMAGES)
    parsed, delays = await drive(ad, req, ad.build_request(req, target(key="r8_ok", base_url=url)))
    assert delays == [] and len(json.loads(parsed.body)["data"]) == 1


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, url: str, key: str = "r8_ok", **kw: Any) -> str:
    kw.setdefault("models", f"{LLAMA},owner/failing,{FLUX}")
    return await channel_token(gw, type=46, key=key, base_url=url, **kw)


@pytest.mark.settings(relay_timeout=30)
async def test_e2e_chat_plain_polls_until_succeeded(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    state.processing_polls = 2
    key = await _setup(gw, url)
    resp = await gw.client(key).chat.completions.create(
        model=LLAMA, max_tokens=100, temperature=0.3,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == LLAMA and resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (IN_TOKENS, OUT_TOKENS)
    (create,) = state.of("create")
    assert create["path"] == "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    assert create["headers"]["Prefer"] == "wait" and create["key"] == "r8_ok"
    assert create["json"] == {"input": {"prompt": "hi", "system_prompt": "Be brief.", "max_tokens": 100,
                                        "max_new_tokens": 100, "temperature": 0.3}}
    assert len(state.of("get")) == 3 and state.keys("get") == ["r8_ok"] * 3
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and not logs[0]["is_stream"]
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (IN_TOKENS, OUT_TOKENS)


async def test_e2e_chat_answered_by_prefer_wait(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    state.sync = True
    key = await _setup(gw, url)
    resp = await gw.client(key).chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == REPLY and state.of("get") == []


async def test_e2e_polling_with_the_default_relay_timeout(gw: Gateway,
                                                          replicate: tuple[FakeReplicateState, str]) -> None:
    _, url = replicate
    key = await _setup(gw, url)
    resp = await gw.client(key).chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == REPLY


async def test_e2e_stream_with_usage(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    key = await _setup(gw, url)
    stream = await gw.client(key).chat.completions.create(
        model=LLAMA, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == REPLY and seen.finish == "stop" and seen.roles == ["assistant"] and seen.models == {LLAMA}
    assert seen.usage is not None
    expected = Usage(count_tokens(["hi"], LLAMA), count_tokens([REPLY], LLAMA))
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (expected.prompt_tokens,
                                                                         expected.completion_tokens)
    (create,) = state.of("create")
    assert create["json"] == {"input": {"prompt": "hi"}, "stream": True} and "Prefer" not in create["headers"]
    assert len(state.of("stream")) == 1 and state.of("get") == []
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["is_stream"] and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (expected.prompt_tokens,
                                                                        expected.completion_tokens)
    # without a usage chunk the relay counts what streamed
    stream = await gw.client(key).chat.completions.create(
        model=LLAMA, messages=[{"role": "user", "content": "hi"}], stream=True)
    seen = await read_stream(stream)
    assert seen.text == REPLY and seen.usage is None
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["completion_tokens"] == expected.completion_tokens for log in logs)


async def test_e2e_errors_in_openai_shape(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    key = await _setup(gw, url, key="bad-key", models=LLAMA)
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "x"}])
    assert "valid authentication token" in e.value.message and "request id" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "authentication_error"

    key = await _setup(gw, url, models="meta/meta-llama-3-70b-instruct,owner/failing")
    # an empty prompt: Replicate's 422, relayed with its status, not retried
    with pytest.raises(openai.UnprocessableEntityError) as e2:
        await gw.client(key).chat.completions.create(model="meta/meta-llama-3-70b-instruct",
                                                     messages=[{"role": "user", "content": ""}])
    assert "prompt is required" in e2.value.message
    assert isinstance(e2.value.body, dict) and e2.value.body["type"] == "invalid_request_error"
    # a failed prediction, streamed: its error event comes before any text, so the client gets an
    # HTTP error (another channel could have served it) and nothing is billed
    with pytest.raises(openai.APIStatusError) as e3:
        await gw.client(key).chat.completions.create(
            model="owner/failing", messages=[{"role": "user", "content": "x"}], stream=True)
    assert "CUDA out of memory" in e3.value.message and e3.value.status_code == 502
    assert [log for log in await gw.logs() if log["model_name"] == "owner/failing"] == []


@pytest.mark.settings(relay_timeout=30)
async def test_e2e_failed_prediction_when_polled(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    _, url = replicate
    key = await _setup(gw, url)
    with pytest.raises(openai.InternalServerError) as e:
        await gw.client(key).chat.completions.create(model="owner/failing", messages=[{"role": "user", "content": "x"}])
    assert "failed: CUDA out of memory" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["code"] == "prediction_failed"
    assert await gw.logs() == []


async def test_e2e_retry_on_429_and_5xx_to_another_channel(gw: Gateway,
                                                            replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    state.sync = True
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(type=46, key="r8_fail-429", base_url=url, models=LLAMA, priority=20)
    await gw.channel(type=46, key="r8_fail-500", base_url=url, models=LLAMA, priority=10)
    key = await _setup(gw, url, key="r8_ok", priority=0)
    stream = await gw.client(key).chat.completions.create(
        model=LLAMA, messages=[{"role": "user", "content": "hi"}], stream=True)
    text = "".join([ch.delta.content or "" async for chunk in stream for ch in chunk.choices])
    assert text == REPLY
    assert state.keys() == ["r8_fail-429", "r8_fail-500", "r8_ok"]
    resp = await gw.client(key).chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == REPLY
    assert state.keys()[3:] == ["r8_fail-429", "r8_fail-500", "r8_ok"]
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)


@pytest.mark.settings(relay_timeout=30)
async def test_e2e_image_generation(gw: Gateway, replicate: tuple[FakeReplicateState, str]) -> None:
    state, url = replicate
    key = await _setup(gw, url)
    resp = await gw.client(key).images.generate(model=FLUX, prompt="a red fox", n=2, size="1024x1792")
    pid = list(state.predictions)[0]
    assert [d.url for d in resp.data or []] == [f"{url}/files/{pid}-{i}.png" for i in range(2)]
    (create,) = state.of("create")
    assert create["json"] == {"input": {"prompt": "a red fox", "num_outputs": 2, "aspect_ratio": "9:16",
                                        "output_format": "png"}}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0
