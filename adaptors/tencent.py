"""Tencent Hunyuan (channel type 23): OpenAI chat/embeddings <-> Tencent Cloud API 3.0.

* ``POST {base}/`` (``https://hunyuan.tencentcloudapi.com/``) with ``X-TC-Action``
  (``ChatCompletions`` or ``GetEmbedding``), ``X-TC-Version: 2023-09-01``, ``X-TC-Timestamp``,
  optional ``X-TC-Region`` (the channel's ``region`` config) and a TC3-HMAC-SHA256
  ``Authorization`` header. The key is ``AppId|SecretId|SecretKey`` (One API's format; the
  AppId takes no part in signing, so ``SecretId|SecretKey`` is accepted too).
* Signing (:func:`tc3_authorization`) is a pure function of the secret id and key, the unix
  timestamp, the host, the exact body bytes (and the service, ``hunyuan``): canonical request
  ``POST\\n/\\n\\ncontent-type:…\\nhost:…\\n\\ncontent-type;host\\n<sha256(body)>`` → string to
  sign ``TC3-HMAC-SHA256\\n<ts>\\n<UTC date>/hunyuan/tc3_request\\n<sha256(canonical)>`` →
  keys ``HMAC("TC3"+SecretKey, date)`` → ``service`` → ``tc3_request`` → hex signature. The
  adaptor reads the clock once per request, in ``build_request``.
* Chat body (PascalCase): ``Model``, ``Messages [{Role, Content | Contents, ToolCalls,
  ToolCallId}]`` (all system/developer text → one leading system message; neighbours of the
  same role merge so user/assistant alternate; images → ``Contents`` for hunyuan-vision),
  ``Stream``, ``Temperature`` (0–2), ``TopP`` (0–1), ``Stop``, ``Seed`` (1–10000),
  ``Tools [{Type: function, Function: {Name, Description, Parameters: <JSON string>}}]``,
  ``ToolChoice`` none/auto/custom + ``CustomTool`` (a named tool choice; ``required`` with a
  single tool). ``max_tokens``, ``n``… have no Hunyuan field and are dropped.
* Answers come wrapped in ``{"Response": {...}}``: ``Choices[{Message|Delta, FinishReason,
  Index}]``, ``Usage{PromptTokens, CompletionTokens, TotalTokens}``, ``Id``, ``Created``.
  A stream is SSE ``data:`` lines, each a bare response object (no ``Response`` wrapper, no
  ``[DONE]``); ``Usage`` is cumulative on every line; ``FinishReason`` is ``""`` until the
  last (``stop``, ``tool_calls`` or ``sensitive`` → content_filter); streamed tool calls come
  in pieces to merge by ``Id``; a failure mid-stream is ``ErrorMsg{Code, Msg}``.
* Errors are HTTP 200 ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``:
  :func:`parse_response` raises :class:`HunyuanAnswerError` and a stream request's JSON error
  goes to :func:`parse_tencent_error`. ``AuthFailure.*`` (but ``SignatureExpire``, a clock
  problem of this server) and account codes (arrears, service stopped, resource packs used
  up, CAM denial) disable the channel; rate limits are 429; bad parameters 400, not retried.
* Embeddings: ``GetEmbedding {"InputList": [...]}`` → ``Data[{Embedding, Index}]``,
  ``Usage{PromptTokens, TotalTokens}`` (float or base64 output as the client asks).

One API's traps avoided: usage is read from the stream (OA counted locally), every choice and
tool call is converted, the answered model is the one asked for, and the signature covers
the exact bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Any, Callable

from .base import (
    CHAT,
    EMBEDDINGS,
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
    now,
)
from .common import (
    tool_choice_name,
    LineStream,
    assistant_message,
    channel_base_url,
    channel_config,
    chat_completion,
    choice,
    dumps,
    embedding_texts,
    embeddings_list,
    failure,
    finish_lookup,
    is_number,
    loads_or_none,
    new_call_id,
    new_completion_id,
    raw_message,
    split_content,
    stop_list,
)
from .registry import PROVIDERS

DEFAULT_BASE_URL = PROVIDERS[23].base_url
SERVICE = "hunyuan"
API_VERSION = "2023-09-01"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json"
SIGNED_HEADERS = "content-type;host"
CHAT_ACTION = "ChatCompletions"
EMBED_ACTION = "GetEmbedding"

# Hunyuan FinishReason -> OpenAI finish_reason ("" = not finished yet).
FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "sensitive": "content_filter",
}

# Top-level fields of a ChatCompletions body (what the converter may emit).
HUNYUAN_REQUEST_FIELDS = frozenset({
    "Model", "Messages", "Stream", "Temperature", "TopP", "Stop", "Seed", "Tools", "ToolChoice", "CustomTool",
})

MAX_SEED = 10000


# --------------------------------------------------------------------------- key and signing


def parse_key(key: str) -> tuple[str, str, str]:
    """(AppId, SecretId, SecretKey) of a channel key ``AppId|SecretId|SecretKey`` (or
    ``SecretId|SecretKey``: the AppId is not needed); ValueError when malformed."""
    parts = [p.strip() for p in (key or "").strip().split("|")]
    if len(parts) == 2:
        parts.insert(0, "")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ValueError("the Tencent Hunyuan key must be AppId|SecretId|SecretKey")
    return parts[0], parts[1], parts[2]


def tc3_date(timestamp: int) -> str:
    """The UTC date (YYYY-MM-DD) of a unix timestamp, as the credential scope wants it."""
    return datetime.fromtimestamp(int(timestamp), tz=timezone.utc).strftime("%Y-%m-%d")


def canonical_request(host: str, payload: bytes, content_type: str = CONTENT_TYPE) -> str:
    """TC3 step 1 for a POST to ``/`` signing ``content-type;host``."""
    return "\n".join([
        "POST", "/", "",
        f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n",
        SIGNED_HEADERS,
        hashlib.sha256(payload).hexdigest(),
    ])


def string_to_sign(timestamp: int, canonical: str, service: str = SERVICE) -> str:
    """TC3 step 2."""
    scope = f"{tc3_date(timestamp)}/{service}/tc3_request"
    return "\n".join([ALGORITHM, str(int(timestamp)), scope, hashlib.sha256(canonical.encode()).hexdigest()])


def tc3_signature(secret_key: str, timestamp: int, to_sign: str, service: str = SERVICE) -> str:
    """TC3 step 3: the derived keys, then the hex signature of the string to sign."""
    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    secret_date = mac(("TC3" + secret_key).encode(), tc3_date(timestamp))
    secret_service = mac(secret_date, service)
    secret_signing = mac(secret_service, "tc3_request")
    return hmac.new(secret_signing, to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(secret_id: str, secret_key: str, timestamp: int, host: str, payload: bytes, *,
                      service: str = SERVICE, content_type: str = CONTENT_TYPE) -> str:
    """The ``Authorization`` header value (TC3 step 4); pure."""
    to_sign = string_to_sign(timestamp, canonical_request(host, payload, content_type), service)
    signature = tc3_signature(secret_key, timestamp, to_sign, service)
    return (f"{ALGORITHM} Credential={secret_id}/{tc3_date(timestamp)}/{service}/tc3_request, "
            f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}")


# --------------------------------------------------------------------------- request


def _parts(content: Any) -> tuple[list[str], list[str]]:
    """(texts, image URLs) of an OpenAI message content (a number sent as content is its text)."""
    return split_content(content, scalars=True)


def _text(content: Any) -> str:
    return "\n".join(_parts(content)[0])


def _tool_calls(tool_calls: Any, legacy: Any = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tc in tool_calls if isinstance(tool_calls, list) else ():
        if not isinstance(tc, dict):
            continue
        fn = tc.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        args = fn.get("arguments")
        out.append({
            "Id": tc["id"] if isinstance(tc.get("id"), str) and tc["id"] else new_call_id(),
            "Type": "function",
            "Function": {"Name": fn["name"],
                         "Arguments": args if isinstance(args, str) else dumps(args if args is not None else {})},
        })
    if not out and isinstance(legacy, dict) and isinstance(legacy.get("name"), str) and legacy["name"]:
        args = legacy.get("arguments")
        out.append({"Id": new_call_id(), "Type": "function",
                    "Function": {"Name": legacy["name"], "Arguments": args if isinstance(args, str) else "{}"}})
    return out


def _user_message(content: Any) -> dict[str, Any] | None:
    texts, images = _parts(content)
    if images:
        contents: list[dict[str, Any]] = [{"Type": "text", "Text": t} for t in texts]
        contents += [{"Type": "image_url", "ImageUrl": {"Url": u}} for u in images]
        return {"Role": "user", "Contents": contents}
    if not texts:
        return None
    return {"Role": "user", "Content": "\n".join(texts)}


def _merge(prev: dict[str, Any], msg: dict[str, Any]) -> None:
    """Merge ``msg`` into ``prev`` (same role, next to each other)."""
    if "Contents" in prev or "Contents" in msg:
        items: list[dict[str, Any]] = []
        for m in (prev, msg):
            if "Contents" in m:
                items.extend(m["Contents"])
            elif m.get("Content"):
                items.append({"Type": "text", "Text": m["Content"]})
        prev.pop("Content", None)
        prev["Contents"] = items
    else:
        prev["Content"] = "\n".join(t for t in (prev.get("Content"), msg.get("Content")) if t)
    if msg.get("ToolCalls"):
        prev["ToolCalls"] = prev.get("ToolCalls", []) + msg["ToolCalls"]


def convert_messages(messages: Any) -> list[dict[str, Any]]:
    """OpenAI chat messages as Hunyuan ``Messages``.

    Every system/developer text goes into one leading ``system`` message (Hunyuan allows a
    system message only first); ``tool`` (and legacy ``function``) results keep their
    ``ToolCallId``; user and assistant messages next to one of the same role merge, so that
    user and assistant alternate as Hunyuan requires; reasoning content is never sent back
    (Hunyuan rejects it); messages left empty are dropped.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for msg in messages if isinstance(messages, list) else ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        converted: dict[str, Any] | None
        if role in ("system", "developer"):
            text = _text(msg.get("content"))
            if text:
                system.append(text)
            continue
        if role == "user":
            converted = _user_message(msg.get("content"))
        elif role == "assistant":
            calls = _tool_calls(msg.get("tool_calls"), msg.get("function_call"))
            converted = {"Role": "assistant", "Content": _text(msg.get("content"))}
            if calls:
                converted["ToolCalls"] = calls
            elif not converted["Content"]:
                converted = None
        elif role in ("tool", "function"):
            call_id = msg.get("tool_call_id") or msg.get("name") or ""
            content = msg.get("content")
            text = content if isinstance(content, str) else (
                _text(content) if isinstance(content, list) else dumps(content) if content is not None else "")
            converted = {"Role": "tool", "Content": text, "ToolCallId": str(call_id)}
        else:
            continue
        if converted is None:
            continue
        if out and converted["Role"] in ("user", "assistant") and out[-1]["Role"] == converted["Role"]:
            _merge(out[-1], converted)
        else:
            out.append(converted)
    if system:
        out.insert(0, {"Role": "system", "Content": "\n".join(system)})
    return out


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools as Hunyuan ``Tools`` (the parameters schema as a JSON string)."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        params = fn.get("parameters")
        if not isinstance(params, dict):
            params = {"type": "object", "properties": {}}
        f: dict[str, Any] = {"Name": fn["name"], "Parameters": dumps(params)}
        if isinstance(fn.get("description"), str) and fn["description"]:
            f["Description"] = fn["description"]
        out.append({"Type": "function", "Function": f})
    return out


