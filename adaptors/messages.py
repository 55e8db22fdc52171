"""Anthropic Messages API served from any channel: ``POST /v1/messages`` <-> OpenAI chat.

The reverse of :mod:`adaptors.anthropic` (which speaks Messages to Claude channels for
OpenAI clients). Everything here is pure (no I/O):

* :func:`chat_request_from_messages` turns a Messages request into an OpenAI chat body
  (invalid input raises :class:`MessagesRequestError`, Anthropic's 400);
* :func:`messages_response_from_chat` turns a ``chat.completion`` into a Messages ``message``;
* :class:`MessagesFromChatStream` transcodes an OpenAI chat SSE stream into Messages SSE events;
* :class:`MessagesPassthroughStream` forwards a Claude channel's Messages stream unchanged and
  reads its usage; :func:`usage_of_message` reads a non-stream Messages answer's usage;
* :func:`anthropic_error_body` is Anthropic's error envelope; :func:`count_input_tokens` an
  estimate for ``/v1/messages/count_tokens``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .anthropic import FINISH_REASONS, anthropic_usage
from .base import StreamTranscoder, Usage
from .common import (
    assistant_message,
    count,
    count_tokens,
    dumps,
    function_tool,
    is_number,
    loads_or_none,
    new_call_id,
    normalize_tool_calls,
    positive_int,
    stop_list,
    tool_arguments,
)
from .sse import PassthroughReader, SSEDecoder, SSEEvent

# OpenAI finish_reason -> Anthropic stop_reason: FINISH_REASONS inverted, the first Anthropic
# reason of each OpenAI one winning (stop -> end_turn, length -> max_tokens).
STOP_REASONS: dict[str, str] = {
    **{openai: claude for claude, openai in reversed(FINISH_REASONS.items())},
    "function_call": "tool_use",
}

# reasoning_effort for a thinking budget: below 4096 low, below 16384 medium, else high.
_EFFORT_STEPS = ((4096, "low"), (16384, "medium"))
# output_config.effort -> reasoning_effort (OpenAI has no level above high).
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class MessagesRequestError(ValueError):
    """A Messages request that cannot be served (the route answers 400 invalid_request_error)."""


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error envelope; the error type follows the HTTP status (else ``api_error``)."""
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}


def stop_reason(finish: Any, tool_calls: bool = False) -> str:
    """An OpenAI finish_reason as an Anthropic stop_reason (none or unknown: ``end_turn``; a
    plain stop of an answer with tool calls: ``tool_use``)."""
    mapped = STOP_REASONS.get(str(finish), "end_turn") if finish else "end_turn"
    return "tool_use" if tool_calls and mapped == "end_turn" else mapped


