"""Xunfei Spark (channel type 18): OpenAI chat <-> Spark's websocket API, pure converters.

The relay does the I/O (relay/wsupstream.py): :meth:`XunfeiAdaptor.build_request` returns a
``transport="websocket"`` request, the relay connects to its URL, sends its body as one text
frame and hands every message Spark sends back as one line (PROVIDERS.md §6, One API's
relay/adaptor/xunfei).

* **Key.** ``APPID|APISecret|APIKey`` (One API's order); anything else is a
  :class:`~adaptors.base.ChannelConfigError`.
* **Version and endpoint.** The model picks the API version as in One API: ``Spark-Lite`` →
  v1.1, ``Spark-Pro`` → v3.1, ``Spark-Pro-128K`` → v3.1-128K, ``Spark-Max`` → v3.5,
  ``Spark-Max-32K`` → v3.5-32K, ``Spark-4.0-Ultra`` → v4.0; otherwise what follows the first
  ``-`` when it is a version (``SparkDesk-v3.5``); otherwise the channel's ``api_version``
  config; otherwise v1.1. A Spark domain given as the model (``generalv3.5``, ``4.0Ultra``…)
  works too. The version gives the domain and the path: ``/{version}/chat`` (domains lite,
  generalv2, generalv3, generalv3.5, 4.0Ultra; an unknown version ``vX`` is ``generalvX``, as
  in One API), ``/chat/pro-128k`` and ``/chat/max-32k``. The channel's base URL replaces
  ``wss://spark-api.xf-yun.com`` (``http``/``https`` become ``ws``/``wss``; a path in it is a
  prefix).
* **Signature** (Xunfei's URL authentication): ``date`` = now in RFC 1123 GMT; ``signature`` =
  base64(HMAC-SHA256(APISecret, ``host: {host}\\ndate: {date}\\nGET {path} HTTP/1.1``));
  ``authorization`` = base64(``api_key="{APIKey}", algorithm="hmac-sha256", headers="host date
  request-line", signature="{signature}"``); all three go in the query string, URL-encoded.
* **Frame sent.** ``{header: {app_id, uid?}, parameter: {chat: {domain, temperature?,
  max_tokens?, top_k?}}, payload: {message: {text: [{role, content}]}, functions?: {text:
  [{name, description, parameters}]}}}``. Content parts become text (media is dropped: the
  API is text only). System/developer messages stay ``system`` for the domains that take it
  (generalv3.5, max-32k, 4.0Ultra and newer); for lite, generalv2, generalv3 and pro-128k
  they are put in front of the next user turn. Tools go as ``functions`` to the domains with
  function calling (generalv3, generalv3.5, 4.0Ultra and unknown newer ones, One API's rule);
  ``tool_choice: "none"`` sends none. The websocket API has no tool role: an assistant tool
  call is sent as the assistant's text (the call as JSON when it has none) and a tool result
  as a user turn. ``temperature`` is kept in (0, 1]; ``top_k`` (a Spark field some clients
  send) in 1..6; ``user`` is ``uid`` (32 characters at most). One API sent ``n`` as ``top_k``:
  not done here.
* **Frames back.** ``{header: {code, message, sid, status}, payload: {choices: {status, seq,
  text: [{content, role, index, function_call?: {name, arguments}}]}, usage?: {text:
  {prompt_tokens, completion_tokens, total_tokens}}}}``; status 2 is the last frame (it carries
  the usage) and the server closes after it. ``function_call`` becomes an OpenAI tool call
  (finish reason ``tool_calls``), ``reasoning_content`` is kept; the id is ``chatcmpl-{sid}``.
* **Errors.** ``header.code != 0`` is an error frame (:func:`spark_failure`): 11200 (no licence,
  volume exceeded), 10015, 10016 disable the channel (403); 11201-11203, 10006, 10007 are 429;
  10003-10005, 10013, 10014, 10019, 10163, 10907 are 400 (not retried); 10008, 10110 are 503;
  others 500. A non-stream answer holding one is rejected (:class:`SparkAnswerError`); in a
  stream it becomes an OpenAI error frame and ``[DONE]``. A refused handshake is an HTTP error
  ``{"message": ...}``: 401 (and 403, unless it is about the date) disables the channel.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
import time
import urllib.parse
from typing import Any, Callable

from .base import (
    CHAT,
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
    LineStream,
    assistant_message,
    channel_base_url,
    chat_completion,
    choice,
    config_text,
    content_text,
    count,
    dumps,
    failure,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_call_id,
    new_completion_id,
    normalize_tool_calls,
    positive_int,
    raw_message,
)

DEFAULT_BASE_URL = "wss://spark-api.xf-yun.com"
DEFAULT_VERSION = "v1.1"
# API version -> (domain, path on the host)
VERSIONS: dict[str, tuple[str, str]] = {
    "v1.1": ("lite", "/v1.1/chat"),
    "v2.1": ("generalv2", "/v2.1/chat"),
    "v3.1": ("generalv3", "/v3.1/chat"),
    "v3.1-128K": ("pro-128k", "/chat/pro-128k"),
    "v3.5": ("generalv3.5", "/v3.5/chat"),
    "v3.5-32K": ("max-32k", "/chat/max-32k"),
    "v4.0": ("4.0Ultra", "/v4.0/chat"),
}
# One API's current model names (relay/adaptor/xunfei/domain.go)
MODEL_VERSIONS: dict[str, str] = {
    "spark-lite": "v1.1",
    "spark-pro": "v3.1",
    "spark-pro-128k": "v3.1-128K",
    "spark-max": "v3.5",
    "spark-max-32k": "v3.5-32K",
    "spark-4.0-ultra": "v4.0",
}
_DOMAIN_VERSIONS = {domain.lower(): version for version, (domain, _) in VERSIONS.items()}
_VERSION_KEYS = {v.lower(): v for v in VERSIONS}
_VERSION_RE = re.compile(r"v?\d+(\.\d+)*(-[0-9A-Za-z]+)?")
# Known domains without the system role / without function calling (newer ones have both).
NO_SYSTEM_DOMAINS = frozenset({"lite", "generalv2", "generalv3", "pro-128k"})
NO_FUNCTION_DOMAINS = frozenset({"lite", "generalv2", "pro-128k", "max-32k"})
MAX_TOP_K = 6
MAX_UID = 32

# Spark error codes (header.code) -> HTTP status
_CODE_STATUS: dict[int, int] = {
    10003: 400, 10004: 400, 10005: 400, 10013: 400, 10014: 400, 10019: 400, 10163: 400, 10907: 400,
    10006: 429, 10007: 429, 11201: 429, 11202: 429, 11203: 429,
    10008: 503, 10110: 503,
    10015: 403, 10016: 403, 11200: 403,
}
DISABLING_CODES = frozenset({10015, 10016, 11200})  # blacklisted app, no licence, volume exhausted


# --------------------------------------------------------------------------- key, version, URL


def parse_key(key: str) -> tuple[str, str, str]:
    """(APPID, APISecret, APIKey) of a channel key; ValueError when it is not of that form."""
    parts = [p.strip() for p in (key or "").strip().split("|")]
    if len(parts) != 3 or not all(parts):
        raise ValueError("the Xunfei Spark key must be APPID|APISecret|APIKey")
    return parts[0], parts[1], parts[2]


def canonical_version(version: str) -> str:
    """A version as the table spells it (``3.5`` and ``V3.5`` are ``v3.5``, ``v3.1-128k`` is
    ``v3.1-128K``); an unknown one as given, with its ``v``."""
    v = version.strip()
    if v[:1].isdigit():
        v = "v" + v
    return _VERSION_KEYS.get(v.lower(), v)


def spark_version(model: str, configured: str = "") -> str:
    """The API version for a model (see the module's doc), else ``configured``, else v1.1."""
    low = model.strip().lower()
    if low in MODEL_VERSIONS:
        return MODEL_VERSIONS[low]
    if low in _DOMAIN_VERSIONS:
        return _DOMAIN_VERSIONS[low]
    _, sep, suffix = model.strip().partition("-")
    if sep and _VERSION_RE.fullmatch(suffix):
        return canonical_version(suffix)
    if configured.strip():
        return canonical_version(configured)
    return DEFAULT_VERSION


def domain_and_path(version: str) -> tuple[str, str]:
    """(domain, path) of an API version; an unknown ``vX`` is ``generalvX`` at ``/vX/chat``."""
    if version in VERSIONS:
        return VERSIONS[version]
    return "general" + version, f"/{version}/chat"


def endpoint(target: ChannelTarget, path: str) -> str:
    """The websocket URL (unsigned): the channel's base URL (ws/wss) or Spark's, then ``path``."""
    base = channel_base_url(target, DEFAULT_BASE_URL)
    scheme, sep, rest = base.partition("://")
    if not sep:
        scheme, rest = "wss", base
    scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme.lower())
    return f"{scheme}://{rest}{path}"


