"""A fake upstream: a real Tornado HTTP server speaking OpenAI's and Azure's wire
formats (and Anthropic's, via tests/fake_anthropic.py), recording what it got.

Behaviour is chosen by the channel key the gateway sends, so each test picks
it by creating channels with telling keys:

* ``fail-500`` / ``fail-429`` / ``fail-400`` → that HTTP status, OpenAI error body
* ``fail-401`` → 401 ``invalid_api_key`` (a channel-disabling error)
* ``nousage`` (substring) → no ``usage`` in answers (the gateway must count)
* ``slow`` (substring) → streams 200 chunks, 20 ms apart (for disconnect tests)
* ``jsonstream`` (substring) → answers a stream request with a JSON body
* ``cut`` (substring) → the stream breaks off after three chunks (connection reset)
* ``sleep`` (substring) → answers after 2 s (for timeouts)
* anything else → success

The other OpenAI endpoints (images, audio, moderations, edits, rerank) answer as OpenAI
documents them and record what arrived: for uploads the form's text fields and each file's
name, type, size and SHA-256 (``Recorded.form`` / ``Recorded.files``), for every endpoint the
body's content type, length and SHA-256. Their keys: ``fail-*`` as above; transcriptions also
``usage-duration`` (json ``usage: {type: duration}``), ``usage-tokens`` (json token usage) and
``noduration`` (verbose_json without ``duration``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import tornado.httputil
import tornado.web

from tests.fake_anthropic import FakeAnthropicHandler

REPLY = "Hello! How can I help you today?"
USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}


@dataclass
class Recorded:
    path: str
    key: str
    headers: dict[str, str]
    json: Any
    query: str = ""
    content_type: str = ""  # the body's Content-Type as received
    body_len: int = 0
    body_sha256: str = ""
    form: dict[str, str] | None = None  # multipart/urlencoded text fields (last value wins)
    files: dict[str, list["UploadedFile"]] | None = None  # multipart files


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    size: int
    sha256: str
    head: bytes  # the first 64 bytes


@dataclass
class UpstreamState:
    requests: list[Recorded] = field(default_factory=list)
    anthropic: list[dict[str, Any]] = field(default_factory=list)
    cancelled: int = 0  # streams whose client (the gateway) went away early
    chunks_sent: int = 0

    def keys(self) -> list[str]:
        return [r.key for r in self.requests]

    def reset(self) -> None:
        self.requests.clear()
        self.anthropic.clear()
        self.cancelled = 0
        self.chunks_sent = 0


class _Base(tornado.web.RequestHandler):
    def initialize(self, state: UpstreamState) -> None:
        self.state = state
        self.gone = False

    def on_connection_close(self) -> None:
        self.gone = True

    def key(self) -> str:
        auth = self.request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        return self.request.headers.get("api-key", "")

    def record(self) -> tuple[str, Any]:
        key = self.key()
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        self.state.requests.append(Recorded(self.request.path, key, dict(self.request.headers), body,
                                            self.request.query))
        return key, body

    def record_any(self) -> tuple[str, Recorded]:
        """Record any body: JSON parsed, a form's fields and files, and the body's digest."""
        raw = self.request.body or b""
        ctype = self.request.headers.get("Content-Type", "")
        body: Any = None
        form: dict[str, str] | None = None
        files: dict[str, list[UploadedFile]] | None = None
        if "multipart/form-data" in ctype or "x-www-form-urlencoded" in ctype:
            args: dict[str, list[bytes]] = {}
            got: dict[str, list[tornado.httputil.HTTPFile]] = {}
            tornado.httputil.parse_body_arguments(ctype, raw, args, got)
            form = {k: v[-1].decode("utf-8", "replace") for k, v in args.items()}
            files = {k: [UploadedFile(f.filename, f.content_type, len(f.body), hashlib.sha256(f.body).hexdigest(),
                                      f.body[:64]) for f in fs] for k, fs in got.items()}
        else:
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
        rec = Recorded(self.request.path, self.key(), dict(self.request.headers), body, self.request.query,
                       content_type=ctype, body_len=len(raw), body_sha256=hashlib.sha256(raw).hexdigest(),
                       form=form, files=files)
        self.state.requests.append(rec)
        return rec.key, rec

    def error(self, status: int, message: str, type_: str = "api_error", code: Any = None) -> None:
        self.set_status(status)
        self.finish({"error": {"message": message, "type": type_, "param": None, "code": code}})

    def failed(self, key: str) -> bool:
        if key.startswith("fail-"):
            status = int(key.split("-")[1])
            if status == 401:
                self.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
            elif status == 429:
                self.error(429, "Rate limit reached", "requests", "rate_limit_exceeded")
            elif status == 400:
                self.error(400, "Invalid parameter: messages", "invalid_request_error", None)
            elif "echo" in key:  # quotes the key it was given, as some upstreams do
                self.error(status, f"Upstream failure for key {key}; see your dashboard", "server_error")
            else:
                self.error(status, "The server had an error while processing your request", "server_error")
            return True
        return False


class ChatHandler(_Base):
    async def post(self, *_: Any) -> None:
        key, body = self.record()
        if self.failed(key):
            return
        if not isinstance(body, dict) or "messages" not in body:
            self.error(400, "messages is required", "invalid_request_error")
            return
        model = body.get("model", "")
        if "sleep" in key:
            await asyncio.sleep(2)
        if body.get("stream"):
            if "jsonstream" in key:
                self.finish({"error": {"message": "streaming is not supported", "type": "invalid_request_error"}})
                return
            await self.stream(key, body, model)
            return
        resp: dict[str, Any] = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "" if "empty" in key else REPLY},
                         "finish_reason": "stop"}],
        }
        if body.get("tools"):
            resp["choices"][0]["message"] = {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": body["tools"][0]["function"]["name"],
                                             "arguments": "{\"city\":\"Paris\"}"}}]}
            resp["choices"][0]["finish_reason"] = "tool_calls"
        if "nousage" not in key:
            resp["usage"] = USAGE
        self.finish(resp)

    async def stream(self, key: str, body: dict[str, Any], model: str) -> None:
        self.set_header("Content-Type", "text/event-stream")
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}
        if "slow" in key:
            pieces = ["tok "] * 200
        elif "empty" in key:
            pieces = []
        else:
            pieces = ["Hello!", " How", " can", " I", " help", " you", " today?"]

        def frame(obj: Any) -> bytes:
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        self.write(frame({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]}))
        for i, piece in enumerate(pieces):
            if self.gone:
                self.state.cancelled += 1
                return
            if "cut" in key and i == 3:
                self.request.connection.stream.close()  # type: ignore[attr-defined]
                return
            self.write(frame({**base, "choices": [{"index": 0, "delta": {"content": piece},
                                                    "finish_reason": None}]}))
            try:
                await self.flush()
            except Exception:
                self.state.cancelled += 1
                return
            self.state.chunks_sent += 1
            if "slow" in key:
                await asyncio.sleep(0.02)
        self.write(frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        so = body.get("stream_options")
        if isinstance(so, dict) and so.get("include_usage") and "nousage" not in key:
            self.write(frame({**base, "choices": [], "usage": USAGE}))
        self.write(b"data: [DONE]\n\n")
        self.finish()


class CompletionsHandler(_Base):
    async def post(self) -> None:
        key, body = self.record()
        if self.failed(key):
            return
        resp: dict[str, Any] = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                                "model": body.get("model"),
                                "choices": [{"index": 0, "text": " world", "finish_reason": "stop",
                                             "logprobs": None}]}
        if "nousage" not in key:
            resp["usage"] = {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
        self.finish(resp)


class EmbeddingsHandler(_Base):
    async def post(self, *_: Any) -> None:
        key, body = self.record()
        if self.failed(key):
            return
        inputs = body.get("input")
        n = len(inputs) if isinstance(inputs, list) and not all(isinstance(x, int) for x in inputs) else 1
        self.finish({"object": "list", "model": body.get("model"),
                     "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(n)],
                     "usage": {"prompt_tokens": 5 * n, "total_tokens": 5 * n}})


# -- the other OpenAI endpoints -----------------------------------------------------------------

IMAGE_URL = "https://images.example/img-{i}.png"
IMAGE_B64 = base64.b64encode(b"\x89PNG fake image bytes").decode()
# Speech: audio/mpeg bytes sent in SPEECH_CHUNKS flushed chunks.
SPEECH_CHUNKS = [b"ID3\x04\x00" + bytes([i]) * 2043 for i in range(5)]
SPEECH_AUDIO = b"".join(SPEECH_CHUNKS)
TRANSCRIPT = "The quick brown fox jumps over the lazy dog."
TRANSCRIPT_DURATION = 9.5  # seconds, in verbose_json
TRANSCRIPT_USAGE_SECONDS = 12  # usage: {type: duration, seconds}
TRANSCRIPT_USAGE_TOKENS = {"type": "tokens", "input_tokens": 40, "output_tokens": 11, "total_tokens": 51}
SRT = f"1\n00:00:00,000 --> 00:00:09,500\n{TRANSCRIPT}\n\n"
VTT = f"WEBVTT\n\n00:00:00.000 --> 00:00:09.500\n{TRANSCRIPT}\n\n"
EDIT_USAGE = {"prompt_tokens": 25, "completion_tokens": 32, "total_tokens": 57}
RERANK_TOKENS = 37


def _form_or_json(rec: Recorded) -> dict[str, Any]:
    if rec.form is not None:
        return rec.form
    return rec.json if isinstance(rec.json, dict) else {}


class ImagesHandler(_Base):
    """generations (JSON), edits and variations (multipart): {created, data: [{url | b64_json}]}."""

    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        body = _form_or_json(rec)
        n = int(body.get("n") or 1)
        item = (lambda i: {"b64_json": IMAGE_B64}) if body.get("response_format") == "b64_json" else \
            (lambda i: {"url": IMAGE_URL.format(i=i)})
        data = [item(i) for i in range(n)]
        if rec.form is None and body.get("model") == "dall-e-3":
            for d in data:
                d["revised_prompt"] = "revised: " + str(body.get("prompt"))
        self.finish({"created": int(time.time()), "data": data})


class SpeechHandler(_Base):
    """audio/mpeg bytes, streamed in several flushed chunks (no Content-Length)."""

    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        fmt = (rec.json or {}).get("response_format") or "mp3"
        self.set_header("Content-Type", "audio/mpeg" if fmt == "mp3" else f"audio/{fmt}")
        for chunk in SPEECH_CHUNKS:
            if self.gone:
                self.state.cancelled += 1
                return
            self.write(chunk)
            try:
                await self.flush()
            except Exception:
                self.state.cancelled += 1
                return
            self.state.chunks_sent += 1
            await asyncio.sleep(0.005)
        self.finish()


class TranscriptionsHandler(_Base):
    """transcriptions and translations, answered in the form's response_format."""

    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        form = rec.form or {}
        fmt = form.get("response_format") or "json"
        task = "translate" if self.request.path.endswith("/translations") else "transcribe"
        if fmt == "json":
            out: dict[str, Any] = {"text": TRANSCRIPT}
            if "usage-duration" in key:
                out["usage"] = {"type": "duration", "seconds": TRANSCRIPT_USAGE_SECONDS}
            elif "usage-tokens" in key:
                out["usage"] = TRANSCRIPT_USAGE_TOKENS
            self.finish(out)
        elif fmt == "verbose_json":
            out = {"task": task, "language": "english", "text": TRANSCRIPT,
                   "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": TRANSCRIPT_DURATION,
                                 "text": TRANSCRIPT, "tokens": [1, 2, 3], "temperature": 0.0,
                                 "avg_logprob": -0.2, "compression_ratio": 1.1, "no_speech_prob": 0.01}]}
            if "noduration" not in key:
                out["duration"] = TRANSCRIPT_DURATION
            self.finish(out)
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish({"text": TRANSCRIPT + "\n", "srt": SRT, "vtt": VTT}[fmt])


