"""``/v1/*``: the OpenAI-compatible relay endpoints."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

import tornado.web
from tornado.iostream import StreamClosedError
from tornado.log import access_log

from adaptors.base import (
    CHAT, COMPLETIONS, EDITS, EMBEDDINGS, IMAGE_EDITS, IMAGE_VARIATIONS, IMAGES, MODERATIONS, RERANK, SPEECH,
    TRANSCRIPTIONS, TRANSLATIONS,
)
from relay.endpoints import FORM_MODES, MAX_UPLOAD_BYTES, UPLOAD_BODY_LIMIT, with_path_model
from adaptors.base import ChannelTarget, UpstreamRejected
from adaptors.messages import anthropic_error_body
from adaptors.proxy import build_proxy_request, response_headers
from models.channels import CH_ENABLED
from models.users import ROLE_ADMIN
from relay.errors import BadRequest, Forbidden, GatewayError, NotFound, NotImplementedAPI
from relay.pipeline import Job
from relay.upstream import UpstreamCall, transport_error

PROXY_TYPE = 43

from .base import OpenAIHandler


class RelayHandler(OpenAIHandler):
    """POST a chat/completions/embeddings request through the pipeline.

    Implements the pipeline's ``Sink``: ``start_stream``, ``send`` (SSE frames,
    flushed as they come), ``send_json``; ``closed`` turns True when the client
    goes away, which cancels the upstream transfer.
    """

    mode = CHAT

    def initialize(self, mode: str = CHAT) -> None:  # type: ignore[override]
        super().initialize()
        self.mode = mode
        self.closed = False
        self.started = False
        self.first_byte_at = 0.0  # when the answer's first byte was handed to Tornado (metrics)
        self._close_callbacks: list[Callable[[], None]] = []

    # -- Sink ---------------------------------------------------------------------------------
    def on_close(self, fn: Callable[[], None]) -> None:
        self._close_callbacks.append(fn)

    def on_connection_close(self) -> None:
        self.closed = True
        for fn in self._close_callbacks:
            fn()

    def start_stream(self, content_type: str | None = None) -> None:
        self.started = True
        self.first_byte_at = time.monotonic()
        headers = self._headers  # constant, valid values: set without set_header's checks
        headers["Cache-Control"] = "no-cache"
        headers["X-Accel-Buffering"] = "no"
        if content_type is None:
            headers["Content-Type"] = "text/event-stream; charset=utf-8"
        else:  # the upstream's (audio): checked
            self.set_header("Content-Type", content_type)

    def send(self, frames: list[bytes], flush: bool = True) -> None:
        """The frames that came together go out in one write and one flush; without ``flush``
        they wait for the next flush or the response's end (:meth:`end`)."""
        if self.closed:
            return
        if frames:
            self.write(frames[0] if len(frames) == 1 else b"".join(frames))
        if flush:
            self.flush().add_done_callback(self._flushed)

    def end(self) -> None:
        """The answer is complete: finish the response now (what is buffered goes in one write)."""
        if not self._finished and not self.closed:
            self.finish()

    def _flushed(self, fut: Any) -> None:
        if fut.exception() is not None and isinstance(fut.exception(), StreamClosedError):
            self.on_connection_close()

    def send_json(self, body: bytes, content_type: str = "application/json") -> None:
        self.started = True
        self.first_byte_at = time.monotonic()
        self.set_header("Content-Type", content_type)
        self.write(body)

    # -- HTTP ---------------------------------------------------------------------------------
    def _log(self) -> None:
        """Tornado's access log line, only when its logger takes it (server.py keeps
        ``tornado.access`` at WARNING: a relayed 2xx would build the line for nothing)."""
        if "log_function" not in self.application.settings:
            status = self.get_status()
            level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
            if not access_log.isEnabledFor(level):
                return
        super()._log()

    def body(self) -> bytes:
        return self.request.body

    async def post(self, path_model: str | None = None) -> None:
        raw = self.body()
        if path_model is not None:  # /v1/engines/{model}/...: the upstream reads the model from the body
            raw = with_path_model(raw, path_model)
        # Uploads go upstream with their own multipart type (its boundary); every other body is
        # validated as JSON and sent as JSON, whatever the client labelled it (curl -d says
        # application/x-www-form-urlencoded).
        content_type = self.request.headers.get("Content-Type", "application/json") \
            if self.mode in FORM_MODES else "application/json"
        job = Job(self.ctx, self, self.mode, self.request_id, content_type=content_type, path_model=path_model)
        await job.run(raw, self.request.headers.get("Authorization"), self.client_ip)
        self.end()


