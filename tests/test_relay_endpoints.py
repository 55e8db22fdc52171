"""Every OpenAI endpoint beyond chat, driven through a real OneRelay to the fake upstream with the
official SDK (raw HTTP where the SDK has no method): images (generations, edits, variations),
audio (speech, transcriptions, translations), moderations, edits, rerank, the engines path,
DELETE /v1/models, CORS and gzip request bodies. Each test checks what the client got, what the
upstream received, the quota billed (exact, per One API's formulas) and the consume log.

One gateway serves the whole module; each test gets its own token (logs are filtered by its
name) and its channels are deleted afterwards, so tests stay independent.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import json
import math
import os
from typing import Any, AsyncIterator

import openai
import pytest
import tornado.httpclient

from tests.conftest import Gateway, running_gateway
from tests.fakeupstream import (
    EDIT_USAGE, IMAGE_B64, IMAGE_URL, RERANK_TOKENS, SPEECH_AUDIO, SPEECH_CHUNKS, SRT, TRANSCRIPT,
    TRANSCRIPT_DURATION, TRANSCRIPT_USAGE_SECONDS, TRANSCRIPT_USAGE_TOKENS, VTT,
)

MB = 1024 * 1024
QUOTA = 10**8  # each test's token starts with this much
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
MASK = b"\x89PNG\r\n\x1a\nmask" + bytes(range(255, -1, -1)) * 4
AUDIO = b"ID3\x03\x00" + os.urandom(50_000)
_names = itertools.count(1)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None,
              boundary: str = "testboundary7MA4YWxkTrZu0gW") -> tuple[bytes, str]:
    out = bytearray()
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, (fn, data, ct) in (files or {}).items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{fn}"\r\n'
                f"Content-Type: {ct}\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class Env:
    """One test's view of the shared gateway: its token, its channels, its logs."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.channels: list[int] = []
        self.token_name = ""
        self.key = ""
        self.options: dict[str, str] = {}

    @property
    def up(self) -> Any:
        return self.gw.upstream.state

    async def channel(self, **fields: Any) -> int:
        cid = await self.gw.channel(**fields)
        self.channels.append(cid)
        return cid

    async def token(self, **fields: Any) -> str:
        self.token_name = f"ep{next(_names)}"
        fields.setdefault("unlimited_quota", False)
        fields.setdefault("remain_quota", QUOTA)
        self.key = await self.gw.token(name=self.token_name, **fields)
        return self.key

    async def option(self, key: str, value: str) -> None:
        """Set an option for this test only (restored afterwards)."""
        if key not in self.options:
            opts = {o["key"]: o["value"] for o in await self.gw.ok("GET", "/api/option/")}
            self.options[key] = opts[key]
        await self.gw.ok("PUT", "/api/option/", {"key": key, "value": value})

    def client(self) -> openai.AsyncOpenAI:
        return self.gw.client(self.key)

    async def logs(self) -> list[dict[str, Any]]:
        await self.gw.ctx.ledger.flush()
        return [entry for entry in await self.gw.logs(token_name=self.token_name) if entry["type"] == 2]

    async def used(self) -> int:
        """Quota charged to this test's token so far (checked against its remaining quota too)."""
        await self.gw.ctx.ledger.flush()
        doc = await self.gw.ctx.db.tokens.find_one({"key": self.key[3:]})
        assert doc is not None
        remain = self.gw.ctx.ledger.view("t", doc["_id"], doc)
        assert remain + doc["used_quota"] == QUOTA, (remain, doc["used_quota"])
        return int(doc["used_quota"])

    async def raw(self, method: str, path: str, body: bytes | str | None = None, *,
                  headers: dict[str, str] | None = None, auth: bool = True) -> tornado.httpclient.HTTPResponse:
        h = dict(headers or {})
        if auth:
            h.setdefault("Authorization", "Bearer " + self.key)
        return await self.gw.http.fetch(self.gw.url + path, method=method, body=body, headers=h, raise_error=False,
                                        allow_nonstandard_methods=True, request_timeout=60)

    async def post_json(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        resp = await self.raw("POST", path, json.dumps(body), headers={"Content-Type": "application/json"}, **kw)
        return resp.code, json.loads(resp.body) if resp.body else None


@pytest.fixture(scope="module")
async def mgw(mongo: Any, upstream: Any, tmp_root: str, request: Any) -> AsyncIterator[Gateway]:
    async with running_gateway(mongo, upstream, tmp_root, request) as gateway:
        yield gateway


@pytest.fixture
async def env(mgw: Gateway) -> AsyncIterator[Env]:
    mgw.upstream.state.reset()
    e = Env(mgw)
    try:
        yield e
    finally:
        for cid in e.channels:
            await mgw.ok("DELETE", f"/api/channel/{cid}")
        for k, v in e.options.items():
            await mgw.ok("PUT", "/api/option/", {"key": k, "value": v})


def assert_openai_error(body: Any, status_type: str | None = None, code: str | None = None) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err["message"], str) and "request id" in err["message"]
    assert {"type", "param", "code"} <= set(err)
    if status_type is not None:
        assert err["type"] == status_type, err
    if code is not None:
        assert err["code"] == code, err


