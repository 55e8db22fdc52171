"""Cloudflare Workers AI (channel type 37) through its OpenAI-compatible endpoints.

Workers AI speaks OpenAI at ``{base}/client/v4/accounts/{account}/ai/v1/chat/completions``
and ``…/ai/v1/embeddings`` (developers.cloudflare.com/workers-ai/configuration/
open-ai-compatibility), with ``Authorization: Bearer <API token>``; the account id is the
channel's ``user_id`` config field (One API's ``Config.UserID``). An AI Gateway base URL
(``https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai``) already names
the account, so the OpenAI paths are appended to it directly (as One API does).

Requests and answers are OpenAI-shaped, so this is the OpenAI pass-through with its own
URL rule and error reader. Cloudflare's own error envelope
(``{"success":false,"errors":[{"code","message"}]}``) is normalised. Completions
(``/ai/run/{model}``, a native body) are not offered: only chat and embeddings.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any


from .base import (
    CHAT,
    EMBEDDINGS,
    MODE_PATHS,
    ChannelConfigError,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    UpstreamFailure,
    UpstreamRequest,
    failure_verdicts,
)
from .common import channel_base_url, config_text, failure, loads_or_none
from .openai import OpenAIAdaptor, parse_openai_error, response_text
from .registry import PROVIDERS

DEFAULT_BASE_URL = PROVIDERS[37].base_url
# Cloudflare API error codes that mean the token cannot be used (code 10000 = "Authentication error").
_AUTH_CODES = frozenset({10000, 10001, 9109})


def is_ai_gateway(base: str) -> bool:
    """An AI Gateway Workers AI URL, ``…/v1/{account}/{gateway}/workers-ai`` (the account is in
    its path, not in the config). One API also requires the gateway.ai.cloudflare.com host; any
    host is accepted here, so a proxy in front of the gateway works too."""
    return urllib.parse.urlsplit(base).path.rstrip("/").endswith("/workers-ai")


def account_id(target: ChannelTarget) -> str:
    return config_text(target, "user_id")


def endpoint_prefix(target: ChannelTarget) -> str:
    """Everything before ``/v1/chat/completions``: the account's ``…/ai`` or the gateway URL."""
    base = channel_base_url(target, DEFAULT_BASE_URL)
    if is_ai_gateway(base):
        return base
    account = account_id(target)
    if not account:
        raise ChannelConfigError(
            f"Channel #{target.id} (Cloudflare) has no account ID: set the channel's Account ID "
            "(config user_id), or use an AI Gateway base URL "
            "(https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai)")
    return f"{base}/client/v4/accounts/{urllib.parse.quote(account, safe='')}/ai"


def parse_cloudflare_error(status: int, body: bytes) -> UpstreamFailure:
    """Cloudflare's ``{"success":false,"errors":[{"code","message"}]}`` or an OpenAI error."""
    data = loads_or_none(body)
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors or "error" in data:
        return parse_openai_error(status, body)
    messages: list[str] = []
    code: Any = None
    for e in errors:
        if isinstance(e, dict):
            if isinstance(e.get("message"), str) and e["message"]:
                messages.append(e["message"])
            if code is None and e.get("code") is not None:
                code = e.get("code")
        elif isinstance(e, str) and e:
            messages.append(e)
    message = "; ".join(messages) or f"upstream returned HTTP {status}"
    retryable, disables = failure_verdicts(status, message, None, None)
    if code in _AUTH_CODES or "authentication error" in message.lower():
        disables = True
    return failure(status, message, code=code, retryable=retryable, disables=disables)


class CloudflareAdaptor(OpenAIAdaptor):
    name = "cloudflare"
    modes = frozenset({CHAT, EMBEDDINGS})

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        return endpoint_prefix(target) + "/v1" + MODE_PATHS[req.mode]

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": "Bearer " + target.key.strip()}

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        # the client's bytes as they are (the pipeline re-encodes only what it rewrote)
        return UpstreamRequest("POST", self.url(req, target), self.headers(target), req.body_bytes())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        parsed = super().parse_response(req, status, body)
        u = parsed.usage
        if u is not None and not u.prompt_tokens and not u.completion_tokens and req.mode == CHAT:
            # an all-zero usage object is no report: the relay counts the answer locally
            return ParsedResponse(parsed.body, None, response_text(req.mode, json.loads(body)))
        return parsed

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_cloudflare_error(status, body)


__all__ = ["CloudflareAdaptor", "ChannelConfigError", "parse_cloudflare_error", "endpoint_prefix",
           "is_ai_gateway"]
