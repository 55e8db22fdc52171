"""``/api/log/*``: list filters, stat, search, self routes, deletion, auth and bad input."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Gateway

USER_TOKEN = "u" * 32
MSG = [{"role": "user", "content": "hi"}]


async def common_user(gw: Gateway) -> int:
    doc = await gw.ctx.users.create("u1", "password1", role=1, quota=10**9, access_token=USER_TOKEN)
    return int(doc["_id"])


def add_log(gw: Gateway, **fields: Any) -> None:
    entry = {"user_id": 1, "username": "root", "created_at": int(time.time()), "type": 4,
             "content": "system note", "token_name": "", "model_name": "", "quota": 0,
             "prompt_tokens": 0, "completion_tokens": 0, "channel_id": 0, "request_id": "",
             "elapsed_time": 0, "is_stream": False}
    entry.update(fields)
    gw.ctx.ledger.add_log(entry)


async def relay(gw: Gateway, key: str, model: str = "gpt-3.5-turbo", n: int = 1) -> None:
    for _ in range(n):
        await gw.client(key).chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]


async def setup_traffic(gw: Gateway) -> dict[str, Any]:
    """Real relayed requests: root with two tokens and two models, u1 with one, on two channels."""
    ch_a = await gw.channel(key="sk-a", models="gpt-3.5-turbo")
    ch_b = await gw.channel(key="sk-b", models="gpt-4o", group="default")
    uid = await common_user(gw)
    k1 = await gw.token(name="alpha")
    k2 = await gw.token(name="beta")
    ku = await gw.token(as_token=USER_TOKEN, name="mine")
    await relay(gw, k1, "gpt-3.5-turbo", 2)
    await relay(gw, k2, "gpt-4o", 1)
    await relay(gw, ku, "gpt-3.5-turbo", 3)
    add_log(gw, type=1, content="topped up 500", quota=500)
    add_log(gw, type=3, content="admin changed quota", quota=0)
    add_log(gw, user_id=uid, username="u1", type=1, content="redeemed a code", quota=700)
    return {"ch_a": ch_a, "ch_b": ch_b, "uid": uid}


# gpt-3.5-turbo: ceil((9 + 12*3) * 0.25) = 12; gpt-4o: ceil((9 + 12*4) * 2.5) = 143
Q35, Q4O = 12, 143


# --------------------------------------------------------------------------- auth

ADMIN_ROUTES = [("GET", "/api/log/"), ("GET", "/api/log/stat"), ("GET", "/api/log/search?keyword=x"),
                ("DELETE", "/api/log/?target_timestamp=100")]
USER_ROUTES = [("GET", "/api/log/self"), ("GET", "/api/log/self/stat"), ("GET", "/api/log/self/search?keyword=2")]


async def test_auth_levels(gw: Gateway) -> None:
    await common_user(gw)
    add_log(gw, created_at=50)
    for method, path in ADMIN_ROUTES + USER_ROUTES:
        code, data = await gw.api(method, path, token=None)
        assert code == 401 and data["success"] is False, path
        code, data = await gw.api(method, path, token="0" * 32)
        assert code == 200 and data["success"] is False, path
    for method, path in ADMIN_ROUTES:
        code, data = await gw.api(method, path, token=USER_TOKEN)
        assert data["success"] is False and "permission" in data["message"], path
    for method, path in USER_ROUTES:
        code, data = await gw.api(method, path, token=USER_TOKEN)
        assert data["success"] is True, path
    await gw.ctx.ledger.flush()
    assert await gw.ctx.db.logs.count_documents({}) == 1  # the refused DELETE deleted nothing


# --------------------------------------------------------------------------- list


async def test_list_filters(gw: Gateway) -> None:
    ids = await setup_traffic(gw)
    logs = await gw.logs()
    assert len(logs) == 9
    assert [entry["id"] for entry in logs] == sorted((entry["id"] for entry in logs), reverse=True)
    consume = await gw.logs(type=2)
    assert len(consume) == 6 and all(entry["type"] == 2 for entry in consume)
    first = consume[-1]
    assert first["username"] == "root" and first["token_name"] == "alpha"
    assert first["channel"] == ids["ch_a"] and first["quota"] == Q35
    assert first["prompt_tokens"] == 9 and first["completion_tokens"] == 12 and first["request_id"]
    assert "key" not in first and "token_id" not in first
    assert len(await gw.logs(type=1)) == 2
    assert len(await gw.logs(model_name="gpt-4o")) == 1
    assert len(await gw.logs(token_name="alpha")) == 2
    assert len(await gw.logs(username="u1")) == 4
    assert len(await gw.logs(username="u1", type=2)) == 3
    assert len(await gw.logs(channel=ids["ch_b"])) == 1
    assert len(await gw.logs(channel=ids["ch_a"], token_name="mine")) == 3
    assert await gw.logs(username="nobody") == []


async def test_time_range_and_pagination(gw: Gateway) -> None:
    for i in range(25):
        add_log(gw, created_at=1000 + i, content=f"entry {i}")
    page0 = await gw.logs(p=0)
    page2 = await gw.logs(p=2)
    assert [e["created_at"] for e in page0] == list(range(1024, 1014, -1))
    assert [e["created_at"] for e in page2] == list(range(1004, 999, -1))
    assert await gw.logs(p=3) == []
    ranged = await gw.logs(start_timestamp=1010, end_timestamp=1012)
    assert [e["created_at"] for e in ranged] == [1012, 1011, 1010]
    assert len(await gw.logs(start_timestamp=1020)) == 5
    assert len(await gw.logs(end_timestamp=1001)) == 2


async def test_self_list_sees_only_own_logs(gw: Gateway) -> None:
    ids = await setup_traffic(gw)
    mine = await gw.ok("GET", "/api/log/self?p=0", token=USER_TOKEN)
    assert len(mine) == 4 and all(e["username"] == "u1" and e["user_id"] == ids["uid"] for e in mine)
    assert all(e["channel"] == 0 for e in mine)  # channel ids are for admins
    # the username and channel filters cannot widen a user's view
    same = await gw.ok("GET", "/api/log/self?username=root&channel=1", token=USER_TOKEN)
    assert len(same) == 4
    assert len(await gw.ok("GET", "/api/log/self?type=2", token=USER_TOKEN)) == 3
    assert len(await gw.ok("GET", "/api/log/self?token_name=mine", token=USER_TOKEN)) == 3
    assert await gw.ok("GET", "/api/log/self?model_name=gpt-4o", token=USER_TOKEN) == []


# --------------------------------------------------------------------------- stat


async def test_stat(gw: Gateway) -> None:
    ids = await setup_traffic(gw)
    stat = await gw.ok("GET", "/api/log/stat")
    assert stat == {"quota": 5 * Q35 + Q4O}  # consumption only
    assert await gw.ok("GET", "/api/log/stat?model_name=gpt-4o") == {"quota": Q4O}
    assert await gw.ok("GET", "/api/log/stat?username=u1") == {"quota": 3 * Q35}
    assert await gw.ok("GET", "/api/log/stat?token_name=alpha") == {"quota": 2 * Q35}
    assert await gw.ok("GET", f"/api/log/stat?channel={ids['ch_b']}") == {"quota": Q4O}
    assert await gw.ok("GET", "/api/log/stat?type=1") == {"quota": 1200}  # topups when asked
    assert await gw.ok("GET", "/api/log/stat?start_timestamp=1&end_timestamp=2") == {"quota": 0}
    assert await gw.ok("GET", "/api/log/self/stat", token=USER_TOKEN) == {"quota": 3 * Q35}
    assert await gw.ok("GET", "/api/log/self/stat?type=1", token=USER_TOKEN) == {"quota": 700}
    assert await gw.ok("GET", "/api/log/self/stat?username=root", token=USER_TOKEN) == {"quota": 3 * Q35}
    assert await gw.ok("GET", "/api/log/self/stat") == {"quota": 2 * Q35 + Q4O}  # root's own


async def test_stat_matches_user_used_quota(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    await relay(gw, key, n=4)
    stat = await gw.ok("GET", "/api/log/stat")
    assert stat["quota"] == (await gw.user())["used_quota"] == 4 * Q35


# --------------------------------------------------------------------------- search


async def test_search(gw: Gateway) -> None:
    await setup_traffic(gw)
    by_type = await gw.ok("GET", "/api/log/search?keyword=2")
    assert len(by_type) == 6 and all(e["type"] == 2 for e in by_type)
    by_prefix = await gw.ok("GET", "/api/log/search?keyword=model%20ratio")
    assert len(by_prefix) == 6
    assert [e["content"] for e in await gw.ok("GET", "/api/log/search?keyword=topped")] == ["topped up 500"]
    assert await gw.ok("GET", "/api/log/search?keyword=up%20500") == []  # a prefix, not a substring
    assert await gw.ok("GET", "/api/log/search?keyword=.*") == []  # regex characters are literal
    assert len(await gw.ok("GET", "/api/log/search?keyword=")) == 9
    # users search their own logs by type only
    mine = await gw.ok("GET", "/api/log/self/search?keyword=1", token=USER_TOKEN)
    assert [e["content"] for e in mine] == ["redeemed a code"]
    assert len(await gw.ok("GET", "/api/log/self/search?keyword=2", token=USER_TOKEN)) == 3
    assert len(await gw.ok("GET", "/api/log/self/search?keyword=", token=USER_TOKEN)) == 4
    # One API compares the type with the keyword: text matches nothing (not an error)
    assert await gw.ok("GET", "/api/log/self/search?keyword=redeemed", token=USER_TOKEN) == []


async def test_search_returns_at_most_100_newest(gw: Gateway) -> None:
    for i in range(105):
        add_log(gw, created_at=5000 + i, content=f"bulk {i}")
    found = await gw.ok("GET", "/api/log/search?keyword=bulk")
    assert len(found) == 100 and found[0]["content"] == "bulk 104" and found[-1]["content"] == "bulk 5"
    assert len(await gw.ok("GET", "/api/log/self/search?keyword=4")) == 100


# --------------------------------------------------------------------------- delete


async def test_delete_older_than(gw: Gateway) -> None:
    for ts in (1000, 2000, 3000, 4000):
        add_log(gw, created_at=ts)
    assert await gw.ok("DELETE", "/api/log/?target_timestamp=2500") == 2
    assert [e["created_at"] for e in await gw.logs()] == [4000, 3000]
    assert await gw.ok("DELETE", "/api/log/?target_timestamp=3000") == 0  # strictly older
    assert await gw.ok("DELETE", "/api/log/?target_timestamp=9999999999") == 2
    assert await gw.logs() == []


async def test_delete_includes_unflushed_logs(gw: Gateway) -> None:
    add_log(gw, created_at=10)
    assert await gw.ok("DELETE", "/api/log/?target_timestamp=20") == 1


# --------------------------------------------------------------------------- bad input


async def test_bad_input(gw: Gateway) -> None:
    await common_user(gw)
    add_log(gw, created_at=100)
    # (One API ignores a p or timestamp that is not a number: tests/test_oneapi_ui_compat.py)
    bad_queries = ["type=abc", "type=9", "type=-1", "start_timestamp=-5",
                   "start_timestamp=200&end_timestamp=100", "channel=one",
                   "channel=-2", "username=" + "x" * 101, "model_name=" + "m" * 201,
                   "token_name=" + "t" * 101, "type=99999999999999999999999"]
    for q in bad_queries:
        for path in ("/api/log/", "/api/log/stat"):
            if q.startswith("p=") and "stat" in path:
                continue  # stat is not paginated
            code, data = await gw.api("GET", f"{path}?{q}")
            assert code == 200 and data["success"] is False and data["message"], (path, q, data)
        for path in ("/api/log/self", "/api/log/self/stat"):
            if q.startswith("p=") and "stat" in path:
                continue  # stat is not paginated
            code, data = await gw.api("GET", f"{path}?{q}", token=USER_TOKEN)
            assert code == 200 and data["success"] is False, (path, q, data)
    for q in ("", "target_timestamp=", "target_timestamp=abc", "target_timestamp=0",
              "target_timestamp=-10", "target_timestamp=1.5", "target_timestamp=99999999999999999999"):
        code, data = await gw.api("DELETE", f"/api/log/?{q}")
        assert code == 200 and data["success"] is False and "target_timestamp" in data["message"], q
    for path in ("/api/log/search?keyword=", "/api/log/self/search?keyword="):
        code, data = await gw.api("GET", path + "k" * 201)
        assert data["success"] is False and "too long" in data["message"]
    for kw in ("-1", "6", "abc", "1.0"):  # no such type: nothing (One API), not an error
        assert await gw.ok("GET", f"/api/log/self/search?keyword={kw}", token=USER_TOKEN) == [], kw
    code, data = await gw.api("POST", "/api/log/", {"x": 1})
    assert code == 405 and data["success"] is False
    assert len(await gw.logs()) == 1
