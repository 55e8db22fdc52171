"""``/api/channel/*``: CRUD, search, keys never returned, channel tests, balances, auth, bad input."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any, AsyncIterator

import openai
import pytest

from models.channels import CH_AUTO_DISABLED, CH_ENABLED, CH_MANUALLY_DISABLED
from services.context import DEFAULT_TEST_PROMPT
from tests.conftest import Gateway, listen
from tests.fake_balance import BALANCES, HANG_SECONDS, BalanceState, make_balance_app
from tests.fakeupstream import REPLY

SECRET = "sk-TOPSECRET-0123456789"
USER_TOKEN = "u" * 32
MSG = [{"role": "user", "content": "hi"}]


class Balance:
    def __init__(self, state: BalanceState, url: str) -> None:
        self.state = state
        self.url = url


@pytest.fixture(scope="module")
async def balance_server() -> AsyncIterator[Balance]:
    state = BalanceState()
    server, port = listen(make_balance_app(state))
    yield Balance(state, f"http://127.0.0.1:{port}")
    server.stop()


@pytest.fixture
async def bal(balance_server: Balance) -> Balance:
    balance_server.state.reset()
    return balance_server


async def common_user(gw: Gateway) -> None:
    await gw.ctx.users.create("u1", "password1", role=1, quota=10**9, access_token=USER_TOKEN)


async def channel_doc(gw: Gateway, cid: int) -> dict[str, Any]:
    doc = await gw.ctx.db.channels.find_one({"_id": cid})
    assert doc is not None
    return doc


async def set_option(gw: Gateway, key: str, value: str) -> None:
    await gw.ok("PUT", "/api/option/", {"key": key, "value": value})


async def bulk_done(gw: Gateway) -> None:
    await asyncio.wait_for(gw.ctx.channel_checks.wait_idle(), 30)


# --------------------------------------------------------------------------- auth

ROUTES = [
    ("GET", "/api/channel/?p=0", None),
    ("POST", "/api/channel/", {"name": "x", "type": 1, "key": "k", "models": "m"}),
    ("PUT", "/api/channel/", {"id": 1, "name": "x"}),
    ("GET", "/api/channel/search?keyword=x", None),
    ("GET", "/api/channel/models", None),
    ("DELETE", "/api/channel/disabled", None),
    ("GET", "/api/channel/1", None),
    ("DELETE", "/api/channel/1", None),
    ("GET", "/api/channel/test/1", None),
    ("GET", "/api/channel/test?scope=all", None),
    ("GET", "/api/channel/update_balance/1", None),
    ("GET", "/api/channel/update_balance", None),
]


async def test_auth_levels(gw: Gateway) -> None:
    cid = await gw.channel()
    await common_user(gw)
    for method, path, body in ROUTES:
        code, data = await gw.api(method, path, body, token=None)
        assert code == 401 and data["success"] is False, (method, path, code, data)
        code, data = await gw.api(method, path, body, token=USER_TOKEN)
        assert code == 200 and data["success"] is False, (method, path, data)
        assert "permission" in data["message"]
        code, data = await gw.api(method, path, body, token="f" * 32)
        assert code == 200 and data["success"] is False, (method, path, data)
    # nothing changed for the refused calls
    assert (await channel_doc(gw, cid))["name"] == "ch"
    assert await gw.ctx.db.channels.count_documents({}) == 1
    assert gw.upstream.state.requests == []


async def test_admin_access_token_with_bearer(gw: Gateway) -> None:
    await gw.ctx.users.create("adm", "password1", role=10, quota=0, access_token="a" * 32)
    await gw.channel()
    data = await gw.ok("GET", "/api/channel/", token="Bearer " + "a" * 32)
    assert len(data) == 1


# --------------------------------------------------------------------------- CRUD and keys


async def test_key_never_returned(gw: Gateway) -> None:
    created = await gw.ok("POST", "/api/channel/", {
        "name": "secret", "type": 1, "key": SECRET, "base_url": gw.upstream.url, "models": "gpt-3.5-turbo"})
    cid = created["id"]
    bodies = []
    for method, path, body in [
        ("GET", "/api/channel/", None), ("GET", f"/api/channel/{cid}", None),
        ("GET", "/api/channel/search?keyword=secret", None),
        ("GET", f"/api/channel/search?keyword={SECRET}", None),
        ("PUT", "/api/channel/", {"id": cid, "name": "renamed"}),
        ("PUT", "/api/channel/", {"id": cid, "key": SECRET + "\nsk-SECOND-KEY-42"}),
        ("GET", f"/api/channel/test/{cid}", None),
        ("GET", "/api/log/", None),
    ]:
        code, data = await gw.api(method, path, body)
        assert code == 200 and data["success"], (path, data)
        bodies.append(json.dumps(data))
    for text in bodies:
        assert "TOPSECRET" not in text and "SECOND-KEY" not in text
    item = await gw.ok("GET", f"/api/channel/{cid}")
    assert item["key"] == "" and item["name"] == "renamed"
    # searching by the exact key finds the channel (One API) without revealing it
    found = await gw.ok("GET", f"/api/channel/search?keyword={SECRET}")
    assert [c["id"] for c in found] == [cid]
    assert await gw.ok("GET", "/api/channel/search?keyword=sk-TOPSECRET") == []  # no prefix matches
    # any one of a rotating channel's keys (one per line) finds it too
    found = await gw.ok("GET", "/api/channel/search?keyword=sk-SECOND-KEY-42")
    assert [c["id"] for c in found] == [cid] and found[0]["key"] == ""
    assert await gw.ok("GET", "/api/channel/search?keyword=SECOND-KEY") == []


async def test_create_list_get_delete(gw: Gateway) -> None:
    ids = [await gw.channel(name=f"c{i}", key=f"sk-{i}") for i in range(12)]
    page0 = await gw.ok("GET", "/api/channel/?p=0")
    page1 = await gw.ok("GET", "/api/channel/?p=1")
    assert [c["id"] for c in page0] == ids[::-1][:10]
    assert [c["id"] for c in page1] == ids[::-1][10:]
    item = await gw.ok("GET", f"/api/channel/{ids[0]}")
    for field in ("type", "status", "name", "weight", "created_time", "test_time", "response_time",
                  "base_url", "other", "balance", "balance_updated_time", "models", "group",
                  "used_quota", "model_mapping", "priority", "config", "system_prompt"):
        assert field in item
    assert item["status"] == 1 and item["group"] == "default" and item["models"] == "gpt-3.5-turbo"
    await gw.ok("DELETE", f"/api/channel/{ids[0]}")
    code, data = await gw.api("GET", f"/api/channel/{ids[0]}")
    assert data == {"success": False, "message": "Channel not found"}
    code, data = await gw.api("DELETE", f"/api/channel/{ids[0]}")
    assert data["success"] is False
    assert await gw.ctx.db.abilities.count_documents({"channel_id": ids[0]}) == 0


async def test_batch_create_one_channel_per_line_and_rotate(gw: Gateway) -> None:
    data = await gw.ok("POST", "/api/channel/", {"name": "b", "type": 1, "key": "sk-a\nsk-b\n\nsk-c",
                                                 "models": "gpt-3.5-turbo", "base_url": gw.upstream.url})
    assert len(data["ids"]) == 3
    keys = sorted([(await channel_doc(gw, i))["key"] for i in data["ids"]])
    assert keys == ["sk-a", "sk-b", "sk-c"]
    data = await gw.ok("POST", "/api/channel/", {"name": "r", "type": 1, "key": "sk-x\nsk-y",
                                                 "models": "gpt-4o", "key_mode": "rotate",
                                                 "base_url": gw.upstream.url})
    assert (await channel_doc(gw, data["id"]))["key"] == "sk-x\nsk-y"


async def test_put_updates_only_given_fields(gw: Gateway) -> None:
    cid = await gw.channel(name="orig", priority=5, weight=3, models="gpt-3.5-turbo,gpt-4o",
                           model_mapping='{"gpt-4o": "gpt-4o-mini"}', system_prompt="be brief")
    before = await gw.ok("GET", f"/api/channel/{cid}")
    after = await gw.ok("PUT", "/api/channel/", {"id": cid, "name": "new"})
    assert after["name"] == "new"
    for k in ("priority", "weight", "models", "model_mapping", "system_prompt", "base_url", "group", "type"):
        assert after[k] == before[k], k
    # null and an empty key leave fields unchanged (the One API console sends key "")
    after = await gw.ok("PUT", "/api/channel/", {"id": cid, "key": "", "priority": None, "models": None,
                                                 "base_url": None, "model_mapping": None})
    assert after["priority"] == 5 and after["models"] == "gpt-3.5-turbo,gpt-4o"
    assert after["model_mapping"] == '{"gpt-4o": "gpt-4o-mini"}'
    assert (await channel_doc(gw, cid))["key"] == "sk-ok"
    # explicit zero is applied (One API's "non-zero fields" update could not do this)
    after = await gw.ok("PUT", "/api/channel/", {"id": cid, "priority": 0, "weight": 0, "system_prompt": ""})
    assert after["priority"] == 0 and after["weight"] == 0 and after["system_prompt"] == ""
    # the whole object as the console sends it (extra read-only fields are ignored)
    full = {**after, "name": "full", "key": "", "balance": 99, "used_quota": 5, "test_time": 1}
    after = await gw.ok("PUT", "/api/channel/", full)
    assert after["name"] == "full" and after["used_quota"] == 0 and after["balance"] == 0


async def test_put_rebuilds_abilities_and_routing(gw: Gateway) -> None:
    cid = await gw.channel(models="gpt-3.5-turbo")
    key = await gw.token()
    client = gw.client(key)
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(model="gpt-4o", messages=MSG)  # type: ignore[arg-type]
    await gw.ok("PUT", "/api/channel/", {"id": cid, "models": "gpt-4o", "group": "default,vip"})
    rows = [(r["group"], r["model"]) async for r in gw.ctx.db.abilities.find({"channel_id": cid})]
    assert sorted(rows) == [("default", "gpt-4o"), ("vip", "gpt-4o")]
    resp = await client.chat.completions.create(model="gpt-4o", messages=MSG)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == REPLY
    # a new key is used at once
    await gw.ok("PUT", "/api/channel/", {"id": cid, "key": "sk-rotated"})
    await client.chat.completions.create(model="gpt-4o", messages=MSG)  # type: ignore[arg-type]
    assert gw.upstream.state.keys()[-1] == "sk-rotated"
    # manual disable removes it from routing
    await gw.ok("PUT", "/api/channel/", {"id": cid, "status": 2})
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.create(model="gpt-4o", messages=MSG)  # type: ignore[arg-type]
    assert e.value.status_code == 503
    assert await gw.ctx.db.abilities.count_documents({"channel_id": cid, "enabled": True}) == 0


async def test_inline_priority_and_weight_updates(gw: Gateway) -> None:
    """The console's list edits priority and weight in place: PUT {id, priority} / {id, weight}."""
    low = await gw.channel(key="sk-low")
    high = await gw.channel(key="sk-high")
    key = await gw.token()
    out = await gw.ok("PUT", "/api/channel/", {"id": high, "priority": 10})
    assert out["priority"] == 10
    assert gw.ctx.router.get(high).priority == 10  # type: ignore[union-attr]
    ab = await gw.ctx.db.abilities.find_one({"channel_id": high})
    assert ab is not None and ab["priority"] == 10
    for _ in range(5):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # type: ignore[arg-type]
    assert set(gw.upstream.state.keys()) == {"sk-high"}
    out = await gw.ok("PUT", "/api/channel/", {"id": low, "weight": 7})
    assert out["weight"] == 7 and out["priority"] == 0
    assert gw.ctx.router.get(low).weight == 7  # type: ignore[union-attr]
    out = await gw.ok("PUT", "/api/channel/", {"id": high, "priority": -3})
    assert out["priority"] == -3
    gw.upstream.state.reset()
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # type: ignore[arg-type]
    assert gw.upstream.state.keys() == ["sk-low"]


