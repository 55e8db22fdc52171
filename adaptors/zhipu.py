"""Zhipu AI / BigModel (channel type 16): OpenAI chat, embeddings and images <-> Zhipu's APIs.

Two chat APIs, chosen by the upstream model name as One API chooses (PROVIDERS.md §6):

* **v4** ``POST {base}/api/paas/v4/chat/completions`` for ``glm-*`` models (and every
  other current model: ``codegeex-4``, ``charglm-4``, ``emohaa``…, which One API sent to
  the retired v3 API): OpenAI-like, ``Authorization: Bearer <id.secret>``. The body is
  rebuilt through an allow-list: temperature clamped to [0, 1] (0 → ``do_sample: false``),
  top_p to [0.01, 0.99], one stop word, ``user`` → ``user_id``, images as raw base64
  (Zhipu rejects ``data:`` URLs), ``tool_choice`` only ``auto`` (``none`` drops the tools).
  Finish reasons: ``sensitive`` → ``content_filter``, ``network_error`` → an error.
* **v3** ``POST {base}/api/paas/v3/model-api/{model}/invoke|sse-invoke`` for the old
  ``chatglm_*`` / ``characterglm`` models: ``{"prompt": [...]}`` signed with a JWT made
  from the ``id.secret`` key (:func:`zhipu_jwt`: HS256 with the secret, header
  ``sign_type: SIGN``, claims ``api_key``, ``exp`` and ``timestamp`` in **milliseconds**;
  sent without ``Bearer``, as One API does). Answers ``{code, msg, success, data}``, errors
  on HTTP 200; the stream is ``event:add`` frames of raw text (``data:`` lines kept byte for
  byte, no space stripped) and an ``event:finish`` frame with a ``meta:`` JSON line (usage).

Embeddings (``embedding-2``, ``embedding-3``) go to ``{base}/api/paas/v4/embeddings``
(``dimensions`` kept; base64 output made here when the client asks for it).

Images (CogView: ``cogview-3``, ``cogview-3-plus``, ``cogview-3-flash``, ``cogview-4``…) go to
``{base}/api/paas/v4/images/generations`` (Bearer key) with ``{model, prompt, size?, quality?
(hd|standard), user_id? (6–128 characters, from ``user``), watermark_enabled?}`` (One API
sends only model, prompt and user_id) and answer OpenAI's ``{created, data: [{url}]}``. Zhipu
makes one image a request: for ``n`` > 1 the request is sent again (follow requests) until ``n``
images are in, so the client gets what the relay bills. ``response_format: b64_json``: each
URL is fetched by one more follow request and encoded (:class:`adaptors.ali.ImageAnswer`).

Errors: v4 ``{"error": {"code": "1214", "message"}}`` (string codes: 1000–1004 auth,
1110–1121 account, 1113 arrears, 1211 model, 1214 parameter, 1301 sensitive, 1302–1305
rate). Account and key codes disable the channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from .ali import ImageAnswer, wants_b64
from .base import (
    CHAT,
    EMBEDDINGS,
    IMAGES,
    Adaptor,
    ChannelConfigError,
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

DEFAULT_BASE_URL = PROVIDERS[16].base_url
TOKEN_TTL_MS = 3600 * 1000  # lifetime of a v3 JWT (a fresh one is signed for every request)

# Zhipu finish_reason -> OpenAI (network_error is an error, handled apart).
FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "sensitive": "content_filter",
    "model_context_window_exceeded": "length",
}
NETWORK_ERROR = "network_error"

# Error codes (docs.z.ai api-code): the key or the account cannot be used.
DISABLING_CODES = frozenset({"1000", "1002", "1004", "1110", "1111", "1112", "1113", "1121"})
RATE_LIMIT_CODES = frozenset({"1302", "1303", "1304", "1305"})
SENSITIVE_CODE = "1301"

# Top-level fields of a v4 chat body (what the converter may emit).
V4_REQUEST_FIELDS = frozenset({
    "model", "messages", "stream", "temperature", "top_p", "do_sample", "max_tokens", "stop", "tools",
    "tool_choice", "response_format", "user_id", "request_id", "thinking", "meta",
})

_JSON_SEPARATORS = (",", ":")
_PAAS_SUFFIX = re.compile(r"^(.*/paas)(?:/v[34](?:/model-api)?)?$")


def api_version(model: str) -> str:
    """``v3`` for the retired ChatGLM models One API sent to the v3 API (``chatglm_*``,
    ``characterglm``); ``v4`` for ``glm-*`` and everything else."""
    m = model.strip().lower()
    if m.startswith("glm-"):
        return "v4"
    if m.startswith(("chatglm", "characterglm")):
        return "v3"
    return "v4"


def finish_reason(reason: Any, tool_calls: bool = False) -> str:
    """Map a Zhipu finish reason (absent: "stop"); "stop" with tool calls is "tool_calls"."""
    return finish_lookup(FINISH_REASONS, reason or "", tool_calls)


# --------------------------------------------------------------------------- JWT (v3)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def split_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of an ``id.secret`` API key; None when the key is not of that form."""
    parts = key.strip().split(".")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def zhipu_jwt(key: str, now_ms: int, ttl_ms: int = TOKEN_TTL_MS) -> str:
    """The JWT Zhipu's v3 API wants: header ``{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}``,
    claims ``{"api_key": id, "exp": now_ms + ttl_ms, "timestamp": now_ms}`` (milliseconds),
    HMAC-SHA256 with the key's secret. Raises ValueError for a key that is not ``id.secret``."""
    pair = split_key(key)
    if pair is None:
        raise ValueError("a Zhipu API key has the form <id>.<secret>")
    kid, secret = pair
    header = {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}
    claims = {"api_key": kid, "exp": now_ms + ttl_ms, "timestamp": now_ms}
    signing_input = (_b64url(json.dumps(header, separators=_JSON_SEPARATORS, sort_keys=True).encode()) + "."
                     + _b64url(json.dumps(claims, separators=_JSON_SEPARATORS, sort_keys=True).encode()))
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


