"""Replicate (channel type 46): OpenAI chat and image generation <-> Replicate predictions.

Replicate runs a model as a *prediction*: create it, then poll it (or read its event stream)
until it ends. Pure converters and the create → poll → stream steps as relay ``follow``
requests (:class:`~adaptors.base.ParsedResponse.follow`); nothing here opens a socket or sleeps.

* URL rule: ``{base}/v1/models/{owner}/{name}/predictions`` for a model name ``owner/name``
  (an official model, run at its latest version), ``{base}/v1/predictions`` with
  ``"version": "<id>"`` for ``owner/name:<version id>``. ``base`` is the channel's base URL
  (default ``https://api.replicate.com``); a trailing ``/v1`` or ``/v1/models`` (One API's old
  default, ``https://api.replicate.com/v1/models/``) is dropped, so all of them reach the same
  URL. ``Authorization: Bearer r8_…``. Any other model name is a channel configuration error
  (503, tried on another channel): map it to an ``owner/name`` with Model mapping.
* Chat body ``{"input": {...}}``: system/developer messages (wherever they are) become
  ``system_prompt``; a conversation of one user message is sent as the ``prompt`` as it is
  (the model's own chat template then wraps it); a longer one is flattened as One API does, one
  ``role: text`` block per message (user, assistant, tool), blocks separated by a blank line;
  images and tool calls are dropped. ``max_completion_tokens``/``max_tokens`` go to both
  ``max_tokens`` (Llama 3) and ``max_new_tokens`` (Llama 2, Mistral): models ignore inputs
  they do not define. ``temperature``, ``top_p``, ``top_k``, ``presence_penalty``,
  ``frequency_penalty``, ``seed`` are passed; ``stop`` becomes ``stop_sequences`` (one
  comma-separated string). No tools.
* Non-stream (chat and images): the create carries ``Prefer: wait`` (Replicate holds the
  answer up to 60 s), so a quick model answers ``succeeded`` at once. While the prediction is
  ``starting``/``processing``, :meth:`ReplicateAdaptor.parse_response` answers ``follow`` =
  ``GET urls.get`` (same Bearer) after a delay that grows with the prediction's age
  (a quarter of the seconds since ``created_at``, from 0.5 s up to 2 s). ``succeeded``: an
  LLM's ``output`` is a list of text pieces, joined; usage is ``metrics.input_token_count`` /
  ``output_token_count`` when reported (else the relay counts locally); ``finish_reason`` is
  ``length`` when the output reached the asked ``max_tokens``, else ``stop``. ``failed``,
  ``canceled`` or ``aborted``: :class:`~adaptors.base.UpstreamRejected` (500, retryable;
  an NSFW/safety refusal is 400 ``content_policy_violation``).
* Stream (:attr:`ReplicateAdaptor.stream_after_create`): the create (with ``"stream": true``,
  no ``Prefer: wait``) is answered with ``follow`` = ``GET urls.stream`` (``Accept:
  text/event-stream``), which the relay streams through :class:`ReplicateStream`: SSE events
  ``output`` (raw text; several ``data:`` lines are one text joined by newlines) → content
  deltas, ``error`` (``{"detail": …}`` or text) → an OpenAI error frame, ``done`` (``{}``; or
  ``{"reason": "canceled"}`` → an error frame) → ``finish_reason: stop`` and ``[DONE]``;
  ``logs`` and unknown events are skipped. The stream reports no usage: when the client asks
  for a usage chunk, it is counted locally (the flattened prompt and system prompt, the
  streamed text) and that count is also what is billed; otherwise the relay counts. A model
  whose prediction has no stream URL answers 400 (ask without ``stream``).
* Images (``images`` mode, OpenAI's ``/v1/images/generations`` body): ``{"input": {prompt,
  num_outputs: n, aspect_ratio, output_format: "png"}}``; ``size`` picks ``aspect_ratio``
  (1024x1024 → 1:1, 1792x1024 → 16:9, 1024x1792 → 9:16, 1536x1024 → 3:2, 1024x1536 → 2:3,
  another W x H whose reduced ratio Flux knows → that ratio, else 1:1); SDXL models (names with
  ``sdxl``) get ``width``/``height`` too. The output (one URL or a list) becomes
  ``{"created", "data": [{"url"}]}``. ``response_format: b64_json`` is answered with URLs as
  well: a pure adaptor cannot download the files (One API downloads and re-encodes them).
* Errors: non-2xx ``{"detail", "status", "title", "invalid_fields"?}`` → the detail (with the
  invalid fields); 401 (bad token) and 402 (no credit) disable the channel, 422 (invalid
  input) is an ``invalid_request_error`` that is not retried (its status is 400 in the failure;
  the relay answers with the HTTP status it saw), 429 and 5xx are retried, 403/404 are retried
  elsewhere without disabling the channel.

The per-attempt facts ``parse_response`` needs for a follow request (the key and the base URL)
are remembered on the attempt's :class:`~adaptors.base.RelayRequest` by ``build_request``
(the pipeline hands both calls the same object).

One API's traps avoided: non-stream chat works (OA refused it), the stream's raw text becomes
OpenAI chunks (OA wrote it as bare ``data:`` lines), multi-line output keeps its newlines,
prediction failures are OpenAI errors with their reason, and the key is not sent to image URLs.
"""