async def test_delete_disabled(gw: Gateway) -> None:
    keep = await gw.channel(key="sk-keep")
    manual = await gw.channel(key="sk-manual", status=2)
    auto = await gw.channel(key="sk-auto")
    await gw.ctx.channels.set_status(auto, CH_AUTO_DISABLED)
    assert await gw.ok("DELETE", "/api/channel/disabled") == 2
    left = [c["id"] for c in await gw.ok("GET", "/api/channel/")]
    assert left == [keep]
    assert await gw.ctx.db.abilities.count_documents({"channel_id": {"$in": [manual, auto]}}) == 0
    assert await gw.ok("DELETE", "/api/channel/disabled") == 0


async def test_search(gw: Gateway) -> None:
    a = await gw.channel(name="Alpha OpenAI", models="gpt-4o,gpt-4o-mini")
    b = await gw.channel(name="beta", models="claude-3-5-sonnet-20241022", group="vip")
    found = await gw.ok("GET", "/api/channel/search?keyword=alpha")
    assert [c["id"] for c in found] == [a]
    assert [c["id"] for c in await gw.ok("GET", "/api/channel/search?keyword=claude")] == [b]
    assert [c["id"] for c in await gw.ok("GET", "/api/channel/search?keyword=vip")] == [b]
    assert [c["id"] for c in await gw.ok("GET", f"/api/channel/search?keyword={b}")] == [b]
    assert [c["id"] for c in await gw.ok("GET", "/api/channel/search?keyword=")] == [b, a]
    assert await gw.ok("GET", "/api/channel/search?keyword=a.*z") == []  # regex characters are literal
    code, data = await gw.api("GET", "/api/channel/search?keyword=" + "x" * 300)
    assert data["success"] is False and "too long" in data["message"]