# --------------------------------------------------------------------------- request (v4)


def _raw_base64(url: str) -> str:
    """A ``data:…;base64,`` URL as the bare base64 Zhipu accepts; other URLs unchanged."""
    url = url.strip()
    if url.startswith("data:"):
        _, sep, data = url.partition(",")
        if sep:
            return data.strip()
    return url


def content_text(content: Any) -> str:
    """The text of OpenAI message content (parts joined by newlines; media dropped; a number sent
    as content is its text)."""
    return _content_text(content, scalars=True)


def convert_content(content: Any) -> str | list[dict[str, Any]]:
    """OpenAI content for v4: a string, or parts when there is media (GLM-4V)."""
    if not isinstance(content, (list, dict)):
        return content_text(content)
    parts = [content] if isinstance(content, dict) else content
    out: list[dict[str, Any]] = []
    media = False
    for part in parts:
        if isinstance(part, str):
            if part:
                out.append({"type": "text", "text": part})
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type", "text")
        if ptype == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                out.append({"type": "text", "text": part["text"]})
        elif ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if isinstance(url, str) and url.strip():
                out.append({"type": "image_url", "image_url": {"url": _raw_base64(url)}})
                media = True
        elif ptype == "video_url":
            vid = part.get("video_url")
            url = vid.get("url") if isinstance(vid, dict) else vid
            if isinstance(url, str) and url.strip():
                out.append({"type": "video_url", "video_url": {"url": url.strip()}})
                media = True
    if not media:
        return "\n".join(p["text"] for p in out)
    return out


def convert_messages(messages: Any) -> list[dict[str, Any]]:
    """v4 messages from OpenAI ones (developer → system; legacy function → tool)."""
    out: list[dict[str, Any]] = []
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
        if role == "assistant":
            entry: dict[str, Any] = {"role": "assistant"}
            calls = normalize_tool_calls(msg.get("tool_calls"))
            text = content_text(msg.get("content"))
            if text or not calls:
                entry["content"] = text
            if calls:
                entry["tool_calls"] = calls
        elif role == "tool":
            entry = {"role": "tool", "content": content_text(msg.get("content"))}
            if isinstance(msg.get("tool_call_id"), str) and msg["tool_call_id"]:
                entry["tool_call_id"] = msg["tool_call_id"]
        elif role == "user":
            entry = {"role": "user", "content": convert_content(msg.get("content"))}
        else:
            entry = {"role": "system", "content": content_text(msg.get("content"))}
        out.append(entry)
    return out


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools (whole parameters schema); Zhipu's own ``web_search``/``retrieval`` tools
    pass as given."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        ttype = tool.get("type", "function")
        if ttype in ("web_search", "retrieval") and isinstance(tool.get(ttype), dict):
            out.append({"type": ttype, ttype: tool[ttype]})
            continue
        converted = function_tool(tool)
        if converted is not None:
            out.append(converted)
    return out