@tornado.web.stream_request_body
class UploadHandler(RelayHandler):
    """Multipart uploads (audio to transcribe, images to edit): the body arrives in chunks
    as the client sends it, capped at the providers' limit before it is all read."""

    def initialize(self, mode: str = TRANSCRIPTIONS) -> None:  # type: ignore[override]
        super().initialize(mode)
        self._buf = bytearray()
        self._too_large = False

    @staticmethod
    def too_large() -> GatewayError:
        return GatewayError(f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", status=413,
                            type="invalid_request_error", code="request_too_large")

    def prepare(self) -> None:
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > UPLOAD_BODY_LIMIT:
            raise self.too_large()
        # Without a length (chunked), the connection stops reading past the limit.
        self.request.connection.set_max_body_size(UPLOAD_BODY_LIMIT)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        # A gzip body is capped by its encoded length above; decoded, it may grow past the limit
        # (up to the server's 64 MB): the rest is dropped and the request answered 413.
        if self._too_large:
            return
        if len(self._buf) + len(chunk) > UPLOAD_BODY_LIMIT:
            self._too_large = True
            self._buf = bytearray()
            return
        self._buf += chunk

    async def post(self, path_model: str | None = None) -> None:
        if self._too_large:
            raise self.too_large()
        await super().post(path_model)

    def body(self) -> bytes:
        return bytes(self._buf)


class ModelsHandler(OpenAIHandler):
    """``GET /v1/models[/{model}]``: the token's allow-list, else its group's models."""

    async def get(self, model: str | None = None) -> None:
        job = Job(self.ctx, self, CHAT, self.request_id)  # type: ignore[arg-type]
        auth = self.request.headers.get("Authorization")
        if not auth and self.request.headers.get("x-api-key"):
            auth = "Bearer " + self.request.headers["x-api-key"]
        await job.authorize(auth, self.client_ip)
        assert job.token is not None and job.user is not None
        names = sorted(job.token.models) if job.token.models is not None else \
            self.ctx.router.models_for_group(job.user.group)
        if self.request.headers.get("anthropic-version"):  # an Anthropic client: its list shape
            self.anthropic_models(names, model)
            return
        owners = self.ctx.model_owners()
        items: list[dict[str, Any]] = [{"id": n, "object": "model", "created": 1626777600,
                  "owned_by": owners.get(n, "custom"), "root": n, "parent": None,
                  "permission": []} for n in names]
        if model is not None:
            found = next((m for m in items if m["id"] == model), None)
            if found is None:
                raise NotFound(f"The model '{model}' does not exist", code="model_not_found")
            self.finish(found)
            return
        self.finish({"object": "list", "data": items})

    def write_gateway_error(self, e: GatewayError) -> None:
        if not self.request.headers.get("anthropic-version"):
            super().write_gateway_error(e)
            return
        self.set_status(e.status)  # an Anthropic client: its error shape
        for k, v in e.headers.items():
            self.set_header(k, v)
        self.set_header("Content-Type", "application/json")
        body = anthropic_error_body(e.status, f"{e.text(self.lang)} (request id: {self.request_id})")
        self.finish(json.dumps(body, ensure_ascii=False))

    def anthropic_models(self, names: list[str], model: str | None) -> None:
        items = [{"type": "model", "id": n, "display_name": n, "created_at": "2024-01-01T00:00:00Z"} for n in names]
        if model is not None:
            found = next((m for m in items if m["id"] == model), None)
            if found is None:
                raise NotFound(f"The model '{model}' does not exist", code="model_not_found")
            self.finish(found)
            return
        self.finish({"data": items, "has_more": False, "first_id": items[0]["id"] if items else None,
                     "last_id": items[-1]["id"] if items else None})

    async def delete(self, model: str | None = None) -> None:
        job = Job(self.ctx, self, CHAT, self.request_id)  # type: ignore[arg-type]
        await job.authorize(self.request.headers.get("Authorization"), self.client_ip)
        raise NotImplementedAPI("API not implemented")