def rfc1123_date(ts: float) -> str:
    """``Mon, 01 Jul 2024 07:33:50 GMT``."""
    return email.utils.formatdate(ts, usegmt=True)


def signature(api_secret: str, host: str, date: str, path: str) -> str:
    origin = f"host: {host}\ndate: {date}\nGET {path} HTTP/1.1"
    return base64.b64encode(hmac.new(api_secret.encode(), origin.encode(), hashlib.sha256).digest()).decode()


def authorization(api_key: str, api_secret: str, host: str, date: str, path: str) -> str:
    sig = signature(api_secret, host, date, path)
    text = f'api_key="{api_key}", algorithm="hmac-sha256", headers="host date request-line", signature="{sig}"'
    return base64.b64encode(text.encode()).decode()


def signed_url(url: str, api_key: str, api_secret: str, ts: float) -> str:
    """``url`` with Xunfei's ``authorization``, ``date`` and ``host`` query parameters."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    path = parts.path or "/"
    date = rfc1123_date(ts)
    query = urllib.parse.urlencode({"authorization": authorization(api_key, api_secret, host, date, path),
                                    "date": date, "host": host})
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


# --------------------------------------------------------------------------- request


def _call_text(calls: list[dict[str, Any]]) -> str:
    return "\n".join(dumps({"name": c["function"]["name"], "arguments": c["function"]["arguments"]})
                     for c in calls)


def convert_messages(messages: Any, domain: str) -> list[dict[str, str]]:
    """OpenAI messages as Spark's ``[{role, content}]`` (see the module's doc)."""
    keep_system = domain not in NO_SYSTEM_DOMAINS
    out: list[dict[str, str]] = []
    pending: list[str] = []  # system texts waiting for the next user turn
    for m in messages if isinstance(messages, list) else ():
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        text = content_text(m.get("content"), scalars=True)
        if role in ("system", "developer"):
            if text and keep_system:
                out.append({"role": "system", "content": text})
            elif text:
                pending.append(text)
            continue
        if role == "assistant":
            calls = normalize_tool_calls(m.get("tool_calls"))
            fc = m.get("function_call")
            if not calls and isinstance(fc, dict):
                calls = normalize_tool_calls([{"id": "legacy", "function": fc}])
            if not text and calls:
                text = _call_text(calls)
            if text:
                out.append({"role": "assistant", "content": text})
            continue
        # user, and tool/function results (the websocket API has no tool role)
        if pending:
            text = "\n\n".join([*pending, text] if text else pending)
            pending = []
        if text:
            out.append({"role": "user", "content": text})
    if pending:
        out.append({"role": "user", "content": "\n\n".join(pending)})
    return out


def convert_functions(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``tools`` (function tools) and the legacy ``functions`` as Spark's function list."""
    out: list[dict[str, Any]] = []
    fns: list[Any] = [t.get("function") for t in body.get("tools") or ()
                      if isinstance(t, dict) and t.get("type", "function") == "function"]
    fns += list(body.get("functions") or ()) if isinstance(body.get("functions"), list) else []
    for fn in fns:
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        params = fn.get("parameters")
        out.append({"name": fn["name"],
                    "description": fn["description"] if isinstance(fn.get("description"), str) else "",
                    "parameters": params if isinstance(params, dict) and params
                    else {"type": "object", "properties": {}}})
    return out