from __future__ import annotations

import math
import re
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from .base import (
    CHAT,
    DONE_FRAME,
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
    content_text,
    count,
    count_tokens,
    dumps,
    error_payload,
    failure,
    is_number,
    loads_or_none,
    max_output_tokens,
    positive_int,
    raw_message,
    stop_list,
)
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[46].base_url
POLL_MIN, POLL_MAX = 0.5, 2.0  # seconds between two polls of a running prediction
RUNNING = frozenset({"starting", "processing"})
ENDED_BADLY = frozenset({"failed", "canceled", "aborted"})

# OpenAI image sizes -> Flux aspect ratios; other sizes are reduced and looked up in FLUX_RATIOS.
SIZE_RATIOS = {"1024x1024": "1:1", "512x512": "1:1", "256x256": "1:1", "1792x1024": "16:9",
               "1024x1792": "9:16", "1536x1024": "3:2", "1024x1536": "2:3"}
FLUX_RATIOS = frozenset({"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"})

_MODEL = re.compile(r"([A-Za-z0-9][\w.-]*)/([A-Za-z0-9][\w.-]*)(?::([0-9A-Za-z]+))?")
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
                403: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error"}


# --------------------------------------------------------------------------- URLs and state


def api_base(target: ChannelTarget) -> str:
    """The channel's base URL without a trailing ``/v1`` or ``/v1/models``."""
    base = channel_base_url(target, DEFAULT_BASE_URL)
    base = base.removesuffix("/models") if base.endswith("/v1/models") else base
    return base.removesuffix("/v1")


def create_endpoint(base: str, model: str) -> tuple[str, str | None]:
    """(create URL, version id or None) for a model name ``owner/name[:version]``."""
    m = _MODEL.fullmatch(model.strip())
    if m is None:
        raise ChannelConfigError(
            f"Replicate model names are owner/name (e.g. meta/meta-llama-3-8b-instruct) or "
            f"owner/name:version; {model!r} is neither: map it to one with Model mapping",
            "model_name_invalid")
    owner, name, version = m.groups()
    if version:
        return base + "/v1/predictions", version
    q = urllib.parse.quote
    return f"{base}/v1/models/{q(owner)}/{q(name)}/predictions", None


@dataclass
class _Attempt:
    """What ``build_request`` leaves on the RelayRequest for ``parse_response`` and the stream."""

    key: str
    base: str
    prediction: str = ""


def _attempt(req: RelayRequest) -> _Attempt | None:
    state = req.adaptor_state
    return state if isinstance(state, _Attempt) else None


def auth_headers(key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + key}


# --------------------------------------------------------------------------- requests


