"""AWS Bedrock (channel type 33): Claude models through ``InvokeModel`` with the Anthropic
Messages body, every other model through the Converse API (PROVIDERS.md §3).

* The request body is the Anthropic Messages body (:func:`adaptors.anthropic.to_anthropic_request`)
  without ``model`` and ``stream`` (the model is in the URL, streaming is the endpoint) and with
  ``anthropic_version: bedrock-2023-05-31``; it goes to
  ``POST {endpoint}/model/{modelId}/invoke`` or ``…/invoke-with-response-stream``.
* The model id comes from the requested (or mapped) model: a plain Anthropic name goes through
  :data:`MODEL_IDS` (One API's table plus newer models); ids already naming a Bedrock model,
  an inference profile (``us.``/``eu.``/``apac.``/``global.``…) or an ARN are used as given.
  It is percent-encoded once in the URL (``:`` → ``%3A``, ``/`` → ``%2F``).
* Requests are signed with AWS Signature Version 4 (:func:`sigv4`, service ``bedrock``); the
  canonical URI encodes the already-encoded path once more, as AWS does for every service but
  S3 (``%3A`` → ``%253A``), else ids with ``:`` fail "signature does not match".
* The answer is Anthropic JSON (:func:`adaptors.anthropic.to_openai_response`); a stream is
  AWS event-stream frames (:mod:`adaptors.eventstream`) whose ``chunk`` events carry an
  Anthropic stream event, base64-encoded, in ``{"bytes": …}``: :class:`BedrockStream` feeds them
  to the Anthropic transcoder. ``exception`` frames become an error frame.
* Errors are ``{"message": …}`` with the type in the ``x-amzn-ErrorType`` header (or guessed
  from the status when the relay passes no headers): 403 (UnrecognizedClientException,
  AccessDeniedException, InvalidSignatureException) disables the channel; 429
  ThrottlingException and 5xx are retried; 400 ValidationException is not.

**Anthropic Messages requests** (``/v1/messages``) for Claude models (:meth:`BedrockAdaptor.speaks`)
go to the same InvokeModel endpoints as the official SDK's ``AnthropicBedrock`` sends them: the
client's body with ``model`` and ``stream`` removed and ``anthropic_version`` added, every other
member copied from the client's bytes as they were (:func:`messages_body`: thinking signatures,
``cache_control``, tool blocks untouched); the client's ``anthropic-beta`` values (and the
channel's) go into the body as ``anthropic_beta``. The answer is Anthropic's message JSON, passed
through; a stream's ``chunk`` events become Anthropic SSE frames (:class:`BedrockMessagesStream`).
Other models on the channel get Messages requests converted to chat.

**Every other model** (Llama, Mistral, Amazon Nova, Cohere Command R, DeepSeek…, and application
inference profiles, whose ARN names no model) goes through the **Converse API**:
``POST {endpoint}/model/{modelId}/converse`` or ``…/converse-stream``, signed the same way.
:func:`to_converse_request` turns OpenAI chat into ``messages`` (text, base64 images, ``toolUse``,
``toolResult``; the tool results of a turn and consecutive messages of one role merged into one
message), ``system``, ``inferenceConfig`` and ``toolConfig``; :func:`to_openai_from_converse`
turns ``output.message`` back (text, ``toolUse`` → tool_calls, ``reasoningContent`` →
``reasoning_content``), and :class:`ConverseStream` transcodes the event stream
(``messageStart``, ``contentBlockStart``/``Delta``/``Stop``, ``messageStop``, ``metadata`` with
the usage; ``exception`` frames end it with an error frame).

The key is ``AK|SK|Region`` (optionally ``|SessionToken`` for temporary credentials); missing
parts come from the channel config (``ak``, ``sk``, ``region``). A key without ``|`` is a
Bedrock API key, sent as ``Authorization: Bearer`` (the region then comes from the config).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .anthropic import AnthropicStream, parse_anthropic_response, to_anthropic_request
from .base import (
    CHAT,
    MESSAGES,
    Adaptor,
    ChannelConfigError,
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
    assistant_message,
    channel_base_url,
    channel_config,
    chat_completion,
    choice,
    config_text,
    count,
    dumps,
    error_payload,
    failure,
    finish_lookup,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_call_id,
    new_completion_id,
    parse_data_url,
    stop_list,
)
from .eventstream import EventMessage, EventStreamDecoder, EventStreamError
from .registry import PROVIDERS
from .sse import SSEEvent

DEFAULT_BASE_URL = PROVIDERS[33].base_url  # "https://bedrock-runtime.{region}.amazonaws.com"
SERVICE = "bedrock"
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
ALGORITHM = "AWS4-HMAC-SHA256"

# Plain Anthropic model names -> Bedrock model ids (One API's aws/claude table, plus newer models).
MODEL_IDS: dict[str, str] = {
    "claude-instant-1.2": "anthropic.claude-instant-v1",
    "claude-2.0": "anthropic.claude-v2",
    "claude-2.1": "anthropic.claude-v2:1",
    "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
    "claude-3-sonnet-20240229": "anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-opus-20240229": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-5-sonnet-20240620": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-5-sonnet-20241022": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-sonnet-latest": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-5-haiku-latest": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-7-sonnet-20250219": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-3-7-sonnet-latest": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-sonnet-4-20250514": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-opus-4-20250514": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-opus-4-1-20250805": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5-20251001": "anthropic.claude-haiku-4-5-20251001-v1:0",
}
# One API's names for the Llama 3 models on Bedrock (its aws/llama3 table); other vendors' Bedrock
# ids (meta.…, mistral.…, amazon.nova-…, cohere.…) are written as they are.
CONVERSE_MODEL_IDS: dict[str, str] = {
    "llama3-8b-8192": "meta.llama3-8b-instruct-v1:0",
    "llama3-70b-8192": "meta.llama3-70b-instruct-v1:0",
}
# Models Bedrock serves only through an inference profile ("on-demand throughput isn't
# supported"): the plain name gets the region's geography prefix (us., eu., apac.).
PROFILE_ONLY = frozenset({
    "anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0",
    "anthropic.claude-opus-4-20250514-v1:0", "anthropic.claude-opus-4-1-20250805-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0",
})
_GEOGRAPHIES = (("us-gov-", "us-gov"), ("us-", "us"), ("eu-", "eu"), ("ap-", "apac"))
_DATED_CLAUDE = re.compile(r"claude-[a-z0-9.-]*-\d{8}")


def geography(region: str) -> str:
    """The inference-profile prefix of a region (``us-east-1`` → ``us``); "" when unknown."""
    for prefix, geo in _GEOGRAPHIES:
        if region.startswith(prefix):
            return geo
    return ""


def model_id(model: str, region: str) -> str:
    """The Bedrock model id for a requested (or mapped) model name.

    A name in :data:`MODEL_IDS` is translated (and given the region's inference-profile
    prefix when Bedrock serves the model only through one); another dated ``claude-…-YYYYMMDD``
    name becomes ``anthropic.<name>-v1:0`` the same way (newer models follow that pattern and
    need a profile); One API's Llama 3 names go through :data:`CONVERSE_MODEL_IDS`; anything
    else — ``anthropic.…``, ``us.…``/``eu.…``/``apac.…``/``global.…`` profiles, ARNs, other
    vendors' ids (``meta.…``, ``mistral.…``, ``amazon.nova-…``, ``cohere.…``) — is used as given.
    """
    name = model.strip()
    if name in CONVERSE_MODEL_IDS:
        return CONVERSE_MODEL_IDS[name]
    base = MODEL_IDS.get(name)
    profile = base in PROFILE_ONLY
    if base is None and _DATED_CLAUDE.fullmatch(name):
        base, profile = f"anthropic.{name}-v1:0", True
    if base is None:
        return name
    geo = geography(region) if profile else ""
    return f"{geo}.{base}" if geo else base


# --------------------------------------------------------------------------- SigV4


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """HMAC chain ``AWS4+secret`` → date → region → service → ``aws4_request``."""
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal; AWS also collapses repeated slashes."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing


def canonical_uri(path: str) -> str:
    """The path as it appears in the URL, normalised, then URI-encoded (again: ``%`` → ``%25``)."""
    return urllib.parse.quote(remove_dot_segments(path), safe="/~")


def canonical_query(query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header_items(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in items]


def canonical_headers(items: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(canonical header block, signed header list): names lower-cased and sorted, values
    trimmed with inner runs of spaces collapsed, repeated names joined with commas."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.strip().lower(), []).append(" ".join(value.split()))
    names = sorted(grouped)
    block = "".join(f"{n}:{','.join(grouped[n])}\n" for n in names)
    return block, ";".join(names)


def _host(url: urllib.parse.SplitResult) -> str:
    host = (url.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(url.scheme)
    if url.port is not None and url.port != default:
        host += f":{url.port}"
    return host


def amz_date(when: float | dt.datetime) -> str:
    t = when if isinstance(when, dt.datetime) else dt.datetime.fromtimestamp(when, dt.timezone.utc)
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y%m%dT%H%M%SZ")


@dataclass
class SignedRequest:
    """What :func:`sigv4` computed; ``headers`` are the ones to add to the request."""

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str
    signature: str
    signed_headers: str
    scope: str


def sigv4(*, access_key: str, secret_key: str, region: str, service: str, when: float | dt.datetime,
          method: str, url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
          body: bytes | None = b"", session_token: str = "") -> SignedRequest:
    """AWS Signature Version 4 of a request, a pure function (``when``: epoch seconds or a datetime).

    Every header given is signed, plus ``host`` (from the URL unless given), ``x-amz-date``
    and, with a session token, ``x-amz-security-token``. Returns the headers to add
    (``X-Amz-Date``, ``X-Amz-Security-Token``, ``Authorization``) and the intermediate strings.
    """
    stamp = amz_date(when)
    date = stamp[:8]
    u = urllib.parse.urlsplit(url)
    items = [(k, v) for k, v in _header_items(headers) if k.lower() not in ("x-amz-date", "authorization")]
    if not any(k.lower() == "host" for k, _ in items):
        items.append(("host", _host(u)))
    added = {"X-Amz-Date": stamp}
    if session_token:
        items = [(k, v) for k, v in items if k.lower() != "x-amz-security-token"]
        added["X-Amz-Security-Token"] = session_token
    items += [(k, v) for k, v in added.items()]
    block, signed = canonical_headers(items)
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    creq = "\n".join([method.upper(), canonical_uri(u.path), canonical_query(u.query), block, signed,
                      payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    signature = hmac.new(signing_key(secret_key, date, region, service), sts.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    added["Authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, "
                              f"SignedHeaders={signed}, Signature={signature}")
    return SignedRequest(added, creq, sts, signature, signed, scope)


# --------------------------------------------------------------------------- credentials


@dataclass
class Credentials:
    access_key: str = ""
    secret_key: str = ""
    region: str = ""
    session_token: str = ""
    api_key: str = ""  # a Bedrock API key (Bearer) instead of an access key pair


def credentials(target: ChannelTarget) -> Credentials:
    """``AK|SK|Region[|SessionToken]`` from the key, gaps (or an empty key) filled from the config
    (ak, sk, region, session_token); a key without ``|`` is a Bedrock API key."""
    key = (target.key or "").strip()
    if key and "|" not in key:  # a Bedrock API key (Bearer); the config fills only AK|SK|Region gaps
        creds = Credentials(region=config_text(target, "region"), api_key=key)
    else:
        parts = [p.strip() for p in key.split("|")] if key else []
        parts += [""] * (4 - len(parts))
        creds = Credentials(parts[0] or config_text(target, "ak"), parts[1] or config_text(target, "sk"),
                            parts[2] or config_text(target, "region"), parts[3] or config_text(target, "session_token"))
        missing = [n for n, v in (("access key ID", creds.access_key), ("secret access key", creds.secret_key))
                   if not v]
        if missing:
            raise ChannelConfigError(
                f"Channel #{target.id} (AWS Bedrock) has no {' or '.join(missing)}: the key is "
                "AK|SK|Region, or fill the channel's Access key ID / Secret access key / Region")
    if not creds.region:
        raise ChannelConfigError(
            f"Channel #{target.id} (AWS Bedrock) has no region: write the key as AK|SK|Region "
            "or set the channel's Region (e.g. us-east-1)")
    if not re.fullmatch(r"[a-z0-9-]+", creds.region):
        raise ChannelConfigError(f"Channel #{target.id} (AWS Bedrock): {creds.region!r} is not an AWS region")
    return creds


# --------------------------------------------------------------------------- request


def to_bedrock_request(body: dict[str, Any], betas: list[str] | None = None) -> dict[str, Any]:
    """The InvokeModel body: the Anthropic body minus ``model``/``stream``, plus the version."""
    anthropic = to_anthropic_request(body, "")
    anthropic.pop("model", None)
    anthropic.pop("stream", None)
    out: dict[str, Any] = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    if betas:
        out["anthropic_beta"] = betas
    out.update(anthropic)
    return out


def _betas(target: ChannelTarget) -> list[str]:
    beta = channel_config(target).get("anthropic_beta")
    if isinstance(beta, str):
        beta = beta.split(",")
    if not isinstance(beta, (list, tuple)):
        return []
    return [str(b).strip() for b in beta if str(b).strip()]


def is_claude(model: str) -> bool:
    """Whether a (mapped) model name reaches Claude on Bedrock: a plain Anthropic name, an
    ``anthropic.…`` id, a ``us.anthropic.…`` profile or an ARN naming one. An application
    inference profile's ARN names no model: it is taken as not Claude (converted to chat)."""
    name = model.strip().lower()
    return name in MODEL_IDS or "anthropic." in name or "claude" in name