def convert_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """(ToolChoice, CustomTool). Hunyuan knows none/auto/custom: a named function is
    ``custom`` with that tool; ``required`` is ``custom`` when there is one tool (Hunyuan has
    no "any tool" mode), else ``auto``."""
    if not tools or choice is None:
        return None, None
    if choice in ("none", "auto"):
        return str(choice), None
    if choice == "required":
        return ("custom", tools[0]) if len(tools) == 1 else ("auto", None)
    if (name := tool_choice_name(choice)) is not None:
        for t in tools:
            if t["Function"]["Name"] == name:
                return "custom", t
        return "custom", {"Type": "function", "Function": {"Name": name, "Parameters": '{"type":"object"}'}}
    return None, None


def to_hunyuan_request(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"Model": model, "Messages": convert_messages(body.get("messages")), "Stream": stream}
    t = body.get("temperature")
    if is_number(t):
        out["Temperature"] = min(max(float(t), 0.0), 2.0)
    p = body.get("top_p")
    if is_number(p):
        out["TopP"] = min(max(float(p), 0.0), 1.0)
    stops = stop_list(body.get("stop"))
    if stops:
        out["Stop"] = stops
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 < seed <= MAX_SEED:
        out["Seed"] = seed
    tools = body.get("tools")
    if tools is None and isinstance(body.get("functions"), list):  # legacy functions
        tools = [{"type": "function", "function": f} for f in body["functions"]]
    converted = convert_tools(tools)
    if converted:
        out["Tools"] = converted
        choice = body.get("tool_choice", body.get("function_call"))
        if isinstance(choice, dict) and "name" in choice and "function" not in choice:
            choice = {"type": "function", "function": {"name": choice["name"]}}
        tc, custom = convert_tool_choice(choice, converted)
        if tc:
            out["ToolChoice"] = tc
        if custom:
            out["CustomTool"] = custom
    return out


