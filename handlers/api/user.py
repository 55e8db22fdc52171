"""``/api/user/*``: login, logout, self."""

from __future__ import annotations

import asyncio
from typing import Any

from models.users import STATUS_ENABLED, check_password, hash_password, to_api

from ..base import ApiError, ApiHandler, user_auth


def _str_field(body: dict[str, Any], key: str, *, max_len: int, min_len: int = 0,
               required: bool = False) -> str | None:
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


class LoginHandler(ApiHandler):
    async def post(self) -> None:
        if not self.ctx.options.bool("PasswordLoginEnabled"):
            raise ApiError("Password login is disabled by the administrator")
        body = self.json_body()
        username = _str_field(body, "username", max_len=50, required=True)
        password = _str_field(body, "password", max_len=64, required=True)
        assert username is not None and password is not None
        doc = await self.ctx.users.by_login(username)
        # bcrypt runs in a thread; an unknown user still pays for one check (no timing oracle).
        hashed = (doc or {}).get("password") or self.ctx.dummy_hash
        ok = await asyncio.to_thread(check_password, password, hashed)
        if doc is None or not ok:
            raise ApiError("Wrong username or password, or the user has been banned")
        if int(doc.get("status", 0)) != STATUS_ENABLED:
            raise ApiError("Wrong username or password, or the user has been banned")
        self.issue_session(doc)
        self.ok(to_api(doc))


class LogoutHandler(ApiHandler):
    async def get(self) -> None:
        self.clear_session()
        self.ok()


class SelfHandler(ApiHandler):
    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        data = to_api(user)
        bal = self.ctx.ledger.balance("u", data["id"])
        if bal is not None:
            data["quota"] = bal
        data["access_token"] = ""  # regenerate via /api/user/token to see it
        self.ok(data)

    @user_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        fields: dict[str, Any] = {}
        username = _str_field(body, "username", max_len=12)
        if username and username != user["username"]:
            if await self.ctx.users.by_username(username):
                raise ApiError("That username is already taken")
            fields["username"] = username
        display = _str_field(body, "display_name", max_len=20)
        if display is not None:
            fields["display_name"] = display
        password = _str_field(body, "password", max_len=20, min_len=8)
        if password:
            fields["password"] = await asyncio.to_thread(hash_password, password)
        if fields:
            await self.ctx.users.update(int(user["_id"]), fields)
            if "password" in fields:
                await self.ctx.users.bump_session(int(user["_id"]))
                fresh = await self.ctx.users.get(int(user["_id"]))
                if fresh is not None and self.auth_by_cookie:
                    self.issue_session(fresh)  # this browser stays logged in; others are logged out
            self.ctx.caches.forget_user(int(user["_id"]))
        self.ok()


routes = [
    (r"/api/user/login", LoginHandler),
    (r"/api/user/logout", LogoutHandler),
    (r"/api/user/self", SelfHandler),
]
