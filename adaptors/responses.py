"""OpenAI's Responses API (``POST /v1/responses``), pure converters (no I/O).

Served from a chat-only channel:

* :func:`chat_request_from_responses`: a Responses request → a chat completion request
  (:class:`ResponsesRequestError`, a ``ValueError``, for what conversion cannot serve: the
  route answers 400);
* :func:`responses_from_chat`: a ``chat.completion`` → a ``response`` object;
* :class:`ResponsesFromChatStream`: OpenAI chat SSE in → Responses SSE (``event:`` + ``data:``)
  out.

Served by a channel that speaks Responses (the bytes go to the client unchanged):
:func:`usage_of_response`, :func:`response_id_of` and :class:`ResponsesPassthroughStream`.

Usage carries cached input and reasoning tokens as :class:`DetailedUsage` (a ``Usage``).
"""

from __future__ import annotations

from typing import Any

from .base import StreamTranscoder, Usage
from .common import (
    content_text,
    count,
    dumps,
    is_number,
    loads_or_none,
    new_call_id,
    normalize_tool_calls,
    positive_int,
    tool_call_deltas,
)
from .sse import PassthroughReader, SSEDecoder, SSEEvent


class ResponsesRequestError(ValueError):
    """A Responses request that cannot be served by conversion (the route answers 400,
    ``invalid_request_error`` with ``param``)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


DetailedUsage = Usage  # the breakdown the Responses API reports is in base.Usage now


_NEEDS_RESPONSES = "needs a channel that speaks the Responses API"

# --------------------------------------------------------------------------- request


def chat_request_from_responses(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The chat completion request for a Responses request, asking ``model`` (the upstream name)."""
    if not isinstance(body, dict):
        raise ResponsesRequestError("the request body must be a JSON object")
    for name in ("previous_response_id", "conversation"):
        if body.get(name) is not None:
            raise ResponsesRequestError(
                f"'{name}' needs stored responses, which this channel cannot serve: send the whole "
                f"conversation in 'input'", name)
    if body.get("prompt") is not None:
        raise ResponsesRequestError(f"prompt templates {_NEEDS_RESPONSES}", "prompt")
    if body.get("background") is True:
        raise ResponsesRequestError(f"background responses {_NEEDS_RESPONSES}", "background")
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise ResponsesRequestError("'instructions' must be a string", "instructions")
        if instructions:
            messages.append({"role": "system", "content": instructions})
    messages.extend(_input_messages(body.get("input")))
    chat: dict[str, Any] = {"model": model, "messages": messages}
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ResponsesRequestError("'tools' must be an array", "tools")
        if tools:
            chat["tools"] = [_chat_tool(t, f"tools[{i}]") for i, t in enumerate(tools)]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _chat_tool_choice(body["tool_choice"])
    if isinstance(body.get("parallel_tool_calls"), bool):
        chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if body.get("max_output_tokens") is not None:
        limit = positive_int(body["max_output_tokens"])
        if limit is None:
            raise ResponsesRequestError("'max_output_tokens' must be a positive integer", "max_output_tokens")
        chat["max_completion_tokens"] = limit
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            if not is_number(body[name]):
                raise ResponsesRequestError(f"'{name}' must be a number", name)
            chat[name] = body[name]
    if isinstance(body.get("user"), str):
        chat["user"] = body["user"]
    _text_config(body.get("text"), chat)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning_effort"] = reasoning["effort"]
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _input_messages(inp: Any) -> list[dict[str, Any]]:
    """Chat messages for the request's ``input``."""
    if isinstance(inp, str):
        return [{"role": "user", "content": inp}]
    if inp is None:
        raise ResponsesRequestError("'input' is required", "input")
    if not isinstance(inp, list):
        raise ResponsesRequestError("'input' must be a string or an array of items", "input")
    messages: list[dict[str, Any]] = []
    reasoning: list[str] = []  # reasoning items' summaries, for the next assistant message
    for i, item in enumerate(inp):
        param = f"input[{i}]"
        if not isinstance(item, dict):
            raise ResponsesRequestError("an input item must be an object", param)
        kind = item.get("type", "message")
        if kind == "message":
            msg = _message(item, param)
            if msg["role"] == "assistant" and reasoning:
                msg["reasoning_content"] = "\n".join(reasoning)
                reasoning = []
            messages.append(msg)
        elif kind == "function_call":
            call = _function_call(item, param)
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                last = {"role": "assistant", "content": None, "tool_calls": [call]}
                messages.append(last)
            if reasoning:
                last["reasoning_content"] = "\n".join(reasoning)
                reasoning = []
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise ResponsesRequestError("a function_call_output needs its 'call_id'", f"{param}.call_id")
            messages.append({"role": "tool", "tool_call_id": call_id,
                             "content": _tool_output(item.get("output"), f"{param}.output")})
        elif kind == "reasoning":
            summary = item.get("summary")
            for part in summary if isinstance(summary, list) else ():
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    reasoning.append(part["text"])
        elif kind == "item_reference":
            raise ResponsesRequestError("'item_reference' needs stored items, which this channel cannot "
                                        "serve: send the item itself", f"{param}.type")
        else:
            raise ResponsesRequestError(f"input item type '{kind}' {_NEEDS_RESPONSES}", f"{param}.type")
    if not messages:
        raise ResponsesRequestError("'input' has no message", "input")
    return messages


