"""``/api/user/*`` and ``/api/topup``: login, logout, self routes, admin user management."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from models.redemptions import RedeemError
from models.users import (
    LIST_ORDERS, ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_DELETED, STATUS_DISABLED,
    DEFAULT_PASSWORD, STATUS_ENABLED, check_password, hash_password, to_api,
)

from schemas.common import PAGED, ident, keyword
from schemas.fields import Field as F
from services.billing import credit_topup, log_quota
from services.limits import LimitError, parse_limits
from services.billing import plans as billing_plans
from schemas.fields import Op, Shape

from .auth import create_account
from ..ratelimit import wait_text
from ..base import ApiError, ApiHandler, admin_auth, as_int, str_field, user_auth
from .audit import audit

if TYPE_CHECKING:
    from services.context import AppContext


class LoginHandler(ApiHandler):
    critical = True
    ops = {"POST": Op("Log in with a password (sets the session cookie); data = the user", body=Shape(
        F("username", required=True, max_len=50, doc="Username or email"), F("password", required=True, max_len=64)))}

    async def post(self) -> None:
        if not self.ctx.options.bool("PasswordLoginEnabled"):
            raise ApiError("Password login is disabled by the administrator")
        body = self.json_body()
        username = str_field(body, "username", max_len=50, required=True)
        password = str_field(body, "password", max_len=64, required=True)
        assert username is not None and password is not None
        doc = await self.ctx.users.by_login(username)
        # Failed logins lock the account and the address with growing delays (handlers/ratelimit.py
        # LoginThrottle); a locked account still lets a correct password in from a clean address.
        throttle = self.ctx.limiter.logins
        account = throttle.account_key(doc, username)
        verdict = await throttle.check(account, self.client_ip)
        if verdict.refused:
            self.set_header("Retry-After", str(verdict.retry_after))
            raise ApiError(verdict.message, status=429)
        # bcrypt runs in a thread; an unknown user still pays for one check (no timing oracle).
        hashed = (doc or {}).get("password") or self.ctx.dummy_hash
        ok = await asyncio.to_thread(check_password, password, hashed)
        if doc is None or not ok or int(doc.get("status", 0)) != STATUS_ENABLED:
            wait = await throttle.failed(account, self.client_ip)
            if wait:
                self.set_header("Retry-After", str(wait))
                raise ApiError("Wrong username or password, or the user has been banned. Too many failed "
                               f"attempts: try again in {wait_text(wait)}")
            raise ApiError("Wrong username or password, or the user has been banned")
        await throttle.succeeded(account)
        weak = password == DEFAULT_PASSWORD  # e.g. an imported One API root still on 123456
        if weak != bool(doc.get("default_password")):
            await self.ctx.users.update(int(doc["_id"]), {"default_password": weak})
            doc["default_password"] = weak
        self.issue_session(doc)
        self.ok(to_api(doc))


class LogoutHandler(ApiHandler):
    ops = {"GET": Op("Log out (clears the session cookie)")}

    async def get(self) -> None:
        self.clear_session()
        self.ok()


# -- field validation (REFERENCE.md §3 limits) ------------------------------------------------
MAX_QUOTA = 10**18  # far below int64: $inc can never overflow
PAGE_SIZE = 10
from models.logs import LOG_CONSUME, LOG_MANAGE, LOG_SYSTEM, LOG_TOPUP  # noqa: E402


def _username(body: dict[str, Any], *, required: bool = False) -> str | None:
    v = str_field(body, "username", max_len=12, required=required)
    if v is not None and (v != v.strip() or any(c.isspace() or ord(c) < 32 for c in v)):
        raise ApiError("username must not contain spaces or control characters")
    return v


def _password(body: dict[str, Any], *, required: bool = False) -> str | None:
    v = str_field(body, "password", max_len=20, min_len=8, required=required)
    if v is not None:
        if "\x00" in v:
            raise ApiError("password must not contain NUL characters")
        if len(v.encode()) > 72:  # bcrypt's limit
            raise ApiError("password is too long (at most 72 bytes in UTF-8)")
    return v


def _email(body: dict[str, Any]) -> str | None:
    v = body.get("email")
    if v is None:
        return None
    if not isinstance(v, str):
        raise ApiError("email must be a string")
    v = v.strip()
    if len(v) > 50:
        raise ApiError("email must be at most 50 characters")
    if v and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise ApiError(f"email is not a valid address: {v!r}")
    return v


def _group(body: dict[str, Any]) -> str | None:
    v = body.get("group")
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ApiError("group must be a non-empty string")
    v = v.strip()
    if len(v) > 32 or "," in v or any(c.isspace() for c in v):
        raise ApiError("group must be one name of at most 32 characters, without spaces or commas")
    return v


def _int_field(body: dict[str, Any], key: str, *, minimum: int, maximum: int = MAX_QUOTA,
               required: bool = False) -> int | None:
    v = body.get(key)
    if v is None:
        if required:
            raise ApiError(f"{key} is required")
        return None
    n = as_int(v, key)
    if n < minimum or n > maximum:
        raise ApiError(f"{key} must be between {minimum} and {maximum}")
    return n


def _role(body: dict[str, Any]) -> int | None:
    v = body.get("role")
    if v is None:
        return None
    if isinstance(v, bool) or v not in (ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT):
        raise ApiError("role must be 1 (common user) or 10 (admin)")
    return int(v)


async def record_log(ctx: "AppContext", user_id: int, username: str, log_type: int, content: str,
                     quota: int = 0) -> None:
    """Write a topup/manage/system log now (shown at once)."""
    await ctx.logs.write_now(log_type, user_id=user_id, username=username, content=content, quota=quota)


def check_can_manage(actor: dict[str, Any], target: dict[str, Any]) -> None:
    """Admins may not act on users of equal or higher role; root may act on anyone."""
    my_role = int(actor.get("role", 0))
    if my_role != ROLE_ROOT and int(target.get("role", 0)) >= my_role:
        raise ApiError("You cannot manage a user whose role is equal to or higher than yours")


async def soft_delete(ctx: "AppContext", uid: int) -> None:
    await ctx.users.soft_delete(uid)  # publishes: every process drops the user and its tokens


# -- self -------------------------------------------------------------------------------------
_USERNAME = F("username", max_len=12, doc="At most 12 characters, no spaces")
_PASSWORD = F("password", max_len=20, min_len=8, doc="8-20 characters")
_DISPLAY = F("display_name", max_len=20)
_ROLE = F("role", "integer", enum=(ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT), doc="1 common user, 10 admin")


class SelfHandler(ApiHandler):
    ops = {"GET": Op("The current user"),
           "PUT": Op("Change one's username, display name or password", body=Shape(_USERNAME, _DISPLAY, _PASSWORD)),
           "DELETE": Op("Delete one's own account")}
    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        data = to_api(user)
        data["quota"] -= self.ctx.ledger.unrecorded("u", data["id"])  # spent here, not yet recorded
        for k in ("used_quota", "request_count"):  # counters of requests not flushed yet
            data[k] += self.ctx.ledger.pending("users", data["id"], k)
        data["access_token"] = ""  # regenerate via /api/user/token to see it
        self.ok(data)

    @user_auth
    async def put(self, user: dict[str, Any]) -> None:
        """Change one's username, display name or password (One API UpdateSelf)."""
        body = self.json_body()
        uid = int(user["_id"])
        fields: dict[str, Any] = {}
        username = _username(body)
        if username and username != user["username"]:
            if await self.ctx.users.by_username(username):
                raise ApiError("That username is already taken")
            fields["username"] = username
        display = str_field(body, "display_name", max_len=20)
        if display is not None:
            fields["display_name"] = display
        password = _password(body)
        if password:
            fields["password"] = await asyncio.to_thread(hash_password, password)
            fields["default_password"] = password == DEFAULT_PASSWORD
        if fields:
            try:
                await self.ctx.users.update(uid, fields)
            except DuplicateKeyError:
                raise ApiError("That username is already taken") from None
            if "password" in fields:
                await self.ctx.users.bump_session(uid)
                fresh = await self.ctx.users.get(uid)
                if fresh is not None and self.auth_by_cookie:
                    self.issue_session(fresh)  # this browser stays logged in; others are logged out
        self.ok()

    @user_auth
    async def delete(self, user: dict[str, Any]) -> None:
        """Soft-delete one's own account (root cannot)."""
        if int(user.get("role", 0)) == ROLE_ROOT:
            raise ApiError("The root user cannot be deleted")
        await soft_delete(self.ctx, int(user["_id"]))
        self.clear_session()
        self.ok()