# --------------------------------------------------------------------------- request


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """Content as a list of block objects (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise MessagesRequestError(f"{where}: expected a string or a list of content blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise MessagesRequestError(f"{where}.{j}: expected a content block object with a type")
    return content


def _text_blocks(content: Any, where: str) -> str:
    """The text of content that may only hold text blocks (``system``), joined by blank lines."""
    texts: list[str] = []
    for j, block in enumerate(_blocks(content, where)):
        if block["type"] != "text" or not isinstance(block.get("text"), str):
            raise MessagesRequestError(f"{where}.{j}: expected a text block")
        texts.append(block["text"])
    return "\n\n".join(t for t in texts if t)


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    stype = source.get("type") if isinstance(source, dict) else None
    if stype == "base64" and isinstance(source, dict) and isinstance(source.get("data"), str):
        url = f"data:{source.get('media_type') or 'image/png'};base64,{source['data']}"
    elif stype == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise MessagesRequestError(f"{where}.source: only base64 and url image sources are supported")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise MessagesRequestError(f"{where}.source: required")
    stype = source.get("type")
    if stype == "base64" and source.get("media_type") == "application/pdf" and isinstance(source.get("data"), str):
        title = block.get("title")
        filename = title if isinstance(title, str) and title else "document.pdf"
        return {"type": "file", "file": {"filename": filename,
                                         "file_data": f"data:application/pdf;base64,{source['data']}"}}
    if stype == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if stype == "content":
        return {"type": "text", "text": _content_text(source.get("content"))}
    raise MessagesRequestError(f"{where}.source: only base64 PDF, text and content document sources are supported")


def _content_text(content: Any) -> str:
    """The text blocks of content (a string, or blocks) joined by newlines; other blocks skipped."""
    if isinstance(content, str):
        return content
    texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)] \
        if isinstance(content, list) else []
    return "\n".join(t for t in texts if t)


def _tool_result(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the ``role: tool`` message, image parts of the result for the user message after it)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise MessagesRequestError(f"{where}.tool_use_id: required")
    content = block.get("content")
    images: list[dict[str, Any]] = []
    if isinstance(content, list):
        images = [_image_part(b, f"{where}.content.{j}") for j, b in enumerate(content)
                  if isinstance(b, dict) and b.get("type") == "image"]
    text = _content_text(content)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _user_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    btype = block["type"]
    if btype == "image":
        return _image_part(block, where)
    if btype == "document":
        return _document_part(block, where)
    if isinstance(block.get("text"), str):  # text, and any other block that carries text
        return {"type": "text", "text": block["text"]}
    raise MessagesRequestError(f"{where}: content block type {btype!r} is not supported in a user turn")


def _user_messages(content: Any, where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results as ``role: tool`` messages, then the rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, where)):
        if block["type"] == "tool_result":
            message, images = _tool_result(block, f"{where}.{j}")
            tool_messages.append(message)
            parts.extend(images)
        else:
            parts.append(_user_part(block, f"{where}.{j}"))
    if parts or not tool_messages:
        text_only = all(p["type"] == "text" for p in parts)
        tool_messages.append({"role": "user", "content": "\n".join(p["text"] for p in parts) if text_only else parts})
    return tool_messages


def _assistant_message(content: Any, where: str) -> dict[str, Any]:
    """An assistant turn: text, ``tool_calls`` from tool_use, ``reasoning_content`` from thinking."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, where)):
        btype = block["type"]
        if btype == "tool_use":
            if not isinstance(block.get("name"), str) or not isinstance(block.get("id"), str):
                raise MessagesRequestError(f"{where}.{j}: a tool_use block needs an id and a name")
            calls.append({"id": block["id"], "type": "function",
                          "function": {"name": block["name"], "arguments": dumps(block.get("input") or {})}})
        elif btype == "thinking":
            if isinstance(block.get("thinking"), str):
                reasoning.append(block["thinking"])
        elif btype == "redacted_thinking":
            continue  # encrypted: nothing another model can read
        elif isinstance(block.get("text"), str):
            texts.append(block["text"])
        else:
            raise MessagesRequestError(f"{where}.{j}: content block type {btype!r} is not supported in an assistant turn")
    return assistant_message("\n".join(t for t in texts if t), calls, "".join(reasoning))


