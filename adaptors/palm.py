"""Google PaLM (channel type 11): the PaLM 2 chat API, ``models.generateMessage``.

* ``POST {base}/v1beta2/models/{model}:generateMessage`` with the key in ``x-goog-api-key`` (as
  One API; Google also takes ``?key=``, kept out of URLs here so it never lands in a log).
  A base URL that already ends in an API version (``…/v1beta2``, ``…/v1beta3``) keeps it.
* The model is the channel's upstream model; One API's list name ``PaLM-2`` (One API always
  called ``chat-bison-001``) means ``chat-bison-001``; a ``models/`` prefix is accepted.
* Request: ``prompt.messages`` with ``author`` ``"0"`` for user turns and ``"1"`` for every
  other turn (One API's numbering); consecutive turns of one author are joined (PaLM wants the
  authors to alternate). System messages go into ``prompt.context`` (One API sent them as
  author ``"1"`` turns). ``temperature``, ``top_p`` → ``topP``, ``n`` → ``candidateCount`` and a
  ``top_k`` extension field → ``topK`` (One API sent ``max_tokens`` as ``topK``, a bug:
  ``generateMessage`` has no output-length limit, so ``max_tokens`` and ``stop`` are dropped).
* Response: ``candidates[i].content`` → ``choices[i]`` (finish ``stop``). No candidates but
  ``filters`` (the prompt or every answer was blocked) → one empty choice with finish
  ``content_filter``; no candidates and no filters → an error (HTTP 502, retryable).
* PaLM does not stream: a stream request gets the answer as SSE chunks built from the JSON
  answer (``json_streams``). PaLM reports no tokens: usage is left to the relay's local count.
* Errors are Google's ``{"error": {"code", "message", "status", "details"}}`` (the Gemini
  adaptor's reader: an invalid key disables the channel, 429 retries, 400 does not).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from typing import Any

from .base import (
    CHAT,
    DONE_FRAME,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    UpstreamRejected,
    UpstreamRequest,
    chat_chunk,
    failure_verdicts,
    now,
    sse_frame,
)
from .gemini import parse_gemini_error

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_VERSION = "v1beta2"
DEFAULT_MODEL = "chat-bison-001"
MODEL_ALIASES = {"palm-2": DEFAULT_MODEL, "palm2": DEFAULT_MODEL}
USER_AUTHOR = "0"
MODEL_AUTHOR = "1"

_VERSION_SUFFIX = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?$")
_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v if isinstance(v, int) and v > 0 else None


def message_text(content: Any) -> str:
    """The text of an OpenAI message content (a string, or its text parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(p for p in parts if p)


def palm_model(model: str) -> str:
    """The PaLM model id for the URL (``PaLM-2`` → ``chat-bison-001``; ``models/`` dropped)."""
    name = (model or "").strip()
    if name.startswith("models/"):
        name = name[len("models/"):]
    return MODEL_ALIASES.get(name.lower(), name) or DEFAULT_MODEL


def to_palm_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat body → a ``generateMessage`` body."""
    context: list[str] = []
    messages: list[dict[str, str]] = []
    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        text = message_text(m.get("content"))
        if role in ("system", "developer"):
            if text:
                context.append(text)
            continue
        author = USER_AUTHOR if role == "user" else MODEL_AUTHOR
        if messages and messages[-1]["author"] == author:
            if text:
                prev = messages[-1]["content"]
                messages[-1]["content"] = f"{prev}\n\n{text}" if prev else text
            continue
        messages.append({"author": author, "content": text})
    prompt: dict[str, Any] = {}
    if context:
        prompt["context"] = "\n\n".join(context)
    prompt["messages"] = messages
    out: dict[str, Any] = {"prompt": prompt}
    if _number(body.get("temperature")):
        out["temperature"] = body["temperature"]
    n = _positive_int(body.get("n"))
    if n is not None:
        out["candidateCount"] = n
    if _number(body.get("top_p")):
        out["topP"] = body["top_p"]
    top_k = _positive_int(body.get("top_k"))
    if top_k is not None:
        out["topK"] = top_k
    return out


def api_base(target: ChannelTarget) -> str:
    base = (target.base_url or "").strip().rstrip("/") or DEFAULT_BASE_URL
    return base if _VERSION_SUFFIX.search(base) else f"{base}/{DEFAULT_VERSION}"


def request_url(model: str, target: ChannelTarget) -> str:
    path = urllib.parse.quote(palm_model(model), safe="-._~")
    return f"{api_base(target)}/models/{path}:generateMessage"


def completion_id() -> str:
    return "chatcmpl-palm-" + uuid.uuid4().hex[:24]


class PaLMAnswerError(UpstreamRejected):
    """A 2xx PaLM answer that holds no answer (raised by ``parse_response``)."""


def read_answer(body: bytes) -> tuple[list[str], bool]:
    """(candidate texts, blocked) of a ``generateMessage`` answer; raises :class:`PaLMAnswerError`
    when the body is an error or holds neither candidates nor filters."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or "error" in data:
        raise PaLMAnswerError(parse_palm_error(502, body))
    texts = [c.get("content") if isinstance(c.get("content"), str) else ""
             for c in data.get("candidates") or () if isinstance(c, dict)]
    if texts:
        return texts, False
    filters = data.get("filters")
    if isinstance(filters, list) and filters:
        return [], True
    message = "PaLM answered no candidates"
    retryable, disables = failure_verdicts(502, message, None, None)
    payload = {"message": message, "type": "upstream_error", "param": "", "code": "empty_answer"}
    raise PaLMAnswerError(UpstreamFailure(502, message, "upstream_error", "empty_answer", retryable, disables,
                                          payload))


def to_openai_response(texts: list[str], blocked: bool, model: str,
                       created: int | None = None) -> dict[str, Any]:
    if blocked:
        choices = [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "content_filter"}]
    else:
        choices = [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                   for i, t in enumerate(texts)]
    return {"id": completion_id(), "object": "chat.completion",
            "created": created if created is not None else now(), "model": model, "choices": choices}


