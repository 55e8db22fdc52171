"""``/api/channel/*``: upstream channels (admin). Keys are never returned."""

from __future__ import annotations

import json
import re
from typing import Any

from pymongo import DESCENDING

from adaptors import CHANNEL_TYPE_NAMES
from models.channels import (
    CH_AUTO_DISABLED, CH_ENABLED, CH_MANUALLY_DISABLED, parse_json_object, split_csv, to_api,
)

from ..base import ApiError, ApiHandler, admin_auth
from .token import _int

PAGE_SIZE = 10
_STR_LIMITS = {"name": 100, "base_url": 500, "other": 500, "models": 20000, "group": 1000,
               "system_prompt": 20000}


def validate_channel(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "type" in body or creating:
        t = _int(body, "type", 1)
        if t not in CHANNEL_TYPE_NAMES:
            raise ApiError(f"unknown channel type: {t}")
        out["type"] = t
    if "key" in body or creating:
        key = body.get("key")
        if not isinstance(key, str) or (creating and not key.strip()):
            raise ApiError("key is required")
        if key.strip():
            out["key"] = key.strip()
    for k, limit in _STR_LIMITS.items():
        if k in body:
            v = body[k]
            if v is None:
                v = ""
            if not isinstance(v, str):
                raise ApiError(f"{k} must be a string")
            if len(v) > limit:
                raise ApiError(f"{k} is too long (at most {limit} characters)")
            out[k] = v.strip() if k != "system_prompt" else v
    if "base_url" in out and out["base_url"] and not re.match(r"^https?://", out["base_url"]):
        raise ApiError("base_url must start with http:// or https://")
    if "models" in out:
        out["models"] = ",".join(split_csv(out["models"]))
    if "group" in out:
        out["group"] = ",".join(split_csv(out["group"])) or "default"
    if creating and not out.get("models"):
        raise ApiError("models is required: list the models this channel serves")
    for k in ("model_mapping", "config"):
        if k in body:
            v = body[k]
            if isinstance(v, dict):
                v = json.dumps(v)
            if v is None:
                v = ""
            try:
                parsed = parse_json_object(v, k)
            except ValueError as e:
                raise ApiError(str(e)) from None
            if k == "model_mapping" and not all(isinstance(x, str) for x in parsed.values()):
                raise ApiError("model_mapping values must be model names (strings)")
            out[k] = v
    for k in ("priority", "weight"):
        if k in body:
            out[k] = _int(body, k, 0)
            if k == "weight" and out[k] < 0:
                raise ApiError("weight must not be negative")
    if "status" in body:
        st = body["status"]
        if st not in (CH_ENABLED, CH_MANUALLY_DISABLED, CH_AUTO_DISABLED):
            raise ApiError("status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)")
        out["status"] = st
    if out.get("type") == 3 and creating and not out.get("base_url"):
        raise ApiError("Azure channels need base_url (https://RESOURCE.openai.azure.com)")
    return out


class ChannelListHandler(ApiHandler):
    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        p = self.page()
        cur = self.ctx.db.channels.find({}, {"key": 0}).sort([("_id", DESCENDING)]) \
            .skip(p * PAGE_SIZE).limit(PAGE_SIZE)
        self.ok([to_api(d) async for d in cur])

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """A multi-line ``key`` creates one channel per line (One API), unless
        ``key_mode`` is ``"rotate"``: then one channel rotates over all keys."""
        body = self.json_body()
        fields = validate_channel(body, creating=True)
        keys = [k.strip() for k in fields["key"].splitlines() if k.strip()]
        rotate = body.get("key_mode") == "rotate"
        created = []
        for key in ([fields["key"]] if rotate or len(keys) == 1 else keys):
            doc = await self.ctx.channels.create({**fields, "key": key})
            created.append(int(doc["_id"]))
        await self.ctx.channels_changed()
        self.ok({"ids": created} if len(created) > 1 else {"id": created[0]})

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        cid = body.get("id")
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise ApiError("id is required and must be an integer")
        if await self.ctx.channels.get(cid) is None:
            raise ApiError("Channel not found")
        fields = validate_channel(body, creating=False)
        if "models" in fields and not fields["models"]:
            raise ApiError("models must not be empty")
        doc = await self.ctx.channels.update(cid, fields)
        await self.ctx.channels_changed()
        assert doc is not None
        self.ok(to_api(doc))


class ChannelSearchHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        kw = self.get_query_argument("keyword", "")
        if len(kw) > 100:
            raise ApiError("keyword is too long")
        q: dict[str, Any] = {}
        if kw:
            rx = {"$regex": re.escape(kw), "$options": "i"}
            ors: list[dict[str, Any]] = [{"name": rx}, {"models": rx}, {"group": rx}]
            if kw.isdigit():
                ors.append({"_id": int(kw)})
            q = {"$or": ors}
        cur = self.ctx.db.channels.find(q, {"key": 0}).sort([("_id", DESCENDING)]).limit(100)
        self.ok([to_api(d) async for d in cur])


class ChannelDisabledHandler(ApiHandler):
    SUPPORTED_METHODS = ("DELETE",)  # type: ignore[assignment]

    @admin_auth
    async def delete(self, user: dict[str, Any]) -> None:
        ids = [d["_id"] async for d in self.ctx.db.channels.find(
            {"status": {"$in": [CH_MANUALLY_DISABLED, CH_AUTO_DISABLED]}}, {"_id": 1})]
        for cid in ids:
            await self.ctx.channels.delete(cid)
        await self.ctx.channels_changed()
        self.ok(len(ids))


class ChannelItemHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET", "DELETE")  # type: ignore[assignment]

    @admin_auth
    async def get(self, user: dict[str, Any], cid: str) -> None:
        doc = await self.ctx.channels.get(self.path_int(cid))
        if doc is None:
            raise ApiError("Channel not found")
        self.ok(to_api(doc))

    @admin_auth
    async def delete(self, user: dict[str, Any], cid: str) -> None:
        if not await self.ctx.channels.delete(self.path_int(cid)):
            raise ApiError("Channel not found")
        await self.ctx.channels_changed()
        self.ok()


class ChannelModelsHandler(ApiHandler):
    """All built-in models, OpenAI list format (``/api/channel/models``)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        owners = self.ctx.model_owners()
        self.ok([{"id": m, "object": "model", "created": 1626777600, "owned_by": o}
                 for m, o in sorted(owners.items())])


routes = [
    (r"/api/channel/?", ChannelListHandler),
    (r"/api/channel/search", ChannelSearchHandler),
    (r"/api/channel/models", ChannelModelsHandler),
    (r"/api/channel/disabled", ChannelDisabledHandler),
    (r"/api/channel/([^/]+)", ChannelItemHandler),
]