async def assert_nothing_billed(env: Env) -> None:
    assert env.up.requests == []
    assert await env.used() == 0
    assert await env.logs() == []


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("kw, quota, note", [
    # int(model ratio × group ratio × size ratio × 1000) × n
    ({"model": "dall-e-2", "n": 2, "size": "256x256"}, 8 * 1000 * 2, "2 image(s), size 256x256"),
    ({"model": "dall-e-2", "size": "512x512"}, 9000, "1 image(s), size 512x512"),
    ({}, 10000, "1 image(s), size default"),  # no model: dall-e-2, 1024x1024 (×1.25)
    ({"model": "dall-e-3", "size": "1024x1024", "quality": "hd"}, 40000, "quality hd"),  # hd ×2 at 1024²
    ({"model": "dall-e-3", "size": "1024x1792", "quality": "hd"}, 60000, "size 1024x1792, quality hd"),  # 2 × 1.5
    ({"model": "dall-e-3", "size": "1792x1024", "quality": "standard", "response_format": "b64_json"}, 40000,
     "quality standard"),
])
async def test_image_generation_billed_by_size_and_quality(env: Env, kw: dict[str, Any], quota: int,
                                                          note: str) -> None:
    await env.channel(models="dall-e-2,dall-e-3")
    await env.token()
    resp = await env.client().images.generate(prompt="a watercolor cat", **kw)
    n = kw.get("n", 1)
    assert resp.created > 0 and len(resp.data) == n
    if kw.get("response_format") == "b64_json":
        assert resp.data[0].b64_json == IMAGE_B64 and resp.data[0].url is None
    else:
        assert [d.url for d in resp.data] == [IMAGE_URL.format(i=i) for i in range(n)]
    if kw.get("model") == "dall-e-3":
        assert resp.data[0].revised_prompt == "revised: a watercolor cat"
    rec = env.up.requests[-1]
    assert rec.path == "/v1/images/generations" and rec.key == "sk-ok"
    assert rec.json == {"prompt": "a watercolor cat", **kw}  # the client's request, as sent
    assert await env.used() == quota
    [log] = await env.logs()
    model = kw.get("model", "dall-e-2")
    assert log["model_name"] == model and log["quota"] == quota
    assert log["prompt_tokens"] == 0 and log["completion_tokens"] == 0 and log["is_stream"] is False
    assert note in log["content"] and f"model ratio {8 if model == 'dall-e-2' else 20}" in log["content"]


async def test_image_generation_group_ratio(env: Env) -> None:
    await env.option("GroupRatio", json.dumps({"default": 1.5, "vip": 1, "svip": 1}))
    await env.channel(models="dall-e-2")
    await env.token()
    resp = await env.client().images.generate(model="dall-e-2", prompt="x", n=3, size="512x512")
    assert len(resp.data) == 3
    expected = int(8 * 1.5 * 1.125 * 1000) * 3  # 40500
    assert await env.used() == expected
    [log] = await env.logs()
    assert log["quota"] == expected and "group ratio 1.5" in log["content"]


async def test_image_generation_upstream_failure_refunds(env: Env) -> None:
    await env.channel(models="dall-e-3", key="fail-500")
    await env.token()
    with pytest.raises(openai.InternalServerError) as e:
        await env.client().images.generate(model="dall-e-3", prompt="x", quality="hd", size="1024x1792")
    assert e.value.status_code == 500
    body = e.value.body
    assert isinstance(body, dict) and body["type"] == "server_error"
    assert body["message"].startswith("The server had an error") and "request id" in body["message"]
    assert e.value.response.headers["content-type"].startswith("application/json")
    assert len(env.up.requests) == 1  # it was tried...
    assert await env.used() == 0  # ...and the 60000 reserved up front came back
    assert await env.logs() == []


async def test_image_generation_reservation_needs_the_full_price(env: Env) -> None:
    """The exact price is reserved up front: a token short of it is refused before the upstream."""
    await env.channel(models="dall-e-3")
    key = await env.gw.token(name="ep-short", unlimited_quota=False, remain_quota=39999)
    with pytest.raises(openai.PermissionDeniedError) as e:
        await env.gw.client(key).images.generate(model="dall-e-3", prompt="x", quality="hd")
    assert e.value.code == "pre_consume_token_quota_failed"
    assert env.up.requests == []


@pytest.mark.parametrize("body, code", [
    ({"model": "dall-e-3", "prompt": "x", "size": "256x256"}, "invalid_size"),
    ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, "invalid_size"),
    ({"model": "dall-e-2", "prompt": "x", "size": "1792x1024"}, "invalid_size"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "n": 11}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "n": 0}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "n": -1}, "invalid_request"),
    ({"model": "dall-e-2"}, "invalid_prompt"),
    ({"model": "dall-e-2", "prompt": ""}, "invalid_prompt"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "invalid_prompt"),
    ({"model": "dall-e-3", "prompt": "x" * 4001}, "invalid_prompt"),
    ({"model": "dall-e-2", "prompt": 123}, "invalid_prompt"),
    ({"model": "dall-e-2", "prompt": "x", "n": "two"}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "n": "2"}, "invalid_request"),  # a JSON string is not an integer
    ({"model": "dall-e-2", "prompt": "x", "n": 1.5}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "n": True}, "invalid_request"),
    ({"model": "dall-e-2", "prompt": "x", "size": 1024}, "invalid_size"),
    ({"model": 7, "prompt": "x"}, "model_required"),
])
async def test_image_generation_validation(env: Env, body: dict[str, Any], code: str) -> None:
    await env.channel(models="dall-e-2,dall-e-3")
    await env.token()
    status, data = await env.post_json("/v1/images/generations", body)
    assert status == 400, data
    assert_openai_error(data, "invalid_request_error", code)
    await assert_nothing_billed(env)


async def test_image_generation_not_json(env: Env) -> None:
    await env.channel(models="dall-e-2")
    await env.token()
    for raw in (b"", b"{nope", b"[1, 2]"):
        resp = await env.raw("POST", "/v1/images/generations", raw, headers={"Content-Type": "application/json"})
        assert resp.code == 400
        assert_openai_error(json.loads(resp.body), "invalid_request_error", "invalid_json")
    await assert_nothing_billed(env)


