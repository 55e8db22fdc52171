"""``/api/status``, ``/api/notice``, ``/api/about``, ``/api/home_page_content``,
``/api/models``, ``/api/option/``, ``/api/log/*``."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any


from adaptors import PROVIDERS
from models.logs import LOG_CONSUME, LOG_ERROR, LOG_TYPES
from models.channels import MASK
from models.users import ROLE_ADMIN
from models.options import OptionError, default_options, is_secret_option, option_type
from services.crypto import PREFIX as ENC_PREFIX

from schemas.common import MAX_ID, PAGE, TS_MAX, keyword
from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import LENIENT_QUERY, ApiError, ApiHandler, admin_auth, not_an_integer, root_auth, user_auth
from .audit import audit

PAGE_SIZE = 10


class StatusHandler(ApiHandler):
    ops = {"GET": Op("Public settings of this server (no authentication)")}

    async def get(self) -> None:
        o = self.ctx.options
        self.ok({
            "version": self.ctx.settings.version,
            "start_time": self.ctx.start_time,
            "system_name": o.get("SystemName"),
            "language": o.get("Language"),
            "logo": o.get("Logo"),
            "footer_html": o.get("Footer"),
            "server_address": o.get("ServerAddress"),
            "top_up_link": o.get("TopUpLink"),
            "chat_link": o.get("ChatLink"),
            "quota_per_unit": o.float("QuotaPerUnit"),
            "display_in_currency": o.bool("DisplayInCurrencyEnabled"),
            "email_verification": o.bool("EmailVerificationEnabled"),
            "register_enabled": o.bool("RegisterEnabled"),
            "password_register": o.bool("RegisterEnabled") and o.bool("PasswordRegisterEnabled"),
            "password_login": o.bool("PasswordLoginEnabled"),
            "github_oauth": o.bool("GitHubOAuthEnabled"),
            "github_client_id": o.get("GitHubClientId"),
            "lark_client_id": o.get("LarkClientId"),
            "oidc": o.bool("OidcEnabled"),
            "oidc_client_id": o.get("OidcClientId"),
            "oidc_well_known": o.get("OidcWellKnown"),
            "oidc_authorization_endpoint": o.get("OidcAuthorizationEndpoint"),
            "oidc_token_endpoint": o.get("OidcTokenEndpoint"),
            "oidc_userinfo_endpoint": o.get("OidcUserinfoEndpoint"),
            "wechat_login": o.bool("WeChatAuthEnabled"),
            "wechat_qrcode": o.get("WeChatAccountQRCodeImageURL"),
            "turnstile_check": o.bool("TurnstileCheckEnabled"),
            "turnstile_site_key": o.get("TurnstileSiteKey"),
            # how this node shares state: "redis" (pub/sub), "database" (change feed), "local"
            "shared_state": self.ctx.events.mode,
            "node_type": self.ctx.settings.node_type,
        })


class OptionHandler(ApiHandler):
    """Secret options (models.options.is_secret_option) are left out of the list, as One API
    does (the console shows them empty, "unchanged"); a PUT of ``"********"`` (the mask channel
    config uses) keeps the stored value, ``""`` clears it. A blank number option is its default."""

    ops = {"GET": Op("All options (secret ones left out)"),
           "PUT": Op("Set one option", body=Shape(
               F("key", required=True, max_len=64), F("value", ("string", "number", "boolean"), required=True,
                                                      max_len=100_000)))}

    @root_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok([{"key": k, "value": v} for k, v in sorted(self.ctx.options.values.items())
                 if not is_secret_option(k)])

    @root_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not key:
            raise ApiError("key is required")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str):
            raise ApiError("value must be a string")
        if not value.strip() and option_type(key) in ("int", "float"):
            # One API stores a blank number and reads it as 0 (strconv's error ignored); here it
            # means the default, stored as such, so the value read back is the one in effect.
            value = default_options()[key]
        if is_secret_option(key) and value == MASK:
            self.ok()  # the masked value sent back: the stored secret stays
            return
        if is_secret_option(key) and ENC_PREFIX in value:
            raise ApiError(f"{key} must not contain {ENC_PREFIX!r} (the prefix of encrypted values)")
        try:
            await self.ctx.option_store.update(key, value)
        except OptionError as e:
            raise ApiError(str(e)) from None
        await audit(self, user, "update", "option", key, [key])
        self.ok()


SEARCH_LIMIT = 100  # One API's MaxRecentItems
LOG_FILTERS = Shape(
    F("type", "integer", min=0, max=max(LOG_TYPES), doc="0 all, 1 topup, 2 consume, 3 manage, 4 system, 5 test, 6 error"),
    F("start_timestamp", "integer", min=0, max=TS_MAX), F("end_timestamp", "integer", min=0, max=TS_MAX),
    F("username", max_len=100), F("token_name", max_len=100), F("model_name", max_len=200),
    F("channel", "integer", min=0, max=MAX_ID),
)
LOG_SORTS = ("created_at", "quota", "elapsed_time", "prompt_tokens", "completion_tokens")
LOG_ORDER = (F("sort", enum=LOG_SORTS, doc="sort column (default created_at)"),
             F("order", enum=("desc", "asc"), doc="sort direction (default desc)"))
LOG_LIST = Shape(PAGE, *LOG_FILTERS.fields, *LOG_ORDER)
SELF_LOG_FILTERS = Shape(*(f for f in LOG_FILTERS.fields if f.name not in ("username", "channel")))
_TS_MAX = 2**40  # unix seconds far beyond any real date; keeps queries in int64
_FILTER_LIMITS = {"username": 100, "token_name": 100, "model_name": 200}


def _query_int(handler: ApiHandler, name: str, *, maximum: int = _TS_MAX) -> int:
    raw = handler.get_query_argument(name, "").strip()
    if not raw:
        return 0
    if name in LENIENT_QUERY and not_an_integer(raw):  # One API: not a number (the console's NaN): no filter
        return 0
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be an integer, got {raw[:40]!r}") from None
    if n < 0 or n > maximum:
        raise ApiError(f"{name} must be between 0 and {maximum}")
    return n


def log_query(handler: ApiHandler, *, own_user: int | None) -> dict[str, Any]:
    """One API's log filters: type, start/end timestamps, username, token_name, model_name,
    channel (the last two per user only for admins). Every value is validated."""
    q: dict[str, Any] = {}
    t = _query_int(handler, "type", maximum=max(LOG_TYPES))
    start = _query_int(handler, "start_timestamp")
    end = _query_int(handler, "end_timestamp")
    channel = _query_int(handler, "channel", maximum=2**62)
    if start and end and end < start:
        raise ApiError("end_timestamp must not be before start_timestamp")
    strings: dict[str, str] = {}
    for name, limit in _FILTER_LIMITS.items():
        v = handler.get_query_argument(name, "").strip()
        if len(v) > limit:
            raise ApiError(f"{name} is too long (at most {limit} characters)")
        strings[name] = v
    if t:
        q["type"] = t
    if start or end:
        q["created_at"] = {}
        if start:
            q["created_at"]["$gte"] = start
        if end:
            q["created_at"]["$lte"] = end
    if own_user is not None:
        q["user_id"] = own_user
    else:
        if strings["username"]:
            q["username"] = contains(strings["username"])
        if channel:
            q["channel_id"] = channel
    if strings["token_name"]:
        q["token_name"] = contains(strings["token_name"])
    if strings["model_name"]:
        q["model_name"] = contains(strings["model_name"])
    return q


def contains(text: str) -> dict[str, str]:
    """A text filter: the value contains the text, ignoring case ("claude" finds
    claude-3-5-sonnet; One API's exact match is a special case of it)."""
    return {"$regex": re.escape(text), "$options": "i"}


async def log_page(handler: ApiHandler, q: dict[str, Any], *, admin: bool) -> None:
    """One page of logs, sorted as asked (newest first by default), with ``total`` (the
    number of matching logs, for a page count) beside ``data``."""
    sort = handler.get_query_argument("sort", "") or "created_at"
    order = -1 if handler.get_query_argument("order", "") != "asc" else 1
    if sort not in LOG_SORTS:
        raise ApiError(f"sort must be one of {', '.join(LOG_SORTS)}")
    logs = handler.ctx.logs
    rows = await logs.page(q, handler.page(), PAGE_SIZE, sort=[(sort, order), ("_id", order)])
    handler.ok([log_view(d, admin=admin) for d in rows], total=await logs.count(q))


def log_view(doc: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "created_dt", "channel_id", "token_id")}
    out["id"] = doc["_id"]
    out["channel"] = doc.get("channel_id", 0) if admin else 0
    for k in ("quota", "prompt_tokens", "completion_tokens", "elapsed_time", "user_id", "created_at",
              "type"):
        out[k] = int(out.get(k) or 0)
    for k in ("content", "username", "token_name", "model_name", "request_id"):
        out[k] = out.get(k) or ""
    out["is_stream"] = bool(out.get("is_stream"))
    out["system_prompt_reset"] = bool(out.get("system_prompt_reset"))
    return out




