"""The console for limits, per-call billing, token groups, channel RPM / proxy / headers and root's
notification and billing options (issue 15), at 1440 and 390 px; plus the batch dialog's group
Enter and the top-up plan cards. Screenshots ``lim-<page>-<width>.png``."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.conftest import fits, login, shot

WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


async def options(console: Any) -> dict[str, str]:
    return {o["key"]: o["value"] for o in await console.ok("GET", "/api/option/")}


async def set_option(console: Any, key: str, value: Any) -> None:
    await console.ok("PUT", "/api/option/", {"key": key, "value": value if isinstance(value, str) else json.dumps(value)})


async def pick_option(page: Page, testid: str, text: str) -> None:
    await page.get_by_test_id(testid).click()
    await page.locator(".n-base-select-option", has_text=text).first.click()


# ------------------------------------------------------------------------------------- tokens
async def test_token_limits_billing_mode_and_group_round_trip(page, console):
    await set_option(console, "UserUsableGroups", {"vip": "Faster channels"})
    await set_option(console, "GroupRatio", {"default": 1, "vip": 1.5, "svip": 2})
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/token/add")
    await page.get_by_label("Name", exact=True).fill("limited-key")

    await page.get_by_label("Requests per minute (RPM)").fill("60")
    await page.get_by_label("Tokens per minute (TPM)").fill("100000")
    daily = page.get_by_label("Daily quota", exact=True)
    await daily.fill("10")
    await daily.press("Tab")
    # USD shown; the exact quota points under it
    await expect(page.get_by_test_id("token-limits-daily-exact")).to_have_text("= 5,000,000 quota points")
    await page.get_by_label("5-hour quota", exact=True).fill("1.5")
    await page.get_by_label("5-hour quota", exact=True).press("Tab")

    # a per-model row: a missing model name is refused under its own field
    await page.get_by_test_id("limit-add-model").click()
    await page.get_by_label("RPM of limit 1").fill("5")
    await page.get_by_label("RPM of limit 1").press("Tab")
    await expect(page.get_by_test_id("limit-row").first).to_contain_text("Enter the model name")
    await page.get_by_label("Model of limit 1").fill("gpt-4o")
    await expect(page.get_by_test_id("limit-row").first).not_to_contain_text("Enter the model name")

    # billing mode: per call explains the ModelPrice option
    await page.get_by_test_id("token-billing-mode").get_by_text("Per call").click()
    await expect(page.get_by_test_id("token-billing-help")).to_contain_text("ModelPrice")
    # the group picker lists the usable groups with their ratios
    await page.get_by_test_id("token-group").click()
    await expect(page.locator(".n-base-select-option", has_text="default (your group) · ×1")).to_be_visible()
    await page.locator(".n-base-select-option", has_text="vip: Faster channels · ×1.5").click()
    await page.get_by_test_id("token-limits").scroll_into_view_if_needed()
    await shot(page, "lim-token-1440")

    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_test_id("new-token-key")).to_be_visible()
    tok = [x for x in await console.ok("GET", "/api/token/?p=0") if x["name"] == "limited-key"][0]
    assert tok["limits"] == {"rpm": 60, "tpm": 100000, "daily": 5000000, "5h": 750000,
                             "models": {"gpt-4o": {"rpm": 5}}}, tok["limits"]
    assert (tok["billing_mode"], tok["group"]) == ("per_call", "vip"), tok
    await page.get_by_role("button", name="Done").click()
    await page.wait_for_url("**/token")

    # the list shows small tags; the limits on hover
    row = page.get_by_role("row").filter(has_text="limited-key")
    await expect(row.get_by_test_id("token-tag-limited")).to_have_text("limited")
    await expect(row.get_by_test_id("token-tag-per-call")).to_have_text("per call")
    await expect(row.get_by_test_id("token-tag-group")).to_have_text("vip")
    await row.get_by_test_id("token-tag-limited").hover()
    await expect(page.locator(".n-tooltip").filter(has_text="Limits:")).to_contain_text("60 RPM")
    await page.mouse.move(5, 5)
    plain = page.get_by_role("row").filter(has_text="default").first
    await expect(plain.get_by_test_id("token-tag-limited")).to_have_count(0)
    await shot(page, "lim-token-list-1440")

    # editing: the values come back; untouched quotas are kept exactly; a duplicate row is refused
    await page.goto(f"/token/edit/{tok['id']}")
    await expect(page.get_by_label("Requests per minute (RPM)")).to_have_value("60")
    await expect(page.get_by_label("Daily quota", exact=True)).to_have_value("10")
    await expect(page.get_by_label("Model of limit 1")).to_have_value("gpt-4o")
    await page.get_by_test_id("limit-add-model").click()
    await page.get_by_label("Model of limit 2").fill("gpt-4o")
    await page.get_by_label("TPM of limit 2").fill("1000")
    await page.get_by_label("TPM of limit 2").press("Tab")
    await expect(page.get_by_test_id("limit-row").nth(1)).to_contain_text("This model is listed twice")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".n-message", has_text="Please fix the limits")).to_be_visible()
    await page.get_by_role("button", name="Remove limit 2").click()
    await page.get_by_label("Requests per minute (RPM)").fill("")
    await page.get_by_test_id("token-billing-mode").get_by_text("By tokens (ratio)").click()
    await page.set_viewport_size(PHONE)
    await fits(page, 390)
    await page.get_by_test_id("token-limits").scroll_into_view_if_needed()
    await shot(page, "lim-token-390")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/token")
    tok = await console.ok("GET", f"/api/token/{tok['id']}")
    assert tok["limits"] == {"tpm": 100000, "daily": 5000000, "5h": 750000, "models": {"gpt-4o": {"rpm": 5}}}, tok
    assert (tok["billing_mode"], tok["group"]) == ("ratio", "vip"), tok
    card = page.get_by_test_id("row-card").filter(has_text="limited-key")
    await expect(card.get_by_test_id("token-tag-limited")).to_be_visible()
    await expect(card.get_by_test_id("token-tag-per-call")).to_have_count(0)
    await fits(page, 390)
    await shot(page, "lim-token-list-390")


# -------------------------------------------------------------------------------------- users
async def test_admin_sets_a_users_limits(page, console):
    user = await console.ok("POST", "/api/user", {"username": "alice", "password": "alice-pass-1"})
    uid = user["id"] if isinstance(user, dict) and "id" in user else \
        [u for u in await console.ok("GET", "/api/user/?p=0") if u["username"] == "alice"][0]["id"]
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto(f"/user/edit/{uid}")
    limits = page.get_by_test_id("user-limits")
    await limits.get_by_label("Requests per minute (RPM)").fill("30")
    await limits.get_by_label("Weekly quota", exact=True).fill("20")
    await limits.get_by_label("Weekly quota", exact=True).press("Tab")
    await expect(page.get_by_test_id("user-limits-weekly-exact")).to_have_text("= 10,000,000 quota points")
    await limits.get_by_label("Requests per minute (RPM)").scroll_into_view_if_needed()
    await shot(page, "lim-user-1440")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/user")
    got = await console.ok("GET", f"/api/user/{uid}")
    assert got["limits"] == {"rpm": 30, "weekly": 10000000}, got["limits"]

    await page.set_viewport_size(PHONE)
    await page.goto(f"/user/edit/{uid}")
    await expect(limits.get_by_label("Weekly quota", exact=True)).to_have_value("20")
    await limits.get_by_label("Weekly quota", exact=True).fill("")
    await fits(page, 390)
    await limits.scroll_into_view_if_needed()
    await shot(page, "lim-user-390")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/user")
    assert (await console.ok("GET", f"/api/user/{uid}"))["limits"] == {"rpm": 30}


# ----------------------------------------------------------------------------------- channels
async def test_channel_rpm_proxy_and_headers(page, console):
    cid = await console.channel(name="Proxied", proxy="socks5://bob:s3cret@127.0.0.1:1080", tag="edge")
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto(f"/channel/edit/{cid}")
    net = page.get_by_test_id("channel-network")
    proxy = net.get_by_label("Proxy", exact=True)
    await expect(proxy).to_have_value("socks5://bob:********@127.0.0.1:1080")
    await expect(page.get_by_test_id("channel-proxy-masked")).to_be_visible()
    # a bad proxy URL: its own error at once
    await proxy.fill("ftp://proxy.example.com")
    await expect(net).to_contain_text("Use an http://, https://, socks5:// or socks5h:// URL")
    await proxy.fill("socks5://bob:********@127.0.0.1:1080")
    await net.get_by_label("RPM limit", exact=True).fill("120")
    # header rows: a reserved header is refused under its field
    await page.get_by_test_id("channel-add-header").click()
    await net.get_by_label("Header 1 name").fill("Host")
    await expect(page.get_by_test_id("header-row").first).to_contain_text("Host is set by the gateway")
    await net.get_by_label("Header 1 name").fill("X-Team")
    await net.get_by_label("Header 1 value").fill("ops")
    await page.get_by_test_id("channel-add-header").click()
    await net.get_by_label("Header 2 name").fill("x team")
    await expect(page.get_by_test_id("header-row").nth(1)).to_contain_text("Only letters, digits and -")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".n-message", has_text="Please fix the highlighted fields")).to_be_visible()
    await net.get_by_label("Header 2 name").fill("X-Region")
    await net.get_by_label("Header 2 value").fill("eu-1")
    await net.scroll_into_view_if_needed()
    await shot(page, "lim-channel-edit-1440")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/channel")
    c = await console.ok("GET", f"/api/channel/{cid}")
    assert c["rpm_limit"] == 120 and json.loads(c["headers"]) == {"X-Team": "ops", "X-Region": "eu-1"}, c
    stored = await console.ctx.db.channels.find_one({"_id": cid})
    assert stored["proxy"] == "socks5://bob:s3cret@127.0.0.1:1080", stored["proxy"]  # the masked password was kept

    # the list still fits at 1440 px with the tag chip
    table = page.get_by_test_id("channel-table")
    widths = await table.evaluate(
        """el => { const b = el.querySelector('.n-data-table-base-table-body');
                   return [b.scrollWidth, b.clientWidth] }""")
    assert widths[0] <= widths[1] + 1, widths
    # the RPM limit shows under the name, what it does on hover
    rpm = table.get_by_test_id("channel-rpm")
    await expect(rpm).to_have_text("120 RPM")
    await rpm.hover()
    tip = page.locator(".n-tooltip").filter(has_text="at most 120 requests per minute")
    await expect(tip).to_be_visible()
    await page.mouse.move(5, 5)
    await expect(tip).to_be_hidden()
    await shot(page, "lim-channel-1440")

    # 390 px: the values come back, the section fits; clearing everything sends none
    await page.set_viewport_size(PHONE)
    await page.goto(f"/channel/edit/{cid}")
    await expect(net.get_by_label("RPM limit", exact=True)).to_have_value("120")
    await expect(net.get_by_label("Header 2 value")).to_have_value("eu-1")
    await page.get_by_role("button", name="Remove header 2").click()
    await page.get_by_role("button", name="Remove header 1").click()
    await net.get_by_label("RPM limit", exact=True).fill("")
    await proxy.fill("")
    await net.scroll_into_view_if_needed()
    await fits(page, 390)
    # at 640 px and less the form's cards use 16 px side padding (Naive UI's .n-card-content)
    pad = await net.evaluate("el => getComputedStyle(el.querySelector('.n-card-content')).paddingLeft")
    assert pad == "16px", pad
    await shot(page, "lim-channel-edit-390")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/channel")
    c = await console.ok("GET", f"/api/channel/{cid}")
    assert (c["rpm_limit"], c["headers"], c["proxy"]) == (0, "", ""), c
    await expect(page.get_by_test_id("channel-rpm")).to_have_count(0)  # no limit, no tag


async def test_batch_group_enter_adds_exactly_what_was_typed(page, console):
    await set_option(console, "GroupRatio", {"default": 1, "svip": 2, "vip": 1.5})
    a = await console.channel(name="One")
    b = await console.channel(name="Two")
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/channel")
    rows = page.get_by_test_id("channel-table").locator("tbody tr")
    await expect(rows).to_have_count(2)
    await rows.nth(0).locator(".n-checkbox").click()
    await rows.nth(1).locator(".n-checkbox").click()
    await page.get_by_test_id("channel-selection-bar").get_by_role("button", name="Batch edit").click()
    ops = page.get_by_test_id("channel-ops-dialog")
    await ops.get_by_test_id("ops-group").click()
    await page.keyboard.type("vip")
    await expect(page.locator(".n-base-select-option", has_text="svip")).to_be_visible()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Escape")
    tags = ops.get_by_test_id("ops-group").locator(".n-tag")
    await expect(tags).to_have_count(1)
    await expect(tags).to_have_text("vip")
    # a new group typed into the models field's neighbour stays as typed too
    await ops.get_by_test_id("ops-group").click()
    await page.keyboard.type("team-x")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Escape")
    await expect(tags).to_have_count(2)
    await ops.get_by_test_id("ops-apply").click()
    await expect(page.locator(".n-message", has_text="Updated 2 channels")).to_be_visible()
    for cid in (a, b):
        assert (await console.ok("GET", f"/api/channel/{cid}"))["group"] == "vip,team-x"


# ----------------------------------------------------------------------------------- settings
async def test_notification_settings(page, console):
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/setting?tab=system")
    card = page.get_by_test_id("card-notify")
    # switches save at once with a toast
    await card.get_by_test_id("opt-NotifyTopupEnabled").click()
    await expect(page.get_by_text("Saved: Notify on top-ups on")).to_be_visible()
    assert (await options(console))["NotifyTopupEnabled"] == "true"
    # the rest saves with the card's Save
    await card.get_by_test_id("opt-NotifyMethod").click()
    await page.locator(".n-base-select-option", has_text="Webhooks only").click()
    await card.get_by_label("WxPusher app token", exact=True).fill("AT_secret_token")
    await card.get_by_test_id("opt-WxPusherUids").locator("button").first.click()
    await card.get_by_label("New wxpusher uids entry").fill("UID_abc")
    await card.get_by_label("New wxpusher uids entry").press("Enter")
    await card.get_by_label("Message Pusher address", exact=True).fill("https://push.example.com/push/root")
    await card.scroll_into_view_if_needed()
    await shot(page, "lim-settings-notify-1440")
    await card.get_by_role("button", name="Save Notifications").click()
    await expect(page.get_by_text("4 settings saved")).to_be_visible()
    opts = await options(console)
    assert (opts["NotifyMethod"], opts["WxPusherUids"], opts["MessagePusherAddress"]) == \
        ("webhook", "UID_abc", "https://push.example.com/push/root"), opts
    assert "WxPusherAppToken" not in opts and console.ctx.options.get("WxPusherAppToken") == "AT_secret_token"
    # a server refusal shows its message
    await card.get_by_label("WxPusher API address", exact=True).fill("wxpusher.example.com/api")
    await card.get_by_role("button", name="Save Notifications").click()
    await expect(page.locator(".n-message", has_text="WxPusher API address: WxPusherAddress must be an http")).to_be_visible()

    await page.set_viewport_size(PHONE)
    await card.get_by_label("WxPusher API address", exact=True).fill("")
    await card.scroll_into_view_if_needed()
    await fits(page, 390)
    await shot(page, "lim-settings-notify-390")


async def test_billing_settings(page, console):
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/setting?tab=operation")
    billing = page.get_by_test_id("card-billing")
    await billing.get_by_label("Invite rebate", exact=True).fill("0.05")
    periods = billing.get_by_label("Top-up bonus periods", exact=True)
    await periods.fill('[{"name": "Launch", "from": 1893456000, "to": 1893000000, "ratio": 2}]')
    await expect(page.get_by_test_id("error-TopupBonusPeriods")).to_have_text('Period 1: "from" must be before "to"')
    await periods.fill('[{"name": "Launch", "from": 1893456000, "to": 1894060800, "ratio": 1.2}]')
    await expect(page.get_by_test_id("error-TopupBonusPeriods")).to_have_count(0)
    await expect(page.get_by_test_id("summary-TopupBonusPeriods")).to_contain_text("Launch:")
    await expect(page.get_by_test_id("summary-TopupBonusPeriods")).to_contain_text("×1.2 (upcoming)")
    await billing.get_by_label("Automatic group upgrades", exact=True).fill('{"vip": 5000000}')
    await expect(page.get_by_test_id("summary-GroupUpgradeRules")).to_contain_text("vip: from $10.00 (5,000,000 quota points)")
    await billing.get_by_label("Top-up plans", exact=True).fill('[{"name": "Starter", "price": "$5", "quota": 2.5}]')
    await expect(page.get_by_test_id("error-TopupPlans")).to_contain_text("Plan 1")
    await billing.get_by_label("Top-up plans", exact=True).fill('[{"name": "Starter", "price": "$5", "quota": 2500000}]')
    await billing.scroll_into_view_if_needed()
    await shot(page, "lim-settings-billing-1440")
    await billing.get_by_role("button", name="Save Top-ups and groups").click()
    await expect(page.get_by_text("4 settings saved")).to_be_visible()
    opts = await options(console)
    assert float(opts["InviteRebateRatio"]) == 0.05
    assert json.loads(opts["GroupUpgradeRules"]) == {"vip": 5000000}
    assert json.loads(opts["TopupBonusPeriods"])[0]["ratio"] == 1.2
    assert json.loads(opts["TopupPlans"])[0]["quota"] == 2500000
    # the server's own check: an empty default group is refused with its message
    await billing.get_by_label("Default group", exact=True).fill(" ")
    await billing.get_by_role("button", name="Save Top-ups and groups").click()
    await expect(page.locator(".n-message", has_text="DefaultGroup must not be empty")).to_be_visible()
    await billing.get_by_role("button", name="Discard").click()

    pricing = page.get_by_test_id("card-pricing")
    await pricing.get_by_label("Group limits", exact=True).fill('{"default": {"rpm": 60, "daily": 5}}')
    await expect(page.get_by_test_id("error-GroupLimits")).to_contain_text('unknown limit "daily"')
    await pricing.get_by_label("Group limits", exact=True).fill('{"default": {"rpm": 60, "models": {"gpt-4o": {"rpm": 10}}}}')
    await pricing.get_by_label("Per-call prices", exact=True).fill('{"gpt-4o": -1}')
    await expect(page.get_by_test_id("error-ModelPrice")).to_contain_text('"gpt-4o" needs a price')
    await pricing.get_by_label("Per-call prices", exact=True).fill('{"gpt-4o": 0.01}')
    await pricing.get_by_label("Groups users may pick", exact=True).fill('{"vip": "Faster channels"}')
    # leaving with unsaved edits asks first
    await page.get_by_role("menu").first.get_by_role("link", name="Tokens", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Leave without saving?")
    await expect(dialog).to_contain_text("Per-call prices, groups and limits")
    await dialog.get_by_role("button", name="Stay").click()
    await pricing.get_by_role("button", name="Save Per-call prices, groups and limits").click()
    await expect(page.get_by_text("3 settings saved")).to_be_visible()
    opts = await options(console)
    assert json.loads(opts["ModelPrice"]) == {"gpt-4o": 0.01}
    assert json.loads(opts["GroupLimits"]) == {"default": {"rpm": 60, "models": {"gpt-4o": {"rpm": 10}}}}
    assert json.loads(opts["UserUsableGroups"]) == {"vip": "Faster channels"}
    # the error-log switch saves at once
    await page.get_by_test_id("card-logs").get_by_test_id("opt-LogErrorEnabled").click()
    await expect(page.get_by_text(re.compile(r"^Saved: Log failed requests (on|off)$"))).to_be_visible()

    await page.set_viewport_size(PHONE)
    await pricing.scroll_into_view_if_needed()
    await fits(page, 390)
    await shot(page, "lim-settings-billing-390")


# ------------------------------------------------------------------------------------- top up
async def test_plan_buy_buttons_line_up(page, console):
    await set_option(console, "TopupPlans", [
        {"name": "Starter", "price": "$5", "quota": 2500000},
        {"name": "Team", "price": "$50", "quota": 30000000,
         "note": "20% more quota per dollar, priority support, and a long note that wraps over several lines"},
        {"name": "Scale", "price": "$200", "quota": 125000000, "note": "Short"},
    ])
    await set_option(console, "TopUpLink", "https://shop.example.com/buy")
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/topup")
    buttons = page.get_by_test_id("topup-plan-buy")
    await expect(buttons).to_have_count(3)
    ys = [(await buttons.nth(i).bounding_box())["y"] for i in range(3)]  # type: ignore[index]
    assert max(ys) - min(ys) <= 1, ys
    await page.get_by_test_id("topup-plans").scroll_into_view_if_needed()
    await shot(page, "lim-topup-1440")
    await page.set_viewport_size(PHONE)
    await fits(page, 390)
    await shot(page, "lim-topup-390")
