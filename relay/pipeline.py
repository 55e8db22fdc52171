"""The relay pipeline for one request.

authorize → route → reserve quota → attempt(s) → stream/answer → settle.

Everything the happy path needs comes from caches (tokens, users, channels,
options, balances); usage counters and the consume log are queued in the
:class:`~models.ledger.QuotaLedger` and written in bulk. Exactly one
settlement happens per request, in ``finally``.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from adaptors import responses as openai_responses
from adaptors.registry import PROVIDERS
from adaptors.common import raw_message
from adaptors.base import (
    CHAT, COMPLETIONS, DONE_FRAME, EDITS, EMBEDDINGS, MESSAGES, MODERATIONS, RERANK, RESPONSES, SPEECH, Adaptor, ChannelTarget, ParsedResponse,
    RelayRequest, StreamTranscoder, UpstreamRejected, UpstreamRequest, Usage, sse_frame,
)
from models.channels import CH_AUTO_DISABLED, CH_ENABLED, ChannelRecord
from models.ledger import TOKEN, USER, QuotaUnavailable, Reservation
from models.tokens import TOKEN_DISABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, TokenRecord
from models.users import ROLE_ADMIN, STATUS_ENABLED, UserRecord

from services.i18n import translate
from services.limits import LimitRefused
from services.redact import redact
from services.mailer import low_quota_crossed, maybe_remind_low_quota

from . import endpoints, ratios
from .endpoints import AUDIO_IN_MODES, FORM_MODES, IMAGE_MODES
from .formats import (
    CONVERTED_MODES, Chained, Conversion, MessagesConversion, ResponsesConversion, chat_body_for,
    messages_error_frames,
)
from pymongo.errors import PyMongoError

from .errors import (
    GatewayError, AuthError, BadRequest, Forbidden, NoChannel, QuotaExceeded, UpstreamError,
    UpstreamTimeout,
)
from .upstream import ProxyConfig, open_call, transport_error

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.relay")

# Types that reject `stream_options` (their registry quirk): never inject it there.
MAX_POLL_SECONDS = 600
# Channels that cannot take a request at all are skipped without using up a retry (up to this many).
_UNSERVABLE = frozenset({"channel_type_unsupported", "conversion_unsupported"})
MAX_CHANNELS_TRIED = 20
_NO_STREAM_OPTIONS = frozenset(t for t, s in PROVIDERS.items() if "no_stream_options" in s.quirks)


class Sink(Protocol):
    """What the pipeline needs from the HTTP handler."""

    closed: bool
    started: bool

    def start_stream(self, content_type: str | None = None) -> None: ...
    def send_json(self, body: bytes, content_type: str = "application/json") -> None: ...
    def send(self, frames: list[bytes], flush: bool = True) -> None: ...
    def end(self) -> None: ...
    def on_close(self, fn: Any) -> None: ...


class RawStream(StreamTranscoder):
    """Bytes relayed as they come (speech audio); nothing to count."""

    def feed(self, data: bytes) -> list[bytes]:
        return [data] if data else []

    def finish(self) -> list[bytes]:
        return []


_SSE_FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":", b"data\n", b"data\r")


def sse_start(data: bytes) -> bool | None:
    """Whether a stream's first bytes are server-sent events (a field line or a comment);
    None while they are only whitespace or a field name cut short."""
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        return None
    for name in _SSE_FIELDS:
        if head.startswith(name):
            return True
        if name.startswith(head):
            return None
    return False


class SSEGuard(StreamTranscoder):
    """A channel's transcoder whose first frames must be server-sent events: until they are
    seen to be, they are held back; anything else (random bytes, an HTML page on a 2xx) is
    dropped and kept in ``garbage``, and the attempt fails before the client sees a byte."""

    def __init__(self, inner: StreamTranscoder) -> None:  # no super().__init__: all read through
        self.inner = inner
        self.held: list[bytes] = []
        self.checked = False
        self.garbage = b""

    def feed(self, data: bytes) -> list[bytes]:
        frames = self.inner.feed(data)
        return frames if self.checked else self._check(frames, False)

    def finish(self) -> list[bytes]:
        frames = self.inner.finish()
        return frames if self.checked else self._check(frames, True)

    def _check(self, frames: list[bytes], last: bool) -> list[bytes]:
        if not frames and not last:
            return []
        frames = self.held + frames
        seen = sse_start(b"".join(frames))
        if seen is None and not last:
            self.held = frames
            return []
        self.checked, self.held = True, []
        if seen is False:
            self.garbage = b"".join(frames)[:2000]
            return []
        return frames

    def failure_for(self, status: int) -> UpstreamError:
        what = readable(raw_message(self.garbage, status or 200), status or 200)
        return UpstreamError(f"The upstream answered the stream with something other than server-sent events: "
                             f"{what}", status=502, code="bad_upstream_response")

    def __getattr__(self, name: str) -> Any:  # response_id, done, text_parts...
        return getattr(self.inner, name)

    @property  # type: ignore[override]
    def usage(self) -> Usage | None:
        return self.inner.usage

    @property  # type: ignore[override]
    def error(self) -> str | None:
        return self.inner.error

    @property  # type: ignore[override]
    def failure(self) -> Any:
        return self.inner.failure

    @property
    def completion_text(self) -> str:
        return self.inner.completion_text


_HTML_HINTS = ("<!doctype html", "<html", "<head", "<body", "<title")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
_HIDDEN = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<[^>]*>?")


def readable(message: str, status: int) -> str:
    """An upstream error message fit for a client (``message`` itself when it is): an HTML page
    (a proxy's or load balancer's error page) becomes its title or text, and bytes that are
    not text are described, never relayed."""
    head = message[:512].lower()
    if any(h in head for h in _HTML_HINTS):
        m = _TITLE.search(message)
        text = m.group(1) if m else _HIDDEN.sub(" ", message)
        text = " ".join(html.unescape(_TAG.sub(" ", text)).split())[:200]
        return f"upstream returned HTTP {status} with an HTML page" + (f": {text}" if text else "")
    sample = message[:512]
    if sample and sum(c == "\ufffd" or (c < " " and c not in "\t\r\n") for c in sample) * 10 > len(sample):
        return f"upstream returned HTTP {status} with a body that is not text"
    return message


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


_STAMP: list[Any] = [0, ""]  # (second, its %Y%m%d%H%M%S): formatted once a second


# a chat stream frame that answers: text, reasoning, a refusal or a tool call (not the role alone)
_ANSWERED = re.compile(rb'"(?:content|reasoning_content|refusal|arguments)":\s*"[^"]|"(?:tool_calls|function_call)":\s*[\[{]')
_ENDED_OTHERWISE = re.compile(rb'"finish_reason":\s*"(?!stop")')  # content_filter, length: an answer
_PROXIES: dict[str, Any] = {}


def channel_proxy(url: str) -> Any:
    """A channel's ``proxy`` URL as the upstream client takes it (parsed once per URL)."""
    p = _PROXIES.get(url)
    if p is None:
        if len(_PROXIES) > 1000:
            _PROXIES.clear()
        p = _PROXIES[url] = ProxyConfig.parse(url)
    return p


