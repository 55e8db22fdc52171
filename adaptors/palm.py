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

import re
import urllib.parse
from typing import Any

from .base import (
    CHAT,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    UpstreamRejected,
    UpstreamRequest,
    failure_verdicts,
)
from .common import (
    WholeBodyStream,
    assistant_message,
    channel_base_url,
    chat_completion,
    choice,
    content_text,
    dumps,
    failure,
    is_number,
    loads_or_none,
    new_completion_id,
    positive_int,
)
from .gemini import parse_gemini_error

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_VERSION = "v1beta2"
DEFAULT_MODEL = "chat-bison-001"
MODEL_ALIASES = {"palm-2": DEFAULT_MODEL, "palm2": DEFAULT_MODEL}
USER_AUTHOR = "0"
MODEL_AUTHOR = "1"

_VERSION_SUFFIX = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?$")


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
        text = content_text(m.get("content"))
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
    if is_number(body.get("temperature")):
        out["temperature"] = body["temperature"]
    n = positive_int(body.get("n"))
    if n is not None:
        out["candidateCount"] = n
    if is_number(body.get("top_p")):
        out["topP"] = body["top_p"]
    top_k = positive_int(body.get("top_k"))
    if top_k is not None:
        out["topK"] = top_k
    return out


def api_base(target: ChannelTarget) -> str:
    base = channel_base_url(target, DEFAULT_BASE_URL)
    return base if _VERSION_SUFFIX.search(base) else f"{base}/{DEFAULT_VERSION}"


def request_url(model: str, target: ChannelTarget) -> str:
    path = urllib.parse.quote(palm_model(model), safe="-._~")
    return f"{api_base(target)}/models/{path}:generateMessage"


class PaLMAnswerError(UpstreamRejected):
    """A 2xx PaLM answer that holds no answer (raised by ``parse_response``)."""


def read_answer(body: bytes) -> tuple[list[str], bool]:
    """(candidate texts, blocked) of a ``generateMessage`` answer; raises :class:`PaLMAnswerError`
    when the body is an error or holds neither candidates nor filters."""
    data = loads_or_none(body)
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
    raise PaLMAnswerError(failure(502, message, code="empty_answer", retryable=retryable, disables=disables))


def to_openai_response(texts: list[str], blocked: bool, model: str,
                       created: int | None = None) -> dict[str, Any]:
    if blocked:
        choices = [choice(assistant_message(""), "content_filter")]
    else:
        choices = [choice(assistant_message(t), "stop", i) for i, t in enumerate(texts)]
    return chat_completion(new_completion_id("palm-"), model, choices, created=created)


def parse_palm_error(status: int, body: bytes) -> UpstreamFailure:
    return parse_gemini_error(status, body)


class PaLMStream(WholeBodyStream):
    """The whole JSON answer in, the candidates as OpenAI chunks out (at ``finish``)."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created, new_completion_id("palm-"))

    def _answer(self, body: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            texts, blocked = read_answer(body)
        except PaLMAnswerError as e:
            assert e.failure.payload is not None
            self._fail(e.failure.payload, out)
            return out
        if blocked:
            out.append(self._frame({"content": ""}))
            out.append(self._frame({}, "content_filter"))
        for i, text in enumerate(texts):
            self.text_parts.append(text)
            out.append(self._frame({"content": text}, index=i))
        for i in range(len(texts)):
            out.append(self._frame({}, "stop", index=i))
        self.done = True
        self._close(out)
        return out


class PaLMAdaptor(Adaptor):
    name = "palm"
    modes = frozenset({CHAT})
    json_streams = True

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        headers = {"Content-Type": "application/json", "x-goog-api-key": target.key.strip()}
        return UpstreamRequest("POST", request_url(req.model, target), headers,
                               dumps(to_palm_request(req.body)).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        texts, blocked = read_answer(body)
        out = to_openai_response(texts, blocked, req.requested_model)
        return ParsedResponse(dumps(out).encode(), None, "".join(texts))

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return PaLMStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_palm_error(status, body)


__all__ = ["PaLMAdaptor", "PaLMStream", "PaLMAnswerError", "to_palm_request", "to_openai_response", "read_answer",
           "palm_model", "api_base", "request_url", "parse_palm_error"]