def to_hunyuan_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    return {"InputList": embedding_texts(body.get("input"), model)}


# --------------------------------------------------------------------------- responses


def unwrap(data: Any) -> Any:
    """The object inside ``{"Response": {...}}`` (stream lines come without the wrapper)."""
    if isinstance(data, dict) and isinstance(data.get("Response"), dict):
        return data["Response"]
    return data


def hunyuan_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    try:
        prompt = int(data.get("PromptTokens") or 0)
        completion = int(data.get("CompletionTokens") or 0)
        total = int(data.get("TotalTokens") or 0)
    except (TypeError, ValueError):
        return None
    if not completion and total > prompt:
        completion = total - prompt
    if not prompt and not completion:
        return None
    return Usage(prompt, completion)


def finish_reason(reason: Any, has_tool_calls: bool = False) -> str | None:
    """Map a Hunyuan ``FinishReason``; ``""``/None stay None (not finished)."""
    if not isinstance(reason, str) or not reason:
        return None
    return finish_lookup(FINISH_REASONS, reason, has_tool_calls)


def _openai_tool_calls(calls: Any, new_id: Callable[[], str]) -> list[dict[str, Any]]:
    out = []
    for tc in calls if isinstance(calls, list) else ():
        if not isinstance(tc, dict):
            continue
        fn = tc.get("Function") if isinstance(tc.get("Function"), dict) else {}
        name = fn.get("Name")
        if not isinstance(name, str) or not name:
            continue
        args = fn.get("Arguments")
        tid = tc.get("Id")
        out.append({"id": tid if isinstance(tid, str) and tid else new_id(), "type": "function",
                    "function": {"name": name, "arguments": args if isinstance(args, str) else dumps(args or {})}})
    return out


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None,
                       new_id: Callable[[], str] = new_call_id) -> tuple[dict[str, Any], Usage | None, str]:
    """(``chat.completion``, usage, generated text) of a ChatCompletions answer."""
    resp = unwrap(data)
    choices = []
    generated: list[str] = []
    for i, ch in enumerate(resp.get("Choices") or ()):
        if not isinstance(ch, dict):
            continue
        msg = ch.get("Message") if isinstance(ch.get("Message"), dict) else {}
        content = msg.get("Content") if isinstance(msg.get("Content"), str) else ""
        calls = _openai_tool_calls(msg.get("ToolCalls"), new_id)
        reasoning = msg.get("ReasoningContent")
        reasoning = reasoning if isinstance(reasoning, str) else ""
        if reasoning:
            generated.append(reasoning)
        generated.append(content)
        generated.extend(c["function"]["name"] + c["function"]["arguments"] for c in calls)
        index = ch.get("Index") if isinstance(ch.get("Index"), int) else i
        choices.append(choice(assistant_message(content, calls, reasoning),
                              finish_reason(ch.get("FinishReason"), bool(calls)) or ("tool_calls" if calls else "stop"),
                              index))
    if not choices:
        choices.append(choice(assistant_message(""), "stop"))
    usage = hunyuan_usage(resp.get("Usage"))
    rid = resp.get("Id") or resp.get("RequestId")
    upstream_created = resp.get("Created")
    if created is None and isinstance(upstream_created, int) and upstream_created > 0:
        created = upstream_created
    id_ = "chatcmpl-" + rid if isinstance(rid, str) and rid else new_completion_id()
    return chat_completion(id_, model, choices, usage, created), usage, "".join(generated)


