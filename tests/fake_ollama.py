"""A fake Ollama server (native API: ``POST /api/chat``, ``POST /api/embed``) for tests.

``make_ollama_app(state)`` gives a Tornado app; every request is recorded in
``state.requests`` as ``{"path", "headers", "json"}`` and answered as Ollama would
(docs/api.md, docs/api/errors.mdx):

* ``stream`` defaults to **true**: a request without ``"stream": false`` gets NDJSON
  (``application/x-ndjson``, one object per line, one write + flush each), the last
  object ``done: true`` with ``done_reason``, ``prompt_eval_count`` and ``eval_count``;
* validation like Ollama's Go decoder: ``content`` must be a string, ``images`` base64
  strings, tool-call ``arguments`` an object, roles system/user/assistant/tool;
  ``stream_options`` or other OpenAI-only fields are ignored like Ollama does;
* a request with tools gets a call of the first tool (``{"city": "Paris"}``, no id, as
  older servers send it); a ``role: tool`` message last gets a text answer about it;
* errors are ``{"error": "..."}``. Behaviour is chosen by the bearer key:
  ``bad-key`` → 401 ``unauthorized``; ``fail-500`` → 500; ``fail-400`` → 400;
  ``midfail`` → a stream that breaks with an error object after two lines.
  ``state.require_key`` makes a missing Authorization header a 401 as well.
  Model ``missing`` → 404 ``model "missing" not found, try pulling it first``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import tornado.web

TEXT_REPLY = "Hello from Ollama"
TEXT_FRAGMENTS = ["Hello", " from", " Ollama"]
TOOL_ARGS = {"city": "Paris"}
TOOL_REPLY = "It is 21 degrees in Paris."
PROMPT_TOKENS = 11
TEXT_EVAL = 6
TOOL_EVAL = 9
EMBED_DIM = 4
CREATED_AT = "2025-07-07T20:22:19.184789Z"


@dataclass
class FakeOllamaState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    require_key: bool = False

    def keys(self) -> list[str | None]:
        out = []
        for r in self.requests:
            auth = r["headers"].get("Authorization")
            out.append(auth[7:] if auth and auth.startswith("Bearer ") else auth)
        return out


def embedding_for(text: str, i: int) -> list[float]:
    """A deterministic vector per input (tests compare against it)."""
    return [round(0.25 * (i + 1), 4), float(len(text)), -0.5, 0.125][:EMBED_DIM]


class _Base(tornado.web.RequestHandler):
    state: FakeOllamaState

    def initialize(self, state: FakeOllamaState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:
        return None

    def _error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message}))

    def _key(self) -> str | None:
        auth = self.request.headers.get("Authorization")
        if auth is None:
            return None
        return auth[7:] if auth.startswith("Bearer ") else ""

    def _begin(self) -> tuple[Any, str | None] | None:
        """Record, check auth and the canned failures; None when the answer was already sent."""
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.state.requests.append({"path": self.request.path, "headers": dict(self.request.headers),
                                    "json": body})
        key = self._key()
        if key == "" or key == "bad-key" or (key is None and self.state.require_key):
            self._error(401, "unauthorized")
            return None
        if key == "fail-500":
            self._error(500, "llama runner process has terminated: exit status 2")
            return None
        if key == "fail-400":
            self._error(400, "invalid options: bogus")
            return None
        if not isinstance(body, dict):
            self._error(400, "invalid character 'x' looking for beginning of value")
            return None
        if not isinstance(body.get("model"), str) or not body["model"]:
            self._error(400, "model is required")
            return None
        if body["model"] == "missing":
            self._error(404, 'model "missing" not found, try pulling it first')
            return None
        return body, key


def _check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return "json: cannot unmarshal messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return f"json: cannot unmarshal messages[{i}]"
        if m.get("role") not in ("system", "user", "assistant", "tool"):
            return f"invalid role: {m.get('role')!r}"
        if not isinstance(m.get("content", ""), str):
            return "json: cannot unmarshal array into Go struct field Message.messages.content of type string"
        for img in m.get("images") or ():
            try:
                base64.b64decode(img, validate=True)
            except (binascii.Error, ValueError, TypeError):
                return "illegal base64 data at input byte 4"
        for tc in m.get("tool_calls") or ():
            fn = tc.get("function") if isinstance(tc, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("arguments", {}), dict):
                return "json: cannot unmarshal string into Go struct field ToolCallFunction.arguments"
    return None


class ChatHandler(_Base):
    async def post(self) -> None:
        begun = self._begin()
        if begun is None:
            return
        body, key = begun
        problem = _check_messages(body.get("messages"))
        if problem:
            return self._error(400, problem)
        opts = body.get("options")
        if opts is not None and not isinstance(opts, dict):
            return self._error(400, "json: cannot unmarshal options")
        model = body["model"]
        messages = body["messages"]
        tools = body.get("tools")
        tool_name = None
        if isinstance(tools, list) and tools and not (messages and messages[-1].get("role") == "tool"):
            fn = tools[0].get("function") if isinstance(tools[0], dict) else None
            tool_name = fn.get("name") if isinstance(fn, dict) else None
        if messages and messages[-1].get("role") == "tool":
            fragments, tool_calls, evals = [TOOL_REPLY], None, TEXT_EVAL
        elif tool_name:
            fragments, tool_calls, evals = [""], [{"function": {"name": tool_name, "arguments": TOOL_ARGS}}], TOOL_EVAL
        else:
            fragments, tool_calls, evals = TEXT_FRAGMENTS, None, TEXT_EVAL
        num_predict = opts.get("num_predict") if isinstance(opts, dict) else None
        done_reason = "length" if isinstance(num_predict, int) and num_predict <= 2 else "stop"
        final = {"model": model, "created_at": CREATED_AT, "done_reason": done_reason, "done": True,
                 "total_duration": 4883583458, "load_duration": 1334875,
                 "prompt_eval_count": PROMPT_TOKENS, "prompt_eval_duration": 342546000,
                 "eval_count": evals, "eval_duration": 4535599000}
        if body.get("stream", True) is False:
            message: dict[str, Any] = {"role": "assistant", "content": "".join(fragments)}
            if tool_calls:
                message["tool_calls"] = tool_calls
            self.set_header("Content-Type", "application/json; charset=utf-8")
            return self.finish(json.dumps({**final, "message": message}))
        self.set_header("Content-Type", "application/x-ndjson")
        for i, frag in enumerate(fragments):
            message = {"role": "assistant", "content": frag}
            if tool_calls:
                message["tool_calls"] = tool_calls
            self.write(json.dumps({"model": model, "created_at": CREATED_AT, "message": message,
                                   "done": False}) + "\n")
            await self.flush()
            if key == "midfail" and i == 1:
                self.write(json.dumps({"error": "an error was encountered while running the model"}) + "\n")
                return self.finish()
        self.write(json.dumps({**final, "message": {"role": "assistant", "content": ""}}) + "\n")
        self.finish()


class EmbedHandler(_Base):
    def post(self) -> None:
        begun = self._begin()
        if begun is None:
            return
        body, _ = begun
        inp = body.get("input")
        if isinstance(inp, str):
            inputs = [inp]
        elif isinstance(inp, list) and all(isinstance(x, str) for x in inp):
            inputs = inp
        else:
            return self._error(400, "invalid input type")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({
            "model": body["model"],
            "embeddings": [embedding_for(t, i) for i, t in enumerate(inputs)],
            "total_duration": 14143917, "load_duration": 1019500,
            "prompt_eval_count": sum(len(t.split()) for t in inputs),
        }))


def make_ollama_app(state: FakeOllamaState) -> tornado.web.Application:
    return tornado.web.Application([
        (r"/api/chat", ChatHandler, {"state": state}),
        (r"/api/embed", EmbedHandler, {"state": state}),
    ])


__all__ = ["FakeOllamaState", "make_ollama_app", "embedding_for", "TEXT_REPLY", "TOOL_ARGS", "TOOL_REPLY",
           "PROMPT_TOKENS", "TEXT_EVAL", "TOOL_EVAL"]
