"""One exception tree for the relay; rendered as OpenAI error JSON by the /v1 handlers."""

from __future__ import annotations

from typing import Any

from services.i18n import translate


class GatewayError(Exception):
    """An error answered to the client: HTTP status, OpenAI ``type`` and ``code``."""

    status = 500
    type = "one_api_error"
    code: Any = None

    def __init__(self, message: str, *, status: int | None = None, type: str | None = None,
                 code: Any = None, payload: dict[str, Any] | None = None, param: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}  # e.g. Retry-After on a 429
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.payload = payload  # an upstream OpenAI error object passed through

    def text(self, lang: str) -> str:
        """The message in ``lang``: ours translated, an upstream's (``payload``) as it came."""
        return self.message if self.payload else translate(self.message, lang)

    def to_openai(self, request_id: str, lang: str = "en") -> dict[str, Any]:
        """OpenAI's error object; our own message in ``lang`` (an upstream's relayed as it came)."""
        base = dict(self.payload) if self.payload else {
            "message": self.text(lang), "type": self.type, "param": self.param, "code": self.code,
        }
        msg = str(base.get("message") or self.message)
        base["message"] = f"{msg} (request id: {request_id})" if request_id else msg
        base.setdefault("param", "")
        base.setdefault("code", self.code)
        return {"error": base}


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthError(GatewayError):
    status = 401


class Forbidden(GatewayError):
    status = 403


class QuotaExceeded(GatewayError):
    status = 403
    code = "insufficient_user_quota"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"


class NotImplementedAPI(GatewayError):
    status = 501
    code = "api_not_implemented"


class NoChannel(GatewayError):
    status = 503
    code = "model_not_found"


class UpstreamError(GatewayError):
    """The upstream answered with an error (relayed with its status)."""

    type = "upstream_error"

    def __init__(self, message: str, *, status: int, retryable: bool = True,
                 disables_channel: bool = False, payload: dict[str, Any] | None = None,
                 code: Any = None, type: str | None = None) -> None:
        super().__init__(message, status=status, payload=payload, code=code, type=type)
        self.retryable = retryable
        self.disables_channel = disables_channel


class UpstreamTimeout(UpstreamError):
    def __init__(self, message: str = "upstream timed out") -> None:
        super().__init__(message, status=504, code="upstream_timeout")