def _top_level_members(text: str) -> list[tuple[str, str, str]] | None:
    """(key, key as written, value as written) of a JSON object's members, in order; None when
    ``text`` is not one JSON object or repeats a member."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    i = ws.match(text, 0).end()  # type: ignore[union-attr]
    if text[i:i + 1] != "{":
        return None
    i = ws.match(text, i + 1).end()  # type: ignore[union-attr]
    members: list[tuple[str, str, str]] = []
    if text[i:i + 1] == "}":
        return members if not text[ws.match(text, i + 1).end():] else None  # type: ignore[union-attr]
    while True:
        try:
            key, end = decoder.raw_decode(text, i)
        except ValueError:
            return None
        if not isinstance(key, str) or text[i] != '"':
            return None
        key_raw = text[i:end]
        i = ws.match(text, end).end()  # type: ignore[union-attr]
        if text[i:i + 1] != ":":
            return None
        i = ws.match(text, i + 1).end()  # type: ignore[union-attr]
        try:
            _, end = decoder.raw_decode(text, i)
        except ValueError:
            return None
        if any(k == key for k, _, _ in members):
            return None  # a repeated member: parsers disagree on which one counts
        members.append((key, key_raw, text[i:end]))
        i = ws.match(text, end).end()  # type: ignore[union-attr]
        if text[i:i + 1] == ",":
            i = ws.match(text, i + 1).end()  # type: ignore[union-attr]
            continue
        if text[i:i + 1] == "}" and not text[ws.match(text, i + 1).end():]:  # type: ignore[union-attr]
            return members
        return None


def messages_body(req: RelayRequest, drop: Iterable[str], first: Mapping[str, Any],
                  last: Mapping[str, Any] | None = None) -> bytes:
    """A client's Messages body for a cloud provider: the members in ``drop`` removed, ``first``
    put in front and ``last`` at the end (both replacing the client's members of those names),
    every other member copied from the client's bytes exactly as written (number forms, escapes,
    thinking signatures). Falls back to re-serialising ``req.body`` when the bytes do not say
    the same as it (duplicate keys, a body rewritten for something other than the model)."""
    last = dict(last or {})
    skip = set(drop) | set(first) | set(last)
    expected = {**first, **{k: v for k, v in req.body.items() if k not in skip}, **last}
    try:
        members = _top_level_members(req.raw.decode("utf-8"))
    except UnicodeDecodeError:
        members = None
    if members is not None:
        parts = [f"{dumps(k)}:{dumps(v)}" for k, v in first.items()]
        parts += [f"{raw_key}:{raw_value}" for k, raw_key, raw_value in members if k not in skip]
        parts += [f"{dumps(k)}:{dumps(v)}" for k, v in last.items()]
        out = ("{" + ",".join(parts) + "}").encode()
        if loads_or_none(out) == expected:
            return out
    return dumps(expected).encode()


def _beta_values(*sources: Any) -> list[str]:
    """Beta names from headers (comma-separated text) and lists, in order, without repeats."""
    names: list[str] = []
    for src in sources:
        items = src.split(",") if isinstance(src, str) else src if isinstance(src, (list, tuple)) else ()
        names += [str(b).strip() for b in items if str(b).strip()]
    return list(dict.fromkeys(names))


def to_bedrock_messages(req: RelayRequest, channel_betas: list[str] | None = None) -> bytes:
    """A ``/v1/messages`` request as the InvokeModel body (what ``AnthropicBedrock`` sends)."""
    betas = _beta_values(req.body.get("anthropic_beta"), req.headers.get("anthropic-beta"), channel_betas or [])
    last = {"anthropic_beta": betas} if betas else None
    return messages_body(req, ("model", "stream", "anthropic_beta"),
                         {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}, last)


# --------------------------------------------------------------------------- Converse (non-Claude models)

# Converse stopReason -> OpenAI finish_reason.
CONVERSE_FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
IMAGE_FORMATS: dict[str, str] = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
# Models whose Converse API takes no system prompt (Titan Text, Mistral 7B / Mixtral Instruct):
# the system text goes in front of the first user message instead.
_NO_SYSTEM = ("amazon.titan-text", "mistral.mistral-7b-instruct", "mistral.mixtral-8x7b-instruct")
# toolChoice members each family takes (others reject the field: Llama, Cohere, Titan…).
_TOOL_CHOICE_SUPPORT: tuple[tuple[str, frozenset[str]], ...] = (
    ("anthropic.", frozenset({"auto", "any", "tool"})),
    ("amazon.nova", frozenset({"auto", "any", "tool"})),
    ("mistral.mistral-large", frozenset({"auto", "any"})),
    ("mistral.pixtral-large", frozenset({"auto", "any"})),
)
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _vendor_id(model: str) -> str:
    """A Bedrock id without its inference-profile prefix or ARN (``us.meta.llama…`` → ``meta.llama…``)."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    head, _, rest = name.partition(".")
    return rest if rest and head in ("us", "eu", "apac", "global", "us-gov", "jp", "au", "ca") else name


