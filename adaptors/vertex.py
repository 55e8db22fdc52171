"""Google Vertex AI (channel type 42): Claude and Gemini models of a GCP project, with a service
account (PROVIDERS.md §4). Pure converters; the request bodies and answers are the Anthropic
and Gemini adaptors' own (:mod:`adaptors.anthropic`, :mod:`adaptors.gemini`), not copies.

* **Config** (the channel's ``config`` JSON, as One API): ``region`` (e.g. ``us-east5``, or
  ``global``), ``vertex_ai_project_id`` (else the service account's ``project_id``) and
  ``vertex_ai_adc``, the service-account JSON key (a JSON string or object; a channel key that
  is itself such a JSON is accepted too).
* **Access token.** :meth:`VertexAdaptor.token_request` signs a JWT with the account's private
  key (RS256, header ``kid`` = ``private_key_id``; claims ``iss`` = ``client_email``, ``scope``
  cloud-platform, ``aud`` = the key's ``token_uri``, ``iat``, ``exp`` = iat + 1 h) and posts
  ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`` to ``token_uri``
  (Google's self-signed grant; One API called the IAM Credentials API instead). The relay
  caches the ``access_token`` per channel key until shortly before ``expires_in``. A refused
  grant (``invalid_grant``: a deleted key, a bad signature) disables the channel.
* **Claude** (a model name containing ``claude``, e.g. ``claude-3-5-sonnet-v2@20241022``):
  ``POST https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/
  publishers/anthropic/models/{model}:rawPredict`` (``:streamRawPredict`` when streaming) with
  the Anthropic Messages body minus ``model`` plus ``anthropic_version: vertex-2023-10-16``
  (One API sent Claude to ``publishers/google``).
* **Anthropic Messages requests** (``/v1/messages``) for Claude models go to the same
  ``rawPredict`` / ``streamRawPredict`` as the official SDK's ``AnthropicVertex`` sends them: the
  client's body without ``model``, with ``anthropic_version: vertex-2023-10-16``, every other
  member copied from the client's bytes (:func:`adaptors.bedrock.messages_body`; ``stream``
  kept, as Vertex reads it), the client's ``anthropic-beta`` header passed on. The answer and
  the SSE stream are Anthropic's own: passed through, usage read on the way. Gemini models get
  Messages requests converted to chat.
* **Gemini** (every other model): ``…/publishers/google/models/{model}:generateContent`` /
  ``:streamGenerateContent?alt=sse``; embeddings (``text-embedding-005``…) ``:predict`` with
  ``{"instances": [{"content"}]}``.
* **Host.** ``global`` uses ``https://aiplatform.googleapis.com``. A channel base URL replaces
  the host (``/v1`` is appended unless the URL ends in a version): a proxy, or a test server.
  The token endpoint is always the key's ``token_uri``.
* **Errors** are Google's ``{"error": {code, message, status}}`` or, from Claude, Anthropic's
  ``{"type": "error", "error": {type, message}}``; both are read. A 401 means the access token
  went stale: the relay forgets it (the next request exchanges again) and the channel is not
  disabled.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
from typing import Any

from .anthropic import AnthropicStream, parse_anthropic_error, to_anthropic_request
from .anthropic import to_openai_response as anthropic_to_openai
from .base import (
    CHAT,
    EMBEDDINGS,
    MESSAGES,
    Adaptor,
    ChannelConfigError,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    TokenGrant,
    UpstreamFailure,
    UpstreamRejected,
    UpstreamRequest,
)
from .bedrock import messages_body
from .common import channel_config
from .gemini import (
    DEFAULT_SAFETY_THRESHOLD,
    GeminiStream,
    embedding_texts,
    parse_gemini_error,
    to_gemini_request,
)
from .gemini import to_openai_embeddings as gemini_embeddings_to_openai
from .gemini import to_openai_response as gemini_to_openai
from .registry import PROVIDERS

HOST_TEMPLATE = PROVIDERS[42].base_url  # https://{region}-aiplatform.googleapis.com
GLOBAL_HOST = "https://aiplatform.googleapis.com"
API_VERSION = "v1"
ANTHROPIC_VERSION = "vertex-2023-10-16"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 3600  # seconds, Google's maximum for an assertion
DEFAULT_TOKEN_LIFETIME = 3600.0


_VERSION_SUFFIX = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?$")
_REGION = re.compile(r"^[a-z0-9-]+$")
_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS)


def is_claude(model: str) -> bool:
    return "claude" in model.lower()


# --------------------------------------------------------------------------- channel settings


def service_account(target: ChannelTarget) -> dict[str, Any]:
    """The service-account key: ``config.vertex_ai_adc`` (JSON text or object), else a channel
    key that is such a JSON."""
    raw: Any = channel_config(target).get("vertex_ai_adc")
    if not raw and (target.key or "").lstrip().startswith("{"):
        raw = target.key
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ChannelConfigError("Vertex AI: the service account JSON (vertex_ai_adc) is not valid JSON",
                               "channel_config_invalid") from None
    if not isinstance(raw, dict) or not raw:
        raise ChannelConfigError("Vertex AI channels need a service account JSON key (config vertex_ai_adc)")
    for field in ("client_email", "private_key"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise ChannelConfigError(f"Vertex AI: the service account JSON has no {field}", "channel_config_invalid")
    return raw


def region(target: ChannelTarget) -> str:
    value = channel_config(target).get("region")
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        raise ChannelConfigError("Vertex AI channels need a region (config region, e.g. us-central1 or us-east5)")
    if not _REGION.match(value):
        raise ChannelConfigError(f"Vertex AI: invalid region {value!r}", "channel_config_invalid")
    return value


def project_id(target: ChannelTarget) -> str:
    value = channel_config(target).get("vertex_ai_project_id")
    if isinstance(value, str) and value.strip():
        return value.strip()
    try:
        sa = service_account(target)
    except UpstreamRejected:
        sa = {}
    if isinstance(sa.get("project_id"), str) and sa["project_id"].strip():
        return str(sa["project_id"]).strip()
    key = (target.key or "").strip()
    if key and not key.startswith("{") and re.fullmatch(r"[a-z][a-z0-9.:-]*", key):
        return key  # the key defaults to the project id (registry key_from_config)
    raise ChannelConfigError("Vertex AI channels need a project ID (config vertex_ai_project_id)")


def api_base(target: ChannelTarget, loc: str) -> str:
    base = (target.base_url or "").strip().rstrip("/")
    if not base:
        base = GLOBAL_HOST if loc == "global" else HOST_TEMPLATE.replace("{region}", loc)
    return base if _VERSION_SUFFIX.search(base) else f"{base}/{API_VERSION}"


def model_url(target: ChannelTarget, model: str, method: str) -> str:
    loc = region(target)
    publisher = "anthropic" if is_claude(model) else "google"
    project = urllib.parse.quote(project_id(target), safe="")
    name = urllib.parse.quote(model.strip(), safe="@-._~")
    return (f"{api_base(target, loc)}/projects/{project}/locations/{loc}/publishers/{publisher}"
            f"/models/{name}:{method}")


def method_for(req: RelayRequest) -> str:
    if req.mode == EMBEDDINGS:
        return "predict"
    if is_claude(req.model):
        return "streamRawPredict" if req.stream else "rawPredict"
    return "streamGenerateContent?alt=sse" if req.stream else "generateContent"


# --------------------------------------------------------------------------- token


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_assertion(sa: dict[str, Any], issued_at: int | None = None) -> str:
    """The RS256 JWT a service account presents to its ``token_uri``."""
    try:
        import jwt  # PyJWT; RS256 needs the cryptography package
    except ImportError:  # pragma: no cover - a dependency of the project
        raise ChannelConfigError("Vertex AI needs PyJWT with cryptography installed", "channel_config_invalid") from None
    iat = int(time.time()) if issued_at is None else int(issued_at)
    claims = {
        "iss": sa["client_email"],
        "scope": SCOPE,
        "aud": sa.get("token_uri") or DEFAULT_TOKEN_URI,
        "iat": iat,
        "exp": iat + JWT_LIFETIME,
    }
    headers = {"kid": sa["private_key_id"]} if isinstance(sa.get("private_key_id"), str) and sa["private_key_id"] \
        else None
    try:
        return str(jwt.encode(claims, sa["private_key"], algorithm="RS256", headers=headers))
    except Exception as e:  # a key that is not an RSA private key in PEM (jwt/cryptography errors)
        raise ChannelConfigError(f"Vertex AI: the service account's private_key cannot sign ({type(e).__name__})",
                           "channel_config_invalid") from None


def token_request_for(target: ChannelTarget, issued_at: int | None = None) -> UpstreamRequest:
    sa = service_account(target)
    token_uri = str(sa.get("token_uri") or DEFAULT_TOKEN_URI)
    body = urllib.parse.urlencode({"grant_type": JWT_GRANT, "assertion": signed_assertion(sa, issued_at)})
    return UpstreamRequest("POST", token_uri, {"Content-Type": "application/x-www-form-urlencoded",
                                               "Accept": "application/json"}, body.encode())


def parse_token_answer(status: int, body: bytes) -> TokenGrant:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if 200 <= status < 300 and isinstance(data, dict) and isinstance(data.get("access_token"), str) \
            and data["access_token"]:
        exp = data.get("expires_in")
        ok = isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp > 0
        return TokenGrant(data["access_token"], float(exp) if ok else DEFAULT_TOKEN_LIFETIME)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        code = data["error"]
        desc = data.get("error_description")
        message = f"Google refused the service account: {code}" + (f" ({desc})" if desc else "")
    elif isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = str(data["error"].get("status") or "token_exchange_failed")
        message = "Google refused the service account: " + str(data["error"].get("message") or code)
    else:
        code = "token_exchange_failed"
        message = "token exchange failed: " + (body.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}")
    if status >= 500 or status == 429:
        failure = UpstreamFailure(status=502 if status >= 500 else 429, message=message, code=code,
                                  retryable=True, disables_channel=False)
    else:  # invalid_grant, invalid_client, unauthorized_client…: the key cannot be used
        failure = UpstreamFailure(status=401, message=message, type="authentication_error", code=code,
                                  retryable=True, disables_channel=True)
    failure.payload = {"message": message, "type": failure.type, "param": "", "code": code}
    raise UpstreamRejected(failure)


# --------------------------------------------------------------------------- bodies


def to_vertex_claude(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    out = to_anthropic_request(body, model)
    out.pop("model", None)
    out["anthropic_version"] = ANTHROPIC_VERSION
    if stream:
        out["stream"] = True
    else:
        out.pop("stream", None)
    return out


def to_vertex_messages(req: RelayRequest) -> bytes:
    """A ``/v1/messages`` request as the rawPredict body (what ``AnthropicVertex`` sends)."""
    last = {"stream": True} if req.stream and req.body.get("stream") is not True else None
    return messages_body(req, ("model",), {"anthropic_version": ANTHROPIC_VERSION}, last)


def to_vertex_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {"instances": [{"content": t} for t in embedding_texts(body.get("input"), model)]}
    dims = body.get("dimensions")
    if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0:
        out["parameters"] = {"outputDimensionality": dims}
    return out


def embeddings_to_openai(data: dict[str, Any], model: str, texts: list[str],
                         encoding_format: Any = None) -> tuple[dict[str, Any], Any]:
    """``{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}`` → OpenAI
    (written by the Gemini adaptor's embeddings writer)."""
    vectors = []
    tokens = 0
    for p in data.get("predictions") or ():
        emb = p.get("embeddings") if isinstance(p, dict) else None
        emb = emb if isinstance(emb, dict) else {}
        vectors.append({"values": emb.get("values") or []})
        stats = emb.get("statistics")
        count = stats.get("token_count") if isinstance(stats, dict) else None
        if isinstance(count, (int, float)) and not isinstance(count, bool):
            tokens += int(count)
    shaped: dict[str, Any] = {"embeddings": vectors}
    if tokens:
        shaped["usageMetadata"] = {"promptTokenCount": tokens}
    return gemini_embeddings_to_openai(shaped, model, texts, encoding_format)


def parse_vertex_error(status: int, body: bytes) -> UpstreamFailure:
    """Google's error JSON or (from Claude) Anthropic's; a 401 is a stale token, not a bad key."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    anthropic_shape = isinstance(data, dict) and (
        data.get("type") == "error" or (isinstance(err, dict) and "type" in err and "status" not in err))
    failure = parse_anthropic_error(status, body) if anthropic_shape else parse_gemini_error(status, body)
    if status == 401:
        failure.disables_channel = False
        failure.retryable = True
    return failure


# --------------------------------------------------------------------------- adaptor


class VertexAdaptor(Adaptor):
    name = "vertex"
    modes = frozenset({CHAT, EMBEDDINGS, MESSAGES})
    credentials = True

    def __init__(self, settings: Any = None) -> None:
        threshold = getattr(settings, "gemini_safety_setting", None) or DEFAULT_SAFETY_THRESHOLD
        self.safety_threshold = threshold.strip() or DEFAULT_SAFETY_THRESHOLD

    def token_request(self, target: ChannelTarget) -> UpstreamRequest:
        return token_request_for(target)

    def parse_token(self, status: int, body: bytes) -> TokenGrant:
        return parse_token_answer(status, body)

    def speaks(self, mode: str, model: str) -> bool:
        """Messages requests go to Claude models as they are; Gemini gets them as chat."""
        if mode == MESSAGES:
            return is_claude(model)
        return mode in self.modes

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        return model_url(target, req.model, method_for(req))

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == MESSAGES:
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + target.token}
            beta = ",".join(dict.fromkeys(
                b.strip() for b in (req.headers.get("anthropic-beta") or "").split(",") if b.strip()))
            if beta:
                headers["anthropic-beta"] = beta
            return UpstreamRequest("POST", self.url(req, target), headers, to_vertex_messages(req))
        if req.mode == EMBEDDINGS:
            body = to_vertex_embeddings(req.body, req.model)
        elif is_claude(req.model):
            body = to_vertex_claude(req.body, req.model, req.stream)
        else:
            body = to_gemini_request(req.body, req.model, self.safety_threshold)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + target.token}
        return UpstreamRequest("POST", self.url(req, target), headers, _dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode == MESSAGES:
            from .messages import usage_of_message
            return ParsedResponse(body, usage_of_message(body), "")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        if req.mode == EMBEDDINGS:
            texts = embedding_texts(req.body.get("input"), req.model)
            out, usage = embeddings_to_openai(data, req.requested_model, texts, req.body.get("encoding_format"))
            return ParsedResponse(_dumps(out).encode(), usage, "")
        if is_claude(req.model):
            resp, chat_usage, text = anthropic_to_openai(data, req.requested_model)
        else:
            resp, chat_usage, text = gemini_to_openai(data, req.requested_model)
        return ParsedResponse(_dumps(resp).encode(), chat_usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        if req.mode == MESSAGES:
            from .messages import MessagesPassthroughStream
            return MessagesPassthroughStream()
        return AnthropicStream(req) if is_claude(req.model) else GeminiStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_vertex_error(status, body)


__all__ = [
    "VertexAdaptor", "ANTHROPIC_VERSION", "SCOPE", "JWT_GRANT", "api_base", "embeddings_to_openai",
    "is_claude", "method_for", "model_url", "parse_token_answer", "parse_vertex_error", "project_id", "region",
    "service_account", "signed_assertion", "to_vertex_claude", "to_vertex_embeddings", "to_vertex_messages",
    "token_request_for",
]