def _tools(tools: Any) -> list[dict[str, Any]]:
    """Custom tools as OpenAI function tools. Anthropic's own tools (web search, code execution,
    bash, text editor...: a ``type`` other than ``custom``) have no schema to send and are skipped."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise MessagesRequestError("tools: expected a list")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise MessagesRequestError(f"tools.{i}: expected an object")
        if tool.get("type") not in (None, "custom"):
            continue
        if not isinstance(tool.get("name"), str) or not tool["name"] or not isinstance(tool.get("input_schema"), dict):
            raise MessagesRequestError(f"tools.{i}: a tool needs a name and an input_schema object")
        fn = function_tool({"function": {"name": tool["name"], "description": tool.get("description"),
                                         "parameters": tool["input_schema"]}})
        assert fn is not None
        out.append(fn)
    return out


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    """``tool_choice`` (and ``disable_parallel_tool_use``) into ``out``."""
    if choice is None:
        return
    ctype = choice.get("type") if isinstance(choice, dict) else None
    if ctype == "auto":
        out["tool_choice"] = "auto"
    elif ctype == "any":
        out["tool_choice"] = "required"
    elif ctype == "none":
        out["tool_choice"] = "none"
    elif ctype == "tool" and isinstance(choice, dict) and isinstance(choice.get("name"), str) and choice["name"]:
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise MessagesRequestError("tool_choice: expected type auto, any, none, or tool with a name")
    if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True and ctype != "none":
        out["parallel_tool_calls"] = False


def _reasoning_effort(body: dict[str, Any]) -> str | None:
    """reasoning_effort from ``thinking`` (enabled: by budget) or ``output_config.effort``."""
    effort: str | None = None
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = positive_int(thinking.get("budget_tokens"))
        if budget is None:
            raise MessagesRequestError("thinking.budget_tokens: required, a positive integer")
        effort = next((level for limit, level in _EFFORT_STEPS if budget < limit), "high")
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("effort") in _EFFORTS:
        effort = _EFFORTS[config["effort"]]
    return effort


def chat_request_from_messages(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI chat body (for ``model``) from an Anthropic Messages request body.

    Raises :class:`MessagesRequestError` for input Anthropic would reject. ``cache_control``,
    ``redacted_thinking`` and Anthropic's own (server) tools are dropped.
    """
    if not isinstance(body, dict):
        raise MessagesRequestError("the request body must be a JSON object")
    max_tokens = positive_int(body.get("max_tokens"))
    if max_tokens is None:
        raise MessagesRequestError("max_tokens: required, a positive integer")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise MessagesRequestError("messages: expected a non-empty list")

    chat: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        text = _text_blocks(system, "system")
        if text:
            chat.append({"role": "system", "content": text})
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "user":
            chat.extend(_user_messages(msg.get("content"), f"messages.{i}.content"))
        elif role == "assistant":
            chat.append(_assistant_message(msg.get("content"), f"messages.{i}.content"))
        else:
            raise MessagesRequestError(f"messages.{i}.role: expected 'user' or 'assistant'")

    out: dict[str, Any] = {"model": model, "messages": chat, "max_tokens": max_tokens}
    for key in ("temperature", "top_p", "top_k"):
        value = body.get(key)
        if value is not None:
            if not is_number(value):
                raise MessagesRequestError(f"{key}: expected a number")
            out[key] = value
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list):
            raise MessagesRequestError("stop_sequences: expected a list of strings")
        stop = stop_list(stops)
        if stop:
            out["stop"] = stop
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        out["user"] = metadata["user_id"]
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    effort = _reasoning_effort(body)
    if effort is not None:
        out["reasoning_effort"] = effort
    tools = _tools(body.get("tools"))
    if tools:  # tool_choice without tools is an OpenAI 400
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), out)
    return out


# --------------------------------------------------------------------------- response


def message_id(chat_id: Any) -> str:
    """A ``msg_`` id from a chat completion id (``chatcmpl-abc`` -> ``msg_abc``); a new one when none."""
    if not isinstance(chat_id, str) or not chat_id:
        return "msg_" + uuid.uuid4().hex
    if chat_id.startswith("msg_"):
        return chat_id
    return "msg_" + chat_id.removeprefix("chatcmpl-")


def _usage_fields(usage: Any) -> dict[str, int]:
    """Anthropic usage numbers from an OpenAI ``usage`` (input tokens exclude cached ones)."""
    u = Usage.from_openai(usage) or Usage()
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    cached = min(count(details.get("cached_tokens")) if isinstance(details, dict) else 0, u.prompt_tokens)
    return {"input_tokens": u.prompt_tokens - cached, "output_tokens": u.completion_tokens,
            "cache_read_input_tokens": cached}