def _tool_choices(model: str) -> frozenset[str]:
    vid = _vendor_id(model)
    return next((kinds for prefix, kinds in _TOOL_CHOICE_SUPPORT if vid.startswith(prefix)), frozenset())


def _sniff_image_format(data: str) -> str:
    try:
        head = base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4))
    except (binascii.Error, ValueError):
        return ""
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"GIF8"):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return ""


def converse_image(url: str) -> dict[str, Any] | None:
    """An OpenAI image URL as a Converse image block: a base64 data URL (png, jpeg, gif, webp;
    the format from the media type, else from the bytes) or an ``s3://`` URI. Other URLs give
    None (an adaptor fetches nothing)."""
    url = url.strip()
    parsed = parse_data_url(url)
    if parsed is not None:
        media_type, data = parsed
        data = "".join(data.split())
        fmt = IMAGE_FORMATS.get(media_type.lower().rpartition("/")[2]) or _sniff_image_format(data)
        return {"image": {"format": fmt, "source": {"bytes": data}}} if fmt and data else None
    if url.startswith("s3://"):
        fmt = IMAGE_FORMATS.get(url.rsplit(".", 1)[-1].lower(), "")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}} if fmt else None
    return None


def converse_content(content: Any, *, images: bool = True) -> list[dict[str, Any]]:
    """OpenAI message content as Converse blocks: non-blank texts (Converse rejects blank text)
    and, with ``images``, the images it can take."""
    if isinstance(content, (str, dict)):
        content = [content]
    if not isinstance(content, list):
        return []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            if part.strip():
                blocks.append({"text": part})
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        if ptype == "text" or (ptype is None and isinstance(part.get("text"), str)):
            if isinstance(part.get("text"), str) and part["text"].strip():
                blocks.append({"text": part["text"]})
        elif images and ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            block = converse_image(url) if isinstance(url, str) else None
            if block is not None:
                blocks.append(block)
    return blocks


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for i, tc in enumerate(tool_calls if isinstance(tool_calls, list) else ()):
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc["id"] else f"call_{i}"
        blocks.append({"toolUse": {"toolUseId": call_id, "name": fn["name"],
                                   "input": _arguments_object(fn.get("arguments"))}})
    return blocks


