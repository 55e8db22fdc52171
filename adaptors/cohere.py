"""Cohere v1 chat (channel type 35): OpenAI chat <-> ``POST /v1/chat``.

Pure converters (PROVIDERS.md §6 "Cohere"; cohere-ai/cohere-python v1 ``chat``/``chat_stream``):

* :func:`to_cohere_request` builds the v1 body: leading system/developer messages become
  ``preamble``, the conversation becomes ``chat_history`` (``USER`` / ``CHATBOT`` with
  ``tool_calls`` / ``SYSTEM`` / ``TOOL`` with ``tool_results``) and the last user turn
  becomes ``message`` — or, when the conversation ends with tool results, ``message`` is
  empty and those results go to ``tool_results``. Function tools become v1 tools with
  ``parameter_definitions`` (JSON-schema types as Python type names); sampling fields map
  to ``temperature``, ``p``, ``k``, ``max_tokens``, ``stop_sequences``, ``seed``, penalties;
  ``response_format`` to v1's ``{"type": "json_object", "schema"?}``; a model name ending
  in ``-internet`` adds the web-search connector (One API);
* :func:`to_openai_response` turns ``{text, tool_calls, finish_reason, meta}`` into a
  ``chat.completion``;
* :class:`CohereStream` transcodes the NDJSON event stream (``event_type`` stream-start,
  text-generation, tool-calls-chunk, tool-calls-generation, stream-end) into
  ``chat.completion.chunk`` frames, one line at a time, with explicit state;
* :func:`parse_cohere_error` normalises ``{"message": "..."}``.

Usage: ``meta.tokens`` (what the model read and wrote, as One API bills), else
``meta.billed_units``. v1 tool calls have no ids: ``call_…`` ids are made up, and a
``role: tool`` message finds its call (name, parameters) through ``tool_call_id`` in the
assistant turn before it. Images have no v1 equivalent and are dropped. One API bugs
avoided: non-string content no longer panics, tools are relayed, the stream's usage is
taken once (not summed), finish reasons are mapped, and message order is kept.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .base import (
    CHAT,
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
    channel_base_url,
    chat_completion,
    choice,
    dumps,
    error_payload,
    failure,
    finish_lookup,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_completion_id,
    positive_int,
    raw_message,
    stop_list,
    tool_arguments,
)
from .registry import PROVIDERS

DEFAULT_BASE_URL = PROVIDERS[35].base_url
WEB_SEARCH_SUFFIX = "-internet"

# Cohere v1 finish_reason -> OpenAI finish_reason (PROVIDERS.md §0).
FINISH_REASONS: dict[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "ERROR_TOXIC": "content_filter",
}

# JSON-schema type -> the Python type name v1 ``parameter_definitions`` expect.
_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
             "array": "list", "object": "dict"}


def finish_reason(reason: Any, tool_calls: bool = False) -> str:
    """Map a v1 finish reason; unknown (ERROR, USER_CANCEL, TIMEOUT…) and absent are "stop"."""
    return finish_lookup(FINISH_REASONS, reason or "", tool_calls)


# --------------------------------------------------------------------------- request


def content_text(content: Any) -> str:
    """The text of OpenAI message content; parts joined by newlines, images dropped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type", "text") == "text":
            if part["text"]:
                texts.append(part["text"])
    return "\n".join(texts)


def tool_outputs(content: Any) -> list[dict[str, Any]]:
    """A tool message's content as v1 ``outputs`` (a list of objects)."""
    text = content_text(content)
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list) and parsed and all(isinstance(x, dict) for x in parsed):
        return parsed
    return [{"result": text}]