def empty_chat_reply(body: bytes) -> bool:
    """An OpenAI chat completion whose choices carry no content, no tool call, no refusal."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        return False
    for c in choices:
        msg = c.get("message") if isinstance(c, dict) else None
        if not isinstance(msg, dict):
            return False
        if msg.get("content") or msg.get("tool_calls") or msg.get("function_call") or msg.get("refusal") \
                or msg.get("audio") or msg.get("reasoning_content"):
            return False
        if c.get("finish_reason") not in (None, "", "stop"):  # content_filter, length...: an answer
            return False
    return True


def new_request_id() -> str:
    now = int(time.time())
    if now != _STAMP[0]:
        _STAMP[0], _STAMP[1] = now, time.strftime("%Y%m%d%H%M%S", time.localtime(now))
    return _STAMP[1] + os.urandom(4).hex()


def parse_api_key(header: str | None) -> tuple[str, str | None]:
    """``Bearer sk-KEY[-CHANNELID]`` → (KEY, CHANNELID or None)."""
    if not header:
        raise AuthError("No API key provided: send `Authorization: Bearer sk-...`",
                        code="invalid_api_key")
    key = header.strip()
    if key[:7].lower() == "bearer ":
        key = key[7:].strip()
    if key.startswith("sk-"):
        key = key[3:]
    parts = key.split("-")
    if not parts[0]:
        raise AuthError("Invalid API key", code="invalid_api_key")
    return parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)


_RATIO_NOTES: dict[tuple[float, float, float], str] = {}


def _ratio_note(mr: float, gr: float, cr: float) -> str:
    """A consume log's ``model ratio …, group ratio …, completion ratio …`` (formatted once per ratios)."""
    key = (mr, gr, cr)
    note = _RATIO_NOTES.get(key)
    if note is None:
        if len(_RATIO_NOTES) >= 4096:
            _RATIO_NOTES.clear()
        note = _RATIO_NOTES[key] = f"model ratio {mr:g}, group ratio {gr:g}, completion ratio {cr:g}"
    return note


@dataclass
class Outcome:
    """What one request consumed (None usage = nothing to bill)."""

    usage: Usage | None = None
    channel: ChannelRecord | None = None
    partial: bool = False  # the stream ended early (client gone or upstream broke)
    quota: int | None = None  # the price when it is not from tokens (images, speech, audio seconds)
    note: str = ""  # how that price was reached, for the consume log