def _arguments_object(arguments: Any) -> Any:
    """Tool-call arguments as the JSON document Converse wants (an object; ``{}`` when empty)."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str) and arguments.strip():
        parsed = loads_or_none(arguments)
        if isinstance(parsed, dict):
            return parsed
    return {}


def _tool_result_block(msg: dict[str, Any]) -> dict[str, Any]:
    """A ``role: tool`` message as a toolResult block: its text (a JSON object given as the
    content itself goes as ``json``); ``status: error`` only when the message says ``is_error``
    (the status is a Claude-only member)."""
    content = msg.get("content")
    parts: list[dict[str, Any]]
    if isinstance(content, dict) and "type" not in content:
        parts = [{"json": content}]
    else:
        parts = [b for b in converse_content(content) if "text" in b or "image" in b]
    if not parts:
        parts = [{"text": content if isinstance(content, str) and content else "(no output)"}]
    block: dict[str, Any] = {"toolUseId": str(msg.get("tool_call_id") or ""), "content": parts}
    if msg.get("is_error") is True:
        block["status"] = "error"
    return block


def converse_messages(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages) for Converse from OpenAI chat messages: system and developer
    messages go to ``system``; ``role: tool`` messages become toolResult blocks of a user
    message; consecutive messages of one role are merged (tool results first in a user
    message); messages left empty are dropped."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for msg in messages if isinstance(messages, list) else ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in ("system", "developer"):
            system += [b for b in converse_content(msg.get("content"), images=False)]
            continue
        if role == "tool":
            role, blocks = "user", [{"toolResult": _tool_result_block(msg)}]
        elif role == "assistant":
            blocks = converse_content(msg.get("content"), images=False) + _tool_use_blocks(msg.get("tool_calls"))
        elif role == "user":
            blocks = converse_content(msg.get("content"))
        else:
            continue
        if not blocks:
            continue
        append_turn(turns, role, blocks)
    for turn in turns:
        if turn["role"] == "user" and any("toolResult" in b for b in turn["content"]):
            turn["content"] = ([b for b in turn["content"] if "toolResult" in b]
                               + [b for b in turn["content"] if "toolResult" not in b])
    return system, turns


def converse_tools(tools: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        spec: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str) and fn["description"].strip():
            spec["description"] = fn["description"]
        params = fn.get("parameters")
        spec["inputSchema"] = {"json": params if isinstance(params, dict) and params else EMPTY_SCHEMA}
        out.append({"toolSpec": spec})
    return out


def converse_tool_choice(tool_choice: Any, model: str) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` as Converse's toolChoice when the model takes that kind (``auto``
    → ``{auto:{}}``, ``required`` → ``{any:{}}``, a named function → ``{tool:{name}}``); None
    otherwise (Llama and Cohere reject the field; their default is auto)."""
    kind, value = "", {}
    if tool_choice == "auto":
        kind = "auto"
    elif tool_choice == "required":
        kind = "any"
    elif (name := tool_choice_name(tool_choice)) is not None:
        kind, value = "tool", {"name": name}
    return {kind: value} if kind and kind in _tool_choices(model) else None