def to_zhipu_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A v4 chat body from an OpenAI chat body (allow-list; everything else dropped)."""
    out: dict[str, Any] = {"model": model, "messages": convert_messages(body.get("messages"))}
    if stream:
        out["stream"] = True
    sampling = True
    if body.get("do_sample") is False:
        sampling = False
    temperature = body.get("temperature")
    if is_number(temperature):
        if temperature <= 0:
            sampling = False
        elif sampling:
            out["temperature"] = min(1.0, float(temperature))
    top_p = body.get("top_p")
    if is_number(top_p) and sampling:
        out["top_p"] = min(0.99, max(0.01, float(top_p)))
    if not sampling:
        out["do_sample"] = False
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    stops = stop_list(body.get("stop"))
    if stops:
        out["stop"] = stops[:1]  # Zhipu takes a single stop word
    tools = convert_tools(body.get("tools"))
    if tools and body.get("tool_choice") != "none":
        out["tools"] = tools
        out["tool_choice"] = "auto"  # the only value Zhipu accepts
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        out["response_format"] = {"type": "json_object"}
    user = body.get("user")
    if isinstance(user, str) and 6 <= len(user) <= 128:
        out["user_id"] = user
    for key, kind in (("request_id", str), ("thinking", dict), ("meta", dict)):
        if isinstance(body.get(key), kind) and body[key]:
            out[key] = body[key]
    return out


# --------------------------------------------------------------------------- request (v3)


def to_zhipu_v3_request(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """A v3 ``{"prompt": [...]}`` body: user/assistant turns only (system, developer and tool
    text is sent as user text), consecutive turns of one role merged."""
    prompt: list[dict[str, str]] = []
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        role = "assistant" if msg.get("role") == "assistant" else "user"
        text = content_text(msg.get("content"))
        if not text:
            continue
        if prompt and prompt[-1]["role"] == role:
            prompt[-1]["content"] += "\n" + text
        else:
            prompt.append({"role": role, "content": text})
    out: dict[str, Any] = {"prompt": prompt}
    temperature = body.get("temperature")
    if is_number(temperature):
        out["temperature"] = min(1.0, max(0.01, float(temperature)))
    top_p = body.get("top_p")
    if is_number(top_p):
        out["top_p"] = min(0.99, max(0.01, float(top_p)))
    if stream:
        out["incremental"] = True
    return out


# --------------------------------------------------------------------------- embeddings


def to_zhipu_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    inp = body.get("input")
    texts = embedding_texts(inp, model)
    out: dict[str, Any] = {"model": model, "input": inp if isinstance(inp, str) else texts}
    dims = positive_int(body.get("dimensions"))
    if dims is not None:
        out["dimensions"] = dims
    return out


def to_openai_embeddings(data: dict[str, Any], model: str, encoding_format: Any = None
                         ) -> tuple[dict[str, Any], Usage | None]:
    vectors = []
    for i, item in enumerate(data.get("data") or ()):
        if isinstance(item, dict):
            idx = item.get("index")
            vectors.append((idx if isinstance(idx, int) and not isinstance(idx, bool) else i, item.get("embedding")))
    u = data.get("usage")
    usage = None
    if isinstance(u, dict):
        prompt = count(u.get("prompt_tokens")) or count(u.get("total_tokens"))
        usage = Usage(prompt, 0) if prompt else None
    return embeddings_list(vectors, model, encoding_format, usage), usage


# --------------------------------------------------------------------------- images


IMAGE_QUALITIES = frozenset({"hd", "standard"})
_SIZE = re.compile(r"^\d+x\d+$")


def to_zhipu_image_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A CogView body from an OpenAI images request (allow-list; ``n`` is handled by repeating)."""
    prompt = body.get("prompt")
    out: dict[str, Any] = {"model": model, "prompt": prompt if isinstance(prompt, str) else ""}
    size = body.get("size")
    if isinstance(size, str) and _SIZE.match(size.strip().lower()):
        out["size"] = size.strip().lower()
    if body.get("quality") in IMAGE_QUALITIES:
        out["quality"] = body["quality"]
    user = body.get("user")
    if isinstance(user, str) and 6 <= len(user) <= 128:
        out["user_id"] = user
    if isinstance(body.get("watermark_enabled"), bool):
        out["watermark_enabled"] = body["watermark_enabled"]
    return out