async def test_image_edit_multipart_relayed_intact(env: Env) -> None:
    await env.channel(models="dall-e-2")
    await env.token()
    resp = await env.client().images.edit(image=("cat.png", PNG, "image/png"), mask=("mask.png", MASK, "image/png"),
                                          prompt="add a red hat", n=2, size="512x512", model="dall-e-2")
    assert [d.url for d in resp.data] == [IMAGE_URL.format(i=0), IMAGE_URL.format(i=1)]
    rec = env.up.requests[-1]
    assert rec.path == "/v1/images/edits" and rec.content_type.startswith("multipart/form-data; boundary=")
    assert rec.form == {"prompt": "add a red hat", "n": "2", "size": "512x512", "model": "dall-e-2"}
    assert rec.files is not None and set(rec.files) == {"image", "mask"}
    [img], [mask] = rec.files["image"], rec.files["mask"]
    assert (img.filename, img.content_type, img.size, img.sha256) == ("cat.png", "image/png", len(PNG), sha(PNG))
    assert (mask.filename, mask.size, mask.sha256) == ("mask.png", len(MASK), sha(MASK))
    expected = int(8 * 1.125 * 1000) * 2
    assert await env.used() == expected
    [log] = await env.logs()
    assert log["model_name"] == "dall-e-2" and log["quota"] == expected and "2 image(s), size 512x512" in log["content"]


async def test_image_edit_mapped_model_rewritten_in_form(env: Env) -> None:
    await env.channel(models="dall-e-2", model_mapping=json.dumps({"dall-e-2": "dall-e-2-mirror"}))
    await env.token()
    resp = await env.client().images.edit(image=("cat.png", PNG, "image/png"), prompt="hat", model="dall-e-2",
                                          size="256x256")
    assert len(resp.data) == 1
    rec = env.up.requests[-1]
    assert rec.form == {"prompt": "hat", "model": "dall-e-2-mirror", "size": "256x256"}
    [img] = rec.files["image"]  # type: ignore[index]
    assert (img.filename, img.content_type, img.sha256) == ("cat.png", "image/png", sha(PNG))
    assert rec.content_type.startswith("multipart/form-data; boundary=onerelay")  # rebuilt
    assert await env.used() == 8000  # billed as the model the client asked for
    [log] = await env.logs()
    assert log["model_name"] == "dall-e-2"


async def test_image_variation(env: Env) -> None:
    await env.channel(models="dall-e-2")
    await env.token()
    resp = await env.client().images.create_variation(image=("v.png", PNG, "image/png"), n=3, size="256x256",
                                                      response_format="b64_json")
    assert [d.b64_json for d in resp.data] == [IMAGE_B64] * 3
    rec = env.up.requests[-1]
    assert rec.path == "/v1/images/variations"
    assert rec.form == {"n": "3", "size": "256x256", "response_format": "b64_json"}  # no model: dall-e-2
    assert rec.files["image"][0].sha256 == sha(PNG)  # type: ignore[index]
    assert await env.used() == 3 * 8000
    [log] = await env.logs()
    assert log["model_name"] == "dall-e-2" and log["quota"] == 24000


@pytest.mark.parametrize("path, fields, files, ctype, code", [
    ("/v1/images/edits", {"prompt": "x"}, {}, None, "invalid_image"),
    ("/v1/images/edits", {"prompt": "x", "image": "not a file"}, {}, None, "invalid_image"),
    ("/v1/images/edits", {}, {"image": ("a.png", PNG, "image/png")}, None, "invalid_prompt"),
    ("/v1/images/edits", {"prompt": "x", "n": "11"}, {"image": ("a.png", PNG, "image/png")}, None, "invalid_request"),
    ("/v1/images/edits", {"prompt": "x", "n": "many"}, {"image": ("a.png", PNG, "image/png")}, None,
     "invalid_request"),
    ("/v1/images/variations", {"size": "640x480"}, {"image": ("a.png", PNG, "image/png")}, None, "invalid_size"),
    ("/v1/images/variations", {}, {}, None, "invalid_image"),
    ("/v1/images/variations", {}, {}, "application/json", "invalid_content_type"),
])
async def test_image_upload_validation(env: Env, path: str, fields: dict[str, str], files: dict[str, Any],
                                       ctype: str | None, code: str) -> None:
    await env.channel(models="dall-e-2")
    await env.token()
    if ctype == "application/json":
        body, ct = json.dumps({"image": "x"}).encode(), ctype
    else:
        body, ct = multipart(fields, files)
    resp = await env.raw("POST", path, body, headers={"Content-Type": ct})
    assert resp.code == 400, resp.body
    assert_openai_error(json.loads(resp.body), "invalid_request_error", code)
    await assert_nothing_billed(env)


# ----------------------------------------------------------------------------- speech


async def test_speech_streams_audio_and_bills_characters(env: Env) -> None:
    await env.channel(models="tts-1,tts-1-hd")
    await env.token()
    text = "Today is a wonderful day to build something people love!"
    got = bytearray()
    async with env.client().audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=text) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "audio/mpeg"
        assert "content-length" not in resp.headers  # relayed as it came, not buffered
        assert resp.headers["transfer-encoding"] == "chunked"
        async for chunk in resp.iter_bytes():
            got += chunk
    assert bytes(got) == SPEECH_AUDIO
    assert env.up.chunks_sent == len(SPEECH_CHUNKS)
    rec = env.up.requests[-1]
    assert rec.path == "/v1/audio/speech" and rec.json == {"model": "tts-1", "voice": "alloy", "input": text}
    expected = math.ceil(len(text) * 7.5)
    assert await env.used() == expected
    [log] = await env.logs()
    assert log["model_name"] == "tts-1" and log["quota"] == expected
    assert f"{len(text)} characters" in log["content"] and "model ratio 7.5" in log["content"]
    assert "ended early" not in log["content"]


