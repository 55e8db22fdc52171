"""Coze (channel type 34): OpenAI chat <-> Coze v3 bot chat (``POST {base}/v3/chat``).

* The bot id comes from the model name: ``bot-<id>`` → ``<id>`` (One API's rule; a name
  without the prefix is used as the id). The user id is the channel's ``user_id`` config
  field, else the request's ``user``, else ``onerelay``.
* The OpenAI messages become ``additional_messages`` (user → ``question``, assistant →
  ``answer``; system/developer messages are sent as user text since v3 has no system role;
  tool traffic is dropped: a bot runs its own plugins). User images given by http(s) URL
  are sent as an ``object_string`` message.
* Coze answers a non-stream v3 chat with only the chat's status and wants the client to
  poll ``/v3/chat/retrieve`` and then list the messages. Adaptors do no I/O, so the
  upstream request is always ``stream: true``: a stream request is transcoded event by
  event, and a non-stream request's SSE body is assembled into one ``chat.completion`` in
  :meth:`CozeAdaptor.parse_response`.
* Events: ``conversation.message.delta`` (``type: answer`` content, and
  ``reasoning_content`` when the bot's model reasons) → chunks;
  ``conversation.message.completed`` → only an answer that had no deltas;
  ``conversation.chat.completed`` → finish + usage (``usage{input_count,output_count}``);
  ``conversation.chat.failed`` / ``error`` → an error; ``done`` → ``[DONE]``.
* Errors are ``{"code": <int>, "msg": ...}``, also on HTTP 200 (4100/4101: bad token).
"""

from __future__ import annotations

import json
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
    Usage,
    failure_verdicts,
)
from .common import (
    ChatStream,
    assistant_message,
    channel_base_url,
    channel_config,
    chat_completion,
    choice,
    dumps,
    failure,
    loads_or_none,
    raw_message,
    split_content,
)
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[34].base_url
DEFAULT_USER_ID = "onerelay"
BOT_PREFIX = "bot-"
# Coze error codes for a token that is invalid or lacks access.
AUTH_CODES = frozenset({4100, 4101, 4102})


# --------------------------------------------------------------------------- request


def bot_id(model: str) -> str:
    model = model.strip()
    return model[len(BOT_PREFIX):] if model.startswith(BOT_PREFIX) else model


def user_id(body: dict[str, Any], target: ChannelTarget) -> str:
    for v in (channel_config(target).get("user_id"), body.get("user")):
        if v is not None and str(v).strip():
            return str(v).strip()
    return DEFAULT_USER_ID


def _parts(content: Any) -> tuple[list[str], list[str]]:
    """(texts, http(s) image URLs) of an OpenAI message content (Coze takes no data URLs)."""
    texts, images = split_content(content)
    return texts, [u for u in images if u.startswith(("http://", "https://"))]


def convert_message(msg: Any) -> dict[str, Any] | None:
    """One OpenAI message as a Coze v3 message; None when it carries nothing to send."""
    if not isinstance(msg, dict):
        return None
    role = msg.get("role")
    texts, images = _parts(msg.get("content"))
    if role == "assistant":
        if not texts:
            return None
        return {"role": "assistant", "type": "answer", "content": "\n".join(texts), "content_type": "text"}
    if role not in ("user", "system", "developer"):
        return None  # tool results and legacy function messages: the bot runs its own tools
    if role == "user" and images:
        objects: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
        objects += [{"type": "image", "file_url": u} for u in images]
        return {"role": "user", "type": "question", "content": dumps(objects), "content_type": "object_string"}
    if not texts:
        return None
    return {"role": "user", "type": "question", "content": "\n".join(texts), "content_type": "text"}


def to_coze_request(body: dict[str, Any], model: str, target: ChannelTarget) -> dict[str, Any]:
    msgs = body.get("messages")
    additional = [m for m in (convert_message(x) for x in (msgs if isinstance(msgs, list) else ())) if m]
    return {
        "bot_id": bot_id(model),
        "user_id": user_id(body, target),
        "stream": True,  # always: a non-stream v3 chat must be polled (see the module doc)
        "additional_messages": additional,
    }


# --------------------------------------------------------------------------- errors


def _code_msg(data: Any) -> tuple[Any, str] | None:
    """(code, message) of a Coze error object; None when ``data`` is not one."""
    if not isinstance(data, dict):
        return None
    err = data.get("last_error") if isinstance(data.get("last_error"), dict) else data
    code = err.get("code")
    msg = err.get("msg") if isinstance(err.get("msg"), str) else err.get("message")
    if code in (0, "0") or (code is None and not msg):
        return None  # code 0 is success
    return code, (msg if isinstance(msg, str) and msg else f"Coze error {code}")


