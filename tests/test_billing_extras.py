"""Billing extras (issue 15, items 2 and 4): a default group for new users, an automatic group
upgrade when top-ups reach a threshold, top-up bonus periods, invite rebates, the plans shown on
the top-up page. Every credit writes a top-up log and shows at once."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import Gateway


async def options(gw: Gateway, **opts: Any) -> None:
    for k, v in opts.items():
        v = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        await gw.ok("PUT", "/api/option/", {"key": k, "value": v})


async def register(gw: Gateway, name: str, aff: str = "") -> tuple[int, str]:
    """A user signed up through the public API; (id, their access token)."""
    body = {"username": name, "password": name + "-pass-1", "aff_code": aff}
    await gw.ok("POST", "/api/user/register", body, token=None)
    resp = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                               body=json.dumps({"username": name, "password": name + "-pass-1"}))
    cookie = resp.headers["Set-Cookie"].split(";")[0]
    token = json.loads((await gw.http.fetch(gw.url + "/api/user/token", headers={"Cookie": cookie})).body)["data"]
    uid = (await gw.ok("GET", "/api/user/self", token=token))["id"]
    return uid, token


async def code(gw: Gateway, quota: int) -> str:
    return (await gw.ok("POST", "/api/redemption/", {"name": "c", "quota": quota, "count": 1}))[0]  # type: ignore[no-any-return]


async def test_groups_bonus_rebate_and_plans(gw: Gateway) -> None:
    await options(gw, DefaultGroup="starter", GroupUpgradeRules={"vip": 1000, "svip": 5000},
                  InviteRebateRatio="0.1",
                  TopupPlans=[{"name": "Starter", "price": "$5", "quota": 2500000, "note": "10% off"}])
    inviter_id, inviter_token = await register(gw, "inviter")
    aff = (await gw.ok("GET", "/api/user/aff", token=inviter_token))
    uid, token = await register(gw, "newbie", aff)
    me = await gw.ok("GET", "/api/user/self", token=token)
    assert me["group"] == "starter"  # DefaultGroup

    # A code of 1,200 reaches vip; the inviter gets 10% of it; both logs show at once.
    got = await gw.ok("POST", "/api/user/topup", {"key": await code(gw, 1200)}, token=token)
    assert got == 1200
    me = await gw.ok("GET", "/api/user/self", token=token)
    assert me["group"] == "vip" and me["quota"] == 1200
    inviter = await gw.ok("GET", "/api/user/self", token=inviter_token)
    assert inviter["quota"] == 120
    mine = await gw.ok("GET", "/api/log/self?type=1", token=token)
    assert mine[0]["quota"] == 1200 and "Redeemed a code" in mine[0]["content"]
    rebate = await gw.ok("GET", "/api/log/self?type=1", token=inviter_token)
    assert rebate[0]["quota"] == 120 and "Invite rebate" in rebate[0]["content"] and "newbie" in rebate[0]["content"]

    # A bonus period: the code is worth 1.5x; the bonus does not count towards upgrades.
    now = int(time.time())
    await options(gw, TopupBonusPeriods=[{"name": "Launch", "from": now - 60, "to": now + 600, "ratio": 1.5},
                                         {"name": "Old", "from": now - 900, "to": now - 600, "ratio": 3}])
    plans = await gw.ok("GET", "/api/topup/plans", token=token)
    assert plans["plans"][0]["name"] == "Starter" and plans["bonus_period"]["name"] == "Launch"
    assert plans["invite_rebate_ratio"] == 0.1
    got = await gw.ok("POST", "/api/user/topup", {"key": await code(gw, 2000)}, token=token)
    assert got == 3000
    me = await gw.ok("GET", "/api/user/self", token=token)
    assert me["quota"] == 4200 and me["group"] == "vip"  # top-ups 3,200 < 5,000
    log = (await gw.ok("GET", "/api/log/self?type=1", token=token))[0]
    assert log["quota"] == 3000 and "Launch" in log["content"]
    assert (await gw.ok("GET", "/api/user/self", token=inviter_token))["quota"] == 320  # 10% of 2,000 (no bonus)

    # An admin top-up counts towards the upgrade (no bonus, no rebate): svip.
    await gw.ok("POST", "/api/topup", {"user_id": uid, "quota": 1800})
    me = await gw.ok("GET", "/api/user/self", token=token)
    assert me["group"] == "svip" and me["quota"] == 6000
    assert (await gw.ok("GET", "/api/user/self", token=inviter_token))["quota"] == 320

    # A group an admin chose by hand is never changed by the rules.
    await gw.ok("PUT", "/api/user/", {"id": inviter_id, "group": "partners"})
    await gw.ok("POST", "/api/topup", {"user_id": inviter_id, "quota": 9000})
    assert (await gw.ok("GET", "/api/user/self", token=inviter_token))["group"] == "partners"


async def test_billing_options_are_validated(gw: Gateway) -> None:
    bad = [
        ("GroupUpgradeRules", "[1]"), ("GroupUpgradeRules", '{"vip": -5}'), ("GroupUpgradeRules", '{"vip": 1.5}'),
        ("TopupBonusPeriods", '[{"from": 10, "to": 5, "ratio": 2}]'), ("TopupBonusPeriods", '[{"from": 1, "to": 5, "ratio": 99}]'),
        ("TopupBonusPeriods", "{}"), ("TopupPlans", '[{"price": 1}]'), ("TopupPlans", '[{"name": "x", "quota": -1}]'),
        ("TopupPlans", "not json"), ("InviteRebateRatio", "1.5"), ("InviteRebateRatio", "-0.1"), ("DefaultGroup", " "),
    ]
    for key, value in bad:
        _, r = await gw.api("PUT", "/api/option/", {"key": key, "value": value})
        assert r["success"] is False, (key, value, r)
    await options(gw, TopupPlans=[], TopupBonusPeriods=[], GroupUpgradeRules={})