async def test_speech_default_model_and_format(env: Env) -> None:
    await env.channel(models="tts-1")
    await env.token()
    resp = await env.raw("POST", "/v1/audio/speech", json.dumps({"input": "hey", "voice": "nova",
                                                                 "response_format": "opus"}))
    assert resp.code == 200 and resp.body == SPEECH_AUDIO
    assert resp.headers["Content-Type"] == "audio/opus"
    [log] = await env.logs()
    assert log["model_name"] == "tts-1" and log["quota"] == math.ceil(3 * 7.5)


async def test_speech_hd_non_streaming_sdk_call(env: Env) -> None:
    await env.channel(models="tts-1-hd")
    await env.token()
    resp = await env.client().audio.speech.create(model="tts-1-hd", voice="echo", input="abc")
    assert resp.content == SPEECH_AUDIO
    assert await env.used() == 45  # 3 × 15


@pytest.mark.parametrize("body, code", [
    ({"model": "tts-1", "voice": "alloy"}, "invalid_input"),
    ({"model": "tts-1", "voice": "alloy", "input": ""}, "invalid_input"),
    ({"model": "tts-1", "voice": "alloy", "input": ["a"]}, "invalid_input"),
    ({"model": "tts-1", "voice": "alloy", "input": "x" * 4097}, "invalid_input"),
    ({"model": "tts-1", "input": "hello"}, "invalid_voice"),
    ({"model": "tts-1", "input": "hello", "voice": 3}, "invalid_voice"),
])
async def test_speech_validation(env: Env, body: dict[str, Any], code: str) -> None:
    await env.channel(models="tts-1")
    await env.token()
    status, data = await env.post_json("/v1/audio/speech", body)
    assert status == 400
    assert_openai_error(data, "invalid_request_error", code)
    await assert_nothing_billed(env)


async def test_speech_upstream_failure_refunds(env: Env) -> None:
    await env.channel(models="tts-1", key="fail-429")
    await env.token()
    with pytest.raises(openai.RateLimitError) as e:
        await env.client().audio.speech.create(model="tts-1", voice="alloy", input="hello there")
    assert e.value.code == "rate_limit_exceeded"
    assert e.value.response.headers["content-type"].startswith("application/json")
    assert len(env.up.requests) == 1
    assert await env.used() == 0
    assert await env.logs() == []


# ----------------------------------------------------------------------------- transcriptions


def transcript_tokens(env: Env, text: str) -> int:
    return env.gw.ctx.counter.count_text(text, "whisper-1")


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
async def test_transcription_every_response_format(env: Env, fmt: str) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    raw = await env.client().audio.transcriptions.with_raw_response.create(
        file=("speech.mp3", AUDIO, "audio/mpeg"), model="whisper-1", response_format=fmt, language="en")
    ctype = raw.headers["content-type"]
    result = raw.parse()
    if fmt == "json":
        assert ctype == "application/json" and result.text == TRANSCRIPT
    elif fmt == "verbose_json":
        assert ctype == "application/json"
        assert result.text == TRANSCRIPT and result.duration == TRANSCRIPT_DURATION
        assert result.language == "english" and result.segments[0].end == TRANSCRIPT_DURATION
    else:
        assert ctype == "text/plain; charset=utf-8"
        assert result == {"text": TRANSCRIPT + "\n", "srt": SRT, "vtt": VTT}[fmt]
    rec = env.up.requests[-1]
    assert rec.path == "/v1/audio/transcriptions" and rec.content_type.startswith("multipart/form-data")
    assert rec.form == {"model": "whisper-1", "response_format": fmt, "language": "en"}
    [f] = rec.files["file"]  # type: ignore[index]
    assert (f.filename, f.content_type, f.size, f.sha256) == ("speech.mp3", "audio/mpeg", len(AUDIO), sha(AUDIO))
    [log] = await env.logs()
    if fmt == "verbose_json":  # billed by duration: ceil(9.5 s × 10/3) = 32 tokens × 15
        assert (log["prompt_tokens"], log["completion_tokens"], log["quota"]) == (32, 0, 480)
        assert "9.5 s of audio" in log["content"]
    else:  # the transcript's tokens × 15
        body = {"json": TRANSCRIPT, "text": TRANSCRIPT + "\n", "srt": SRT, "vtt": VTT}[fmt]
        tokens = transcript_tokens(env, body)
        assert tokens > 0
        assert (log["prompt_tokens"], log["completion_tokens"]) == (0, tokens)
        assert log["quota"] == math.ceil(tokens * 15) and "transcript tokens" in log["content"]
    assert log["model_name"] == "whisper-1"
    assert await env.used() == log["quota"]


@pytest.mark.parametrize("key, tokens, quota", [
    ("sk-usage-duration", (40, 0), 600),  # usage {type: duration, seconds: 12} → 40 tokens × 15
    ("sk-usage-tokens", (40, 11), 765),  # token usage: (40 + 11 × 1) × 15
])
async def test_transcription_billed_by_usage(env: Env, key: str, tokens: tuple[int, int], quota: int) -> None:
    await env.channel(models="whisper-1", key=key)
    await env.token()
    tr = await env.client().audio.transcriptions.create(file=("a.wav", AUDIO, "audio/wav"), model="whisper-1")
    assert tr.text == TRANSCRIPT
    if key == "sk-usage-duration":
        assert tr.usage.seconds == TRANSCRIPT_USAGE_SECONDS  # type: ignore[union-attr]
    else:
        assert tr.usage.input_tokens == TRANSCRIPT_USAGE_TOKENS["input_tokens"]  # type: ignore[union-attr]
    [log] = await env.logs()
    assert (log["prompt_tokens"], log["completion_tokens"], log["quota"]) == (*tokens, quota)
    assert await env.used() == quota