def parse_palm_error(status: int, body: bytes) -> UpstreamFailure:
    return parse_gemini_error(status, body)


class PaLMStream(StreamTranscoder):
    """The whole JSON answer in, the candidates as OpenAI chunks out (at ``finish``)."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__()
        self._model = req.requested_model
        self._created = created if created is not None else now()
        self._id = completion_id()
        self._buf = bytearray()
        self._finished = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, index: int = 0) -> bytes:
        return sse_frame(chat_chunk(self._id, self._model, self._created, delta, finish, index=index))

    def finish(self) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        out: list[bytes] = []
        try:
            texts, blocked = read_answer(bytes(self._buf))
        except PaLMAnswerError as e:
            self.error = e.failure.message
            out.append(sse_frame({"error": e.failure.payload}))
            out.append(DONE_FRAME)
            return out
        if blocked:
            out.append(self._chunk({"role": "assistant", "content": ""}))
            out.append(self._chunk({}, "content_filter"))
        for i, text in enumerate(texts):
            self.text_parts.append(text)
            out.append(self._chunk({"role": "assistant", "content": text}, index=i))
        for i in range(len(texts)):
            out.append(self._chunk({}, "stop", index=i))
        self.done = True
        out.append(DONE_FRAME)
        return out


class PaLMAdaptor(Adaptor):
    name = "palm"
    modes = frozenset({CHAT})
    json_streams = True
    tools = False  # the README's channel table: no tool calls

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        headers = {"Content-Type": "application/json", "x-goog-api-key": target.key.strip()}
        return UpstreamRequest("POST", request_url(req.model, target), headers,
                               _dumps(to_palm_request(req.body)).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        texts, blocked = read_answer(body)
        out = to_openai_response(texts, blocked, req.requested_model)
        return ParsedResponse(_dumps(out).encode(), None, "".join(texts))

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return PaLMStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_palm_error(status, body)


__all__ = ["PaLMAdaptor", "PaLMStream", "PaLMAnswerError", "to_palm_request", "to_openai_response", "read_answer",
           "palm_model", "api_base", "request_url", "parse_palm_error"]