async def test_channel_models_list(gw: Gateway) -> None:
    code, data = await gw.api("GET", "/api/channel/models")
    assert data["success"] and data["object"] == "list"
    ids = {m["id"] for m in data["data"]}
    assert {"gpt-3.5-turbo", "gpt-4o", "claude-3-5-sonnet-20241022"} <= ids
    one = next(m for m in data["data"] if m["id"] == "gpt-4o")
    assert one["object"] == "model" and one["owned_by"] == "openai"


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("POST", b"{not json", "not valid JSON"),
    ("POST", b"[1, 2]", "JSON object"),
    ("POST", b"", "empty"),
    ("POST", {"type": 1, "models": "m"}, "key"),
    ("POST", {"type": 1, "key": "  ", "models": "m"}, "key"),
    ("POST", {"type": 1, "key": 5, "models": "m"}, "key"),
    ("POST", {"type": 1, "key": "k"}, "models"),
    ("POST", {"type": 1, "key": "k", "models": " , "}, "models"),
    ("POST", {"type": 999, "key": "k", "models": "m"}, "unknown channel type"),
    ("POST", {"type": "1", "key": "k", "models": "m"}, "type must be an integer"),
    ("POST", {"type": 3, "key": "k", "models": "m"}, "Azure"),
    ("POST", {"type": 1, "key": "k", "models": "m", "base_url": "ftp://x"}, "base_url"),
    ("POST", {"type": 1, "key": "k", "models": "m", "model_mapping": "{bad"}, "model_mapping"),
    ("POST", {"type": 1, "key": "k", "models": "m", "model_mapping": '{"a": 1}'}, "model_mapping"),
    ("POST", {"type": 1, "key": "k", "models": "m", "config": "[1]"}, "config"),
    ("POST", {"type": 1, "key": "k", "models": "m", "weight": -1}, "weight"),
    ("POST", {"type": 1, "key": "k", "models": "m", "priority": 1.5}, "priority"),
    ("POST", {"type": 1, "key": "k", "models": "m", "priority": 2**70}, "priority"),
    ("POST", {"type": 1, "key": "k", "models": "m", "status": True}, "status"),
    ("POST", {"type": 1, "key": "k", "models": "m", "status": 7}, "status"),
    ("POST", {"type": 1, "key": "k", "models": "m", "name": 5}, "name must be a string"),
    ("POST", {"type": 1, "key": "k", "models": "m", "name": "n" * 101}, "too long"),
    ("POST", {"type": 1, "key": "k", "models": "m", "key_mode": "x"}, "key_mode"),
    ("PUT", b"nope", "not valid JSON"),
    ("PUT", {"name": "x"}, "id"),
    ("PUT", {"id": "1", "name": "x"}, "id"),
    ("PUT", {"id": True, "name": "x"}, "id"),
    ("PUT", {"id": 2**70, "name": "x"}, "id"),
    ("PUT", {"id": -1, "name": "x"}, "id"),
    ("PUT", {"id": 987654, "name": "x"}, "not found"),
    ("PUT", {"id": "CID", "models": ""}, "models"),
    ("PUT", {"id": "CID", "type": 12345}, "unknown channel type"),
    ("PUT", {"id": "CID", "weight": "heavy"}, "weight"),
    ("PUT", {"id": "CID", "config": {"region": 1}, "model_mapping": ["x"]}, "model_mapping"),
]