async def test_verbose_json_without_duration_counts_the_text(env: Env) -> None:
    await env.channel(models="whisper-1", key="sk-noduration")
    await env.token()
    tr = await env.client().audio.transcriptions.create(file=("a.wav", AUDIO, "audio/wav"), model="whisper-1",
                                                        response_format="verbose_json")
    assert tr.text == TRANSCRIPT
    tokens = transcript_tokens(env, TRANSCRIPT)
    [log] = await env.logs()
    assert (log["completion_tokens"], log["quota"]) == (tokens, tokens * 15)


@pytest.mark.parametrize("fmt", ["verbose_json", "text"])
async def test_translation(env: Env, fmt: str) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    raw = await env.client().audio.translations.with_raw_response.create(
        file=("de.m4a", AUDIO, "audio/mp4"), model="whisper-1", response_format=fmt, prompt="Guten Tag")
    result = raw.parse()
    rec = env.up.requests[-1]
    assert rec.path == "/v1/audio/translations"
    assert rec.form == {"model": "whisper-1", "response_format": fmt, "prompt": "Guten Tag"}
    assert rec.files["file"][0].sha256 == sha(AUDIO)  # type: ignore[index]
    [log] = await env.logs()
    if fmt == "verbose_json":
        assert raw.headers["content-type"] == "application/json"
        assert result.text == TRANSCRIPT and log["quota"] == 480
    else:
        assert raw.headers["content-type"] == "text/plain; charset=utf-8"
        assert result == TRANSCRIPT + "\n"
        assert log["quota"] == transcript_tokens(env, TRANSCRIPT + "\n") * 15
    assert await env.used() == log["quota"]


async def test_transcription_mapped_model_rewritten_in_form(env: Env) -> None:
    await env.channel(models="whisper-1", model_mapping=json.dumps({"whisper-1": "whisper-large-v3"}))
    await env.token()
    tr = await env.client().audio.transcriptions.create(file=("a.flac", AUDIO, "audio/flac"), model="whisper-1",
                                                        response_format="verbose_json", temperature=0.2)
    assert tr.duration == TRANSCRIPT_DURATION
    rec = env.up.requests[-1]
    assert rec.form == {"model": "whisper-large-v3", "response_format": "verbose_json", "temperature": "0.2"}
    [f] = rec.files["file"]  # type: ignore[index]
    assert (f.filename, f.content_type, f.sha256) == ("a.flac", "audio/flac", sha(AUDIO))
    [log] = await env.logs()
    assert log["model_name"] == "whisper-1" and log["quota"] == 480


async def test_transcription_retry_after_mapped_channel_fails(env: Env) -> None:
    await env.option("RetryTimes", "1")
    await env.channel(models="whisper-1", key="fail-500", priority=10,
                      model_mapping=json.dumps({"whisper-1": "whisper-large-v3"}))
    await env.channel(models="whisper-1", priority=0)
    await env.token()
    tr = await env.client().audio.transcriptions.create(file=("a.mp3", AUDIO, "audio/mpeg"), model="whisper-1",
                                                        response_format="verbose_json")
    assert tr.duration == TRANSCRIPT_DURATION
    first, second = env.up.requests
    assert first.key == "fail-500" and first.form["model"] == "whisper-large-v3"  # type: ignore[index]
    assert second.key == "sk-ok" and second.form == {"model": "whisper-1", "response_format": "verbose_json"}
    assert second.files["file"][0].sha256 == sha(AUDIO)  # type: ignore[index]


async def test_transcription_upstream_failure_refunds(env: Env) -> None:
    await env.channel(models="whisper-1", key="fail-500")
    await env.token()
    with pytest.raises(openai.InternalServerError):
        await env.client().audio.transcriptions.create(file=("a.mp3", AUDIO, "audio/mpeg"), model="whisper-1")
    assert len(env.up.requests) == 1
    assert await env.used() == 0 and await env.logs() == []


@pytest.mark.parametrize("path, fields, files, code", [
    ("/v1/audio/transcriptions", {"model": "whisper-1"}, {}, "invalid_file"),
    ("/v1/audio/transcriptions", {"model": "whisper-1", "file": "text, not a file"}, {}, "invalid_file"),
    ("/v1/audio/transcriptions", {"model": "whisper-1", "response_format": "xml"},
     {"file": ("a.mp3", AUDIO, "audio/mpeg")}, "invalid_response_format"),
    ("/v1/audio/translations", {"model": "whisper-1", "response_format": "JSON"},
     {"file": ("a.mp3", AUDIO, "audio/mpeg")}, "invalid_response_format"),
    ("/v1/audio/translations", {"model": "whisper-1"}, {}, "invalid_file"),
])
async def test_transcription_validation(env: Env, path: str, fields: dict[str, str], files: dict[str, Any],
                                        code: str) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    body, ct = multipart(fields, files)
    resp = await env.raw("POST", path, body, headers={"Content-Type": ct})
    assert resp.code == 400, resp.body
    assert_openai_error(json.loads(resp.body), "invalid_request_error", code)
    await assert_nothing_billed(env)


async def test_transcription_json_body_refused(env: Env) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    status, data = await env.post_json("/v1/audio/transcriptions", {"model": "whisper-1", "file": "abc"})
    assert status == 400
    assert_openai_error(data, "invalid_request_error", "invalid_content_type")
    await assert_nothing_billed(env)