def flatten_messages(messages: Any) -> tuple[str, str]:
    """(prompt, system prompt) from OpenAI chat messages (see the module notes)."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for msg in messages if isinstance(messages, list) else ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        text = content_text(msg.get("content"), scalars=True)
        if role in ("system", "developer"):
            if text:
                system.append(text)
        elif isinstance(role, str) and role and text:
            turns.append((role, text))
    if len(turns) == 1 and turns[0][0] == "user":
        prompt = turns[0][1]
    else:
        prompt = "\n\n".join(f"{role}: {text}" for role, text in turns)
    return prompt, "\n\n".join(system)


def to_chat_input(body: dict[str, Any]) -> dict[str, Any]:
    """The prediction ``input`` of a language model from an OpenAI chat body."""
    prompt, system = flatten_messages(body.get("messages"))
    out: dict[str, Any] = {"prompt": prompt}
    if system:
        out["system_prompt"] = system
    limit = max_output_tokens(body)
    if limit is not None:
        out["max_tokens"] = limit
        out["max_new_tokens"] = limit
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if is_number(body.get(key)):
            out[key] = body[key]
    top_k = positive_int(body.get("top_k"))
    if top_k is not None:
        out["top_k"] = top_k
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        out["seed"] = seed
    stops = stop_list(body.get("stop"))
    if stops:
        out["stop_sequences"] = ",".join(stops)
    return out


def _dimensions(size: Any) -> tuple[int, int] | None:
    if not isinstance(size, str):
        return None
    w, sep, h = size.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or not int(w) or not int(h):
        return None
    return int(w), int(h)


def aspect_ratio(size: Any) -> str:
    """The Flux ``aspect_ratio`` of an OpenAI ``size`` (``1:1`` when none fits)."""
    if isinstance(size, str) and size in SIZE_RATIOS:
        return SIZE_RATIOS[size]
    dims = _dimensions(size)
    if dims is None:
        return "1:1"
    g = math.gcd(*dims)
    ratio = f"{dims[0] // g}:{dims[1] // g}"
    return ratio if ratio in FLUX_RATIOS else "1:1"


def to_image_input(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The prediction ``input`` of an image model from an OpenAI images request."""
    prompt = body.get("prompt")
    out: dict[str, Any] = {
        "prompt": prompt if isinstance(prompt, str) else "",
        "num_outputs": positive_int(body.get("n")) or 1,
        "aspect_ratio": aspect_ratio(body.get("size")),
        "output_format": "png",
    }
    dims = _dimensions(body.get("size"))
    if dims is not None and "sdxl" in model.lower():
        out["width"], out["height"] = dims
    return out


# --------------------------------------------------------------------------- answers


def output_text(output: Any) -> str:
    """An LLM prediction's output: a list of text pieces (joined) or one text."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(p if isinstance(p, str) else "" if p is None else str(p) for p in output)
    return ""


def output_urls(output: Any) -> list[str]:
    """An image prediction's output as a list of URLs (one URL, a list, or ``{"url"}`` items)."""
    items = output if isinstance(output, list) else [output]
    urls = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("url")
        if isinstance(item, str) and item:
            urls.append(item)
    return urls


def prediction_usage(metrics: Any) -> Usage | None:
    """``metrics.input_token_count`` / ``output_token_count``; None when neither is reported."""
    if not isinstance(metrics, dict) or not ({"input_token_count", "output_token_count"} & set(metrics)):
        return None
    return Usage(count(metrics.get("input_token_count")), count(metrics.get("output_token_count")))