def to_spark_request(body: dict[str, Any], domain: str, app_id: str) -> dict[str, Any]:
    """The one frame sent to Spark for an OpenAI chat request."""
    header: dict[str, Any] = {"app_id": app_id}
    user = body.get("user")
    if isinstance(user, str) and user.strip():
        header["uid"] = user.strip()[:MAX_UID]
    chat: dict[str, Any] = {"domain": domain}
    temperature = body.get("temperature")
    if is_number(temperature):
        chat["temperature"] = min(max(float(temperature), 0.01), 1.0)
    max_tokens = max_output_tokens(body)
    if max_tokens:
        chat["max_tokens"] = max_tokens
    top_k = positive_int(body.get("top_k"))
    if top_k:
        chat["top_k"] = min(top_k, MAX_TOP_K)
    payload: dict[str, Any] = {"message": {"text": convert_messages(body.get("messages"), domain)}}
    if domain not in NO_FUNCTION_DOMAINS and body.get("tool_choice") != "none" \
            and body.get("function_call") != "none":
        functions = convert_functions(body)
        if functions:
            payload["functions"] = {"text": functions}
    return {"header": header, "parameter": {"chat": chat}, "payload": payload}


# --------------------------------------------------------------------------- frames back


def read_frames(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a newline-joined answer (other lines skipped)."""
    frames = []
    for line in body.splitlines():
        obj = loads_or_none(line.strip()) if line.strip() else None
        if isinstance(obj, dict):
            frames.append(obj)
    return frames


def _header(frame: dict[str, Any]) -> dict[str, Any]:
    h = frame.get("header")
    return h if isinstance(h, dict) else {}


def _choices(frame: dict[str, Any]) -> dict[str, Any]:
    payload = frame.get("payload")
    ch = payload.get("choices") if isinstance(payload, dict) else None
    return ch if isinstance(ch, dict) else {}


def frame_error(frame: dict[str, Any]) -> tuple[int, str] | None:
    """(code, message) of an error frame (``header.code`` not 0)."""
    code = _header(frame).get("code")
    if code in (None, 0, "0"):
        return None
    try:
        icode = int(code)
    except (TypeError, ValueError):
        return None
    if icode == 0:
        return None
    msg = _header(frame).get("message")
    return icode, (msg if isinstance(msg, str) and msg else f"Spark error {icode}")


def is_last(frame: dict[str, Any]) -> bool:
    return _header(frame).get("status") == 2 or _choices(frame).get("status") == 2


def spark_usage(frame: dict[str, Any]) -> Usage | None:
    """``payload.usage.text`` (on the last frame)."""
    payload = frame.get("payload")
    usage = payload.get("usage") if isinstance(payload, dict) else None
    text = usage.get("text") if isinstance(usage, dict) else None
    if not isinstance(text, dict):
        return None
    prompt, completion = count(text.get("prompt_tokens")), count(text.get("completion_tokens"))
    if not completion and count(text.get("total_tokens")) > prompt:
        completion = count(text.get("total_tokens")) - prompt
    return Usage(prompt, completion)


def text_items(frame: dict[str, Any]) -> list[dict[str, Any]]:
    items = _choices(frame).get("text")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def function_call_of(item: dict[str, Any]) -> tuple[str, str] | None:
    """(name, arguments as a JSON string) of a text item's ``function_call``."""
    fc = item.get("function_call")
    if not isinstance(fc, dict) or not isinstance(fc.get("name"), str) or not fc["name"]:
        return None
    args = fc.get("arguments")
    if not isinstance(args, str):
        args = dumps(args if args is not None else {})
    return fc["name"], args


def spark_failure(code: int, message: str) -> UpstreamFailure:
    """An UpstreamFailure for an error frame's code."""
    status = _CODE_STATUS.get(code, 500 if 10000 <= code < 20000 else 502)
    retryable, disables = failure_verdicts(status, message, None, None)
    disables = disables or code in DISABLING_CODES
    return failure(status, message, code=code, retryable=retryable, disables=disables)


class SparkAnswerError(UpstreamRejected):
    """A Spark answer that is an error frame, or no answer (raised by ``parse_response``)."""


def to_openai_response(frames: list[dict[str, Any]], model: str,
                       new_id: Callable[[], str] = new_call_id) -> tuple[dict[str, Any], Usage | None, str]:
    """(OpenAI chat.completion, usage, generated text) of a whole Spark answer; raises
    :class:`SparkAnswerError` for an error frame, no frame, or no last frame."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    usage: Usage | None = None
    sid = ""
    last = False
    for frame in frames:
        err = frame_error(frame)
        if err is not None:
            raise SparkAnswerError(spark_failure(*err))
        if not sid and isinstance(_header(frame).get("sid"), str):
            sid = _header(frame)["sid"]
        for item in text_items(frame):
            if isinstance(item.get("reasoning_content"), str):
                reasoning.append(item["reasoning_content"])
            if isinstance(item.get("content"), str):
                content.append(item["content"])
            fc = function_call_of(item)
            if fc is not None:
                calls.append({"id": new_id(), "type": "function", "function": {"name": fc[0], "arguments": fc[1]}})
        u = spark_usage(frame)
        if u is not None:
            usage = u
        if is_last(frame):
            last = True
            break
    if not frames:
        raise SparkAnswerError(failure(502, "Xunfei Spark answered nothing", retryable=True, disables=False))
    if not last:
        raise SparkAnswerError(failure(502, "the Xunfei Spark answer ended before its last frame",
                                       retryable=True, disables=False))
    text = "".join(content)
    message = assistant_message(text, calls, "".join(reasoning))
    out = chat_completion("chatcmpl-" + sid if sid else new_completion_id(), model,
                          [choice(message, "tool_calls" if calls else "stop")], usage)
    generated = "".join(reasoning) + text + "".join(c["function"]["name"] + c["function"]["arguments"]
                                                    for c in calls)
    return out, usage, generated


def parse_spark_error(status: int, body: bytes) -> UpstreamFailure:
    """A refused handshake (``{"message": ...}``), or an error frame in the body."""
    for frame in read_frames(body):
        err = frame_error(frame)
        if err is not None:
            return spark_failure(*err)
    data = loads_or_none(body)
    message = data["message"] if isinstance(data, dict) and isinstance(data.get("message"), str) \
        and data["message"] else raw_message(body, status)
    status = status if status >= 400 else 502
    retryable, disables = failure_verdicts(status, message, None, None)
    if status == 403 and "date" not in message.lower():  # the signature or the key refused
        disables = True
    return failure(status, message, retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class SparkStream(LineStream):
    """Spark frames (one per line, split anywhere) in, OpenAI chunks out. The last frame
    (status 2) gives the finish chunk, the usage chunk when wanted, and ``[DONE]``; an error
    frame an OpenAI error frame and ``[DONE]``."""

    def __init__(self, req: RelayRequest, created: int | None = None,
                 new_id: Callable[[], str] = new_call_id) -> None:
        super().__init__(req, created)
        self._new_id = new_id
        self._calls = 0

    def _end(self, out: list[bytes]) -> None:  # the connection ended before the last frame
        self._close(out)

    def _line(self, line: bytes, out: list[bytes]) -> None:
        line = line.strip()
        obj = loads_or_none(line) if line else None
        if isinstance(obj, dict):
            self._on_frame(obj, out)

    def _on_frame(self, frame: dict[str, Any], out: list[bytes]) -> None:
        err = frame_error(frame)
        if err is not None:
            self.failure = spark_failure(*err)
            payload = self.failure.payload
            assert payload is not None
            self._fail(payload, out)
            return
        sid = _header(frame).get("sid")
        if not self._id and isinstance(sid, str) and sid:
            self._id = "chatcmpl-" + sid
        for item in text_items(frame):
            reasoning = item.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                self.text_parts.append(reasoning)
                out.append(self._frame({"reasoning_content": reasoning}))
            content = item.get("content")
            if isinstance(content, str) and content:
                self.text_parts.append(content)
                out.append(self._frame({"content": content}))
            fc = function_call_of(item)
            if fc is not None:
                self.text_parts.append(fc[0] + fc[1])
                call = {"index": self._calls, "id": self._new_id(), "type": "function",
                        "function": {"name": fc[0], "arguments": fc[1]}}
                self._calls += 1
                out.append(self._frame({"tool_calls": [call]}))
        usage = spark_usage(frame)
        if usage is not None:
            self.usage = usage
        if is_last(frame):
            self.done = True
            out.append(self._frame({} if 0 in self._role_sent else {"content": ""},
                                   "tool_calls" if self._calls else "stop"))
            self._close(out)


# --------------------------------------------------------------------------- adaptor


class XunfeiAdaptor(Adaptor):
    """Spark over its websocket API. ``clock`` gives the unix time (tests pin it)."""

    name = "xunfei"
    modes = frozenset({CHAT})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        try:
            app_id, api_secret, api_key = parse_key(target.key)
        except ValueError as e:
            raise ChannelConfigError(str(e), "channel_key_invalid") from None
        version = spark_version(req.model, config_text(target, "api_version"))
        domain, path = domain_and_path(version)
        url = signed_url(endpoint(target, path), api_key, api_secret, self.clock())
        frame = to_spark_request(req.body, domain, app_id)
        return UpstreamRequest("GET", url, {}, dumps(frame).encode(), transport="websocket")

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        out, usage, text = to_openai_response(read_frames(body), req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return SparkStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_spark_error(status, body)


__all__ = [
    "XunfeiAdaptor", "SparkStream", "SparkAnswerError", "parse_key", "canonical_version", "spark_version",
    "domain_and_path", "endpoint", "rfc1123_date", "signature", "authorization", "signed_url",
    "convert_messages", "convert_functions", "to_spark_request", "read_frames", "frame_error", "is_last",
    "spark_usage", "text_items", "function_call_of", "spark_failure", "to_openai_response",
    "parse_spark_error", "VERSIONS", "MODEL_VERSIONS", "DEFAULT_BASE_URL", "DEFAULT_VERSION",
]