def to_converse_request(body: dict[str, Any], model: str = "") -> dict[str, Any]:
    """The Converse body for an OpenAI chat body (``model``, the Bedrock id, decides what the model
    takes: toolChoice kinds, a system prompt). Sampling values are clamped to Bedrock's 0..1."""
    system, messages = converse_messages(body.get("messages"))
    vid = _vendor_id(model)
    if system and vid.startswith(_NO_SYSTEM):
        text = "\n\n".join(b["text"] for b in system)
        first = next((m for m in messages if m["role"] == "user"), None)
        if first is None:
            messages.insert(0, {"role": "user", "content": [{"text": text}]})
        else:
            first["content"].insert(0, {"text": text})
        system = []
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    config: dict[str, Any] = {}
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    for src, dst in (("temperature", "temperature"), ("top_p", "topP")):
        if is_number(body.get(src)):
            config[dst] = min(1.0, max(0.0, float(body[src])))
    stops = [s for s in stop_list(body.get("stop")) if s.strip()]
    if stops:
        config["stopSequences"] = stops
    if config:
        out["inferenceConfig"] = config

    tools = converse_tools(body.get("tools")) if body.get("tool_choice") != "none" else []
    used = {b["toolUse"]["name"] for m in messages for b in m["content"] if "toolUse" in b}
    has_results = any("toolResult" in b for m in messages for b in m["content"])
    if not tools and (used or has_results):
        # Converse refuses toolUse/toolResult blocks without a toolConfig: name the tools the
        # conversation used (the client did not send their definitions again, or said "none").
        given = {t["toolSpec"]["name"]: t for t in converse_tools(body.get("tools"))}
        tools = [given.get(n) or {"toolSpec": {"name": n, "inputSchema": {"json": EMPTY_SCHEMA}}}
                 for n in sorted(used)] or [{"toolSpec": {"name": "tool", "inputSchema": {"json": EMPTY_SCHEMA}}}]
    if tools:
        out["toolConfig"] = {"tools": tools}
        choice_ = converse_tool_choice(body.get("tool_choice"), model)
        if choice_ is not None:
            out["toolConfig"]["toolChoice"] = choice_
    return out


def converse_usage(usage: Any) -> Usage | None:
    """prompt = inputTokens + cache read + cache write; completion = outputTokens."""
    if not isinstance(usage, dict):
        return None
    prompt = count(usage.get("inputTokens")) + count(usage.get("cacheReadInputTokens")) + \
        count(usage.get("cacheWriteInputTokens"))
    return Usage(prompt, count(usage.get("outputTokens")))


def converse_finish_reason(stop_reason: Any, tool_calls: bool = False) -> str:
    return finish_lookup(CONVERSE_FINISH_REASONS, stop_reason, tool_calls)


def to_openai_from_converse(data: dict[str, Any], model: str, id_: str = "", created: int | None = None
                            ) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a Converse answer."""
    output = data.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    generated: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
            generated.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            name = str(use.get("name") or "")
            args = dumps(use.get("input") if use.get("input") is not None else {})
            call_id = use.get("toolUseId") if isinstance(use.get("toolUseId"), str) and use["toolUseId"] \
                else new_call_id()
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
            generated += [name, args]
        elif isinstance(block.get("reasoningContent"), dict):
            rt = block["reasoningContent"].get("reasoningText")
            if isinstance(rt, dict) and isinstance(rt.get("text"), str):
                reasoning.append(rt["text"])
                generated.append(rt["text"])
    usage = converse_usage(data.get("usage"))
    finish = converse_finish_reason(data.get("stopReason"), bool(calls))
    out = chat_completion(id_ or new_completion_id(), model,
                          [choice(assistant_message("".join(texts), calls, "".join(reasoning)), finish)],
                          usage, created)
    return out, usage, "".join(generated)


def parse_converse_response(req: RelayRequest, body: bytes) -> ParsedResponse:
    """A Converse answer as the client's ``chat.completion``; a body that is not a JSON object
    goes back as it is."""
    data = loads_or_none(body)
    if not isinstance(data, dict):
        return ParsedResponse(body, None, "")
    out, usage, text = to_openai_from_converse(data, req.requested_model)
    return ParsedResponse(dumps(out).encode(), usage, text)


# --------------------------------------------------------------------------- errors

# Error types by status when the x-amzn-ErrorType header is not at hand.
STATUS_ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
# Error types that mean the key pair (or its permissions) cannot be used.
DISABLING_TYPES = frozenset({
    "UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException",
    "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
})
_MESSAGE_TYPES = (
    ("security token included in the request is invalid", "UnrecognizedClientException"),
    ("security token included in the request is expired", "ExpiredTokenException"),
    ("signature we calculated does not match", "InvalidSignatureException"),
)


def _error_type_name(raw: Any) -> str:
    """``ThrottlingException:http://internal.amazon.com/…`` or ``com.amazon…#Name`` → the name."""
    if not isinstance(raw, str):
        return ""
    name = raw.split(":", 1)[0].strip()
    return name.rsplit("#", 1)[-1].strip()