async def test_bad_input(gw: Gateway) -> None:
    cid = await gw.channel()
    for method, body, needle in BAD_BODIES:
        if isinstance(body, dict) and body.get("id") == "CID":
            body = {**body, "id": cid}
        code, data = await gw.api(method, "/api/channel/", body)
        assert code == 200 and data["success"] is False, (body, data)
        assert needle.lower() in data["message"].lower(), (body, data)
    for path in ("/api/channel/abc", "/api/channel/0", "/api/channel/-4", "/api/channel/99999999999999999999",
                 "/api/channel/test/abc", "/api/channel/test/0", "/api/channel/update_balance/x",
                 "/api/channel/test?scope=some"):
        code, data = await gw.api("GET", path)
        assert code == 200 and data["success"] is False, (path, data)
    for path in ("/api/channel/424242", "/api/channel/test/424242", "/api/channel/update_balance/424242"):
        code, data = await gw.api("GET", path)
        assert data == {"success": False, "message": "Channel not found"}, path
    code, data = await gw.api("GET", f"/api/channel/test/{cid}?model=" + "m" * 300)
    assert data["success"] is False
    # the channel is unchanged by all of this
    doc = await channel_doc(gw, cid)
    assert doc["name"] == "ch" and doc["models"] == "gpt-3.5-turbo" and doc["status"] == 1
    assert await gw.ctx.db.channels.count_documents({}) == 1


