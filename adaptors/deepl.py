"""DeepL (channel type 38): translation presented as a chat answer, as One API does.

* The model name selects the target language: ``deepl-zh`` → ``ZH``, ``deepl-en`` → ``EN``,
  ``deepl-ja`` → ``JA``; a name without ``-`` means ``ZH`` (One API's rule). Unlike One API,
  a regional suffix is kept: ``deepl-en-us`` → ``EN-US``, ``deepl-pt-br`` → ``PT-BR``.
* The text translated is the last message's text (One API); the answer is the translation.
* ``POST {base}/v2/translate`` with ``Authorization: DeepL-Auth-Key <key>`` and
  ``{"text": [...], "target_lang": ...}`` → ``{"translations": [{"detected_source_language", "text"}]}``.
* Free keys (ending ``:fx``) only work on ``api-free.deepl.com``, Pro keys only on
  ``api.deepl.com``: with no base URL, or with one of those two official hosts, the host is
  chosen by the key; any other base URL (a proxy) is used as given.
* DeepL does not stream: a stream request gets the translation as SSE chunks built from the
  JSON answer (``json_streams``). DeepL reports no tokens, so usage is left to the relay's
  local count.
* Errors: ``{"message": ...}`` with 403 (bad key), 429, 456 (quota exceeded), 400.
"""

from __future__ import annotations

import json
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

FREE_HOST = "api-free.deepl.com"
PRO_HOST = "api.deepl.com"
DEFAULT_TARGET = "ZH"

_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS)


def target_lang(model: str) -> str:
    """The DeepL ``target_lang`` a model name selects (``deepl-ja`` → ``JA``)."""
    _, sep, rest = model.strip().partition("-")
    rest = rest.strip("-")
    return rest.upper() if sep and rest else DEFAULT_TARGET


def message_text(content: Any) -> str:
    """The text of an OpenAI message content (a string, or the text parts joined)."""
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


def source_text(body: dict[str, Any]) -> str:
    """The text to translate: the last message's (One API)."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
        return ""
    return message_text(msgs[-1].get("content"))


def to_deepl_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    return {"text": [source_text(body)], "target_lang": target_lang(model)}


def base_url(target: ChannelTarget) -> str:
    """The DeepL API root for this channel (free or pro host by key, unless a proxy is set)."""
    given = (target.base_url or "").strip().rstrip("/")
    host = urllib.parse.urlsplit(given).hostname if given else None
    if not given or host in (FREE_HOST, PRO_HOST):
        return "https://" + (FREE_HOST if target.key.strip().endswith(":fx") else PRO_HOST)
    return given


def translation_text(data: Any) -> str | None:
    """The translated text of a DeepL answer; None when it has no ``translations``."""
    if not isinstance(data, dict) or not isinstance(data.get("translations"), list):
        return None
    texts = [t["text"] for t in data["translations"] if isinstance(t, dict) and isinstance(t.get("text"), str)]
    return "\n".join(texts)


def parse_deepl_error(status: int, body: bytes) -> UpstreamFailure:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    message = ""
    if isinstance(data, dict):
        for k in ("message", "detail", "error"):
            v = data.get(k)
            if isinstance(v, dict):
                v = v.get("message")
            if isinstance(v, str) and v:
                message = v
                break
        if message and isinstance(data.get("detail"), str) and data["detail"] and data["detail"] != message:
            message = f"{message}: {data['detail']}"
    if not message:
        message = body.decode("utf-8", "replace").strip()[:500] or f"upstream returned HTTP {status}"
    if status == 456 and "quota" not in message.lower():
        message = f"{message} (DeepL character quota exceeded)"
    retryable, disables = failure_verdicts(status, message, None, None)
    if status in (403, 456):  # bad key / wrong host, and an exhausted quota: the channel cannot serve
        disables = True
    payload = {"message": message, "type": "upstream_error", "param": "", "code": "deepl_error"}
    return UpstreamFailure(status=status, message=message, type="upstream_error", code="deepl_error",
                           retryable=retryable, disables_channel=disables, payload=payload)


class DeepLAnswerError(UpstreamRejected):
    """A 2xx DeepL answer without a translation (raised by ``parse_response``)."""


def completion_id() -> str:
    return "chatcmpl-deepl-" + uuid.uuid4().hex[:24]


def to_openai_response(text: str, model: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": created if created is not None else now(),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }


class DeepLStream(StreamTranscoder):
    """The whole JSON answer in, the translation as OpenAI chunks out (at ``finish``)."""

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

    def finish(self) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        body = bytes(self._buf)
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        text = translation_text(data)
        out: list[bytes] = []
        if text is None:
            f = parse_deepl_error(502, body)
            self.error = f.message
            out.append(sse_frame({"error": f.payload}))
        else:
            self.text_parts.append(text)
            out.append(sse_frame(chat_chunk(self._id, self._model, self._created,
                                            {"role": "assistant", "content": text})))
            out.append(sse_frame(chat_chunk(self._id, self._model, self._created, {}, "stop")))
            self.done = True
        out.append(DONE_FRAME)
        return out


class DeepLAdaptor(Adaptor):
    name = "deepl"
    modes = frozenset({CHAT})
    json_streams = True
    tools = False  # the README's channel table: no tool calls

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        body = to_deepl_request(req.body, req.model)
        headers = {"Content-Type": "application/json", "Authorization": "DeepL-Auth-Key " + target.key.strip()}
        return UpstreamRequest("POST", base_url(target) + "/v2/translate", headers, _dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        text = translation_text(data)
        if text is None:
            raise DeepLAnswerError(parse_deepl_error(502, body))
        return ParsedResponse(_dumps(to_openai_response(text, req.requested_model)).encode(), None, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return DeepLStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_deepl_error(status, body)


__all__ = ["DeepLAdaptor", "DeepLStream", "target_lang", "source_text", "to_deepl_request", "base_url",
           "parse_deepl_error", "translation_text", "DeepLAnswerError"]
