"""The list pages' polish (issue 14): error logs visible and filterable, channel names, column
sorting, a page count and filter suggestions on Logs; a failed channel test shown as failed,
a "Test all" summary, one duration format, clean balance errors, the model input's Enter and
sorting on Channels; token models, chat-app presets and the Chat button on Tokens; who
redeemed a code; stacked cards at 390 px; quota with its exact value on hover; and the
screenshots ``polish-<page>-<width>-<theme>.png`` with realistic data, failures included."""

from __future__ import annotations

import re
from typing import Any

import openai
from playwright.async_api import Page, expect

from tests.e2e.conftest import create_codes, fits, login, shot, shot_light_dark, toggle_theme

CHAT = [{"role": "user", "content": "Hello"}]


async def seed(console: Any) -> dict[str, Any]:
    """Three channels (one flaky), two tokens, a dozen requests of which some fail, a failed
    channel test: the data an operator sees after a day."""
    await console.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "0"})
    good = await console.channel(name="Primary OpenAI", models="gpt-4o-mini,gpt-3.5-turbo", priority=10)
    claude = await console.channel(name="Claude relay", models="claude-3-5-sonnet-20240620", priority=5)
    flaky = await console.channel(name="Flaky upstream", key="fail-500", models="gpt-4o", priority=0)
    key = await console.token(name="web-app")
    await console.token(name="batch-jobs", unlimited_quota=False, remain_quota=500000, models="gpt-4o-mini,gpt-4o")
    client = console.client(key)
    for model in ["gpt-4o-mini", "gpt-3.5-turbo", "claude-3-5-sonnet-20240620", "gpt-4o-mini"] * 2:
        await client.chat.completions.create(model=model, messages=CHAT)
    failures = 0
    for _ in range(3):
        try:
            await client.chat.completions.create(model="gpt-4o", messages=CHAT)
        except openai.APIStatusError:
            failures += 1
    assert failures == 3
    await console.ok("GET", f"/api/channel/test/{good}")
    _, r = await console.api("GET", f"/api/channel/test/{flaky}")
    assert r["success"] is False, r
    await console.ctx.ledger.flush()
    return {"good": good, "claude": claude, "flaky": flaky, "key": key}


async def no_sideways_scroll(page: Page, testid: str) -> None:
    """The table's scrolling body is not wider than what shows (no horizontal scrollbar)."""
    widths = await page.get_by_test_id(testid).evaluate(
        """el => { const b = el.querySelector('.n-data-table-base-table-body') || el.querySelector('.n-scrollbar-container');
                   return [b.scrollWidth, b.clientWidth] }""")
    assert widths[0] <= widths[1] + 1, widths


