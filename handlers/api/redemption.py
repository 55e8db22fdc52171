"""``/api/redemption/*``: redemption codes (admin). Redeeming is ``POST /api/user/topup``."""

from __future__ import annotations

from typing import Any

from models.redemptions import RED_DISABLED, RED_ENABLED, RED_USED, to_api

from schemas.common import PAGED, STATUS_ONLY, ident, keyword
from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import ApiError, ApiHandler, admin_auth
from .audit import audit
from .user import MAX_QUOTA, _int_field

PAGE_SIZE = 10
MAX_PER_CALL = 100


def _name(body: dict[str, Any], *, required: bool) -> str | None:
    v = body.get("name")
    if v is None and not required:
        return None
    if not isinstance(v, str):
        raise ApiError("name is required and must be a string" if required else "name must be a string")
    v = v.strip()
    if not 1 <= len(v) <= 20:
        raise ApiError("name must be 1-20 characters")
    return v


async def _with_usernames(handler: ApiHandler, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The codes as the API shows them, each with ``used_username``: who redeemed it ("" when
    unused or the user is gone)."""
    ids = sorted({int(d.get("used_user_id") or 0) for d in docs} - {0})
    names: dict[int, str] = {}
    if ids:
        async for u in handler.ctx.users.col.find({"_id": {"$in": ids}}, {"username": 1}):
            names[int(u["_id"])] = str(u.get("username") or "")
    out = []
    for d in docs:
        row = to_api(d)
        row["used_username"] = names.get(row["used_user_id"], "")
        out.append(row)
    return out


def _status(body: dict[str, Any]) -> int:
    st = body.get("status")
    if isinstance(st, bool) or st not in (RED_ENABLED, RED_DISABLED):
        raise ApiError("status must be 1 (enabled) or 2 (disabled)")
    return int(st)


class RedemptionListHandler(ApiHandler):
    """``/api/redemption/``: list (GET), create (POST), update (PUT)."""

    ops = {
        "GET": Op("List redemption codes", query=PAGED),
        "POST": Op("Create codes; data = their keys", body=Shape(
            F("name", required=True, min_len=1, max_len=20, msg="name is required and must be a string"), F("quota", "integer", min=1, max=MAX_QUOTA, required=True),
            F("count", "integer", min=1, max=MAX_PER_CALL))),
        "PUT": Op("Update a code (status_only=true: the status alone)", query=Shape(STATUS_ONLY), body=Shape(
            ident(), F("name", min_len=1, max_len=20), F("quota", "integer", min=1, max=MAX_QUOTA),
            F("status", "integer", enum=(RED_ENABLED, RED_DISABLED, RED_USED),
              msg="status must be 1 (enabled) or 2 (disabled)",
              doc="1 enabled, 2 disabled; 3 (used) only as the code's current status, sent back unchanged"))),
    }

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok(await _with_usernames(self, await self.ctx.redemptions.page(self.page(), PAGE_SIZE)))

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """Create ``count`` codes (1-100) of ``quota`` each; data = their keys."""
        body = self.json_body()
        name = _name(body, required=True)
        quota = _int_field(body, "quota", minimum=1, maximum=MAX_QUOTA, required=True)
        count = _int_field(body, "count", minimum=1, maximum=MAX_PER_CALL)
        assert name is not None and quota is not None
        docs = await self.ctx.redemptions.create_many(int(user["_id"]), name, quota, count or 1)
        await audit(self, user, "create", "redemption", int(docs[0]["_id"]), ["name", "quota"], quota=quota,
                    count=len(docs), ids=[int(d["_id"]) for d in docs] if len(docs) > 1 else None)
        self.ok([d["key"] for d in docs])

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        """Update name/quota/status; ``?status_only=1`` changes the status alone.

        A redeemed code stays redeemed: its status and quota cannot change. One API's console
        saves the whole code back, so a status or quota equal to the current one is no change
        (a used code saved back with status 3 keeps its new name); status 3 is set by redeeming.
        """
        body = self.json_body()
        rid = body.get("id")
        if isinstance(rid, bool) or not isinstance(rid, int) or rid <= 0:
            raise ApiError("id is required and must be a positive integer")
        doc = await self.ctx.redemptions.get(rid)
        if doc is None:
            raise ApiError(f"Redemption code {rid} not found")
        status_only = self.get_query_argument("status_only", "") not in ("", "0", "false")
        fields: dict[str, Any] = {}
        if status_only or "status" in body:
            current = int(doc.get("status") or RED_ENABLED)
            if body.get("status") == RED_USED and current != RED_USED:
                raise ApiError("status 3 (used) is set by redeeming the code: send 1 (enabled) or 2 (disabled)")
            if body.get("status") != current or isinstance(body.get("status"), bool):
                fields["status"] = _status(body)
        if not status_only:
            name = _name(body, required=False)
            if name is not None:
                fields["name"] = name
            quota = _int_field(body, "quota", minimum=1, maximum=MAX_QUOTA)
            if quota is not None and quota != int(doc.get("quota") or 0):
                fields["quota"] = quota
        if set(fields) - {"name"}:  # status or quota: only while unused, atomically
            if not await self.ctx.redemptions.update_unused(rid, fields):
                raise ApiError("This redemption code has already been used: "
                               "its status and quota can no longer change")
        elif fields:
            await self.ctx.redemptions.update(rid, fields)
        fresh = await self.ctx.redemptions.get(rid)
        if fresh is None:
            raise ApiError(f"Redemption code {rid} not found")
        await audit(self, user, "status" if status_only else "update", "redemption", rid, fields,
                    status=fields.get("status"), quota=fields.get("quota"))
        self.ok(to_api(fresh))


class RedemptionSearchHandler(ApiHandler):
    ops = {"GET": Op("Search codes", query=keyword(100))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        keyword = self.get_query_argument("keyword", "").strip()
        if len(keyword) > 100:
            raise ApiError("keyword is too long (at most 100 characters)")
        self.ok(await _with_usernames(self, await self.ctx.redemptions.search(keyword)))


class RedemptionItemHandler(ApiHandler):
    path_params = ("id",)
    ops = {"GET": Op("One code"), "DELETE": Op("Delete a code")}

    @admin_auth
    async def get(self, user: dict[str, Any], rid: str) -> None:
        doc = await self.ctx.redemptions.get(self.path_int(rid, "redemption id"))
        if doc is None:
            raise ApiError(f"Redemption code {rid} not found")
        self.ok(to_api(doc))

    @admin_auth
    async def delete(self, user: dict[str, Any], rid: str) -> None:
        red_id = self.path_int(rid, "redemption id")
        if not await self.ctx.redemptions.delete(red_id):
            raise ApiError(f"Redemption code {rid} not found")
        await audit(self, user, "delete", "redemption", red_id)
        self.ok()


routes = [
    (r"/api/redemption/?", RedemptionListHandler),
    (r"/api/redemption/search", RedemptionSearchHandler),
    (r"/api/redemption/([^/]+)", RedemptionItemHandler),
]
