"""Baidu ERNIE v1 (channel type 15): OpenAI chat/embeddings <-> Qianfan's wenxinworkshop API.

Everything here is a pure converter (PROVIDERS.md §6); the relay does the I/O:

* **Access token.** The channel key is ``API Key|Secret Key``. :meth:`BaiduAdaptor.token_request`
  builds ``POST {base}/oauth/2.0/token?grant_type=client_credentials&client_id=AK&client_secret=SK``
  and :meth:`BaiduAdaptor.parse_token` reads ``{access_token, expires_in}`` (≈30 days); the relay
  caches it per key (relay/credentials.py). ``{base}`` is the channel's base URL, else
  aip.baidubce.com: a proxy in front of Baidu serves both paths. As in One API, the key is
  always ``AK|SK`` (an access token pasted as the key is not supported).
* **Endpoint.** The model names the endpoint: ``…/wenxinworkshop/chat/{endpoint}`` with One API's
  table (ERNIE-4.0-8K → ``completions_pro``, ERNIE-3.5-8K → ``completions``, ERNIE-Speed-8K →
  ``ernie_speed``…), any other name lower-cased (a custom service's endpoint); embeddings go to
  ``…/embeddings/{endpoint}`` (Embedding-V1 → ``embedding-v1``, bge-large-zh → ``bge_large_zh``…).
  The token travels as ``?access_token=``.
* **Body.** System/developer messages → top-level ``system`` (all of them, joined: One API kept
  only the last); consecutive turns of one role are merged (ERNIE wants user/assistant turns to
  alternate); tools → ``functions``, an assistant tool call → ``function_call``, a tool result →
  a ``function`` message; ``temperature`` clamped into (0, 1], ``frequency_penalty`` (0..2) →
  ``penalty_score`` (1..2; One API sent the OpenAI value as is, out of range), ``max_tokens`` →
  ``max_output_tokens``, ``stop``, ``user`` → ``user_id``, ``response_format`` json_object.
* **Answers.** ``{id, result, finish_reason, function_call, usage}``; the stream is SSE with one
  ``data:`` object per sentence (``result`` the new text, ``is_end`` on the last, cumulative
  ``usage``) and no ``[DONE]``.
* **Errors** come on HTTP 200 as ``{"error_code", "error_msg"}``: :func:`baidu_failure` maps the
  codes (110/111 access token invalid/expired → status 401, so the relay forgets the token and the
  next request exchanges again, without disabling the channel; 18 QPS → 429; 336003 bad
  parameter → 400; 6/14/15 permission/app → disable…). ``parse_response`` raises them as
  :class:`UpstreamRejected`.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import Any, TypeGuard

from .base import (
    CHAT,
    DONE_FRAME,
    EMBEDDINGS,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    TokenGrant,
    UpstreamFailure,
    UpstreamRejected,
    UpstreamRequest,
    Usage,
    chat_chunk,
    client_wants_usage,
    failure_verdicts,
    now,
    sse_frame,
)
from .gemini import embedding_texts
from .gemini import to_openai_embeddings as _gemini_embeddings_to_openai
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[15].base_url
TOKEN_PATH = "/oauth/2.0/token"
API_PREFIX = "/rpc/2.0/ai_custom/v1/wenxinworkshop"
DEFAULT_TOKEN_LIFETIME = 2592000.0  # 30 days, when the answer names none

# Model -> chat endpoint (One API relay/adaptor/baidu/adaptor.go, plus later ERNIE names whose
# endpoint is not their lower-cased name). Looked up case-insensitively.
CHAT_ENDPOINTS: dict[str, str] = {k.lower(): v for k, v in {
    "ERNIE-4.0": "completions_pro",
    "ERNIE-Bot-4": "completions_pro",
    "ERNIE-Bot": "completions",
    "ERNIE-Bot-turbo": "eb-instant",
    "ERNIE-Speed": "ernie_speed",
    "ERNIE-4.0-8K": "completions_pro",
    "ERNIE-3.5-8K": "completions",
    "ERNIE-3.5-8K-0205": "ernie-3.5-8k-0205",
    "ERNIE-3.5-8K-1222": "ernie-3.5-8k-1222",
    "ERNIE-Bot-8K": "ernie_bot_8k",
    "ERNIE-3.5-4K-0205": "ernie-3.5-4k-0205",
    "ERNIE-Speed-8K": "ernie_speed",
    "ERNIE-Speed-128K": "ernie-speed-128k",
    "ERNIE-Lite-8K-0922": "eb-instant",
    "ERNIE-Lite-8K-0308": "ernie-lite-8k",
    "ERNIE-Tiny-8K": "ernie-tiny-8k",
    "ERNIE-Character-8K": "ernie-char-8k",
    "ERNIE-Functions-8K": "ernie-func-8k",
    "BLOOMZ-7B": "bloomz_7b1",
}.items()}

EMBEDDING_ENDPOINTS: dict[str, str] = {k.lower(): v for k, v in {
    "Embedding-V1": "embedding-v1",
    "bge-large-zh": "bge_large_zh",
    "bge-large-en": "bge_large_en",
    "tao-8k": "tao_8k",
}.items()}


# ERNIE finish_reason -> OpenAI (PROVIDERS.md §0).
FINISH_REASONS: dict[str, str] = {
    "normal": "stop",
    "stop": "stop",
    "length": "length",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

# error_code -> (HTTP status reported, retryable, disables the channel). Codes from Baidu's
# documentation (mirrored by the qianfan SDK's APIErrorCode).
ERROR_CODES: dict[int, tuple[int, bool, bool]] = {
    1: (500, True, False),        # Unknown error
    2: (503, True, False),        # Service temporarily unavailable
    3: (404, True, False),        # Unsupported openapi method (an unknown endpoint)
    4: (429, True, False),        # Open api request limit reached (cluster)
    6: (403, True, True),         # No permission to access data
    13: (500, True, False),       # Get service token failed (Baidu-side)
    14: (401, True, True),        # IAM Certification failed
    15: (403, True, True),        # app not exist or create failed
    17: (429, True, False),       # Open api daily request limit reached
    18: (429, True, False),       # Open api qps request limit reached
    19: (429, True, True),        # Open api total request limit reached (the account's calls are used up)
    100: (401, True, False),      # Invalid parameter: the access_token is invalid
    110: (401, True, False),      # Access token invalid or no longer valid
    111: (401, True, False),      # Access token expired
    336000: (500, True, False),   # Internal error
    336001: (400, False, False),  # Invalid Argument
    336002: (400, False, False),  # Invalid JSON
    336003: (400, False, False),  # Invalid parameter (e.g. an even number of messages)
    336004: (403, True, False),   # Permission error (the model is not enabled for this app)
    336005: (404, True, False),   # API name not exist
    336006: (400, False, False),
    336007: (400, False, False),
    336008: (400, False, False),
    336100: (503, True, False),   # Server high load, try again
    336101: (400, False, False),  # Invalid HTTP method
    336103: (400, False, False),
    336104: (400, False, False),  # Invalid argument (system)
    336105: (400, False, False),  # Invalid argument (user setting)
    336501: (429, True, False),   # RPM limit reached
    336502: (429, True, False),   # TPM limit reached
}
# Codes meaning the access token is stale: status 401 makes the relay drop it (never disabling).
TOKEN_CODES = frozenset({100, 110, 111})

_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS)


def _is_number(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int) and v > 0:
        return v
    if isinstance(v, float) and v.is_integer() and v > 0:
        return int(v)
    return None


def finish_reason(reason: Any) -> str:
    return FINISH_REASONS.get(str(reason or ""), "stop")


# --------------------------------------------------------------------------- key, token, URL


def _failure(status: int, message: str, code: Any, *, retryable: bool, disables: bool,
             type_: str = "baidu_error") -> UpstreamFailure:
    return UpstreamFailure(
        status=status, message=message, type=type_, code=code, retryable=retryable,
        disables_channel=disables,
        payload={"message": message, "type": type_, "param": "", "code": code})


def split_key(key: str) -> tuple[str, str]:
    """(API Key, Secret Key) of an ``AK|SK`` channel key; a malformed key is a rejection that
    disables the channel (it can never work)."""
    parts = [p.strip() for p in (key or "").strip().split("|")]
    if len(parts) != 2 or not all(parts):
        raise UpstreamRejected(_failure(
            401, "Baidu ERNIE keys are written API Key|Secret Key", "invalid_api_key",
            retryable=True, disables=True, type_="authentication_error"))
    return parts[0], parts[1]


def api_base(target: ChannelTarget) -> str:
    return (target.base_url or "").strip().rstrip("/") or DEFAULT_BASE_URL


def token_url(target: ChannelTarget) -> str:
    ak, sk = split_key(target.key)
    query = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": ak, "client_secret": sk})
    return f"{api_base(target)}{TOKEN_PATH}?{query}"


def endpoint(model: str, mode: str = CHAT) -> str:
    """``chat/{endpoint}`` or ``embeddings/{endpoint}`` for a model name."""
    name = model.strip()
    low = name.lower()
    if mode == EMBEDDINGS:
        return "embeddings/" + EMBEDDING_ENDPOINTS.get(low, low)
    return "chat/" + CHAT_ENDPOINTS.get(low, low)


def request_url(target: ChannelTarget, model: str, mode: str, token: str) -> str:
    path = urllib.parse.quote(endpoint(model, mode), safe="/-._~")
    return f"{api_base(target)}{API_PREFIX}/{path}?" + urllib.parse.urlencode({"access_token": token})


def parse_token_answer(status: int, body: bytes) -> TokenGrant:
    """``{access_token, expires_in}``; ``{error, error_description}`` (HTTP 400/401) is a refused
    key: a rejection that disables the channel; a server fault is retried elsewhere."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("access_token"), str) and data["access_token"] \
            and 200 <= status < 300:
        expires = data.get("expires_in")
        return TokenGrant(data["access_token"], float(expires) if _is_number(expires) and expires > 0
                          else DEFAULT_TOKEN_LIFETIME)
    if isinstance(data, dict) and data.get("error"):
        desc = data.get("error_description")
        message = f"Baidu refused the key: {data['error']}" + (f" ({desc})" if desc else "")
        code = str(data["error"])
    elif isinstance(data, dict) and data.get("error_code"):
        message, code = str(data.get("error_msg") or "token exchange failed"), data["error_code"]
    else:
        message = "token exchange failed: " + (body.decode("utf-8", "replace").strip()[:300]
                                               or f"HTTP {status}")
        code = "token_exchange_failed"
    if status >= 500 or status == 429:
        raise UpstreamRejected(_failure(502 if status >= 500 else 429, message, code,
                                        retryable=True, disables=False))
    raise UpstreamRejected(_failure(401, message, code, retryable=True, disables=True,
                                    type_="authentication_error"))


