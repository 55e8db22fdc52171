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
    loads_or_none,
    new_completion_id,
    raw_message,
)

FREE_HOST = "api-free.deepl.com"
PRO_HOST = "api.deepl.com"
DEFAULT_TARGET = "ZH"


def target_lang(model: str) -> str:
    """The DeepL ``target_lang`` a model name selects (``deepl-ja`` → ``JA``)."""
    _, sep, rest = model.strip().partition("-")
    rest = rest.strip("-")
    return rest.upper() if sep and rest else DEFAULT_TARGET


def source_text(body: dict[str, Any]) -> str:
    """The text to translate: the last message's (One API)."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
        return ""
    return content_text(msgs[-1].get("content"))


def to_deepl_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    return {"text": [source_text(body)], "target_lang": target_lang(model)}


def base_url(target: ChannelTarget) -> str:
    """The DeepL API root for this channel (free or pro host by key, unless a proxy is set)."""
    given = channel_base_url(target)
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
    data = loads_or_none(body)
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
        message = raw_message(body, status)
    if status == 456 and "quota" not in message.lower():
        message = f"{message} (DeepL character quota exceeded)"
    retryable, disables = failure_verdicts(status, message, None, None)
    if status in (403, 456):  # bad key / wrong host, and an exhausted quota: the channel cannot serve
        disables = True
    return failure(status, message, code="deepl_error", retryable=retryable, disables=disables)


class DeepLAnswerError(UpstreamRejected):
    """A 2xx DeepL answer without a translation (raised by ``parse_response``)."""


def to_openai_response(text: str, model: str, created: int | None = None) -> dict[str, Any]:
    return chat_completion(new_completion_id("deepl-"), model, [choice(assistant_message(text), "stop")],
                           created=created)


class DeepLStream(WholeBodyStream):
    """The whole JSON answer in, the translation as OpenAI chunks out (at ``finish``)."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created, new_completion_id("deepl-"))

    def _answer(self, body: bytes) -> list[bytes]:
        text = translation_text(loads_or_none(body))
        out: list[bytes] = []
        if text is None:
            f = parse_deepl_error(502, body)
            assert f.payload is not None
            self._fail(f.payload, out)
            return out
        self.text_parts.append(text)
        out.append(self._frame({"content": text}))
        out.append(self._frame({}, "stop"))
        self.done = True
        self._close(out)
        return out


class DeepLAdaptor(Adaptor):
    name = "deepl"
    modes = frozenset({CHAT})
    json_streams = True

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        body = to_deepl_request(req.body, req.model)
        headers = {"Content-Type": "application/json", "Authorization": "DeepL-Auth-Key " + target.key.strip()}
        return UpstreamRequest("POST", base_url(target) + "/v2/translate", headers, dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        text = translation_text(loads_or_none(body))
        if text is None:
            raise DeepLAnswerError(parse_deepl_error(502, body))
        return ParsedResponse(dumps(to_openai_response(text, req.requested_model)).encode(), None, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return DeepLStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_deepl_error(status, body)


__all__ = ["DeepLAdaptor", "DeepLStream", "target_lang", "source_text", "to_deepl_request", "base_url",
           "parse_deepl_error", "translation_text", "DeepLAnswerError"]
