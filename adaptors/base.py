"""The adaptor contract: pure converters between OpenAI's wire format and a provider's.

An adaptor never opens a socket. The relay pipeline hands it an already-parsed
:class:`RelayRequest` and the chosen channel (:class:`ChannelTarget`), gets back an
:class:`UpstreamRequest` (method, URL, headers, body bytes), performs the call
itself, and gives the adaptor the provider's answer to convert back:

* ``build_request(req, target) -> UpstreamRequest``
* ``parse_response(req, status, body) -> ParsedResponse`` (OpenAI-shaped body + usage)
* ``new_stream(req) -> StreamTranscoder`` (incremental: raw upstream bytes in,
  OpenAI SSE frames out; explicit per-stream state)
* ``parse_error(status, body, headers) -> UpstreamFailure`` (message, verdicts)
* ``models() -> list[str]`` (the channel type's default model list)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Relay modes (the inbound OpenAI endpoint).
CHAT = "chat"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"
# Image generation: the body is OpenAI's images request ({model, prompt, n, size, quality,
# response_format, style}); the answer OpenAI's {created, data: [{url | b64_json,
# revised_prompt?}]}. Billed per image from the size and quality (relay/ratios.py), not tokens.
IMAGES = "images"
# Multipart uploads passed through as the client sent them (``RelayRequest.content_type``).
IMAGE_EDITS = "image_edits"
IMAGE_VARIATIONS = "image_variations"
TRANSCRIPTIONS = "transcriptions"
TRANSLATIONS = "translations"
# Text to speech: the answer is audio bytes, relayed as they come with their content type.
SPEECH = "speech"
MODERATIONS = "moderations"
EDITS = "edits"  # One API's /v1/edits (a deprecated OpenAI text endpoint), passed through
RERANK = "rerank"  # Cohere/Jina shape: {model, query, documents, top_n}
RESPONSES = "responses"  # OpenAI's Responses API, for channels that speak it natively
MESSAGES = "messages"  # Anthropic's Messages API, for Claude channels (bytes passed through)

MODE_PATHS = {
    CHAT: "/chat/completions",
    COMPLETIONS: "/completions",
    EMBEDDINGS: "/embeddings",
    IMAGES: "/images/generations",
    IMAGE_EDITS: "/images/edits",
    IMAGE_VARIATIONS: "/images/variations",
    TRANSCRIPTIONS: "/audio/transcriptions",
    TRANSLATIONS: "/audio/translations",
    SPEECH: "/audio/speech",
    MODERATIONS: "/moderations",
    EDITS: "/edits",
    RERANK: "/rerank",
    RESPONSES: "/responses",
    MESSAGES: "/messages",
}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The breakdown (shown in logs, not billed apart): of prompt_tokens, read from the provider's
    # prompt cache; of completion_tokens, spent reasoning. Two usages are equal when they bill alike.
    cached_tokens: int = field(default=0, compare=False)
    reasoning_tokens: int = field(default=0, compare=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }

    @classmethod
    def from_openai(cls, data: Any) -> "Usage | None":
        """Read an OpenAI ``usage`` object; None when absent or malformed."""
        if not isinstance(data, dict):
            return None
        try:
            prompt = int(data.get("prompt_tokens") or 0)
            completion = int(data.get("completion_tokens") or 0)
        except (TypeError, ValueError):
            return None
        if not completion and data.get("total_tokens"):
            try:
                completion = max(0, int(data["total_tokens"]) - prompt)
            except (TypeError, ValueError):
                pass
        usage = cls(prompt, completion)
        pd, cd = data.get("prompt_tokens_details"), data.get("completion_tokens_details")
        if isinstance(pd, dict) and isinstance(pd.get("cached_tokens"), int):
            usage.cached_tokens = pd["cached_tokens"]
        if isinstance(cd, dict) and isinstance(cd.get("reasoning_tokens"), int):
            usage.reasoning_tokens = cd["reasoning_tokens"]
        return usage


@dataclass
class RelayRequest:
    """An inbound OpenAI request after auth and routing, as adaptors see it.

    ``body`` is the parsed JSON; ``raw`` the exact bytes the client sent.
    ``model`` is the upstream model name (after the channel's mapping),
    ``requested_model`` what the client asked for. ``rewrite`` is True when
    ``body`` was changed and must be re-serialised instead of passing ``raw``.
    """

    mode: str
    body: dict[str, Any]
    raw: bytes
    model: str
    requested_model: str
    stream: bool = False
    rewrite: bool = False
    include_usage: bool = False  # ask the upstream for a usage chunk when streaming
    # The client's body type: JSON, or a multipart form (``raw`` passed through; ``body`` then
    # holds its text fields).
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # client headers an upstream needs (anthropic-beta)
    subpath: str = ""  # after the mode's path: /v1/responses/input_tokens, /compact
    # What an adaptor's build_request leaves for its parse_response and stream in this attempt
    # (an asynchronous upstream's key and prediction id); the pipeline never reads it.
    adaptor_state: Any = None

    def body_bytes(self) -> bytes:
        if not self.rewrite:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class ChannelTarget:
    """What an adaptor may know about the chosen channel (one key of it)."""

    id: int
    type: int
    key: str
    base_url: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    other: str = ""
    # An access token the relay obtained for this key (adaptors with ``credentials``): Baidu's
    # OAuth token, Vertex's service-account token. Adaptors never fetch it themselves.
    token: str = ""


@dataclass
class TokenGrant:
    """An access token an adaptor read from a provider's token endpoint."""

    token: str
    expires_in: float  # seconds


@dataclass
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    # "http", or "websocket": ``url`` is a ws(s):// URL, ``body`` the one text frame sent after
    # the handshake, and each message the upstream sends is one chunk (stream) or one line of
    # the body (non-stream) the adaptor parses.
    transport: str = "http"


@dataclass
class ParsedResponse:
    """An upstream success converted to OpenAI shape (``body`` is what the client gets)."""

    body: bytes
    usage: Usage | None
    completion_text: str = ""  # for local counting when usage is missing
    content_type: str = "application/json"  # the answer's type (transcripts may be text)
    # An asynchronous upstream (create, then poll): the request to send next, after
    # ``follow_delay`` seconds; its answer goes to ``parse_response`` again. When the client
    # streams and the adaptor sets ``stream_after_create``, ``follow`` is the stream to relay.
    follow: "UpstreamRequest | None" = None
    follow_delay: float = 0.0


@dataclass
class UpstreamFailure:
    """A provider error, normalised. ``payload`` is the OpenAI error object to relay."""

    status: int
    message: str
    type: str = "upstream_error"
    code: Any = None
    retryable: bool = True
    disables_channel: bool = False
    payload: dict[str, Any] | None = None


class UpstreamRejected(Exception):
    """Raised by an adaptor when a request cannot be built for this channel (a missing config
    value) or when a 2xx answer is an error (providers that report errors on HTTP 200). The
    relay answers ``failure`` in OpenAI's error shape and retries or disables as it says; a
    channel test reports it. Adaptors stay free of the relay's own exception tree."""

    def __init__(self, failure: UpstreamFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ChannelConfigError(UpstreamRejected):
    """The channel lacks a setting the provider needs, or its key has the wrong form (raised by
    ``build_request``, before anything is sent): the relay answers 503 in OpenAI's error shape,
    type ``one_api_error``, code ``channel_config_missing`` (or the code given, such as
    ``channel_key_invalid``), and tries another channel; it never disables the channel (an
    administrator's setting is missing, not the provider refusing); a channel test reports it
    as a request that could not be built."""

    def __init__(self, message: str, code: str = "channel_config_missing") -> None:
        payload = {"message": message, "type": "one_api_error", "param": "", "code": code}
        super().__init__(UpstreamFailure(status=503, message=message, type="one_api_error", code=code,
                                         retryable=True, disables_channel=False, payload=payload))


# Messages that mean the channel's key or account is unusable (One API monitor/manage.go).
_DISABLING_PHRASES = (
    "credit",
    "balance",
    "permission denied",
    "your access was terminated",
    "violation of our policies",
    "organization has been disabled",
    "organization has been restricted",
    "api key not valid",
    "api key expired",
    "已欠费",
)
_DISABLING_TYPES = {"insufficient_quota", "authentication_error", "permission_error", "forbidden"}
_DISABLING_CODES = {"invalid_api_key", "account_deactivated"}


def failure_verdicts(status: int, message: str, type_: Any, code: Any) -> tuple[bool, bool]:
    """(retryable, disables_channel) for an upstream error, per One API's rules.

    400 is never retried (the request itself is bad); 2xx never reaches here.
    """
    retryable = status != 400
    low = (message or "").lower()
    disables = (
        status == 401
        or (isinstance(type_, str) and type_ in _DISABLING_TYPES)
        or (isinstance(code, str) and code in _DISABLING_CODES)
        or any(p in low for p in _DISABLING_PHRASES)
    )
    return retryable, disables


class StreamTranscoder:
    """Per-stream state: feed upstream bytes, get OpenAI SSE frames (bytes) to send.

    ``usage`` is the upstream-reported usage once seen; ``text_parts`` collects
    every generated piece (content, tool-call arguments, reasoning) for local
    counting when the upstream reports none. ``error`` is set when the
    upstream sent an error event mid-stream (the transcoder has already
    emitted it to the client as a ``data: {"error": ...}`` frame).
    """

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.text_parts: list[str] = []
        self.error: str | None = None
        # the provider's verdict on that error, when the transcoder knows it (status, retry)
        self.failure: UpstreamFailure | None = None
        self.done = False  # the upstream signalled the end of the stream

    def feed(self, data: bytes) -> list[bytes]:
        raise NotImplementedError

    def finish(self) -> list[bytes]:
        """Called once when the upstream body ends; returns the closing frames."""
        raise NotImplementedError

    @property
    def completion_text(self) -> str:
        return "".join(self.text_parts)


class Adaptor:
    """Base class; subclasses set ``name`` (the family the provider registry names) and
    ``modes``, and override the converters."""

    name: ClassVar[str] = "base"
    # True: a stream request's upstream answers JSON (no SSE: one JSON body, or NDJSON) and
    # the transcoder turns it into OpenAI SSE; the relay must not treat JSON as an error then.
    json_streams: ClassVar[bool] = False
    # True: requests need an access token exchanged from the channel's key first. The relay
    # sends ``token_request(target)``, reads it with ``parse_token`` and caches the token per
    # key until shortly before it expires (relay/credentials.py); ``target.token`` carries it.
    credentials: ClassVar[bool] = False
    # True: a stream request is first sent as a create (non-stream) call; ``parse_response``
    # of its answer gives ``follow``, the stream URL the relay then streams through
    # ``new_stream`` (Replicate's predictions).
    stream_after_create: ClassVar[bool] = False

    def token_request(self, target: "ChannelTarget") -> "UpstreamRequest":
        raise NotImplementedError

    def parse_token(self, status: int, body: bytes) -> "TokenGrant":
        """The token, or raise :class:`UpstreamRejected` (a bad key disables the channel)."""
        raise NotImplementedError
    modes: ClassVar[frozenset[str]] = frozenset({CHAT, COMPLETIONS, EMBEDDINGS})

    def speaks(self, mode: str, model: str) -> bool:
        """Whether a request of ``mode`` for the (upstream) ``model`` goes to this provider as it
        is. A Messages or Responses request it does not speak is converted to chat instead
        (a Claude-only format on a channel that also serves other models)."""
        return mode in self.modes

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        raise NotImplementedError

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        raise NotImplementedError

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        raise NotImplementedError

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        raise NotImplementedError


def sse_frame(obj: Any) -> bytes:
    """Encode one OpenAI SSE ``data:`` frame."""
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


DONE_FRAME = b"data: [DONE]\n\n"


def chat_chunk(
    id_: str, model: str, created: int, delta: dict[str, Any] | None = None,
    finish_reason: str | None = None, usage: Usage | None = None, index: int = 0,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion.chunk``. ``delta=None`` with usage → a usage-only chunk."""
    chunk: dict[str, Any] = {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [] if delta is None else [
            {"index": index, "delta": delta, "finish_reason": finish_reason}
        ],
    }
    if usage is not None:
        chunk["usage"] = usage.to_openai()
    return chunk


def client_wants_usage(req: RelayRequest) -> bool:
    """Whether the stream should end with a usage chunk (the client asked, or the gateway enforces it)."""
    so = req.body.get("stream_options")
    return req.include_usage or (isinstance(so, dict) and so.get("include_usage") is True)


def now() -> int:
    return int(time.time())