# ------------------------------------------------------------------------------------- logs
async def test_logs_errors_names_sorting_total_and_suggestions(page, console):
    ids = await seed(console)
    await page.set_viewport_size({"width": 1440, "height": 900})
    await login(page, console)
    await page.goto("/log")
    table = page.get_by_test_id("log-table")
    await expect(table.locator("tbody tr").first).to_be_visible()

    # the channel by name, never "#1"
    await expect(table.get_by_test_id("log-channel").filter(has_text="Primary OpenAI").first).to_be_visible()
    await expect(table.get_by_test_id("log-channel").filter(has_text=re.compile(r"^#\d+$"))).to_have_count(0)
    # a page count from total
    await expect(page.get_by_test_id("log-page")).to_have_text("Page 1 of 2")
    await expect(page.get_by_test_id("log-rows")).to_contain_text("13 logs")
    await no_sideways_scroll(page, "log-table")
    await expect(table.locator("th", has_text="Elapsed")).to_be_visible()
    await expect(table.locator("th", has_text="Detail")).to_be_visible()
    # full model names (not cut)
    cell = table.locator(".model", has_text="claude-3-5-sonnet-20240620").first
    assert await cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    await shot(page, "polish-log-1440-light")

    # the Error type filter: status, error code and message in the row
    await page.get_by_test_id("log-type").click()
    await page.locator(".n-base-select-option", has_text=re.compile(r"^Error$")).click()
    await page.get_by_role("button", name="Search").click()
    err = table.get_by_test_id("log-error").first
    await expect(err).to_contain_text("HTTP 500")
    await expect(table.locator("tbody tr").filter(has=page.get_by_test_id("log-error"))).to_have_count(3)
    [row] = (await console.logs(type=6))[:1]
    # the expanded row: the retry chain with the channel's name, and the request id
    await table.locator("tbody tr").first.locator(".n-data-table-expand-trigger").click()
    detail = page.get_by_test_id("log-detail")
    await expect(detail.get_by_test_id("log-retries")).to_contain_text("Flaky upstream")
    await expect(detail.get_by_test_id("log-retries")).to_contain_text("HTTP 500")
    await expect(detail).to_contain_text(row["request_id"])
    await expect(detail).not_to_contain_text("(ID 0)")
    await toggle_theme(page)
    await shot(page, "polish-log-1440-dark")
    await toggle_theme(page)

    # suggestions: "claude" finds the model by part of its name
    await page.get_by_role("button", name="Reset", exact=True).click()
    await page.get_by_label("Model name").fill("claude")
    await expect(page.locator(".n-base-select-option", has_text="claude-3-5-sonnet-20240620")).to_be_visible()
    await page.get_by_label("Model name").press("Escape")
    await page.get_by_role("button", name="Search").click()
    await expect(table.locator("tbody tr").filter(has_text="claude-3-5-sonnet")).to_have_count(2)
    await page.get_by_role("button", name="Reset", exact=True).click()

    # sorting by quota and elapsed time goes through the API
    async with page.expect_request(lambda r: "sort=quota" in r.url and "order=desc" in r.url):
        await table.locator("th", has_text="Quota").click()
    async with page.expect_request(lambda r: "sort=quota" in r.url and "order=asc" in r.url):
        await table.locator("th", has_text="Quota").click()
    async with page.expect_request(lambda r: "sort=elapsed_time" in r.url):
        await table.locator("th", has_text="Elapsed").click()

    # test rows: no "User: - (ID 0)"
    await page.get_by_test_id("log-type").click()
    await page.locator(".n-base-select-option", has_text=re.compile(r"^Test$")).click()
    await page.get_by_role("button", name="Search").click()
    await expect(table.locator("tbody tr").first).to_contain_text("Test")
    await table.locator("tbody tr").first.locator(".n-data-table-expand-trigger").click()
    await expect(page.get_by_test_id("log-detail").first).not_to_contain_text("ID 0")
    assert ids["flaky"]


async def test_logs_at_390_are_cards_and_the_expanded_row_fits(page, console):
    await seed(console)
    await page.set_viewport_size({"width": 390, "height": 844})
    await login(page, console)
    await page.goto("/log")
    cards = page.get_by_test_id("row-card")
    await expect(cards.first).to_be_visible()
    await expect(cards.filter(has_text="HTTP 500").first).to_be_visible()
    await fits(page)
    await page.get_by_test_id("log-table").locator(".n-data-table-expand-trigger").first.click()
    detail = page.get_by_test_id("log-detail")
    await expect(detail).to_be_visible()
    box = await detail.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    await fits(page)
    await shot_light_dark(page, "polish-log-390")


