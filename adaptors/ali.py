"""Alibaba DashScope, native API (channel type 17): OpenAI chat, embeddings and image generation
<-> DashScope.

Pure converters (PROVIDERS.md §6 "Alibaba DashScope"; One API relay/adaptor/ali):

* chat: ``POST {base}/api/v1/services/aigc/text-generation/generation`` with
  ``{model, input: {messages}, parameters: {result_format: "message", …}}``; vision and
  audio models (``qwen-vl-*``, ``qvq-*``, ``qwen-audio-*``) go to
  ``…/aigc/multimodal-generation/generation`` with content parts ``[{"text"}, {"image"}…]``.
  A model name ending in ``-internet`` turns on ``enable_search`` (One API's rule).
* parameters: max_tokens, temperature [0, 2), top_p capped at 0.9999 (DashScope wants < 1),
  top_k, seed, stop, presence_penalty, tools / tool_choice / parallel_tool_calls,
  response_format, and DashScope's own enable_search, search_options, enable_thinking,
  thinking_budget, repetition_penalty when a client sends them.
* streams: ``X-DashScope-SSE: enable`` and ``parameters.incremental_output: true`` (without
  it each event repeats the whole text). Events are ``id:``/``event:result``/
  ``:HTTP_STATUS/200``/``data:{…}`` frames; ``finish_reason`` is the string ``"null"`` until
  the end; usage (``input_tokens``/``output_tokens``) is cumulative on every event (the last
  one is kept); there is no ``[DONE]``. An ``event:error`` frame is an error.
* plugins: the channel's ``plugin`` config goes in the ``X-DashScope-Plugin`` header.
* embeddings: ``POST {base}/api/v1/services/embeddings/text-embedding/text-embedding`` with
  ``{model, input: {texts}, parameters: {dimension, text_type}}`` →
  ``output.embeddings[{text_index, embedding}]``, ``usage.total_tokens``.
* images (``/v1/images/generations``, as One API's ``ali/image.go``, wanx models): an
  asynchronous task. ``POST {base}/api/v1/services/aigc/text2image/image-synthesis`` with
  ``X-DashScope-Async: enable`` and ``{model, input: {prompt, negative_prompt?}, parameters:
  {n, size: "1024*1024", style?, seed?, prompt_extend?, watermark?}}`` answers ``{output:
  {task_id, task_status: "PENDING"}}``; the task is then polled (``GET {base}/api/v1/tasks/{id}``,
  Bearer, a follow request every :data:`POLL_DELAY` seconds) while it is PENDING/RUNNING/
  SUSPENDED. SUCCEEDED: ``output.results`` ``[{url, actual_prompt?}]`` (failed results
  ``{code, message}`` are left out; all failed → the first failure) → ``{created, data:
  [{url, revised_prompt?}]}``. FAILED/CANCELED/UNKNOWN → :class:`~adaptors.base.UpstreamRejected`
  (``DataInspectionFailed`` and ``InvalidParameter*`` are 400s, not retried; the rest 500s).
  ``response_format: b64_json``: each image URL is fetched by one more follow request (no key
  sent) and answered as ``b64_json`` (:class:`ImageAnswer`, shared with Zhipu). OpenAI's
  ``style`` values (vivid, natural) have no wanx equivalent and are dropped; a wanx-v1 style
  (``<anime>`` or ``anime``) is passed. ``ali-stable-diffusion-*`` (One API's names) are sent as
  DashScope's ``stable-diffusion-*``. Unlike One API, the task is polled at the channel's base
  URL (not always dashscope.aliyuncs.com) and a failed task is an error, not an HTTP 200.
* errors: non-2xx ``{code, message, request_id}`` (a stream's error comes as an SSE frame):
  ``InvalidApiKey`` and ``Arrearage`` disable the channel.

One API bugs avoided: the answer names the requested model (not "qwen"), tool calls and
tool results are relayed both ways, stream usage needs no non-zero output to count, the
finish chunk is separate from the last text.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from .base import (
    CHAT,
    EMBEDDINGS,
    IMAGES,
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
    content_text as _content_text,
    count,
    dumps,
    embedding_texts,
    embeddings_list,
    error_payload,
    failure,
    finish_lookup,
    function_tool,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_completion_id,
    normalize_tool_calls,
    positive_int,
    raw_message,
    stop_list,
    tool_call_deltas,
)
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[17].base_url
TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
EMBEDDING_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
IMAGE_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
TASK_PATH = "/api/v1/tasks/"
POLL_DELAY = 1.0  # seconds between two polls of an image task
TASK_RUNNING = frozenset({"PENDING", "RUNNING", "SUSPENDED"})
TASK_ENDED_BADLY = frozenset({"FAILED", "CANCELED", "UNKNOWN"})
WANX_STYLES = frozenset({"auto", "photography", "portrait", "3d cartoon", "anime", "oil painting", "watercolor",
                         "sketch", "chinese painting", "flat illustration"})
SEARCH_SUFFIX = "-internet"
MAX_TOP_P = 0.9999
MAX_TEMPERATURE = 1.99

FINISH_REASONS: dict[str, str] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}

# Codes that mean the key or the account cannot be used.
DISABLING_CODES = frozenset({"InvalidApiKey", "Arrearage"})
NOT_RETRIED_CODES = frozenset({"DataInspectionFailed", "data_inspection_failed"})

# Fields of ``parameters`` the converter may emit.
PARAMETER_FIELDS = frozenset({
    "result_format", "incremental_output", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop",
    "presence_penalty", "repetition_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "enable_search", "search_options", "enable_thinking", "thinking_budget",
})

_MULTIMODAL = re.compile(r"(?:^|-)vl(?:-|$)|^qvq|(?:^|-)audio(?:-|$)")
_BASE_SUFFIX = re.compile(r"/(?:api/v1|compatible-mode/v1)$")


def is_multimodal(model: str) -> bool:
    """Vision/audio models answer at the multimodal-generation endpoint."""
    return bool(_MULTIMODAL.search(model.strip().lower()))


def split_model(model: str) -> tuple[str, bool]:
    """(DashScope model, enable_search): ``qwen-max-internet`` → (``qwen-max``, True)."""
    model = model.strip()
    if model.endswith(SEARCH_SUFFIX) and len(model) > len(SEARCH_SUFFIX):
        return model[: -len(SEARCH_SUFFIX)], True
    return model, False


def finish_reason(reason: Any) -> str | None:
    """None while DashScope says ``"null"`` (not finished); unknown reasons are ``stop``."""
    if reason is None or reason in ("", "null"):
        return None
    return finish_lookup(FINISH_REASONS, reason)


# --------------------------------------------------------------------------- request


def content_text(content: Any) -> str:
    """The text of OpenAI message content (a number sent as content is its text)."""
    return _content_text(content, scalars=True)


def multimodal_content(content: Any) -> list[dict[str, str]]:
    """OpenAI content as DashScope multimodal parts: ``{"text"}``, ``{"image"}`` (http(s) or
    ``data:`` URLs, both accepted), ``{"audio"}``, ``{"video"}``."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = [content] if isinstance(content, dict) else content if isinstance(content, list) else []
    out: list[dict[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            if part:
                out.append({"text": part})
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type", "text")
        if ptype == "text" and isinstance(part.get("text"), str) and part["text"]:
            out.append({"text": part["text"]})
        elif ptype in ("image_url", "image", "video_url", "audio_url"):
            key = {"video_url": "video", "audio_url": "audio"}.get(ptype, "image")
            ref = part.get(ptype) if ptype != "image" else part.get("image_url", part.get("image"))
            url = ref.get("url") if isinstance(ref, dict) else ref
            if isinstance(url, str) and url.strip():
                out.append({key: url.strip()})
        elif ptype == "input_audio":
            audio = part.get("input_audio")
            if isinstance(audio, dict) and isinstance(audio.get("data"), str):
                fmt = str(audio.get("format") or "wav").lower()
                data = audio["data"]
                out.append({"audio": data if data.startswith("data:") else f"data:audio/{fmt};base64,{data}"})
    return out


def convert_messages(messages: Any, multimodal: bool = False) -> list[dict[str, Any]]:
    """DashScope messages from OpenAI ones (developer → system; legacy function → tool; tool
    results carry ``tool_call_id`` and the function ``name``)."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    for msg in messages if isinstance(messages, list) else ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "developer":
            role = "system"
        elif role == "function":
            role = "tool"
        if role not in ("system", "user", "assistant", "tool"):
            continue
        content = msg.get("content")
        entry: dict[str, Any] = {"role": role}
        if multimodal and role in ("system", "user"):
            entry["content"] = multimodal_content(content)
        elif multimodal:
            text = content_text(content)
            entry["content"] = [{"text": text}] if text else []
        else:
            entry["content"] = content_text(content)
        if role == "assistant":
            calls = normalize_tool_calls(msg.get("tool_calls"))
            if calls:
                entry["tool_calls"] = calls
                for c in calls:
                    names[c["id"]] = c["function"]["name"]
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            name = msg.get("name") if isinstance(msg.get("name"), str) and msg.get("name") else None
            if isinstance(call_id, str) and call_id:
                entry["tool_call_id"] = call_id
                name = name or names.get(call_id)
            if name:
                entry["name"] = name
        out.append(entry)
    return out


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools in the OpenAI shape (an unnamed function is dropped)."""
    converted = (function_tool(t) for t in (tools if isinstance(tools, list) else ()))
    return [t for t in converted if t is not None and t["function"]["name"]]


def convert_tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none"):
        return choice
    if choice == "required":
        return "auto"  # DashScope cannot force some call; auto is the closest
    if isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str) and fn["name"]:
            return {"type": "function", "function": {"name": fn["name"]}}
    return None


def parameters(body: dict[str, Any], stream: bool, enable_search: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {"result_format": "message"}
    if stream:
        p["incremental_output"] = True
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        p["max_tokens"] = max_tokens
    if is_number(body.get("temperature")):
        p["temperature"] = min(MAX_TEMPERATURE, max(0.0, float(body["temperature"])))
    if is_number(body.get("top_p")) and body["top_p"] > 0:
        p["top_p"] = min(MAX_TOP_P, float(body["top_p"]))
    top_k = positive_int(body.get("top_k"))
    if top_k is not None:
        p["top_k"] = top_k
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        p["seed"] = seed
    stops = stop_list(body.get("stop"))
    if stops:
        p["stop"] = stops
    if is_number(body.get("presence_penalty")):
        p["presence_penalty"] = min(2.0, max(-2.0, float(body["presence_penalty"])))
    if is_number(body.get("repetition_penalty")) and body["repetition_penalty"] > 0:
        p["repetition_penalty"] = body["repetition_penalty"]
    tools = convert_tools(body.get("tools"))
    if tools:
        p["tools"] = tools
        choice = convert_tool_choice(body.get("tool_choice"))
        if choice is not None:
            p["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            p["parallel_tool_calls"] = body["parallel_tool_calls"]
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("text", "json_object", "json_schema"):
        p["response_format"] = fmt
    if enable_search or body.get("enable_search") is True:
        p["enable_search"] = True
    if isinstance(body.get("search_options"), dict):
        p["search_options"] = body["search_options"]
    if isinstance(body.get("enable_thinking"), bool):
        p["enable_thinking"] = body["enable_thinking"]
    budget = positive_int(body.get("thinking_budget"))
    if budget is not None:
        p["thinking_budget"] = budget
    return p


def to_dashscope_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A generation body from an OpenAI chat body (allow-list; everything else dropped)."""
    name, search = split_model(model)
    return {
        "model": name,
        "input": {"messages": convert_messages(body.get("messages"), is_multimodal(name))},
        "parameters": parameters(body, stream, search),
    }


def to_dashscope_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "input": {"texts": embedding_texts(body.get("input"), model)}}
    params: dict[str, Any] = {}
    dims = positive_int(body.get("dimensions"))
    if dims is not None:
        params["dimension"] = dims
    if body.get("text_type") in ("query", "document"):
        params["text_type"] = body["text_type"]
    if params:
        out["parameters"] = params
    return out


# --------------------------------------------------------------------------- response


def ali_usage(u: Any) -> Usage | None:
    if not isinstance(u, dict) or not ("input_tokens" in u or "output_tokens" in u):
        return None
    return Usage(count(u.get("input_tokens")), count(u.get("output_tokens")))


def message_text(content: Any) -> str:
    """Answer content: a string, or multimodal parts ``[{"text": …}]``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _choices(output: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, choice) pairs; the ``result_format: text`` shape becomes one choice."""
    if not isinstance(output, dict):
        return []
    choices = output.get("choices")
    if isinstance(choices, list):
        out = []
        for i, c in enumerate(choices):
            if isinstance(c, dict):
                idx = c.get("index")
                out.append((idx if isinstance(idx, int) and not isinstance(idx, bool) else i, c))
        return out
    if isinstance(output.get("text"), str):
        return [(0, {"message": {"role": "assistant", "content": output["text"]},
                     "finish_reason": output.get("finish_reason")})]
    return []


def _is_error(data: dict[str, Any]) -> bool:
    return bool(data.get("code")) and "output" not in data


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None
                       ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a generation answer."""
    choices = []
    generated: list[str] = []
    for idx, ch in _choices(data.get("output")):
        msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
        assert isinstance(msg, dict)
        text = message_text(msg.get("content"))
        calls = normalize_tool_calls(msg.get("tool_calls"))
        reasoning = msg.get("reasoning_content")
        reasoning = reasoning if isinstance(reasoning, str) else ""
        if reasoning:
            generated.append(reasoning)
        generated.append(text)
        generated.extend(p for c in calls for p in (c["function"]["name"], c["function"]["arguments"]))
        reason = finish_reason(ch.get("finish_reason")) or "stop"
        if calls and reason == "stop":
            reason = "tool_calls"
        choices.append(choice(assistant_message(text, calls, reasoning), reason, idx))
    if not choices:
        choices.append(choice(assistant_message(""), "stop"))
    usage = ali_usage(data.get("usage"))
    rid = data.get("request_id")
    id_ = f"chatcmpl-{rid}" if isinstance(rid, str) and rid else new_completion_id()
    return chat_completion(id_, model, choices, usage, created), usage, "".join(generated)


def to_openai_embeddings(data: dict[str, Any], model: str, encoding_format: Any = None
                         ) -> tuple[dict[str, Any], Usage | None]:
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    assert isinstance(output, dict)
    pairs = []
    for i, emb in enumerate(output.get("embeddings") or ()):
        if not isinstance(emb, dict):
            continue
        idx = emb.get("text_index")
        pairs.append((idx if isinstance(idx, int) and not isinstance(idx, bool) else i, emb.get("embedding")))
    u = data.get("usage")
    usage = None
    if isinstance(u, dict):
        prompt = count(u.get("total_tokens")) or count(u.get("input_tokens"))
        if prompt:
            usage = Usage(prompt, 0)
    return embeddings_list(pairs, model, encoding_format, usage), usage


# --------------------------------------------------------------------------- errors


def ali_failure(status: int, message: str, code: Any, request_id: Any = None) -> UpstreamFailure:
    code_s = str(code) if code else None
    retryable, disables = failure_verdicts(status, message, None, None)
    if code_s in DISABLING_CODES:
        retryable, disables = True, True  # an unusable key or account: another channel may serve
    elif code_s in NOT_RETRIED_CODES:
        retryable = False
    if isinstance(request_id, str) and request_id and "request id" not in message:
        message = f"{message} (DashScope request id: {request_id})"
    return failure(status, message, code_s or "ali_error", code_s, retryable=retryable, disables=disables)


def _error_object(body: bytes) -> Any:
    """The JSON of an error body, which may be SSE-framed (a stream request's error)."""
    try:
        return json.loads(body)
    except ValueError:
        pass
    dec = SSEDecoder()
    for ev in dec.feed(body) + dec.flush():
        try:
            obj = json.loads(ev.data)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def parse_ali_error(status: int, body: bytes) -> UpstreamFailure:
    data = _error_object(body)
    fallback = f"upstream returned HTTP {status}"
    if isinstance(data, dict) and ("code" in data or "message" in data):
        return ali_failure(status, str(data.get("message") or data.get("code") or fallback), data.get("code"),
                           data.get("request_id"))
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        return ali_failure(status, str(err.get("message") or fallback), err.get("code") or err.get("type"))
    return ali_failure(status, raw_message(body, status), None)


class AliAnswerError(UpstreamRejected):
    """A 2xx DashScope answer that is an error object (``{code, message}`` and no output)."""


# --------------------------------------------------------------------------- stream


class AliStream(ChatStream):
    """DashScope SSE (incremental output) in, OpenAI ``chat.completion.chunk`` frames out."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created)
        self._decoder = SSEDecoder()
        self._finished: set[int] = set()
        self._tools: dict[int, int] = {}  # choice index -> tool calls started

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:
            self.done = bool(self._finished)
            self._close(out)
        return out

    # -- internals --------------------------------------------------------------------------
    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if self._sent_done:
                break
            data = ev.data.strip()
            if not data or data == "[DONE]":
                continue
            try:
                obj = json.loads(data)
            except ValueError:
                if ev.event == "error":
                    self._error(data, None, out)
                continue
            if not isinstance(obj, dict):
                continue
            if ev.event == "error" or _is_error(obj):
                self._error(str(obj.get("message") or obj.get("code") or "DashScope stream error"),
                            obj.get("code"), out)
                continue
            self._on_event(obj, out)
        return out

    def _error(self, message: str, code: Any, out: list[bytes]) -> None:
        self._fail(error_payload(message, str(code) if code else "ali_error", str(code) if code else None), out)

    def _on_event(self, obj: dict[str, Any], out: list[bytes]) -> None:
        rid = obj.get("request_id")
        if not self._id and isinstance(rid, str) and rid:
            self._id = "chatcmpl-" + rid
        usage = ali_usage(obj.get("usage"))
        if usage is not None:
            self.usage = usage
        for idx, ch in _choices(obj.get("output")):
            if idx in self._finished:
                continue
            msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
            assert isinstance(msg, dict)
            delta: dict[str, Any] = {}
            reasoning = msg.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                delta["reasoning_content"] = reasoning
                self.text_parts.append(reasoning)
            text = message_text(msg.get("content"))
            if text:
                delta["content"] = text
                self.text_parts.append(text)
            calls = tool_call_deltas(msg.get("tool_calls"), idx, self._tools, self.text_parts)
            if calls:
                delta["tool_calls"] = calls
            if delta:
                out.append(self._frame(delta, index=idx))
            reason = finish_reason(ch.get("finish_reason"))
            if reason is not None:
                if reason == "stop" and self._tools.get(idx):
                    reason = "tool_calls"
                self._finished.add(idx)
                out.append(self._frame({} if idx in self._role_sent else {"content": ""}, reason, index=idx))



# --------------------------------------------------------------------------- images


class ImageAnswer:
    """An OpenAI images answer being put together from an asynchronous upstream's image URLs.

    With ``b64_json`` asked, :meth:`next` answers a follow request fetching the next image not yet
    fetched (no credentials sent: the URLs are signed), :meth:`downloaded` takes its bytes; once
    every image is in, :meth:`next` answers ``{"created", "data": [...]}``. Kept on the attempt's
    :attr:`~adaptors.base.RelayRequest.adaptor_state` between the calls."""

    def __init__(self, b64: bool, created: int) -> None:
        self.b64 = b64
        self.created = created
        self.data: list[dict[str, Any]] = []
        self.fetching: int | None = None  # the item whose image the current follow request fetches

    def add(self, url: str, revised_prompt: Any = None) -> None:
        item: dict[str, Any] = {"url": url}
        if isinstance(revised_prompt, str) and revised_prompt:
            item["revised_prompt"] = revised_prompt
        self.data.append(item)

    def next(self) -> ParsedResponse:
        if self.b64:
            for i, item in enumerate(self.data):
                if "url" in item:
                    self.fetching = i
                    return ParsedResponse(b"", None, follow=UpstreamRequest("GET", item["url"], {"Accept": "image/*"},
                                                                            None))
        self.fetching = None
        return ParsedResponse(dumps({"created": self.created, "data": self.data}).encode(), None, "")

    def downloaded(self, body: bytes) -> ParsedResponse:
        assert self.fetching is not None
        item = self.data[self.fetching]
        if not body:
            raise UpstreamRejected(failure(502, f"the generated image at {item['url']} is empty", "upstream_error",
                                           "image_download_failed", retryable=True, disables=False))
        encoded: dict[str, Any] = {"b64_json": base64.b64encode(body).decode()}
        if "revised_prompt" in item:
            encoded["revised_prompt"] = item["revised_prompt"]
        self.data[self.fetching] = encoded
        self.fetching = None
        return self.next()


def wants_b64(body: dict[str, Any]) -> bool:
    return body.get("response_format") == "b64_json"


def dashscope_model(model: str) -> str:
    """One API's ``ali-stable-diffusion-xl`` is DashScope's ``stable-diffusion-xl``."""
    model = model.strip()
    return model[4:] if model.startswith("ali-stable-diffusion") else model


def dashscope_size(size: Any) -> str | None:
    """OpenAI's ``1024x1024`` as DashScope's ``1024*1024``; None when absent or not W x H."""
    if not isinstance(size, str):
        return None
    w, sep, h = size.strip().lower().replace("*", "x").partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        return None
    return f"{int(w)}*{int(h)}"


def wanx_style(style: Any) -> str | None:
    """A wanx-v1 style (``<anime>`` or ``anime``) as DashScope writes it; OpenAI's own styles
    (``vivid``, ``natural``) and anything else: None."""
    if not isinstance(style, str):
        return None
    name = style.strip().lower().removeprefix("<").removesuffix(">")
    return f"<{name}>" if name in WANX_STYLES else None


def to_dashscope_image_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An image-synthesis body from an OpenAI images request (allow-list)."""
    name = dashscope_model(model)
    prompt = body.get("prompt")
    inp: dict[str, Any] = {"prompt": prompt if isinstance(prompt, str) else ""}
    negative = body.get("negative_prompt")
    if isinstance(negative, str) and negative:
        inp["negative_prompt"] = negative
    params: dict[str, Any] = {"n": positive_int(body.get("n")) or 1}
    size = dashscope_size(body.get("size"))
    if size:
        params["size"] = size
    style = wanx_style(body.get("style"))
    if style and name.startswith("wanx-v1"):
        params["style"] = style
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        params["seed"] = seed
    for key in ("prompt_extend", "watermark"):
        if isinstance(body.get(key), bool):
            params[key] = body[key]
    return {"model": name, "input": inp, "parameters": params}


@dataclass
class ImageTask:
    """What ``build_request`` leaves for ``parse_response`` in an images attempt."""

    key: str
    base: str
    answer: ImageAnswer
    task_id: str = ""
    request_id: str = ""


def _task(req: RelayRequest) -> ImageTask | None:
    return req.adaptor_state if isinstance(req.adaptor_state, ImageTask) else None


def task_failure(code: Any, message: Any, status: str, task_id: str = "", request_id: Any = None
                 ) -> UpstreamFailure:
    """The failure of a task that ended FAILED/CANCELED/UNKNOWN, or of a failed result."""
    code_s = str(code) if code else None
    what = f"DashScope task {task_id}" if task_id else "The DashScope task"
    if isinstance(message, str) and message:
        text = message
    elif status == "UNKNOWN":
        text = f"{what} is unknown (it expired or never existed)"
    else:
        text = f"{what} ended {status}"
    if code_s and (code_s in NOT_RETRIED_CODES or code_s.startswith(("InvalidParameter", "DataInspection"))
                   or code_s == "IPInfringementSuspect"):
        status_code = 400
    else:
        status_code = 500
    f = ali_failure(status_code, text, code_s or ("task_" + status.lower() if status else None), request_id)
    if code_s and ("DataInspection" in code_s or code_s == "IPInfringementSuspect"):
        f = failure(400, f.message, "invalid_request_error", "content_policy_violation", retryable=False,
                    disables=False)
    return f


def _bad_task_answer(body: bytes) -> UpstreamRejected:
    message = "DashScope answered something other than an image task: " + body.decode("utf-8", "replace")[:200]
    return UpstreamRejected(failure(502, message, "upstream_error", "bad_task_answer", retryable=True,
                                    disables=False))


def parse_image_task(job: ImageTask, body: bytes) -> ParsedResponse:
    """One step of the task flow: the create's or a poll's answer → a follow, the answer, or a
    rejection (see the module notes)."""
    if job.answer.fetching is not None:
        return job.answer.downloaded(body)
    data = loads_or_none(body)
    if not isinstance(data, dict):
        raise _bad_task_answer(body)
    if _is_error(data):
        raise AliAnswerError(parse_ali_error(502, body))
    output = data.get("output")
    if not isinstance(output, dict):
        raise _bad_task_answer(body)
    if isinstance(output.get("task_id"), str) and output["task_id"]:
        job.task_id = output["task_id"]
    if isinstance(data.get("request_id"), str):
        job.request_id = data["request_id"]
    status = str(output.get("task_status") or "")
    if status in TASK_RUNNING:
        if not job.task_id:
            raise _bad_task_answer(body)
        url = job.base + TASK_PATH + urllib.parse.quote(job.task_id, safe="")
        follow = UpstreamRequest("GET", url, {"Authorization": "Bearer " + job.key}, None)
        return ParsedResponse(body, None, follow=follow, follow_delay=POLL_DELAY)
    if status in TASK_ENDED_BADLY:
        raise UpstreamRejected(task_failure(output.get("code"), output.get("message"), status, job.task_id,
                                            job.request_id))
    if status != "SUCCEEDED":
        raise _bad_task_answer(body)
    failed: list[dict[str, Any]] = []
    for result in output.get("results") or ():
        if not isinstance(result, dict):
            continue
        url = result.get("url")
        if isinstance(url, str) and url:
            job.answer.add(url, result.get("actual_prompt"))
        elif result.get("code") or result.get("message"):
            failed.append(result)
    if not job.answer.data:
        if failed:
            raise UpstreamRejected(task_failure(failed[0].get("code"), failed[0].get("message"), "FAILED",
                                                job.task_id, job.request_id))
        raise UpstreamRejected(failure(502, f"DashScope task {job.task_id} succeeded without an image URL",
                                       "upstream_error", "empty_output", retryable=True, disables=False))
    return job.answer.next()


# --------------------------------------------------------------------------- adaptor


class AliAdaptor(Adaptor):
    name = "ali"
    modes = frozenset({CHAT, EMBEDDINGS, IMAGES})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    @staticmethod
    def base(target: ChannelTarget) -> str:
        """The DashScope host; a base given with ``/api/v1`` or ``/compatible-mode/v1`` loses it."""
        base = channel_base_url(target, DEFAULT_BASE_URL)
        return _BASE_SUFFIX.sub("", base)

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        if req.mode == EMBEDDINGS:
            path = EMBEDDING_PATH
        elif req.mode == IMAGES:
            path = IMAGE_PATH
        else:
            path = MULTIMODAL_PATH if is_multimodal(split_model(req.model)[0]) else TEXT_PATH
        return self.base(target) + path

    @staticmethod
    def plugin(target: ChannelTarget) -> str:
        plugin = channel_config(target).get("plugin")
        if isinstance(plugin, (dict, list)) and plugin:
            return dumps(plugin)
        return plugin.strip() if isinstance(plugin, str) else ""

    def headers(self, req: RelayRequest, target: ChannelTarget) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Authorization": "Bearer " + target.key.strip()}
        if req.stream and req.mode == CHAT:
            h["Accept"] = "text/event-stream"
            h["X-DashScope-SSE"] = "enable"
        if req.mode == IMAGES:
            h["X-DashScope-Async"] = "enable"  # image synthesis only runs as a task
            return h
        plugin = self.plugin(target)
        if plugin:
            h["X-DashScope-Plugin"] = plugin
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == EMBEDDINGS:
            body = to_dashscope_embeddings(req.body, req.model)
        elif req.mode == IMAGES:
            body = to_dashscope_image_request(req.body, req.model)
            req.adaptor_state = ImageTask(target.key.strip(), self.base(target),
                                          ImageAnswer(wants_b64(req.body), int(self.clock())))
        else:
            body = to_dashscope_request(req.body, req.model, req.stream)
        return UpstreamRequest("POST", self.url(req, target), self.headers(req, target), dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode == IMAGES:
            job = _task(req)
            if job is None:  # parse_response without build_request: no task to follow
                raise _bad_task_answer(body)
            return parse_image_task(job, body)
        data = loads_or_none(body)
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        if _is_error(data):
            raise AliAnswerError(parse_ali_error(502, body))
        if req.mode == EMBEDDINGS:
            emb, usage = to_openai_embeddings(data, req.requested_model, req.body.get("encoding_format"))
            return ParsedResponse(dumps(emb).encode(), usage, "")
        out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return AliStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_ali_error(status, body)


__all__ = [
    "AliAdaptor", "AliStream", "AliAnswerError", "FINISH_REASONS", "PARAMETER_FIELDS", "to_dashscope_request",
    "to_dashscope_embeddings", "to_openai_response", "to_openai_embeddings", "parse_ali_error", "ali_failure",
    "convert_messages", "convert_tools", "convert_tool_choice", "multimodal_content", "content_text", "parameters",
    "ali_usage", "finish_reason", "is_multimodal", "split_model", "message_text", "ImageAnswer", "ImageTask",
    "to_dashscope_image_request", "parse_image_task", "task_failure", "dashscope_size", "dashscope_model",
    "wanx_style", "wants_b64", "POLL_DELAY",
]