def _timestamp(value: Any) -> float | None:
    """Unix seconds of an RFC 3339 time (``2024-05-01T10:00:00.123456789Z``); None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


def poll_delay(prediction: dict[str, Any], now: float) -> float:
    """Seconds before the next poll: a quarter of the prediction's age, 0.5 s to 2 s (1 s when the
    age is unknown)."""
    created = _timestamp(prediction.get("created_at"))
    if created is None:
        return 1.0
    return min(POLL_MAX, max(POLL_MIN, (now - created) / 4))


def prediction_failure(prediction: dict[str, Any]) -> UpstreamFailure:
    """The failure of a prediction that ended ``failed``, ``canceled`` or ``aborted``."""
    status = str(prediction.get("status"))
    err = prediction.get("error")
    if isinstance(err, dict):
        err = err.get("detail") or err.get("message") or dumps(err)
    reason = str(err).strip() if err else ""
    pid = prediction.get("id")
    what = f"Replicate prediction {pid}" if isinstance(pid, str) and pid else "The Replicate prediction"
    message = f"{what} {status}" + (f": {reason}" if reason else "")
    low = reason.lower()
    if "nsfw" in low or "safety" in low or "sensitive" in low:
        return failure(400, message, "invalid_request_error", "content_policy_violation",
                       retryable=False, disables=False)
    code = "prediction_failed" if status == "failed" else "prediction_" + status
    retryable, disables = failure_verdicts(500, reason, None, None)
    return failure(500, message, "upstream_error", code, retryable=retryable, disables=disables)


def parse_replicate_error(status: int, body: bytes) -> UpstreamFailure:
    """A non-2xx answer: ``{"detail", "title", "status", "invalid_fields"?}`` normalised."""
    data = loads_or_none(body)
    message = ""
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, list):  # validation errors as a list of objects
            detail = "; ".join(str(d.get("msg") or d.get("description") or d) if isinstance(d, dict) else str(d)
                               for d in detail)
        message = str(detail or data.get("title") or data.get("error") or "").strip()
        fields = data.get("invalid_fields")
        if isinstance(fields, list):
            notes = [str(f.get("description") or f.get("field") or "") for f in fields if isinstance(f, dict)]
            notes = [n for n in notes if n and n not in message]
            if notes:
                message = "; ".join(([message] if message else []) + notes)
    if not message:
        message = raw_message(body, status)
    mapped = 400 if status == 422 else status
    etype = _ERROR_TYPES.get(mapped, "upstream_error")
    retryable, disables = failure_verdicts(mapped, message, etype, None)
    if mapped == 403:
        disables = False  # a model this account may not run; the key itself works
    return failure(mapped, message, etype, retryable=retryable, disables=disables)


def _bad_answer(body: bytes) -> UpstreamRejected:
    message = "Replicate answered something other than a prediction: " + body.decode("utf-8", "replace")[:200]
    return UpstreamRejected(failure(502, message, retryable=True, disables=False))


# --------------------------------------------------------------------------- stream


class ReplicateStream(ChatStream):
    """A prediction's SSE stream (``output``/``error``/``done`` events) in, OpenAI chunks out."""

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str = "") -> None:
        super().__init__(req, created, id_)
        self._sse = SSEDecoder()
        self._req = req

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for ev in self._sse.feed(data):
            if self._sent_done:
                break
            self._event(ev, out)
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        for ev in self._sse.flush():
            if not self._sent_done:
                self._event(ev, out)
        if not self._sent_done:  # the stream was cut before its done event
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    def _event(self, ev: SSEEvent, out: list[bytes]) -> None:
        if ev.event == "output":
            if ev.data:
                self.text_parts.append(ev.data)
                out.append(self._frame({"content": ev.data}))
        elif ev.event == "error":
            data = loads_or_none(ev.data)
            detail = data.get("detail") or data.get("error") if isinstance(data, dict) else None
            self._fail(error_payload(str(detail or ev.data or "the prediction failed"), code="prediction_failed"),
                       out)
        elif ev.event == "done":
            data = loads_or_none(ev.data)
            reason = data.get("reason") if isinstance(data, dict) else None
            if reason in ("canceled", "cancelled", "aborted", "error", "failed"):
                self._fail(error_payload(f"the Replicate prediction ended: {reason}",
                                         code="prediction_" + ("failed" if reason == "error" else str(reason))), out)
                return
            out.append(self._frame({}, "stop"))
            self.done = True
            if self._emit_usage:
                prompt, system = flatten_messages(self._req.body.get("messages"))
                model = self._req.requested_model
                self.usage = Usage(count_tokens([t for t in (system, prompt) if t], model),
                                   count_tokens([self.completion_text], model))
            self._close(out)
        # logs and anything else: nothing to relay


# --------------------------------------------------------------------------- adaptor


