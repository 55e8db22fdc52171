"""``/api/token/*``: a user's own API keys (One API contract)."""

from __future__ import annotations

import re
import time
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from models.tokens import (
    TOKEN_DISABLED, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, parse_subnets, to_api,
)

from services.limits import LimitError, parse_limits
from schemas.common import MAX_QUOTA, PAGE, STATUS_ONLY, TS_MAX, ident, keyword
from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import ApiError, ApiHandler, as_int, user_auth
from .audit import audit

PAGE_SIZE = 10
_ORDERS = {"remain_quota": "remain_quota", "used_quota": "used_quota"}


TOKEN_FIELDS = (
    F("name", max_len=30, doc="At most 30 characters"),
    F("remain_quota", "integer", min=0, max=MAX_QUOTA, doc="Quota left (null: 0 when creating, unchanged when updating)"),
    F("unlimited_quota", "boolean"),
    F("expired_time", "integer", min=-1, max=TS_MAX, doc="Unix seconds, or -1 (never)"),
    F("models", max_len=20000, doc="Comma-separated models this key may use (empty: all)"),
    F("subnet", max_len=2000, doc="Comma-separated CIDRs the key may be used from (empty: any)"),
    F("limits", "object", doc='RPM/TPM and periodic quotas, e.g. {"rpm": 60, "daily": 500000, '
                              '"models": {"gpt-4o": {"rpm": 5}}} (README "Limits")'),
    F("billing_mode", enum=("ratio", "per_call"), doc="ratio: tokens x ratios; per_call: ModelPrice per request"),
    F("group", max_len=64, doc='The group this key uses ("": its owner\'s; else one of GET /api/user/groups)'),
)
KEY_SUFFIX = re.compile(r"^[A-Za-z0-9_]{4,32}$")
TOKEN_BODY = Shape(*TOKEN_FIELDS, F("key_suffix", max_len=32, doc=(
    "A suffix of your choice for the new key (4-32 letters, digits or _; unique): the key is 16 random "
    "characters followed by it")))
# One API's console saves the whole token back, with the status it was shown (3 expired,
# 4 exhausted) and its remain_quota (below 0 once overdrawn): both pass when unchanged.
TOKEN_UPDATE = Shape(
    ident(), F("status", "integer", enum=(TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED),
               doc="1 enabled, 2 disabled; 3 expired and 4 exhausted only as the token's current status"),
    *(F("remain_quota", "integer", min=-MAX_QUOTA, max=MAX_QUOTA,
        doc="Quota left (unchanged when null or equal to the current value; at least 0 when changed)")
      if f.name == "remain_quota" else f for f in TOKEN_FIELDS))


