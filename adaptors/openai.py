"""OpenAI (type 1), every OpenAI-compatible channel type, and Azure OpenAI (type 3).

The OpenAI adaptor is an identity pass-through: the client's bytes go upstream
untouched unless the pipeline rewrote the body (mapping, system prompt, usage
injection), and the upstream's bytes come back untouched. Streams are parsed
only to read usage and the generated text for local counting.
"""

from __future__ import annotations

import json
from typing import Any

from .base import (
    CHAT,
    COMPLETIONS,
    DONE_FRAME,
    MODE_PATHS,
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
from .registry import PROVIDERS
from .sse import SSEDecoder

def _error_payload(status: int, body: bytes) -> tuple[dict[str, Any], str, Any, Any]:
    """Parse an OpenAI-shaped error body; fall back to the raw text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
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
        text = body.decode("utf-8", "replace").strip()
        message = text[:500] or f"upstream returned HTTP {status}"
    payload = {"message": message, "type": "upstream_error", "param": "", "code": None}
    return payload, message, None, None


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


class OpenAIStream(StreamTranscoder):
    """Pass-through: frames are forwarded as received.

    Only frames that carry ``usage`` or ``error`` are parsed on the way; the
    others are kept and parsed once at the end, and only if the upstream
    never reported usage (then the generated text is counted locally).
    """

    def __init__(self, req: RelayRequest) -> None:
        super().__init__()
        self._decoder = SSEDecoder()
        self._mode = req.mode
        self._sent_done = False
        self._payloads: list[str] = []

    # Azure filters frames; plain OpenAI-compatible streams go out byte for byte.
    passthrough = True

    def feed(self, data: bytes) -> list[bytes]:
        events = self._decoder.feed(data)
        if self.passthrough and not self._sent_done:
            for ev in events:
                self._track(ev.data)
            return [data] if data else []
        return self._handle(events)

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if not self._sent_done:
            self._sent_done = True
            out.append(DONE_FRAME)
        return out

    @property
    def completion_text(self) -> str:
        parts: list[str] = []
        for data in self._payloads:
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            if isinstance(obj, dict):
                parts.append(response_text(self._mode, obj))
        return "".join(parts)

    def _inspect(self, data: str) -> None:
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


class OpenAIAdaptor(Adaptor):
    """OpenAI and every OpenAI-compatible type; each type's base URL and path prefix come
    from its registry entry."""

    name = "openai"

    def base_url(self, target: ChannelTarget) -> str:
        spec = PROVIDERS.get(target.type)
        base = (target.base_url or (spec.base_url if spec else "")).rstrip("/")
        if not base:
            base = "https://api.openai.com"
        if spec is not None and spec.strip_v1 and base.endswith("/v1"):
            base = base[:-3]
        return base

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        spec = PROVIDERS.get(target.type)
        prefix = spec.path_prefix if spec is not None else "/v1"
        return self.base_url(target) + prefix + MODE_PATHS[req.mode]

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Authorization": "Bearer " + target.key}
        if target.type == 20:
            h["HTTP-Referer"] = "https://github.com/onerelay/onerelay"
            h["X-Title"] = "OneRelay"
        return h

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        return UpstreamRequest("POST", self.url(req, target), self.headers(target), req.body_bytes())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
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
        return OpenAIStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_openai_error(status, body)



AZURE_DEFAULT_API_VERSION = "2024-10-21"


class AzureAdaptor(OpenAIAdaptor):
    """Azure OpenAI: deployment URL, ``api-key`` header, ``api-version`` query.

    The deployment is the upstream model name (after mapping); a channel's
    ``model_mapping`` is the explicit way to name deployments (we do not
    delete dots as One API does: ``gpt-3.5-turbo`` stays ``gpt-3.5-turbo``
    unless mapped).
    """

    name = "azure"

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        base = (target.base_url or "").rstrip("/")
        version = (target.config.get("api_version") or target.other or AZURE_DEFAULT_API_VERSION)
        path = MODE_PATHS[req.mode]
        return f"{base}/openai/deployments/{req.model}{path}?api-version={version}"

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        return {"Content-Type": "application/json", "api-key": target.key}

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return AzureStream(req)



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


__all__ = ["OpenAIAdaptor", "AzureAdaptor", "parse_openai_error", "CHAT"]