@dataclass
class ImageJob:
    """What ``build_request`` leaves for ``parse_response`` in an images attempt: the request to
    repeat until ``n`` images are in, and the answer being put together."""

    create: UpstreamRequest
    n: int
    answer: ImageAnswer


def parse_image_answer(job: ImageJob, body: bytes) -> ParsedResponse:
    if job.answer.fetching is not None:
        return job.answer.downloaded(body)
    data = loads_or_none(body)
    if not isinstance(data, dict):
        raise ZhipuAnswerError(zhipu_failure(502, "Zhipu answered something other than images: "
                                             + body.decode("utf-8", "replace")[:200], None))
    if "error" in data and not data.get("data"):
        raise ZhipuAnswerError(parse_zhipu_error(502, body))
    urls = [item["url"] for item in data.get("data") or ()
            if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]]
    if not urls:
        raise ZhipuAnswerError(zhipu_failure(502, "Zhipu answered without an image URL", "empty_output"))
    for url in urls[: job.n - len(job.answer.data)]:
        job.answer.add(url)
    if len(job.answer.data) < job.n:  # one image a request: ask again
        return ParsedResponse(b"", None, follow=job.create)
    return job.answer.next()


# --------------------------------------------------------------------------- errors


def status_for_code(code: str | None) -> int:
    """The HTTP status a Zhipu business code stands for (v3 reports errors on HTTP 200)."""
    if code is None or not code.isdigit():
        return 500
    n = int(code)
    if 1000 <= n <= 1004:
        return 401
    if n == 1113:
        return 429
    if 1100 <= n <= 1199:
        return 403
    if n == 1234:
        return 500
    if 1200 <= n <= 1299 or n == 1301:
        return 400
    if 1300 <= n <= 1399:
        return 429
    if 400 <= n <= 599:
        return n
    return 500


def zhipu_failure(status: int, message: str, code: Any) -> UpstreamFailure:
    code_s = str(code) if code is not None and str(code) else None
    retryable, disables = failure_verdicts(status, message, None, None)
    if code_s in DISABLING_CODES:
        retryable, disables = True, True  # another channel's key may work
    elif code_s in RATE_LIMIT_CODES:
        retryable = True
    elif code_s == SENSITIVE_CODE:
        retryable = False
    return failure(status, message, "zhipu_error", code_s, retryable=retryable, disables=disables)


def parse_zhipu_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    fallback = f"upstream returned HTTP {status}"
    code: Any = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        message, code = str(err.get("message") or fallback), err.get("code")
    elif isinstance(data, dict) and ("msg" in data or "success" in data):  # v3
        message, code = str(data.get("msg") or fallback), data.get("code")
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        message = data["message"]
    elif isinstance(data, dict) and isinstance(data.get("error"), str):
        message = data["error"]
    else:
        message = raw_message(body, status)
    return zhipu_failure(status, message, code)


class ZhipuAnswerError(UpstreamRejected):
    """A 2xx Zhipu answer that is an error (v3 ``success: false``, v4 ``network_error``)."""


def _network_error(message: str = "Zhipu ended the generation with network_error") -> ZhipuAnswerError:
    return ZhipuAnswerError(zhipu_failure(502, message, "network_error"))


# --------------------------------------------------------------------------- response


