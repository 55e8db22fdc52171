"""Anthropic Messages (channel type 14): OpenAI chat <-> ``POST /v1/messages``.

Everything here is a pure converter (PROVIDERS.md §1a):

* :func:`to_anthropic_request` builds the Messages body from an OpenAI chat body
  through an allow-list (Anthropic answers 400 "Extra inputs are not permitted"
  to any unknown top-level field);
* :func:`to_openai_response` turns a Messages response into a ``chat.completion``;
* :class:`AnthropicStream` transcodes the Messages SSE stream into
  ``chat.completion.chunk`` frames, one event at a time, with explicit state;
* :func:`parse_anthropic_error` normalises ``{"type":"error","error":{...}}``.

Traps avoided (One API bugs): every system message is kept, not only the first;
the whole tool ``parameters`` schema is forwarded; stream tool calls carry an
``index`` (the tool ordinal, not the content block index); streamed output
tokens are taken from ``message_delta`` alone (they are cumulative).
"""

from __future__ import annotations

from typing import Any

from .base import (
    CHAT,
    MESSAGES,
    DONE_FRAME,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    UpstreamRequest,
    Usage,
    failure_verdicts,
)
from .common import (
    tool_choice_name,
    append_turn,
    ChatStream,
    channel_config,
    chat_completion,
    choice,
    dumps,
    error_payload,
    failure,
    is_number,
    loads_or_none,
    max_output_tokens,
    parse_data_url,
    positive_int,
    raw_message,
    stop_list,
    tool_arguments,
)
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[14].base_url
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

# Top-level fields the Messages API accepts (what the converter may emit).
ANTHROPIC_REQUEST_FIELDS = frozenset({
    "model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
})

# Anthropic stop_reason -> OpenAI finish_reason (PROVIDERS.md §0).
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

def finish_reason(stop_reason: Any) -> str | None:
    """Map an Anthropic ``stop_reason``; None stays None, unknown values become "stop"."""
    if stop_reason is None:
        return None
    return FINISH_REASONS.get(str(stop_reason), "stop")


# --------------------------------------------------------------------------- request


def image_block(url: str) -> dict[str, Any] | None:
    """An OpenAI image URL (data URL or http(s)) as an Anthropic image block."""
    url = url.strip()
    if url.startswith("data:"):
        parsed = parse_data_url(url)
        if parsed is None:
            return None
        media_type, data = parsed
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type or "image/png", "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    return None


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) as Anthropic text/image blocks.

    Empty text is dropped (Anthropic rejects empty text blocks), as are part
    types Anthropic has no equivalent for (audio, files). ``cache_control`` on
    a part is kept.
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            if part:
                blocks.append({"type": "text", "text": part})
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        block: dict[str, Any] | None = None
        if ptype == "text" or (ptype is None and isinstance(part.get("text"), str)):
            text = part.get("text")
            if isinstance(text, str) and text:
                block = {"type": "text", "text": text}
        elif ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if isinstance(url, str):
                block = image_block(url)
        if block is None:
            continue
        if isinstance(part.get("cache_control"), dict):
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if not isinstance(tool_calls, list):
        return blocks
    for i, tc in enumerate(tool_calls):
        if not isinstance(tc, dict):
            continue
        fn = tc.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        tc_id = tc.get("id")
        blocks.append({
            "type": "tool_use",
            "id": tc_id if isinstance(tc_id, str) and tc_id else f"toolu_{i}",
            "name": fn["name"],
            "input": tool_arguments(fn.get("arguments")),
        })
    return blocks


def _tool_result_block(msg: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(msg.get("tool_call_id") or "")}
    content = msg.get("content")
    if isinstance(content, str):
        block["content"] = content
    else:
        parts = content_blocks(content)
        if parts:
            block["content"] = parts
    if msg.get("is_error") is True:
        block["is_error"] = True
    return block


def _system_of(system_parts: list[list[dict[str, Any]]]) -> str | list[dict[str, Any]] | None:
    texts = [b for blocks in system_parts for b in blocks if b["type"] == "text"]
    if not texts:
        return None
    if any("cache_control" in b for b in texts):
        return texts  # keep the caller's prompt-cache breakpoints
    return "\n\n".join(b["text"] for b in texts)


