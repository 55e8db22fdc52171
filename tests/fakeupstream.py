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
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

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
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
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
    ])
