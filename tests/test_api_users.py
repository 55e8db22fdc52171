"""``/api/user/*`` (self and admin), ``/api/topup`` and ``/api/group/``: happy paths, auth levels,
One API's role rules and bad inputs, against a real OneRelay on a real database."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest

from tests.conftest import ACCESS_TOKEN, Gateway

MSG = [{"role": "user", "content": "hi"}]
ADMIN_TOKEN = "a" * 32
USER_TOKEN = "c" * 32


async def mkuser(gw: Gateway, name: str, *, role: int = 1, quota: int = 0,
                 access_token: str | None = None, **extra: Any) -> int:
    doc = await gw.ctx.users.create(name, "password123", role=role, quota=quota,
                                    access_token=access_token, **extra)
    return int(doc["_id"])


async def fail(gw: Gateway, method: str, path: str, body: Any = None, *, token: str | None = ACCESS_TOKEN,
               contains: str = "") -> str:
    """The call answers HTTP 200 {success:false}; returns the message."""
    code, data = await gw.api(method, path, body, token=token)
    assert code == 200 and data["success"] is False, (method, path, code, data)
    assert isinstance(data["message"], str) and data["message"]
    assert contains.lower() in data["message"].lower(), (contains, data["message"])
    return data["message"]


async def login(gw: Gateway, username: str, password: str) -> str:
    """Log in with a password; returns the session cookie header value."""
    resp = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                               body=json.dumps({"username": username, "password": password}))
    assert json.loads(resp.body)["success"], resp.body
    cookie = resp.headers.get_list("Set-Cookie")[0]
    return cookie.split(";", 1)[0]


async def with_cookie(gw: Gateway, cookie: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await gw.api(method, path, body, token=None, headers={"Cookie": cookie})


@pytest.fixture
async def admin(gw: Gateway) -> int:
    return await mkuser(gw, "admin1", role=10, access_token=ADMIN_TOKEN)


@pytest.fixture
async def common(gw: Gateway) -> int:
    return await mkuser(gw, "alice", quota=1000, access_token=USER_TOKEN, email="alice@example.com")


# -- auth levels ------------------------------------------------------------------------------
ADMIN_ROUTES = [
    ("GET", "/api/user/?p=0", None), ("GET", "/api/user/search?keyword=a", None),
    ("GET", "/api/user/1", None), ("POST", "/api/user/", {"username": "x", "password": "12345678"}),
    ("PUT", "/api/user/", {"id": 1}), ("DELETE", "/api/user/1", None),
    ("POST", "/api/user/manage", {"username": "root", "action": "disable"}),
    ("POST", "/api/topup", {"user_id": 1, "quota": 1}), ("GET", "/api/group/", None),
]
USER_ROUTES = [
    ("GET", "/api/user/self", None), ("PUT", "/api/user/self", {}), ("DELETE", "/api/user/self", None),
    ("GET", "/api/user/token", None), ("GET", "/api/user/aff", None),
    ("POST", "/api/user/topup", {"key": "x"}), ("GET", "/api/user/available_models", None),
    ("GET", "/api/user/dashboard", None),
]


async def test_anonymous_gets_401_everywhere(gw: Gateway) -> None:
    for method, path, body in ADMIN_ROUTES + USER_ROUTES:
        code, data = await gw.api(method, path, body, token=None)
        assert code == 401 and data["success"] is False, (method, path, data)
        assert "logged in" in data["message"]


async def test_invalid_access_token_is_refused(gw: Gateway) -> None:
    for method, path, body in ADMIN_ROUTES[:2] + USER_ROUTES[:2]:
        await fail(gw, method, path, body, token="f" * 32, contains="invalid access token")


async def test_common_user_is_refused_admin_routes(gw: Gateway, common: int) -> None:
    for method, path, body in ADMIN_ROUTES:
        await fail(gw, method, path, body, token=USER_TOKEN, contains="permission")
    # ... and nothing changed
    root = await gw.user(1)
    assert root["status"] == 1 and root["quota"] == 500_000_000_000_000


async def test_user_routes_work_for_every_role_with_access_token(gw: Gateway, admin: int, common: int) -> None:
    for tok in (USER_TOKEN, ADMIN_TOKEN, ACCESS_TOKEN):
        me = await gw.ok("GET", "/api/user/self", token=tok)
        assert "password" not in me and me["access_token"] == ""
        assert isinstance(await gw.ok("GET", "/api/user/available_models", token=tok), list)
        assert await gw.ok("GET", "/api/user/dashboard", token=tok) == []
    # admin and root reach the admin routes
    assert len(await gw.ok("GET", "/api/user/", token=ADMIN_TOKEN)) == 3
    assert await gw.ok("GET", "/api/group/", token=ADMIN_TOKEN) == ["default", "svip", "vip"]


async def test_session_cookie_authenticates_admin_routes(gw: Gateway) -> None:
    cookie = await login(gw, "root", "123456")
    code, data = await with_cookie(gw, cookie, "GET", "/api/user/")
    assert code == 200 and data["success"] and data["data"][0]["username"] == "root"


async def test_disabled_users_access_token_is_refused(gw: Gateway, common: int) -> None:
    await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "disable"})
    await fail(gw, "GET", "/api/user/self", token=USER_TOKEN, contains="disabled")


# -- list / search / get ----------------------------------------------------------------------
async def test_list_pages_and_orders(gw: Gateway) -> None:
    for i in range(12):
        await mkuser(gw, f"u{i:02d}", quota=i * 10, used_quota=100 - i, request_count=i % 3)
    first = await gw.ok("GET", "/api/user/?p=0")
    second = await gw.ok("GET", "/api/user/?p=1")
    assert len(first) == 10 and len(second) == 3
    assert [u["id"] for u in first] == list(range(13, 3, -1))  # newest first
    assert {u["id"] for u in first + second} == set(range(1, 14))
    assert all("password" not in u and "access_token" not in u for u in first)
    assert await gw.ok("GET", "/api/user/?p=9") == []
    assert await gw.ok("GET", "/api/user/?p=-1") == first  # clamped like One API
    by_quota = await gw.ok("GET", "/api/user/?order=quota")
    assert by_quota[0]["username"] == "root" and by_quota[1]["username"] == "u11"
    by_used = await gw.ok("GET", "/api/user/?order=used_quota")
    assert [u["username"] for u in by_used[:2]] == ["u00", "u01"]
    by_count = await gw.ok("GET", "/api/user/?order=request_count")
    assert all(u["request_count"] == 2 for u in by_count[:4])
    await fail(gw, "GET", "/api/user/?order=password", contains="order must be one of")
    assert await gw.ok("GET", "/api/user/?p=abc") == await gw.ok("GET", "/api/user/?p=0")  # One API: page 0
    # soft-deleted users leave the list
    await gw.ok("DELETE", "/api/user/13")
    assert 13 not in [u["id"] for u in await gw.ok("GET", "/api/user/?p=0")]


async def test_list_shows_quota_spent_just_now(gw: Gateway, common: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    users = {u["username"]: u for u in await gw.ok("GET", "/api/user/")}
    assert users["alice"]["request_count"] == 1
    assert users["alice"]["used_quota"] == 12 and users["alice"]["quota"] == 1000 - 12


async def test_search(gw: Gateway, common: int) -> None:
    await mkuser(gw, "bob", display_name="Alpha Bob", email="b@corp.io")
    await mkuser(gw, "carol", email="alpha@x.io")
    names = lambda rows: sorted(u["username"] for u in rows)  # noqa: E731
    assert names(await gw.ok("GET", "/api/user/search?keyword=al")) == ["alice", "carol"]  # username/email
    assert names(await gw.ok("GET", "/api/user/search?keyword=Alpha")) == ["bob"]  # display name
    assert names(await gw.ok("GET", "/api/user/search?keyword=b%40corp")) == ["bob"]
    assert names(await gw.ok("GET", f"/api/user/search?keyword={common}")) == ["alice"]  # id
    assert names(await gw.ok("GET", "/api/user/search?keyword=.*")) == []  # no regex injection
    assert len(await gw.ok("GET", "/api/user/search?keyword=")) == 4
    await fail(gw, "GET", "/api/user/search?keyword=" + "x" * 101, contains="too long")
    await gw.ok("POST", "/api/user/manage", {"username": "carol", "action": "delete"})
    assert names(await gw.ok("GET", "/api/user/search?keyword=al")) == ["alice"]


async def test_search_is_capped_at_100(gw: Gateway) -> None:
    await gw.ctx.db.users.insert_many([{"_id": 1000 + i, "username": f"bulk{i}", "status": 1, "role": 1}
                                       for i in range(120)])
    assert len(await gw.ok("GET", "/api/user/search?keyword=bulk")) == 100


async def test_get_user_and_role_rule(gw: Gateway, admin: int, common: int) -> None:
    u = await gw.ok("GET", f"/api/user/{common}")
    assert u["username"] == "alice" and u["quota"] == 1000 and u["email"] == "alice@example.com"
    assert u["group"] == "default" and u["role"] == 1 and len(u["aff_code"]) == 4
    assert "password" not in u and "session_version" not in u
    assert (await gw.ok("GET", f"/api/user/{common}", token=ADMIN_TOKEN))["id"] == common
    await fail(gw, "GET", "/api/user/1", token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "GET", f"/api/user/{admin}", token=ADMIN_TOKEN, contains="equal to or higher")
    assert (await gw.ok("GET", "/api/user/1"))["role"] == 100  # root sees everyone
    await fail(gw, "GET", "/api/user/999", contains="not found")
    await fail(gw, "GET", "/api/user/0", contains="invalid user id")
    await fail(gw, "GET", "/api/user/99999999999999999999999", contains="invalid user id")
    code, data = await gw.api("GET", "/api/user/abc")
    assert code == 404 and data["success"] is False and "Invalid URL" in data["message"]


# -- create ----------------------------------------------------------------------------------
async def test_create_user(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "QuotaForNewUser", "value": "777"})
    created = await gw.ok("POST", "/api/user/", {"username": "newbie", "password": "s3cret-pass",
                                                 "display_name": "New B"})
    assert created["username"] == "newbie" and created["display_name"] == "New B"
    assert created["role"] == 1 and created["status"] == 1 and created["quota"] == 777
    assert "password" not in created
    await login(gw, "newbie", "s3cret-pass")
    # One API: a "default" unlimited token and a system log for the new-user quota
    toks = [t async for t in gw.ctx.db.tokens.find({"user_id": created["id"]})]
    assert [(t["name"], t["unlimited_quota"], t["expired_time"]) for t in toks] == [("default", True, -1)]
    logs = await gw.logs(type=4)
    assert logs[0]["username"] == "newbie" and logs[0]["quota"] == 777
    # display name defaults to the username
    other = await gw.ok("POST", "/api/user/", {"username": "plain", "password": "12345678"})
    assert other["display_name"] == "plain"


async def test_create_user_role_rules(gw: Gateway, admin: int) -> None:
    assert (await gw.ok("POST", "/api/user/", {"username": "adm2", "password": "12345678", "role": 10}))["role"] == 10
    await fail(gw, "POST", "/api/user/", {"username": "adm3", "password": "12345678", "role": 10},
               token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "POST", "/api/user/", {"username": "root2", "password": "12345678", "role": 100},
               contains="equal to or higher")
    assert (await gw.ok("POST", "/api/user/", {"username": "c1", "password": "12345678"},
                        token=ADMIN_TOKEN))["role"] == 1


@pytest.mark.parametrize("body,message", [
    ({"password": "12345678"}, "username is required"),
    ({"username": "", "password": "12345678"}, "username is required"),
    ({"username": "a" * 13, "password": "12345678"}, "username must be at most 12"),
    ({"username": 5, "password": "12345678"}, "username must be a string"),
    ({"username": "a b", "password": "12345678"}, "spaces"),
    ({"username": "ok"}, "password is required"),
    ({"username": "ok", "password": "1234567"}, "password must be 8-20"),
    ({"username": "ok", "password": "1" * 21}, "password must be 8-20"),
    ({"username": "ok", "password": "😀" * 20}, "72 bytes"),
    ({"username": "ok", "password": "12345678", "display_name": "d" * 21}, "display_name must be at most 20"),
    ({"username": "ok", "password": "12345678", "role": 5}, "role must be"),
    ({"username": "ok", "password": "12345678", "role": "10"}, "role must be"),
    ({"username": "root", "password": "12345678"}, "already taken"),
])
async def test_create_user_bad_inputs(gw: Gateway, body: dict[str, Any], message: str) -> None:
    await fail(gw, "POST", "/api/user/", body, contains=message)
    assert await gw.ctx.users.count() == 1


async def test_malformed_json_never_500(gw: Gateway) -> None:
    for method, path in [("POST", "/api/user/"), ("PUT", "/api/user/"), ("POST", "/api/user/manage"),
                         ("POST", "/api/topup"), ("POST", "/api/user/topup"), ("PUT", "/api/user/self")]:
        for raw in ("{not json", "[1, 2]", '"str"', "", "\xff\xfe"):
            code, data = await gw.api(method, path, raw.encode("latin-1"))
            assert code == 200 and data["success"] is False, (method, path, raw, data)
            assert "JSON" in data["message"] or "empty" in data["message"], data


# -- update ----------------------------------------------------------------------------------
async def test_update_user_fields_and_quota_log(gw: Gateway, common: int) -> None:
    await gw.ok("GET", "/api/user/self", token=USER_TOKEN)
    assert await gw.ctx.ledger.ensure("u", common) == 1000  # the balance is cached now
    out = await gw.ok("PUT", "/api/user/", {
        "id": common, "username": "alice2", "display_name": "Alice", "email": "a2@example.com",
        "group": "vip", "quota": 5000, "password": "", "github_id": "ignored",
    })
    assert (out["username"], out["display_name"], out["email"], out["group"], out["quota"]) == \
        ("alice2", "Alice", "a2@example.com", "vip", 5000)
    assert await gw.ctx.ledger.ensure("u", common) == 5000  # the ledger forgot the old balance
    assert (await gw.ok("GET", "/api/user/self", token=USER_TOKEN))["quota"] == 5000
    logs = await gw.logs(type=3)
    assert len(logs) == 1 and logs[0]["username"] == "alice2"
    assert "quota" in logs[0]["content"] and "$0.002000" in logs[0]["content"] and "$0.010000" in logs[0]["content"]
    # the same quota again writes no log
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 5000})
    assert len(await gw.logs(type=3)) == 1
    # quota 0 is a real value (One API skipped zero fields)
    assert (await gw.ok("PUT", "/api/user/", {"id": common, "quota": 0}))["quota"] == 0


async def test_update_quota_is_used_by_the_relay_at_once(gw: Gateway, common: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    c = gw.client(key)
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 0})
    with pytest.raises(openai.PermissionDeniedError):
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 100000})
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert (await gw.user(common))["quota"] == 100000 - 12


async def test_update_group_changes_routing(gw: Gateway, common: int) -> None:
    await gw.channel(group="vip")
    key = await gw.token(as_token=USER_TOKEN, name="k")
    with pytest.raises(openai.APIStatusError):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    await gw.ok("PUT", "/api/user/", {"id": common, "group": "vip"})
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert await gw.ok("GET", "/api/user/available_models", token=USER_TOKEN) == ["gpt-3.5-turbo"]


async def test_update_password_ends_sessions(gw: Gateway, common: int) -> None:
    cookie = await login(gw, "alice", "password123")
    assert (await with_cookie(gw, cookie, "GET", "/api/user/self"))[1]["success"]
    await gw.ok("PUT", "/api/user/", {"id": common, "password": "new-password"})
    code, data = await with_cookie(gw, cookie, "GET", "/api/user/self")
    assert code == 401 and not data["success"]
    await login(gw, "alice", "new-password")


async def test_update_role_rules(gw: Gateway, admin: int, common: int) -> None:
    # admins: not on equal/higher roles, and not raising anyone to their own role
    await fail(gw, "PUT", "/api/user/", {"id": 1, "display_name": "x"}, token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "PUT", "/api/user/", {"id": admin, "quota": 10**9}, token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "PUT", "/api/user/", {"id": common, "role": 10}, token=ADMIN_TOKEN, contains="equal to or higher")
    assert (await gw.ok("PUT", "/api/user/", {"id": common, "quota": 5}, token=ADMIN_TOKEN))["quota"] == 5
    # root: may promote to admin, not to root; its own role and status are fixed
    assert (await gw.ok("PUT", "/api/user/", {"id": common, "role": 10}))["role"] == 10
    await fail(gw, "PUT", "/api/user/", {"id": common, "role": 100}, contains="equal to or higher")
    await fail(gw, "PUT", "/api/user/", {"id": 1, "role": 10}, contains="root user's role")
    await fail(gw, "PUT", "/api/user/", {"id": 1, "status": 2}, contains="root user cannot be disabled")
    assert (await gw.ok("PUT", "/api/user/", {"id": 1, "quota": 42, "role": 100}))["quota"] == 42


async def test_update_status_disables(gw: Gateway, common: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    await gw.ok("PUT", "/api/user/", {"id": common, "status": 2})
    with pytest.raises(openai.PermissionDeniedError):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)


@pytest.mark.parametrize("body,message", [
    ({}, "id is required"),
    ({"id": "2"}, "id is required"),
    ({"id": True}, "id is required"),
    ({"id": 999}, "not found"),
    ({"id": 2, "username": "x" * 13}, "username must be at most 12"),
    ({"id": 2, "username": "root"}, "already taken"),
    ({"id": 2, "display_name": 3}, "display_name must be a string"),
    ({"id": 2, "password": "short"}, "password must be 8-20"),
    ({"id": 2, "email": "not-an-email"}, "email is not a valid"),
    ({"id": 2, "email": "a" * 45 + "@x.com"}, "at most 50"),
    ({"id": 2, "quota": -1}, "quota must be between 0"),
    ({"id": 2, "quota": "100"}, "quota must be an integer"),
    ({"id": 2, "quota": 1.5}, "quota must be an integer"),
    ({"id": 2, "quota": 10**19}, "quota must be between"),
    ({"id": 2, "group": ""}, "group must be"),
    ({"id": 2, "group": "a,b"}, "group must be"),
    ({"id": 2, "group": "g" * 33}, "group must be"),
    ({"id": 2, "role": 7}, "role must be"),
    ({"id": 2, "status": 3}, "status must be 1"),
])
async def test_update_user_bad_inputs(gw: Gateway, common: int, body: dict[str, Any], message: str) -> None:
    await fail(gw, "PUT", "/api/user/", body, contains=message)
    u = await gw.user(common)
    assert u["username"] == "alice" and u["quota"] == 1000


# -- delete ----------------------------------------------------------------------------------
async def test_delete_user_is_soft_and_final(gw: Gateway, common: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    cookie = await login(gw, "alice", "password123")
    await gw.ok("DELETE", f"/api/user/{common}")
    doc = await gw.user(common)
    assert doc["status"] == 3 and doc["username"].startswith("deleted_") and len(doc["username"]) == 40
    with pytest.raises(openai.PermissionDeniedError):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert (await with_cookie(gw, cookie, "GET", "/api/user/self"))[0] == 401
    await fail(gw, "GET", "/api/user/self", token=USER_TOKEN, contains="disabled")
    # the username is free again; a second delete is "not found"
    await gw.ok("POST", "/api/user/", {"username": "alice", "password": "12345678"})
    await fail(gw, "DELETE", f"/api/user/{common}", contains="not found")


async def test_delete_user_rules(gw: Gateway, admin: int, common: int) -> None:
    await fail(gw, "DELETE", "/api/user/1", contains="root user cannot be deleted")
    await fail(gw, "DELETE", "/api/user/1", token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "DELETE", f"/api/user/{admin}", token=ADMIN_TOKEN, contains="equal to or higher")
    await fail(gw, "DELETE", "/api/user/999", contains="not found")
    await fail(gw, "DELETE", "/api/user/0", contains="invalid user id")
    await gw.ok("DELETE", f"/api/user/{common}", token=ADMIN_TOKEN)
    assert (await gw.user(1))["status"] == 1 and (await gw.user(admin))["status"] == 1


# -- manage ----------------------------------------------------------------------------------
async def test_manage_disable_enable(gw: Gateway, common: int) -> None:
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    c = gw.client(key)
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    cookie = await login(gw, "alice", "password123")
    assert await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "disable"}) == \
        {"role": 1, "status": 2}
    with pytest.raises(openai.PermissionDeniedError) as e:
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.code == "user_disabled"
    code, data = await with_cookie(gw, cookie, "GET", "/api/user/self")
    assert not data["success"]
    code, data = await gw.api("POST", "/api/user/login", {"username": "alice", "password": "password123"}, token=None)
    assert not data["success"]
    assert await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "enable"}) == \
        {"role": 1, "status": 1}
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    # the old session stays dead after re-enabling
    assert (await with_cookie(gw, cookie, "GET", "/api/user/self"))[0] == 401


async def test_manage_promote_demote(gw: Gateway, admin: int, common: int) -> None:
    await fail(gw, "POST", "/api/user/manage", {"username": "alice", "action": "promote"}, token=ADMIN_TOKEN,
               contains="only the root user")
    assert await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "promote"}) == \
        {"role": 10, "status": 1}
    await fail(gw, "POST", "/api/user/manage", {"username": "alice", "action": "promote"}, contains="already an admin")
    # alice is an admin now: she reaches admin routes with her access token
    assert await gw.ok("GET", "/api/user/", token=USER_TOKEN)
    # ... and admin1 can no longer act on her
    await fail(gw, "POST", "/api/user/manage", {"username": "alice", "action": "demote"}, token=ADMIN_TOKEN,
               contains="equal to or higher")
    assert await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "demote"}) == \
        {"role": 1, "status": 1}
    await fail(gw, "POST", "/api/user/manage", {"username": "alice", "action": "demote"}, contains="already a common")
    await fail(gw, "GET", "/api/user/", token=USER_TOKEN, contains="permission")


async def test_manage_admin_on_common(gw: Gateway, admin: int, common: int) -> None:
    for action, status in [("disable", 2), ("enable", 1)]:
        assert (await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": action},
                            token=ADMIN_TOKEN))["status"] == status
    assert (await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "delete"},
                        token=ADMIN_TOKEN))["status"] == 3
    assert (await gw.user(common))["username"].startswith("deleted_")


async def test_manage_root_is_protected(gw: Gateway, admin: int) -> None:
    for action in ("disable", "delete", "demote", "promote"):
        await fail(gw, "POST", "/api/user/manage", {"username": "root", "action": action}, token=ADMIN_TOKEN,
                   contains="equal to or higher")
    await fail(gw, "POST", "/api/user/manage", {"username": "root", "action": "disable"}, contains="cannot be disabled")
    await fail(gw, "POST", "/api/user/manage", {"username": "root", "action": "delete"}, contains="cannot be deleted")
    await fail(gw, "POST", "/api/user/manage", {"username": "root", "action": "demote"}, contains="cannot be demoted")
    await fail(gw, "POST", "/api/user/manage", {"username": "root", "action": "promote"}, contains="already an admin")
    await fail(gw, "POST", "/api/user/manage", {"username": "admin1", "action": "disable"}, token=ADMIN_TOKEN,
               contains="equal to or higher")  # not even oneself
    root = await gw.user(1)
    assert root["status"] == 1 and root["role"] == 100


@pytest.mark.parametrize("body,message", [
    ({"action": "disable"}, "username is required"),
    ({"username": 3, "action": "disable"}, "username is required"),
    ({"username": "alice"}, "action must be one of"),
    ({"username": "alice", "action": "ban"}, "action must be one of"),
    ({"username": "nobody", "action": "disable"}, "user not found"),
])
async def test_manage_bad_inputs(gw: Gateway, common: int, body: dict[str, Any], message: str) -> None:
    await fail(gw, "POST", "/api/user/manage", body, contains=message)
    assert (await gw.user(common))["status"] == 1


async def test_manage_deleted_user_cannot_be_revived(gw: Gateway, common: int) -> None:
    await gw.ok("POST", "/api/user/manage", {"username": "alice", "action": "delete"})
    deleted = (await gw.user(common))["username"]
    await fail(gw, "POST", "/api/user/manage", {"username": deleted, "action": "enable"}, contains="not found")


# -- self routes -----------------------------------------------------------------------------
async def test_regenerate_access_token(gw: Gateway, common: int) -> None:
    new = await gw.ok("GET", "/api/user/token", token=USER_TOKEN)
    assert isinstance(new, str) and len(new) == 32 and new != USER_TOKEN
    int(new, 16)
    await fail(gw, "GET", "/api/user/self", token=USER_TOKEN, contains="invalid access token")
    assert (await gw.ok("GET", "/api/user/self", token="Bearer " + new))["username"] == "alice"
    # by cookie too
    cookie = await login(gw, "alice", "password123")
    code, data = await with_cookie(gw, cookie, "GET", "/api/user/token")
    assert data["success"] and data["data"] != new


async def test_aff_code_created_when_missing(gw: Gateway, common: int) -> None:
    code = await gw.ok("GET", "/api/user/aff", token=USER_TOKEN)
    assert code == (await gw.user(common))["aff_code"] and len(code) == 4
    await gw.ctx.db.users.update_one({"_id": common}, {"$unset": {"aff_code": ""}})
    fresh = await gw.ok("GET", "/api/user/aff", token=USER_TOKEN)
    assert len(fresh) == 4 and (await gw.user(common))["aff_code"] == fresh
    assert await gw.ok("GET", "/api/user/aff", token=USER_TOKEN) == fresh  # stable


async def test_available_models(gw: Gateway, common: int) -> None:
    await gw.channel(models="gpt-4o,gpt-3.5-turbo")
    await gw.channel(models="claude-x", group="vip")
    await gw.channel(models="disabled-model", status=2)
    assert await gw.ok("GET", "/api/user/available_models", token=USER_TOKEN) == ["gpt-3.5-turbo", "gpt-4o"]


async def test_update_self(gw: Gateway, common: int) -> None:
    await gw.ok("PUT", "/api/user/self", {"display_name": "Al", "username": "ally"}, token=USER_TOKEN)
    me = await gw.ok("GET", "/api/user/self", token=USER_TOKEN)
    assert me["display_name"] == "Al" and me["username"] == "ally"
    # fields one may not set on oneself are ignored
    await gw.ok("PUT", "/api/user/self", {"quota": 10**9, "role": 100, "group": "svip"}, token=USER_TOKEN)
    doc = await gw.user(common)
    assert doc["quota"] == 1000 and doc["role"] == 1 and doc["group"] == "default"
    for body, message in [
        ({"username": "u" * 13}, "username must be at most 12"),
        ({"username": "root"}, "already taken"),
        ({"username": ["x"]}, "username must be a string"),
        ({"display_name": "d" * 21}, "display_name must be at most 20"),
        ({"password": "short"}, "password must be 8-20"),
        ({"password": "p" * 21}, "password must be 8-20"),
        ({"password": 12345678}, "password must be a string"),
    ]:
        await fail(gw, "PUT", "/api/user/self", body, token=USER_TOKEN, contains=message)
    assert (await gw.user(common))["username"] == "ally"


async def test_update_self_password_keeps_this_session(gw: Gateway, common: int) -> None:
    cookie = await login(gw, "alice", "password123")
    other = await login(gw, "alice", "password123")
    resp = await gw.http.fetch(gw.url + "/api/user/self", method="PUT", headers={"Cookie": cookie},
                               body=json.dumps({"password": "brand-new-pw"}), raise_error=False)
    assert json.loads(resp.body)["success"]
    renewed = resp.headers.get_list("Set-Cookie")[0].split(";", 1)[0]
    assert (await with_cookie(gw, renewed, "GET", "/api/user/self"))[1]["success"]
    assert (await with_cookie(gw, other, "GET", "/api/user/self"))[0] == 401
    await login(gw, "alice", "brand-new-pw")


async def test_delete_self(gw: Gateway, common: int) -> None:
    await fail(gw, "DELETE", "/api/user/self", contains="root user cannot be deleted")
    cookie = await login(gw, "alice", "password123")
    code, data = await with_cookie(gw, cookie, "DELETE", "/api/user/self")
    assert data["success"]
    doc = await gw.user(common)
    assert doc["status"] == 3 and doc["username"].startswith("deleted_")
    assert (await with_cookie(gw, cookie, "GET", "/api/user/self"))[0] == 401
    code, data = await gw.api("POST", "/api/user/login", {"username": "alice", "password": "password123"}, token=None)
    assert not data["success"]


# -- dashboard -------------------------------------------------------------------------------
async def test_dashboard_groups_by_day_and_model(gw: Gateway, common: int) -> None:
    await gw.channel(models="gpt-3.5-turbo,gpt-4o")
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 10**7})
    key = await gw.token(as_token=USER_TOKEN, name="k")
    c = gw.client(key)
    for model in ("gpt-3.5-turbo", "gpt-3.5-turbo", "gpt-4o"):
        await c.chat.completions.create(model=model, messages=MSG)
    stream = await c.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                             stream_options={"include_usage": True})
    async for _ in stream:
        pass
    # root's own traffic stays out of alice's dashboard
    await gw.client(await gw.token()).chat.completions.create(model="gpt-4o", messages=MSG)
    await gw.ctx.ledger.flush()
    # older rows: yesterday (counted), 8 days ago (too old), and a non-consume log (ignored)
    now = int(time.time())
    day = now // 86400 * 86400
    base = {"user_id": common, "type": 2, "prompt_tokens": 1, "completion_tokens": 1, "quota": 5,
            "username": "alice", "token_name": "k"}
    await gw.ctx.db.logs.insert_many([
        {**base, "_id": 9001, "created_at": day - 3600, "model_name": "gpt-4o"},
        {**base, "_id": 9002, "created_at": day - 8 * 86400, "model_name": "gpt-4o"},
        {**base, "_id": 9003, "created_at": now, "model_name": "gpt-4o", "type": 1},
    ])
    rows = await gw.ok("GET", "/api/user/dashboard", token=USER_TOKEN)
    today = time.strftime("%Y-%m-%d", time.gmtime(day))
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(day - 86400))
    assert [(r["Day"], r["ModelName"], r["RequestCount"]) for r in rows] == [
        (yesterday, "gpt-4o", 1), (today, "gpt-3.5-turbo", 2), (today, "gpt-4o", 2)]
    assert set(rows[0]) == {"Day", "ModelName", "RequestCount", "Quota", "PromptTokens", "CompletionTokens"}
    logs = [l for l in await gw.ok("GET", "/api/log/self", token=USER_TOKEN) if l["type"] == 2]
    gpt35 = [l for l in logs if l["model_name"] == "gpt-3.5-turbo"]
    assert rows[1]["Quota"] == sum(l["quota"] for l in gpt35) == 24
    assert rows[1]["PromptTokens"] == sum(l["prompt_tokens"] for l in gpt35)
    assert rows[1]["CompletionTokens"] == sum(l["completion_tokens"] for l in gpt35) == 24
    assert rows[0]["Quota"] == 5
    # root sees only root's
    root_rows = await gw.ok("GET", "/api/user/dashboard")
    assert [(r["ModelName"], r["RequestCount"]) for r in root_rows] == [("gpt-4o", 1)]


# -- admin top-up and groups -----------------------------------------------------------------
async def test_admin_topup(gw: Gateway, admin: int, common: int) -> None:
    assert await gw.ctx.ledger.ensure("u", common) == 1000
    await gw.ok("POST", "/api/topup", {"user_id": common, "quota": 500, "remark": "invoice #7"}, token=ADMIN_TOKEN)
    assert (await gw.ok("GET", "/api/user/self", token=USER_TOKEN))["quota"] == 1500
    assert (await gw.user(common))["quota"] == 1500
    await gw.ok("POST", "/api/topup", {"user_id": common, "quota": 250000})
    assert (await gw.user(common))["quota"] == 251500
    logs = await gw.logs(type=1)
    assert [(l["content"], l["quota"], l["username"]) for l in logs] == [
        ("Topped up $0.500000 of quota through the API", 250000, "alice"), ("invoice #7", 500, "alice")]
    own = await gw.ok("GET", "/api/log/self", token=USER_TOKEN)
    assert len([l for l in own if l["type"] == 1]) == 2


@pytest.mark.parametrize("body,message", [
    ({"quota": 5}, "user_id is required"),
    ({"user_id": "2", "quota": 5}, "user_id must be an integer"),
    ({"user_id": 0, "quota": 5}, "user_id must be between 1"),
    ({"user_id": 999, "quota": 5}, "not found"),
    ({"user_id": 2}, "quota is required"),
    ({"user_id": 2, "quota": 0}, "quota must be between 1"),
    ({"user_id": 2, "quota": -5}, "quota must be between 1"),
    ({"user_id": 2, "quota": 10**19}, "quota must be between 1"),
    ({"user_id": 2, "quota": 5, "remark": 7}, "remark must be a string"),
    ({"user_id": 2, "quota": 5, "remark": "r" * 256}, "remark must be at most 255"),
])
async def test_admin_topup_bad_inputs(gw: Gateway, common: int, body: dict[str, Any], message: str) -> None:
    await fail(gw, "POST", "/api/topup", body, contains=message)
    assert (await gw.user(common))["quota"] == 1000
    assert await gw.logs(type=1) == []


async def test_groups_follow_group_ratio(gw: Gateway) -> None:
    assert await gw.ok("GET", "/api/group/") == ["default", "svip", "vip"]
    await gw.ok("PUT", "/api/option/", {"key": "GroupRatio", "value": '{"default": 1, "team-a": 0.5}'})
    assert await gw.ok("GET", "/api/group") == ["default", "team-a"]


async def test_concurrent_admin_changes_keep_a_consistent_quota(gw: Gateway, common: int) -> None:
    """Top-ups racing with relayed spending: every unit is accounted for."""
    await gw.channel()
    key = await gw.token(as_token=USER_TOKEN, name="k")
    c = gw.client(key)
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 100000})
    calls = [c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG) for _ in range(10)]
    tops = [gw.ok("POST", "/api/topup", {"user_id": common, "quota": 1000}) for _ in range(10)]
    await asyncio.gather(*calls, *tops)
    doc = await gw.user(common)
    assert doc["quota"] == 100000 + 10 * 1000 - 10 * 12 and doc["used_quota"] == 120


async def test_default_password_is_flagged_until_changed(gw: Any) -> None:
    """Root starts as root/123456 (One API); the console pushes to change it (issue 14, item 8):
    login and /api/user/self say ``default_password`` until the password changes."""
    code, body = await gw.api("POST", "/api/user/login", {"username": "root", "password": "123456"}, token=None)
    assert body["success"] and body["data"]["default_password"] is True
    assert (await gw.ok("GET", "/api/user/self"))["default_password"] is True
    await gw.ok("PUT", "/api/user/self", {"password": "a-better-secret-1"})
    assert (await gw.ok("GET", "/api/user/self"))["default_password"] is False
    _, body = await gw.api("POST", "/api/user/login", {"username": "root", "password": "a-better-secret-1"}, token=None)
    assert body["data"]["default_password"] is False