def zhipu_usage(u: Any) -> Usage | None:
    if not isinstance(u, dict) or not ("prompt_tokens" in u or "completion_tokens" in u):
        return None
    prompt = count(u.get("prompt_tokens"))
    completion = count(u.get("completion_tokens"))
    if not completion and count(u.get("total_tokens")) > prompt:
        completion = count(u["total_tokens"]) - prompt
    return Usage(prompt, completion)


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None
                       ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a v4 answer; ``network_error`` raises."""
    choices = []
    generated: list[str] = []
    for i, ch in enumerate(data.get("choices") or ()):
        if not isinstance(ch, dict):
            continue
        if ch.get("finish_reason") == NETWORK_ERROR:
            raise _network_error()
        msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
        assert isinstance(msg, dict)
        text = msg.get("content") if isinstance(msg.get("content"), str) else ""
        calls = normalize_tool_calls(msg.get("tool_calls"))
        reasoning = msg.get("reasoning_content")
        reasoning = reasoning if isinstance(reasoning, str) else ""
        if reasoning:
            generated.append(reasoning)
        generated.append(text)
        generated.extend(p for c in calls for p in (c["function"]["name"], c["function"]["arguments"]))
        reason = finish_reason(ch.get("finish_reason"), bool(calls))
        idx = ch.get("index")
        choices.append(choice(assistant_message(text, calls, reasoning), reason, idx if isinstance(idx, int) else i))
    usage = zhipu_usage(data.get("usage"))
    rid = data.get("id") or data.get("request_id")
    id_ = str(rid) if rid else new_completion_id()
    return chat_completion(id_, model, choices, usage, created), usage, "".join(generated)


def _v3_text(content: Any) -> str:
    """v3 content is often a JSON string literal (``"\\"Hello\\\\n\\""``): decode it."""
    if not isinstance(content, str):
        return ""
    if len(content) >= 2 and content[0] == content[-1] == '"':
        try:
            decoded = json.loads(content)
        except ValueError:
            return content.strip('"')
        if isinstance(decoded, str):
            return decoded
    return content


def to_openai_response_v3(data: dict[str, Any], model: str, created: int | None = None
                          ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, text) from a v3 ``invoke`` answer; ``success: false`` raises."""
    if data.get("success") is not True:
        code = data.get("code")
        code_s = str(code) if code is not None else None
        message = str(data.get("msg") or "Zhipu returned an error")
        raise ZhipuAnswerError(zhipu_failure(status_for_code(code_s), message, code_s))
    inner = data.get("data") if isinstance(data.get("data"), dict) else {}
    assert isinstance(inner, dict)
    texts = [_v3_text(c.get("content")) for c in inner.get("choices") or () if isinstance(c, dict)]
    text = "".join(texts)
    usage = zhipu_usage(inner.get("usage"))
    rid = inner.get("task_id") or inner.get("request_id")
    out = chat_completion(f"chatcmpl-{rid}" if rid else new_completion_id(), model,
                          [choice(assistant_message(text), "stop")], usage, created)
    return out, usage, text


# --------------------------------------------------------------------------- streams