def to_openai_embeddings(data: dict[str, Any], model: str, encoding_format: Any = None
                         ) -> tuple[dict[str, Any], Usage | None]:
    resp = unwrap(data)
    rows = [d for d in resp.get("Data") or () if isinstance(d, dict)]
    vectors = [(d.get("Index") if isinstance(d.get("Index"), int) else i, d.get("Embedding"))
               for i, d in enumerate(rows)]
    usage = None
    u = resp.get("Usage")
    if isinstance(u, dict):
        try:
            prompt = int(u.get("PromptTokens") or u.get("TotalTokens") or 0)
        except (TypeError, ValueError):
            prompt = 0
        if prompt:
            usage = Usage(prompt, 0)
    return embeddings_list(vectors, model, encoding_format, usage), usage


# --------------------------------------------------------------------------- errors

# Codes that mean the account cannot use Hunyuan at all (Tencent Cloud common and Hunyuan codes).
ACCOUNT_CODES = frozenset({
    "FailedOperation.ServiceNotActivated", "FailedOperation.ServiceStop", "FailedOperation.ServiceStopArrears",
    "FailedOperation.ResourcePackExhausted", "FailedOperation.FreeResourcePackExhausted",
    "FailedOperation.UserUnAuthError", "FailedOperation.PartnerAccountUnSupport",
    "ResourceUnavailable.InArrears", "ResourceUnavailable.LowBalance", "ResourceUnavailable.StopUsing",
    "ResourceUnavailable.NotExist", "ResourceInsufficient.ChargeResourceExhaust",
})
# AuthFailure codes that are no fault of the key: the timestamp is over 5 minutes off (this
# server's clock) — every Tencent channel would fail alike, so none is disabled for it.
NON_DISABLING_AUTH = frozenset({"AuthFailure.SignatureExpire"})
_BAD_REQUEST_HEADS = frozenset({
    "InvalidParameter", "InvalidParameterValue", "MissingParameter", "UnknownParameter", "InvalidAction",
    "NoSuchVersion", "UnsupportedOperation", "InvalidRequest", "RequestSizeLimitExceeded", "UnsupportedRegion",
    "UnsupportedProtocol", "InvalidFilter",
})