# --------------------------------------------------------------------------- channel tests


async def test_single_channel_test_success(gw: Gateway) -> None:
    cid = await gw.channel(models="gpt-4o-mini,gpt-3.5-turbo")
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert data["success"] is True, data
    assert data["modelName"] == "gpt-4o-mini" and data["message"] == REPLY
    assert isinstance(data["time"], float) and 0 <= data["time"] < 5
    rec = gw.upstream.state.requests[-1]
    assert rec.key == "sk-ok" and rec.path == "/v1/chat/completions"
    assert rec.json["model"] == "gpt-4o-mini"
    assert rec.json["messages"] == [{"role": "user", "content": DEFAULT_TEST_PROMPT}]
    assert 0 < rec.json["max_tokens"] <= 16 and not rec.json.get("stream")
    doc = await channel_doc(gw, cid)
    assert doc["test_time"] > 0 and abs(doc["response_time"] - data["time"] * 1000) <= 1
    # another listed model
    code, data = await gw.api("GET", f"/api/channel/test/{cid}?model=gpt-3.5-turbo")
    assert data["success"] and data["modelName"] == "gpt-3.5-turbo"
    assert gw.upstream.state.requests[-1].json["model"] == "gpt-3.5-turbo"
    # a test log (type 5) without the key
    logs = await gw.logs(type=5)
    assert len(logs) == 2 and logs[0]["channel"] == cid and logs[0]["username"] == "root"
    assert "passed" in logs[0]["content"] and "sk-ok" not in json.dumps(logs)
    # the test is not billed
    assert (await gw.user())["used_quota"] == 0


@pytest.mark.settings(test_prompt="Say OK.")
async def test_channel_test_prompt_setting_and_mapping(gw: Gateway) -> None:
    cid = await gw.channel(models="gpt-4o", model_mapping='{"gpt-4o": "gpt-4o-2024-08-06"}')
    code, data = await gw.api("GET", f"/api/channel/test/{cid}?model=gpt-4o")
    assert data["success"] and data["modelName"] == "gpt-4o"
    rec = gw.upstream.state.requests[-1]
    assert rec.json["model"] == "gpt-4o-2024-08-06"
    assert rec.json["messages"][0]["content"] == "Say OK."


async def test_channel_test_failures(gw: Gateway) -> None:
    bad = await gw.channel(key="fail-401")
    code, data = await gw.api("GET", f"/api/channel/test/{bad}")
    assert data["success"] is False and "Incorrect API key" in data["message"]
    assert data["modelName"] == "gpt-3.5-turbo" and isinstance(data["time"], float)
    assert (await channel_doc(gw, bad))["test_time"] > 0
    assert (await channel_doc(gw, bad))["status"] == 1  # a single test never disables
    srv = await gw.channel(key="fail-500")
    code, data = await gw.api("GET", f"/api/channel/test/{srv}")
    assert data["success"] is False and "HTTP 500" in data["message"]
    # nothing listening
    dead = await gw.channel(base_url="http://127.0.0.1:9")
    code, data = await gw.api("GET", f"/api/channel/test/{dead}")
    assert data["success"] is False and "upstream connection failed" in data["message"]
    # a model the channel does not serve
    code, data = await gw.api("GET", f"/api/channel/test/{bad}?model=gpt-4o")
    assert data["success"] is False and "not served" in data["message"]
    # a type that relays no chat requests (Proxy: raw pass-through only)
    proxy = await gw.channel(type=43, key="Bearer x", models="via-proxy")
    code, data = await gw.api("GET", f"/api/channel/test/{proxy}")
    assert data["success"] is False and "43 (Proxy)" in data["message"] and "chat" in data["message"]
    # a 200 that is not a chat completion (a wrong base URL serving a web page)
    with_html = await gw.channel(base_url=gw.upstream.url + "/nowhere")
    code, data = await gw.api("GET", f"/api/channel/test/{with_html}")
    assert data["success"] is False
    logs = await gw.logs(type=5)
    assert all("failed" in entry["content"] for entry in logs) and len(logs) >= 5