def convert_messages(messages: Any) -> tuple[str | None, list[dict[str, Any]], str, list[dict[str, Any]]]:
    """(preamble, chat_history, message, tool_results) from OpenAI chat messages."""
    preamble: list[str] = []
    history: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}  # tool_call_id -> {"name", "parameters"}
    started = False
    for msg in messages if isinstance(messages, list) else ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in ("system", "developer"):
            text = content_text(msg.get("content"))
            if not text:
                continue
            if started:
                history.append({"role": "SYSTEM", "message": text})
            else:
                preamble.append(text)
        elif role == "user":
            started = True
            history.append({"role": "USER", "message": content_text(msg.get("content"))})
        elif role == "assistant":
            started = True
            entry: dict[str, Any] = {"role": "CHATBOT", "message": content_text(msg.get("content"))}
            tool_calls = []
            for tc in msg.get("tool_calls") or ():
                fn = tc.get("function") if isinstance(tc, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    continue
                call = {"name": fn["name"], "parameters": tool_arguments(fn.get("arguments"))}
                if isinstance(tc.get("id"), str):
                    calls[tc["id"]] = call
                tool_calls.append(call)
            if tool_calls:
                entry["tool_calls"] = tool_calls
            history.append(entry)
        elif role == "tool":
            started = True
            call_id = msg.get("tool_call_id")
            call = calls.get(call_id) if isinstance(call_id, str) else None
            if call is None:
                call = {"name": str(msg.get("name") or ""), "parameters": {}}
            result = {"call": call, "outputs": tool_outputs(msg.get("content"))}
            if history and history[-1]["role"] == "TOOL":
                history[-1]["tool_results"].append(result)
            else:
                history.append({"role": "TOOL", "tool_results": [result]})
    message, results = "", []
    if history and history[-1]["role"] == "USER":
        message = history.pop()["message"]
    elif history and history[-1]["role"] == "TOOL":
        results = history.pop()["tool_results"]
    return ("\n\n".join(preamble) or None), history, message, results


def _py_type(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "str"
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "array":
        items = schema.get("items")
        if isinstance(items, dict) and items.get("type"):
            return f"List[{_py_type(items)}]"
    if not isinstance(t, str):
        return "dict" if "properties" in schema else "str"
    return _PY_TYPES.get(t, "str")


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools as v1 tools: ``{name, description, parameter_definitions}``."""
    out: list[dict[str, Any]] = []
    if not isinstance(tools, list):
        return out
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        entry: dict[str, Any] = {"name": fn["name"], "description": str(fn.get("description") or "")}
        params = fn.get("parameters")
        props = params.get("properties") if isinstance(params, dict) else None
        if isinstance(props, dict) and props:
            required = params.get("required") if isinstance(params, dict) else None
            required = set(required) if isinstance(required, list) else set()
            defs = {}
            for pname, pschema in props.items():
                d: dict[str, Any] = {"type": _py_type(pschema)}
                if isinstance(pschema, dict) and isinstance(pschema.get("description"), str):
                    d["description"] = pschema["description"]
                d["required"] = pname in required
                defs[pname] = d
            entry["parameter_definitions"] = defs
        out.append(entry)
    return out


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, float(v)))


def to_cohere_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A v1 ``/v1/chat`` body from an OpenAI chat body (allow-list; everything else dropped)."""
    preamble, history, message, results = convert_messages(body.get("messages"))
    connectors = []
    if model.endswith(WEB_SEARCH_SUFFIX):
        model = model[: -len(WEB_SEARCH_SUFFIX)]
        connectors.append({"id": "web-search"})
    out: dict[str, Any] = {"model": model, "message": message}
    if preamble is not None:
        out["preamble"] = preamble
    if history:
        out["chat_history"] = history
    tools = convert_tools(body.get("tools"))
    if tools and (results or body.get("tool_choice") != "none"):
        out["tools"] = tools  # tool_results need tools
    if results:
        out["tool_results"] = results
    if connectors:
        out["connectors"] = connectors
    if is_number(body.get("temperature")):
        out["temperature"] = max(0.0, float(body["temperature"]))
    if is_number(body.get("top_p")):
        out["p"] = _clamp(body["top_p"], 0.01, 0.99)
    top_k = positive_int(body.get("top_k"))
    if top_k is not None:
        out["k"] = min(top_k, 500)
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    stops = stop_list(body.get("stop"))
    if stops:
        out["stop_sequences"] = stops[:5]
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        out["seed"] = seed
    for key in ("frequency_penalty", "presence_penalty"):
        if is_number(body.get(key)):
            out[key] = _clamp(body[key], 0.0, 1.0)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        rf: dict[str, Any] = {"type": "json_object"}
        js = fmt.get("json_schema")
        if isinstance(js, dict) and isinstance(js.get("schema"), dict):
            rf["schema"] = js["schema"]
        out["response_format"] = rf
    if stream:
        out["stream"] = True
    return out


# --------------------------------------------------------------------------- response


def cohere_usage(meta: Any) -> Usage | None:
    """``meta.tokens`` (input/output), else ``meta.billed_units``; None when neither is there."""
    if not isinstance(meta, dict):
        return None
    for key in ("tokens", "billed_units"):
        units = meta.get(key)
        if isinstance(units, dict) and ("input_tokens" in units or "output_tokens" in units):
            def tok(name: str) -> int:
                v = units.get(name)
                return int(v) if is_number(v) and v > 0 else 0
            return Usage(tok("input_tokens"), tok("output_tokens"))
    return None


def openai_tool_call(call: Any, k: int, id_prefix: str) -> dict[str, Any] | None:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return None
    params = call.get("parameters")
    return {"id": f"call_{id_prefix}_{k}", "type": "function",
            "function": {"name": call["name"], "arguments": dumps(params if params is not None else {})}}


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None
                       ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a v1 chat answer."""
    text = data.get("text") if isinstance(data.get("text"), str) else ""
    rid = data.get("response_id") or data.get("generation_id")
    prefix = str(rid).replace("-", "")[:24] if rid else uuid.uuid4().hex[:24]
    tool_calls = []
    for call in data.get("tool_calls") or ():
        tc = openai_tool_call(call, len(tool_calls), prefix)
        if tc is not None:
            tool_calls.append(tc)
    message = assistant_message(text, tool_calls)
    usage = cohere_usage(data.get("meta"))
    out = chat_completion(f"chatcmpl-{rid}" if rid else "chatcmpl-" + prefix, model,
                          [choice(message, finish_reason(data.get("finish_reason"), bool(tool_calls)))], usage, created)
    generated = [text] + [p for c in tool_calls for p in (c["function"]["name"], c["function"]["arguments"])]
    return out, usage, "".join(generated)


# --------------------------------------------------------------------------- errors

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
                403: "permission_error", 404: "not_found_error", 422: "invalid_request_error",
                429: "rate_limit_error", 498: "authentication_error"}


def parse_cohere_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    fallback = f"upstream returned HTTP {status}"
    if isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]:
        message = data["message"]
    elif isinstance(data, dict) and data.get("error"):
        err = data["error"]
        message = str(err.get("message") or fallback) if isinstance(err, dict) else str(err)
    else:
        message = raw_message(body, status)
    etype = _ERROR_TYPES.get(status, "upstream_error")
    retryable, disables = failure_verdicts(status, message, etype, None)
    return failure(status, message, etype, retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class CohereStream(LineStream):
    """Cohere v1 NDJSON chat events in, OpenAI ``chat.completion.chunk`` frames out.

    Tool calls stream from ``tool-calls-chunk`` (name, then parameter fragments) when the
    server sends them, else whole from ``tool-calls-generation``; tool-plan text is content.
    A stream-end with finish_reason ERROR, or an event carrying only a ``message``, is an
    error frame.
    """

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str | None = None) -> None:
        super().__init__(req, created, id_ or new_completion_id())
        self._fixed_id = id_ is not None
        self._tool_index: dict[int, int] = {}  # Cohere tool_call_delta.index -> our ordinal
        self._tools = 0
        self._chunked_tools = False
        self._plan_streamed = False

    # -- internals --------------------------------------------------------------------------
    @property
    def _call_prefix(self) -> str:
        return self._id.removeprefix("chatcmpl-").replace("-", "")[:24]

    def _text(self, text: Any, out: list[bytes]) -> None:
        if isinstance(text, str) and text:
            self.text_parts.append(text)
            out.append(self._frame({"content": text}))

    def _error(self, message: str, out: list[bytes]) -> None:
        self._fail(error_payload(message), out)

    def _line(self, raw: bytes, out: list[bytes]) -> None:
        raw = raw.strip()
        if not raw:
            return
        obj = loads_or_none(raw)
        if not isinstance(obj, dict):
            return
        etype = obj.get("event_type")
        if etype is None:
            message = obj.get("message") or obj.get("error")
            if message:
                self._error(str(message), out)
            return
        if etype == "stream-start":
            gid = obj.get("generation_id")
            if isinstance(gid, str) and gid and not self._fixed_id:
                self._id = "chatcmpl-" + gid
            if 0 not in self._role_sent:
                out.append(self._frame({"content": ""}))
        elif etype == "text-generation":
            self._text(obj.get("text"), out)
        elif etype == "tool-calls-chunk":
            self._on_tool_chunk(obj, out)
        elif etype == "tool-calls-generation":
            if not self._plan_streamed:
                self._text(obj.get("text"), out)
            if not self._chunked_tools:
                calls = []
                for call in obj.get("tool_calls") or ():
                    tc = openai_tool_call(call, self._tools, self._call_prefix)
                    if tc is None:
                        continue
                    calls.append({"index": self._tools, **tc})
                    self._tools += 1
                    self.text_parts.append(tc["function"]["name"])
                    self.text_parts.append(tc["function"]["arguments"])
                if calls:
                    out.append(self._frame({"tool_calls": calls}))
        elif etype == "stream-end":
            self._on_end(obj, out)
        # search-queries-generation, search-results, citation-generation, debug: nothing to relay

    def _on_tool_chunk(self, obj: dict[str, Any], out: list[bytes]) -> None:
        delta = obj.get("tool_call_delta")
        delta = delta if isinstance(delta, dict) else {}
        plan = obj.get("text") if isinstance(obj.get("text"), str) else delta.get("text")
        if isinstance(plan, str) and plan:
            self._plan_streamed = True
            self._text(plan, out)
        idx = delta.get("index")
        idx = int(idx) if is_number(idx) else -1
        name = delta.get("name")
        if isinstance(name, str) and name:
            self._chunked_tools = True
            k = self._tools
            self._tools += 1
            self._tool_index[idx] = k
            self.text_parts.append(name)
            out.append(self._frame({"tool_calls": [{
                "index": k, "id": f"call_{self._call_prefix}_{k}", "type": "function",
                "function": {"name": name, "arguments": ""}}]}))
        params = delta.get("parameters")
        if isinstance(params, str) and params:
            k = self._tool_index.get(idx)
            if k is None and self._tool_index:
                k = max(self._tool_index.values())
            if k is not None:
                self.text_parts.append(params)
                out.append(self._frame({"tool_calls": [{"index": k, "function": {"arguments": params}}]}))

    def _on_end(self, obj: dict[str, Any], out: list[bytes]) -> None:
        response = obj.get("response") if isinstance(obj.get("response"), dict) else {}
        assert isinstance(response, dict)
        reason = obj.get("finish_reason") or response.get("finish_reason")
        self.usage = cohere_usage(response.get("meta"))
        if reason == "ERROR":
            self._error("Cohere stopped generating (finish_reason ERROR)", out)
            return
        out.append(self._frame({}, finish_reason(reason, self._tools > 0)))
        self.done = True
        self._close(out)


# --------------------------------------------------------------------------- adaptor


class CohereAdaptor(Adaptor):
    name = "cohere"
    json_streams = True
    modes = frozenset({CHAT})

    def url(self, target: ChannelTarget) -> str:
        base = channel_base_url(target, DEFAULT_BASE_URL)
        if base.endswith("/v1"):
            base = base[:-3]
        return base + "/v1/chat"

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": "Bearer " + target.key}

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        body = to_cohere_request(req.body, req.model, req.stream)
        return UpstreamRequest("POST", self.url(target), self.headers(target), dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        data = loads_or_none(body)
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return CohereStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_cohere_error(status, body)


__all__ = [
    "CohereAdaptor", "CohereStream", "to_cohere_request", "to_openai_response", "parse_cohere_error",
    "convert_messages", "convert_tools", "content_text", "tool_outputs", "cohere_usage", "finish_reason",
]
