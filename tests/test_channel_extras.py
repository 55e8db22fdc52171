"""Channel power tools (issue 15, item 1): tags (filter, enable, disable and edit by tag),
batch edit of selected channels, copy, an auto-enable time, and a channel test that checks the
reply against an expected pattern."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest

from tests.conftest import Gateway


async def chat(gw: Gateway, key: str, model: str = "gpt-3.5-turbo") -> Any:
    return await gw.client(key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


async def channel(gw: Gateway, cid: int) -> dict[str, Any]:
    return await gw.ok("GET", f"/api/channel/{cid}")  # type: ignore[no-any-return]


async def test_tags_filter_enable_disable_and_edit(gw: Gateway) -> None:
    e1 = await gw.channel(name="east-1", tag="east", models="m-east")
    e2 = await gw.channel(name="east-2", tag="east", models="m-east")
    w1 = await gw.channel(name="west-1", tag="west", models="m-west")
    await gw.channel(name="untagged")
    assert {c["id"] for c in await gw.ok("GET", "/api/channel/?p=0&tag=east")} == {e1, e2}
    assert await gw.ok("GET", "/api/channel/tags") == ["east", "west"]
    key = await gw.token()

    assert await gw.ok("POST", "/api/channel/tag/disabled", {"tag": "east"}) == 2
    assert {(await channel(gw, c))["status"] for c in (e1, e2)} == {2}
    assert (await channel(gw, w1))["status"] == 1
    with pytest.raises(openai.APIStatusError) as e:  # routing skips them at once
        await chat(gw, key, "m-east")
    assert e.value.status_code == 503
    assert await gw.ok("POST", "/api/channel/tag/enabled", {"tag": "east"}) == 2
    assert (await chat(gw, key, "m-east")).choices[0].message.content

    # edit every channel with the tag, and rename the tag
    n = await gw.ok("PUT", "/api/channel/tag", {"tag": "east", "new_tag": "asia", "priority": 5, "weight": 3,
                                                 "models": "m-east,m-asia"})
    assert n == 2
    for c in (e1, e2):
        got = await channel(gw, c)
        assert (got["tag"], got["priority"], got["weight"], got["models"]) == ("asia", 5, 3, "m-east,m-asia")
    assert (await chat(gw, key, "m-asia")).choices[0].message.content  # abilities rebuilt
    assert await gw.ok("GET", "/api/channel/tags") == ["asia", "west"]

    for body, words in (({}, "tag is required"), ({"tag": "nope", "priority": 1}, "No channel has the tag nope"),
                        ({"tag": "asia"}, "Nothing to change"), ({"tag": "asia", "weight": -1}, "weight")):
        _, r = await gw.api("PUT", "/api/channel/tag", body)
        assert r["success"] is False and words in r["message"], (body, r)
    _, r = await gw.api("POST", "/api/channel/tag/disabled", {"tag": "nope"})
    assert r["success"] is False
    _, r = await gw.api("POST", "/api/channel/", {"name": "x", "type": 1, "key": "k", "models": "m", "tag": "t" * 65})
    assert r["success"] is False and "tag" in r["message"]


async def test_batch_edit_of_selected_channels(gw: Gateway) -> None:
    a = await gw.channel(name="a", models="m-a")
    b = await gw.channel(name="b", models="m-a")
    c = await gw.channel(name="c", models="m-a")
    assert await gw.ok("PUT", "/api/channel/batch", {"ids": [a, b], "group": "vip,default", "priority": 7,
                                                     "tag": "batch", "status": 2}) == 2
    for cid in (a, b):
        got = await channel(gw, cid)
        assert (got["group"], got["priority"], got["tag"], got["status"]) == ("vip,default", 7, "batch", 2)
    assert (await channel(gw, c))["priority"] == 0
    for body, words in (({"ids": [], "priority": 1}, "ids"), ({"ids": [a]}, "Nothing to change"),
                        ({"ids": [a, 99999], "priority": 1}, "Channels not found: 99999"),
                        ({"ids": [a], "status": 9}, "status"), ({"ids": ["x"], "priority": 1}, "")):
        _, r = await gw.api("PUT", "/api/channel/batch", body)
        assert r["success"] is False and words in r["message"], (body, r)
    assert (await channel(gw, a))["status"] == 2  # nothing changed by the refused ones


async def test_copy_a_channel(gw: Gateway) -> None:
    src = await gw.channel(name="main", key="sk-ok-copy", models="m-copy", priority=3, tag="t1")
    key = await gw.token()
    await chat(gw, key, "m-copy")
    await gw.ctx.ledger.flush()
    copy = (await gw.ok("POST", f"/api/channel/copy/{src}", {}))["id"]
    got, orig = await channel(gw, copy), await channel(gw, src)
    assert got["name"] == "main (copy)" and got["id"] != src
    for k in ("type", "models", "group", "priority", "weight", "base_url", "tag", "config", "model_mapping"):
        assert got[k] == orig[k], k
    assert got["used_quota"] == 0 and orig["used_quota"] > 0
    # the copy has the same key: pinned to it, a request reaches the upstream with that key
    await gw.ok("POST", "/api/channel/tag/disabled", {"tag": "t1"})
    await gw.ok("PUT", "/api/channel/", {"id": copy, "status": 1})
    await chat(gw, key, "m-copy")
    assert gw.upstream.state.keys()[-1] == "sk-ok-copy"
    named = (await gw.ok("POST", f"/api/channel/copy/{src}", {"suffix": "-b", "status": 2}))["id"]
    assert (await channel(gw, named))["name"] == "main-b" and (await channel(gw, named))["status"] == 2
    _, r = await gw.api("POST", "/api/channel/copy/424242", {})
    assert r["success"] is False


@pytest.mark.settings(auto_enable_check=0.1)
async def test_auto_enable_time(gw: Gateway) -> None:
    cid = await gw.channel(name="later", models="m-later")
    await gw.ok("PUT", "/api/channel/", {"id": cid, "status": 2, "auto_enable_at": int(time.time()) + 2})
    key = await gw.token()
    with pytest.raises(openai.APIStatusError):
        await chat(gw, key, "m-later")
    for _ in range(100):
        if (await channel(gw, cid))["status"] == 1:
            break
        await asyncio.sleep(0.1)
    got = await channel(gw, cid)
    assert got["status"] == 1 and got["auto_enable_at"] == 0
    for _ in range(100):  # the routing table follows the change event
        if gw.ctx.router.pick("default", "m-later") is not None:
            break
        await asyncio.sleep(0.05)
    assert (await chat(gw, key, "m-later")).choices[0].message.content
    _, r = await gw.api("PUT", "/api/channel/", {"id": cid, "auto_enable_at": -5})
    assert r["success"] is False


async def test_channel_test_checks_the_expected_reply(gw: Gateway) -> None:
    good = await gw.channel(name="greets", test_expect=r"(?i)hello")
    bad = await gw.channel(name="wrong", test_expect=r"^\d+$")
    _, ok = await gw.api("GET", f"/api/channel/test/{good}")
    assert ok["success"] is True, ok
    _, no = await gw.api("GET", f"/api/channel/test/{bad}")
    assert no["success"] is False and "expected pattern" in no["message"], no
    assert (await channel(gw, bad))["test_ok"] is False
    _, r = await gw.api("PUT", "/api/channel/", {"id": bad, "test_expect": "(unclosed"})
    assert r["success"] is False and "regular expression" in r["message"]


async def test_custom_key_suffix_is_unique_and_works(gw: Gateway) -> None:
    """Issue 15, item 2: a key suffix chosen by the user, checked unique."""
    await gw.channel()
    key = await gw.token(name="mine", key_suffix="team_alpha")
    assert key.startswith("sk-") and key.endswith("team_alpha") and len(key) == 3 + 16 + len("team_alpha")
    assert (await chat(gw, key)).choices[0].message.content
    for suffix, words in (("team_alpha", "is taken"), ("ab", "4-32"), ("has-dash", "4-32"), ("空格", "4-32")):
        _, r = await gw.api("POST", "/api/token/", {"name": "x", "unlimited_quota": True, "key_suffix": suffix})
        assert r["success"] is False and words in r["message"], (suffix, r)


async def test_channel_rpm_proxy_and_headers_fields(gw: Gateway) -> None:
    cid = await gw.channel(name="fields", rpm_limit=30, proxy="socks5://bob:s3cret@127.0.0.1:1080",
                           headers={"X-Org": "acme", "X-Trace": "on"})
    got = await channel(gw, cid)
    assert got["rpm_limit"] == 30 and got["proxy"] == "socks5://bob:********@127.0.0.1:1080"
    assert json.loads(got["headers"]) == {"X-Org": "acme", "X-Trace": "on"}
    await gw.ok("PUT", "/api/channel/", {**got, "name": "renamed"})  # saved back masked: kept
    stored = await gw.ctx.db.channels.find_one({"_id": cid})
    assert stored["proxy"] == "socks5://bob:s3cret@127.0.0.1:1080" and stored["name"] == "renamed"
    for body, words in (({"proxy": "ftp://x"}, "proxy"), ({"headers": {"Host": "x"}}, "may not set"),
                        ({"headers": {"X": "a\nb"}}, "one-line"), ({"headers": "[1]"}, "headers"),
                        ({"rpm_limit": -1}, "rpm_limit")):
        _, r = await gw.api("PUT", "/api/channel/", {"id": cid, **body})
        assert r["success"] is False and words in r["message"], (body, r)
    assert await gw.ok("PUT", "/api/channel/batch", {"ids": [cid], "rpm_limit": 0}) == 1
    assert (await channel(gw, cid))["rpm_limit"] == 0


async def test_token_limits_billing_mode_and_group_fields(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "UserUsableGroups", "value": '{"vip": "faster, 2x price"}'})
    groups = await gw.ok("GET", "/api/user/groups")
    assert set(groups) == {"default", "vip"} and groups["vip"]["desc"] == "faster, 2x price"
    body = {"name": "limited", "unlimited_quota": True, "limits": {"rpm": 10, "daily": 5000},
            "billing_mode": "per_call", "group": "vip"}
    tok = await gw.ok("POST", "/api/token/", body)
    assert (tok["limits"], tok["billing_mode"], tok["group"]) == ({"rpm": 10, "daily": 5000}, "per_call", "vip")
    for bad, words in (({"limits": {"rpm": -1}}, "limits.rpm"), ({"billing_mode": "free"}, "billing_mode"),
                       ({"group": "secret-admins"}, "may not use the group"), ({"limits": {"hourly": 1}}, "unknown")):
        _, r = await gw.api("POST", "/api/token/", {"name": "x", "unlimited_quota": True, **bad})
        assert r["success"] is False and words in r["message"], (bad, r)
    upd = await gw.ok("PUT", "/api/token/", {"id": tok["id"], "limits": {}, "group": ""})
    assert upd["limits"] == {} and upd["group"] == ""
    for key, value in (("ModelPrice", '{"gpt-4o": -1}'), ("GroupLimits", '{"vip": {"daily": 5}}'),
                       ("UserUsableGroups", '{"vip": 3}')):
        _, r = await gw.api("PUT", "/api/option/", {"key": key, "value": value})
        assert r["success"] is False, (key, r)
