"""Handler base classes: context access, JSON bodies, one error renderer per API family."""

from __future__ import annotations

import hmac
import json
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import jwt
import tornado.web

from models.users import ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_ENABLED
from relay.errors import GatewayError, NotFound
from relay.pipeline import new_request_id
from schemas.fields import PAGE, Invalid, Op, loads, query_value
from services import clientip, i18n

from .ratelimit import api_rate_limit

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.http")

SESSION_COOKIE = "session"
SESSION_DAYS = 30


class ApiError(Exception):
    """A management API failure answered as ``{success: false, message}``."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def str_field(body: dict[str, Any], key: str, *, max_len: int, min_len: int = 0,
               required: bool = False) -> str | None:
    """A string field within length limits; None when absent or empty (ApiError otherwise)."""
    v = body.get(key)
    if v is None or v == "":
        if required:
            raise ApiError(f"{key} is required")
        return None
    if not isinstance(v, str):
        raise ApiError(f"{key} must be a string")
    if len(v) > max_len or len(v) < min_len:
        raise ApiError(f"{key} must be {min_len}-{max_len} characters" if min_len
                       else f"{key} must be at most {max_len} characters")
    return v



def as_int(v: Any, key: str) -> int:
    """A JSON number that is a whole number (``3`` or ``3.0``, not ``true``) as an int."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ApiError(f"{key} must be an integer")
    return int(v)


# Query arguments One API reads with strconv, ignoring the error (``p, _ := strconv.Atoi(...)``):
# its console sends ``start_timestamp=NaN`` when a date field is blank. Text that is not an
# integer is absent (p: page 0); an integer out of range is still refused. Others stay strict.
LENIENT_QUERY = frozenset({"p", "start_timestamp", "end_timestamp"})


def not_an_integer(raw: str) -> bool:
    """Whether a query value is text that is not an integer at all (``NaN``, ``1.5``, ``abc``)."""
    raw = raw.strip()
    digits = raw[1:] if raw[:1] in "+-" else raw
    return not (digits.isascii() and digits.isdigit())


class BaseHandler(tornado.web.RequestHandler):
    request_id: str = ""

    def initialize(self) -> None:
        pass

    @property
    def ctx(self) -> "AppContext":
        return self.application.settings["ctx"]  # type: ignore[no-any-return]

    def set_default_headers(self) -> None:
        if not self.request_id:
            self.request_id = new_request_id()
        self.set_header("X-Oneapi-Request-Id", self.request_id)
        self.clear_header("Server")

    @property
    def client_ip(self) -> str:
        """The client's address, resolved once per request: forwarded headers count only from
        TRUSTED_PROXIES (services/clientip.py); rate limits, token subnets and logs all use it."""
        return clientip.for_request(self.request, self.ctx.settings)

    _lang: str | None = None

    @property
    def lang(self) -> str:
        """The language of this request's messages: ``Accept-Language`` (zh-CN or en), else the
        operator's default (option ``Language``); see services/i18n.py."""
        if self._lang is None:
            self._lang = i18n.negotiate(self.request.headers.get("Accept-Language"),
                                        i18n.normalize(self.ctx.options.get("Language")) or i18n.DEFAULT)
        return self._lang

    def tr(self, message: str) -> str:
        """One of our messages in this request's language."""
        return i18n.translate(message, self.lang) if message else message

    def check_xsrf_cookie(self) -> None:  # CSRF is handled per family (see ApiHandler)
        return None

    def data_received(self, chunk: bytes) -> None:  # pragma: no cover - not streaming requests
        pass