async def test_channel_test_through_anthropic_adaptor(gw: Gateway) -> None:
    cid = await gw.channel(type=14, key="sk-ant", models="claude-3-5-sonnet-20241022")
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert data["success"], data
    assert data["message"] == "Hello from Claude"
    sent = gw.upstream.state.anthropic[-1]["json"]
    assert sent["model"] == "claude-3-5-sonnet-20241022" and sent["max_tokens"] <= 16
    bad = await gw.channel(type=14, key="bad-key", models="claude-3-5-sonnet-20241022")
    code, data = await gw.api("GET", f"/api/channel/test/{bad}")
    assert data["success"] is False and "invalid x-api-key" in data["message"]


async def test_bulk_test_disables_and_reenables_auto_only(gw: Gateway) -> None:
    await set_option(gw, "AutomaticDisableChannelEnabled", "true")
    await set_option(gw, "AutomaticEnableChannelEnabled", "true")
    ok = await gw.channel(key="sk-fine")
    bad = await gw.channel(key="fail-401")
    flaky = await gw.channel(key="fail-500")
    auto_ok = await gw.channel(key="sk-auto-ok")
    await gw.ctx.channels.set_status(auto_ok, CH_AUTO_DISABLED)
    manual_ok = await gw.channel(key="sk-manual-ok", status=CH_MANUALLY_DISABLED)
    auto_bad = await gw.channel(key="fail-401")
    await gw.ctx.channels.set_status(auto_bad, CH_AUTO_DISABLED)
    await gw.ctx.channels_changed()
    code, data = await gw.api("GET", "/api/channel/test?scope=all")
    assert data["success"] is True, data
    await bulk_done(gw)
    status = {cid: (await channel_doc(gw, cid))["status"] for cid in (ok, bad, flaky, auto_ok, manual_ok, auto_bad)}
    assert status == {ok: CH_ENABLED, bad: CH_AUTO_DISABLED, flaky: CH_ENABLED, auto_ok: CH_ENABLED,
                      manual_ok: CH_MANUALLY_DISABLED, auto_bad: CH_AUTO_DISABLED}
    assert sorted(gw.upstream.state.keys()) == sorted(
        ["sk-fine", "fail-401", "fail-500", "sk-auto-ok", "sk-manual-ok", "fail-401"])
    for cid in status:
        assert (await channel_doc(gw, cid))["test_time"] > 0
    # routing follows at once
    assert gw.ctx.router.get(bad).status == CH_AUTO_DISABLED  # type: ignore[union-attr]
    assert gw.ctx.router.get(auto_ok).status == CH_ENABLED  # type: ignore[union-attr]
    assert await gw.ctx.db.abilities.count_documents({"channel_id": auto_ok, "enabled": True}) == 1
    assert await gw.ctx.db.abilities.count_documents({"channel_id": bad, "enabled": True}) == 0
    logs = await gw.logs(type=5)
    assert len(logs) == 6 and all(entry["username"] == "" for entry in logs)


async def test_bulk_test_options_off_changes_nothing(gw: Gateway) -> None:
    bad = await gw.channel(key="fail-401")
    auto_ok = await gw.channel(key="sk-auto-ok")
    await gw.ctx.channels.set_status(auto_ok, CH_AUTO_DISABLED)
    await gw.ok("GET", "/api/channel/test")  # scope defaults to all
    await bulk_done(gw)
    assert (await channel_doc(gw, bad))["status"] == CH_ENABLED
    assert (await channel_doc(gw, auto_ok))["status"] == CH_AUTO_DISABLED
    assert len(gw.upstream.state.requests) == 2