class ModerationsHandler(_Base):
    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        body = rec.json if isinstance(rec.json, dict) else {}
        inputs = body.get("input")
        n = len(inputs) if isinstance(inputs, list) else 1
        cats = {"hate": False, "harassment": False, "self-harm": False, "sexual": False, "violence": False}
        result = {"flagged": False, "categories": cats, "category_scores": {k: 0.0001 for k in cats}}
        self.finish({"id": "modr-fake", "model": body.get("model") or "text-moderation-007",
                     "results": [result] * n})


class EditsHandler(_Base):
    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        self.finish({"object": "edit", "created": int(time.time()),
                     "choices": [{"text": "What day of the week is it?", "index": 0}], "usage": EDIT_USAGE})


class RerankHandler(_Base):
    async def post(self) -> None:
        key, rec = self.record_any()
        if self.failed(key):
            return
        body = rec.json if isinstance(rec.json, dict) else {}
        docs = body.get("documents") or []
        top = int(body.get("top_n") or len(docs))
        results = [{"index": i, "relevance_score": round(0.9 - 0.1 * i, 3)} for i in range(len(docs))][:top]
        if body.get("return_documents"):
            for r in results:
                r["document"] = {"text": docs[r["index"]]}
        self.finish({"id": "rerank-fake", "model": body.get("model"), "results": results,
                     "usage": {"total_tokens": RERANK_TOKENS}})


def make_upstream_app(state: UpstreamState) -> tornado.web.Application:
    kw = {"state": state}
    return tornado.web.Application([
        (r"/v1/chat/completions", ChatHandler, kw),
        (r"/prefix/v1/chat/completions", ChatHandler, kw),
        (r"/v1/completions", CompletionsHandler, kw),
        (r"/v1/embeddings", EmbeddingsHandler, kw),
        (r"/openai/deployments/([^/]+)/chat/completions", ChatHandler, kw),
        (r"/openai/deployments/([^/]+)/embeddings", EmbeddingsHandler, kw),
        (r"/v1/messages", FakeAnthropicHandler, {"recorder": state.anthropic}),
        (r"/v1/images/(?:generations|edits|variations)", ImagesHandler, kw),
        (r"/v1/audio/speech", SpeechHandler, kw),
        (r"/v1/audio/(?:transcriptions|translations)", TranscriptionsHandler, kw),
        (r"/v1/moderations", ModerationsHandler, kw),
        (r"/v1/edits", EditsHandler, kw),
        (r"/v1/rerank", RerankHandler, kw),
    ])