def coze_failure(status: int, code: Any, message: str) -> UpstreamFailure:
    try:
        icode: int | None = int(code)
    except (TypeError, ValueError):
        icode = None
    retryable, disables = failure_verdicts(status, message, None, None)
    if icode in AUTH_CODES:
        disables = True
    code = icode if icode is not None else code
    return failure(status, message, code=code, retryable=retryable, disables=disables)


def parse_coze_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    cm = _code_msg(data)
    if cm is None and isinstance(data, dict) and isinstance(data.get("error"), dict):
        cm = _code_msg(data["error"])
    if cm is None:
        # an SSE body whose only content is an error event
        ts = CozeStream(None)
        ts.feed(body)
        ts.finish()
        if ts.error is not None:
            return coze_failure(status, ts.error_code, ts.error)
        return coze_failure(status, None, raw_message(body, status))
    return coze_failure(status, *cm)


class CozeAnswerError(UpstreamRejected):
    """A 2xx Coze answer that is an error (raised by ``parse_response``, before the client
    got anything: the relay answers it in OpenAI's error shape and may retry)."""


# --------------------------------------------------------------------------- stream


def _usage(chat: dict[str, Any]) -> Usage | None:
    u = chat.get("usage")
    if not isinstance(u, dict):
        return None
    try:
        prompt = int(u.get("input_count") or 0)
        completion = int(u.get("output_count") or 0)
    except (TypeError, ValueError):
        return None
    if not prompt and not completion:
        return None
    return Usage(prompt, completion)


_DEFAULT_ID = "chatcmpl-coze"  # until the chat's id arrives


class CozeStream(ChatStream):
    """Coze v3 chat SSE in, OpenAI ``chat.completion.chunk`` frames out.

    Also used without a request (``req=None``) to read a whole SSE body: the answer is then
    in ``content_parts`` / ``reasoning_parts``.
    """

    def __init__(self, req: RelayRequest | None, created: int | None = None) -> None:
        super().__init__(req, created, _DEFAULT_ID)
        self._decoder = SSEDecoder()
        self._finish_sent = False
        self._delta_ids: set[str] = set()  # messages already streamed by deltas
        self.content_parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.finish_reason: str | None = None
        self.error_code: Any = None

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:  # cut before the done event
            if self.usage is not None and not self._finish_sent and self.error is None:
                self._finish(out, "stop")
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    @property
    def id(self) -> str:
        """The chat's id (the stream's chunk id)."""
        return self._id

    # -- internals --------------------------------------------------------------------------
    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if self._sent_done:
                break
            name = ev.event
            data: Any = None
            if ev.data:
                try:
                    data = json.loads(ev.data)
                except ValueError:
                    data = ev.data
            handler = _HANDLERS.get(name)
            if handler is not None:
                handler(self, data, out)
        return out

    def _text(self, out: list[bytes], content: str, reasoning: str) -> None:
        delta: dict[str, Any] = {}
        if reasoning:
            self.reasoning_parts.append(reasoning)
            self.text_parts.append(reasoning)
            delta["reasoning_content"] = reasoning
        if content:
            self.content_parts.append(content)
            self.text_parts.append(content)
            delta["content"] = content
        if delta:
            out.append(self._frame(delta))

    def _on_chat(self, data: Any, out: list[bytes]) -> None:
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"] and self._id == _DEFAULT_ID:
            self._id = data["id"]

    def _on_delta(self, data: Any, out: list[bytes]) -> None:
        if not isinstance(data, dict) or data.get("role", "assistant") != "assistant":
            return
        if data.get("type", "answer") != "answer":
            return
        content = data.get("content") if data.get("content_type", "text") == "text" else None
        reasoning = data.get("reasoning_content")
        content = content if isinstance(content, str) else ""
        reasoning = reasoning if isinstance(reasoning, str) else ""
        if isinstance(data.get("id"), str) and (content or reasoning):
            self._delta_ids.add(data["id"])
        self._text(out, content, reasoning)

    def _on_completed(self, data: Any, out: list[bytes]) -> None:
        # A completed answer repeats its deltas; one that came without deltas is sent whole.
        if not isinstance(data, dict) or data.get("role", "assistant") != "assistant":
            return
        if data.get("type") != "answer" or data.get("content_type", "text") != "text":
            return
        mid = data.get("id")
        if isinstance(mid, str) and mid in self._delta_ids:
            return
        if not isinstance(mid, str) and self.content_parts:
            return
        content = data.get("content")
        reasoning = data.get("reasoning_content")
        self._text(out, content if isinstance(content, str) else "",
                   reasoning if isinstance(reasoning, str) else "")

    def _finish(self, out: list[bytes], reason: str) -> None:
        self._finish_sent = True
        self.finish_reason = reason
        out.append(self._frame({}, reason))
        self._usage_frame(out)

    def _on_chat_completed(self, data: Any, out: list[bytes]) -> None:
        if isinstance(data, dict):
            self._on_chat(data, out)
            self.usage = _usage(data)
        if not self._finish_sent:
            self._finish(out, "stop")

    def _on_requires_action(self, data: Any, out: list[bytes]) -> None:
        # The bot waits for the output of a client-side plugin, which OpenAI clients cannot give.
        self._on_chat(data, out)
        if not self._finish_sent:
            self._finish(out, "stop")

    def _chat_error(self, data: Any, out: list[bytes], fallback: str) -> None:
        cm = _code_msg(data)
        code, message = cm if cm is not None else (None, data if isinstance(data, str) and data else fallback)
        self.error_code = code
        f = coze_failure(502, code, message)
        assert f.payload is not None
        self._fail(f.payload, out)

    def _on_failed(self, data: Any, out: list[bytes]) -> None:
        self._chat_error(data, out, "the Coze chat failed")

    def _on_error(self, data: Any, out: list[bytes]) -> None:
        self._chat_error(data, out, "Coze stream error")

    def _on_done(self, data: Any, out: list[bytes]) -> None:
        if not self._finish_sent:
            self._finish(out, "stop")
        self.done = True
        self._sent_done = True
        out.append(DONE_FRAME)