def _search_keyword(handler: ApiHandler) -> str:
    kw = handler.get_query_argument("keyword", "").strip()
    if len(kw) > 200:
        raise ApiError("keyword is too long (at most 200 characters)")
    return kw


class LogHandler(ApiHandler):
    """``GET /api/log/?p=&filters``: all logs, newest first; ``DELETE ?target_timestamp=``:
    delete the logs older than that time."""

    SUPPORTED_METHODS = ("GET", "DELETE")  # type: ignore[assignment]
    ops = {"GET": Op("All logs, newest first", query=LOG_LIST),
           "DELETE": Op("Delete the logs older than target_timestamp; data = how many", query=Shape(
               F("target_timestamp", "integer", min=1, max=TS_MAX, required=True)))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        await log_page(self, log_query(self, own_user=None), admin=True)

    @admin_auth
    async def delete(self, user: dict[str, Any]) -> None:
        raw = self.get_query_argument("target_timestamp", "").strip()
        try:
            ts = int(raw)
        except ValueError:
            raise ApiError("target_timestamp is required (unix seconds)") from None
        if ts <= 0 or ts > _TS_MAX:
            raise ApiError("target_timestamp must be a positive unix time in seconds")
        self.ok(await self.ctx.logs.delete_before(ts))


class LogStatHandler(ApiHandler):
    """``GET /api/log/stat``: ``{quota}`` consumed, with the same filters as the list."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Quota consumed, with the list's filters", query=LOG_FILTERS)}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        q = log_query(self, own_user=None)
        self.ok({"quota": await self.ctx.logs.sum_quota(q)})


CSV_COLUMNS = ("id", "time", "type", "username", "token_name", "model_name", "channel", "prompt_tokens",
               "completion_tokens", "quota", "elapsed_ms", "is_stream", "status", "error_code", "request_id",
               "content")


def _csv_row(d: dict[str, Any], admin: bool) -> list[Any]:
    created = int(d.get("created_at") or 0)
    return [
        d.get("_id"), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created)) if created else "",
        LOG_TYPES.get(int(d.get("type") or 0), "unknown"), d.get("username") or "", d.get("token_name") or "",
        d.get("model_name") or "", int(d.get("channel_id") or 0) if admin else "", int(d.get("prompt_tokens") or 0),
        int(d.get("completion_tokens") or 0), int(d.get("quota") or 0), int(d.get("elapsed_time") or 0),
        "true" if d.get("is_stream") else "false", d.get("status") or "", d.get("error_code") or "",
        d.get("request_id") or "", _csv_safe(str(d.get("content") or "")),
    ]


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (=, +, -, @ first are quoted with ')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def export_csv(handler: ApiHandler, q: dict[str, Any], *, admin: bool) -> None:
    """The logs matching the list's filters as CSV (UTF-8 with a BOM, times in UTC), streamed in
    batches: any range, in constant memory."""
    handler.set_header("Content-Type", "text/csv; charset=utf-8")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    handler.set_header("Content-Disposition", f'attachment; filename="onerelay-logs-{stamp}.csv"')
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # Excel reads UTF-8 (Chinese names) only with the BOM
    writer.writerow(CSV_COLUMNS)
    n = 0
    async for d in handler.ctx.logs.iterate(q):
        writer.writerow(_csv_row(d, admin))
        n += 1
        if n % 1000 == 0:
            handler.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
            await handler.flush()
    handler.write(buf.getvalue())
    handler.finish()


class LogExportHandler(ApiHandler):
    """``GET /api/log/export`` (admin) and ``/api/log/self/export`` (one's own): CSV of the logs
    matching the list's filters, streamed."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("The logs matching the filters as CSV (streamed)", query=LOG_FILTERS,
                     data={"type": "string", "format": "csv"})}

    def initialize(self, own: bool = False) -> None:  # type: ignore[override]
        super().initialize()
        self.own = own

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        admin = int(user.get("role", 0)) >= ROLE_ADMIN
        if not self.own and not admin:
            raise ApiError("You do not have permission for this operation")
        q = log_query(self, own_user=int(user["_id"]) if self.own else None)
        await export_csv(self, q, admin=admin and not self.own)