# ------------------------------------------------------------------------------------ channels
async def test_channels_failed_test_summary_durations_sorting_and_fit(page, console):
    ids = await seed(console)
    await page.set_viewport_size({"width": 1440, "height": 900})
    await login(page, console)
    await page.goto("/channel")
    table = page.get_by_test_id("channel-table")
    flaky = table.locator("tbody tr", has_text="Flaky upstream")
    await expect(flaky.get_by_test_id("channel-test-failed")).to_have_text("Failed")
    await expect(flaky.get_by_test_id("channel-status")).to_have_attribute("data-state", "test-failed")
    good = table.locator("tbody tr", has_text="Primary OpenAI")
    await expect(good.get_by_test_id("channel-test-failed")).to_have_count(0)
    # the error on hover
    await flaky.get_by_test_id("channel-test-failed").hover()
    await expect(page.locator(".n-tooltip").filter(has_text="Last test failed")).to_contain_text("500")
    await page.mouse.move(5, 5)
    # the error rate of the last 7 days
    await expect(flaky.get_by_test_id("channel-error-rate")).to_contain_text("100%")

    # the table fits at 1440 px with the menu open: "Used" is visible, not under the actions
    await no_sideways_scroll(page, "channel-table")
    used = table.locator("th", has_text="Used")
    actions = table.locator("th", has_text="Actions")
    ub, ab = await used.bounding_box(), await actions.bounding_box()
    assert ub and ab and ub["x"] + ub["width"] <= ab["x"] + 1, (ub, ab)
    # used quota: formatted, the exact value on hover
    amount = good.get_by_test_id("quota-amount")
    await expect(amount).to_have_text(re.compile(r"^\$\d"))
    await expect(amount).to_have_attribute("title", re.compile(r"quota points"))
    await shot(page, "polish-channel-1440-light")

    # one duration format: the toast says what the row says
    await page.get_by_role("button", name="Test “Primary OpenAI”", exact=True).click()
    toast = page.locator(".n-message", has_text="“Primary OpenAI”: OK in")
    await expect(toast).to_be_visible()
    text = await toast.inner_text()
    assert "0.00 s" not in text
    cell = (await good.locator("td[data-col-key=response_time]").inner_text()).strip()
    assert cell and cell in text, (cell, text)

    # sorting (One API: response time, balance, priority, used)
    await table.locator("th", has_text="Priority").click()
    names = await table.locator("tbody tr .name").all_inner_texts()
    assert names == ["Primary OpenAI", "Claude relay", "Flaky upstream"], names  # highest first
    await table.locator("th", has_text="Priority").click()
    names = await table.locator("tbody tr .name").all_inner_texts()
    assert names == ["Flaky upstream", "Claude relay", "Primary OpenAI"], names
    await table.locator("th", has_text="Used").click()
    await table.locator("th", has_text="Response").click()

    # a balance check answered by an HTML page shows a clean message
    await good.get_by_role("button", name=re.compile("Update the balance")).click()
    err = page.locator(".n-message", has_text="Balance of “Primary OpenAI” not updated")
    await expect(err).to_be_visible()
    assert "<" not in await err.inner_text()

    # Test all: a summary when done
    await page.get_by_role("button", name="Test all").click()
    summary = page.locator(".n-message", has_text="Tested 3 channels: 2 passed, 1 failed")
    await expect(summary).to_be_visible(timeout=60000)
    await expect(summary).to_contain_text("Flaky upstream")
    await toggle_theme(page)
    await page.wait_for_timeout(300)
    await shot(page, "polish-channel-1440-dark")
    assert ids


async def test_channel_model_input_enter_adds_the_typed_model(page, console):
    await login(page, console)
    await page.goto("/channel/add")
    sel = page.get_by_test_id("channel-models")
    await sel.click()
    await page.keyboard.type("gpt-4o-mini")
    await page.keyboard.press("Enter")
    await page.keyboard.type("gpt-4o")
    await page.keyboard.press("Enter")
    tags = sel.locator(".n-tag")
    await expect(tags.filter(has_text=re.compile(r"^gpt-4o-mini$"))).to_have_count(1)
    await expect(tags.filter(has_text=re.compile(r"^gpt-4o$"))).to_have_count(1)
    # Enter on an already chosen model never removes it
    await page.keyboard.type("gpt-4o-mini")
    await page.keyboard.press("Enter")
    await expect(tags.filter(has_text=re.compile(r"^gpt-4o-mini$"))).to_have_count(1)
    await expect(page.get_by_text("2 selected")).to_be_visible()


async def test_channels_at_390_are_cards_with_the_test_button(page, console):
    await seed(console)
    await page.set_viewport_size({"width": 390, "height": 844})
    await login(page, console)
    await page.goto("/channel")
    card = page.get_by_test_id("row-card").filter(has_text="Flaky upstream")
    await expect(card).to_be_visible()
    for text in ["Failed", "Used", "Balance", "Priority"]:
        await expect(card).to_contain_text(text)
    await expect(card.get_by_role("button", name="Test “Flaky upstream”")).to_be_in_viewport()
    await fits(page)
    await shot_light_dark(page, "polish-channel-390")


