"""Operator power tools in the console (issue 15): the channel tag filter and the tag's actions,
row selection with a batch edit, copy, the channel form's tag / auto-enable time / expected test
reply, a token's key suffix, CSV export of the logs, users' registration time and the top-up
plans, at 1440 and 390 px. Screenshots ``ops-<page>-<width>.png``."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.conftest import login, shot

CHAT = [{"role": "user", "content": "Hello"}]
WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


async def seed_channels(console: Any) -> dict[str, int]:
    return {
        "a1": await console.channel(name="Pool A1", tag="pool-a", models="gpt-4o-mini", priority=3),
        "a2": await console.channel(name="Pool A2", tag="pool-a", models="gpt-4o-mini,gpt-4o"),
        "solo": await console.channel(name="Solo", models="gpt-3.5-turbo"),
    }


async def channel(console: Any, cid: int) -> dict[str, Any]:
    return await console.ok("GET", f"/api/channel/{cid}")  # type: ignore[no-any-return]


def row(page: Page, name: str):  # noqa: ANN201 - a Playwright locator
    return page.get_by_test_id("channel-table").locator("tbody tr").filter(
        has=page.locator(".name", has_text=re.compile("^" + re.escape(name) + "$")))


async def pick_tag(page: Page, tag: str) -> None:
    await page.get_by_test_id("channel-tag-filter").click()
    await page.locator(".n-base-select-option", has_text=re.compile("^" + re.escape(tag) + "$")).click()


async def fits(page: Page, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


# ------------------------------------------------------------------------------------ channels
async def test_tag_filter_disable_and_edit_by_tag(page, console):
    ids = await seed_channels(console)
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/channel")
    table = page.get_by_test_id("channel-table")
    await expect(table.locator("tbody tr")).to_have_count(3)
    # the tag shows in its rows
    await expect(row(page, "Pool A1").get_by_test_id("channel-tag")).to_have_text("pool-a")
    await expect(row(page, "Solo").get_by_test_id("channel-tag")).to_have_count(0)

    async with page.expect_request(lambda r: "/api/channel/?" in r.url and "tag=pool-a" in r.url):
        await pick_tag(page, "pool-a")
    await expect(table.locator("tbody tr")).to_have_count(2)
    bar = page.get_by_test_id("channel-tag-bar")
    await expect(bar).to_contain_text("pool-a")

    # disable every channel with the tag (confirmed in a dialog): the rows change status
    await bar.get_by_role("button", name="Disable all").click()
    dialog = page.get_by_role("dialog").filter(has_text="Disable every channel tagged")
    await dialog.get_by_role("button", name="Disable all").click()
    await expect(page.locator(".n-message", has_text="Disabled 2 channels tagged “pool-a”")).to_be_visible()
    await expect(dialog).to_have_count(0)
    await expect(table.get_by_test_id("channel-status").filter(has_text="Manually disabled")).to_have_count(2)
    assert (await channel(console, ids["a1"]))["status"] == 2
    assert (await channel(console, ids["a2"]))["status"] == 2
    assert (await channel(console, ids["solo"]))["status"] == 1
    await shot(page, "ops-channel-1440")

    # edit all: the priority of every channel with the tag
    await bar.get_by_role("button", name="Edit all").click()
    ops = page.get_by_test_id("channel-ops-dialog")
    await expect(ops).to_contain_text("Edit every channel tagged “pool-a”")
    await ops.get_by_role("textbox", name="Priority", exact=True).fill("9")
    await ops.get_by_role("textbox", name="Priority", exact=True).press("Tab")
    await expect(ops.get_by_role("checkbox", name="Priority", exact=True)).to_be_checked()
    await shot(page, "ops-channel-tag-dialog-1440")
    await ops.get_by_test_id("ops-apply").click()
    await expect(page.locator(".n-message", has_text="Updated 2 channels tagged “pool-a”")).to_be_visible()
    assert (await channel(console, ids["a1"]))["priority"] == 9
    assert (await channel(console, ids["a2"]))["priority"] == 9
    assert (await channel(console, ids["solo"]))["priority"] == 0

    # enable them again; clearing the filter shows every channel
    await bar.get_by_role("button", name="Enable all").click()
    await page.get_by_role("dialog").filter(has_text="Enable every channel tagged").get_by_role("button", name="Enable all").click()
    await expect(table.get_by_test_id("channel-status").filter(has_text="Enabled")).to_have_count(2)
    await page.get_by_test_id("channel-tag-filter").hover()
    await page.get_by_test_id("channel-tag-filter").locator(".n-base-clear").click()
    await expect(table.locator("tbody tr")).to_have_count(3)


async def test_batch_edit_of_two_selected_channels_and_copy(page, console):
    ids = await seed_channels(console)
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/channel")
    await expect(row(page, "Solo")).to_be_visible()
    await row(page, "Pool A2").locator(".n-checkbox").click()
    await row(page, "Solo").locator(".n-checkbox").click()
    sel = page.get_by_test_id("channel-selection-bar")
    await expect(sel).to_contain_text("2 channels selected")
    await sel.get_by_role("button", name="Batch edit").click()

    ops = page.get_by_test_id("channel-ops-dialog")
    await expect(ops).to_contain_text("Edit 2 channels")
    # nothing ticked: a clear message, nothing sent
    await ops.get_by_test_id("ops-apply").click()
    await expect(ops).to_contain_text("Tick at least one field to change")
    await ops.get_by_test_id("ops-group").click()
    await page.keyboard.type("vip")
    await page.locator(".n-base-select-option", has_text=re.compile("^vip$")).click()
    await page.keyboard.press("Escape")
    await ops.get_by_role("textbox", name="Priority", exact=True).fill("7")
    await ops.get_by_role("textbox", name="Weight", exact=True).fill("3")
    await ops.get_by_test_id("ops-status").get_by_text("Disabled").click()
    await ops.get_by_role("textbox", name="Tag", exact=True).fill("batch-x")
    # a bad pattern is refused before anything is sent
    await ops.get_by_role("textbox", name="Expected test reply", exact=True).fill("(unclosed")
    await expect(ops).to_contain_text("Not a valid regular expression")
    await ops.get_by_role("textbox", name="Expected test reply", exact=True).fill("")
    await ops.get_by_role("checkbox", name="Expected test reply", exact=True).click()
    await shot(page, "ops-channel-batch-1440")
    await ops.get_by_test_id("ops-apply").click()
    await expect(page.locator(".n-message", has_text="Updated 2 channels")).to_be_visible()
    await expect(sel).to_have_count(0)
    for cid in (ids["a2"], ids["solo"]):
        c = await channel(console, cid)
        assert (c["group"], c["priority"], c["weight"], c["status"], c["tag"]) == ("vip", 7, 3, 2, "batch-x"), c
    a1 = await channel(console, ids["a1"])
    assert (a1["group"], a1["priority"], a1["status"], a1["tag"]) == ("default", 3, 1, "pool-a"), a1
    await expect(row(page, "Solo").get_by_test_id("channel-tag")).to_have_text("batch-x")

    # copy: a new row " (copy)" with the same settings; the toast offers to edit it
    await row(page, "Pool A1").get_by_role("button", name="Copy “Pool A1”").click()
    await expect(page.locator(".n-message", has_text="“Pool A1” copied as #")).to_be_visible()
    await expect(row(page, "Pool A1 (copy)")).to_be_visible()
    copies = [c for c in await console.ok("GET", "/api/channel/?p=0") if c["name"] == "Pool A1 (copy)"]
    assert len(copies) == 1 and copies[0]["tag"] == "pool-a" and copies[0]["priority"] == 3, copies
    await page.locator(".n-message").get_by_role("button", name="Edit the copy").click()
    await page.wait_for_url(f"**/channel/edit/{copies[0]['id']}")


async def test_channel_tools_reachable_at_390(page, console):
    ids = await seed_channels(console)
    await page.set_viewport_size(PHONE)
    await login(page, console)
    await page.goto("/channel")
    card = page.get_by_test_id("row-card").filter(has_text="Pool A1")
    await expect(card.get_by_test_id("channel-tag")).to_have_text("pool-a")
    # the tag filter and its actions
    await expect(page.get_by_test_id("channel-tag-filter")).to_be_in_viewport()
    await pick_tag(page, "pool-a")
    await expect(page.get_by_test_id("row-card")).to_have_count(2)
    bar = page.get_by_test_id("channel-tag-bar")
    for name in ("Enable all", "Disable all", "Edit all"):
        b = bar.get_by_role("button", name=name)
        await expect(b).to_be_in_viewport()
        box = await b.bounding_box()
        assert box and box["x"] + box["width"] <= 390, (name, box)
    await fits(page, 390)
    # selection and batch edit
    rows = page.get_by_test_id("channel-table").locator("tbody tr")
    await rows.nth(0).locator(".n-checkbox").click()
    await rows.nth(1).locator(".n-checkbox").click()
    sel = page.get_by_test_id("channel-selection-bar")
    await expect(sel).to_contain_text("2 channels selected")
    await fits(page, 390)
    await shot(page, "ops-channel-390")
    await sel.get_by_role("button", name="Batch edit").click()
    ops = page.get_by_test_id("channel-ops-dialog")
    await ops.get_by_role("textbox", name="Weight", exact=True).fill("5")
    box = await ops.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    await shot(page, "ops-channel-batch-390")
    await ops.get_by_test_id("ops-apply").click()
    await expect(page.locator(".n-message", has_text="Updated 2 channels")).to_be_visible()
    assert (await channel(console, ids["a1"]))["weight"] == 5
    assert (await channel(console, ids["a2"]))["weight"] == 5
    # copy from the card's menu
    await card.get_by_role("button", name="Actions for “Pool A1”").click()
    await page.locator(".n-dropdown-option", has_text=re.compile("^Copy$")).click()
    await expect(page.get_by_test_id("row-card").filter(has_text="Pool A1 (copy)")).to_be_visible()


async def test_channel_form_tag_auto_enable_and_test_expect_round_trip(page, console):
    ids = await seed_channels(console)
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto(f"/channel/edit/{ids['solo']}")
    await page.get_by_label("Tag", exact=True).fill("night-pool")
    expect_input = page.get_by_label("Expected test reply", exact=True)
    await expect_input.fill("([a-z")
    await expect(page.get_by_text("Not a valid regular expression")).to_be_visible()
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".n-message", has_text="Please fix the highlighted fields")).to_be_visible()
    # Python's inline flags pass the browser's check (the server compiles the pattern)
    await expect_input.fill("(?i)hello|hi")
    await expect(page.get_by_text("Not a valid regular expression")).to_have_count(0)

    # the auto-enable time: a note while the channel is enabled; it means something once disabled
    picker = page.get_by_test_id("channel-auto-enable").locator("input")
    await picker.fill("2030-01-02 03:04:05")
    await picker.press("Enter")
    await page.get_by_label("Tag", exact=True).click()
    await expect(page.get_by_test_id("channel-auto-enable-note")).to_contain_text("only matters once it is disabled")
    await page.get_by_test_id("channel-enabled").click()
    await expect(page.get_by_test_id("channel-auto-enable-note")).to_have_count(0)
    await expect(page.get_by_text("it is enabled again at this time")).to_be_visible()
    await page.get_by_label("Tag", exact=True).scroll_into_view_if_needed()
    await shot(page, "ops-channel-edit-1440")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/channel")
    c = await channel(console, ids["solo"])
    want = await page.evaluate("new Date(2030, 0, 2, 3, 4, 5).getTime() / 1000")
    assert (c["tag"], c["test_expect"], c["auto_enable_at"], c["status"]) == ("night-pool", "(?i)hello|hi", want, 2), c
    # the list says when it comes back
    await expect(row(page, "Solo").get_by_test_id("channel-auto-enable")).to_contain_text("2030-01-02")

    # the saved values come back into the form; clearing the time sends 0
    await page.goto(f"/channel/edit/{ids['solo']}")
    await expect(page.get_by_label("Tag", exact=True)).to_have_value("night-pool")
    await expect(page.get_by_label("Expected test reply", exact=True)).to_have_value("(?i)hello|hi")
    await expect(picker).to_have_value("2030-01-02 03:04:05")
    await page.get_by_test_id("channel-auto-enable").hover()
    await page.get_by_test_id("channel-auto-enable").locator(".n-base-clear").click()
    await page.set_viewport_size(PHONE)
    await fits(page, 390)
    await page.get_by_label("Tag", exact=True).scroll_into_view_if_needed()
    await shot(page, "ops-channel-edit-390")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/channel")
    assert (await channel(console, ids["solo"]))["auto_enable_at"] == 0


# ------------------------------------------------------------------------------------- tokens
async def test_token_key_suffix(page, console):
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/token/add")
    await page.get_by_label("Name", exact=True).fill("ci")
    suffix = page.get_by_label("Key suffix (optional)")
    await suffix.fill("ab")
    await expect(page.get_by_text("Use 4 to 32 characters")).to_be_visible()
    await suffix.fill("team-ci")
    await expect(page.get_by_text("Only letters, digits and _")).to_be_visible()
    await suffix.fill("team_ci01")
    await expect(page.get_by_test_id("token-key-preview")).to_contain_text("team_ci01")
    await shot(page, "ops-token-1440")
    await page.get_by_role("button", name="Create token").click()
    key = await page.get_by_test_id("new-token-key").inner_text()
    assert re.fullmatch(r"sk-[A-Za-z0-9]{16}team_ci01", key.strip()), key
    await page.get_by_role("button", name="Done").click()
    await page.wait_for_url("**/token")

    # a suffix already taken: the server's message, the form stays
    await page.set_viewport_size(PHONE)
    await page.goto("/token/add")
    await page.get_by_label("Name", exact=True).fill("ci2")
    await page.get_by_label("Key suffix (optional)").fill("team_ci01")
    await fits(page, 390)
    await shot(page, "ops-token-390")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.locator(".n-message", has_text="taken")).to_be_visible()
    assert page.url.endswith("/token/add")


# --------------------------------------------------------------------------------------- logs
def read_csv(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


async def make_logs(console: Any) -> None:
    await console.channel(name="Main", models="gpt-4o-mini,gpt-3.5-turbo")
    key = await console.token(name="exporter")
    client = console.client(key)
    for model in ("gpt-4o-mini", "gpt-3.5-turbo", "gpt-4o-mini"):
        await client.chat.completions.create(model=model, messages=CHAT)
    await console.ctx.ledger.flush()


async def test_logs_export_csv_with_the_filters(page, console):
    await make_logs(console)
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/log")
    await expect(page.get_by_test_id("log-table").locator("tbody tr").first).to_be_visible()
    await page.get_by_label("Model name").fill("gpt-4o-mini")
    await page.get_by_label("Model name").press("Escape")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("log-table").locator("tbody tr")).to_have_count(2)
    export = page.get_by_test_id("log-export")
    await expect(export).to_have_attribute("href", re.compile(r"^/api/log/export\?.*model_name=gpt-4o-mini"))
    await shot(page, "ops-log-1440")
    async with page.expect_download() as info:
        await export.click()
    dl = await info.value
    assert dl.suggested_filename.startswith("onerelay-logs-") and dl.suggested_filename.endswith(".csv")
    rows = read_csv(await dl.path())
    assert rows[0][:6] == ["id", "time", "type", "username", "token_name", "model_name"], rows[0]
    body = rows[1:]
    assert len(body) == 2 and all(r[5] == "gpt-4o-mini" and r[2] == "consume" and r[4] == "exporter" for r in body), body

    # a user exports their own logs (/api/log/self/export), at 390 px too
    await console.ok("POST", "/api/user", {"username": "alice", "password": "alice-pass-1"})
    ctx = page.context
    await ctx.clear_cookies()
    await login(page, console, "alice", "alice-pass-1")
    await page.set_viewport_size(PHONE)
    await page.goto("/log")
    export = page.get_by_test_id("log-export")
    await expect(export).to_be_in_viewport()
    await expect(export).to_have_attribute("href", re.compile(r"^/api/log/self/export"))
    await fits(page, 390)
    await shot(page, "ops-log-390")
    async with page.expect_download() as info:
        await export.click()
    rows = read_csv(await (await info.value).path())
    assert rows[0][0] == "id" and all(r[3] == "alice" for r in rows[1:]), rows


# -------------------------------------------------------------------------------------- users
async def test_users_show_the_registration_time(page, console):
    before = time.time()
    await console.ok("POST", "/api/user", {"username": "alice", "password": "alice-pass-1", "display_name": "Alice"})
    listed = {u["username"]: u for u in await console.ok("GET", "/api/user/?p=0")}
    assert before - 2 <= listed["alice"]["created_time"] <= time.time() + 2, listed["alice"]
    found = await console.ok("GET", "/api/user/search?keyword=alice")
    assert found[0]["created_time"] == listed["alice"]["created_time"]
    shown = await page.evaluate(
        """t => { const d = new Date(t * 1000), p = n => String(n).padStart(2, '0');
                  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}` }""",
        listed["alice"]["created_time"])
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/user")
    table_row = page.get_by_role("row").filter(has_text="alice")
    await expect(page.get_by_role("columnheader", name="Registered")).to_be_visible()
    await expect(table_row.get_by_test_id("user-registered")).to_have_text(shown)
    await expect(table_row.get_by_test_id("user-registered")).to_have_attribute("title", re.compile("^Registered "))
    await shot(page, "ops-user-1440")
    await page.set_viewport_size(PHONE)
    card = page.get_by_test_id("row-card").filter(has_text="alice")
    await expect(card).to_contain_text("Registered")
    await expect(card.get_by_test_id("user-registered")).to_have_text(shown)
    await fits(page, 390)
    await shot(page, "ops-user-390")


# ------------------------------------------------------------------------------------- top up
async def test_top_up_shows_plans_bonus_period_and_rebate(page, console):
    now = int(time.time())
    plans = [
        {"name": "Starter", "price": "$5", "quota": 2500000, "note": "For trying things out"},
        {"name": "Team", "price": "$50", "quota": 30000000, "note": "20% more quota per dollar"},
        {"name": "Scale", "price": 200, "quota": 125000000},
    ]
    await console.ok("PUT", "/api/option/", {"key": "TopupPlans", "value": json.dumps(plans)})
    await console.ok("PUT", "/api/option/", {"key": "TopupBonusPeriods", "value": json.dumps(
        [{"name": "Launch week", "from": now - 3600, "to": now + 7 * 86400, "ratio": 1.2},
         {"name": "Over", "from": now - 7200, "to": now - 3600, "ratio": 3}])})
    await console.ok("PUT", "/api/option/", {"key": "InviteRebateRatio", "value": "0.05"})
    await console.ok("PUT", "/api/option/", {"key": "TopUpLink", "value": "https://shop.example.com/buy"})
    await page.set_viewport_size(WIDE)
    await login(page, console)
    await page.goto("/topup")
    cards = page.get_by_test_id("topup-plan")
    await expect(cards).to_have_count(3)
    starter = cards.filter(has_text="Starter")
    await expect(starter).to_contain_text("$5")
    await expect(starter).to_contain_text("For trying things out")
    await expect(starter.get_by_test_id("quota-amount")).to_have_text("$5.00")
    await expect(cards.filter(has_text="Scale")).to_contain_text("200")
    bonus = page.get_by_test_id("topup-bonus")
    await expect(bonus).to_contain_text("Launch week: top-ups count +20% more")
    await expect(bonus).to_contain_text("1.2×")
    await expect(bonus).not_to_contain_text("Over")
    await expect(page.get_by_test_id("topup-rebate")).to_contain_text("5%")
    await page.evaluate("() => { window.__opened = []; window.open = (u) => { window.__opened.push(u); return null } }")
    await starter.get_by_role("button", name="Buy").click()
    assert (await page.evaluate("window.__opened"))[0].startswith("https://shop.example.com/buy?username=root")
    await shot(page, "ops-topup-1440")
    await page.set_viewport_size(PHONE)
    await expect(cards.first).to_be_visible()
    await fits(page, 390)
    await cards.first.scroll_into_view_if_needed()
    await shot(page, "ops-topup-390")

    # no plans, no period, no rebate: nothing extra shows
    await console.ok("PUT", "/api/option/", {"key": "TopupPlans", "value": "[]"})
    await console.ok("PUT", "/api/option/", {"key": "TopupBonusPeriods", "value": "[]"})
    await console.ok("PUT", "/api/option/", {"key": "InviteRebateRatio", "value": "0"})
    await page.reload()
    await expect(page.get_by_test_id("balance")).to_be_visible()
    await expect(page.get_by_test_id("topup-plans")).to_have_count(0)
    await expect(page.get_by_test_id("topup-bonus")).to_have_count(0)
    await expect(page.get_by_test_id("topup-rebate")).to_have_count(0)
