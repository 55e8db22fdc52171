"""A fake OpenAI for the conformance run: a real Tornado server that answers every ``/v1``
route the selected ``openai`` SDK tests call with a body of the documented shape.

It is deliberately permissive about what it receives (any model, any fields, any key) and
exact about what it sends: each answer validates against the SDK's own types in strict mode
(``_strict_response_validation=True``), so a test that fails through OneRelay fails because
of OneRelay, not because of the fake.

* JSON bodies for the create/retrieve/list/delete operations (lists as ``{"object": "list"}``
  cursor pages);
* ``stream: true`` (JSON body, multipart field, or ``?stream=true`` query) → an SSE stream of one
  plausible event and ``data: [DONE]``;
* embeddings always as floats (see :func:`embeddings`);
* ``/audio/speech`` → audio bytes; transcriptions/translations follow ``response_format``
  (``text``/``srt``/``vtt`` as text/plain, else JSON);
* anything else → 404 with OpenAI's error envelope.

Every request is recorded (:class:`Seen`) so a failure can be explained by what reached the
fake (or that nothing did).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import tornado.httputil
import tornado.web

TEXT = "Hello from the conformance fake."
CREATED = 1_700_000_000


@dataclass
class Seen:
    method: str
    path: str
    status: int
    authorization: str


@dataclass
class FakeState:
    requests: list[Seen] = field(default_factory=list)
    # ids the next POST /responses answers get (then "resp_fake"): lets the harness create,
    # through OneRelay, the responses whose ids the SDK's retrieve/delete/cancel tests use
    next_response_ids: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()
        self.next_response_ids.clear()


# -- bodies ---------------------------------------------------------------------------------------

def chat_completion(model: str, cid: str = "chatcmpl-fake") -> dict[str, Any]:
    return {
        "id": cid, "object": "chat.completion", "created": CREATED, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": TEXT, "refusal": None}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
        "system_fingerprint": "fp_fake",
    }


def chat_chunk(model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}]}


def completion(model: str) -> dict[str, Any]:
    return {"id": "cmpl-fake", "object": "text_completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "text": TEXT, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


def embeddings(model: str, inputs: Any) -> dict[str, Any]:
    """Floats even when ``encoding_format: base64`` is asked, as the Prism mock these tests are
    written for answers: the SDK asks base64 by default, and its strict validation refuses the
    base64 string OpenAI itself would send (``embedding: List[float]``)."""
    n = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": [0.1, -0.2, 0.3]} for i in range(n)],
            "usage": {"prompt_tokens": 4 * n, "total_tokens": 4 * n}}


def images() -> dict[str, Any]:
    return {"created": CREATED, "data": [{"url": "https://example.com/otter.png", "revised_prompt": "an otter"}],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                      "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}}}


def image_event(kind: str) -> dict[str, Any]:
    return {"type": f"image_{kind}.completed", "b64_json": base64.b64encode(b"png").decode(),
            "created_at": CREATED, "background": "opaque", "output_format": "png", "quality": "low",
            "size": "1024x1024",
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                      "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}}}


_CATEGORIES = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
               "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
               "violence/graphic"]


def moderation(model: str) -> dict[str, Any]:
    return {"id": "modr-fake", "model": model, "results": [{
        "flagged": False,
        "categories": {c: False for c in _CATEGORIES},
        "category_scores": {c: 0.001 for c in _CATEGORIES},
        "category_applied_input_types": {c: ["text"] for c in _CATEGORIES},
    }]}


def model_obj(mid: str) -> dict[str, Any]:
    return {"id": mid, "object": "model", "created": CREATED, "owned_by": "openai"}


def _usage() -> dict[str, Any]:
    return {"input_tokens": 9, "output_tokens": 7, "total_tokens": 16,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0}}


def _message() -> dict[str, Any]:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}


def response_obj(model: str, rid: str = "resp_fake", status: str = "completed") -> dict[str, Any]:
    return {"id": rid, "object": "response", "created_at": CREATED, "model": model, "status": status,
            "output": [_message()], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "temperature": 1.0, "top_p": 1.0, "usage": _usage()}


def response_events(model: str, rid: str = "resp_fake") -> list[dict[str, Any]]:
    return [{"type": "response.created", "sequence_number": 0,
             "response": response_obj(model, rid, status="in_progress")},
            {"type": "response.completed", "sequence_number": 1, "response": response_obj(model, rid)}]


def compacted(model: str) -> dict[str, Any]:
    return {"id": "resp_fake_compacted", "object": "response.compaction", "created_at": CREATED,
            "output": [_message()], "usage": _usage()}


def cursor_page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False,
            "first_id": items[0]["id"] if items else None, "last_id": items[-1]["id"] if items else None}


def transcription(fmt: str | None) -> tuple[str, bytes]:
    """(content type, body) for a transcription or translation in ``fmt``."""
    if fmt == "text":
        return "text/plain; charset=utf-8", (TEXT + "\n").encode()
    if fmt == "srt":
        return "text/plain; charset=utf-8", f"1\n00:00:00,000 --> 00:00:01,000\n{TEXT}\n\n".encode()
    if fmt == "vtt":
        return "text/plain; charset=utf-8", f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{TEXT}\n\n".encode()
    if fmt == "verbose_json":
        body: dict[str, Any] = {"task": "transcribe", "language": "english", "duration": 1.0, "text": TEXT,
                                "segments": []}
    else:
        body = {"text": TEXT, "usage": {"type": "duration", "seconds": 1.0}}
    return "application/json", json.dumps(body).encode()


# -- server ---------------------------------------------------------------------------------------

def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, (str, bytes)) and (v.decode() if isinstance(v, bytes) else v).lower() == "true")


class FakeOpenAI(tornado.web.RequestHandler):
    """One handler for every path: dispatches on (method, path) in :meth:`_route`."""

    def initialize(self, state: FakeState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:
        pass

    # A body and the fields it carries: JSON, or a multipart/urlencoded form's text fields.
    def _fields(self) -> dict[str, Any]:
        ctype = self.request.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                data = json.loads(self.request.body or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        if self.request.body:
            args: dict[str, list[bytes]] = {}
            files: dict[str, list[tornado.httputil.HTTPFile]] = {}
            tornado.httputil.parse_body_arguments(ctype, self.request.body, args, files)
            out: dict[str, Any] = {k: v[-1].decode(errors="replace") for k, v in args.items()}
            return out
        return {}

    def _json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def _sse(self, events: list[dict[str, Any]], named: bool = False) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for e in events:
            if named:
                self.write(f"event: {e['type']}\n")
            self.write(f"data: {json.dumps(e)}\n\n")
        self.write("data: [DONE]\n\n")
        self.finish()

    def _not_found(self) -> None:
        self._json({"error": {"message": f"Invalid URL ({self.request.method} {self.request.path})",
                              "type": "invalid_request_error", "param": None, "code": None}}, 404)

    def _route(self) -> None:
        path = self.request.path
        if path.startswith("/v1/"):
            path = path[3:]
        method = self.request.method
        f = self._fields()
        stream = _truthy(f.get("stream")) or _truthy(self.get_query_argument("stream", ""))
        model = str(f.get("model") or "gpt-fake")
        parts = [p for p in path.split("/") if p]
        handler: Callable[[], None] | None = None

        if parts[:2] == ["chat", "completions"]:
            if len(parts) == 2 and method == "POST":
                handler = (lambda: self._sse([chat_chunk(model)])) if stream else \
                    (lambda: self._json(chat_completion(model)))
            elif len(parts) == 2 and method == "GET":
                handler = lambda: self._json(cursor_page([chat_completion("gpt-fake")]))  # noqa: E731
            elif len(parts) == 3 and method in ("GET", "POST"):
                handler = lambda: self._json(chat_completion("gpt-fake", parts[2]))  # noqa: E731
            elif len(parts) == 3 and method == "DELETE":
                handler = lambda: self._json({"id": parts[2], "object": "chat.completion.deleted",  # noqa: E731
                                              "deleted": True})
        elif parts == ["completions"] and method == "POST":
            handler = (lambda: self._sse([dict(completion(model), usage=None)])) if stream else \
                (lambda: self._json(completion(model)))
        elif parts == ["embeddings"] and method == "POST":
            handler = lambda: self._json(embeddings(model, f.get("input")))  # noqa: E731
        elif parts[:1] == ["images"] and len(parts) == 2 and method == "POST":
            kind = "generation" if parts[1] == "generations" else "edit"
            handler = (lambda: self._sse([image_event(kind)], named=True)) if stream else \
                (lambda: self._json(images()))
        elif parts == ["audio", "speech"] and method == "POST":
            def speech() -> None:
                self.set_header("Content-Type", "audio/mpeg")
                self.finish(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 64)
            handler = speech
        elif parts[:1] == ["audio"] and len(parts) == 2 and parts[1] in ("transcriptions", "translations") \
                and method == "POST":
            if stream and parts[1] == "transcriptions":
                handler = lambda: self._sse([{"type": "transcript.text.delta", "delta": TEXT},  # noqa: E731
                                             {"type": "transcript.text.done", "text": TEXT}])
            else:
                def transcribe() -> None:
                    ctype, body = transcription(f.get("response_format"))
                    self.set_header("Content-Type", ctype)
                    self.finish(body)
                handler = transcribe
        elif parts == ["moderations"] and method == "POST":
            handler = lambda: self._json(moderation(str(f.get("model") or "omni-moderation-latest")))  # noqa: E731
        elif parts[:1] == ["models"]:
            if len(parts) == 1 and method == "GET":
                handler = lambda: self._json({"object": "list", "data": [model_obj("gpt-fake")]})  # noqa: E731
            elif len(parts) >= 2 and method == "GET":
                handler = lambda: self._json(model_obj("/".join(parts[1:])))  # noqa: E731
            elif len(parts) >= 2 and method == "DELETE":
                handler = lambda: self._json({"id": "/".join(parts[1:]), "object": "model",  # noqa: E731
                                              "deleted": True})
        elif parts[:1] == ["responses"]:
            if parts == ["responses"] and method == "POST":
                rid = self.state.next_response_ids.pop(0) if self.state.next_response_ids else "resp_fake"
                handler = (lambda: self._sse(response_events(model, rid), named=True)) if stream else \
                    (lambda: self._json(response_obj(model, rid)))
            elif parts == ["responses", "compact"] and method == "POST":
                handler = lambda: self._json(compacted(model))  # noqa: E731
            elif parts == ["responses", "input_tokens"] and method == "POST":
                handler = lambda: self._json({"object": "response.input_tokens", "input_tokens": 9})  # noqa: E731
            elif len(parts) == 2 and method == "GET":
                handler = (lambda: self._sse(response_events("gpt-fake", parts[1]), named=True)) if stream else \
                    (lambda: self._json(response_obj("gpt-fake", parts[1])))
            elif len(parts) == 2 and method == "DELETE":
                handler = lambda: self._json({"id": parts[1], "object": "response.deleted",  # noqa: E731
                                              "deleted": True})
            elif len(parts) == 3 and parts[2] == "cancel" and method == "POST":
                handler = lambda: self._json(response_obj("gpt-fake", parts[1], "cancelled"))  # noqa: E731
            elif len(parts) == 3 and parts[2] == "input_items" and method == "GET":
                item = {"id": "msg_in_fake", "type": "message", "role": "user", "status": "completed",
                        "content": [{"type": "input_text", "text": "hi"}]}
                handler = lambda: self._json(cursor_page([item]))  # noqa: E731

        if handler is None:
            self._not_found()
        else:
            handler()
        self.state.requests.append(Seen(method, self.request.path, self.get_status(),
                                        self.request.headers.get("Authorization", "")))

    get = post = delete = put = patch = lambda self, *a: self._route()  # type: ignore[assignment]  # noqa: E731


def make_app(state: FakeState) -> tornado.web.Application:
    return tornado.web.Application([(r"/.*", FakeOpenAI, {"state": state})])