def convert_messages(messages: Any) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(system, messages) for Anthropic from OpenAI chat messages.

    System and developer messages all go to ``system``; ``role: tool`` messages
    become ``tool_result`` blocks of a user turn; messages of the same role
    next to each other are merged into one turn (tool results first); messages
    left without content are dropped.
    """
    system_parts: list[list[dict[str, Any]]] = []
    turns: list[dict[str, Any]] = []
    if not isinstance(messages, list):
        return None, turns
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in ("system", "developer"):
            system_parts.append(content_blocks(msg.get("content")))
            continue
        if role == "tool":
            role, blocks = "user", [_tool_result_block(msg)]
        elif role == "assistant":
            blocks = content_blocks(msg.get("content"))
            blocks = [b for b in blocks if b["type"] == "text"]  # assistants cannot send images
            blocks += _tool_use_blocks(msg.get("tool_calls"))
        elif role == "user":
            blocks = content_blocks(msg.get("content"))
        else:
            continue
        if not blocks:
            continue
        append_turn(turns, role, blocks)
    for turn in turns:
        content = turn["content"]
        if turn["role"] == "user" and any(b["type"] == "tool_result" for b in content):
            # tool_result blocks must lead the user turn that answers a tool_use turn.
            turn["content"] = ([b for b in content if b["type"] == "tool_result"]
                               + [b for b in content if b["type"] != "tool_result"])
    return _system_of(system_parts), turns


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not isinstance(tools, list):
        return out
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        params = fn.get("parameters")
        if not isinstance(params, dict) or not params:
            params = {"type": "object", "properties": {}}
        entry: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str) and fn["description"]:
            entry["description"] = fn["description"]
        entry["input_schema"] = params
        if isinstance(tool.get("cache_control"), dict):
            entry["cache_control"] = tool["cache_control"]
        out.append(entry)
    return out


def convert_tool_choice(tool_choice: Any, parallel_tool_calls: Any) -> dict[str, Any] | None:
    choice: dict[str, Any] | None = None
    if tool_choice == "auto":
        choice = {"type": "auto"}
    elif tool_choice == "required":
        choice = {"type": "any"}
    elif tool_choice == "none":
        choice = {"type": "none"}
    elif (name := tool_choice_name(tool_choice)) is not None:
        choice = {"type": "tool", "name": name}
    if parallel_tool_calls is False:
        if choice is None:
            choice = {"type": "auto"}
        if choice["type"] != "none":  # {type:none} takes no other field
            choice["disable_parallel_tool_use"] = True
    return choice


def to_anthropic_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic Messages body from an OpenAI chat body (allow-list; all else dropped)."""
    system, messages = convert_messages(body.get("messages"))
    out: dict[str, Any] = {"model": model}
    if system is not None:
        out["system"] = system
    out["messages"] = messages

    out["max_tokens"] = max_output_tokens(body) or DEFAULT_MAX_TOKENS

    thinking = body.get("thinking")  # non-standard pass-through for Claude-aware clients
    thinking_on = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        out["thinking"] = thinking
        budget = positive_int(thinking.get("budget_tokens")) if thinking_on else None
        if budget is not None and out["max_tokens"] <= budget:
            out["max_tokens"] = budget + DEFAULT_MAX_TOKENS  # budget must be < max_tokens

    temperature = body.get("temperature")
    if is_number(temperature) and not thinking_on:  # thinking allows no temperature change
        out["temperature"] = min(1.0, max(0.0, float(temperature)))
    top_p = body.get("top_p")
    if is_number(top_p):
        out["top_p"] = min(1.0, max(0.0, float(top_p)))
    top_k = positive_int(body.get("top_k"))
    if top_k is not None and not thinking_on:
        out["top_k"] = top_k

    stops = [s for s in stop_list(body.get("stop")) if s.strip()]  # no blank stop sequence
    if stops:
        out["stop_sequences"] = stops

    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}

    if isinstance(body.get("stream"), bool):
        out["stream"] = body["stream"]

    tools = convert_tools(body.get("tools"))
    if tools:  # tool_choice without tools is a 400
        out["tools"] = tools
        choice = convert_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    return out


# --------------------------------------------------------------------------- response