# --------------------------------------------------------------------------- request


def _text(content: Any) -> str:
    """The text of OpenAI message content (ERNIE v1 takes text only: image parts are dropped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return str(content)
    out = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type", "text") == "text":
            out.append(part["text"])
    return "".join(out)


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments or "{}"
    return _dumps(arguments if arguments is not None else {})


def convert_messages(messages: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) for ERNIE.

    System/developer messages → ``system``; user/assistant turns of one role in a row are
    merged (text joined with a newline); an assistant tool call → ``function_call`` (ERNIE v1
    takes one per turn: the first); a tool result → ``{"role": "function", "name", "content"}``.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    if not isinstance(messages, list):
        return None, out
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        text = _text(msg.get("content"))
        if role in ("system", "developer"):
            if text:
                system.append(text)
            continue
        if role in ("tool", "function"):
            name = msg.get("name") if isinstance(msg.get("name"), str) and msg.get("name") else \
                names.get(str(msg.get("tool_call_id") or ""), "")
            out.append({"role": "function", "name": name or "function", "content": text})
            continue
        if role not in ("user", "assistant"):
            continue
        entry: dict[str, Any] = {"role": role, "content": text}
        if role == "assistant":
            calls = [tc for tc in msg.get("tool_calls") or () if isinstance(tc, dict)
                     and isinstance(tc.get("function"), dict) and tc["function"].get("name")]
            legacy = msg.get("function_call")
            if calls:
                for tc in calls:
                    if isinstance(tc.get("id"), str):
                        names[tc["id"]] = str(tc["function"]["name"])
                fn = calls[0]["function"]
                entry["function_call"] = {"name": str(fn["name"]), "arguments": _arguments(fn.get("arguments"))}
            elif isinstance(legacy, dict) and legacy.get("name"):
                entry["function_call"] = {"name": str(legacy["name"]),
                                          "arguments": _arguments(legacy.get("arguments"))}
        prev = out[-1] if out else None
        if prev is not None and prev["role"] == role and "function_call" not in prev \
                and "function_call" not in entry:
            prev["content"] = "\n".join(t for t in (prev["content"], text) if t)
            continue
        out.append(entry)
    return ("\n\n".join(system) if system else None), out


def convert_tools(tools: Any, functions: Any = None) -> list[dict[str, Any]]:
    """OpenAI tools (or legacy ``functions``) as ERNIE ``functions``."""
    decls: list[Any] = []
    if isinstance(tools, list):
        decls += [t.get("function") for t in tools if isinstance(t, dict) and t.get("type", "function") == "function"]
    if isinstance(functions, list):
        decls += functions
    out = []
    for fn in decls:
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        params = fn.get("parameters")
        entry = {"name": fn["name"], "description": str(fn.get("description") or fn["name"]),
                 "parameters": params if isinstance(params, dict) and params
                 else {"type": "object", "properties": {}}}
        out.append(entry)
    return out


def to_baidu_request(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    """An ERNIE chat body from an OpenAI chat body (field by field; all else dropped)."""
    system, messages = convert_messages(body.get("messages"))
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    t = body.get("temperature")
    if _is_number(t):
        out["temperature"] = min(1.0, max(0.01, float(t)))  # ERNIE: (0, 1]
    top_p = body.get("top_p")
    if _is_number(top_p):
        out["top_p"] = min(1.0, max(0.0, float(top_p)))
    penalty = body.get("penalty_score")
    fp = body.get("frequency_penalty")
    if _is_number(penalty):
        out["penalty_score"] = min(2.0, max(1.0, float(penalty)))
    elif _is_number(fp) and fp > 0:
        out["penalty_score"] = round(1.0 + min(2.0, float(fp)) / 2, 4)
    max_tokens = _positive_int(body.get("max_completion_tokens")) or _positive_int(body.get("max_tokens"))
    if max_tokens is not None:
        out["max_output_tokens"] = max(2, max_tokens)
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    stops = [s for s in stops if isinstance(s, str) and s]
    if stops:
        out["stop"] = stops[:4]
    user = body.get("user")
    if isinstance(user, str) and user:
        out["user_id"] = user
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
        out["response_format"] = "json_object"
    functions = convert_tools(body.get("tools"), body.get("functions"))
    if functions:
        out["functions"] = functions
        choice = body.get("tool_choice")
        fn = choice.get("function") if isinstance(choice, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str) and fn["name"]:
            out["tool_choice"] = {"type": "function", "function": {"name": fn["name"]}}
    if stream:
        out["stream"] = True
    return out


def to_baidu_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {"input": embedding_texts(body.get("input"), model)}
    user = body.get("user")
    if isinstance(user, str) and user:
        out["user_id"] = user
    return out


# --------------------------------------------------------------------------- answers


def baidu_error(data: Any) -> tuple[Any, str] | None:
    """(error_code, error_msg) when ``data`` is an ERNIE error object."""
    if not isinstance(data, dict):
        return None
    code, msg = data.get("error_code"), data.get("error_msg")
    if code in (None, 0, "0", "") and not msg:
        return None
    return code, str(msg or f"Baidu error {code}")


def baidu_failure(code: Any, message: str) -> UpstreamFailure:
    try:
        icode: int | None = int(code)
    except (TypeError, ValueError):
        icode = None
    if icode in ERROR_CODES:
        status, retryable, disables = ERROR_CODES[icode]
    elif icode is not None and 336500 <= icode < 336600:  # the 3365xx family is rate limits
        status, retryable, disables = 429, True, False
    else:
        status, retryable, disables = 500, True, False
    if icode not in TOKEN_CODES:
        _, phrase = failure_verdicts(500, message, None, None)  # "已欠费", "balance"…
        disables = disables or phrase
    return _failure(status, message, icode if icode is not None else code, retryable=retryable,
                    disables=disables)


def baidu_usage(data: Any) -> Usage | None:
    usage = Usage.from_openai(data)
    if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
        return None
    return usage


def _tool_call(fc: Any) -> dict[str, Any] | None:
    if not isinstance(fc, dict) or not fc.get("name"):
        return None
    return {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
            "function": {"name": str(fc["name"]), "arguments": _arguments(fc.get("arguments"))}}


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None
                       ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from an ERNIE answer."""
    text = data.get("result") if isinstance(data.get("result"), str) else ""
    call = _tool_call(data.get("function_call"))
    message: dict[str, Any] = {"role": "assistant", "content": text if text or call is None else None}
    generated = [text]
    reason = data.get("finish_reason")
    if call is not None:
        message["tool_calls"] = [call]
        generated += [call["function"]["name"], call["function"]["arguments"]]
        finish = "tool_calls"
    elif not reason and data.get("need_clear_history") is True:
        finish = "content_filter"  # a flagged conversation: ERNIE answers a canned text
    else:
        finish = finish_reason(reason)
    usage = baidu_usage(data.get("usage"))
    rid = data.get("id")
    created_at = data.get("created")
    out: dict[str, Any] = {
        "id": rid if isinstance(rid, str) and rid else "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": created if created is not None else (
            int(created_at) if _is_number(created_at) and created_at > 0 else now()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage.to_openai()
    return out, usage, "".join(generated)


def to_openai_embeddings(data: dict[str, Any], model: str, texts: list[str],
                         encoding_format: Any = None) -> tuple[dict[str, Any], Usage]:
    """An OpenAI embeddings list (the Gemini adaptor's writer: floats or base64, local count
    when ERNIE reports no usage)."""
    items = sorted((d for d in data.get("data") or () if isinstance(d, dict)),
                   key=lambda d: d.get("index") if isinstance(d.get("index"), int) else 0)
    usage = data.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    shaped: dict[str, Any] = {"embeddings": [{"values": d.get("embedding") or []} for d in items]}
    if _is_number(prompt) and prompt > 0:
        shaped["usageMetadata"] = {"promptTokenCount": int(prompt)}
    return _gemini_embeddings_to_openai(shaped, model, texts, encoding_format)


def parse_baidu_error(status: int, body: bytes) -> UpstreamFailure:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    err = baidu_error(data)
    if err is not None:
        return baidu_failure(*err)
    if isinstance(data, dict) and data.get("error"):  # the OAuth endpoint's shape
        desc = data.get("error_description")
        message = str(data["error"]) + (f": {desc}" if desc else "")
        retryable, disables = failure_verdicts(status, message, None, None)
        return _failure(status, message, str(data["error"]), retryable=retryable, disables=disables)
    if status < 400:  # an SSE body whose only event is an error
        ts = BaiduStream(None)
        ts.feed(body)
        ts.finish()
        if ts.error is not None:
            return baidu_failure(ts.error_code, ts.error)
    message = body.decode("utf-8", "replace").strip()[:500] or f"upstream returned HTTP {status}"
    retryable, disables = failure_verdicts(status, message, None, None)
    return _failure(status, message, None, retryable=retryable, disables=disables, type_="upstream_error")


# --------------------------------------------------------------------------- stream


class BaiduStream(StreamTranscoder):
    """ERNIE SSE in (one ``data:`` object per sentence, ``is_end`` on the last, no ``[DONE]``),
    OpenAI ``chat.completion.chunk`` frames out. Usage is cumulative: the last one is kept."""

    def __init__(self, req: RelayRequest | None, created: int | None = None) -> None:
        super().__init__()
        self._decoder = SSEDecoder()
        self._model = req.requested_model if req is not None else ""
        self._created = created if created is not None else now()
        self._emit_usage = client_wants_usage(req) if req is not None else False
        self._id = ""
        self._role_sent = False
        self._tools = 0
        self._sent_done = False
        self.error_code: Any = None

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:  # cut before is_end
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    def _frame(self, delta: dict[str, Any] | None, finish: str | None = None, usage: Usage | None = None) -> bytes:
        if not self._id:
            self._id = "chatcmpl-" + uuid.uuid4().hex
        if delta is not None and not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        return sse_frame(chat_chunk(self._id, self._model, self._created, delta, finish, usage))

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
                continue
            if isinstance(obj, dict):
                self._on_object(obj, out)
        return out

    def _on_object(self, obj: dict[str, Any], out: list[bytes]) -> None:
        err = baidu_error(obj)
        if err is not None:
            self.error_code, self.error = err
            out.append(sse_frame({"error": {"message": err[1], "type": "baidu_error", "param": "",
                                            "code": err[0]}}))
            self._sent_done = True
            out.append(DONE_FRAME)
            return
        rid = obj.get("id")
        if not self._id and isinstance(rid, str) and rid:
            self._id = rid
        usage = baidu_usage(obj.get("usage"))
        if usage is not None:
            self.usage = usage
        text = obj.get("result")
        if isinstance(text, str) and text:
            self.text_parts.append(text)
            out.append(self._frame({"content": text}))
        call = _tool_call(obj.get("function_call"))
        if call is not None:
            self.text_parts += [call["function"]["name"], call["function"]["arguments"]]
            out.append(self._frame({"tool_calls": [{"index": self._tools, **call}]}))
            self._tools += 1
        if obj.get("is_end") is True:
            reason = obj.get("finish_reason")
            if self._tools:
                finish = "tool_calls"
            elif not reason and obj.get("need_clear_history") is True:
                finish = "content_filter"
            else:
                finish = finish_reason(reason)
            out.append(self._frame({} if self._role_sent else {"content": ""}, finish))
            if self._emit_usage and self.usage is not None:
                out.append(self._frame(None, usage=self.usage))
            self.done = True
            self._sent_done = True
            out.append(DONE_FRAME)


# --------------------------------------------------------------------------- adaptor


class BaiduAdaptor(Adaptor):
    name = "baidu"
    modes = frozenset({CHAT, EMBEDDINGS})
    credentials = True

    def token_request(self, target: ChannelTarget) -> UpstreamRequest:
        return UpstreamRequest("POST", token_url(target), {"Content-Type": "application/json",
                                                           "Accept": "application/json"}, b"")

    def parse_token(self, status: int, body: bytes) -> TokenGrant:
        return parse_token_answer(status, body)

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == EMBEDDINGS:
            body = to_baidu_embeddings(req.body, req.model)
        else:
            body = to_baidu_request(req.body, stream=req.stream)
        return UpstreamRequest("POST", request_url(target, req.model, req.mode, target.token),
                               {"Content-Type": "application/json"}, _dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        err = baidu_error(data)
        if err is not None:
            raise UpstreamRejected(baidu_failure(*err))
        if req.mode == EMBEDDINGS:
            texts = embedding_texts(req.body.get("input"), req.model)
            out, usage = to_openai_embeddings(data, req.requested_model, texts, req.body.get("encoding_format"))
            return ParsedResponse(_dumps(out).encode(), usage, "")
        resp, chat_usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(_dumps(resp).encode(), chat_usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return BaiduStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_baidu_error(status, body)


__all__ = [
    "BaiduAdaptor", "BaiduStream", "CHAT_ENDPOINTS", "EMBEDDING_ENDPOINTS", "ERROR_CODES",
    "baidu_failure", "convert_messages", "convert_tools", "endpoint", "parse_baidu_error", "parse_token_answer",
    "request_url", "split_key", "to_baidu_embeddings", "to_baidu_request", "to_openai_embeddings",
    "to_openai_response", "token_url",
]