@dataclass(eq=False)  # hashed by identity: a member of ctx.jobs
class Job:
    ctx: "AppContext"
    sink: Sink
    mode: str
    request_id: str
    started_at: float = field(default_factory=time.monotonic)
    token: TokenRecord | None = None
    user: UserRecord | None = None
    body: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    stream: bool = False
    raw: bytes = b""
    counted_prompt: int | None = None  # the prompt's tokens once counted (see prompt_tokens)
    reserved: int = 0
    reservation: Reservation | None = None
    tried: set[int] = field(default_factory=set)
    content_type: str = "application/json"  # the client's body type (multipart for uploads)
    path_model: str | None = None  # /v1/engines/{model}/embeddings
    client_headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)  # an upload's files (multipart modes)
    # /v1/messages and /v1/responses: the request as chat, for channels that need converting
    chat_body: dict[str, Any] | None = None
    conversion: Conversion | None = None  # this attempt's way back to the client's format
    subpath: str = ""  # /v1/responses/input_tokens, /compact: after the mode's path upstream
    response_id: str | None = None  # a natively created Responses id (its channel is remembered)
    unconvertible: BadRequest | None = None  # why chat channels cannot serve this request
    current_call: Any = None  # the upstream exchange in progress (cancelled by abort())
    task: "asyncio.Task[Any] | None" = None  # the request's task (cancelled if abort() is not enough)
    aborted: str = ""  # abort()'s message: the server is stopping and ended this request
    failures: list[dict[str, Any]] = field(default_factory=list)  # each failed attempt, for the error log
    secrets: tuple[str, ...] = ()  # the failed channels' keys: redacted from what is logged
    group: str = ""  # the group this request routes and bills in (the token's, else its user's)
    admission: Any = None  # what services/limits took for this request (settled with it)
    per_call: int | None = None  # the fixed price of a per_call token's request (ModelPrice)
    served_by: int = 0  # the channel that answered (metrics)
    billed: tuple[int, int, int] = (0, 0, 0)  # prompt, completion, quota (metrics)

    # -- authorisation ------------------------------------------------------------------------
    async def authorize(self, auth_header: str | None, client_ip: str) -> int | None:
        """Token auth per One API (REFERENCE.md §5.1). Returns a pinned channel id, if any."""
        ctx = self.ctx
        key, pin = parse_api_key(auth_header)
        token = await ctx.caches.token(key)
        if token is None:
            raise AuthError("Invalid API key", code="invalid_api_key")
        if token.status == TOKEN_DISABLED:
            raise AuthError("This API key is disabled", code="token_disabled")
        if token.status == TOKEN_EXPIRED or (token.expired_time != -1 and token.expired_time < time.time()):
            raise AuthError("This API key has expired", code="token_expired")
        if not token.unlimited_quota:
            if token.status == TOKEN_EXHAUSTED or not await self.has_quota(TOKEN, token.id):
                raise AuthError("This API key's quota is exhausted", code="token_quota_exhausted")
        if not token.ip_allowed(client_ip):
            raise Forbidden(f"This API key may not be used from {client_ip}", code="ip_not_allowed")
        user = await ctx.caches.user(token.user_id)
        if user is None or user.status != STATUS_ENABLED:
            raise Forbidden("The user of this API key is disabled", code="user_disabled")
        pinned: int | None = None
        if pin is not None:
            if user.role < ROLE_ADMIN:
                raise Forbidden("Only an admin's API key may pin a channel", code="channel_pin_forbidden")
            try:
                pinned = int(pin)
            except ValueError:
                raise AuthError("Invalid API key", code="invalid_api_key") from None
        self.token, self.user = token, user
        return pinned

    def check_model(self) -> None:
        assert self.token is not None
        if self.token.models is not None and self.model not in self.token.models:
            raise Forbidden(f"This API key has no access to model {self.model}", code="model_not_allowed")

    @property
    def prompt_tokens(self) -> int:
        """The prompt's tokens, counted with tiktoken the first time they are needed: before the
        upstream call only when the reservation could not be bounded from the body's size
        (:meth:`prompt_bound`), else only when the upstream reports no usage."""
        if self.counted_prompt is None:
            self.counted_prompt = self.count_prompt()
        return self.counted_prompt

    @prompt_tokens.setter
    def prompt_tokens(self, n: int) -> None:
        self.counted_prompt = n

    # -- request ------------------------------------------------------------------------------
    def parse(self, raw: bytes) -> None:
        parsed = endpoints.parse_request(self.mode, raw, self.content_type, self.path_model)
        self.body, self.model, self.raw, self.stream = parsed.body, parsed.model, raw, parsed.stream
        self.files = parsed.files
        if self.mode in CONVERTED_MODES and not self.subpath:
            try:
                self.chat_body = chat_body_for(self.mode, self.body, self.model)
            except BadRequest as e:  # only a channel that speaks the format may serve it
                self.unconvertible = e

    def count_prompt(self) -> int:
        mode, body, model, counter = self.mode, self.body, self.model, self.ctx.counter
        if mode == EDITS:
            return counter.count_text(f"{body.get('instruction') or ''}\n{body.get('input') or ''}", model)
        if mode == MODERATIONS:
            return counter.count_prompt(EMBEDDINGS, body, model)
        if mode == RERANK:
            docs = [d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in body["documents"]]
            return counter.count_text(body["query"], model) + sum(counter.count_text(d, model) for d in docs)
        if mode in IMAGE_MODES or mode == SPEECH or mode in AUDIO_IN_MODES:
            return 0
        if self.chat_body is not None:
            return counter.count_prompt(CHAT, self.chat_body, model)
        if mode in CONVERTED_MODES:  # not convertible: its text, roughly
            return counter.count_text(json.dumps([body.get("instructions"), body.get("system"), body.get("input"),
                                                  body.get("messages")], ensure_ascii=False), model)
        return counter.count_prompt(mode, body, model)

    def prompt_bound(self) -> int | None:
        """At least as many tokens as :meth:`count_prompt` would count, from the body's size and
        no tokenizer (a token is at least one byte of the text, and every text counted is a JSON
        string of the body): chat (+4 per message, 85 per image part, 3 for the reply),
        completions and embeddings. None when there is no such bound (tools, whose re-encoded
        JSON may be longer; converted or other modes)."""
        mode, body, raw = self.mode, self.body, self.raw
        if self.chat_body is not None or self.subpath:
            return None
        if mode == CHAT:
            msgs = body.get("messages")
            if not isinstance(msgs, list) or "tools" in body or "functions" in body or b'"tool_calls"' in raw:
                return None
            return len(raw) + 4 * len(msgs) + 85 * raw.count(b"image") + 3
        if mode in (COMPLETIONS, EMBEDDINGS):
            return len(raw)
        return None

    def price_up_front(self, mr: float, gr: float, prompt: int | None = None) -> int:
        """The quota reserved before the upstream is called (``prompt``: the prompt's tokens
        or a bound on them; counted when not given)."""
        mode, ratio = self.mode, mr * gr
        if self.subpath == "/input_tokens":  # counting only: free
            return 0
        if mode in IMAGE_MODES:  # the exact price: known from the request
            return endpoints.image_quota(self.body, self.model, ratio)
        if mode == SPEECH:
            return endpoints.speech_quota(self.body, ratio)
        if mode in AUDIO_IN_MODES:
            estimate = endpoints.upload_estimate_tokens(len(self.raw))
            return int((self.ctx.options.int("PreConsumedQuota") + estimate) * ratio)
        src = self.chat_body or self.body
        max_tokens = src.get("max_completion_tokens") or src.get("max_tokens") or 0
        if not isinstance(max_tokens, int):
            max_tokens = 0
        if prompt is None:
            prompt = self.prompt_tokens
        return int((self.ctx.options.int("PreConsumedQuota") + prompt + max_tokens) * ratio)

    # -- routing ------------------------------------------------------------------------------
    def first_channel(self, group: str, pinned: int | None) -> ChannelRecord:
        router = self.ctx.router
        if pinned is not None:
            ch = router.get(pinned)
            if ch is None:
                raise Forbidden(f"Channel {pinned} does not exist", code="invalid_channel")
            if ch.status != CH_ENABLED:
                raise Forbidden(f"Channel {pinned} is disabled", code="channel_disabled")
            return ch
        ch = router.pick(group, self.model)
        if ch is None:
            raise NoChannel(f"No available channel for model {self.model} in group {group}")
        return ch

    def ratio(self, channel_type: int) -> tuple[float, float, float]:
        """(model, group, completion) ratio: table lookups remembered per model, channel type
        and group until a ratio option changes (Options.ratios)."""
        assert self.user is not None
        return self.ctx.options.ratios(self.model, channel_type, self.group or self.user.group)

    # -- main ---------------------------------------------------------------------------------
    async def run(self, raw: bytes, auth_header: str | None, client_ip: str) -> None:
        """The whole request, registered in ``ctx.jobs`` until it has settled (a clean stop
        waits for it, or ends it with :meth:`abort`)."""
        jobs = self.ctx.jobs
        self.task = asyncio.current_task()
        jobs.add(self)
        status = 200
        try:
            await self._run(raw, auth_header, client_ip)
        except GatewayError as e:
            status = e.status
            if self.user is not None and self.token is not None:  # failed after authentication
                self.log_failure(e)
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        except Exception:
            status = 500
            raise
        finally:
            jobs.discard(self)
            self.record_metrics(status)

    def record_metrics(self, status: int) -> None:
        """This request in /metrics (services/prometheus.py): a few dict updates."""
        now = time.monotonic()
        first = getattr(self.sink, "first_byte_at", None)
        p, c, q = self.billed
        self.ctx.prom.request_done(
            model=self.model, channel=self.served_by or (self.failures[-1]["channel"] if self.failures else 0),
            group=self.group or "", status=status, stream=self.stream, seconds=now - self.started_at,
            ttfb=(first - self.started_at) if first else None, prompt=p, completion=c, quota=q)

    def log_failure(self, e: GatewayError) -> None:
        """An error log for a request that failed after authentication (never billed: the
        reservation was refunded): status, error code and message, the channel, the retry
        chain and the request id; keys and secrets redacted."""
        ctx = self.ctx
        if not ctx.options.bool("LogErrorEnabled"):
            return
        assert self.user is not None and self.token is not None
        last = self.failures[-1] if self.failures else None
        ctx.logs.error(
            user_id=self.user.id, username=self.user.username, token_name=self.token.name,
            token_id=self.token.id, model_name=self.model, channel_id=last["channel"] if last else 0,
            content=redact(e.message, self.secrets)[:1000], request_id=self.request_id,
            elapsed_time=int((time.monotonic() - self.started_at) * 1000), is_stream=self.stream,
            status=e.status, error_code=str(e.code or ""), error_type=e.type,
            retries=self.failures,
        )

    def abort(self, message: str) -> None:
        """End this request now (the shutdown deadline passed): an open stream gets one error
        event in the client's format (``[DONE]`` after it for OpenAI chat) and the upstream call
        is cancelled. The request then settles in :meth:`_run`'s ``finally`` as for a client that
        went away: billed for what was generated; one that answered nothing yet gets a 503."""
        if self.aborted:
            return
        self.aborted = message
        sink = self.sink
        if self.stream and self.mode != SPEECH and sink.started and not sink.closed:
            sink.send(self.stream_error_frames(message))
        if self.current_call is not None:
            self.current_call.cancel()

    def shutting_down(self) -> GatewayError:
        return GatewayError(f"{self.aborted or 'The server is shutting down'}; retry the request",
                            status=503, type="server_error", code="server_shutting_down")

    async def _run(self, raw: bytes, auth_header: str | None, client_ip: str) -> None:
        ctx = self.ctx
        if ctx.refusing:  # past the shutdown deadline: nothing new starts
            raise self.shutting_down()
        pinned = await self.authorize(auth_header, client_ip)
        self.parse(raw)
        self.check_model()
        assert self.user is not None and self.token is not None
        group = self.group = self.token.group or self.user.group
        channel = self.first_channel(group, pinned)
        mr, gr, _ = self.ratio(channel.type)
        token_id = None if self.token.unlimited_quota else self.token.id
        if self.token.billing == "per_call":  # a fixed price per request (ModelPrice, in USD)
            price = ctx.options.json("ModelPrice").get(self.model)
            if isinstance(price, (int, float)) and not isinstance(price, bool):
                self.per_call = math.ceil(price * ctx.options.float("QuotaPerUnit") * gr)
        # The hot path: when the leases held here cover the price with the prompt bounded from the
        # body's size, reserve that without counting tokens (settlement uses the upstream's usage;
        # the prompt is counted only if the upstream reports none). Otherwise count, and reserve
        # the exact price as always: a request is refused exactly when it was before.
        bound = self.prompt_bound() if self.per_call is None else 0
        short: Reservation | str | None = None
        if self.per_call is not None:
            pre = self.per_call
        elif bound is not None:
            pre = self.price_up_front(mr, gr, bound)
        else:
            pre = self.price_up_front(mr, gr)
        group_limits = ctx.options.json("GroupLimits")
        if self.token.limits or self.user.limits or group in group_limits:  # opt-in: costs others nothing
            try:
                self.admission = await ctx.limits.admit(self.token, self.user, group, group_limits, self.model, pre)
            except LimitRefused as e:
                raise GatewayError(e.message, status=e.status, type="rate_limit_error" if e.status == 429
                                   else "insufficient_quota", code=e.code,
                                   headers={"Retry-After": str(max(1, math.ceil(e.retry_after)))}) from None
        if bound is not None:
            short = ctx.ledger.reserve_local(self.user.id, token_id, pre, roomy=True)
        try:
            if short is None:
                if self.per_call is None and bound is not None:
                    pre = self.price_up_front(mr, gr)
                short = await ctx.ledger.reserve(self.user.id, token_id, pre)
        except QuotaUnavailable:
            await self.release_limits()
            raise GatewayError("The quota store is unreachable; try again shortly", status=503,
                               type="server_error", code="quota_store_unavailable") from None
        if short == "user":
            await self.release_limits()
            raise QuotaExceeded("The user's quota is not enough for this request",
                                code="insufficient_user_quota")
        if short == "token":
            await self.release_limits()
            raise QuotaExceeded("This API key's remaining quota is not enough for this request",
                                code="pre_consume_token_quota_failed")
        assert isinstance(short, Reservation)
        self.reservation = short
        self.reserved = pre
        outcome = Outcome()
        ticket = None
        try:
            outcome = await self.attempts(channel, group, retries=0 if pinned else ctx.options.int("RetryTimes"),
                                          pinned=pinned is not None)
            # The answer is whole: it goes out now, and its settlement (the bill, the log) follows
            # without the client waiting for it (as One API's post-consume). A reader of quotas or
            # logs waits for the settlements of answers already out (ledger.flush). A request under
            # usage limits (TPM, quota windows) is answered after its settlement instead: a client
            # that waits for each answer always has its last request's tokens counted, on any node.
            if self.admission is None:
                ticket = ctx.ledger.begin_settlement()
                self.sink.end()
        finally:
            try:
                await self.settle(outcome)
            finally:
                if ticket is not None:
                    ctx.ledger.end_settlement(ticket)

    async def release_limits(self) -> None:
        if self.admission is not None:
            await self.ctx.limits.release(self.admission)
            self.admission = None

    async def has_quota(self, kind: str, ident: int) -> bool:
        try:
            return await self.ctx.ledger.has_quota(kind, ident)
        except PyMongoError:
            raise GatewayError("The quota store is unreachable; try again shortly", status=503,
                               type="server_error", code="quota_store_unavailable") from None

    async def attempts(self, channel: ChannelRecord | None, group: str, retries: int,
                       pinned: bool = False) -> Outcome:
        last: UpstreamError | None = None
        attempt = 0
        full: list[int] = []  # channels skipped at their requests-per-minute limit
        prom = self.ctx.prom
        while attempt <= retries:
            if self.aborted:
                raise self.shutting_down()
            if self.tried:
                channel = self.ctx.router.pick(group, self.model, exclude=self.tried)
            if channel is None:
                break
            self.tried.add(channel.id)
            if channel.rpm_limit and not await self.ctx.limits.channel_slot(channel.id, channel.rpm_limit):
                full.append(channel.id)  # full this minute: another channel, free (no 429 when one can serve)
                if pinned or len(self.tried) >= MAX_CHANNELS_TRIED:
                    break
                continue
            try:
                outcome = await self.attempt(channel)
                self.ctx.metrics.record(channel.id, True)
                self.served_by = channel.id
                if self.response_id:
                    await self.remember_response(channel)
                return outcome
            except UpstreamError as e:
                last = e
                if e.code not in _UNSERVABLE:
                    prom.inc("onerelay_upstream_errors", (str(channel.id), str(e.status)))
                self.secrets += tuple(channel.keys)
                self.failures.append({"channel": channel.id, "status": e.status, "code": str(e.code or ""),
                                      "message": redact(e.message, self.secrets)[:300]})
                if e.code in _UNSERVABLE and not pinned:  # this channel cannot take it: another, free
                    if len(self.tried) < MAX_CHANNELS_TRIED:
                        continue
                    break
                if e.status != 400:
                    self.ctx.metrics.record(channel.id, False)
                self.after_failure(channel, e)
                if not e.retryable or self.sink.started or self.sink.closed:
                    raise
                log.info("request %s: channel #%d failed (%s), %s", self.request_id, channel.id,
                         e.message, "retrying" if attempt < retries else "no retries left")
                if attempt < retries:
                    prom.inc("onerelay_retries", (prom.model_label(self.model),))
                attempt += 1
        if last is None:
            assert full, "no channel was tried"
            raise GatewayError(f"Every channel serving {self.model} is at its requests-per-minute limit; "
                               "retry shortly", status=429, type="rate_limit_error", code="channel_rate_limited",
                               headers={"Retry-After": "5"})
        if last.status == 429 and retries:
            last.message = "The upstream channels for this group are saturated; try again later"
            if last.payload:
                last.payload = {**last.payload, "message": last.message}
        raise last

    async def remember_response(self, channel: ChannelRecord) -> None:
        assert self.user is not None and self.response_id is not None
        try:
            await self.ctx.response_routes.remember(self.response_id, channel.id, self.user.id)
        except PyMongoError as e:  # the answer is out; only its follow-up calls will miss
            log.warning("request %s: response %s not remembered: %s", self.request_id, self.response_id, e)

    def after_failure(self, channel: ChannelRecord, e: UpstreamError) -> None:
        ctx = self.ctx
        if e.disables_channel and ctx.options.bool("AutomaticDisableChannelEnabled"):
            ctx.spawn(ctx.disable_channel(channel.id, CH_AUTO_DISABLED, f"upstream said: {e.message}"))

    def build(self, channel: ChannelRecord, adaptor: Adaptor) -> RelayRequest:
        converted = self.conversion is not None
        mode = CHAT if converted else self.mode
        body, rewrite = (dict(self.chat_body or {}), True) if converted else (self.body, False)
        upstream_model = channel.model_mapping.get(self.model, self.model)
        if upstream_model != self.model:
            body = dict(body)
            body["model"] = upstream_model
            rewrite = True
        if channel.system_prompt and mode == CHAT:
            body = dict(body) if not rewrite else body
            msgs = list(body["messages"])
            first = msgs[0] if msgs else None
            if isinstance(first, dict) and first.get("role") == "system":
                msgs[0] = {**first, "content": channel.system_prompt}
            else:
                msgs.insert(0, {"role": "system", "content": channel.system_prompt})
            body["messages"] = msgs
            rewrite = True
        include_usage = converted and self.stream  # the conversion reports usage to the client
        spliced = b""
        if converted and channel.type in _NO_STREAM_OPTIONS:
            body.pop("stream_options", None)
        elif self.stream and mode in (CHAT, COMPLETIONS) and self.ctx.settings.enforce_include_usage \
                and channel.type not in _NO_STREAM_OPTIONS:
            so = body.get("stream_options")
            if not (isinstance(so, dict) and so.get("include_usage") is True):
                tail = self.raw.rstrip()
                if not rewrite and "stream_options" not in body and self.mode not in FORM_MODES \
                        and tail.endswith(b"}") and tail[-2:-1] != b"\x00":  # (not UTF-16/32)
                    # the only change: the member appended to the client's bytes (not re-serialised)
                    spliced = tail[:-1] + b',"stream_options":{"include_usage":true}}'
                else:
                    rewrite = True
                body = dict(body) if body is self.body else body
                body["stream_options"] = {**(so if isinstance(so, dict) else {}), "include_usage": True}
            include_usage = True
        raw, content_type = spliced or self.raw, self.content_type
        if rewrite and self.mode in FORM_MODES:  # a mapped model in an upload: the form rebuilt
            raw, content_type = endpoints.rebuild_form(body, self.files)
            rewrite = False
        return RelayRequest(
            mode=mode, body=body, raw=raw, model=upstream_model,
            requested_model=self.model, stream=self.stream, rewrite=rewrite,
            include_usage=include_usage, content_type=content_type, headers=self.client_headers,
            subpath=self.subpath,
        )

    async def attempt(self, channel: ChannelRecord) -> Outcome:
        ctx = self.ctx
        adaptor = ctx.adaptors.get(channel.type)
        spec = PROVIDERS.get(channel.type)
        self.conversion = None
        native = adaptor is not None and spec is not None and self.mode in spec.modes and \
            adaptor.speaks(self.mode, channel.model_mapping.get(self.model, self.model))
        if not native and spec is not None and self.chat_body is not None \
                and CHAT in spec.modes:  # a Messages or Responses request this channel takes as chat
            self.conversion = MessagesConversion(self.model, self.prompt_tokens) if self.mode == MESSAGES \
                else ResponsesConversion(self.body, self.model)
        elif not native and self.unconvertible is not None:  # another channel may speak the format
            e = UpstreamError(self.unconvertible.message, status=400, code="conversion_unsupported",
                              type="invalid_request_error")
            e.param = self.unconvertible.param
            raise e
        elif not native:
            raise UpstreamError(
                f"Channel #{channel.id} (type {channel.type}) does not support {self.mode} requests",
                status=503, code="channel_type_unsupported")
        rreq = self.build(channel, adaptor)
        target = ChannelTarget(id=channel.id, type=channel.type, key=channel.next_key(),
                               base_url=channel.base_url, config=channel.config, other=channel.other)
        try:
            if adaptor.credentials:  # an access token exchanged from the key (cached)
                target.token = await ctx.credentials.token(adaptor, target)
            upstream = adaptor.build_request(rreq, target)
        except UpstreamRejected as r:
            raise self.rejected(r) from None
        if not adaptor.credentials:
            return await self.send(channel, adaptor, rreq, upstream)
        try:
            return await self.send(channel, adaptor, rreq, upstream)
        except UpstreamError as e:
            if e.status in (401, 403):  # the token may be stale: the next attempt exchanges again
                ctx.credentials.forget(adaptor, target)
            raise

    def call(self, upstream: UpstreamRequest, channel: ChannelRecord | None = None) -> Any:
        ctx = self.ctx
        proxy = ctx.proxy
        if channel is not None:
            if channel.headers:  # the operator's extra headers for this channel
                upstream.headers = {**upstream.headers, **channel.headers}
            if channel.proxy:
                proxy = channel_proxy(channel.proxy)
        call = open_call(ctx.http, upstream, timeout=ctx.settings.relay_timeout, proxy=proxy)
        self.current_call = call
        return call

    async def send(self, channel: ChannelRecord, adaptor: Adaptor, rreq: RelayRequest,
                   upstream: UpstreamRequest) -> Outcome:
        ctx = self.ctx
        if self.mode == SPEECH:  # audio bytes, relayed as they come
            return await self.stream_attempt(channel, adaptor, rreq, self.call(upstream, channel), RawStream())
        if self.stream and not adaptor.stream_after_create:
            return await self.stream_attempt(channel, adaptor, rreq, self.call(upstream, channel))
        # Polling an asynchronous upstream stops at RELAY_TIMEOUT, or after 10 minutes without one.
        deadline = time.monotonic() + (ctx.settings.relay_timeout or MAX_POLL_SECONDS)
        while True:
            parsed = await self.fetch_parsed(adaptor, rreq, upstream, channel)
            if parsed.follow is None:
                break
            upstream = parsed.follow
            if self.stream:  # the create answered with the stream to relay
                return await self.stream_attempt(channel, adaptor, rreq, self.call(upstream, channel))
            if time.monotonic() + parsed.follow_delay > deadline:
                raise UpstreamTimeout("the upstream did not finish the request in time")
            if parsed.follow_delay:
                await asyncio.sleep(parsed.follow_delay)
            if self.aborted:
                raise self.shutting_down()
            if self.sink.closed:  # nobody is waiting for the answer any more
                return Outcome(None, channel, partial=True)
        if parsed.usage is None and not parsed.completion_text and "json" in parsed.content_type \
                and not _is_json(parsed.body):  # garbage, a cut-off body or an HTML page on 2xx
            raise UpstreamError(f"The upstream answered with a body that is not JSON: "
                                f"{readable(raw_message(parsed.body, 200), 200)}", status=502, code="bad_upstream_response")
        if self.mode == CHAT and not parsed.completion_text and empty_chat_reply(parsed.body):
            # no content, no tool call: retryable on another channel, before the client saw a byte
            raise UpstreamError("The upstream answered with an empty reply (no content, no tool call)",
                                status=502, code="empty_reply")
        outcome = self.answered(channel, parsed)
        if self.conversion is not None:
            self.sink.send_json(self.conversion.answer(parsed.body))
        else:
            if self.mode == RESPONSES:
                self.response_id = openai_responses.response_id_of(parsed.body)
            self.sink.send_json(parsed.body, parsed.content_type)
        return outcome

    def answered(self, channel: ChannelRecord, parsed: ParsedResponse) -> Outcome:
        """What a successful non-stream answer costs."""
        mode, usage = self.mode, parsed.usage
        if self.subpath == "/input_tokens":
            return Outcome(Usage(0, 0), channel, quota=0, note="input token count")
        if mode in IMAGE_MODES:
            n = int(self.body.get("n") or 1)
            return Outcome(Usage(0, 0), channel, quota=self.reserved,
                           note=f"{n} image(s), size {self.body.get('size') or 'default'}"
                                + (f", quality {self.body['quality']}" if self.body.get("quality") else ""))
        if mode in AUDIO_IN_MODES:
            u, seconds, text = endpoints.transcript_usage(parsed.body, parsed.content_type)
            if u is not None:
                return Outcome(u, channel)
            mr, gr, _ = self.ratio(channel.type)
            if seconds is not None:
                tokens = endpoints.audio_seconds_tokens(seconds)
                return Outcome(Usage(tokens, 0), channel, quota=math.ceil(tokens * mr * gr),
                               note=f"{seconds:g} s of audio")
            tokens = self.ctx.counter.count_text(text, self.model)
            return Outcome(Usage(0, tokens), channel, quota=math.ceil(tokens * mr * gr),
                           note="transcript tokens")
        if mode == RERANK and usage is not None and not usage.prompt_tokens:
            usage = Usage(usage.completion_tokens, 0)  # {total_tokens}: all of it is input
        if usage is None:
            usage = Usage(self.prompt_tokens, self.ctx.counter.count_text(parsed.completion_text, self.model))
        elif not usage.prompt_tokens and self.mode != EMBEDDINGS:
            usage.prompt_tokens = self.prompt_tokens
        return Outcome(usage, channel)

    async def fetch_parsed(self, adaptor: Adaptor, rreq: RelayRequest, upstream: UpstreamRequest,
                           channel: ChannelRecord | None = None) -> ParsedResponse:
        resp = await self.call(upstream, channel).fetch()
        if self.aborted:
            raise self.shutting_down()
        if resp.code == 599:
            msg, timed_out = transport_error(resp)
            raise UpstreamTimeout(msg) if timed_out else UpstreamError(msg, status=502, code="upstream_unreachable")
        body = resp.body or b""
        if not 200 <= resp.code < 300:
            raise self.failure(adaptor, resp.code, body)
        try:
            return adaptor.parse_response(rreq, resp.code, body)
        except UpstreamRejected as r:
            raise self.rejected(r) from None

    def failure(self, adaptor: Adaptor, status: int, body: bytes) -> UpstreamError:
        return self.rejected(UpstreamRejected(adaptor.parse_error(status, body)), status)

    @staticmethod
    def rejected(r: UpstreamRejected, status: int | None = None) -> UpstreamError:
        """An adaptor's verdict as the relay's error (``status``: the HTTP status seen)."""
        f = r.failure
        message, payload = f.message, f.payload
        clean = readable(message, status or f.status)
        if clean is not message:  # an HTML page or bytes as the message: never relayed as they are
            message = clean
            payload = {**payload, "message": clean} if payload else None
        return UpstreamError(message, status=status or f.status, retryable=f.retryable,
                             disables_channel=f.disables_channel, payload=payload, code=f.code,
                             type=f.type)

    async def stream_attempt(self, channel: ChannelRecord, adaptor: Adaptor, rreq: RelayRequest,
                             call: Any, transcoder: StreamTranscoder | None = None) -> Outcome:
        sink = self.sink
        raw = isinstance(transcoder, RawStream)
        guard: SSEGuard | None = None
        if transcoder is None:  # garbage or an HTML page instead of events: an error, not relayed
            transcoder = guard = SSEGuard(adaptor.new_stream(rreq))
            if self.conversion is not None:
                transcoder = Chained(guard, self.conversion.stream())
        sink.on_close(call.cancel)
        # A chat stream's first frames (the role, empty deltas) wait until an answer shows: a
        # stream that ends without content or a tool call is an empty reply, retried on another
        # channel before the client has seen a byte.
        held: list[bytes] | None = [] if self.mode == CHAT and self.conversion is None and not raw else None

        json_streams = adaptor.json_streams

        def on_chunk(chunk: bytes) -> None:
            nonlocal held
            if not sink.started and not json_streams and "json" in call.content_type:
                # A 2xx JSON body on a stream request is an error or a non-stream answer, unless the
                # adaptor streams from JSON (an upstream with no streaming, or newline-delimited JSON).
                call.error_body += chunk
                return
            if sink.closed or call.cancelled:
                call.cancel()
                return
            frames = transcoder.feed(chunk)
            if (transcoder.error is not None or guard is not None and guard.garbage) and not sink.started:
                call.cancel()  # failed before the client saw anything: another channel may serve it
                return
            if frames:
                if held is not None:
                    held.extend(frames)
                    if not any(_ANSWERED.search(f) for f in frames):
                        return
                    frames, held = held, None
                if not sink.started:
                    sink.start_stream(call.content_type or "application/octet-stream" if raw else None)
                # The last chunks (the transfer has ended) go out with the response's end, in one
                # write, instead of a flush of their own (a whole answer read at once: one write).
                sink.send(frames, not call.ending)

        resp = await call.fetch(on_chunk)
        if self.aborted and not sink.started:
            raise self.shutting_down()
        if guard is not None and guard.garbage and not sink.started:
            raise guard.failure_for(call.status)
        if transcoder.error is not None and not sink.started:
            f = transcoder.failure
            raise UpstreamError(transcoder.error, status=f.status if f else 502, code=f.code if f else "upstream_error",
                                retryable=f.retryable if f else True,
                                disables_channel=f.disables_channel if f else False, payload=f.payload if f else None)
        if call.error_body and 200 <= call.status < 300 and not sink.started:
            # A JSON error on HTTP 2xx: the adaptor's verdict keeps its status (a provider code
            # mapped to 401 or 429), else it is a bad gateway answer.
            f = adaptor.parse_error(call.status, bytes(call.error_body))
            raise self.rejected(UpstreamRejected(f), f.status if f.status >= 400 else 502)
        if resp.code == 599 and not call.cancelled:
            msg, timed_out = transport_error(resp)
            if not sink.started:
                raise UpstreamTimeout(msg) if timed_out else UpstreamError(msg, status=502, code="upstream_unreachable")
            if raw:  # audio cut short: the client sees the body end early
                return Outcome(self.stream_usage(transcoder), channel, partial=True,
                               quota=self.reserved if self.mode == SPEECH else None)
            # Mid-stream failure: one error event (in the client's format), bill what was generated.
            sink.send(self.stream_error_frames(msg))
            return Outcome(self.stream_usage(transcoder), channel, partial=True)
        if resp.code != 599 and not 200 <= resp.code < 300:
            raise self.failure(adaptor, resp.code, bytes(call.error_body))
        if not call.cancelled and not sink.closed:
            frames = transcoder.finish()
            if held is not None:  # nothing answered yet: an empty reply, unless it ended otherwise
                frames = held + frames
                if not sink.started and not any(_ANSWERED.search(f) or _ENDED_OTHERWISE.search(f) for f in frames):
                    raise UpstreamError("The upstream answered with an empty reply (no content, no tool call)",
                                        status=502, code="empty_reply")
            if not sink.started:
                if guard is not None and guard.garbage:
                    raise guard.failure_for(call.status)
                sink.start_stream(call.content_type or "application/octet-stream" if raw else None)
            if frames:
                sink.send(frames, False)  # written with the response's end (Job._run ends it)
        if self.mode == RESPONSES and self.conversion is None:
            self.response_id = getattr(transcoder, "response_id", None)
        return Outcome(self.stream_usage(transcoder), channel, partial=call.cancelled or sink.closed,
                       quota=self.reserved if self.mode == SPEECH or self.mode in IMAGE_MODES else None,
                       note=f"{len(self.body.get('input') or '')} characters" if self.mode == SPEECH else "")

    def stream_error_frames(self, message: str) -> list[bytes]:
        """One error event in the client's format: our message in the client's language."""
        message = f"{translate(message, getattr(self.sink, 'lang', 'en'))} (request id: {self.request_id})"
        if self.conversion is not None:
            return self.conversion.error_frames(message, "stream_interrupted")
        if self.mode == MESSAGES:
            return messages_error_frames(message)
        if self.mode == RESPONSES:
            return [b"event: error\n" + sse_frame({"type": "error", "code": "stream_interrupted", "message": message,
                                                   "param": None, "sequence_number": 0})]
        return [sse_frame({"error": {"message": message, "type": "upstream_error", "param": "",
                                     "code": "stream_interrupted"}}), DONE_FRAME]

    def stream_usage(self, transcoder: Any) -> Usage:
        usage = transcoder.usage
        if usage is None:
            return Usage(self.prompt_tokens, self.ctx.counter.count_text(transcoder.completion_text, self.model))
        if not usage.prompt_tokens:
            usage.prompt_tokens = self.prompt_tokens
        return usage

    # -- settlement ---------------------------------------------------------------------------
    async def settle(self, outcome: Outcome) -> None:
        ctx = self.ctx
        assert self.user is not None and self.token is not None and self.reservation is not None
        usage, channel = outcome.usage, outcome.channel
        if usage is None or channel is None:
            await ctx.ledger.settle(self.reservation, 0)  # full refund
            await self.release_limits()
            return
        mr, gr, cr = self.ratio(channel.type)
        ratio = mr * gr
        if self.per_call is not None and outcome.quota is None:
            actual = self.per_call
        else:
            actual = outcome.quota if outcome.quota is not None else \
                ratios.quota_for(usage.prompt_tokens, usage.completion_tokens, ratio, cr)
        charged = await ctx.ledger.settle(self.reservation, actual)
        self.billed = (usage.prompt_tokens, usage.completion_tokens, charged)
        if self.admission is not None:
            await ctx.limits.settle(self.admission, usage.prompt_tokens + usage.completion_tokens, charged)
        ctx.ledger.record_usage(self.user.id, self.token.id, channel.id, charged)
        balance = ctx.ledger.balance(USER, self.user.id)
        if balance is not None and low_quota_crossed(ctx.mailer, self.user.id, balance):
            ctx.spawn(maybe_remind_low_quota(ctx.mailer, ctx.users, ctx.spawn, self.user.id, balance))
        if ctx.options.bool("LogConsumeEnabled"):
            note = _ratio_note(mr, gr, cr)
            if self.per_call is not None and outcome.quota is None:
                note = f"per-call price {ctx.options.json('ModelPrice').get(self.model):g} USD, group ratio {gr:g}"
            elif self.token.billing == "per_call":
                note += f"; no ModelPrice for {self.model}: billed by tokens"
            if outcome.note:
                note = f"{outcome.note}; model ratio {mr:g}, group ratio {gr:g}"
            if usage.cached_tokens or usage.reasoning_tokens:
                note += f"; cached input tokens {usage.cached_tokens}, reasoning tokens {usage.reasoning_tokens}"
            if charged < actual:
                note += f"; charged {charged} of {actual} (balance ran out)"
            if outcome.partial:
                note += "; stream ended early"
            ctx.logs.consume(
                user_id=self.user.id, content=note, username=self.user.username,
                token_name=self.token.name, token_id=self.token.id, model_name=self.model,
                quota=charged, prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens, channel_id=channel.id,
                request_id=self.request_id,
                elapsed_time=int((time.monotonic() - self.started_at) * 1000),
                is_stream=self.stream, system_prompt_reset=bool(channel.system_prompt),
            )