def parse_bedrock_error(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> UpstreamFailure:
    data = loads_or_none(body)
    fallback = f"upstream returned HTTP {status}"
    etype = ""
    if headers is not None:
        for k, v in headers.items():
            if k.lower() == "x-amzn-errortype":
                etype = _error_type_name(v)
    message = ""
    if isinstance(data, dict):
        for k in ("message", "Message"):
            if isinstance(data.get(k), str) and data[k]:
                message = data[k]
                break
        if not message and isinstance(data.get("error"), dict):  # an Anthropic-shaped error
            message = str(data["error"].get("message") or "")
            etype = etype or _error_type_name(data["error"].get("type"))
        etype = etype or _error_type_name(data.get("__type")) or _error_type_name(data.get("code"))
    elif body:
        message = body.decode("utf-8", "replace").strip()[:500]
    message = message or fallback
    if not etype:
        low = message.lower()
        etype = next((t for phrase, t in _MESSAGE_TYPES if phrase in low), "") or STATUS_ERROR_TYPES.get(status, "")
    retryable, disables = failure_verdicts(status, message, etype, etype)
    if status in (401, 403) or etype in DISABLING_TYPES:
        disables = True
    etype = etype or "upstream_error"
    return failure(status, message, etype, etype, retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class BedrockStream(AnthropicStream):
    """Event-stream frames in; each ``chunk`` event's Anthropic stream event goes through the
    Anthropic transcoder; ``exception``/``error`` frames and corrupt frames end the stream
    with an error frame."""

    def __init__(self, req: RelayRequest, created: int | None = None) -> None:
        super().__init__(req, created)
        self._frames = EventStreamDecoder()

    def feed(self, data: bytes) -> list[bytes]:
        if self._sent_done:
            return []
        try:
            messages, failure = self._frames.feed(data), None
        except EventStreamError as e:
            messages, failure = e.messages, e
        out: list[bytes] = []
        for msg in messages:
            out += self._message(msg)
        if failure is not None and not self._sent_done:
            out += self._error("InvalidEventStream", f"corrupt event stream from Bedrock: {failure}")
        return out

    def _error(self, etype: str, message: str) -> list[bytes]:
        return self._handle([SSEEvent("error", dumps({"type": "error", "error": {"type": etype,
                                                                                  "message": message}}), b"")])

    def _message(self, msg: EventMessage) -> list[bytes]:
        mtype = msg.message_type
        if mtype == "exception":
            etype = msg.exception_type or "exception"
            return self._error(etype, _payload_message(msg.payload) or etype)
        if mtype == "error":
            code = msg.header(":error-code") or "error"
            return self._error(code, msg.header(":error-message") or _payload_message(msg.payload) or code)
        if msg.event_type not in ("chunk", ""):
            return []  # e.g. initial-response: nothing to relay
        try:
            envelope = json.loads(msg.payload)
            raw = base64.b64decode(envelope["bytes"], validate=True) if isinstance(envelope, dict) else b""
            text = raw.decode("utf-8")
            event = json.loads(text)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return []
        if not isinstance(event, dict):
            return []
        out = self._handle([SSEEvent(str(event.get("type") or ""), text, b"")])
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if self.usage is None and isinstance(metrics, dict):
            try:
                self.usage = Usage(int(metrics.get("inputTokenCount") or 0), int(metrics.get("outputTokenCount") or 0))
            except (TypeError, ValueError):
                pass
        return out


def _payload_message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload.decode("utf-8", "replace").strip()[:500]
    if isinstance(data, dict):
        for k in ("message", "Message"):
            if isinstance(data.get(k), str):
                return str(data[k])
    return ""


# Bedrock's exception types (event stream and HTTP) -> Anthropic's error types.
ANTHROPIC_ERROR_TYPES: dict[str, str] = {
    "validationexception": "invalid_request_error",
    "throttlingexception": "rate_limit_error",
    "servicequotaexceededexception": "rate_limit_error",
    "accessdeniedexception": "permission_error",
    "modeltimeoutexception": "timeout_error",
    "serviceunavailableexception": "overloaded_error",
    "modelnotreadyexception": "overloaded_error",
}


class BedrockMessagesStream(StreamTranscoder):
    """A Messages stream from Bedrock: each ``chunk`` event's Anthropic event sent on as an
    Anthropic SSE frame (``event: <type>``, ``data:`` the event JSON as Bedrock sent it, the
    ``amazon-bedrock-invocationMetrics`` of ``message_stop`` included), read for usage like
    :class:`adaptors.messages.MessagesPassthroughStream`; ``exception`` and ``error`` frames and
    corrupt frames end the stream with an Anthropic ``error`` event."""

    def __init__(self) -> None:
        super().__init__()
        from .messages import MessagesPassthroughStream
        self._frames = EventStreamDecoder()
        self._reader = MessagesPassthroughStream()
        self._metrics: Usage | None = None
        self._ended = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._ended:
            return []
        try:
            messages, failure = self._frames.feed(data), None
        except EventStreamError as e:
            messages, failure = e.messages, e
        out: list[bytes] = []
        for msg in messages:
            if not self._ended:
                out += self._message(msg)
        if failure is not None and not self._ended:
            out += self._error("api_error", f"corrupt event stream from Bedrock: {failure}")
        self._sync()
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if not self._ended and self._frames.pending:
            out += self._error("api_error", "the Bedrock event stream ended inside a frame")
        self._reader.finish()
        self._sync()
        return out

    def _sync(self) -> None:
        r = self._reader
        self.usage = r.usage or self._metrics
        self.text_parts = r.text_parts
        self.done = r.done
        self.error = self.error or r.error

    def _emit(self, etype: str, text: str) -> list[bytes]:
        frame = f"event: {etype}\ndata: {text}\n\n".encode()
        self._reader.feed(frame)
        return [frame]

    def _error(self, etype: str, message: str) -> list[bytes]:
        self._ended = True
        self.error = message
        return self._emit("error", dumps({"type": "error", "error": {"type": etype, "message": message}}))

    def _message(self, msg: EventMessage) -> list[bytes]:
        mtype = msg.message_type
        if mtype == "exception":
            name = msg.exception_type or "exception"
            return self._error(ANTHROPIC_ERROR_TYPES.get(name.lower(), "api_error"),
                               _payload_message(msg.payload) or name)
        if mtype == "error":
            code = msg.header(":error-code") or "error"
            return self._error(ANTHROPIC_ERROR_TYPES.get(code.lower(), "api_error"),
                               msg.header(":error-message") or _payload_message(msg.payload) or code)
        if msg.event_type not in ("chunk", ""):
            return []
        try:
            envelope = json.loads(msg.payload)
            raw = base64.b64decode(envelope["bytes"], validate=True) if isinstance(envelope, dict) else b""
            text = raw.decode("utf-8")
            event = json.loads(text)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return []
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event["type"]:
            return []
        if "\n" in text or "\r" in text:  # an SSE data line cannot hold a line break
            text = dumps(event)
        text = text.strip()
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            try:
                self._metrics = Usage(int(metrics.get("inputTokenCount") or 0),
                                      int(metrics.get("outputTokenCount") or 0))
            except (TypeError, ValueError):
                pass
        if event["type"] == "error":
            self._ended = True
        return self._emit(event["type"], text)


class ConverseStream(ChatStream):
    """A ConverseStream event stream in, OpenAI ``chat.completion.chunk`` frames out.

    ``messageStart`` sends the role; ``contentBlockDelta`` text → ``content``,
    ``reasoningContent.text`` → ``reasoning_content``, ``toolUse.input`` → tool-call argument
    deltas of the call that ``contentBlockStart`` opened (id and name); ``messageStop`` sends
    the finish reason; ``metadata`` carries the usage, after which the usage chunk (when wanted)
    and ``[DONE]`` go out. ``exception``/``error`` frames and corrupt frames end the stream with
    an OpenAI error frame."""

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str = "") -> None:
        super().__init__(req, created, id_)
        self._frames = EventStreamDecoder()
        self._tools: dict[int, int] = {}  # contentBlockIndex -> tool-call ordinal
        self._stopped = False  # messageStop seen

    def feed(self, data: bytes) -> list[bytes]:
        if self._sent_done:
            return []
        try:
            messages, failure_ = self._frames.feed(data), None
        except EventStreamError as e:
            messages, failure_ = e.messages, e
        out: list[bytes] = []
        for msg in messages:
            if self._sent_done:
                break
            self._message(msg, out)
        if failure_ is not None and not self._sent_done:
            self._fail(error_payload(f"corrupt event stream from Bedrock: {failure_}", "InvalidEventStream",
                                     "InvalidEventStream"), out)
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._sent_done:
            return out
        if self._frames.pending and not self._stopped:
            self._fail(error_payload("the Bedrock event stream ended inside a frame", "InvalidEventStream",
                                     "InvalidEventStream"), out)
        else:
            self._close(out)  # after messageStop without metadata, or cut short: no more to wait for
        return out

    def _message(self, msg: EventMessage, out: list[bytes]) -> None:
        mtype = msg.message_type
        if mtype == "exception":
            etype = msg.exception_type or "exception"
            self._fail(error_payload(_payload_message(msg.payload) or etype, etype, etype), out)
            return
        if mtype == "error":
            code = msg.header(":error-code") or "error"
            message = msg.header(":error-message") or _payload_message(msg.payload) or code
            self._fail(error_payload(message, code, code), out)
            return
        event = loads_or_none(msg.payload)
        if not isinstance(event, dict):
            return
        handler = _CONVERSE_HANDLERS.get(msg.event_type)
        if handler is not None:
            handler(self, event, out)

    def _on_message_start(self, event: dict[str, Any], out: list[bytes]) -> None:
        if 0 not in self._role_sent:
            out.append(self._frame({"content": ""}))

    def _open_tool(self, index: Any, call_id: str, name: str, out: list[bytes]) -> int:
        k = len(self._tools)
        self._tools[index if isinstance(index, int) else -1 - k] = k
        self.text_parts.append(name)
        out.append(self._frame({"tool_calls": [{"index": k, "id": call_id, "type": "function",
                                                "function": {"name": name, "arguments": ""}}]}))
        return k

    def _on_block_start(self, event: dict[str, Any], out: list[bytes]) -> None:
        start = event.get("start")
        use = start.get("toolUse") if isinstance(start, dict) else None
        if isinstance(use, dict):
            call_id = use.get("toolUseId") if isinstance(use.get("toolUseId"), str) and use["toolUseId"] \
                else new_call_id()
            self._open_tool(event.get("contentBlockIndex"), call_id, str(use.get("name") or ""), out)

    def _on_block_delta(self, event: dict[str, Any], out: list[bytes]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        if isinstance(delta.get("text"), str):
            if delta["text"]:
                self.text_parts.append(delta["text"])
                out.append(self._frame({"content": delta["text"]}))
        elif isinstance(delta.get("toolUse"), dict):
            partial = delta["toolUse"].get("input")
            index = event.get("contentBlockIndex")
            k = self._tools.get(index) if isinstance(index, int) else None
            if k is None:  # a tool delta whose block never started: open a call for it
                k = self._open_tool(index, new_call_id(), "", out)
            if isinstance(partial, str) and partial:
                self.text_parts.append(partial)
                out.append(self._frame({"tool_calls": [{"index": k, "function": {"arguments": partial}}]}))
        elif isinstance(delta.get("reasoningContent"), dict):
            text = delta["reasoningContent"].get("text")
            if isinstance(text, str) and text:
                self.text_parts.append(text)
                out.append(self._frame({"reasoning_content": text}))
        # reasoning signatures, redacted reasoning, citations: nothing to relay

    def _on_message_stop(self, event: dict[str, Any], out: list[bytes]) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.done = True
        out.append(self._frame({}, converse_finish_reason(event.get("stopReason"), bool(self._tools))))
        if self.usage is not None:
            self._close(out)

    def _on_metadata(self, event: dict[str, Any], out: list[bytes]) -> None:
        usage = converse_usage(event.get("usage"))
        if usage is not None:
            self.usage = usage
        if self._stopped:
            self._close(out)


_CONVERSE_HANDLERS: dict[str, Callable[[ConverseStream, dict[str, Any], list[bytes]], None]] = {
    "messageStart": ConverseStream._on_message_start,
    "contentBlockStart": ConverseStream._on_block_start,
    "contentBlockDelta": ConverseStream._on_block_delta,
    "messageStop": ConverseStream._on_message_stop,
    "metadata": ConverseStream._on_metadata,
    # contentBlockStop: nothing to send
}


# --------------------------------------------------------------------------- adaptor


class BedrockAdaptor(Adaptor):
    name = "bedrock"
    modes = frozenset({CHAT, MESSAGES})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # tests pin the signing time

    def url(self, target: ChannelTarget, model: str, region: str, stream: bool) -> str:
        """InvokeModel for Claude, the Converse API for every other model."""
        base = channel_base_url(target, DEFAULT_BASE_URL)
        base = base.replace("{region}", region)
        if is_claude(model):
            action = "invoke-with-response-stream" if stream else "invoke"
        else:
            action = "converse-stream" if stream else "converse"
        return f"{base}/model/{urllib.parse.quote(model_id(model, region), safe='')}/{action}"

    def speaks(self, mode: str, model: str) -> bool:
        """Messages requests go to Claude models as they are; other models get them as chat."""
        if mode == MESSAGES:
            return is_claude(model)
        return mode in self.modes

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        creds = credentials(target)
        url = self.url(target, req.model, creds.region, req.stream)
        converse = req.mode != MESSAGES and not is_claude(req.model)
        if req.mode == MESSAGES:
            body = to_bedrock_messages(req, _betas(target))
        elif converse:
            body = dumps(to_converse_request(req.body, model_id(req.model, creds.region))).encode()
        else:
            body = dumps(to_bedrock_request(req.body, _betas(target))).encode()
        signed = {"Content-Type": "application/json"}
        if creds.api_key:
            headers = {**signed, "Authorization": "Bearer " + creds.api_key}
        else:
            headers = {**signed, **sigv4(
                access_key=creds.access_key, secret_key=creds.secret_key, region=creds.region,
                service=SERVICE, when=self.clock(), method="POST", url=url, headers=signed, body=body,
                session_token=creds.session_token).headers}
        # Unsigned headers (a proxy or the HTTP client may touch them without breaking the signature).
        if req.stream:
            headers["Accept"] = EVENTSTREAM_CONTENT_TYPE
            if not converse:  # InvokeModelWithResponseStream's accept member (the chunks' type)
                headers["X-Amzn-Bedrock-Accept"] = "application/json"
        else:
            headers["Accept"] = "application/json"
        return UpstreamRequest("POST", url, headers, body)

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode == MESSAGES:
            from .messages import usage_of_message
            return ParsedResponse(body, usage_of_message(body), "")
        if not is_claude(req.model):
            return parse_converse_response(req, body)
        return parse_anthropic_response(req, body)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        if req.mode == MESSAGES:
            return BedrockMessagesStream()
        if not is_claude(req.model):
            return ConverseStream(req)
        return BedrockStream(req)

    def parse_error(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> UpstreamFailure:
        return parse_bedrock_error(status, body, headers)


__all__ = [
    "BedrockAdaptor", "BedrockStream", "BedrockMessagesStream", "ConverseStream", "MODEL_IDS", "CONVERSE_MODEL_IDS",
    "is_claude", "messages_body", "to_converse_request", "to_openai_from_converse", "parse_converse_response",
    "converse_usage", "converse_image",
    "to_bedrock_messages", "PROFILE_ONLY", "SignedRequest", "Credentials",
    "model_id", "geography", "sigv4", "signing_key", "canonical_uri", "canonical_query", "canonical_headers",
    "credentials", "to_bedrock_request", "parse_bedrock_error",
]
