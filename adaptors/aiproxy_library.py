"""AIProxy Library (channel type 21): questions to an AIProxy knowledge library, as One API asks them.

* ``POST {base}/api/library/ask`` with ``{"model", "query", "libraryId", "stream"}``: the query is
  the last message's text (One API), the library is the channel's ``config.library_id`` (else its
  legacy ``other`` field, One API's fallback); a channel without one gets a clear 503
  (``channel_config_missing``) and nothing is sent.
* The key goes in ``Api-Key`` (AIProxy's header) and, as One API sends it, in
  ``Authorization: Bearer``.
* Answer: ``{"success", "answer", "documents": [{"title", "url"}], "errCode", "message"}`` → one
  chat choice whose content is the answer followed by the documents as a numbered Markdown link
  list under One API's heading ``参考文档：``. ``errCode`` ≠ 0 or ``success: false`` on a 2xx is
  an error (HTTP 502).
* Stream: lines ``data:{"content", "finish", "model", "documents"}`` (One API reads each line
  that starts with ``data:``); every ``content`` becomes a delta, and when the upstream body
  ends a last chunk carries the documents of the stream (the last non-empty list) and finish
  ``stop``, then ``[DONE]`` (One API's order).
* AIProxy reports no tokens: usage is left to the relay's local count.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CHAT,
    Adaptor,
    ChannelConfigError,
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
    ChatStream,
    LineBuffer,
    assistant_message,
    channel_base_url,
    channel_config,
    chat_completion,
    choice,
    content_text,
    dumps,
    failure,
    loads_or_none,
    new_completion_id,
    raw_message,
)

DEFAULT_BASE_URL = "https://api.aiproxy.io"
DOCUMENTS_HEADING = "参考文档："  # One API's heading of the reference list

_AUTH_WORDS = ("api key", "api-key", "apikey", "unauthorized", "invalid key", "key is invalid")


def query_text(body: dict[str, Any]) -> str:
    """The question: the last message's text (One API)."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
        return ""
    return content_text(msgs[-1].get("content"))


def library_id(target: ChannelTarget) -> str:
    value = channel_config(target).get("library_id")
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text or (target.other or "").strip()


def to_library_request(req: RelayRequest, library: str) -> dict[str, Any]:
    return {"model": req.model, "query": query_text(req.body), "libraryId": library, "stream": req.stream}


def documents_markdown(documents: Any) -> str:
    """One API's reference list: ``\\n\\n参考文档：\\n1. [title](url)\\n…``; "" without documents."""
    if not isinstance(documents, list):
        return ""
    docs = [d for d in documents if isinstance(d, dict)]
    if not docs:
        return ""
    lines = [f"{i}. [{d.get('title') or ''}]({d.get('url') or ''})\n" for i, d in enumerate(docs, 1)]
    return f"\n\n{DOCUMENTS_HEADING}\n" + "".join(lines)


def library_failure(status: int, code: Any, message: str) -> UpstreamFailure:
    retryable, disables = failure_verdicts(status, message, None, None)
    low = message.lower()
    if status == 403 or any(w in low for w in _AUTH_WORDS):
        disables = True
    return failure(status, message, code=code, retryable=retryable, disables=disables)


def _error_of(data: Any) -> tuple[Any, str] | None:
    """(errCode, message) when an AIProxy object is an error."""
    if not isinstance(data, dict):
        return None
    code = data.get("errCode")
    failed = data.get("success") is False or (code not in (None, 0, "0", ""))
    if not failed:
        return None
    message = data.get("message") or data.get("msg") or data.get("error")
    if isinstance(message, dict):
        message = message.get("message")
    if not isinstance(message, str) or not message:
        message = f"AIProxy library error {code}" if code not in (None, "") else "AIProxy library request failed"
    return (code if code not in (None, "") else "aiproxy_error"), message


def parse_library_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    err = _error_of(data)
    if err is None and isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]:
        err = ("aiproxy_error", data["message"])
    if err is None:
        err = ("aiproxy_error", raw_message(body, status))
    return library_failure(status, *err)


class LibraryAnswerError(UpstreamRejected):
    """A 2xx answer that is an error (raised by ``parse_response``)."""


def read_answer(body: bytes) -> str:
    """The chat content of a library answer (answer + references); raises :class:`LibraryAnswerError`."""
    data = loads_or_none(body)
    err = _error_of(data)
    if err is not None:
        raise LibraryAnswerError(library_failure(502, *err))
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
        raise LibraryAnswerError(library_failure(
            502, "aiproxy_error", "AIProxy library answered no answer: "
            + body.decode("utf-8", "replace").strip()[:300]))
    return data["answer"] + documents_markdown(data.get("documents"))


def to_openai_response(content: str, model: str, created: int | None = None) -> dict[str, Any]:
    return chat_completion(new_completion_id(), model, [choice(assistant_message(content), "stop")],
                           created=created)


class LibraryStream(ChatStream):
    """``data:{...}`` lines in (split anywhere), OpenAI chunks out; references and ``stop`` at the end."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created, new_completion_id())
        self._lines = LineBuffer()
        self._documents: list[Any] = []
        self._finished = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._finished or self.error is not None:
            return []
        out: list[bytes] = []
        self._lines.feed(data, lambda line: self._line(line, out), lambda: self.error is not None)
        return out

    def _line(self, raw: bytes, out: list[bytes]) -> None:
        line = raw.strip()
        if not line:
            return
        is_data = line.startswith(b"data:")
        payload = line[5:].strip() if is_data else line
        if payload == b"[DONE]":
            return
        obj = loads_or_none(payload)  # not JSON: skipped, as One API does
        err = _error_of(obj)
        if err is not None:
            f = library_failure(502, *err)
            assert f.payload is not None
            self._fail(f.payload, out)
            return
        if not is_data or not isinstance(obj, dict):
            return
        docs = obj.get("documents")
        if isinstance(docs, list) and docs:
            self._documents = docs
        content = obj.get("content")
        if isinstance(content, str) and content:
            self.text_parts.append(content)
            out.append(self._frame({"content": content}))
        if obj.get("finish") is True:
            self.done = True

    def finish(self) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        if self.error is not None:
            return []
        out: list[bytes] = []
        rest = self._lines.rest()
        if rest:
            self._line(rest, out)
            if self.error is not None:
                return out
        refs = documents_markdown(self._documents)
        if refs:
            self.text_parts.append(refs)
        out.append(self._frame({"content": refs} if refs else {}, "stop"))
        self._close(out)
        return out


class AIProxyLibraryAdaptor(Adaptor):
    name = "aiproxy_library"
    modes = frozenset({CHAT})

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        library = library_id(target)
        if not library:
            raise ChannelConfigError(
                f"Channel #{target.id} (AIProxy Library) has no library ID: set Library ID in the channel's settings")
        base = channel_base_url(target, DEFAULT_BASE_URL)
        key = target.key.strip()
        headers = {"Content-Type": "application/json", "Api-Key": key, "Authorization": "Bearer " + key}
        if req.stream:
            headers["Accept"] = "text/event-stream"
        return UpstreamRequest("POST", base + "/api/library/ask", headers,
                               dumps(to_library_request(req, library)).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        content = read_answer(body)
        return ParsedResponse(dumps(to_openai_response(content, req.requested_model)).encode(), None, content)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return LibraryStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_library_error(status, body)


__all__ = ["AIProxyLibraryAdaptor", "LibraryStream", "LibraryAnswerError", "ChannelConfigError", "library_id",
           "query_text", "to_library_request", "documents_markdown", "read_answer", "to_openai_response",
           "parse_library_error", "DOCUMENTS_HEADING"]