class NotImplementedHandler(OpenAIHandler):
    """One API's 501 routes (files, fine-tuning, assistants, threads, image edits...)."""

    def _refuse(self, *_: Any) -> None:
        raise NotImplementedAPI("API not implemented")

    get = post = put = delete = patch = _refuse  # type: ignore[assignment]


class ProxyHandler(OpenAIHandler):
    """``ANY /v1/oneapi/proxy/{channel id}/{path}``: One API's raw pass-through to a Proxy
    channel (type 43), for an admin's key only; nothing is billed (adaptors/proxy.py)."""

    async def _proxy(self, channel_id: str, path: str | None = None) -> None:
        job = Job(self.ctx, self, CHAT, self.request_id)  # type: ignore[arg-type]
        await job.authorize(self.request.headers.get("Authorization"), self.client_ip)
        assert job.user is not None
        if job.user.role < ROLE_ADMIN:
            raise Forbidden("Only an admin's API key may use the proxy", code="proxy_forbidden")
        channel = self.ctx.router.get(int(channel_id))
        if channel is None:
            raise Forbidden(f"Channel {channel_id} does not exist", code="invalid_channel")
        if channel.status != CH_ENABLED:
            raise Forbidden(f"Channel {channel_id} is disabled", code="channel_disabled")
        if channel.type != PROXY_TYPE:
            raise BadRequest(f"Channel {channel_id} is not a Proxy channel (type {PROXY_TYPE})",
                             code="not_a_proxy_channel")
        target = ChannelTarget(id=channel.id, type=channel.type, key=channel.next_key(),
                               base_url=channel.base_url, config=channel.config, other=channel.other)
        try:
            up = build_proxy_request(self.request.method or "GET", path or "", self.request.query,
                                     self.request.headers, self.request.body or None, target)
        except UpstreamRejected as r:
            f = r.failure
            raise GatewayError(f.message, status=f.status, type=f.type, code=f.code) from None
        resp = await UpstreamCall(self.ctx.http, up, timeout=self.ctx.settings.relay_timeout,
                                  proxy=self.ctx.proxy).fetch()
        if resp.code == 599:
            msg, timed_out = transport_error(resp)
            raise GatewayError(msg, status=504 if timed_out else 502, type="upstream_error",
                               code="upstream_timeout" if timed_out else "upstream_unreachable")
        self.set_status(resp.code, resp.reason or "Unknown")
        for name, value in response_headers(resp.headers):
            self.add_header(name, value)
        self.finish(resp.body or b"")

    get = post = put = patch = delete = head = _proxy  # type: ignore[assignment]


_NOT_IMPLEMENTED = [
    r"/v1/files(?:/.*)?", r"/v1/fine_tuning/jobs(?:/.*)?", r"/v1/fine-tunes(?:/.*)?", r"/v1/assistants(?:/.*)?",
    r"/v1/threads(?:/.*)?",
]

routes = [
    (r"/v1/chat/completions", RelayHandler, {"mode": CHAT}),
    (r"/v1/completions", RelayHandler, {"mode": COMPLETIONS}),
    (r"/v1/embeddings", RelayHandler, {"mode": EMBEDDINGS}),
    (r"/v1/engines/([^/]+)/embeddings", RelayHandler, {"mode": EMBEDDINGS}),
    (r"/v1/edits", RelayHandler, {"mode": EDITS}),
    (r"/v1/moderations", RelayHandler, {"mode": MODERATIONS}),
    (r"/v1/rerank", RelayHandler, {"mode": RERANK}),
    (r"/v1/images/generations", RelayHandler, {"mode": IMAGES}),
    (r"/v1/images/edits", UploadHandler, {"mode": IMAGE_EDITS}),
    (r"/v1/images/variations", UploadHandler, {"mode": IMAGE_VARIATIONS}),
    (r"/v1/audio/speech", RelayHandler, {"mode": SPEECH}),
    (r"/v1/audio/transcriptions", UploadHandler, {"mode": TRANSCRIPTIONS}),
    (r"/v1/audio/translations", UploadHandler, {"mode": TRANSLATIONS}),
    (r"/v1/oneapi/proxy/(\d+)(/.*)?", ProxyHandler),
    (r"/v1/models", ModelsHandler),
    (r"/v1/models/(.+)", ModelsHandler),
] + [(p, NotImplementedHandler) for p in _NOT_IMPLEMENTED]


