"""Dashboard and Logs: the charts and stat cards follow real usage, the logs table, its
filters, stat and row details, and a common user seeing only their own logs."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import login, shot

CHAT = [{"role": "user", "content": "Hello"}]


async def _relay_one(console) -> None:
    """One chat completion through a channel on the fake upstream, flushed to the logs."""
    await console.channel()
    key = await console.token()
    r = await console.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=CHAT)
    assert r.choices[0].message.content
    await console.ctx.ledger.flush()


async def test_dashboard_and_logs_follow_a_request(page, browser, console):
    await page.emulate_media(reduced_motion="reduce")  # charts draw at once (steady screenshots)
    await login(page, console)

    # before any request: the dashboard's empty state points at the tokens page
    await page.goto("/dashboard")
    empty = page.get_by_test_id("dashboard-empty")
    await expect(empty).to_contain_text("No usage in the last 7 days")
    await expect(empty.get_by_role("button", name="Create a token")).to_be_visible()
    await expect(page.get_by_test_id("api-base-url")).to_have_text(console.url + "/v1")
    await shot(page, "dashboard-empty")

    await _relay_one(console)

    # Refresh: the charts replace the empty state and count the request
    await page.get_by_role("button", name="Refresh").click()
    await expect(page.get_by_test_id("requests-summary")).to_have_text("1 request in 7 days")
    await expect(page.get_by_test_id("chart-consumption").locator("canvas").first).to_be_visible()
    await expect(page.get_by_test_id("chart-requests").locator("canvas").first).to_be_visible()
    await expect(page.get_by_test_id("share-legend")).to_contain_text("gpt-3.5-turbo")
    await expect(page.get_by_test_id("stat-requests")).to_contain_text("1")
    await expect(page.get_by_test_id("dashboard-empty")).to_have_count(0)
    await expect(page.get_by_test_id("dashboard-charts")).to_have_attribute("aria-busy", "false")
    assert not re.search(r"\$0\.00\b(?!\d)", await page.get_by_test_id("consumption-summary").inner_text())
    await shot(page, "dashboard")

    await page.get_by_test_id("theme-toggle").click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await page.mouse.move(600, 700)  # no tooltip over the screenshot
    await expect(page.get_by_test_id("requests-summary")).to_have_text("1 request in 7 days")
    await shot(page, "dashboard-dark")
    await page.get_by_test_id("theme-toggle").click()

    # logs: the consume row, a non-zero stat, the request id in the row details
    logs = await console.logs(type=2)
    assert len(logs) == 1 and logs[0]["quota"] > 0
    await page.goto("/log")
    table = page.get_by_test_id("log-table")
    row = table.locator("tbody tr", has_text="gpt-3.5-turbo")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Consume")
    await expect(row).to_contain_text("root")
    stat = page.get_by_test_id("log-stat-value")
    await expect(stat).to_have_text(re.compile(r"^\$0\.0*[1-9]"))  # non-zero, in USD
    await row.locator(".n-data-table-expand-trigger").click()
    await expect(page.get_by_test_id("log-detail")).to_contain_text(logs[0]["request_id"])
    await shot(page, "logs")

    # a model nobody used: the empty state, and the stat follows the filter
    await page.get_by_label("Model name").fill("no-such-model")
    await page.get_by_label("Model name").press("Enter")
    await expect(table).to_contain_text("No logs match these filters")
    await expect(stat).to_have_text("$0.00")
    await page.get_by_role("button", name="Reset", exact=True).click()
    await expect(row.first).to_be_visible()
    await expect(page.get_by_label("Model name")).to_have_value("")

    # 390 px: the filters stack, the table scrolls inside its card
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    pg = await ctx.new_page()
    await login(pg, console)
    await pg.goto("/log")
    await expect(pg.get_by_test_id("log-table").locator("tbody tr", has_text="gpt-3.5-turbo")).to_have_count(1)
    width = await pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the logs page scrolls sideways at 390 px ({width} px wide)"
    await shot(pg, "logs-390")
    await ctx.close()


async def test_common_user_sees_only_own_logs(page, console):
    await _relay_one(console)  # root's consume log
    alice = await console.ok("POST", "/api/user/", {"username": "alice", "password": "alice-pass-1"})
    await console.ok("POST", "/api/topup", {"user_id": alice["id"], "quota": 500000, "remark": "Welcome credit for alice"})
    await console.ctx.ledger.flush()

    await login(page, console, "alice", "alice-pass-1")
    await page.goto("/log")
    table = page.get_by_test_id("log-table")
    await expect(table.locator("tbody tr", has_text="Welcome credit for alice")).to_have_count(1)
    await expect(table.locator("tbody tr", has_text="Top-up")).to_have_count(1)
    await expect(table.locator("tbody tr", has_text="gpt-3.5-turbo")).to_have_count(0)
    # no admin-only filters or columns
    await expect(page.get_by_label("Username")).to_have_count(0)
    await expect(page.get_by_label("Channel ID")).to_have_count(0)
    await expect(table.get_by_role("columnheader", name="User", exact=True)).to_have_count(0)

    # the type filter: alice has no consume logs
    await page.get_by_test_id("log-type").click()
    await page.locator(".n-base-select-option", has_text="Consume").click()
    await page.get_by_role("button", name="Search").click()
    await expect(table).to_contain_text("No logs match these filters")
    await expect(page.get_by_test_id("log-stat-value")).to_have_text("$0.00")

    # her dashboard: no usage yet, her own balance
    await page.goto("/dashboard")
    await expect(page.get_by_test_id("dashboard-empty")).to_be_visible()
    await expect(page.get_by_test_id("stat-remaining")).to_contain_text("$")
    await expect(page.get_by_test_id("stat-requests")).to_contain_text("0")