class AccessTokenHandler(ApiHandler):
    ops = {"GET": Op("Regenerate the system access token; data = the new token")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        """Regenerate the system access token and return it (the old one stops working).
        A GET (One API) that writes: a cookie-authenticated call from another site is refused."""
        self.refuse_cross_site()
        self.ok(await self.ctx.users.regenerate_access_token(int(user["_id"])))


class AffCodeHandler(ApiHandler):
    ops = {"GET": Op("One's invitation code")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok(await self.ctx.users.ensure_aff_code(int(user["_id"])))


class RedeemHandler(ApiHandler):
    ops = {"POST": Op("Redeem a code; data = the quota added", body=Shape(F("key", required=True, max_len=1024, msg="key is required: the redemption code to redeem")))}

    @user_auth
    async def post(self, user: dict[str, Any]) -> None:
        """Redeem a code: single-use even under concurrent calls; data = the quota added."""
        body = self.json_body()
        key = body.get("key")
        if not isinstance(key, str) or not key.strip():
            raise ApiError("key is required: the redemption code to redeem")
        key = key.strip()
        if len(key) > 64:
            raise ApiError("Invalid redemption code")
        uid = int(user["_id"])
        try:
            code = await self.ctx.redemptions.redeem(key, uid)
        except RedeemError as e:
            raise ApiError(str(e)) from None
        quota = int(code.get("quota") or 0)
        credited = await credit_topup(self.ctx, user, quota, f"Redeemed a code for {log_quota(self.ctx, quota)}",
                                      redeemed=True)
        self.ctx.notify_topup(uid, str(user.get("username") or ""), credited, "a redemption code")
        self.ok(credited)


class TopUpPlansHandler(ApiHandler):
    """``GET /api/topup/plans``: what the top-up page shows (services/billing.py)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Top-up plans, the running bonus period and the invite rebate share")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok(billing_plans(self.ctx))


class AvailableModelsHandler(ApiHandler):
    ops = {"GET": Op("The models of one's group")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        """The enabled models of the user's group."""
        self.ok(self.ctx.router.models_for_group(user.get("group") or "default"))


class DashboardHandler(ApiHandler):
    ops = {"GET": Op("One's last 7 days of usage by day and model")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        """The last 7 days (UTC, today included) of one's consume logs by day and model."""
        await self.ctx.ledger.flush()  # the logs of requests just relayed
        today = int(time.time()) // 86400 * 86400
        start, end = today - 6 * 86400, today + 86400 - 1
        pipeline: list[dict[str, Any]] = [
            {"$match": {"user_id": int(user["_id"]), "type": LOG_CONSUME,
                        "created_at": {"$gte": start, "$lte": end}}},
            {"$group": {
                "_id": {
                    "day": {"$dateToString": {"format": "%Y-%m-%d",
                                              "date": {"$toDate": {"$multiply": ["$created_at", 1000]}}}},
                    "model": "$model_name",
                },
                "requests": {"$sum": 1}, "quota": {"$sum": "$quota"},
                "prompt": {"$sum": "$prompt_tokens"}, "completion": {"$sum": "$completion_tokens"},
            }},
            {"$sort": {"_id.day": 1, "_id.model": 1}},
        ]
        rows = []
        for d in await self.ctx.logs.aggregate(pipeline):
            rows.append({
                "Day": d["_id"]["day"], "ModelName": d["_id"].get("model") or "",
                "RequestCount": int(d["requests"]), "Quota": int(d["quota"] or 0),
                "PromptTokens": int(d["prompt"] or 0), "CompletionTokens": int(d["completion"] or 0),
            })
        self.ok(rows)


# -- admin ------------------------------------------------------------------------------------
class UserListHandler(ApiHandler):
    """``/api/user/``: list (GET), create (POST), full update (PUT)."""

    ops = {
        "GET": Op("List users", query=Shape(*PAGED.fields, F("order", enum=("", *LIST_ORDERS)))),
        "POST": Op("Create a user", body=Shape(F("username", required=True, max_len=12), F("password", required=True,
                                                  min_len=8, max_len=20), _DISPLAY, _ROLE)),
        "PUT": Op("Update a user", body=Shape(
            ident(), _USERNAME, _DISPLAY, _PASSWORD, F("email", max_len=50), F("group", max_len=32),
            F("quota", "integer", min=0, max=MAX_QUOTA), _ROLE,
            F("status", "integer", enum=(STATUS_ENABLED, STATUS_DISABLED)),
            F("limits", "object", doc='RPM/TPM and periodic quotas of the user (README "Limits")'))),
    }

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        order = self.get_query_argument("order", "")
        if order and order not in LIST_ORDERS:
            raise ApiError(f"order must be one of {', '.join(LIST_ORDERS)}")
        p = self.page()
        await self.ctx.ledger.flush()  # quotas and counters as of now
        self.ok([{**to_api(d), "created_time": int(d.get("created_time") or 0)} for d in await self.ctx.users.page(p, PAGE_SIZE, order)])

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """Create a user below one's own role; gets QuotaForNewUser and a "default" token."""
        body = self.json_body()
        username = _username(body, required=True)
        password = _password(body, required=True)
        display = str_field(body, "display_name", max_len=20) or username
        role = _role(body)
        role = ROLE_COMMON if role is None else role
        assert username is not None and password is not None
        if role >= int(user.get("role", 0)):
            raise ApiError("You cannot create a user whose role is equal to or higher than yours")
        if await self.ctx.users.by_username(username):
            raise ApiError("That username is already taken")
        try:
            doc = await create_account(self.ctx, username=username, password=password,
                                       display_name=display or username, role=role)
        except DuplicateKeyError:
            raise ApiError("That username is already taken") from None
        await audit(self, user, "create", "user", int(doc["_id"]), ["username", "password", "display_name", "role"], role=role)
        self.ok(to_api(doc))

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        """Full update (One API UpdateUser); a quota change writes a manage log."""
        body = self.json_body()
        uid = body.get("id")
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise ApiError("id is required and must be a positive integer")
        fields: dict[str, Any] = {}
        username = _username(body)
        display = str_field(body, "display_name", max_len=20)
        password = _password(body)
        email = _email(body)
        group = _group(body)
        quota = _int_field(body, "quota", minimum=0)
        role = _role(body)
        status = body.get("status")
        if status is not None and (isinstance(status, bool) or status not in (STATUS_ENABLED, STATUS_DISABLED)):
            raise ApiError("status must be 1 (enabled) or 2 (disabled)")
        target = await self.ctx.users.get(uid)
        if target is None or int(target.get("status", 0)) == STATUS_DELETED:
            raise ApiError(f"User {uid} not found")
        check_can_manage(user, target)
        my_role, target_role = int(user.get("role", 0)), int(target.get("role", 0))
        if role is not None and role != target_role:
            if target_role == ROLE_ROOT:
                raise ApiError("The root user's role cannot be changed")
            if role >= my_role:
                raise ApiError("You cannot raise a user to a role equal to or higher than yours")
            fields["role"] = role
        if status is not None and status != int(target.get("status", 0)):
            if target_role == ROLE_ROOT:
                raise ApiError("The root user cannot be disabled")
            fields["status"] = status
        if username and username != target["username"]:
            if await self.ctx.users.by_username(username):
                raise ApiError("That username is already taken")
            fields["username"] = username
        if display is not None:
            fields["display_name"] = display
        if email is not None:
            fields["email"] = email
        if group is not None:
            fields["group"] = group
        if body.get("limits") is not None:
            try:
                fields["limits"] = parse_limits(body["limits"])
            except LimitError as e:
                raise ApiError(str(e)) from None
        if password:
            fields["password"] = await asyncio.to_thread(hash_password, password)
            fields["default_password"] = password == DEFAULT_PASSWORD
        old_quota: int | None = None
        new_quota: int | None = None
        if quota is not None:
            await self.ctx.ledger.flush()  # pending spend lands before the absolute value is set
            fresh = await self.ctx.users.get(uid)
            old_quota = to_api(fresh or target)["quota"]
            if quota != old_quota:
                new_quota = quota
        if new_quota is not None:  # an absolute balance: holders of leases on it give them back
            await self.ctx.ledger.set_absolute("u", uid, new_quota)
        if fields:
            try:
                await self.ctx.users.update(uid, fields)
            except DuplicateKeyError:
                raise ApiError("That username is already taken") from None
            if "password" in fields or fields.get("status") == STATUS_DISABLED:
                await self.ctx.users.bump_session(uid)
        if new_quota is not None:
            await record_log(
                self.ctx, uid, fields.get("username", target["username"]), LOG_MANAGE,
                f"An admin changed the user's quota from {log_quota(self.ctx, old_quota or 0)} "
                f"to {log_quota(self.ctx, new_quota)}",
            )
        doc = await self.ctx.users.get(uid)
        assert doc is not None
        await audit(self, user, "update", "user", uid, [*fields, *(["quota"] if new_quota is not None else [])],
                    status=fields.get("status"), role=fields.get("role"), quota=new_quota)
        self.ok(to_api(doc))


class UserSearchHandler(ApiHandler):
    ops = {"GET": Op("Search users", query=keyword(100))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        keyword = self.get_query_argument("keyword", "").strip()
        if len(keyword) > 100:
            raise ApiError("keyword is too long (at most 100 characters)")
        await self.ctx.ledger.flush()
        self.ok([{**to_api(d), "created_time": int(d.get("created_time") or 0)} for d in await self.ctx.users.search(keyword)])


class UserItemHandler(ApiHandler):
    path_params = ("id",)
    ops = {"GET": Op("One user"), "DELETE": Op("Delete a user")}

    @admin_auth
    async def get(self, user: dict[str, Any], uid: str) -> None:
        await self.ctx.ledger.flush()
        target = await self.ctx.users.get(self.path_int(uid, "user id"))
        if target is None:
            raise ApiError(f"User {uid} not found")
        check_can_manage(user, target)
        self.ok(to_api(target))

    @admin_auth
    async def delete(self, user: dict[str, Any], uid: str) -> None:
        target = await self.ctx.users.get(self.path_int(uid, "user id"))
        if target is None or int(target.get("status", 0)) == STATUS_DELETED:
            raise ApiError(f"User {uid} not found")
        check_can_manage(user, target)
        if int(target.get("role", 0)) == ROLE_ROOT:
            raise ApiError("The root user cannot be deleted")
        await soft_delete(self.ctx, int(target["_id"]))
        await audit(self, user, "delete", "user", int(target["_id"]))
        self.ok()


class ManageHandler(ApiHandler):
    ACTIONS = ("disable", "enable", "delete", "promote", "demote")
    ops = {"POST": Op("Disable, enable, delete, promote or demote a user by username", body=Shape(
        F("username", required=True, max_len=50, msg="username is required"), F("action", required=True, enum=ACTIONS)))}

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """disable / enable / delete / promote (root only) / demote, by username."""
        body = self.json_body()
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise ApiError("username is required")
        action = body.get("action")
        if action not in self.ACTIONS:
            raise ApiError(f"action must be one of {', '.join(self.ACTIONS)}")
        target = await self.ctx.users.by_username(username)
        if target is None or int(target.get("status", 0)) == STATUS_DELETED:
            raise ApiError("User not found")
        check_can_manage(user, target)
        uid, role = int(target["_id"]), int(target.get("role", 0))
        status = int(target.get("status", 0))
        if action == "disable":
            if role == ROLE_ROOT:
                raise ApiError("The root user cannot be disabled")
            await self.ctx.users.set_status(uid, STATUS_DISABLED)
            status = STATUS_DISABLED
        elif action == "enable":
            await self.ctx.users.set_status(uid, STATUS_ENABLED)
            status = STATUS_ENABLED
        elif action == "delete":
            if role == ROLE_ROOT:
                raise ApiError("The root user cannot be deleted")
            await soft_delete(self.ctx, uid)
            status = STATUS_DELETED
        elif action == "promote":
            if int(user.get("role", 0)) != ROLE_ROOT:
                raise ApiError("Only the root user can promote users to admin")
            if role >= ROLE_ADMIN:
                raise ApiError("This user is already an admin")
            role = ROLE_ADMIN
            await self.ctx.users.update(uid, {"role": role})
        else:  # demote
            if role == ROLE_ROOT:
                raise ApiError("The root user cannot be demoted")
            if role <= ROLE_COMMON:
                raise ApiError("This user is already a common user")
            role = ROLE_COMMON
            await self.ctx.users.update(uid, {"role": role})
        await audit(self, user, "manage", "user", uid, ["role"] if action in ("promote", "demote") else ["status"],
                    op=action, role=role, status=status)
        self.ok({"role": role, "status": status})


class TopUpHandler(ApiHandler):
    ops = {"POST": Op("Add quota to a user", body=Shape(
        ident("user_id"), F("quota", "integer", min=1, max=MAX_QUOTA, required=True), F("remark", max_len=255)))}

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """``/api/topup`` {user_id, quota, remark}: add quota to a user; writes a topup log."""
        body = self.json_body()
        uid = _int_field(body, "user_id", minimum=1, maximum=2**62, required=True)
        quota = _int_field(body, "quota", minimum=1, required=True)
        remark = body.get("remark") or ""
        if not isinstance(remark, str):
            raise ApiError("remark must be a string")
        if len(remark) > 255:
            raise ApiError("remark must be at most 255 characters")
        assert uid is not None and quota is not None
        target = await self.ctx.users.get(uid)
        if target is None or int(target.get("status", 0)) == STATUS_DELETED:
            raise ApiError(f"User {uid} not found")
        await credit_topup(self.ctx, target, quota,
                           remark.strip() or f"Topped up {log_quota(self.ctx, quota)} through the API", redeemed=False)
        await audit(self, user, "topup", "user", uid, ["quota"], quota=quota)
        self.ctx.notify_topup(uid, str(target.get("username") or ""), quota, "added by an administrator")
        self.ok()


routes = [
    (r"/api/user/login", LoginHandler),
    (r"/api/user/logout", LogoutHandler),
    (r"/api/user/self", SelfHandler),
    (r"/api/user/token", AccessTokenHandler),
    (r"/api/user/aff", AffCodeHandler),
    (r"/api/user/topup", RedeemHandler),
    (r"/api/user/available_models", AvailableModelsHandler),
    (r"/api/user/dashboard", DashboardHandler),
    (r"/api/user/search", UserSearchHandler),
    (r"/api/user/manage", ManageHandler),
    (r"/api/user/?", UserListHandler),
    (r"/api/user/(\d+)", UserItemHandler),
    (r"/api/topup/plans/?", TopUpPlansHandler),
    (r"/api/topup", TopUpHandler),
]
