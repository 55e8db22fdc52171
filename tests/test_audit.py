"""The audit log: admin changes to channels, users, tokens, redemption codes and options, and
top-ups, recorded with who/what/when and the changed field names, never secret values;
``GET /api/audit/`` is root's only."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ACCESS_TOKEN, Gateway

ADMIN_TOKEN = "a" * 32
USER_TOKEN = "u" * 32
SECRETS = ("sk-AUDIT-SECRET", "AUDIT-SK-VALUE", "hunter2-password", "smtp-secret-value", "new-password-9")


async def audit(gw: Gateway, query: str = "", token: str = ACCESS_TOKEN) -> list[dict[str, Any]]:
    return await gw.ok("GET", "/api/audit/?size=100" + query, token=token)  # type: ignore[no-any-return]


def one(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


async def test_admin_changes_are_audited_without_secrets(gw: Gateway) -> None:
    await gw.ctx.users.create("admin1", "password1", role=10, quota=10**9, access_token=ADMIN_TOKEN)
    # channels (by an admin): create, update, status change, delete
    cid = int((await gw.ok("POST", "/api/channel/", {
        "name": "c", "type": 33, "key": "sk-AUDIT-SECRET", "models": "m",
        "config": json.dumps({"region": "r", "sk": "AUDIT-SK-VALUE"})}, token=ADMIN_TOKEN))["id"])
    await gw.ok("PUT", "/api/channel/", {"id": cid, "key": "sk-AUDIT-SECRET", "config": {"sk": "AUDIT-SK-VALUE"},
                                         "priority": 2}, token=ADMIN_TOKEN)
    await gw.ok("PUT", "/api/channel/", {"id": cid, "status": 2}, token=ADMIN_TOKEN)
    await gw.ok("DELETE", f"/api/channel/{cid}", token=ADMIN_TOKEN)
    # options (root)
    await gw.ok("PUT", "/api/option/", {"key": "SMTPToken", "value": "smtp-secret-value"})
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    # users: create, update (password, quota), manage, top-up, delete
    await gw.ok("POST", "/api/user/", {"username": "bob", "password": "hunter2-password", "display_name": "Bob"})
    bob = next(u for u in await gw.ok("GET", "/api/user/?p=0") if u["username"] == "bob")
    await gw.ok("PUT", "/api/user/", {"id": bob["id"], "username": "bob", "password": "new-password-9",
                                      "quota": 12345})
    await gw.ok("POST", "/api/user/manage", {"username": "bob", "action": "disable"})
    await gw.ok("POST", "/api/topup", {"user_id": bob["id"], "quota": 500, "remark": "gift"})
    await gw.ok("DELETE", f"/api/user/{bob['id']}")
    # tokens: create, update, status, delete
    tok = await gw.ok("POST", "/api/token/", {"name": "t", "unlimited_quota": True, "expired_time": -1})
    await gw.ok("PUT", "/api/token/", {"id": tok["id"], "name": "t2", "unlimited_quota": True, "expired_time": -1})
    await gw.ok("PUT", "/api/token/?status_only=1", {"id": tok["id"], "status": 2})
    await gw.ok("DELETE", f"/api/token/{tok['id']}")
    # redemption codes: create, update, delete
    keys = await gw.ok("POST", "/api/redemption/", {"name": "r", "quota": 100, "count": 2})
    rows = await gw.ok("GET", "/api/redemption/?p=0")
    rid = rows[0]["id"]
    await gw.ok("PUT", "/api/redemption/", {"id": rid, "name": "r2", "quota": 200})
    await gw.ok("DELETE", f"/api/redemption/{rid}")

    rows = await audit(gw)
    text = json.dumps(rows)
    for s in (*SECRETS, *keys, tok["key"]):
        assert s not in text, s
    for r in rows:
        assert r["created_at"] > 0 and r["id"]

    c = one(rows, entity="channel", action="create")
    assert (c["user_id"], c["username"], c["entity_id"]) == (2, "admin1", cid)
    assert "key" in c["fields"] and "config" in c["fields"]
    u = one(rows, entity="channel", action="update")
    assert set(u["fields"]) == {"key", "config", "priority"}
    s = one(rows, entity="channel", action="status")
    assert s["fields"] == ["status"] and s["detail"] == {"status": 2}
    one(rows, entity="channel", action="delete", entity_id=cid)

    o = one(rows, entity="option", entity_id="SMTPToken")
    assert (o["user_id"], o["username"], o["fields"]) == (1, "root", ["SMTPToken"])
    one(rows, entity="option", entity_id="RetryTimes")

    one(rows, entity="user", action="create", entity_id=bob["id"])
    up = one(rows, entity="user", action="update", entity_id=bob["id"])
    assert {"password", "quota"} <= set(up["fields"]) and up["detail"].get("quota") == 12345
    m = one(rows, entity="user", action="manage")
    assert m["detail"]["op"] == "disable" and m["detail"]["status"] == 2
    t = one(rows, entity="user", action="topup")
    assert t["detail"] == {"quota": 500}
    one(rows, entity="user", action="delete", entity_id=bob["id"])

    for action in ("create", "update", "status", "delete"):
        one(rows, entity="token", action=action, entity_id=tok["id"])
    rc = one(rows, entity="redemption", action="create")
    assert rc["detail"]["count"] == 2 and rc["detail"]["quota"] == 100
    one(rows, entity="redemption", action="update", entity_id=rid)
    one(rows, entity="redemption", action="delete", entity_id=rid)

    # newest first, filters
    assert rows[0]["entity"] == "redemption" and rows[0]["action"] == "delete"
    only = await audit(gw, f"&entity=channel&entity_id={cid}")
    assert {r["action"] for r in only} == {"create", "update", "status", "delete"}
    assert all(r["user_id"] == 2 for r in await audit(gw, "&user_id=2"))
    assert [r["action"] for r in await audit(gw, "&entity=user&action=topup")] == ["topup"]
    page = await gw.ok("GET", "/api/audit/?p=0&size=3")
    assert len(page) == 3


async def test_audit_is_root_only(gw: Gateway) -> None:
    await gw.ctx.users.create("admin1", "password1", role=10, quota=10**9, access_token=ADMIN_TOKEN)
    await gw.ctx.users.create("u1", "password1", role=1, quota=10**9, access_token=USER_TOKEN)
    for token in (ADMIN_TOKEN, USER_TOKEN):
        code, data = await gw.api("GET", "/api/audit/", token=token)
        assert not (isinstance(data, dict) and data.get("success")), data
    code, data = await gw.api("GET", "/api/audit/", token=None)
    assert code == 401
    code, data = await gw.api("GET", "/api/audit/?entity=nope")
    assert not data["success"] and "entity must be" in data["message"]
    # nothing audited for reads, or for a failed change
    await gw.ok("GET", "/api/channel/?p=0")
    await gw.api("PUT", "/api/channel/", {"id": 999, "name": "x"})
    assert await audit(gw) == []