# ------------------------------------------------------------------------------------- tokens
async def test_tokens_models_chat_presets_and_cards(page, console):
    await seed(console)
    await console.ok("PUT", "/api/option/", {"key": "ChatLink", "value": "https://chat.example.com"})
    await page.set_viewport_size({"width": 1440, "height": 900})
    await login(page, console)
    await page.goto("/token")
    batch = page.get_by_role("row").filter(has_text="batch-jobs")
    await expect(batch.get_by_test_id("token-models")).to_contain_text("gpt-4o-mini")
    await expect(batch.get_by_test_id("token-models")).to_contain_text("gpt-4o")
    web = page.get_by_role("row").filter(has_text="web-app")
    await expect(web.get_by_test_id("token-models")).to_have_text("All models")
    await expect(batch.get_by_test_id("quota-amount").last).to_have_attribute("title", re.compile(r"quota points"))
    [tok] = [t for t in await console.ok("GET", "/api/token/?p=0") if t["name"] == "batch-jobs"]

    # Chat: the operator's ChatLink with the key and this gateway (One API's onOpenLink)
    await page.evaluate("() => { window.__opened = []; window.open = (u) => { window.__opened.push(u); return null } }")
    await batch.get_by_test_id("token-chat").click()
    await batch.get_by_test_id("token-chat-apps").click()
    await page.locator(".n-dropdown-option", has_text="LobeChat").click()
    await batch.get_by_test_id("token-chat-apps").click()
    await page.locator(".n-dropdown-option", has_text="OpenCat").click()
    opened = await page.evaluate("window.__opened")
    key = "sk-" + tok["key"]
    assert opened[0] == f'https://chat.example.com/#/?settings={{"key":"{key}","url":"{console.url}"}}', opened
    assert opened[1].startswith("https://chat.example.com/?settings=") and key in opened[1] and console.url + "/v1" in opened[1]
    assert opened[2].startswith("opencat://team/join?domain=") and f"token={key}" in opened[2]
    await shot_light_dark(page, "polish-token-1440")

    # 390 px: cards, "Copy key" on screen
    await page.set_viewport_size({"width": 390, "height": 844})
    card = page.get_by_test_id("row-card").filter(has_text="batch-jobs")
    await expect(card).to_be_visible()
    copy = card.get_by_role("button", name="Copy key")
    await copy.scroll_into_view_if_needed()
    await expect(copy).to_be_in_viewport()
    box = await copy.bounding_box()
    assert box and box["x"] + box["width"] <= 390
    await fits(page)
    await shot_light_dark(page, "polish-token-390")


# -------------------------------------------------------------------- redemptions, users, top up
async def test_redemptions_show_who_redeemed_and_plural_copy(page, console):
    await login(page, console)
    await create_codes(page, "launch", "5", "5")
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Copy all").click()
    await expect(page.get_by_text("5 codes copied")).to_be_visible()
    await expect(page.get_by_text("code(s)")).to_have_count(0)
    codes = await console.ok("GET", "/api/redemption/search?keyword=launch")
    await console.ok("POST", "/api/user", {"username": "alice", "password": "alice-pass-1", "display_name": "Alice"})
    _, body = await console.api("POST", "/api/user/login", {"username": "alice", "password": "alice-pass-1"}, token=None)
    assert body["success"], body
    await console.ok("POST", "/api/user/topup", {"key": codes[0]["key"]})  # root redeems one
    await dialog.get_by_role("button", name="Done").click()
    await page.wait_for_url("**/redemption")
    listed = await console.ok("GET", "/api/redemption/?p=0")
    assert any(c["used_username"] == "root" for c in listed)
    await page.set_viewport_size({"width": 1440, "height": 900})
    await expect(page.get_by_test_id("redeemed-by").filter(has_text="by root (#1)")).to_be_visible()
    await shot_light_dark(page, "polish-redemption-1440")
    await page.set_viewport_size({"width": 390, "height": 844})
    card = page.get_by_test_id("row-card").filter(has_text="by root (#1)")
    await expect(card).to_be_visible()
    await expect(card.get_by_role("button", name="Copy code")).to_be_visible()
    await fits(page)
    await shot_light_dark(page, "polish-redemption-390")


async def test_users_and_top_up_cards_and_quota_hover(page, console):
    await seed(console)
    await console.ok("POST", "/api/user", {"username": "alice", "password": "alice-pass-1", "display_name": "Alice"})
    await page.set_viewport_size({"width": 1440, "height": 900})
    await login(page, console)
    await page.goto("/user")
    root = page.get_by_role("row").filter(has_text="root")
    await expect(root.get_by_test_id("quota-amount").first).to_have_attribute("title", re.compile(r"quota points"))
    await shot_light_dark(page, "polish-user-1440")
    await page.set_viewport_size({"width": 390, "height": 844})
    card = page.get_by_test_id("row-card").filter(has_text="alice")
    await expect(card).to_be_visible()
    await expect(card.get_by_role("button", name="Edit")).to_be_in_viewport()
    await fits(page)
    await shot_light_dark(page, "polish-user-390")

    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.goto("/topup")
    await expect(page.get_by_test_id("balance")).to_have_attribute("title", re.compile(r"quota points"))
    await shot_light_dark(page, "polish-topup-1440")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot_light_dark(page, "polish-topup-390")
