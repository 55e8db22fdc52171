"""``/v1/messages`` (Anthropic clients) and ``/v1/responses`` (the Responses API).

Both run the relay pipeline like chat (auth, routing, quota, retries, billing, logs): a
channel that speaks the format gets the request as it is, any other chat channel gets it
converted (relay/formats.py). Messages answers errors in Anthropic's shape and takes the key
from ``x-api-key`` as well as ``Authorization``. A Responses id is remembered with the
channel that created it, so its follow-up calls reach that channel.
"""

from __future__ import annotations

import json
from typing import Any

from adaptors.base import MESSAGES, RESPONSES, ChannelTarget, RelayRequest
from adaptors.messages import anthropic_error_body, count_input_tokens
from adaptors.registry import PROVIDERS
from relay.endpoints import parse_request
from relay.errors import GatewayError, NotFound
from relay.pipeline import Job
from relay.upstream import UpstreamCall, transport_error

from .relay import RelayHandler

# Client headers a Claude channel gets as they are (beta features Claude Code turns on).
_ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")


def api_key_header(handler: Any) -> str | None:
    """``Authorization: Bearer sk-…``, else Anthropic's ``x-api-key: sk-…``."""
    auth = handler.request.headers.get("Authorization")
    if auth:
        return str(auth)
    key = handler.request.headers.get("x-api-key")
    return f"Bearer {key}" if key else None


class MessagesHandler(RelayHandler):
    """``POST /v1/messages``."""

    def initialize(self, mode: str = MESSAGES) -> None:  # type: ignore[override]
        super().initialize(MESSAGES)

    def write_gateway_error(self, e: GatewayError) -> None:
        self.set_status(e.status)
        for k, v in e.headers.items():
            self.set_header(k, v)
        self.set_header("Content-Type", "application/json")
        message = f"{e.text(self.lang)} (request id: {self.request_id})"
        self.finish(json.dumps(anthropic_error_body(e.status, message), ensure_ascii=False))

    async def post(self, *_: Any) -> None:
        headers = {h: v for h in _ANTHROPIC_HEADERS if (v := self.request.headers.get(h))}
        job = Job(self.ctx, self, MESSAGES, self.request_id, client_headers=headers)
        await job.run(self.request.body, api_key_header(self), self.client_ip)
        self.end()


class CountTokensHandler(MessagesHandler):
    """``POST /v1/messages/count_tokens``: the prompt's tokens, counted here (an estimate with
    tiktoken, free of charge, no upstream call)."""

    async def post(self, *_: Any) -> None:
        job = Job(self.ctx, self, MESSAGES, self.request_id)
        await job.authorize(api_key_header(self), self.client_ip)
        parsed = parse_request(MESSAGES, self.request.body)
        job.model = parsed.model
        job.check_model()
        self.finish({"input_tokens": count_input_tokens(parsed.body, parsed.model)})


class ResponsesHandler(RelayHandler):
    """``POST /v1/responses``, and ``/v1/responses/input_tokens`` and ``/compact`` (routed by
    model to a channel that speaks the Responses API)."""

    def initialize(self, mode: str = RESPONSES, subpath: str = "") -> None:  # type: ignore[override]
        super().initialize(RESPONSES)
        self.subpath = subpath

    async def post(self, *_: Any) -> None:
        job = Job(self.ctx, self, RESPONSES, self.request_id, subpath=self.subpath)
        await job.run(self.request.body, self.request.headers.get("Authorization"), self.client_ip)
        self.end()


class ResponseItemHandler(RelayHandler):
    """``GET``/``DELETE /v1/responses/{id}``, ``GET …/input_items``, ``POST …/cancel``: passed
    to the channel that created the response, for the user whose key created it."""

    async def _forward(self, response_id: str, rest: str) -> None:
        job = Job(self.ctx, self, RESPONSES, self.request_id)
        await job.authorize(self.request.headers.get("Authorization"), self.client_ip)
        assert job.user is not None
        route = await self.ctx.response_routes.lookup(response_id)
        if route is None or route[1] != job.user.id:
            raise NotFound(f"Response with id '{response_id}' not found (only responses created through a "
                           "channel that stores them can be fetched)", code="response_not_found")
        channel = self.ctx.router.get(route[0])
        adaptor = self.ctx.adaptors.get(channel.type) if channel is not None else None
        if channel is None or adaptor is None or RESPONSES not in PROVIDERS[channel.type].modes:
            raise NotFound(f"The channel that created response '{response_id}' no longer exists",
                           code="response_not_found")
        rreq = RelayRequest(mode=RESPONSES, body={}, raw=b"", model="", requested_model="",
                            subpath=f"/{response_id}{rest}")
        # A response lives in the upstream project of the key that created it: with several keys
        # in rotation, a 404 from one key means try the next (a 404 changed nothing upstream).
        for key in channel.keys:
            target = ChannelTarget(id=channel.id, type=channel.type, key=key,
                                   base_url=channel.base_url, config=channel.config, other=channel.other)
            up = adaptor.build_request(rreq, target)
            query = self.request.query
            if query:
                up.url += ("&" if "?" in up.url else "?") + query
            up.method = self.request.method or "GET"
            up.body = self.request.body if up.method == "POST" else None
            call = UpstreamCall(self.ctx.http, up, timeout=self.ctx.settings.relay_timeout, proxy=self.ctx.proxy)
            resp = await call.fetch()
            if resp.code == 599:
                msg, _ = transport_error(resp)
                raise GatewayError(msg, status=502, type="upstream_error", code="upstream_unreachable")
            if resp.code != 404:
                break
        self.set_status(resp.code)
        self.set_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
        self.finish(resp.body or b"")

    async def get(self, response_id: str, rest: str = "") -> None:  # type: ignore[override]
        await self._forward(response_id, rest or "")

    async def delete(self, response_id: str, rest: str = "") -> None:  # type: ignore[override]
        if rest:
            raise NotFound(f"Invalid URL (DELETE {self.request.path})")
        await self._forward(response_id, "")

    async def post(self, response_id: str, rest: str = "") -> None:  # type: ignore[override]
        if rest != "/cancel":
            raise NotFound(f"Invalid URL (POST {self.request.path})")
        await self._forward(response_id, rest)


routes = [
    (r"/v1/messages", MessagesHandler),
    (r"/v1/messages/count_tokens", CountTokensHandler),
    (r"/v1/responses", ResponsesHandler),
    (r"/v1/responses/input_tokens", ResponsesHandler, {"subpath": "/input_tokens"}),
    (r"/v1/responses/compact", ResponsesHandler, {"subpath": "/compact"}),
    (r"/v1/responses/([^/]+)(/input_items|/cancel)?", ResponseItemHandler),
]