def _int(body: dict[str, Any], key: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
    v = body.get(key)
    if v is None:
        v = default
    if v is None:
        return None
    v = as_int(v, key)
    if minimum is not None and v < minimum:
        raise ApiError(f"{key} must be at least {minimum}")
    return v


def validate_token_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in body or creating:
        name = body.get("name", "")
        if not isinstance(name, str):
            raise ApiError("name must be a string")
        if len(name) > 30:
            raise ApiError("The token name is too long (at most 30 characters)")
        out["name"] = name
    if "remain_quota" in body or creating:
        out["remain_quota"] = _int(body, "remain_quota", 0, minimum=0)
    if "unlimited_quota" in body or creating:
        u = body.get("unlimited_quota", False)
        if not isinstance(u, bool):
            raise ApiError("unlimited_quota must be a boolean")
        out["unlimited_quota"] = u
    if "expired_time" in body or creating:
        exp = _int(body, "expired_time", -1)
        if exp is not None and exp != -1 and exp < 0:
            raise ApiError("expired_time must be a unix timestamp or -1 (never)")
        out["expired_time"] = exp
    for key in ("models", "subnet"):
        if key in body or creating:
            v = body.get(key) or ""
            if not isinstance(v, str):
                raise ApiError(f"{key} must be a comma-separated string")
            if key == "subnet":
                try:
                    parse_subnets(v)
                except ValueError as e:
                    raise ApiError(str(e)) from None
            out[key] = ",".join(p.strip() for p in v.split(",") if p.strip())
    if body.get("limits") is not None:
        try:
            out["limits"] = parse_limits(body["limits"])
        except LimitError as e:
            raise ApiError(str(e)) from None
    if body.get("billing_mode") is not None:
        if body["billing_mode"] not in ("ratio", "per_call"):
            raise ApiError('billing_mode must be "ratio" or "per_call"')
        out["billing_mode"] = body["billing_mode"]
    if body.get("group") is not None:
        if not isinstance(body["group"], str) or len(body["group"]) > 64:
            raise ApiError("group must be a group name")
        out["group"] = body["group"].strip()
    return out


def usable_groups(ctx: Any, user: dict[str, Any]) -> dict[str, str]:
    """The groups a user may pick for a token: their own and the UserUsableGroups option's."""
    own = str(user.get("group") or "default")
    groups = {own: "your group"}
    for g, desc in ctx.options.json("UserUsableGroups").items():
        groups.setdefault(str(g), str(desc))
    return groups


def check_group(ctx: Any, user: dict[str, Any], fields: dict[str, Any]) -> None:
    group = fields.get("group")
    if group and group not in usable_groups(ctx, user):
        raise ApiError(f"You may not use the group {group}: pick one of GET /api/user/groups")


class TokenListHandler(ApiHandler):
    ops = {
        "GET": Op("List one's tokens", query=Shape(PAGE, F("order", enum=("", "remain_quota", "used_quota")),
                                                      F("size", "integer", min=-2**63, max=2**63 - 1,
                                                        doc="Page size (clamped to 1-100)"))),
        "POST": Op("Create a token", body=TOKEN_BODY),
        "PUT": Op("Update a token (status_only=true: the status alone)", query=Shape(STATUS_ONLY), body=TOKEN_UPDATE),
    }

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        p = self.page()
        order = self.get_query_argument("order", "")
        size = max(1, min(100, int(self.arg("size", PAGE_SIZE))))
        sort = [(_ORDERS[order], DESCENDING)] if order in _ORDERS else [("_id", DESCENDING)]
        docs = await self.ctx.tokens.page(int(user["_id"]), p, size, sort)
        self.ok([self.view(d) for d in docs])

    def view(self, doc: dict[str, Any]) -> dict[str, Any]:
        data = to_api(doc)
        data["remain_quota"] -= self.ctx.ledger.unrecorded("t", data["id"])
        if data["status"] == TOKEN_ENABLED:
            if data["expired_time"] != -1 and data["expired_time"] < time.time():
                data["status"] = TOKEN_EXPIRED
            elif not data["unlimited_quota"] and data["remain_quota"] <= 0:
                data["status"] = TOKEN_EXHAUSTED
        return data

    @user_auth
    async def post(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        fields = validate_token_fields(body, creating=True)
        check_group(self.ctx, user, fields)
        suffix = body.get("key_suffix")
        if suffix:
            if not isinstance(suffix, str) or not KEY_SUFFIX.match(suffix):
                raise ApiError("key_suffix must be 4-32 letters, digits or underscores")
            if await self.ctx.tokens.suffix_taken(suffix):
                raise ApiError(f"The key suffix {suffix} is taken: choose another")
            fields["key_suffix"] = suffix
        try:
            doc = await self.ctx.tokens.create(int(user["_id"]), **fields)
        except DuplicateKeyError:
            raise ApiError(f"The key suffix {suffix} is taken: choose another") from None
        await audit(self, user, "create", "token", int(doc["_id"]), fields)
        self.ok(self.view(doc))

    @user_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        tid = body.get("id")
        if not isinstance(tid, int) or isinstance(tid, bool):
            raise ApiError("id is required and must be an integer")
        doc = await self.ctx.tokens.get(tid, int(user["_id"]))
        if doc is None:
            raise ApiError("Token not found")
        status_only = self.get_query_argument("status_only", "") not in ("", "0", "false")
        fields: dict[str, Any] = {}
        shown = self.view(doc)
        if not status_only and body.get("remain_quota") == shown["remain_quota"]:
            body = {k: v for k, v in body.items() if k != "remain_quota"}  # unchanged: no reset
        if body.get("status") in (TOKEN_EXPIRED, TOKEN_EXHAUSTED):
            # derived statuses: accepted as the current one (saved back unchanged), never set
            if body["status"] not in (shown["status"], int(doc.get("status") or TOKEN_ENABLED)):
                raise ApiError("status 3 (expired) and 4 (exhausted) are set by OneRelay from the expiry "
                               "and the quota: send 1 (enabled) or 2 (disabled)")
            body = {k: v for k, v in body.items() if k != "status"}
            if status_only:
                self.ok(shown)
                return
        if "status" in body or status_only:
            status = body.get("status")
            if status not in (TOKEN_ENABLED, TOKEN_DISABLED):
                raise ApiError("status must be 1 (enabled) or 2 (disabled)")
            if status == TOKEN_ENABLED:
                view = self.view({**doc, "status": TOKEN_ENABLED})
                if view["status"] == TOKEN_EXPIRED:
                    raise ApiError("The token has expired: change its expiry first")
                if view["status"] == TOKEN_EXHAUSTED:
                    raise ApiError("The token's quota is used up: add quota or make it unlimited first")
            fields["status"] = status
        if not status_only:
            fields.update(validate_token_fields(body, creating=False))
            check_group(self.ctx, user, fields)
        remain = fields.pop("remain_quota", None)
        if remain is not None:  # an absolute balance: holders of leases on it give them back
            await self.ctx.ledger.set_absolute("t", tid, int(remain))
        fresh = await self.ctx.tokens.update(tid, fields) if fields else await self.ctx.tokens.get(tid)
        if fresh is None:
            raise ApiError("Token not found")
        await audit(self, user, "status" if status_only else "update", "token", tid,
                    [*fields, *(["remain_quota"] if remain is not None else [])], status=fields.get("status"))
        self.ok(self.view(fresh))


class UserGroupsHandler(ApiHandler):
    """``GET /api/user/groups``: the groups one may pick for a token ({group: {desc, ratio}})."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("The groups one may use for a token, with their ratios")}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        ratios = self.ctx.options.json("GroupRatio")
        self.ok({g: {"desc": d, "ratio": ratios.get(g, 1)} for g, d in usable_groups(self.ctx, user).items()})


class TokenSearchHandler(TokenListHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Search one's tokens by name prefix", query=keyword(100))}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        keyword = self.get_query_argument("keyword", "")
        if len(keyword) > 100:
            raise ApiError("keyword is too long")
        q: dict[str, Any] = {"user_id": int(user["_id"])}
        if keyword:
            q["name"] = {"$regex": "^" + re.escape(keyword)}
        self.ok([self.view(d) for d in await self.ctx.tokens.search(q)])


class TokenItemHandler(TokenListHandler):
    SUPPORTED_METHODS = ("GET", "DELETE")  # type: ignore[assignment]
    path_params = ("id",)
    ops = {"GET": Op("One token"), "DELETE": Op("Delete a token")}

    @user_auth
    async def get(self, user: dict[str, Any], tid: str) -> None:  # type: ignore[override]
        doc = await self.ctx.tokens.get(self.path_int(tid), int(user["_id"]))
        if doc is None:
            raise ApiError("Token not found")
        self.ok(self.view(doc))

    @user_auth
    async def delete(self, user: dict[str, Any], tid: str) -> None:
        doc = await self.ctx.tokens.get(self.path_int(tid), int(user["_id"]))
        if doc is None:
            raise ApiError("Token not found")
        await self.ctx.tokens.delete(int(doc["_id"]))
        await audit(self, user, "delete", "token", int(doc["_id"]))
        self.ok()


routes = [
    (r"/api/token/?", TokenListHandler),
    (r"/api/token/search", TokenSearchHandler),
    (r"/api/token/([^/]+)", TokenItemHandler),
    (r"/api/user/groups", UserGroupsHandler),
]