class _ChunkStream(ChatStream):
    """What the two Zhipu transcoders share: finished choices and Zhipu's error frame."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created)
        self._finished: set[int] = set()

    def _error(self, message: str, code: Any, out: list[bytes]) -> None:
        self._fail(error_payload(message, "zhipu_error", None if code is None else str(code)), out)


class ZhipuStream(_ChunkStream):
    """v4 SSE (OpenAI-like chunks, usage on the last one, ``[DONE]``) in, OpenAI chunks out:
    the model is the one asked for, finish reasons mapped, usage sent as its own chunk only
    when the client wants it, ``network_error`` and ``{"error": …}`` events become an error."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created)
        self._decoder = SSEDecoder()
        self._tools: dict[int, int] = {}  # choice index -> tool calls seen

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:
            self._close(out)
        return out

    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if self._sent_done:
                break
            data = ev.data.strip()
            if not data:
                continue
            if data == "[DONE]":
                self.done = bool(self._finished)
                self._close(out)
                break
            obj = loads_or_none(data)
            if isinstance(obj, dict):
                self._on_chunk(obj, out)
        return out

    def _on_chunk(self, obj: dict[str, Any], out: list[bytes]) -> None:
        if "error" in obj and not obj.get("choices"):
            err = obj["error"]
            if isinstance(err, dict):
                self._error(str(err.get("message") or "upstream stream error"), err.get("code"), out)
            else:
                self._error(str(err) or "upstream stream error", None, out)
            return
        if not self._id and isinstance(obj.get("id"), str) and obj["id"]:
            self._id = obj["id"]
        usage = zhipu_usage(obj.get("usage"))
        if usage is not None:
            self.usage = usage
        for ch in obj.get("choices") or ():
            if not isinstance(ch, dict):
                continue
            idx = ch.get("index") if isinstance(ch.get("index"), int) else 0
            if idx in self._finished:
                continue
            reason = ch.get("finish_reason")
            delta_in = ch.get("delta") if isinstance(ch.get("delta"), dict) else {}
            assert isinstance(delta_in, dict)
            delta: dict[str, Any] = {}
            reasoning = delta_in.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                delta["reasoning_content"] = reasoning
                self.text_parts.append(reasoning)
            text = delta_in.get("content")
            if isinstance(text, str) and text:
                delta["content"] = text
                self.text_parts.append(text)
            calls = tool_call_deltas(delta_in.get("tool_calls"), idx, self._tools, self.text_parts)
            if calls:
                delta["tool_calls"] = calls
            if reason == NETWORK_ERROR:
                if delta:
                    out.append(self._frame(delta, index=idx))
                self._error("Zhipu ended the generation with network_error", "network_error", out)
                return
            mapped = None
            if reason:
                mapped = finish_reason(reason, bool(self._tools.get(idx)))
                self._finished.add(idx)
            if delta or mapped:
                if not delta and idx not in self._role_sent:
                    delta = {"content": ""}
                out.append(self._frame(delta, mapped, index=idx))


class _RawFrames(SSEDecoder):
    """SSE framing as :class:`SSEDecoder` does it (line ends, frames split anywhere), each frame
    given as its (field, value) lines, the value kept byte for byte: Zhipu v3 puts raw text
    after ``data:`` (a leading space is content, not framing) and adds ``meta:`` lines."""

    __slots__ = ()

    @staticmethod
    def _parse(frame: bytes) -> list[tuple[str, str]] | None:  # type: ignore[override]
        lines = []
        for line in frame.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            lines.append((name.decode("utf-8", "replace").strip(), value.decode("utf-8", "replace")))
        return lines or None