class ApiHandler(BaseHandler):
    """``/api/*``: One API's envelope; errors are HTTP 200 ``{success:false}`` (401 when anonymous)."""

    current_role: int = -1
    current_user_id: int = 0
    auth_by_cookie = False
    critical = False  # True: the route also takes the critical rate limit (handlers/ratelimit.py)
    # The declared inputs per HTTP method (schemas/fields.Op): checked before the method runs
    # (after authentication), and described in /api/openapi.json.
    ops: dict[str, Op] = {}
    path_params: tuple[str, ...] = ()  # names of the route's groups, for the OpenAPI paths
    _body: dict[str, Any] | None = None
    _args: dict[str, Any] | None = None

    async def prepare(self) -> None:
        """Per-IP rate limits: GLOBAL_API_RATE_LIMIT, plus the critical limit on ``critical`` routes;
        then, for a route without authentication, its declared inputs."""
        refused = await api_rate_limit(self.ctx, self.client_ip, critical=self.critical)
        if refused is not None:
            self.set_header("Retry-After", str(refused[1]))
            raise ApiError(refused[0], status=429)
        method = getattr(self, self.request.method.lower(), None) if self.request.method else None
        if getattr(method, "min_role", None) is None:
            self.check_inputs()

    def check_inputs(self) -> None:
        """The declared query arguments (typed, in range) and JSON body of this method."""
        op = self.ops.get(self.request.method or "")
        if op is None:
            return
        args: dict[str, Any] = {}
        if op.query is not None:
            for f in op.query.fields:
                raw = self.get_query_argument(f.name, "")
                try:
                    args[f.name] = query_value(f, raw)
                except Invalid as e:
                    if f.name not in LENIENT_QUERY or not not_an_integer(raw):
                        raise ApiError(e.message) from None
                    args[f.name] = None
        self._args = args
        if op.body is not None:
            body = self._parse_body()
            try:
                op.body.check(body)
            except Invalid as e:
                raise ApiError(e.message) from None
            self._body = body

    def arg(self, name: str, default: Any = None) -> Any:
        """A declared query argument, typed (``default`` when absent)."""
        v = (self._args or {}).get(name)
        return default if v is None else v

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def ok(self, data: Any = None, message: str = "", **extra: Any) -> None:
        out: dict[str, Any] = {"success": True, "message": self.tr(message)}
        if data is not None:
            out["data"] = data
        out.update(extra)
        self.finish(json.dumps(out, ensure_ascii=False, separators=(",", ":")))

    def fail(self, message: str, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps({"success": False, "message": self.tr(message)}, ensure_ascii=False))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object, checked against the method's declared body if any."""
        if self._body is not None:
            return self._body
        return self._parse_body()

    def _parse_body(self) -> dict[str, Any]:
        raw = self.request.body
        if not raw:
            raise ApiError("The request body is empty: send a JSON object")
        try:
            body = loads(raw)  # no NaN/Infinity, at most 64 levels deep
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise ApiError(e.message if isinstance(e, Invalid) else f"The request body is not valid JSON: {e}") \
                from None
        if not isinstance(body, dict):
            raise ApiError("The request body must be a JSON object")
        return body

    def page(self) -> int:
        """``?p=``: a page number from 0, as One API reads it: negative or not a number is 0;
        an integer beyond 2^31-1 is refused."""
        raw = self.get_query_argument("p", "")
        try:
            p = query_value(PAGE, raw)
        except Invalid:
            if not_an_integer(raw):
                return 0
            raise ApiError(f"p must be an integer between 0 and {PAGE.max}") from None
        return max(0, p or 0)

    def path_int(self, value: str, what: str = "id") -> int:
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise ApiError(f"invalid {what}: {value!r}") from None
        if n <= 0 or n > 2**62:
            raise ApiError(f"invalid {what}: {value!r}")
        return n

    # -- authentication -----------------------------------------------------------------------
    def issue_session(self, user: dict[str, Any]) -> None:
        now = int(time.time())
        claims = {"uid": int(user["_id"]), "ver": int(user.get("session_version", 0)),
                  "iat": now, "exp": now + SESSION_DAYS * 86400}
        value = jwt.encode(claims, self.ctx.settings.session_secret, algorithm="HS256")
        self.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="Lax", path="/",
                        expires_days=SESSION_DAYS,
                        secure=self.request.protocol == "https")

    def clear_session(self) -> None:
        self.clear_cookie(SESSION_COOKIE, path="/")

    async def authenticate(self, min_role: int) -> dict[str, Any]:
        """Session cookie, else a system access token in ``Authorization`` (One API)."""
        user: dict[str, Any] | None = None
        cookie = self.get_cookie(SESSION_COOKIE)
        if cookie:
            try:
                claims = jwt.decode(cookie, self.ctx.settings.session_secret, algorithms=["HS256"])
                doc = await self.ctx.users.get(int(claims["uid"]))
                if doc is not None and int(doc.get("session_version", 0)) == int(claims.get("ver", -1)):
                    user = doc
                    self.auth_by_cookie = True
            except (jwt.PyJWTError, KeyError, ValueError, TypeError):
                user = None
        if user is None:
            header = self.request.headers.get("Authorization", "").strip()
            if header[:7].lower() == "bearer ":
                header = header[7:].strip()
            if not header:
                if cookie:
                    self.clear_session()
                raise ApiError("Not logged in and no access token provided", status=401)
            doc = await self.ctx.users.by_access_token(header)
            if doc is None or not hmac.compare_digest(str(doc.get("access_token", "")), header):
                raise ApiError("Invalid access token")
            user = doc
        if int(user.get("status", 0)) != STATUS_ENABLED:
            self.clear_session()
            raise ApiError("This user is disabled")
        if int(user.get("role", 0)) < min_role:
            raise ApiError("You do not have permission for this operation")
        if self.auth_by_cookie and self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_same_origin()
        self.current_role = int(user.get("role", 0))
        self.current_user_id = int(user["_id"])
        return user

    def check_same_origin(self) -> None:
        """Cookie-authenticated mutations must come from our own pages (CSRF)."""
        origin = self.request.headers.get("Origin") or self.request.headers.get("Referer")
        if not origin:
            return  # non-browser clients (SameSite=Lax keeps cross-site browsers out)
        host = urllib.parse.urlsplit(origin).netloc
        if host != self.request.host:
            raise ApiError("Cross-site request refused", status=403)

    def refuse_cross_site(self) -> None:
        """For GETs kept for One API that change state (new access token, binds): a browser's
        cookie-authenticated call must come from our own pages. Refused: ``Sec-Fetch-Site``
        other than ``same-origin`` / ``none`` (``same-site`` too: a sibling subdomain is another
        site's code), or an ``Origin`` / ``Referer`` naming another host. An access-token caller
        (``Authorization``, no session cookie) is not a browser and passes."""
        if not self.auth_by_cookie:
            return
        site = self.request.headers.get("Sec-Fetch-Site", "").strip().lower()
        if site and site not in ("same-origin", "none"):
            raise ApiError("Cross-site request refused: open this page from the console itself", status=403)
        self.check_same_origin()

    # -- dispatch -----------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code >= 500:
            message = f"Internal server error (request id: {self.request_id})"
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"success": False, "message": self.tr(message)}, ensure_ascii=False))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, ApiError):
            if not self._finished:
                self.fail(e.message, e.status)
            return
        super()._handle_request_exception(e)