class ErrorStatHandler(ApiHandler):
    """``GET /api/log/error_stat?days=7``: requests and failed requests per channel and per
    model over the last days (consume logs and error logs; a request that failed before a
    channel was chosen counts under channel 0). With LogConsumeEnabled off only errors count."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Error rate per channel and per model", query=Shape(
        F("days", "integer", min=1, max=90, doc="how far back (default 7)")))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        days = int(self.arg("days", 7))
        since = int(time.time()) - days * 86_400
        match = {"$match": {"created_at": {"$gte": since}, "type": {"$in": [LOG_CONSUME, LOG_ERROR]}}}
        counts = {"requests": {"$sum": 1},
                  "errors": {"$sum": {"$cond": [{"$eq": ["$type", LOG_ERROR]}, 1, 0]}}}
        out: dict[str, Any] = {"days": days}
        for key, field in (("channels", "channel_id"), ("models", "model_name")):
            rows = await self.ctx.logs.aggregate([match, {"$group": {"_id": f"${field}", **counts}},
                                                  {"$sort": {"errors": -1, "requests": -1}}, {"$limit": 200}])
            out[key] = [{field: r["_id"] if r["_id"] is not None else (0 if field == "channel_id" else ""),
                         "requests": int(r["requests"]), "errors": int(r["errors"]),
                         "error_rate": round(r["errors"] / r["requests"], 4) if r["requests"] else 0.0}
                        for r in rows]
        ids = [r["channel_id"] for r in out["channels"] if r["channel_id"]]
        names = {int(c["_id"]): str(c.get("name") or "") for c in await self.ctx.channels.find({"_id": {"$in": ids}})}
        for row in out["channels"]:
            row["channel_name"] = names.get(row["channel_id"], "")
        self.ok(out)


class LogSearchHandler(ApiHandler):
    """``GET /api/log/search?keyword=``: the type equals the keyword or the content starts
    with it; the newest 100."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Search logs", query=keyword(200))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        kw = _search_keyword(self)
        q: dict[str, Any] = {}
        if kw:
            ors: list[dict[str, Any]] = [{"content": {"$regex": "^" + re.escape(kw)}}]
            if kw.isdigit() and len(kw) < 3:
                ors.append({"type": int(kw)})
            q = {"$or": ors}
        self.ok([log_view(d, admin=True) for d in await self.ctx.logs.newest(q, SEARCH_LIMIT)])


class SelfLogHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("One's logs, newest first", query=Shape(PAGE, *SELF_LOG_FILTERS.fields, *LOG_ORDER))}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        await log_page(self, log_query(self, own_user=int(user["_id"])), admin=False)


class SelfLogStatHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Quota one consumed", query=SELF_LOG_FILTERS)}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        q = log_query(self, own_user=int(user["_id"]))
        self.ok({"quota": await self.ctx.logs.sum_quota(q)})


class SelfLogSearchHandler(ApiHandler):
    """``GET /api/log/self/search?keyword=``: own logs whose type equals the keyword
    (One API); an empty keyword lists the newest 100; any other text matches nothing (``[]``)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("One's logs of a type", query=keyword(200))}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        kw = _search_keyword(self)
        q: dict[str, Any] = {"user_id": int(user["_id"])}
        if kw:
            if not kw.isdigit() or int(kw) not in LOG_TYPES:
                self.ok([])  # One API compares the type with the keyword: text matches nothing
                return
            q["type"] = int(kw)
        self.ok([log_view(d, admin=False) for d in await self.ctx.logs.newest(q, SEARCH_LIMIT)])


class OptionStringHandler(ApiHandler):
    """``/api/notice``, ``/api/about``, ``/api/home_page_content``: one option string (public)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("An option string (public)", data={"type": "string"})}

    def initialize(self, option: str = "") -> None:  # type: ignore[override]
        self.option = option

    async def get(self) -> None:
        self.ok(self.ctx.options.get(self.option))


class ModelsByTypeHandler(ApiHandler):
    """``GET /api/models``: channel type id → its built-in model list (One API's dashboard map)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Channel type id to its built-in models")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok({str(t): list(s.models) if s.supported else [] for t, s in sorted(PROVIDERS.items())})


routes = [
    (r"/api/status", StatusHandler),
    (r"/api/notice", OptionStringHandler, {"option": "Notice"}),
    (r"/api/about", OptionStringHandler, {"option": "About"}),
    (r"/api/home_page_content", OptionStringHandler, {"option": "HomePageContent"}),
    (r"/api/models", ModelsByTypeHandler),
    (r"/api/option/?", OptionHandler),
    (r"/api/log/?", LogHandler),
    (r"/api/log/stat", LogStatHandler),
    (r"/api/log/error_stat", ErrorStatHandler),
    (r"/api/log/export/?", LogExportHandler),
    (r"/api/log/self/export/?", LogExportHandler, {"own": True}),
    (r"/api/log/search", LogSearchHandler),
    (r"/api/log/self/?", SelfLogHandler),
    (r"/api/log/self/stat", SelfLogStatHandler),
    (r"/api/log/self/search", SelfLogSearchHandler),
]