def status_for(code: str, fallback: int = 502) -> int:
    """The HTTP status a Tencent error code stands for (its errors arrive on HTTP 200)."""
    head = code.split(".", 1)[0]
    if head == "AuthFailure":
        return 401
    if code in ACCOUNT_CODES or head in ("UnauthorizedOperation", "ResourceUnavailable", "ResourceInsufficient"):
        return 403
    if code in ("OperationDenied.TextIllegalDetected", "OperationDenied.ImageIllegalDetected"):
        return 400  # the input failed content moderation
    if head == "OperationDenied":
        return 403
    if head in ("RequestLimitExceeded", "LimitExceeded") or code == "FailedOperation.EngineServerLimitExceeded":
        return 429
    if code == "InvalidParameterValue.Model" or head == "ResourceNotFound":
        return 404  # the model is not served here: another channel may have it
    if head in _BAD_REQUEST_HEADS:
        return 400
    if code == "FailedOperation.EngineRequestTimeout":
        return 504
    if head in ("InternalError", "FailedOperation", "ServiceUnavailable"):
        return 503 if head == "ServiceUnavailable" else 500
    return fallback if fallback >= 400 else 502


def tencent_failure(code: Any, message: str, fallback_status: int = 502) -> UpstreamFailure:
    """An UpstreamFailure for a Tencent ``Error{Code, Message}`` (or a stream ``ErrorMsg``)."""
    scode = str(code) if code not in (None, "") else ""
    status = status_for(scode, fallback_status) if scode and not scode.isdigit() else (
        fallback_status if fallback_status >= 400 else 502)
    retryable, disables = failure_verdicts(status, message, None, None)
    head = scode.split(".", 1)[0]
    if (head == "AuthFailure" and scode not in NON_DISABLING_AUTH) or scode in ACCOUNT_CODES \
            or head == "UnauthorizedOperation" or head == "ResourceUnavailable":
        disables = True
    elif scode in NON_DISABLING_AUTH:
        disables = False
    code_out: Any = scode or None
    if scode.isdigit():
        code_out = int(scode)
    return failure(status, message, code=code_out, retryable=retryable, disables=disables)