async def test_transcription_without_key_is_401_and_not_forwarded(env: Env) -> None:
    await env.channel(models="whisper-1")
    body, ct = multipart({"model": "whisper-1"}, {"file": ("a.mp3", AUDIO, "audio/mpeg")})
    resp = await env.raw("POST", "/v1/audio/transcriptions", body, headers={"Content-Type": ct}, auth=False)
    assert resp.code == 401
    assert_openai_error(json.loads(resp.body), code="invalid_api_key")
    assert env.up.requests == []


async def test_transcription_20mb_upload_relayed_intact(env: Env) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    data = os.urandom(20 * MB)
    tr = await env.client().audio.transcriptions.create(file=("long.wav", data, "audio/wav"), model="whisper-1",
                                                        response_format="verbose_json")
    assert tr.duration == TRANSCRIPT_DURATION
    [rec] = env.up.requests
    [f] = rec.files["file"]  # type: ignore[index]
    assert (f.filename, f.size, f.sha256) == ("long.wav", len(data), sha(data))
    assert rec.body_len > len(data)  # the multipart around it
    assert await env.used() == 480  # the up-front estimate for 20 MB (73050) was settled to the duration's price


async def _raw_exchange(env: Env, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request head (and maybe part of its body) on a raw socket; read the whole answer."""
    host, port = env.gw.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(-1), 10)  # the server closes: the body was never read
    finally:
        writer.close()
    head_b, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_b.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/images/edits", "/v1/audio/translations",
                                  "/v1/images/variations"])
async def test_oversized_upload_is_413_before_reading_it(env: Env, path: str) -> None:
    await env.channel(models="whisper-1,dall-e-2")
    await env.token()
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env.key}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {26 * MB + 1}\r\n\r\n")
    status, headers, rest = await _raw_exchange(env, head, b"--b\r\n")  # the rest never sent
    assert status == 413
    assert headers["access-control-allow-origin"] == "*"
    body = json.loads(rest[:int(headers["content-length"])])
    assert_openai_error(body, "invalid_request_error", "request_too_large")
    assert "25 MB" in body["error"]["message"]
    await assert_nothing_billed(env)


async def test_gzip_upload_over_the_cap_is_413(env: Env) -> None:
    """A small gzip body that decodes past the upload cap is refused like a large one."""
    await env.channel(models="whisper-1")
    await env.token()
    body, ct = multipart({"model": "whisper-1"}, {"file": ("z.wav", bytes(27 * MB), "audio/wav")})
    packed = gzip.compress(body, compresslevel=1)
    assert len(packed) < MB
    resp = await env.raw("POST", "/v1/audio/transcriptions", packed,
                         headers={"Content-Type": ct, "Content-Encoding": "gzip"})
    assert resp.code == 413, resp.body
    assert_openai_error(json.loads(resp.body), "invalid_request_error", "request_too_large")
    await assert_nothing_billed(env)


async def test_gzip_upload_decoded(env: Env) -> None:
    await env.channel(models="whisper-1")
    await env.token()
    body, ct = multipart({"model": "whisper-1", "response_format": "verbose_json"},
                         {"file": ("a.mp3", AUDIO, "audio/mpeg")})
    resp = await env.raw("POST", "/v1/audio/transcriptions", gzip.compress(body),
                         headers={"Content-Type": ct, "Content-Encoding": "gzip"})
    assert resp.code == 200, resp.body
    assert json.loads(resp.body)["duration"] == TRANSCRIPT_DURATION
    [rec] = env.up.requests
    assert rec.body_sha256 == sha(body)  # the decoded bytes went upstream, untouched
    assert "Content-Encoding" not in rec.headers


# ----------------------------------------------------------------------------- moderations, edits, rerank


async def test_moderations_default_model(env: Env) -> None:
    await env.channel(models="text-moderation-stable,text-moderation-latest")
    await env.token()
    text = "I want to give you a big hug"
    resp = await env.client().moderations.create(input=text)
    assert resp.id == "modr-fake" and len(resp.results) == 1 and resp.results[0].flagged is False
    rec = env.up.requests[-1]
    assert rec.path == "/v1/moderations" and rec.json == {"input": text}
    prompt = env.gw.ctx.counter.count_prompt("embeddings", {"input": text}, "text-moderation-stable")
    [log] = await env.logs()
    assert log["model_name"] == "text-moderation-stable"
    assert (log["prompt_tokens"], log["completion_tokens"]) == (prompt, 0)
    assert log["quota"] == max(1, math.ceil(prompt * 0.1))
    assert await env.used() == log["quota"]


async def test_moderations_list_input(env: Env) -> None:
    await env.channel(models="text-moderation-latest")
    await env.token()
    inputs = ["first text to check " * 20, "second one " * 30]
    resp = await env.client().moderations.create(input=inputs, model="text-moderation-latest")
    assert len(resp.results) == 2
    prompt = env.gw.ctx.counter.count_prompt("embeddings", {"input": inputs}, "text-moderation-latest")
    [log] = await env.logs()
    assert log["model_name"] == "text-moderation-latest" and log["prompt_tokens"] == prompt
    assert log["quota"] == math.ceil(prompt * 0.1)


@pytest.mark.parametrize("body", [{}, {"input": ""}, {"input": []}, {"model": "text-moderation-stable"}])
async def test_moderations_validation(env: Env, body: dict[str, Any]) -> None:
    await env.channel(models="text-moderation-stable")
    await env.token()
    status, data = await env.post_json("/v1/moderations", body)
    assert status == 400
    assert_openai_error(data, "invalid_request_error", "invalid_input")
    await assert_nothing_billed(env)


async def test_edits(env: Env) -> None:
    await env.channel(models="text-davinci-edit-001")
    await env.token()
    body = {"model": "text-davinci-edit-001", "input": "What day of the wek is it?",
            "instruction": "Fix the spelling mistakes"}
    status, data = await env.post_json("/v1/edits", body)
    assert status == 200
    assert data["object"] == "edit" and data["choices"][0]["text"] == "What day of the week is it?"
    assert data["usage"] == EDIT_USAGE
    assert env.up.requests[-1].path == "/v1/edits" and env.up.requests[-1].json == body
    [log] = await env.logs()
    # upstream usage; unknown model ratio 30, completion ratio 1
    assert (log["prompt_tokens"], log["completion_tokens"]) == (25, 32)
    assert log["quota"] == (25 + 32) * 30 == await env.used()


@pytest.mark.parametrize("body", [{"model": "text-davinci-edit-001", "input": "x"},
                                  {"model": "text-davinci-edit-001", "instruction": 5}])
async def test_edits_validation(env: Env, body: dict[str, Any]) -> None:
    await env.channel(models="text-davinci-edit-001")
    await env.token()
    status, data = await env.post_json("/v1/edits", body)
    assert status == 400
    assert_openai_error(data, "invalid_request_error", "invalid_instruction")
    await assert_nothing_billed(env)


RERANK_MODEL = "BAAI/bge-reranker-v2-m3"
RERANK_BODY = {"model": RERANK_MODEL, "query": "What is the capital of France?",
               "documents": ["Paris is the capital of France.", "Berlin is in Germany.", "Bananas are yellow."],
               "top_n": 2}


@pytest.mark.parametrize("ch_type, base_suffix", [(50, "/v1"), (44, "")])
async def test_rerank(env: Env, ch_type: int, base_suffix: str) -> None:
    await env.option("ModelRatio", json.dumps({RERANK_MODEL: 0.5}))
    await env.channel(type=ch_type, models=RERANK_MODEL, base_url=env.gw.upstream.url + base_suffix)
    await env.token()
    status, data = await env.post_json("/v1/rerank", {**RERANK_BODY, "return_documents": True})
    assert status == 200, data
    assert [r["index"] for r in data["results"]] == [0, 1]
    assert data["results"][0]["relevance_score"] == 0.9
    assert data["results"][0]["document"] == {"text": "Paris is the capital of France."}
    assert data["usage"] == {"total_tokens": RERANK_TOKENS}
    rec = env.up.requests[-1]
    assert rec.path == "/v1/rerank" and rec.json == {**RERANK_BODY, "return_documents": True}
    [log] = await env.logs()
    # {total_tokens} is all input: 37 prompt tokens × 0.5
    assert (log["prompt_tokens"], log["completion_tokens"]) == (RERANK_TOKENS, 0)
    assert log["quota"] == math.ceil(RERANK_TOKENS * 0.5) == await env.used()


async def test_rerank_refused_by_channel_types_without_it(env: Env) -> None:
    await env.channel(type=1, models=RERANK_MODEL)
    await env.token()
    status, data = await env.post_json("/v1/rerank", RERANK_BODY)
    assert status == 503
    assert_openai_error(data, code="channel_type_unsupported")
    await assert_nothing_billed(env)


@pytest.mark.parametrize("patch, code", [
    ({"query": None}, "invalid_query"),
    ({"query": 3}, "invalid_query"),
    ({"documents": []}, "invalid_documents"),
    ({"documents": "one doc"}, "invalid_documents"),
    ({"top_n": 0}, "invalid_request"),
    ({"top_n": "2"}, "invalid_request"),
])
async def test_rerank_validation(env: Env, patch: dict[str, Any], code: str) -> None:
    await env.channel(type=50, models=RERANK_MODEL, base_url=env.gw.upstream.url + "/v1")
    await env.token()
    body = {k: v for k, v in {**RERANK_BODY, **patch}.items() if v is not None}
    status, data = await env.post_json("/v1/rerank", body)
    assert status == 400, data
    assert_openai_error(data, "invalid_request_error", code)
    await assert_nothing_billed(env)


# ----------------------------------------------------------------------------- engines, models, CORS, gzip


@pytest.mark.parametrize("body", [{"input": "hello"}, {"input": "hello", "model": "text-embedding-ada-002"}])
async def test_engines_path_model_is_used(env: Env, body: dict[str, Any]) -> None:
    await env.channel(models="text-embedding-3-small")  # only the path's model has a channel
    await env.token()
    status, data = await env.post_json("/v1/engines/text-embedding-3-small/embeddings", body)
    assert status == 200, data
    assert data["data"][0]["embedding"] == [0.1, 0.2, 0.3]
    rec = env.up.requests[-1]
    assert rec.path == "/v1/embeddings"
    assert rec.json == {**body, "model": "text-embedding-3-small"}  # the upstream is told the path's model
    [log] = await env.logs()
    assert log["model_name"] == "text-embedding-3-small" and log["prompt_tokens"] == 5
    assert log["quota"] == 1  # ceil(5 × 0.01), at least 1


async def test_delete_model_authenticates_first(env: Env) -> None:
    await env.token()
    resp = await env.raw("DELETE", "/v1/models/ft:gpt-4o:acme", auth=False)
    assert resp.code == 401
    assert_openai_error(json.loads(resp.body), code="invalid_api_key")
    resp = await env.raw("DELETE", "/v1/models/ft:gpt-4o:acme", headers={"Authorization": "Bearer sk-nope"})
    assert resp.code == 401
    with pytest.raises(openai.APIStatusError) as e:
        await env.client().models.delete("ft:gpt-4o:acme")
    assert e.value.status_code == 501 and e.value.code == "api_not_implemented"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/audio/transcriptions", "/v1/images/edits",
                                  "/v1/models/gpt-4o", "/v1/rerank", "/v1/engines/x/embeddings"])
async def test_cors_preflight_without_auth(env: Env, path: str) -> None:
    asked = "authorization, content-type, x-stainless-os, openai-beta"
    resp = await env.raw("OPTIONS", path, auth=False, headers={
        "Origin": "https://chat.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": asked})
    assert resp.code == 204 and resp.body == b""
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Access-Control-Allow-Headers"] == asked
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "DELETE" in resp.headers["Access-Control-Allow-Methods"]
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    plain = await env.raw("OPTIONS", path, auth=False, headers={"Origin": "https://chat.example"})
    assert plain.code == 204 and "Authorization" in plain.headers["Access-Control-Allow-Headers"]


async def test_cors_headers_on_answers(env: Env) -> None:
    await env.channel()
    await env.token()
    ok = await env.raw("POST", "/v1/chat/completions",
                       json.dumps({"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}),
                       headers={"Origin": "https://chat.example"})
    assert ok.code == 200 and ok.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Oneapi-Request-Id" in ok.headers["Access-Control-Expose-Headers"]
    denied = await env.raw("POST", "/v1/chat/completions", "{}", auth=False, headers={"Origin": "https://x.example"})
    assert denied.code == 401 and denied.headers["Access-Control-Allow-Origin"] == "*"
    stream = await env.raw("POST", "/v1/chat/completions", json.dumps(
        {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}], "stream": True}))
    assert stream.code == 200 and stream.headers["Access-Control-Allow-Origin"] == "*"
    listed = await env.raw("GET", "/v1/models")
    assert listed.code == 200 and listed.headers["Access-Control-Allow-Origin"] == "*"


async def test_gzip_request_body_decoded(env: Env) -> None:
    await env.channel()
    await env.token()
    body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi " * 2000}]}
    raw = json.dumps(body).encode()
    resp = await env.raw("POST", "/v1/chat/completions", gzip.compress(raw),
                         headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.code == 200, resp.body
    assert json.loads(resp.body)["choices"][0]["message"]["content"]
    rec = env.up.requests[-1]
    assert rec.json == body and "Content-Encoding" not in rec.headers
    [log] = await env.logs()
    assert log["quota"] == 12


async def test_json_bodies_go_upstream_as_json(env: Env) -> None:
    """curl -d labels a JSON body application/x-www-form-urlencoded: it is still sent as JSON."""
    await env.channel(models="gpt-3.5-turbo,tts-1")
    await env.token()
    chat = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}
    for ctype in ("application/x-www-form-urlencoded", "text/plain"):
        resp = await env.raw("POST", "/v1/chat/completions", json.dumps(chat), headers={"Content-Type": ctype})
        assert resp.code == 200, resp.body
        assert env.up.requests[-1].headers["Content-Type"] == "application/json"
    resp = await env.raw("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "voice": "a", "input": "x"}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.code == 200 and env.up.requests[-1].content_type == "application/json"


async def test_gzip_bad_or_huge_body_refused(env: Env) -> None:
    await env.channel()
    await env.token()
    bad = await env.raw("POST", "/v1/chat/completions", b"\x1f\x8b\x08\x00 not gzip at all",
                        headers={"Content-Encoding": "gzip"})
    assert bad.code == 400
    # 65 MB of JSON whitespace in ~65 KB: over the 64 MB decoded cap
    bomb = gzip.compress(b'{"model":"gpt-3.5-turbo","messages":[' + b" " * (65 * MB) + b"]}", compresslevel=1)
    assert len(bomb) < MB
    resp = await env.raw("POST", "/v1/chat/completions", bomb, headers={"Content-Encoding": "gzip"})
    assert resp.code == 400  # Tornado's own answer: the connection is closed unread
    await assert_nothing_billed(env)


def test_multipart_parser_keeps_files_as_views_and_reads_every_form() -> None:
    """The upload parser against Tornado's on the same bodies: quoted and bare parameters, a
    filename with ``;`` and an escaped quote, CRLF and the boundary's dashes inside the file."""
    from tornado.httputil import parse_body_arguments

    from relay.endpoints import multipart_fields

    payload = b"\r\n--not-it\r\n" + bytes(range(256)) * 64 + b"\r\n"
    body = (b'--XyZ\r\nContent-Disposition: form-data; name=model\r\n\r\nwhisper-1\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a;b\\".wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + payload + b"\r\n"
            b'--XyZ\r\nContent-Disposition: form-data; name="response_format"\r\n\r\nsrt\r\n--XyZ--\r\n')
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[Any]] = {}
    multipart_fields('multipart/form-data; boundary="XyZ"', body, args, files)
    assert args == {"model": [b"whisper-1"], "response_format": [b"srt"]}
    [f] = files["file"]
    assert isinstance(f.body, memoryview) and bytes(f.body) == payload
    assert (f.filename, f.content_type) == ('a;b".wav', "audio/wav")
    t_args: dict[str, list[bytes]] = {}
    t_files: dict[str, list[Any]] = {}
    parse_body_arguments("multipart/form-data; boundary=XyZ", body, t_args, t_files)
    assert t_args == args and t_files["file"][0].body == payload
    for broken in (b"no parts at all", b"--XyZ\r\nContent-Disposition: form-data; name=x\r\n\r\nunterminated"):
        with pytest.raises(Exception) as e:
            multipart_fields("multipart/form-data; boundary=XyZ", broken, {}, {})
        assert getattr(e.value, "status", None) == 400