def _reasoning(obj: dict[str, Any]) -> Any:
    """An OpenAI message's or delta's reasoning text (``reasoning_content``, or ``reasoning``)."""
    return obj.get("reasoning_content") or obj.get("reasoning")


def messages_response_from_chat(chat: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic ``message`` (answering ``model``) from an OpenAI ``chat.completion``."""
    choices = chat.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    msg = first.get("message") if isinstance(first.get("message"), dict) else {}
    content: list[dict[str, Any]] = []
    reasoning = _reasoning(msg)
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    text = text if isinstance(text, str) else _content_text(text)
    if text:
        content.append({"type": "text", "text": text})
    calls = msg.get("tool_calls") or ([{"function": msg["function_call"]}] if msg.get("function_call") else [])
    for call in normalize_tool_calls(calls):
        content.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                        "input": tool_arguments(call["function"]["arguments"])})
    usage = _usage_fields(chat.get("usage"))
    return {
        "id": message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(first.get("finish_reason"), any(b["type"] == "tool_use" for b in content)),
        "stop_sequence": None,
        "usage": {**usage, "cache_creation_input_tokens": 0},
    }


def usage_of_message(body: bytes | dict[str, Any]) -> Usage | None:
    """The usage of a non-stream Anthropic ``message`` (prompt counts cache reads and writes)."""
    data = loads_or_none(body) if isinstance(body, (bytes, bytearray)) else body
    return anthropic_usage(data.get("usage")) if isinstance(data, dict) else None


# --------------------------------------------------------------------------- streams


def event_frame(payload: dict[str, Any]) -> bytes:
    """One Anthropic SSE frame: ``event: <payload type>`` and the payload as ``data:``."""
    return f"event: {payload['type']}\ndata: {dumps(payload)}\n\n".encode()


@dataclass
class _ToolCall:
    """A streamed OpenAI tool call: its block index once opened, arguments not yet sent."""

    id: str = ""
    name: str = ""
    block: int | None = None
    pending: list[str] = field(default_factory=list)


class MessagesFromChatStream(StreamTranscoder):
    """OpenAI ``chat.completion.chunk`` SSE in (split anywhere), Anthropic Messages SSE out.

    ``input_tokens`` (the locally counted prompt) goes into ``message_start``; the upstream's
    usage chunk, when one comes, into ``message_delta`` (else output tokens are counted
    locally). Content blocks open in arrival order (thinking, text, one per tool call) and each
    closes when the next opens. ``message_delta``/``message_stop`` go out at ``[DONE]``, at the
    usage-only chunk after a finish reason, or at :meth:`finish`.
    """

    def __init__(self, model: str, input_tokens: int = 0) -> None:
        super().__init__()
        self._model = model
        self._input_tokens = input_tokens
        self._decoder = SSEDecoder()
        self._started = False  # message_start sent
        self._ended = False  # message_stop or error sent
        self._kind = ""  # the open block: "thinking", "text", "tool", or "" for none
        self._blocks = 0  # blocks opened so far (the next block's index)
        self._tools: dict[int, _ToolCall] = {}  # OpenAI tool-call index -> call
        self._finish: Any = None  # the upstream finish_reason
        self._cached = 0  # cached prompt tokens the upstream reported

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._ended:
            self._end(out)
        return out

    # -- internals --------------------------------------------------------------------------
    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if ev.data.strip() == "[DONE]":
                self.done = True
                if not self._ended:
                    self._end(out)
            if self._ended:
                continue
            obj = loads_or_none(ev.data) if ev.data else None
            if isinstance(obj, dict):
                self._chunk(obj, out)
        return out

    def _chunk(self, obj: dict[str, Any], out: list[bytes]) -> None:
        choices = obj.get("choices")
        if obj.get("error") and not choices:
            self._error(obj["error"], out)
            return
        self._start(out, obj.get("id"))
        if isinstance(obj.get("usage"), dict):
            usage = Usage.from_openai(obj["usage"])
            if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
                self.usage = usage
                self._cached = _usage_fields(obj["usage"])["cache_read_input_tokens"]
        first = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(first, dict):
            if self._finish is not None and self.usage is not None:  # the usage chunk after the finish
                self._end(out)
            return
        delta = first.get("delta") if isinstance(first.get("delta"), dict) else {}
        reasoning = _reasoning(delta)
        if isinstance(reasoning, str) and reasoning:
            self._append("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                         {"type": "thinking_delta", "thinking": reasoning}, out)
        if isinstance(delta.get("content"), str) and delta["content"]:
            self._append("text", {"type": "text", "text": ""}, {"type": "text_delta", "text": delta["content"]}, out)
        if isinstance(delta.get("tool_calls"), list):
            self._tool_deltas(delta["tool_calls"], out)
        if first.get("finish_reason"):
            self._finish = first["finish_reason"]
            self._close_block(out)

    def _start(self, out: list[bytes], chat_id: Any = None) -> None:
        if self._started:
            return
        self._started = True
        out.append(event_frame({"type": "message_start", "message": {
            "id": message_id(chat_id), "type": "message", "role": "assistant", "model": self._model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }}))
        out.append(event_frame({"type": "ping"}))

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        """Close the open block and open ``block``; its index."""
        self._close_block(out)
        index = self._blocks
        self._blocks += 1
        self._kind = kind
        out.append(event_frame({"type": "content_block_start", "index": index, "content_block": block}))
        return index

    def _close_block(self, out: list[bytes]) -> None:
        if not self._kind:
            return
        index = self._blocks - 1
        if self._kind == "thinking":  # no signature to give: the field is there, empty
            out.append(event_frame({"type": "content_block_delta", "index": index,
                                    "delta": {"type": "signature_delta", "signature": ""}}))
        out.append(event_frame({"type": "content_block_stop", "index": index}))
        self._kind = ""

    def _delta(self, delta: dict[str, Any], out: list[bytes]) -> None:
        out.append(event_frame({"type": "content_block_delta", "index": self._blocks - 1, "delta": delta}))

    def _append(self, kind: str, block: dict[str, Any], delta: dict[str, Any], out: list[bytes]) -> None:
        """A thinking or text delta, in a new block unless one of that kind is open."""
        if self._kind != kind:
            self._open(kind, block, out)
        self.text_parts.append(delta.get("thinking") or delta.get("text") or "")
        self._delta(delta, out)

    def _tool_deltas(self, calls: list[Any], out: list[bytes]) -> None:
        """Tool-call deltas: a call's block opens once its name is known; its arguments go out
        while it is the open block (those of a call already closed are dropped)."""
        for j, tc in enumerate(calls):
            if not isinstance(tc, dict):
                continue
            k = tc["index"] if isinstance(tc.get("index"), int) else j
            call = self._tools.setdefault(k, _ToolCall())
            fn = tc.get("function") if isinstance(tc.get("function"), dict) else {}
            if isinstance(tc.get("id"), str) and tc["id"] and not call.id:
                call.id = tc["id"]
            if isinstance(fn.get("name"), str) and fn["name"] and not call.name:
                call.name = fn["name"]
                self.text_parts.append(call.name)
            args = fn.get("arguments")
            if args is not None and not isinstance(args, str):
                args = dumps(args)
            if args:
                call.pending.append(args)
                self.text_parts.append(args)
            if call.block is None and call.name:
                call.block = self._open("tool", {"type": "tool_use", "id": call.id or new_call_id(),
                                                 "name": call.name, "input": {}}, out)
            if call.pending and self._kind == "tool" and call.block == self._blocks - 1:
                self._delta({"type": "input_json_delta", "partial_json": "".join(call.pending)}, out)
                call.pending.clear()

    def _end(self, out: list[bytes]) -> None:
        """message_delta (stop reason, usage) and message_stop, after closing the open block."""
        self._start(out)
        self._close_block(out)
        self._ended = True
        tools = any(c.block is not None for c in self._tools.values())
        usage: dict[str, int]
        if self.usage is not None:
            usage = {"input_tokens": self.usage.prompt_tokens - self._cached,
                     "cache_read_input_tokens": self._cached, "output_tokens": self.usage.completion_tokens}
        else:
            usage = {"output_tokens": count_tokens([self.completion_text], self._model)}
        out.append(event_frame({"type": "message_delta",
                                "delta": {"stop_reason": stop_reason(self._finish, tools), "stop_sequence": None},
                                "usage": usage}))
        out.append(event_frame({"type": "message_stop"}))

    def _error(self, err: Any, out: list[bytes]) -> None:
        """An upstream ``{"error": ...}`` frame: Anthropic's ``error`` event ends the stream."""
        message = (err.get("message") if isinstance(err, dict) else str(err)) or "upstream stream error"
        code = err.get("code") if isinstance(err, dict) else None
        status = code if isinstance(code, int) and not isinstance(code, bool) else 500
        self.error = str(message)
        self._ended = True
        out.append(event_frame(anthropic_error_body(status, str(message))))


class MessagesPassthroughStream(PassthroughReader):
    """A Claude channel's Messages stream, sent on as received (same chunks), read on the way:
    usage from ``message_start`` and ``message_delta`` (output tokens are cumulative), the
    generated text, thinking and tool input for local counting, ``error`` events."""

    def __init__(self) -> None:
        super().__init__()
        self._start_usage: dict[str, Any] = {}

    def _event(self, ev: SSEEvent) -> None:
        obj = loads_or_none(ev.data) if ev.data else None
        if not isinstance(obj, dict):
            return
        etype = obj.get("type") or ev.event
        if etype == "message_start" and isinstance(obj.get("message"), dict):
            start = obj["message"].get("usage")
            self._start_usage = start if isinstance(start, dict) else {}
        elif etype == "content_block_delta" and isinstance(obj.get("delta"), dict):
            delta = obj["delta"]
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json")
            if isinstance(piece, str):
                self.text_parts.append(piece)
        elif etype == "message_delta":
            final = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
            self.usage = anthropic_usage({**self._start_usage, **{k: v for k, v in final.items() if v is not None}})
        elif etype == "message_stop":
            self.done = True
        elif etype == "error":
            err = obj.get("error")
            self.error = str((err.get("message") if isinstance(err, dict) else err) or "upstream stream error")


# --------------------------------------------------------------------------- count_tokens


def count_input_tokens(body: dict[str, Any], model: str) -> int:
    """An estimate of a Messages request's input tokens (``/v1/messages/count_tokens``): the
    system, message and tool-schema text counted with tiktoken, not the model's own tokenizer;
    images and PDFs are not counted."""
    texts: list[str] = []
    system = body.get("system")
    texts.append(_content_text(system))
    messages = body.get("messages")
    for msg in messages if isinstance(messages, list) else ():
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            texts.append(content)
            continue
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "tool_use":
                texts += [str(block.get("name") or ""), dumps(block.get("input") or {})]
            elif btype == "tool_result":
                texts.append(_content_text(block.get("content")))
            elif btype == "thinking":
                texts.append(str(block.get("thinking") or ""))
            elif btype == "document" and isinstance(block.get("source"), dict) and block["source"].get("type") == "text":
                texts.append(str(block["source"].get("data") or ""))
            elif isinstance(block.get("text"), str):
                texts.append(block["text"])
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict):
            texts.append(dumps({k: tool.get(k) for k in ("name", "description", "input_schema") if k in tool}))
    return count_tokens([t for t in texts if t], model)


__all__ = [
    "MessagesRequestError", "MessagesFromChatStream", "MessagesPassthroughStream", "STOP_REASONS",
    "anthropic_error_body", "chat_request_from_messages", "count_input_tokens", "event_frame",
    "message_id", "messages_response_from_chat", "stop_reason", "usage_of_message",
]