def _message(item: dict[str, Any], param: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise ResponsesRequestError("a message's 'role' must be user, assistant, system or developer",
                                    f"{param}.role")
    content = item.get("content")
    if isinstance(content, str):
        text: str | None = content
    elif isinstance(content, list):
        parts = [_content_part(p, f"{param}.content[{j}]") for j, p in enumerate(content)]
        if role == "user":
            return {"role": "user", "content": parts}
        if any(p["type"] != "text" for p in parts):
            raise ResponsesRequestError(f"only text can be sent in a {role} message", f"{param}.content")
        text = content_text(parts)
    else:
        raise ResponsesRequestError("a message's 'content' must be a string or an array", f"{param}.content")
    return {"role": "system" if role == "developer" else role, "content": text}


def _content_part(part: Any, param: str) -> dict[str, Any]:
    """The chat content part for a Responses one."""
    if not isinstance(part, dict):
        raise ResponsesRequestError("a content part must be an object", param)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        if not isinstance(part.get("text"), str):
            raise ResponsesRequestError("a text part needs its 'text'", f"{param}.text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return {"type": "text", "text": part["refusal"]}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise ResponsesRequestError("an input_image needs an 'image_url' (a URL or a data URL); "
                                        "'file_id' needs the Files API, which this gateway does not serve",
                                        f"{param}.image_url")
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("auto", "low", "high"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        data = part.get("file_data")
        if not isinstance(data, str) or not data:
            raise ResponsesRequestError("an input_file needs its 'file_data'; 'file_id' and 'file_url' "
                                        f"{_NEEDS_RESPONSES}", f"{param}.file_data")
        file: dict[str, Any] = {"file_data": data}
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    raise ResponsesRequestError(f"content part type '{kind}' cannot be sent to this channel", f"{param}.type")


def _function_call(item: dict[str, Any], param: str) -> dict[str, Any]:
    call_id, name, args = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if not isinstance(call_id, str) or not call_id:
        raise ResponsesRequestError("a function_call needs its 'call_id'", f"{param}.call_id")
    if not isinstance(name, str) or not name:
        raise ResponsesRequestError("a function_call needs its 'name'", f"{param}.name")
    if not isinstance(args, str):
        raise ResponsesRequestError("a function_call's 'arguments' must be a JSON string", f"{param}.arguments")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def _tool_output(output: Any, param: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = [_content_part(p, f"{param}[{j}]") for j, p in enumerate(output)]
        if all(p["type"] == "text" for p in parts):
            return content_text(parts)
        raise ResponsesRequestError("only text can be sent in a function_call_output", param)
    raise ResponsesRequestError("a function_call_output's 'output' must be a string or an array", param)


def _chat_tool(tool: Any, param: str) -> dict[str, Any]:
    if not isinstance(tool, dict):
        raise ResponsesRequestError("a tool must be an object", param)
    if tool.get("type") != "function":
        raise ResponsesRequestError(f"tool type '{tool.get('type')}' {_NEEDS_RESPONSES}", f"{param}.type")
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise ResponsesRequestError("a function tool needs its 'name'", f"{param}.name")
    fn: dict[str, Any] = {"name": tool["name"]}
    if isinstance(tool.get("description"), str):
        fn["description"] = tool["description"]
    if isinstance(tool.get("parameters"), dict):
        fn["parameters"] = tool["parameters"]
    if isinstance(tool.get("strict"), bool):
        fn["strict"] = tool["strict"]
    return {"type": "function", "function": fn}


def _chat_tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    kind = choice.get("type") if isinstance(choice, dict) else choice
    raise ResponsesRequestError(f"tool_choice '{kind}' {_NEEDS_RESPONSES}", "tool_choice")


def _text_config(text: Any, chat: dict[str, Any]) -> None:
    """``text.format`` → ``response_format``, ``text.verbosity`` → ``verbosity``."""
    if text is None:
        return
    if not isinstance(text, dict):
        raise ResponsesRequestError("'text' must be an object", "text")
    if isinstance(text.get("verbosity"), str):
        chat["verbosity"] = text["verbosity"]
    fmt = text.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        assert isinstance(fmt, dict)
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            raise ResponsesRequestError("a json_schema format needs its 'name' and 'schema'", "text.format")
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if fmt.get(k) is not None}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind != "text":
        raise ResponsesRequestError("'text.format.type' must be text, json_schema or json_object",
                                    "text.format.type")


# --------------------------------------------------------------------------- answers


def _item_id(prefix: str, response_id: str, index: int) -> str:
    """An output item's id, made from the response's (streams come out the same every time)."""
    return f"{prefix}_{response_id.removeprefix('resp_')}_{index}"


def _usage_json(usage: DetailedUsage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _chat_usage(data: Any) -> DetailedUsage | None:
    """A chat ``usage`` object with its cached and reasoning token details."""
    usage = DetailedUsage.from_openai(data)
    if usage is None:
        return None
    assert isinstance(data, dict) and isinstance(usage, DetailedUsage)
    prompt, completion = data.get("prompt_tokens_details"), data.get("completion_tokens_details")
    usage.cached_tokens = count(prompt.get("cached_tokens")) if isinstance(prompt, dict) else 0
    usage.reasoning_tokens = count(completion.get("reasoning_tokens")) if isinstance(completion, dict) else 0
    return usage


_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# ResponseError.code values an upstream error code may keep; any other is "server_error".
_ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt"})


def _response(request: dict[str, Any], response_id: str, created_at: int, model: str, status: str,
              output: list[dict[str, Any]], usage: DetailedUsage | None = None,
              incomplete: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``response`` object: the answer and the request fields a Response echoes."""
    def pick(name: str, ok: bool, default: Any) -> Any:
        return request[name] if ok else default

    reasoning = request.get("reasoning")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": pick("instructions", isinstance(request.get("instructions"), str), None),
        "max_output_tokens": positive_int(request.get("max_output_tokens")),
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": pick("parallel_tool_calls", isinstance(request.get("parallel_tool_calls"), bool),
                                    True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
        if isinstance(reasoning, dict) else {"effort": None, "summary": None},
        "temperature": pick("temperature", is_number(request.get("temperature")), 1.0),
        "text": pick("text", isinstance(request.get("text"), dict), {"format": {"type": "text"}}),
        "tool_choice": pick("tool_choice", request.get("tool_choice") is not None, "auto"),
        "tools": pick("tools", isinstance(request.get("tools"), list), []),
        "top_p": pick("top_p", is_number(request.get("top_p")), 1.0),
        "truncation": pick("truncation", request.get("truncation") in ("auto", "disabled"), "disabled"),
        "usage": _usage_json(usage),
        "user": pick("user", isinstance(request.get("user"), str), None),
        "metadata": pick("metadata", isinstance(request.get("metadata"), dict), {}),
    }


def _reasoning_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": status}


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}


def _choice0(chat: dict[str, Any]) -> dict[str, Any]:
    """Choice 0 of a chat completion or chunk; ``{}`` when it has none."""
    choices = chat.get("choices")
    for c in choices if isinstance(choices, list) else ():
        if isinstance(c, dict) and c.get("index", 0) == 0:
            return c
    return {}


def _reasoning_of(msg: dict[str, Any]) -> str:
    """A chat message's or delta's reasoning text (``reasoning_content``, or ``reasoning``)."""
    for key in ("reasoning_content", "reasoning"):
        if isinstance(msg.get(key), str) and msg[key]:
            return str(msg[key])
    return ""


def responses_from_chat(chat: dict[str, Any], request: dict[str, Any], response_id: str,
                        created_at: int) -> dict[str, Any]:
    """The ``response`` object for a ``chat.completion`` (its first choice) answering ``request``
    (the client's Responses body; its ``model`` is answered, else the chat's)."""
    first = _choice0(chat)
    msg = first.get("message") if isinstance(first.get("message"), dict) else {}
    assert isinstance(msg, dict)
    incomplete = _INCOMPLETE.get(str(first.get("finish_reason")))
    output: list[dict[str, Any]] = []
    reasoning = _reasoning_of(msg)
    if reasoning:
        output.append(_reasoning_item(_item_id("rs", response_id, len(output)), reasoning, "completed"))
    content = []
    text = content_text(msg.get("content"))
    if text:
        content.append(_output_text(text))
    if isinstance(msg.get("refusal"), str) and msg["refusal"]:
        content.append({"type": "refusal", "refusal": msg["refusal"]})
    if content:
        output.append(_message_item(_item_id("msg", response_id, len(output)), content, "completed"))
    for call in normalize_tool_calls(msg.get("tool_calls")):
        fn = call["function"]
        output.append(_call_item(_item_id("fc", response_id, len(output)), call["id"], fn["name"],
                                 fn["arguments"], "completed"))
    if incomplete and output:
        output[-1]["status"] = "incomplete"  # the item the answer was cut in
    model = request.get("model")
    if not isinstance(model, str):
        model = str(chat.get("model") or "")
    return _response(request, response_id, created_at, model, "incomplete" if incomplete else "completed",
                     output, _chat_usage(chat.get("usage")), incomplete)


# --------------------------------------------------------------------------- chat SSE → Responses SSE


class ResponsesFromChatStream(StreamTranscoder):
    """OpenAI chat SSE (split anywhere) → Responses SSE events, ``sequence_number`` from 0.

    One output item is open at a time: reasoning, a message, or a function call; a delta of
    another kind closes it (text after a tool call opens a new message). Arguments for a call
    that was already closed are dropped from the events. ``[DONE]`` or :meth:`finish` closes the
    stream with ``response.completed`` (``response.incomplete`` on finish reason length or
    content_filter); an ``{"error": ...}`` frame with ``response.failed``.
    """

    def __init__(self, request: dict[str, Any], response_id: str, created_at: int, model: str) -> None:
        super().__init__()
        self._request, self._id, self._created, self._model = request, response_id, created_at, model
        self._decoder = SSEDecoder()
        self._seq = 0
        self._started = False
        self._ended = False  # the last event went out
        self._output: list[dict[str, Any]] = []  # items, in output order
        self._open: int | None = None  # output index of the open item
        self._calls: dict[int, int] = {}  # chat tool-call index → output index
        self._call_count: dict[int, int] = {}  # for tool_call_deltas: calls started on choice 0
        self._finish: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        self._start(out)
        for ev in self._decoder.feed(data):
            self._handle(ev.data, out)
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        self._start(out)
        for ev in self._decoder.flush():
            self._handle(ev.data, out)
        self._complete(out)
        return out

    # ---- events

    def _emit(self, out: list[bytes], type_: str, **fields: Any) -> None:
        event = {"type": type_, "sequence_number": self._seq, **fields}
        self._seq += 1
        out.append(f"event: {type_}\ndata: {dumps(event)}\n\n".encode())

    def _snapshot(self, status: str, incomplete: str | None = None,
                  error: dict[str, Any] | None = None) -> dict[str, Any]:
        return _response(self._request, self._id, self._created, self._model, status,
                         self._output if status != "in_progress" else [],
                         self.usage if isinstance(self.usage, DetailedUsage) else None, incomplete, error)

    def _start(self, out: list[bytes]) -> None:
        if not self._started:
            self._started = True
            self._emit(out, "response.created", response=self._snapshot("in_progress"))
            self._emit(out, "response.in_progress", response=self._snapshot("in_progress"))

    def _handle(self, data: str, out: list[bytes]) -> None:
        if data.strip() == "[DONE]":
            self.done = True
            self._complete(out)
            return
        if self._ended:
            return
        chunk = loads_or_none(data)
        if not isinstance(chunk, dict):
            return
        if chunk.get("error") is not None:
            self._fail(chunk["error"], out)
            return
        if chunk.get("usage"):
            self.usage = _chat_usage(chunk["usage"]) or self.usage
        first = _choice0(chunk)
        delta = first.get("delta") if isinstance(first.get("delta"), dict) else {}
        assert isinstance(delta, dict)
        reasoning = _reasoning_of(delta)
        if reasoning:
            self._reasoning_delta(reasoning, out)
        if isinstance(delta.get("content"), str) and delta["content"]:
            self._text_delta(delta["content"], out)
        for call in tool_call_deltas(delta.get("tool_calls"), 0, self._call_count, self.text_parts):
            self._call_delta(call, out)
        if isinstance(first.get("finish_reason"), str):
            self._finish = first["finish_reason"]

    def _open_item(self, item: dict[str, Any], out: list[bytes]) -> int:
        self._close(out)
        index = len(self._output)
        self._output.append(item)
        self._open = index
        self._emit(out, "response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
        return index

    def _open_kind(self, kind: str) -> dict[str, Any] | None:
        """The open item when it is of this type."""
        item = self._output[self._open] if self._open is not None else None
        return item if item is not None and item["type"] == kind else None

    def _reasoning_delta(self, text: str, out: list[bytes]) -> None:
        self.text_parts.append(text)
        item = self._open_kind("reasoning")
        if item is None:
            item = _reasoning_item(_item_id("rs", self._id, len(self._output)), "", "in_progress")
            index = self._open_item(item, out)
            item["summary"] = [{"type": "summary_text", "text": ""}]
            self._emit(out, "response.reasoning_summary_part.added", item_id=item["id"], output_index=index,
                       summary_index=0, part={"type": "summary_text", "text": ""})
        item["summary"][0]["text"] += text
        self._emit(out, "response.reasoning_summary_text.delta", item_id=item["id"], output_index=self._open,
                   summary_index=0, delta=text)

    def _text_delta(self, text: str, out: list[bytes]) -> None:
        self.text_parts.append(text)
        item = self._open_kind("message")
        if item is None:
            item = _message_item(_item_id("msg", self._id, len(self._output)), [], "in_progress")
            index = self._open_item(item, out)
            item["content"] = [_output_text("")]
            self._emit(out, "response.content_part.added", item_id=item["id"], output_index=index,
                       content_index=0, part=_output_text(""))
        item["content"][0]["text"] += text
        self._emit(out, "response.output_text.delta", item_id=item["id"], output_index=self._open,
                   content_index=0, delta=text, logprobs=[])

    def _call_delta(self, call: dict[str, Any], out: list[bytes]) -> None:
        k = call["index"]
        fn = call.get("function", {})
        index = self._calls.get(k)
        if index is None or call.get("id", self._output[index]["call_id"]) != self._output[index]["call_id"]:
            item = _call_item(_item_id("fc", self._id, len(self._output)), call.get("id") or new_call_id(),
                              fn.get("name", ""), "", "in_progress")
            self._calls[k] = self._open_item(item, out)
        elif index != self._open:
            return  # the call was closed
        item = self._output[self._calls[k]]
        if fn.get("name") and not item["name"]:
            item["name"] = fn["name"]
        if fn.get("arguments"):
            item["arguments"] += fn["arguments"]
            self._emit(out, "response.function_call_arguments.delta", item_id=item["id"],
                       output_index=self._calls[k], delta=fn["arguments"])

    def _close(self, out: list[bytes], status: str = "completed") -> None:
        """Finish the open item: its done events, with this status."""
        if self._open is None:
            return
        index, self._open = self._open, None
        item = self._output[index]
        item["status"] = status
        if item["type"] == "reasoning":
            part = item["summary"][0]
            self._emit(out, "response.reasoning_summary_text.done", item_id=item["id"], output_index=index,
                       summary_index=0, text=part["text"])
            self._emit(out, "response.reasoning_summary_part.done", item_id=item["id"], output_index=index,
                       summary_index=0, part=part)
        elif item["type"] == "message":
            part = item["content"][0]
            self._emit(out, "response.output_text.done", item_id=item["id"], output_index=index,
                       content_index=0, text=part["text"], logprobs=[])
            self._emit(out, "response.content_part.done", item_id=item["id"], output_index=index,
                       content_index=0, part=part)
        else:
            self._emit(out, "response.function_call_arguments.done", item_id=item["id"], output_index=index,
                       arguments=item["arguments"])
        self._emit(out, "response.output_item.done", output_index=index, item=item)

    def _complete(self, out: list[bytes]) -> None:
        if self._ended:
            return
        self._ended = True
        incomplete = _INCOMPLETE.get(str(self._finish))
        self._close(out, "incomplete" if incomplete else "completed")
        if incomplete:
            self._emit(out, "response.incomplete", response=self._snapshot("incomplete", incomplete))
        else:
            self._emit(out, "response.completed", response=self._snapshot("completed"))

    def fail(self, message: str, code: str = "server_error") -> list[bytes]:
        """The end of a stream that broke off (the upstream went away): ``response.failed``
        with the output so far, numbered after the events already sent; nothing once ended."""
        out: list[bytes] = []
        if not self._ended:
            self._start(out)
            self._fail({"message": message, "code": code}, out)
        return out

    def _fail(self, error: Any, out: list[bytes]) -> None:
        self._ended = True
        message = error.get("message") if isinstance(error, dict) else None
        message = message if isinstance(message, str) and message else "upstream error"
        code = error.get("code") if isinstance(error, dict) else None
        self.error = message
        if self._open is not None:
            self._output[self._open]["status"] = "incomplete"
        self._emit(out, "response.failed", response=self._snapshot(
            "failed", error={"code": code if code in _ERROR_CODES else "server_error", "message": message}))


# --------------------------------------------------------------------------- pass-through


def usage_of_response(body: Any) -> DetailedUsage | None:
    """The usage of a ``response`` object; None when it has none."""
    data = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    details_in, details_out = data.get("input_tokens_details"), data.get("output_tokens_details")
    return DetailedUsage(
        prompt_tokens=count(data.get("input_tokens")),
        completion_tokens=count(data.get("output_tokens")),
        cached_tokens=count(details_in.get("cached_tokens")) if isinstance(details_in, dict) else 0,
        reasoning_tokens=count(details_out.get("reasoning_tokens")) if isinstance(details_out, dict) else 0,
    )


def response_id_of(body: bytes | dict[str, Any]) -> str | None:
    """The id of a ``response`` object (parsed, or its JSON bytes)."""
    data = loads_or_none(body) if isinstance(body, bytes) else body
    rid = data.get("id") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) and rid else None


_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_GENERATED = frozenset({"response.output_text.delta", "response.refusal.delta",
                        "response.function_call_arguments.delta", "response.reasoning_summary_text.delta",
                        "response.reasoning_text.delta"})


class ResponsesPassthroughStream(PassthroughReader):
    """A Responses stream relayed unchanged, read on the way: ``response_id`` and ``usage`` from
    the lifecycle events, generated text (output text, refusals, function arguments, reasoning)
    into ``text_parts``, ``error`` from ``response.failed`` or an ``error`` event. ``done`` once
    a terminal event (completed, incomplete, failed) arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.response_id: str | None = None

    def _event(self, ev: SSEEvent) -> None:
        event = loads_or_none(ev.data)
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind in _GENERATED and isinstance(event.get("delta"), str):
            self.text_parts.append(event["delta"])
        elif kind == "error":
            self.error = str(event.get("message") or "upstream error")
        elif isinstance(event.get("response"), dict):
            response = event["response"]
            self.response_id = response_id_of(response) or self.response_id
            self.usage = usage_of_response(response) or self.usage
            if kind in _TERMINAL:
                self.done = True
            if kind == "response.failed":
                error = response.get("error")
                message = error.get("message") if isinstance(error, dict) else None
                self.error = message if isinstance(message, str) and message else "response failed"