def error_of(obj: Any) -> tuple[Any, str] | None:
    """(code, message) of an error answer (``Response.Error`` or a stream ``ErrorMsg``)."""
    obj = unwrap(obj)
    if not isinstance(obj, dict):
        return None
    err = obj.get("Error")
    if isinstance(err, dict) and (err.get("Code") or err.get("Message")):
        msg = err.get("Message")
        return err.get("Code"), (msg if isinstance(msg, str) and msg else f"Tencent Cloud error {err.get('Code')}")
    em = obj.get("ErrorMsg")
    if isinstance(em, dict) and (em.get("Code") or em.get("Msg")):
        msg = em.get("Msg")
        return em.get("Code"), (msg if isinstance(msg, str) and msg else f"Hunyuan error {em.get('Code')}")
    return None


def parse_tencent_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    found = error_of(data)
    if found is None:  # perhaps an SSE body holding an error line
        for line in body.splitlines():
            if line.startswith(b"data:"):
                found = error_of(loads_or_none(line[5:]))
                if found is not None:
                    break
    if found is not None:
        return tencent_failure(found[0], found[1], status)
    message = raw_message(body, status)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        message = data["message"]
    return tencent_failure(None, message, status)


class HunyuanAnswerError(UpstreamRejected):
    """A 2xx Hunyuan answer that is an error (raised by ``parse_response``)."""


# --------------------------------------------------------------------------- stream


class HunyuanStream(LineStream):
    """Hunyuan SSE in, OpenAI ``chat.completion.chunk`` frames out.

    Hunyuan writes one whole JSON object per ``data:`` line, so lines are read one by one
    (robust to frames separated by something other than a blank line). The stream ends
    when the connection closes: :meth:`finish` sends the usage chunk (usage is cumulative
    on every line; the last one counts) and ``[DONE]``.
    """

    def __init__(self, req: RelayRequest, created: int | None = None,
                 new_id: Callable[[], str] = new_call_id) -> None:
        super().__init__(req, created)
        self._created: int | None = created  # else the upstream's Created, else the first frame's now()
        self._new_id = new_id
        self._calls: dict[int, dict[Any, int]] = {}  # choice index -> call key -> ordinal
        self._last_call: dict[int, int] = {}  # choice index -> ordinal of its last call
        self._finished: set[int] = set()

    def _end(self, out: list[bytes]) -> None:
        if self._finished:
            self.done = True
        self._close(out)

    # -- internals --------------------------------------------------------------------------
    def _frame(self, delta: dict[str, Any] | None, finish: str | None = None,
               usage: Usage | None = None, index: int = 0) -> bytes:
        if self._created is None:
            self._created = now()
        return super()._frame(delta, finish, usage, index)

    def _line(self, line: bytes, out: list[bytes]) -> None:
        line = line.strip()
        if not line.startswith(b"data:"):
            return  # blank lines, event:/id: fields, comments
        data = line[5:].strip()
        if not data or data == b"[DONE]":
            return
        obj = loads_or_none(data)
        if isinstance(obj, dict):
            self._on_object(obj, out)

    def _on_object(self, obj: dict[str, Any], out: list[bytes]) -> None:
        err = error_of(obj)
        if err is not None:
            self._on_error(err, out)
            return
        obj = unwrap(obj)
        rid = obj.get("Id")
        if not self._id and isinstance(rid, str) and rid:
            self._id = "chatcmpl-" + rid
        created = obj.get("Created")
        if self._created is None and isinstance(created, int) and created > 0:
            self._created = created
        usage = hunyuan_usage(obj.get("Usage"))
        if usage is not None:
            self.usage = usage
        for pos, ch in enumerate(obj.get("Choices") or ()):
            if not isinstance(ch, dict):
                continue
            idx = ch.get("Index") if isinstance(ch.get("Index"), int) else pos
            if idx in self._finished:
                continue
            delta = ch.get("Delta") if isinstance(ch.get("Delta"), dict) else {}
            reasoning = delta.get("ReasoningContent")
            if isinstance(reasoning, str) and reasoning:
                self.text_parts.append(reasoning)
                out.append(self._frame({"reasoning_content": reasoning}, index=idx))
            content = delta.get("Content")
            if isinstance(content, str) and content:
                self.text_parts.append(content)
                out.append(self._frame({"content": content}, index=idx))
            calls = self._tool_deltas(idx, delta.get("ToolCalls"))
            if calls:
                out.append(self._frame({"tool_calls": calls}, index=idx))
            reason = finish_reason(ch.get("FinishReason"), bool(self._calls.get(idx)))
            if reason:
                self._finished.add(idx)
                out.append(self._frame({} if idx in self._role_sent else {"content": ""}, reason, index=idx))

    def _tool_deltas(self, idx: int, calls: Any) -> list[dict[str, Any]]:
        """OpenAI tool-call deltas for Hunyuan's pieces, merged by ``Id`` (or ``Index``): the
        first piece of a call opens it (id, name), later ones add arguments."""
        out: list[dict[str, Any]] = []
        known = self._calls.setdefault(idx, {})
        for tc in calls if isinstance(calls, list) else ():
            if not isinstance(tc, dict):
                continue
            fn = tc.get("Function") if isinstance(tc.get("Function"), dict) else {}
            name = fn.get("Name") if isinstance(fn.get("Name"), str) else ""
            args = fn.get("Arguments") if isinstance(fn.get("Arguments"), str) else ""
            tid = tc.get("Id") if isinstance(tc.get("Id"), str) and tc.get("Id") else None
            keys: list[Any] = ([tid] if tid else []) + (
                [("index", tc["Index"])] if isinstance(tc.get("Index"), int) else [])
            k = next((known[key] for key in keys if key in known), None)
            if k is None and not keys and not name:
                k = self._last_call.get(idx)  # more arguments of the last call
            if k is None:
                if not name:
                    continue  # pieces of a call whose name never came: nothing a client could use
                k = len(set(known.values()))
                for key in keys or [("new", k)]:
                    known[key] = k
                self.text_parts.append(name + args)
                out.append({"index": k, "id": tid or self._new_id(), "type": "function",
                            "function": {"name": name, "arguments": args}})
            else:
                for key in keys:
                    known.setdefault(key, k)
                if args:
                    self.text_parts.append(args)
                    out.append({"index": k, "function": {"arguments": args}})
            self._last_call[idx] = k
        return out

    def _on_error(self, err: tuple[Any, str], out: list[bytes]) -> None:
        code, message = err
        payload = tencent_failure(code, message).payload
        assert payload is not None
        self._fail(payload, out)


