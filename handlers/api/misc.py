"""``/api/status``, ``/api/option/``, ``/api/log/*``."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING

from models.options import OptionError

from ..base import ApiError, ApiHandler, admin_auth, root_auth, user_auth

PAGE_SIZE = 10
_SECRET_SUFFIXES = ("Token", "Secret", "SecretKey")


class StatusHandler(ApiHandler):
    async def get(self) -> None:
        o = self.ctx.options
        self.ok({
            "version": self.ctx.settings.version,
            "start_time": self.ctx.start_time,
            "system_name": o.get("SystemName"),
            "logo": o.get("Logo"),
            "footer_html": o.get("Footer"),
            "server_address": o.get("ServerAddress"),
            "top_up_link": o.get("TopUpLink"),
            "chat_link": o.get("ChatLink"),
            "quota_per_unit": o.float("QuotaPerUnit"),
            "display_in_currency": o.bool("DisplayInCurrencyEnabled"),
            "email_verification": o.bool("EmailVerificationEnabled"),
            "github_oauth": o.bool("GitHubOAuthEnabled"),
            "github_client_id": o.get("GitHubClientId"),
            "lark_client_id": o.get("LarkClientId"),
            "oidc": o.bool("OidcEnabled"),
            "oidc_client_id": o.get("OidcClientId"),
            "oidc_well_known": o.get("OidcWellKnown"),
            "oidc_authorization_endpoint": o.get("OidcAuthorizationEndpoint"),
            "wechat_login": o.bool("WeChatAuthEnabled"),
            "wechat_qrcode": o.get("WeChatAccountQRCodeImageURL"),
            "turnstile_check": o.bool("TurnstileCheckEnabled"),
            "turnstile_site_key": o.get("TurnstileSiteKey"),
        })


class OptionHandler(ApiHandler):
    @root_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok([{"key": k, "value": v} for k, v in sorted(self.ctx.options.values.items())
                 if not k.endswith(_SECRET_SUFFIXES)])

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
        try:
            await self.ctx.option_store.update(key, value)
        except OptionError as e:
            raise ApiError(str(e)) from None
        self.ok()


def log_query(handler: ApiHandler, *, own_user: int | None) -> dict[str, Any]:
    """One API's log filters: type, start/end timestamps, username, token_name, model_name, channel."""
    q: dict[str, Any] = {}
    a = handler.get_query_argument
    try:
        t = int(a("type", "0") or 0)
        start = int(a("start_timestamp", "0") or 0)
        end = int(a("end_timestamp", "0") or 0)
        channel = int(a("channel", "0") or 0)
    except ValueError:
        raise ApiError("type, start_timestamp, end_timestamp and channel must be integers") from None
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
    elif a("username", ""):
        q["username"] = a("username")
    if a("token_name", ""):
        q["token_name"] = a("token_name")
    if a("model_name", ""):
        q["model_name"] = a("model_name")
    if channel and own_user is None:
        q["channel_id"] = channel
    return q


def log_view(doc: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "created_dt", "channel_id", "token_id")}
    out["id"] = doc["_id"]
    out["channel"] = doc.get("channel_id", 0) if admin else 0
    for k in ("quota", "prompt_tokens", "completion_tokens", "elapsed_time"):
        out[k] = int(out.get(k) or 0)
    for k in ("content", "username", "token_name", "model_name", "request_id"):
        out[k] = out.get(k) or ""
    out["is_stream"] = bool(out.get("is_stream"))
    return out


class LogHandler(ApiHandler):
    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        await self.ctx.ledger.flush()  # show what was just relayed
        q = log_query(self, own_user=None)
        cur = self.ctx.db.logs.find(q).sort([("created_at", DESCENDING), ("_id", DESCENDING)]) \
            .skip(self.page() * PAGE_SIZE).limit(PAGE_SIZE)
        self.ok([log_view(d, admin=True) async for d in cur])

    @admin_auth
    async def delete(self, user: dict[str, Any]) -> None:
        try:
            ts = int(self.get_query_argument("target_timestamp", ""))
        except ValueError:
            raise ApiError("target_timestamp is required (unix seconds)") from None
        res = await self.ctx.db.logs.delete_many({"created_at": {"$lt": ts}})
        self.ok(res.deleted_count)


class SelfLogHandler(ApiHandler):
    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        await self.ctx.ledger.flush()
        q = log_query(self, own_user=int(user["_id"]))
        cur = self.ctx.db.logs.find(q).sort([("created_at", DESCENDING), ("_id", DESCENDING)]) \
            .skip(self.page() * PAGE_SIZE).limit(PAGE_SIZE)
        self.ok([log_view(d, admin=False) async for d in cur])


routes = [
    (r"/api/status", StatusHandler),
    (r"/api/option/?", OptionHandler),
    (r"/api/log/?", LogHandler),
    (r"/api/log/self/?", SelfLogHandler),
]
