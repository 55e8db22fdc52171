"""Ollama, native API (channel type 30): OpenAI chat <-> ``POST /api/chat``, embeddings <-> ``POST /api/embed``.

Pure converters (PROVIDERS.md §6 "Ollama"; ollama/ollama docs/api.md):

* :func:`to_ollama_request` builds the ``/api/chat`` body: messages (text parts joined,
  base64 images into ``images``, assistant ``tool_calls`` with object arguments, tool results
  with ``tool_name`` found through ``tool_call_id``), ``tools`` (same shape as OpenAI),
  ``format`` from ``response_format`` and ``options`` (temperature, top_p, top_k,
  num_predict ← max_completion_tokens/max_tokens, stop, seed, penalties, num_ctx);
  ``stream`` is always sent because Ollama streams by default;
* :func:`to_openai_response` turns the final chat object into a ``chat.completion``;
* :class:`OllamaStream` transcodes the NDJSON stream (one JSON object per line) into
  ``chat.completion.chunk`` frames, one line at a time, with explicit state;
* :func:`to_ollama_embed_request` / :func:`to_openai_embeddings` for ``/api/embed``;
* :func:`parse_ollama_error` normalises ``{"error": "..."}``.

Usage is ``prompt_eval_count`` / ``eval_count`` (the final object); done_reason ``stop``
becomes ``tool_calls`` when the reply called tools, ``length`` stays ``length``. Tool calls
carry no id on older servers: one is made up (``call_…``). One API bugs avoided: all text
parts are kept (not only the last), tools and tool calls are relayed, the finish reason
and stream usage come from the final object, no finish_reason on every chunk.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CHAT,
    EMBEDDINGS,
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
    LineStream,
    assistant_message,
    base64_floats,
    channel_base_url,
    chat_completion,
    choice,
    count,
    dumps,
    error_payload,
    failure,
    finish_lookup,
    function_tool,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_call_id,
    new_completion_id,
    parse_data_url,
    positive_int,
    raw_message,
    stop_list,
    tool_arguments,
)
from .registry import PROVIDERS

DEFAULT_BASE_URL = PROVIDERS[30].base_url

# Ollama done_reason -> OpenAI finish_reason ("load"/"unload" answer an empty prompt).
FINISH_REASONS: dict[str, str] = {"stop": "stop", "length": "length"}


def finish_reason(done_reason: Any, tool_calls: bool = False) -> str:
    """Map ``done_reason`` (absent on old servers: "stop"); "stop" with tool calls is "tool_calls"."""
    return finish_lookup(FINISH_REASONS, done_reason or "", tool_calls)


# --------------------------------------------------------------------------- request


def image_data(url: str) -> str | None:
    """The raw base64 of a ``data:`` URL (Ollama wants bare base64); None for anything else.

    Ollama cannot fetch http(s) images and an adaptor opens no sockets, so URLs are dropped.
    """
    parsed = parse_data_url(url.strip())
    return (parsed[1].strip() or None) if parsed is not None else None


def split_content(content: Any) -> tuple[str, list[str]]:
    """(text, base64 images) of OpenAI message content; text parts are joined by newlines."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return "", []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        if ptype == "text" or (ptype is None and isinstance(part.get("text"), str)):
            if isinstance(part.get("text"), str) and part["text"]:
                texts.append(part["text"])
        elif ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            data = image_data(url) if isinstance(url, str) else None
            if data:
                images.append(data)
    return "\n".join(texts), images