# --------------------------------------------------------------------------- adaptor


class TencentAdaptor(Adaptor):
    """Tencent Cloud API 3.0, TC3-signed. ``clock`` gives the unix time (tests pin it)."""

    name = "tencent"
    modes = frozenset({CHAT, EMBEDDINGS})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    @staticmethod
    def url(target: ChannelTarget) -> str:
        return channel_base_url(target, DEFAULT_BASE_URL) + "/"

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        try:
            _, secret_id, secret_key = parse_key(target.key)
        except ValueError as e:
            raise ChannelConfigError(str(e), "channel_key_invalid") from None
        if req.mode == EMBEDDINGS:
            action, body = EMBED_ACTION, to_hunyuan_embeddings(req.body, req.model)
        else:
            action, body = CHAT_ACTION, to_hunyuan_request(req.body, req.model, req.stream)
        payload = dumps(body).encode()
        url = self.url(target)
        host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2].lower()
        timestamp = int(self.clock())
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": tc3_authorization(secret_id, secret_key, timestamp, host, payload),
        }
        region = channel_config(target).get("region")
        if isinstance(region, str) and region.strip():
            headers["X-TC-Region"] = region.strip()
        return UpstreamRequest("POST", url, headers, payload)

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        data = loads_or_none(body)
        if not isinstance(data, dict):
            raise HunyuanAnswerError(tencent_failure(None, "Hunyuan answered something other than JSON: "
                                                     + body.decode("utf-8", "replace")[:200]))
        err = error_of(data)
        if err is not None:
            raise HunyuanAnswerError(tencent_failure(err[0], err[1]))
        if req.mode == EMBEDDINGS:
            out, usage = to_openai_embeddings(data, req.requested_model, req.body.get("encoding_format"))
            return ParsedResponse(dumps(out).encode(), usage, "")
        out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return HunyuanStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_tencent_error(status, body)


__all__ = [
    "TencentAdaptor", "HunyuanStream", "HunyuanAnswerError", "parse_key", "tc3_date", "canonical_request",
    "string_to_sign", "tc3_signature", "tc3_authorization", "convert_messages", "convert_tools",
    "convert_tool_choice", "to_hunyuan_request", "to_hunyuan_embeddings", "to_openai_response",
    "to_openai_embeddings", "hunyuan_usage", "finish_reason", "parse_tencent_error", "tencent_failure",
    "status_for", "error_of", "unwrap", "FINISH_REASONS", "HUNYUAN_REQUEST_FIELDS",
]