class ReplicateAdaptor(Adaptor):
    """Replicate predictions (create, then poll or stream). ``clock`` gives the unix time."""

    name = "replicate"
    modes = frozenset({CHAT, IMAGES})
    stream_after_create = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def models(self) -> list[str]:
        return list(PROVIDERS[46].models)

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        base = api_base(target)
        url, version = create_endpoint(base, req.model)
        body: dict[str, Any] = {}
        if version:
            body["version"] = version
        if req.mode == IMAGES:
            body["input"] = to_image_input(req.body, req.model)
        else:
            body["input"] = to_chat_input(req.body)
        headers = {"Content-Type": "application/json", **auth_headers(target.key)}
        if req.stream and req.mode == CHAT:
            body["stream"] = True
        else:
            headers["Prefer"] = "wait"
        req.adaptor_state = _Attempt(target.key, base)
        return UpstreamRequest("POST", url, headers, dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        data = loads_or_none(body)
        if not isinstance(data, dict) or "status" not in data:
            raise _bad_answer(body)
        state = _attempt(req)
        if state is not None and isinstance(data.get("id"), str):
            state.prediction = data["id"]
        pstatus = data.get("status")
        if pstatus in ENDED_BADLY:
            raise UpstreamRejected(prediction_failure(data))
        urls = data.get("urls") if isinstance(data.get("urls"), dict) else {}
        assert isinstance(urls, dict)
        headers = auth_headers(state.key) if state is not None else {}
        if req.stream and req.mode == CHAT:
            stream_url = urls.get("stream")
            if not isinstance(stream_url, str) or not stream_url:
                msg = f"Replicate model {req.model} does not stream its output: ask without stream"
                raise UpstreamRejected(failure(400, msg, "invalid_request_error", "stream_unsupported",
                                               retryable=False, disables=False))
            follow = UpstreamRequest("GET", stream_url, {**headers, "Accept": "text/event-stream",
                                                         "Cache-Control": "no-store"}, None)
            return ParsedResponse(body, None, follow=follow)
        if pstatus != "succeeded":
            get_url = urls.get("get")
            if (not isinstance(get_url, str) or not get_url) and state is not None and state.prediction:
                get_url = f"{state.base}/v1/predictions/{urllib.parse.quote(state.prediction)}"
            if not isinstance(get_url, str) or not get_url:
                raise _bad_answer(body)
            return ParsedResponse(body, None, follow=UpstreamRequest("GET", get_url, headers, None),
                                  follow_delay=poll_delay(data, self.clock()))
        if req.mode == IMAGES:
            return self._images(data)
        return self._chat(req, data)

    def _chat(self, req: RelayRequest, data: dict[str, Any]) -> ParsedResponse:
        text = output_text(data.get("output"))
        usage = prediction_usage(data.get("metrics"))
        limit = max_output_tokens(req.body)
        finish = "length" if limit is not None and usage is not None and usage.completion_tokens >= limit else "stop"
        pid = data.get("id")
        cid = f"chatcmpl-{pid}" if isinstance(pid, str) and pid else "chatcmpl-replicate"
        out = chat_completion(cid, req.requested_model, [choice(assistant_message(text), finish)], usage,
                              int(self.clock()))
        return ParsedResponse(dumps(out).encode(), usage, text)

    def _images(self, data: dict[str, Any]) -> ParsedResponse:
        urls = output_urls(data.get("output"))
        if not urls:
            message = f"Replicate prediction {data.get('id')} succeeded without an image URL"
            raise UpstreamRejected(failure(502, message, code="empty_output", retryable=True, disables=False))
        out = {"created": int(self.clock()), "data": [{"url": u} for u in urls]}
        return ParsedResponse(dumps(out).encode(), None, "")

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        state = _attempt(req)
        return ReplicateStream(req, id_=f"chatcmpl-{state.prediction}" if state and state.prediction else "")

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_replicate_error(status, body)


__all__ = [
    "ReplicateAdaptor", "ReplicateStream", "api_base", "create_endpoint", "flatten_messages", "to_chat_input",
    "to_image_input", "aspect_ratio", "output_text", "output_urls", "prediction_usage", "poll_delay",
    "prediction_failure", "parse_replicate_error",
]
