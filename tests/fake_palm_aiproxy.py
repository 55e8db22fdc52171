"""Fake Google PaLM and AIProxy Library upstreams: one real Tornado app serving both.

* PaLM: ``POST /v1beta2/models/{model}:generateMessage`` with the key in ``x-goog-api-key`` (or
  ``?key=``). No key → 403 ``PERMISSION_DENIED``; ``palm-bad`` → 400 ``INVALID_ARGUMENT`` "API key
  not valid" (reason ``API_KEY_INVALID``); a model other than :data:`PALM_MODELS` → 404
  ``NOT_FOUND``. The body is checked as PaLM would: ``prompt.messages`` non-empty, authors
  alternating, every content non-empty, ``temperature`` in [0, 1], ``candidateCount`` in 1..8,
  no unknown fields. The answer has ``candidateCount`` candidates ``PaLM: <last message>``
  (later ones suffixed `` #2``…); a last message containing ``BLOCK`` → only ``filters``;
  ``QUOTA`` → 429 ``RESOURCE_EXHAUSTED``.
* AIProxy Library: ``POST /api/library/ask`` with ``Api-Key`` and ``Authorization: Bearer`` (the
  same key). ``ak-bad`` → HTTP 401 ``{"success": false, "errCode": 401, ...}``; library
  ``lib-missing`` → an error on HTTP 200 (``errCode`` 3001). Non-stream → ``{"success": true,
  "answer": "Library: <query>", "documents": LIB_DOCUMENTS}``; ``stream: true`` →
  ``text/event-stream`` of ``data:{...}`` lines (single newlines, no space after the colon) with
  the answer in :data:`LIB_FRAGMENTS` and the documents on the last line (``finish: true``).

* Proxy target: any method on ``/gateway/...`` echoes the request as JSON (method, path, query,
  headers, body as text) with an ``X-Upstream: echo`` header and a cookie, so a Proxy channel's
  forwarded request can be checked end to end.

Every request is recorded as ``{"provider", "path", "query", "headers", "json"}`` in ``state.requests``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tornado.web import Application, RequestHandler

PALM_MODELS = ("chat-bison-001",)
PALM_FIELDS = {"prompt", "temperature", "candidateCount", "topP", "topK"}

LIB_ID = "lib-0123456789"
LIB_DOCUMENTS = [{"title": "Getting started", "url": "https://docs.example.com/start"},
                 {"title": "FAQ", "url": "https://docs.example.com/faq"}]
LIB_FRAGMENTS = ["Library", ": ", "the answer"]


@dataclass
class FakeState:
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()

    def last(self, provider: str) -> dict[str, Any]:
        return [r for r in self.requests if r["provider"] == provider][-1]


class _Base(RequestHandler):
    provider = ""
    state: FakeState

    def initialize(self, state: FakeState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _record(self) -> Any:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.state.requests.append({"provider": self.provider, "path": self.request.path,
                                    "query": self.request.query, "headers": dict(self.request.headers),
                                    "json": body})
        return body

    def _json(self, status: int, obj: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))


# --------------------------------------------------------------------------- PaLM


class PaLMHandler(_Base):
    provider = "palm"

    def _google_error(self, code: int, status: str, message: str, reason: str | None = None) -> None:
        err: dict[str, Any] = {"code": code, "message": message, "status": status}
        if reason:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                               "domain": "googleapis.com"}]
        self._json(code, {"error": err})

    def _bad(self, message: str) -> None:
        self._google_error(400, "INVALID_ARGUMENT", message)

    async def post(self, model: str) -> None:
        body = self._record()
        key = self.request.headers.get("x-goog-api-key") or self.get_query_argument("key", "")
        if not key:
            return self._google_error(403, "PERMISSION_DENIED",
                                      "The request is missing a valid API key.")
        if key == "palm-bad":
            return self._google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                      "API_KEY_INVALID")
        if model not in PALM_MODELS:
            return self._google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta2, "
                                                        "or is not supported for generateMessage.")
        if not isinstance(body, dict):
            return self._bad("Invalid JSON payload received.")
        unknown = set(body) - PALM_FIELDS
        if unknown:
            return self._bad(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": '
                             "Cannot find field.")
        prompt = body.get("prompt")
        msgs = prompt.get("messages") if isinstance(prompt, dict) else None
        if not isinstance(msgs, list) or not msgs:
            return self._bad("* GenerateMessageRequest.prompt.messages: messages must not be empty")
        authors = [m.get("author") if isinstance(m, dict) else None for m in msgs]
        if any(a is None for a in authors) or any(a == b for a, b in zip(authors, authors[1:])):
            return self._bad("* GenerateMessageRequest.prompt.messages: authors must alternate")
        if any(not isinstance(m.get("content"), str) or not m["content"] for m in msgs):
            return self._bad("* GenerateMessageRequest.prompt.messages[].content: content must not be empty")
        temp = body.get("temperature")
        if temp is not None and not 0 <= temp <= 1:
            return self._bad("* GenerateMessageRequest.temperature: must be in the range [0.0, 1.0]")
        n = body.get("candidateCount", 1)
        if not isinstance(n, int) or not 1 <= n <= 8:
            return self._bad("* GenerateMessageRequest.candidate_count: must be in the range [1, 8]")
        last = msgs[-1]["content"]
        if "QUOTA" in last:
            return self._google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
        if "BLOCK" in last:
            return self._json(200, {"messages": msgs, "filters": [{"reason": "OTHER"}]})
        candidates = [{"author": "1", "content": f"PaLM: {last}" + (f" #{i + 1}" if i else "")} for i in range(n)]
        self._json(200, {"candidates": candidates, "messages": msgs})


# --------------------------------------------------------------------------- AIProxy Library


class LibraryHandler(_Base):
    provider = "aiproxy_library"

    async def post(self) -> None:
        body = self._record()
        key = self.request.headers.get("Api-Key", "")
        if not key or key == "ak-bad" or self.request.headers.get("Authorization") != f"Bearer {key}":
            return self._json(401, {"success": False, "errCode": 401, "message": "Invalid API key"})
        if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"] \
                or not isinstance(body.get("model"), str) or not isinstance(body.get("stream"), bool):
            return self._json(200, {"success": False, "errCode": 1000, "message": "invalid parameters"})
        library = body.get("libraryId")
        if library != LIB_ID:
            return self._json(200, {"success": False, "errCode": 3001, "message": f"library {library} not found"})
        if not body["stream"]:
            return self._json(200, {"success": True, "answer": f"Library: {body['query']}",
                                    "documents": LIB_DOCUMENTS})
        self.set_header("Content-Type", "text/event-stream")
        frags = [*LIB_FRAGMENTS[:-1], f"{LIB_FRAGMENTS[-1]} to {body['query']}"]
        for frag in frags:
            self.write("data:" + json.dumps({"content": frag, "finish": False, "model": body["model"],
                                             "documents": []}, ensure_ascii=False) + "\n")
            await self.flush()
        self.write("data:" + json.dumps({"content": "", "finish": True, "model": body["model"],
                                         "documents": LIB_DOCUMENTS}) + "\n")
        self.finish()


# --------------------------------------------------------------------------- Proxy target


class EchoHandler(_Base):
    provider = "proxy"
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def _echo(self) -> None:
        self._record()
        self.set_header("X-Upstream", "echo")
        self.set_header("Set-Cookie", "upstream=1")
        self._json(200, {"method": self.request.method, "path": self.request.path, "query": self.request.query,
                         "headers": dict(self.request.headers),
                         "body": self.request.body.decode("utf-8", "replace")})

    get = post = put = patch = delete = options = _echo  # type: ignore[assignment]


def make_app(state: FakeState) -> Application:
    kw = {"state": state}
    return Application([
        (r"/v1beta2/models/([^/:]+):generateMessage", PaLMHandler, kw),
        (r"/api/library/ask", LibraryHandler, kw),
        (r"/gateway(?:/.*)?", EchoHandler, kw),
    ])


__all__ = ["FakeState", "make_app", "PALM_MODELS", "LIB_ID", "LIB_DOCUMENTS", "LIB_FRAGMENTS"]