class ZhipuV3Stream(_ChunkStream):
    """v3 ``sse-invoke``: ``event:add`` frames of raw text (several ``data:`` lines joined by
    newlines), ``event:finish`` with a ``meta:`` JSON line (usage, task id), ``event:error`` /
    ``event:interrupted`` with the message as data. No ``[DONE]``: the connection closes."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created)
        self._frames = _RawFrames()

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._frames.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._frames.flush())
        if not self._sent_done:
            self._close(out)
        return out

    def _handle(self, frames: list[list[tuple[str, str]]]) -> list[bytes]:
        out: list[bytes] = []
        for lines in frames:
            if self._sent_done:
                break
            event = ""
            data: list[str] = []
            meta = ""
            for name, value in lines:
                if name == "event":
                    event = value.strip()
                elif name == "data":
                    data.append(value)
                elif name == "meta":
                    meta = value
                elif name == "id" and not self._id and value.strip():
                    self._id = "chatcmpl-" + value.strip()
            text = "\n".join(data)
            if event in ("error", "interrupted"):
                self._error(text.strip() or f"Zhipu stream {event}", event, out)
                break
            if text:
                self.text_parts.append(text)
                out.append(self._frame({"content": text}))
            if event == "finish" or meta:
                self._on_meta(meta, out)
        return out

    def _on_meta(self, meta: str, out: list[bytes]) -> None:
        try:
            obj = json.loads(meta) if meta.strip() else {}
        except ValueError:
            obj = {}
        if isinstance(obj, dict):
            usage = zhipu_usage(obj.get("usage"))
            if usage is not None:
                self.usage = usage
        if 0 not in self._finished:
            self._finished.add(0)
            out.append(self._frame({} if 0 in self._role_sent else {"content": ""}, "stop"))
            self.done = True
            self._close(out)


# --------------------------------------------------------------------------- adaptor


class ZhipuAdaptor(Adaptor):
    """Zhipu's v4 API (Bearer key) and, for ``chatglm_*`` models, the v3 API (JWT)."""

    name = "zhipu"
    modes = frozenset({CHAT, EMBEDDINGS, IMAGES})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    @staticmethod
    def paas_base(target: ChannelTarget) -> str:
        """``…/api/paas`` of the channel; a base URL already ending in ``/paas`` or
        ``/paas/v4`` (Z.ai's ``https://api.z.ai/api/paas/v4``) is used as given."""
        base = channel_base_url(target, DEFAULT_BASE_URL)
        m = _PAAS_SUFFIX.match(base)
        return m.group(1) if m else base + "/api/paas"

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        paas = self.paas_base(target)
        if req.mode == EMBEDDINGS:
            return paas + "/v4/embeddings"
        if req.mode == IMAGES:
            return paas + "/v4/images/generations"
        if api_version(req.model) == "v4":
            return paas + "/v4/chat/completions"
        method = "sse-invoke" if req.stream else "invoke"
        return f"{paas}/v3/model-api/{req.model.strip()}/{method}"

    def headers(self, req: RelayRequest, target: ChannelTarget) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if req.mode == CHAT and api_version(req.model) == "v3":
            try:
                h["Authorization"] = zhipu_jwt(target.key, int(self.clock() * 1000))
            except ValueError:
                message = ("The channel key is not a Zhipu API key (<id>.<secret>): the v3 API of "
                           f"{req.model} needs one to sign its token")
                raise ChannelConfigError(message, "channel_key_invalid") from None
            if req.stream:
                h["Accept"] = "text/event-stream"
        else:
            h["Authorization"] = "Bearer " + target.key.strip()
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == IMAGES:
            up = UpstreamRequest("POST", self.url(req, target), self.headers(req, target),
                                 dumps(to_zhipu_image_request(req.body, req.model)).encode())
            req.adaptor_state = ImageJob(up, positive_int(req.body.get("n")) or 1,
                                         ImageAnswer(wants_b64(req.body), int(self.clock())))
            return up
        if req.mode == EMBEDDINGS:
            body = to_zhipu_embeddings(req.body, req.model)
        elif api_version(req.model) == "v4":
            body = to_zhipu_request(req.body, req.model, req.stream)
        else:
            body = to_zhipu_v3_request(req.body, req.stream)
        headers = self.headers(req, target)
        return UpstreamRequest("POST", self.url(req, target), headers, dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode == IMAGES:
            job = req.adaptor_state
            if not isinstance(job, ImageJob):  # parse_response without build_request
                job = ImageJob(UpstreamRequest("POST", "", {}, None), 1, ImageAnswer(wants_b64(req.body),
                                                                                      int(self.clock())))
            return parse_image_answer(job, body)
        data = loads_or_none(body)
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        if req.mode == EMBEDDINGS:
            if "error" in data and "data" not in data:
                raise ZhipuAnswerError(parse_zhipu_error(502, body))
            emb, usage = to_openai_embeddings(data, req.requested_model, req.body.get("encoding_format"))
            return ParsedResponse(dumps(emb).encode(), usage, "")
        if api_version(req.model) == "v3":
            out, usage, text = to_openai_response_v3(data, req.requested_model)
        else:
            if "error" in data and not data.get("choices"):
                raise ZhipuAnswerError(parse_zhipu_error(502, body))
            out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        if api_version(req.model) == "v3":
            return ZhipuV3Stream(req)
        return ZhipuStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_zhipu_error(status, body)


__all__ = [
    "ZhipuAdaptor", "ZhipuStream", "ZhipuV3Stream", "ZhipuAnswerError", "FINISH_REASONS", "V4_REQUEST_FIELDS",
    "api_version", "zhipu_jwt", "split_key", "to_zhipu_request", "to_zhipu_v3_request", "to_zhipu_embeddings",
    "to_openai_response", "to_openai_response_v3", "to_openai_embeddings", "parse_zhipu_error",
    "zhipu_failure", "status_for_code", "to_zhipu_image_request", "parse_image_answer", "ImageJob",
    "convert_messages", "convert_content", "convert_tools", "content_text",
    "zhipu_usage", "finish_reason",
]