def convert_messages(messages: Any) -> list[dict[str, Any]]:
    """Ollama chat messages from OpenAI ones (developer → system; unknown roles dropped)."""
    out: list[dict[str, Any]] = []
    if not isinstance(messages, list):
        return out
    call_names: dict[str, str] = {}  # tool_call_id -> function name, for role:tool messages
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            continue
        text, images = split_content(msg.get("content"))
        entry: dict[str, Any] = {"role": role, "content": text}
        if images and role == "user":
            entry["images"] = images
        if role == "assistant":
            thinking = msg.get("reasoning_content")
            if isinstance(thinking, str) and thinking:
                entry["thinking"] = thinking
            calls = []
            for tc in msg.get("tool_calls") or ():
                fn = tc.get("function") if isinstance(tc, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    continue
                call: dict[str, Any] = {"function": {"name": fn["name"],
                                                     "arguments": tool_arguments(fn.get("arguments"))}}
                if isinstance(tc.get("id"), str) and tc["id"]:
                    call["id"] = tc["id"]
                    call_names[tc["id"]] = fn["name"]
                calls.append(call)
            if calls:
                entry["tool_calls"] = calls
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            name = msg.get("name") if isinstance(msg.get("name"), str) else None
            if not name and isinstance(call_id, str):
                name = call_names.get(call_id)
            if name:
                entry["tool_name"] = name
            if isinstance(call_id, str) and call_id:
                entry["tool_call_id"] = call_id
        out.append(entry)
    return out


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools, in the OpenAI shape Ollama also uses (the whole parameters schema)."""
    if not isinstance(tools, list):
        return []
    return [t for t in map(function_tool, tools) if t is not None]


def response_format(fmt: Any) -> str | dict[str, Any] | None:
    """``response_format`` as Ollama's ``format``: "json" or a JSON schema."""
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "json"
    if fmt.get("type") == "json_schema":
        js = fmt.get("json_schema")
        schema = js.get("schema") if isinstance(js, dict) else None
        return schema if isinstance(schema, dict) else "json"
    return None


def convert_options(body: dict[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"),
                     ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty")):
        if is_number(body.get(src)):
            opts[dst] = body[src]
    for key in ("top_k", "num_ctx"):  # non-standard fields Ollama-aware clients send
        v = positive_int(body.get(key))
        if v is not None:
            opts[key] = v
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        opts["num_predict"] = max_tokens
    stops = stop_list(body.get("stop"))
    if stops:
        opts["stop"] = stops
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        opts["seed"] = seed
    extra = body.get("options")  # an Ollama-aware client's own options win
    if isinstance(extra, dict):
        opts.update(extra)
    return opts


def to_ollama_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """The ``/api/chat`` body for an OpenAI chat body (allow-list; everything else dropped)."""
    out: dict[str, Any] = {"model": model, "messages": convert_messages(body.get("messages")),
                           "stream": stream}
    tools = convert_tools(body.get("tools"))
    if tools and body.get("tool_choice") != "none":
        out["tools"] = tools
    fmt = response_format(body.get("response_format"))
    if fmt is not None:
        out["format"] = fmt
    opts = convert_options(body)
    if opts:
        out["options"] = opts
    think = body.get("think")  # non-standard: bool or "low" | "medium" | "high"
    if isinstance(think, (bool, str)):
        out["think"] = think
    keep_alive = body.get("keep_alive")
    if isinstance(keep_alive, (str, int)) and not isinstance(keep_alive, bool):
        out["keep_alive"] = keep_alive
    return out


def to_ollama_embed_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "input": body.get("input")}
    dims = positive_int(body.get("dimensions"))
    if dims is not None:
        out["dimensions"] = dims
    for key in ("truncate", "keep_alive", "options"):
        if key in body:
            out[key] = body[key]
    return out


# --------------------------------------------------------------------------- response


def ollama_usage(data: dict[str, Any]) -> Usage | None:
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    return Usage(count(data.get("prompt_eval_count")), count(data.get("eval_count")))


def openai_tool_calls(calls: Any, start: int = 0, id_prefix: str | None = None,
                      stream: bool = False) -> list[dict[str, Any]]:
    """Ollama tool calls (object arguments, maybe no id) as OpenAI ones (JSON-string arguments)."""
    out: list[dict[str, Any]] = []
    if not isinstance(calls, list):
        return out
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        k = start + len(out)
        args = fn.get("arguments")
        arguments = args if isinstance(args, str) else dumps(args if args is not None else {})
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = f"call_{id_prefix}_{k}" if id_prefix else new_call_id()
        entry: dict[str, Any] = {"id": call_id, "type": "function",
                                 "function": {"name": str(fn.get("name") or ""), "arguments": arguments}}
        if stream:
            entry = {"index": k, **entry}
        out.append(entry)
    return out


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None,
                       id_: str | None = None) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a non-stream ``/api/chat`` answer."""
    msg = data.get("message") if isinstance(data.get("message"), dict) else {}
    assert isinstance(msg, dict)
    text = msg.get("content") if isinstance(msg.get("content"), str) else ""
    thinking = msg.get("thinking") if isinstance(msg.get("thinking"), str) else ""
    tool_calls = openai_tool_calls(msg.get("tool_calls"))
    message = assistant_message(text, tool_calls, thinking)
    usage = ollama_usage(data)
    out = chat_completion(id_ or new_completion_id(), model,
                          [choice(message, finish_reason(data.get("done_reason"), bool(tool_calls)))], usage, created)
    generated = [thinking, text] + [p for c in tool_calls for p in (c["function"]["name"], c["function"]["arguments"])]
    return out, usage, "".join(generated)


def to_openai_embeddings(data: dict[str, Any], model: str, encoding_format: Any = None
                         ) -> tuple[dict[str, Any], Usage | None]:
    """An OpenAI embeddings list from ``/api/embed`` (base64 float32 when the client asked)."""
    vectors = data.get("embeddings")
    if not isinstance(vectors, list):
        single = data.get("embedding")  # the legacy /api/embeddings shape
        vectors = [single] if isinstance(single, list) else []
    items = []
    for i, vec in enumerate(vectors):
        if not isinstance(vec, list):
            continue
        # the vector as Ollama sent it; base64 keeps every position (a non-number is 0.0)
        emb: Any = (base64_floats([float(x) if is_number(x) else 0.0 for x in vec])
                    if encoding_format == "base64" else vec)
        items.append({"object": "embedding", "index": i, "embedding": emb})
    prompt = count(data.get("prompt_eval_count"))
    usage = Usage(prompt, 0) if prompt else None
    return {
        "object": "list",
        "data": items,
        "model": model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }, usage


# --------------------------------------------------------------------------- errors

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error"}


def parse_ollama_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, str) and err:
        message = err
    elif isinstance(err, dict) and err.get("message"):
        message = str(err["message"])
    else:
        message = raw_message(body, status)
    etype = _ERROR_TYPES.get(status, "upstream_error")
    retryable, disables = failure_verdicts(status, message, etype, None)
    return failure(status, message, etype, retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class OllamaStream(LineStream):
    """Ollama NDJSON chat stream in, OpenAI ``chat.completion.chunk`` frames out.

    Lines may arrive split anywhere (``\\n`` or ``\\r\\n`` ends); the last line may lack its
    newline. ``{"error": ...}`` mid-stream becomes one error frame and ``[DONE]``.
    """

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str | None = None) -> None:
        super().__init__(req, created, id_ or new_completion_id())
        self._call_prefix = self._id.removeprefix("chatcmpl-")[:24]
        self._tools = 0

    # -- internals --------------------------------------------------------------------------

    def _line(self, raw: bytes, out: list[bytes]) -> None:
        raw = raw.strip()
        if not raw:
            return
        obj = loads_or_none(raw)
        if not isinstance(obj, dict):
            return
        err = obj.get("error")
        if err:
            message = err if isinstance(err, str) else str(err.get("message") if isinstance(err, dict) else err)
            self._fail(error_payload(message), out)
            return
        msg = obj.get("message")
        emitted = False
        if isinstance(msg, dict):
            thinking = msg.get("thinking")
            if isinstance(thinking, str) and thinking:
                self.text_parts.append(thinking)
                out.append(self._frame({"reasoning_content": thinking}))
                emitted = True
            content = msg.get("content")
            if isinstance(content, str) and content:
                self.text_parts.append(content)
                out.append(self._frame({"content": content}))
                emitted = True
            calls = openai_tool_calls(msg.get("tool_calls"), self._tools, self._call_prefix, stream=True)
            if calls:
                self._tools += len(calls)
                for c in calls:
                    self.text_parts.append(c["function"]["name"])
                    self.text_parts.append(c["function"]["arguments"])
                out.append(self._frame({"tool_calls": calls}))
                emitted = True
        if obj.get("done") is True:
            out.append(self._frame({}, finish_reason(obj.get("done_reason"), self._tools > 0)))
            self.usage = ollama_usage(obj)
            self.done = True
            self._close(out)
        elif not emitted and 0 not in self._role_sent:
            out.append(self._frame({"content": ""}))


# --------------------------------------------------------------------------- adaptor


class OllamaAdaptor(Adaptor):
    name = "ollama"
    json_streams = True
    modes = frozenset({CHAT, EMBEDDINGS})

    def base_url(self, target: ChannelTarget) -> str:
        return channel_base_url(target, DEFAULT_BASE_URL)

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        key = (target.key or "").strip()
        if key:  # a local server needs none; ollama.com and auth proxies take a Bearer key
            h["Authorization"] = "Bearer " + key
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == EMBEDDINGS:
            url = self.base_url(target) + "/api/embed"
            body = to_ollama_embed_request(req.body, req.model)
        else:
            url = self.base_url(target) + "/api/chat"
            body = to_ollama_request(req.body, req.model, req.stream)
        return UpstreamRequest("POST", url, self.headers(target), dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        data = loads_or_none(body)
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        if req.mode == EMBEDDINGS:
            emb, usage = to_openai_embeddings(data, req.requested_model, req.body.get("encoding_format"))
            return ParsedResponse(dumps(emb).encode(), usage, "")
        out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return OllamaStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_ollama_error(status, body)


__all__ = [
    "OllamaAdaptor", "OllamaStream", "to_ollama_request", "to_ollama_embed_request",
    "to_openai_response", "to_openai_embeddings", "parse_ollama_error", "convert_messages",
    "convert_tools", "convert_options", "split_content", "image_data", "finish_reason", "ollama_usage",
]