async def test_bulk_test_scope_disabled(gw: Gateway) -> None:
    await set_option(gw, "AutomaticEnableChannelEnabled", "true")
    await gw.channel(key="sk-enabled")
    auto_ok = await gw.channel(key="sk-auto-ok")
    await gw.ctx.channels.set_status(auto_ok, CH_AUTO_DISABLED)
    await gw.channel(key="sk-manual", status=CH_MANUALLY_DISABLED)
    await gw.ok("GET", "/api/channel/test?scope=disabled")
    await bulk_done(gw)
    assert sorted(gw.upstream.state.keys()) == ["sk-auto-ok", "sk-manual"]
    assert (await channel_doc(gw, auto_ok))["status"] == CH_ENABLED


async def test_bulk_test_slow_channel_threshold_and_single_run(gw: Gateway, bal: Balance) -> None:
    await set_option(gw, "AutomaticDisableChannelEnabled", "true")
    await set_option(gw, "ChannelDisableThreshold", str(HANG_SECONDS / 3))
    slow = await gw.channel(key="sk-slow", base_url=bal.url + "/hang")
    fast = await gw.channel(key="sk-fast")
    await gw.ok("GET", "/api/channel/test?scope=all")
    code, data = await gw.api("GET", "/api/channel/test?scope=all")  # the first is still running
    assert data["success"] is False and "already running" in data["message"]
    await bulk_done(gw)
    assert (await channel_doc(gw, slow))["status"] == CH_AUTO_DISABLED
    assert (await channel_doc(gw, slow))["response_time"] >= HANG_SECONDS * 1000 * 0.9
    assert (await channel_doc(gw, fast))["status"] == CH_ENABLED
    # a passing but slow auto-disabled channel is not re-enabled
    await set_option(gw, "AutomaticEnableChannelEnabled", "true")
    await gw.ok("GET", "/api/channel/test?scope=disabled")
    await bulk_done(gw)
    assert (await channel_doc(gw, slow))["status"] == CH_AUTO_DISABLED
    # threshold 0 means no limit (One API)
    await set_option(gw, "ChannelDisableThreshold", "0")
    await gw.ok("GET", "/api/channel/test?scope=disabled")
    await bulk_done(gw)
    assert (await channel_doc(gw, slow))["status"] == CH_ENABLED


# --------------------------------------------------------------------------- balances

BALANCE_CASES = [
    # type, base path suffix, expected balance, the path that was asked
    (1, "", BALANCES["openai"], "/v1/dashboard/billing/usage"),
    (8, "", BALANCES["openai"], "/v1/dashboard/billing/usage"),
    (50, "/v1", BALANCES["openai"], "/v1/dashboard/billing/usage"),
    (4, "", BALANCES["closeai"], "/dashboard/billing/credit_grants"),
    (5, "", BALANCES["openai_sb"], "/sb-api/user/status"),
    (10, "", BALANCES["aiproxy"], "/api/report/getUserOverview"),
    (12, "", BALANCES["api2gpt"], "/dashboard/billing/credit_grants"),
    (13, "", BALANCES["closeai"], "/dashboard/billing/credit_grants"),
    (20, "", BALANCES["openrouter"], "/v1/credits"),
    (25, "", BALANCES["moonshot"], "/v1/users/me/balance"),
    (36, "", BALANCES["deepseek"], "/user/balance"),
    (44, "", BALANCES["siliconflow"], "/v1/user/info"),
]


async def test_update_balance_each_supported_type(gw: Gateway, bal: Balance) -> None:
    for ctype, suffix, expected, path in BALANCE_CASES:
        cid = await gw.channel(type=ctype, key="sk-bal", base_url=bal.url + suffix)
        bal.state.reset()
        code, data = await gw.api("GET", f"/api/channel/update_balance/{cid}")
        assert data["success"] is True, (ctype, data)
        assert data["balance"] == pytest.approx(expected), ctype
        assert bal.state.requests[-1].path == path, ctype
        assert bal.state.requests[-1].key == "sk-bal", ctype
        doc = await channel_doc(gw, cid)
        assert doc["balance"] == pytest.approx(expected) and doc["balance_updated_time"] > 0
        item = await gw.ok("GET", f"/api/channel/{cid}")
        assert item["balance"] == pytest.approx(expected) and item["key"] == ""