_HANDLERS: dict[str, Any] = {
    "conversation.chat.created": CozeStream._on_chat,
    "conversation.chat.in_progress": CozeStream._on_chat,
    "conversation.message.delta": CozeStream._on_delta,
    "conversation.message.completed": CozeStream._on_completed,
    "conversation.chat.completed": CozeStream._on_chat_completed,
    "conversation.chat.requires_action": CozeStream._on_requires_action,
    "conversation.chat.failed": CozeStream._on_failed,
    "error": CozeStream._on_error,
    "done": CozeStream._on_done,
    # conversation.audio.delta and unknown events: ignored
}


# --------------------------------------------------------------------------- adaptor


def assemble_response(req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
    """One ``chat.completion`` from a whole Coze SSE body (a non-stream client request)."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        # JSON instead of events: an error (often on HTTP 200), or a chat object we cannot poll
        cm = _code_msg(loads_or_none(body))
        if cm is not None:
            raise CozeAnswerError(coze_failure(502, *cm))
        raise CozeAnswerError(coze_failure(502, None, "Coze answered JSON instead of an event stream: "
                                           + body.decode("utf-8", "replace")[:200]))
    ts = CozeStream(req)
    ts.feed(body)
    ts.finish()
    if ts.error is not None:
        raise CozeAnswerError(coze_failure(502, ts.error_code, ts.error))
    if not ts.content_parts and not ts.reasoning_parts and ts.usage is None and not ts.done:
        raise CozeAnswerError(coze_failure(502, None, "Coze answered no chat events: "
                                           + body.decode("utf-8", "replace")[:200]))
    message = assistant_message("".join(ts.content_parts), None, "".join(ts.reasoning_parts))
    out = chat_completion(ts.id, req.requested_model, [choice(message, ts.finish_reason or "stop")], ts.usage)
    return ParsedResponse(dumps(out).encode(), ts.usage, ts.completion_text)


class CozeAdaptor(Adaptor):
    name = "coze"
    modes = frozenset({CHAT})

    def url(self, target: ChannelTarget) -> str:
        return channel_base_url(target, DEFAULT_BASE_URL) + "/v3/chat"

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        body = to_coze_request(req.body, req.model, target)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + target.key.strip()}
        return UpstreamRequest("POST", self.url(target), headers, dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        return assemble_response(req, status, body)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return CozeStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_coze_error(status, body)


__all__ = ["CozeAdaptor", "CozeStream", "CozeAnswerError", "bot_id", "user_id", "convert_message",
           "to_coze_request", "parse_coze_error", "assemble_response"]