def anthropic_usage(usage: Any) -> Usage | None:
    """prompt = input + cache read + cache creation; completion = output."""
    if not isinstance(usage, dict):
        return None

    def tok(key: str) -> int:
        v = usage.get(key)
        return int(v) if is_number(v) else 0

    prompt = tok("input_tokens") + tok("cache_read_input_tokens") + tok("cache_creation_input_tokens")
    return Usage(prompt, tok("output_tokens"), cached_tokens=tok("cache_read_input_tokens"))


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None
                       ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from an Anthropic Messages response."""
    texts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    generated: list[str] = []
    for block in data.get("content") or ():
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
            generated.append(block["text"])
        elif btype == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
            generated.append(block["thinking"])
        elif btype == "tool_use":
            name = str(block.get("name") or "")
            args = dumps(block.get("input") if block.get("input") is not None else {})
            tool_calls.append({
                "id": str(block.get("id") or ""),
                "type": "function",
                "function": {"name": name, "arguments": args},
            })
            generated.append(name)
            generated.append(args)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    usage = anthropic_usage(data.get("usage"))
    out = chat_completion(str(data.get("id") or "chatcmpl-anthropic"), model,
                          [choice(message, finish_reason(data.get("stop_reason")) or "stop")], usage, created)
    return out, usage, "".join(generated)


def parse_anthropic_response(req: RelayRequest, body: bytes) -> ParsedResponse:
    """A Messages answer (Anthropic's own, or relayed by Bedrock) as the client's ``chat.completion``;
    a body that is not a JSON object goes back as it is."""
    data = loads_or_none(body)
    if not isinstance(data, dict):
        return ParsedResponse(body, None, "")
    out, usage, text = to_openai_response(data, req.requested_model)
    return ParsedResponse(dumps(out).encode(), usage, text)


# --------------------------------------------------------------------------- errors


def _error_object(err: Any, fallback: str) -> tuple[str, str | None]:
    """(message, anthropic error type) from an ``error`` value."""
    if isinstance(err, dict):
        etype = err.get("type")
        return str(err.get("message") or fallback), etype if isinstance(etype, str) else None
    if isinstance(err, str) and err:
        return err, None
    return fallback, None


def parse_anthropic_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    fallback = f"upstream returned HTTP {status}"
    if isinstance(data, dict) and "error" in data:
        message, etype = _error_object(data["error"], fallback)
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        message, etype = data["message"], None
    else:
        message, etype = raw_message(body, status), None
    retryable, disables = failure_verdicts(status, message, etype, etype)
    if etype == "billing_error":  # the account cannot pay: no use retrying this channel
        disables = True
    return failure(status, message, etype or "upstream_error", etype, retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class AnthropicStream(ChatStream):
    """Anthropic Messages SSE in, OpenAI ``chat.completion.chunk`` frames out."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created, "chatcmpl-anthropic")
        self._decoder = SSEDecoder()
        self._tool_index: dict[int, int] = {}  # content block index -> tool ordinal
        self._start_usage: dict[str, Any] = {}  # message_start usage

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:  # the upstream was cut before message_stop
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    # -- internals --------------------------------------------------------------------------
    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if self._sent_done:
                break
            obj = loads_or_none(ev.data) if ev.data else None
            if not isinstance(obj, dict):
                continue
            etype = obj.get("type") or ev.event
            handler = _HANDLERS.get(etype)
            if handler is not None:
                handler(self, obj, out)
        return out

    def _on_message_start(self, obj: dict[str, Any], out: list[bytes]) -> None:
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return
        if isinstance(msg.get("id"), str) and msg["id"]:
            self._id = msg["id"]
        if isinstance(msg.get("usage"), dict):
            self._start_usage = msg["usage"]
        if 0 not in self._role_sent:
            out.append(self._frame({"content": ""}))

    def _on_block_start(self, obj: dict[str, Any], out: list[bytes]) -> None:
        block = obj.get("content_block")
        if not isinstance(block, dict):
            return
        btype = block.get("type")
        if btype == "tool_use":
            k = len(self._tool_index)
            idx = obj.get("index")
            self._tool_index[idx if isinstance(idx, int) else -1 - k] = k
            name = str(block.get("name") or "")
            self.text_parts.append(name)
            out.append(self._frame({"tool_calls": [{
                "index": k, "id": str(block.get("id") or ""), "type": "function",
                "function": {"name": name, "arguments": ""},
            }]}))
        elif btype == "text" and isinstance(block.get("text"), str) and block["text"]:
            self.text_parts.append(block["text"])
            out.append(self._frame({"content": block["text"]}))
        elif btype == "thinking" and isinstance(block.get("thinking"), str) and block["thinking"]:
            self.text_parts.append(block["thinking"])
            out.append(self._frame({"reasoning_content": block["thinking"]}))

    def _on_block_delta(self, obj: dict[str, Any], out: list[bytes]) -> None:
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            if isinstance(text, str) and text:
                self.text_parts.append(text)
                out.append(self._frame({"content": text}))
        elif dtype == "thinking_delta":
            text = delta.get("thinking")
            if isinstance(text, str) and text:
                self.text_parts.append(text)
                out.append(self._frame({"reasoning_content": text}))
        elif dtype == "input_json_delta":
            partial = delta.get("partial_json")
            k = self._tool_index.get(obj.get("index"))  # type: ignore[arg-type]
            if k is None and self._tool_index:
                k = max(self._tool_index.values())
            if k is not None and isinstance(partial, str) and partial:
                self.text_parts.append(partial)
                out.append(self._frame({"tool_calls": [{"index": k, "function": {"arguments": partial}}]}))
        # signature_delta, citations_delta: nothing to relay

    def _on_message_delta(self, obj: dict[str, Any], out: list[bytes]) -> None:
        delta = obj.get("delta")
        stop = delta.get("stop_reason") if isinstance(delta, dict) else None
        out.append(self._frame({}, finish_reason(stop) or "stop"))
        merged = dict(self._start_usage)
        final = obj.get("usage")
        if isinstance(final, dict):
            # output_tokens is cumulative; newer APIs repeat (cumulative) input fields here too.
            merged.update({k: v for k, v in final.items() if v is not None})
        self.usage = anthropic_usage(merged)
        self._usage_frame(out)

    def _on_message_stop(self, obj: dict[str, Any], out: list[bytes]) -> None:
        self.done = True
        self._sent_done = True
        out.append(DONE_FRAME)

    def _on_error(self, obj: dict[str, Any], out: list[bytes]) -> None:
        message, etype = _error_object(obj.get("error"), "upstream stream error")
        self._fail(error_payload(message, etype or "upstream_error", etype), out)


_HANDLERS: dict[str, Any] = {
    "message_start": AnthropicStream._on_message_start,
    "content_block_start": AnthropicStream._on_block_start,
    "content_block_delta": AnthropicStream._on_block_delta,
    "message_delta": AnthropicStream._on_message_delta,
    "message_stop": AnthropicStream._on_message_stop,
    "error": AnthropicStream._on_error,
    # ping, content_block_stop: ignored
}


# --------------------------------------------------------------------------- adaptor


class AnthropicAdaptor(Adaptor):
    """OpenAI chat converted both ways; Anthropic's own Messages requests (``/v1/messages``)
    passed through byte for byte unless the model is mapped."""

    name = "anthropic"
    modes = frozenset({CHAT, MESSAGES})

    def url(self, target: ChannelTarget) -> str:
        base = (target.base_url or "").rstrip("/") or DEFAULT_BASE_URL
        return base + "/v1/messages"

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        h = {
            "Content-Type": "application/json",
            "x-api-key": target.key,
            "anthropic-version": ANTHROPIC_VERSION,
        }
        beta = channel_config(target).get("anthropic_beta")
        if isinstance(beta, (list, tuple)):
            beta = ",".join(str(b) for b in beta if b)
        if isinstance(beta, str) and beta.strip():
            h["anthropic-beta"] = beta.strip()
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == MESSAGES:
            h = self.headers(target)
            if req.headers.get("anthropic-version"):
                h["anthropic-version"] = req.headers["anthropic-version"]
            betas = [b for b in (req.headers.get("anthropic-beta"), h.get("anthropic-beta")) if b]
            if betas:
                h["anthropic-beta"] = ",".join(dict.fromkeys(x.strip() for b in betas for x in b.split(",")))
            return UpstreamRequest("POST", self.url(target), h, req.body_bytes())
        body = to_anthropic_request(req.body, req.model)
        if req.stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        return UpstreamRequest("POST", self.url(target), self.headers(target), dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode == MESSAGES:
            from .messages import usage_of_message
            return ParsedResponse(body, usage_of_message(body), "")
        return parse_anthropic_response(req, body)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        if req.mode == MESSAGES:
            from .messages import MessagesPassthroughStream
            return MessagesPassthroughStream()
        return AnthropicStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_anthropic_error(status, body)



__all__ = [
    "AnthropicAdaptor", "AnthropicStream", "ANTHROPIC_REQUEST_FIELDS",
    "to_anthropic_request", "to_openai_response", "parse_anthropic_response", "parse_anthropic_error",
    "convert_messages",
    "convert_tools", "convert_tool_choice", "content_blocks", "image_block", "anthropic_usage",
    "finish_reason",
]
