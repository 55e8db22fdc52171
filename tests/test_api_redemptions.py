"""``/api/redemption/*`` (admin) and redeeming with ``POST /api/user/topup``: CRUD, auth levels,
bad inputs, and the single-use property under 20 concurrent redeem calls."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.conftest import ACCESS_TOKEN, Gateway

ADMIN_TOKEN = "a" * 32
USER_TOKEN = "c" * 32


async def mkuser(gw: Gateway, name: str, *, role: int = 1, quota: int = 0, access_token: str | None = None) -> int:
    doc = await gw.ctx.users.create(name, "password123", role=role, quota=quota, access_token=access_token)
    return int(doc["_id"])


async def fail(gw: Gateway, method: str, path: str, body: Any = None, *, token: str | None = ACCESS_TOKEN,
               contains: str = "") -> str:
    code, data = await gw.api(method, path, body, token=token)
    assert code == 200 and data["success"] is False, (method, path, code, data)
    assert contains.lower() in data["message"].lower(), (contains, data["message"])
    return str(data["message"])


async def create(gw: Gateway, name: str = "promo", quota: int = 1000, count: int = 1,
                 token: str = ACCESS_TOKEN) -> list[str]:
    keys = await gw.ok("POST", "/api/redemption/", {"name": name, "quota": quota, "count": count}, token=token)
    assert isinstance(keys, list)
    return keys  # type: ignore[no-any-return]


async def by_key(gw: Gateway, key: str) -> dict[str, Any]:
    rows = await gw.ok("GET", "/api/redemption/?p=0")
    return next(r for r in rows if r["key"] == key)


@pytest.fixture
async def common(gw: Gateway) -> int:
    return await mkuser(gw, "alice", quota=100, access_token=USER_TOKEN)


# -- auth ------------------------------------------------------------------------------------
ROUTES = [("GET", "/api/redemption/", None), ("GET", "/api/redemption/search?keyword=x", None),
          ("GET", "/api/redemption/1", None), ("POST", "/api/redemption/", {"name": "x", "quota": 1, "count": 1}),
          ("PUT", "/api/redemption/", {"id": 1, "name": "y"}), ("DELETE", "/api/redemption/1", None)]


async def test_auth_levels(gw: Gateway, common: int) -> None:
    await mkuser(gw, "adm", role=10, access_token=ADMIN_TOKEN)
    for method, path, body in ROUTES:
        code, data = await gw.api(method, path, body, token=None)
        assert code == 401 and data["success"] is False
        await fail(gw, method, path, body, token=USER_TOKEN, contains="permission")
    assert await gw.ctx.db.redemptions.count_documents({}) == 0
    # admins and root (access tokens) manage codes
    keys = await create(gw, token=ADMIN_TOKEN)
    assert (await gw.ok("GET", "/api/redemption/", token=ACCESS_TOKEN))[0]["key"] == keys[0]
    code, data = await gw.api("POST", "/api/user/topup", {"key": keys[0]}, token=None)
    assert code == 401


# -- create / list / get / search ------------------------------------------------------------
async def test_create_returns_keys(gw: Gateway) -> None:
    keys = await create(gw, "batch", 2500, 100)
    assert len(keys) == 100 and len(set(keys)) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)
    docs = [d async for d in gw.ctx.db.redemptions.find({})]
    assert {d["key"] for d in docs} == set(keys)
    assert all(d["quota"] == 2500 and d["status"] == 1 and d["name"] == "batch" and d["user_id"] == 1
               for d in docs)
    assert sorted(d["_id"] for d in docs) == list(range(1, 101))
    # count defaults to 1
    one = await gw.ok("POST", "/api/redemption/", {"name": "single", "quota": 1})
    assert len(one) == 1


@pytest.mark.parametrize("body,message", [
    ({"quota": 100, "count": 1}, "name is required"),
    ({"name": "", "quota": 100, "count": 1}, "name must be 1-20"),
    ({"name": "   ", "quota": 100, "count": 1}, "name must be 1-20"),
    ({"name": "n" * 21, "quota": 100, "count": 1}, "name must be 1-20"),
    ({"name": 5, "quota": 100, "count": 1}, "name is required and must be a string"),
    ({"name": "x", "count": 1}, "quota is required"),
    ({"name": "x", "quota": 0, "count": 1}, "quota must be between 1"),
    ({"name": "x", "quota": -3, "count": 1}, "quota must be between 1"),
    ({"name": "x", "quota": "100", "count": 1}, "quota must be an integer"),
    ({"name": "x", "quota": 10**19, "count": 1}, "quota must be between 1"),
    ({"name": "x", "quota": 100, "count": 0}, "count must be between 1 and 100"),
    ({"name": "x", "quota": 100, "count": 101}, "count must be between 1 and 100"),
    ({"name": "x", "quota": 100, "count": 2.5}, "count must be an integer"),
    ({"name": "x", "quota": 100, "count": True}, "count must be an integer"),
])
async def test_create_bad_inputs(gw: Gateway, body: dict[str, Any], message: str) -> None:
    await fail(gw, "POST", "/api/redemption/", body, contains=message)
    assert await gw.ctx.db.redemptions.count_documents({}) == 0


async def test_malformed_json(gw: Gateway) -> None:
    for method in ("POST", "PUT"):
        for raw in (b"{oops", b"[]", b"", b"\xff"):
            code, data = await gw.api(method, "/api/redemption/", raw)
            assert code == 200 and data["success"] is False, data
    code, data = await gw.api("POST", "/api/user/topup", b"{oops", token=ACCESS_TOKEN)
    assert code == 200 and "JSON" in data["message"]


async def test_list_pages_get_and_search(gw: Gateway) -> None:
    await create(gw, "spring", 10, 7)
    await create(gw, "summer", 20, 5)
    first = await gw.ok("GET", "/api/redemption/?p=0")
    second = await gw.ok("GET", "/api/redemption/?p=1")
    assert [r["id"] for r in first] == list(range(12, 2, -1)) and [r["id"] for r in second] == [2, 1]
    assert await gw.ok("GET", "/api/redemption/?p=5") == []
    assert await gw.ok("GET", "/api/redemption/?p=x") == await gw.ok("GET", "/api/redemption/?p=0")  # One API
    item = await gw.ok("GET", "/api/redemption/3")
    assert set(item) == {"id", "user_id", "key", "status", "name", "quota", "created_time", "redeemed_time",
                         "used_user_id"}
    assert item["name"] == "spring" and item["quota"] == 10 and item["redeemed_time"] == 0
    assert len(await gw.ok("GET", "/api/redemption/search?keyword=sum")) == 5
    assert len(await gw.ok("GET", "/api/redemption/search?keyword=s")) == 12
    assert [r["id"] for r in await gw.ok("GET", "/api/redemption/search?keyword=9")] == [9]
    assert await gw.ok("GET", "/api/redemption/search?keyword=(") == []
    await fail(gw, "GET", "/api/redemption/search?keyword=" + "k" * 101, contains="too long")
    await fail(gw, "GET", "/api/redemption/999", contains="not found")
    await fail(gw, "GET", "/api/redemption/abc", contains="invalid redemption id")
    await fail(gw, "GET", "/api/redemption/-4", contains="invalid redemption id")


# -- update / delete -------------------------------------------------------------------------
async def test_update_and_status_only(gw: Gateway) -> None:
    await create(gw, "promo", 100)
    out = await gw.ok("PUT", "/api/redemption/", {"id": 1, "name": "renamed", "quota": 300})
    assert out["name"] == "renamed" and out["quota"] == 300 and out["status"] == 1
    # status_only ignores the other fields
    out = await gw.ok("PUT", "/api/redemption/?status_only=1", {"id": 1, "status": 2, "name": "ignored", "quota": 1})
    assert out["status"] == 2 and out["name"] == "renamed" and out["quota"] == 300
    await fail(gw, "PUT", "/api/redemption/?status_only=1", {"id": 1}, contains="status must be 1")
    out = await gw.ok("PUT", "/api/redemption/", {"id": 1, "status": 1})
    assert out["status"] == 1


@pytest.mark.parametrize("query,body,message", [
    ("", {}, "id is required"),
    ("", {"id": "1"}, "id is required"),
    ("", {"id": 77, "name": "x"}, "not found"),
    ("", {"id": 1, "name": ""}, "name must be 1-20"),
    ("", {"id": 1, "name": "n" * 21}, "name must be 1-20"),
    ("", {"id": 1, "quota": 0}, "quota must be between 1"),
    ("", {"id": 1, "quota": "5"}, "quota must be an integer"),
    ("", {"id": 1, "status": 3}, "status 3 (used) is set by redeeming"),
    ("?status_only=1", {"id": 1, "status": "2"}, "status must be 1"),
])
async def test_update_bad_inputs(gw: Gateway, query: str, body: dict[str, Any], message: str) -> None:
    await create(gw, "promo", 100)
    await fail(gw, "PUT", "/api/redemption/" + query, body, contains=message)
    doc = await gw.ctx.db.redemptions.find_one({"_id": 1})
    assert doc is not None and (doc["name"], doc["quota"], doc["status"]) == ("promo", 100, 1)


async def test_used_code_stays_used(gw: Gateway, common: int) -> None:
    [key] = await create(gw, "once", 100)
    await gw.ok("POST", "/api/user/topup", {"key": key}, token=USER_TOKEN)
    await fail(gw, "PUT", "/api/redemption/?status_only=1", {"id": 1, "status": 1}, contains="already been used")
    await fail(gw, "PUT", "/api/redemption/", {"id": 1, "quota": 5000}, contains="already been used")
    assert (await gw.ok("PUT", "/api/redemption/", {"id": 1, "name": "used one"}))["name"] == "used one"
    await fail(gw, "POST", "/api/user/topup", {"key": key}, token=USER_TOKEN, contains="already been used")
    assert (await gw.user(common))["quota"] == 200


async def test_delete(gw: Gateway) -> None:
    [key] = await create(gw)
    await gw.ok("DELETE", "/api/redemption/1")
    assert await gw.ctx.db.redemptions.count_documents({}) == 0
    await fail(gw, "DELETE", "/api/redemption/1", contains="not found")
    await fail(gw, "DELETE", "/api/redemption/zz", contains="invalid redemption id")
    await fail(gw, "POST", "/api/user/topup", {"key": key}, contains="invalid redemption code")


# -- redeeming -------------------------------------------------------------------------------
async def test_redeem_credits_and_logs(gw: Gateway, common: int) -> None:
    await gw.channel()
    await gw.ok("PUT", "/api/user/", {"id": common, "quota": 100000})
    key_sk = await gw.token(as_token=USER_TOKEN, name="k")
    # the balance is cached by the relay before the top-up: the credit must reach it
    await gw.client(key_sk).chat.completions.create(model="gpt-3.5-turbo",
                                                    messages=[{"role": "user", "content": "hi"}])
    before = (await gw.user(common))["quota"]
    [key] = await create(gw, "gift", 250000)
    added = await gw.ok("POST", "/api/user/topup", {"key": "  " + key + "\n"}, token=USER_TOKEN)
    assert added == 250000
    assert (await gw.ok("GET", "/api/user/self", token=USER_TOKEN))["quota"] == before + 250000
    assert (await gw.user(common))["quota"] == before + 250000
    code = await by_key(gw, key)
    assert code["status"] == 3 and code["used_user_id"] == common and code["redeemed_time"] > 0
    logs = [l for l in await gw.ok("GET", "/api/log/self", token=USER_TOKEN) if l["type"] == 1]
    assert len(logs) == 1 and logs[0]["quota"] == 250000 and "$0.500000" in logs[0]["content"]
    # with currency display off the log speaks in quota points
    await gw.ok("PUT", "/api/option/", {"key": "DisplayInCurrencyEnabled", "value": "false"})
    [key2] = await create(gw, "gift2", 7)
    await gw.ok("POST", "/api/user/topup", {"key": key2}, token=USER_TOKEN)
    logs = [l for l in await gw.ok("GET", "/api/log/self", token=USER_TOKEN) if l["type"] == 1]
    assert "7 quota points" in logs[0]["content"]


@pytest.mark.parametrize("body,message", [
    ({}, "key is required"),
    ({"key": ""}, "key is required"),
    ({"key": 12345}, "key is required"),
    ({"key": "0" * 32}, "invalid redemption code"),
    ({"key": "k" * 65}, "invalid redemption code"),
    ({"key": {"$ne": ""}}, "key is required"),
])
async def test_redeem_bad_inputs(gw: Gateway, common: int, body: dict[str, Any], message: str) -> None:
    await create(gw)
    await fail(gw, "POST", "/api/user/topup", body, token=USER_TOKEN, contains=message)
    assert (await gw.user(common))["quota"] == 100


async def test_disabled_code_cannot_be_redeemed(gw: Gateway, common: int) -> None:
    [key] = await create(gw)
    await gw.ok("PUT", "/api/redemption/?status_only=1", {"id": 1, "status": 2})
    await fail(gw, "POST", "/api/user/topup", {"key": key}, token=USER_TOKEN, contains="disabled")
    await gw.ok("PUT", "/api/redemption/?status_only=1", {"id": 1, "status": 1})
    assert await gw.ok("POST", "/api/user/topup", {"key": key}, token=USER_TOKEN) == 1000


async def test_twenty_concurrent_redeems_credit_once(gw: Gateway, common: int) -> None:
    others = [await mkuser(gw, f"u{i}", access_token=f"{i:032x}") for i in range(1, 5)]
    [key] = await create(gw, "race", 5000)
    tokens = [USER_TOKEN] * 16 + [f"{i:032x}" for i in range(1, 5)]
    # open 20 keep-alive connections first so the 20 redeem calls really overlap
    await asyncio.gather(*(gw.ok("GET", "/api/user/self", token=t) for t in tokens))
    results = await asyncio.gather(*(gw.api("POST", "/api/user/topup", {"key": key}, token=t) for t in tokens))
    wins = [(t, d) for t, (code, d) in zip(tokens, results) if d["success"]]
    assert len(wins) == 1 and wins[0][1]["data"] == 5000
    assert all(code == 200 for code, _ in results)
    assert all("already been used" in d["message"] for _, d in results if not d["success"])
    totals = {uid: (await gw.user(uid))["quota"] for uid in [common, *others]}
    assert sum(totals.values()) == 100 + 5000
    code = await by_key(gw, key)
    winner = common if wins[0][0] == USER_TOKEN else others[int(wins[0][0], 16) - 1]
    assert code["status"] == 3 and code["used_user_id"] == winner and totals[winner] == 5000 + (100 if winner == common else 0)
    assert len(await gw.logs(type=1)) == 1


async def test_twenty_codes_redeemed_concurrently_all_count(gw: Gateway, common: int) -> None:
    keys = await create(gw, "many", 10, 20)
    results = await asyncio.gather(*(gw.ok("POST", "/api/user/topup", {"key": k}, token=USER_TOKEN) for k in keys))
    assert results == [10] * 20
    assert (await gw.user(common))["quota"] == 100 + 200
