"""OpenAI (type 1), every OpenAI-compatible channel type, and Azure OpenAI (type 3).

The OpenAI adaptor is an identity pass-through: the client's bytes go upstream
untouched unless the pipeline rewrote the body (mapping, system prompt, usage
injection), and the upstream's bytes come back untouched. Streams are parsed
only to read usage and the generated text for local counting.

A type's URL is ``base + path_prefix + path`` (registry entry); the few types that
differ beyond that (FastGPT's base, MiniMax's chat path, Baichuan's body) have a
:class:`_TypeRules` entry in ``_RULES``. Types without one (OpenAI itself) pay one
dict lookup for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .base import (
    CHAT,
    COMPLETIONS,
    DONE_FRAME,
    MODE_PATHS,
    RESPONSES,
    TRANSCRIPTIONS,
    TRANSLATIONS,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    UpstreamRequest,
    Usage,
    failure_verdicts,
)
from .common import dumps, error_payload, loads_or_none, raw_message
from .registry import PROVIDERS
from .responses import ResponsesPassthroughStream, usage_of_response
from .sse import PassthroughReader, SSEDecoder, SSEEvent


def _error_payload(status: int, body: bytes) -> tuple[dict[str, Any], str, Any, Any]:
    """Parse an OpenAI-shaped error body; fall back to the raw text."""
    data = loads_or_none(body)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or "")
        payload = {
            "message": message,
            "type": err.get("type") or "upstream_error",
            "param": err.get("param") or "",
            "code": err.get("code"),
        }
        return payload, message, err.get("type"), err.get("code")
    if isinstance(err, str):  # some compatibles send {"error": "text"}
        message = err
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        message = data["message"]
    else:
        message = raw_message(body, status)
    return error_payload(message), message, None, None


def responses_usage(body: bytes) -> Usage | None:
    data = loads_or_none(body)
    return usage_of_response(data) if isinstance(data, dict) else None


def parse_openai_error(status: int, body: bytes) -> UpstreamFailure:
    payload, message, type_, code = _error_payload(status, body)
    retryable, disables = failure_verdicts(status, message, type_, code)
    return UpstreamFailure(
        status=status, message=message, type=payload["type"], code=payload["code"],
        retryable=retryable, disables_channel=disables, payload=payload,
    )


def response_text(mode: str, data: dict[str, Any]) -> str:
    """The generated text of an OpenAI response (content, tool args, reasoning)."""
    parts: list[str] = []
    for choice in data.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if mode == COMPLETIONS:
            if isinstance(choice.get("text"), str):
                parts.append(choice["text"])
            continue
        msg = choice.get("message") or choice.get("delta") or {}
        if not isinstance(msg, dict):
            continue
        _collect_message_text(msg, parts)
    return "".join(parts)


def _collect_message_text(msg: dict[str, Any], parts: list[str]) -> None:
    for k in ("content", "reasoning_content", "reasoning"):
        v = msg.get(k)
        if isinstance(v, str):
            parts.append(v)
    for tc in msg.get("tool_calls") or ():
        if isinstance(tc, dict):
            fn = tc.get("function") or {}
            if isinstance(fn, dict):
                for k in ("name", "arguments"):
                    if isinstance(fn.get(k), str):
                        parts.append(fn[k])
    fc = msg.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
        parts.append(fc["arguments"])


# Events worth parsing on the way: those with a usage or an error that is not null (every chunk
# of an OpenAI stream with include_usage carries "usage":null). Inside a JSON string quotes are
# escaped, so text that merely mentions "usage" never matches.
_READ_KEYS = (b'"usage"', b'"error"')
_VALUE_AFTER = re.compile(rb'\s*:\s*([^\s])')


def _events_to_read(complete: bytes) -> list[bytes]:
    """The events (frames) of ``complete`` that carry a non-null usage or error, or ``[DONE]``:
    a few substring searches over the bytes; only those frames are decoded."""
    frames: list[bytes] = []
    for key in _READ_KEYS:
        i = complete.find(key)
        while i >= 0:
            m = _VALUE_AFTER.match(complete, i + len(key))
            if m is not None and m.group(1) != b"n":
                frames.append(_frame_at(complete, i))
            i = complete.find(key, i + len(key))
    if complete.endswith(b"[DONE]") or b"[DONE]" in complete:
        frames.append(_frame_at(complete, complete.rfind(b"[DONE]")))
    return frames


def _frame_at(complete: bytes, i: int) -> bytes:
    """The event (frame) of ``complete`` that holds byte ``i``."""
    start = complete.rfind(b"\n\n", 0, i) + 2 if i else 0
    if start == 1:  # no blank line before it
        start = 0
    end = complete.find(b"\n\n", i)
    return complete[start:] if end < 0 else complete[start:end]


class OpenAIStream(StreamTranscoder):
    """Pass-through: frames are forwarded as received.

    The bytes are scanned, not decoded: only complete events that carry a non-null ``usage``
    or ``error``, or ``[DONE]``, are parsed on the way; the rest are kept as they came and
    parsed once at the end, only if the upstream never reported usage (then the generated text
    is counted locally). Azure (``passthrough = False``), a stream after ``[DONE]`` and one
    with ``\r`` line ends go through the general event decoder.
    """

    def __init__(self, req: RelayRequest) -> None:
        super().__init__()
        self._decoder: SSEDecoder | None = None  # the general decoder, made when first needed
        self._mode = req.mode
        self._sent_done = False
        self._payloads: list[str] = []  # the general decoder's events' data
        self._carry = b""  # pass-through: the start of an event not complete yet
        self._complete: list[bytes] = []  # pass-through: complete events as received
        self._general = not self.passthrough

    # Azure filters frames; plain OpenAI-compatible streams go out byte for byte.
    passthrough = True

    @property
    def decoder(self) -> SSEDecoder:
        if self._decoder is None:
            self._decoder = SSEDecoder()
        return self._decoder

    def feed(self, data: bytes) -> list[bytes]:
        if self._general or self._sent_done:
            return self._general_feed(data)
        buf = self._carry + data if self._carry else data
        if b"\r" in buf:  # line ends to normalise: the general decoder from here on (events whole)
            self._general, self._carry = True, b""
            events = self.decoder.feed(buf)
            for ev in events:
                self._track(ev.data)
            return [data] if data else []
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            self._carry = buf
            return [data] if data else []
        complete, self._carry = buf[:cut], buf[cut + 2:]
        self._take(complete)
        return [data] if data else []

    def _general_feed(self, data: bytes) -> list[bytes]:
        events = self.decoder.feed(data)
        if self.passthrough and not self._sent_done:
            for ev in events:
                self._track(ev.data)
            return [data] if data else []
        return self._handle(events)

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._carry:  # the last event came without its blank line: read it, and end it
            tail, self._carry = self._carry, b""
            self._take(tail.rstrip(b"\n"))
            out.append(b"\n" if tail.endswith(b"\n") else b"\n\n")
        if self._decoder is not None:
            out += self._handle(self._decoder.flush())
        if not self._sent_done:
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    def _take(self, complete: bytes) -> None:
        """Complete passed-through events: kept, and those worth it read now."""
        self._complete.append(complete)
        for frame in _events_to_read(complete):
            for payload in _event_data(frame):
                self._read(payload)

    def _read(self, data: bytes) -> None:
        """One passed-through event's data (bytes): ``[DONE]``, or usage and errors."""
        if data == b"[DONE]":
            self.done = self._sent_done = True
        elif data.lstrip().startswith(b"{"):
            self._inspect(data)

    @property
    def completion_text(self) -> str:
        parts: list[str] = []
        for data in self._all_payloads():
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            if isinstance(obj, dict):
                parts.append(response_text(self._mode, obj))
        return "".join(parts)

    def _all_payloads(self) -> list[str | bytes]:
        out: list[str | bytes] = []
        for complete in self._complete:
            for data in _event_data(complete):
                if data == b"[DONE]":
                    return out + list(self._payloads)
                if data.lstrip().startswith(b"{"):
                    out.append(data)
        return out + list(self._payloads)

    def _inspect(self, data: str | bytes) -> None:
        try:
            obj = json.loads(data)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        if "error" in obj and not obj.get("choices"):
            err = obj["error"]
            self.error = (err.get("message") if isinstance(err, dict) else str(err)) or "upstream error"
        usage = Usage.from_openai(obj.get("usage"))
        if usage is None:
            # Moonshot reports usage inside the final choice.
            for choice in obj.get("choices") or ():
                if isinstance(choice, dict) and isinstance(choice.get("usage"), dict):
                    usage = Usage.from_openai(choice["usage"])
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            self.usage = usage  # keep the last one, never sum (OA #415)

    def _track(self, data: str) -> bool:
        """Note one event's data; True when it is a JSON object to forward."""
        if data == "[DONE]":
            self.done = self._sent_done = True
            return False
        if self._sent_done or not data.lstrip().startswith("{"):
            return False
        if '"usage"' in data or '"error"' in data:
            self._inspect(data)
        self._payloads.append(data)
        return True

    def _handle(self, events: list[Any]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            was_done = self._sent_done
            if self._track(ev.data):
                out.append(ev.raw)  # non-JSON data is dropped rather than confuse the client
            elif self._sent_done and not was_done:
                out.append(DONE_FRAME)
        return out


def _event_data(complete: bytes) -> list[bytes]:
    """The data of each event in complete events without ``\r`` (bytes; ``data: x`` one-line
    events sliced, any other through the general parser)."""
    out = []
    for frame in complete.split(b"\n\n"):
        if frame[:6] == b"data: " and b"\n" not in frame:
            out.append(frame[6:])
        elif frame:
            ev = SSEDecoder._parse(frame)
            if ev is not None:
                out.append(ev.data.encode("utf-8"))
    return out


def _prefix_heads(prefix: str) -> tuple[str, ...]:
    """The leading parts of a path prefix, longest first: ``/api/openapi/v1`` →
    (``/api/openapi/v1``, ``/api/openapi``, ``/api``)."""
    parts = [p for p in prefix.split("/") if p]
    return tuple("/" + "/".join(parts[:n]) for n in range(len(parts), 0, -1))


# What Baichuan rejects in OpenAI requests. One API never passes Baichuan's bytes through
# (relay/controller/text.go excludes channeltype.Baichuan; it came in with the type, commit
# 614c2e04: "frequency_penalty 0 is not acceptable for baichuan"): it re-encodes the parsed
# request, whose omitempty fields drop nulls, zero penalties and the other zero numbers.
_BAICHUAN_ZERO_DROPPED = frozenset({"frequency_penalty", "presence_penalty", "max_tokens", "n", "seed", "top_k"})


def baichuan_body(req: RelayRequest) -> bytes:
    """A fresh JSON body for Baichuan (type 26) from the parsed request: null fields and
    zero ``frequency_penalty``/``presence_penalty`` (and zero ``max_tokens``/``n``/``seed``/
    ``top_k``, as One API's re-encoding drops them) are left out; everything else, Baichuan's
    own fields (``with_search_enhance``, ``knowledge_base``…) included, is kept."""
    body = {
        k: v for k, v in req.body.items()
        if v is not None and not (
            k in _BAICHUAN_ZERO_DROPPED and v == 0 and not isinstance(v, bool))
    }
    return dumps(body).encode()


@dataclass(frozen=True)
class _TypeRules:
    """How one OpenAI-compatible type departs from ``base + path_prefix + MODE_PATHS[mode]``."""

    # base URL endings that already hold the start of the registry's path_prefix (not repeated)
    base_heads: tuple[str, ...] = ()
    # mode -> the path after path_prefix, where it is not OpenAI's
    paths: Mapping[str, str] | None = None
    # builds the upstream body from the parsed request instead of passing the client's bytes
    body: Callable[[RelayRequest], bytes] | None = None


_RULES: dict[int, _TypeRules] = {
    # FastGPT: /api/openapi/v1/chat/completions whether the base is the host (a user's
    # https://fastgpt.example.com) or ends with /api/openapi (One API's default and habit).
    22: _TypeRules(base_heads=_prefix_heads(PROVIDERS[22].path_prefix)),
    26: _TypeRules(body=baichuan_body),
    # MiniMax: chat is {base}/v1/text/chatcompletion_v2 (One API relay/adaptor/minimax).
    27: _TypeRules(paths={**MODE_PATHS, CHAT: "/text/chatcompletion_v2"}),
}
_NO_RULES = _TypeRules()


class OpenAIAdaptor(Adaptor):
    """OpenAI and every OpenAI-compatible type; each type's base URL and path prefix come
    from its registry entry (``_RULES`` for the few that need more)."""

    name = "openai"
    modes = frozenset(MODE_PATHS) - {"messages"}

    def base_url(self, target: ChannelTarget) -> str:
        return self._base(target, PROVIDERS.get(target.type), _RULES.get(target.type, _NO_RULES))

    @staticmethod
    def _base(target: ChannelTarget, spec: Any, rules: _TypeRules) -> str:
        base = (target.base_url or (spec.base_url if spec else "")).rstrip("/")
        if not base:
            base = "https://api.openai.com"
        for head in rules.base_heads:
            if base.endswith(head):
                base = base[:-len(head)]
                break
        return base

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        return self._url(req, target, _RULES.get(target.type, _NO_RULES))

    def _url(self, req: RelayRequest, target: ChannelTarget, rules: _TypeRules) -> str:
        spec = PROVIDERS.get(target.type)
        prefix = spec.path_prefix if spec is not None else "/v1"
        return self._base(target, spec, rules) + prefix + (rules.paths or MODE_PATHS)[req.mode] + req.subpath

    def headers(self, target: ChannelTarget, content_type: str = "application/json") -> dict[str, str]:
        h = {"Content-Type": content_type, "Authorization": "Bearer " + target.key}
        if target.type == 20:
            h["HTTP-Referer"] = "https://github.com/onerelay/onerelay"
            h["X-Title"] = "OneRelay"
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        rules = _RULES.get(target.type, _NO_RULES)
        body = req.body_bytes() if rules.body is None else rules.body(req)
        return UpstreamRequest("POST", self._url(req, target, rules), self.headers(target, req.content_type), body)

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        if req.mode in (TRANSCRIPTIONS, TRANSLATIONS):  # json, or text/srt/vtt as they came
            fmt = req.body.get("response_format") or "json"
            text_type = "application/json" if fmt in ("json", "verbose_json") else "text/plain; charset=utf-8"
            return ParsedResponse(body, None, "", content_type=text_type)
        if req.mode == RESPONSES:
            return ParsedResponse(body, responses_usage(body), "")
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        usage = Usage.from_openai(data.get("usage"))
        text = "" if usage is not None else response_text(req.mode, data)
        return ParsedResponse(body, usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        if req.mode == RESPONSES:
            return ResponsesPassthroughStream()
        if req.mode not in (CHAT, COMPLETIONS):  # streamed images and transcripts
            return EventPassthrough()
        return OpenAIStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_openai_error(status, body)



AZURE_DEFAULT_API_VERSION = "2024-10-21"
AZURE_RESPONSES_API_VERSION = "2025-03-01-preview"  # the first api-version with /openai/responses


def azure_deployment(model: str) -> str:
    """The Azure deployment for an upstream model name: the name without dots, as One API
    derives it (``gpt-3.5-turbo`` → ``gpt-35-turbo``, ``gpt-4.1`` → ``gpt-41``)."""
    return model.replace(".", "")


class AzureAdaptor(OpenAIAdaptor):
    """Azure OpenAI: deployment URL, ``api-key`` header, ``api-version`` query.

    The deployment is the upstream model name (after the channel's ``model_mapping``)
    with its dots deleted, as One API does: ``gpt-3.5-turbo`` goes to the deployment
    ``gpt-35-turbo``. A channel's ``model_mapping`` names any other deployment (map
    ``gpt-4o`` to ``my-deployment``); a mapped name loses its dots too.
    """

    name = "azure"

    def _url(self, req: RelayRequest, target: ChannelTarget, rules: _TypeRules) -> str:
        base = (target.base_url or "").rstrip("/")
        version = (target.config.get("api_version") or target.other or AZURE_DEFAULT_API_VERSION)
        if req.mode == RESPONSES:  # not per deployment: the deployment is the body's model
            return f"{base}/openai/responses{req.subpath}?api-version={max(version, AZURE_RESPONSES_API_VERSION)}"
        path = MODE_PATHS[req.mode]
        return f"{base}/openai/deployments/{azure_deployment(req.model)}{path}?api-version={version}"

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == RESPONSES and azure_deployment(req.model) != req.model:
            req.body = {**req.body, "model": azure_deployment(req.model)}
            req.rewrite = True
        return super().build_request(req, target)

    def headers(self, target: ChannelTarget, content_type: str = "application/json") -> dict[str, str]:
        return {"Content-Type": content_type, "api-key": target.key}

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return super().new_stream(req) if req.mode not in (CHAT, COMPLETIONS) else AzureStream(req)



class EventPassthrough(PassthroughReader):
    """Streamed images and transcripts (``image_generation.partial_image``,
    ``transcript.text.delta``…): relayed as they come; the ``usage`` of the final event and the
    transcript's deltas are read on the way."""

    def _event(self, ev: SSEEvent) -> None:
        data = ev.data
        if '"usage"' not in data and '"delta"' not in data:
            return  # partial images: large, nothing to read
        obj = loads_or_none(data)
        if not isinstance(obj, dict):
            return
        usage = obj.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("input_tokens"), int):
            out = usage.get("output_tokens")
            self.usage = Usage(usage["input_tokens"], out if isinstance(out, int) else 0)
        if isinstance(obj.get("delta"), str):
            self.text_parts.append(obj["delta"])


class AzureStream(OpenAIStream):
    """Azure's first chunk may carry only ``prompt_filter_results`` (``choices: []``
    and no usage): OpenAI clients choke on it, so it is dropped."""

    passthrough = False

    def _handle(self, events: list[Any]) -> list[bytes]:
        kept = []
        for ev in events:
            if ev.data.startswith("{") and '"prompt_filter_results"' in ev.data:
                try:
                    obj = json.loads(ev.data)
                except ValueError:
                    obj = None
                if isinstance(obj, dict) and not obj.get("choices") and not obj.get("usage"):
                    continue
            kept.append(ev)
        return super()._handle(kept)


__all__ = ["OpenAIAdaptor", "AzureAdaptor", "azure_deployment", "baichuan_body", "parse_openai_error", "CHAT"]