async def test_balance_request_details(gw: Gateway, bal: Balance) -> None:
    cid = await gw.channel(type=1, key="sk-bal", base_url=bal.url)
    await gw.ok("GET", f"/api/channel/update_balance/{cid}")
    sub, usage = bal.state.requests
    assert sub.path == "/v1/dashboard/billing/subscription"
    assert sub.headers["Authorization"] == "Bearer sk-bal"
    today = datetime.date.today()
    assert usage.query == {"start_date": today.replace(day=1).isoformat(), "end_date": today.isoformat()}
    # no payment method: the last 100 days
    nopay = await gw.channel(type=1, key="sk-nopay", base_url=bal.url)
    bal.state.reset()
    await gw.ok("GET", f"/api/channel/update_balance/{nopay}")
    assert bal.state.requests[1].query["start_date"] == (today - datetime.timedelta(days=100)).isoformat()
    # OpenAI-SB passes the key in the query, AIProxy in Api-Key
    sb = await gw.channel(type=5, key="sk-sb", base_url=bal.url)
    bal.state.reset()
    await gw.ok("GET", f"/api/channel/update_balance/{sb}")
    assert bal.state.requests[0].query == {"api_key": "sk-sb"}
    ap = await gw.channel(type=10, key="sk-ap", base_url=bal.url)
    bal.state.reset()
    await gw.ok("GET", f"/api/channel/update_balance/{ap}")
    assert bal.state.requests[0].headers.get("Api-Key") == "sk-ap"


async def test_balance_failures(gw: Gateway, bal: Balance) -> None:
    unsupported = await gw.channel(type=14, key="sk-ant", models="claude-3-5-sonnet-20241022")
    code, data = await gw.api("GET", f"/api/channel/update_balance/{unsupported}")
    assert data["success"] is False and "14 (Anthropic)" in data["message"]
    azure = await gw.channel(type=3, key="k", base_url=bal.url)
    code, data = await gw.api("GET", f"/api/channel/update_balance/{azure}")
    assert data["success"] is False and "3 (Azure OpenAI)" in data["message"]
    for ctype in (1, 36, 44, 20):
        cid = await gw.channel(type=ctype, key="bal-bad", base_url=bal.url)
        code, data = await gw.api("GET", f"/api/channel/update_balance/{cid}")
        assert data["success"] is False and "401" in data["message"], (ctype, data)
        cid = await gw.channel(type=ctype, key="bal-html", base_url=bal.url)
        code, data = await gw.api("GET", f"/api/channel/update_balance/{cid}")
        assert data["success"] is False and "JSON" in data["message"], (ctype, data)
        assert (await channel_doc(gw, cid))["balance_updated_time"] == 0
    dead = await gw.channel(type=36, key="sk", base_url="http://127.0.0.1:9")
    code, data = await gw.api("GET", f"/api/channel/update_balance/{dead}")
    assert data["success"] is False and "connection failed" in data["message"]


async def test_update_all_balances(gw: Gateway, bal: Balance) -> None:
    await set_option(gw, "AutomaticDisableChannelEnabled", "true")
    ds = await gw.channel(type=36, key="sk-ds", base_url=bal.url)
    sf = await gw.channel(type=44, key="sk-sf", base_url=bal.url)
    zero = await gw.channel(type=20, key="bal-zero", base_url=bal.url)
    broken = await gw.channel(type=25, key="bal-bad", base_url=bal.url)
    off = await gw.channel(type=36, key="sk-off", base_url=bal.url, status=CH_MANUALLY_DISABLED)
    other = await gw.channel(type=14, key="sk-ant", models="claude-3-5-sonnet-20241022")
    code, data = await gw.api("GET", "/api/channel/update_balance")
    assert data["success"] is True
    await bulk_done(gw)
    assert (await channel_doc(gw, ds))["balance"] == pytest.approx(BALANCES["deepseek"])
    assert (await channel_doc(gw, sf))["balance"] == pytest.approx(BALANCES["siliconflow"])
    assert (await channel_doc(gw, zero))["balance"] == 0
    assert (await channel_doc(gw, zero))["status"] == CH_AUTO_DISABLED  # used up
    assert (await channel_doc(gw, broken))["balance_updated_time"] == 0
    assert (await channel_doc(gw, broken))["status"] == CH_ENABLED  # a failed query disables nothing
    assert (await channel_doc(gw, off))["balance_updated_time"] == 0
    assert (await channel_doc(gw, other))["balance_updated_time"] == 0
    assert "sk-off" not in [r.key for r in bal.state.requests]


async def test_update_all_balances_without_auto_disable(gw: Gateway, bal: Balance) -> None:
    zero = await gw.channel(type=20, key="bal-zero", base_url=bal.url)
    await gw.ok("GET", "/api/channel/update_balance/")
    await bulk_done(gw)
    doc = await channel_doc(gw, zero)
    assert doc["balance_updated_time"] > 0 and doc["status"] == CH_ENABLED