def api_auth(min_role: int) -> Any:
    """Decorator: authenticate at ``min_role`` before the handler method runs."""

    def wrap(method: Any) -> Any:
        async def inner(self: ApiHandler, *args: Any, **kwargs: Any) -> Any:
            user = await self.authenticate(min_role)
            self.check_inputs()
            return await method(self, user, *args, **kwargs)

        inner.__name__ = method.__name__
        inner.__doc__ = method.__doc__
        inner.min_role = min_role  # type: ignore[attr-defined]
        return inner

    return wrap


user_auth = api_auth(ROLE_COMMON)
admin_auth = api_auth(ROLE_ADMIN)
root_auth = api_auth(ROLE_ROOT)


class OpenAIHandler(BaseHandler):
    """``/v1/*``: errors as OpenAI error JSON carrying the request id. Any origin may call it
    (browser chat apps, as One API allows); a preflight is answered without auth."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Expose-Headers", "X-Oneapi-Request-Id")

    def options(self, *_: Any) -> None:
        self.set_status(204)
        self.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
        # Whatever the client asks for (Authorization, x-api-key, anthropic-*, x-stainless-*...).
        self.set_header("Access-Control-Allow-Headers",
                        self.request.headers.get("Access-Control-Request-Headers") or CORS_HEADERS)
        self.set_header("Access-Control-Max-Age", "86400")
        self.finish()

    def write_gateway_error(self, e: GatewayError) -> None:
        self.set_status(e.status)
        for k, v in e.headers.items():
            self.set_header(k, v)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(e.to_openai(self.request_id, self.lang), ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, GatewayError):
            self.write_gateway_error(exc)
            return
        if status_code == 405:
            e: GatewayError = NotFound(f"Invalid URL ({self.request.method} {self.request.path})")
            self.set_status(404)
        elif status_code >= 500:
            e = GatewayError("Internal server error")
        else:
            e = GatewayError(self._reason, status=status_code, type="invalid_request_error")
        self.write_gateway_error(e)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, GatewayError):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, GatewayError):
            if not self._finished:
                if self._headers_written:
                    self.finish()
                else:
                    self.clear()
                    self.set_default_headers()
                    self.write_gateway_error(e)
            return
        super()._handle_request_exception(e)


CORS_HEADERS = "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta"


class NotFoundHandler(BaseHandler):
    """Unknown ``/v1`` and ``/api`` paths: 404 ``Invalid URL (METHOD PATH)``. One API answers
    both with ``{"error": {message, type, param, code}}`` (its NoRoute handler); an ``/api`` path
    gets that and the ``/api`` envelope's ``success``/``message`` too, for scripts reading either."""

    def prepare(self) -> None:
        msg = self.tr(f"Invalid URL ({self.request.method} {self.request.path})")
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        if self.request.path.startswith("/api"):
            self.finish(json.dumps({"success": False, "message": msg, "error": {
                "message": msg, "type": "invalid_request_error", "param": "", "code": ""}}, ensure_ascii=False))
        else:
            self.finish(json.dumps(NotFound(msg).to_openai(self.request_id), ensure_ascii=False))
