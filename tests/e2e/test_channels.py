"""Channels pages: create through the form, test, inline priority/weight, enable/disable,
model-mapping validation, batch and rotate creation, Azure edit, delete; screenshots."""

from __future__ import annotations

import json
import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import login, shot


async def channels(console) -> list[dict]:
    return await console.ok("GET", "/api/channel/?p=0")  # type: ignore[no-any-return]


async def pick_option(page: Page, text: str) -> None:
    """Clicks an option of the open Naive UI select menu by its exact text."""
    opt = page.locator(".n-base-select-option").filter(has_text=re.compile(rf"^{re.escape(text)}$"))
    await opt.first.click()


async def add_model(page: Page, name: str) -> None:
    sel = page.get_by_test_id("channel-models")
    await sel.click()
    await page.keyboard.type(name)
    await pick_option(page, name)
    await page.keyboard.press("Escape")
    await expect(page.locator(".n-base-select-menu:visible")).to_have_count(0)


async def test_create_through_form_then_test(page, console):
    await login(page, console)
    await page.goto("/channel")
    await expect(page.get_by_text("No channels yet — add your first upstream key")).to_be_visible()
    await page.get_by_role("button", name="Add channel").first.click()
    await page.wait_for_url("**/channel/add")

    await page.get_by_test_id("channel-type").click()
    await page.keyboard.type("OpenAI")
    await pick_option(page, "OpenAI")
    await page.get_by_label("Name", exact=True).fill("Primary OpenAI")
    await page.get_by_label("Base URL").fill(console.upstream.url)
    await page.get_by_label("Key", exact=True).fill("sk-ok")
    await add_model(page, "gpt-3.5-turbo")
    await page.get_by_test_id("channel-type").scroll_into_view_if_needed()
    await shot(page, "channel-add")
    await page.get_by_role("button", name="Create channel").click()

    await page.wait_for_url("**/channel")
    row = page.get_by_role("row").filter(has_text="Primary OpenAI")
    await expect(row).to_be_visible()
    await expect(row.get_by_text("Not tested")).to_be_visible()
    [ch] = await channels(console)
    assert (ch["name"], ch["type"], ch["base_url"], ch["models"], ch["status"]) == \
        ("Primary OpenAI", 1, console.upstream.url, "gpt-3.5-turbo", 1)

    await page.get_by_role("button", name="Test “Primary OpenAI”", exact=True).click()
    await expect(page.get_by_text(re.compile(r"“Primary OpenAI”: OK in (< 1 ms|\d+ ms|\d+\.\d\d s)"))).to_be_visible()
    await expect(row.get_by_text("Not tested")).to_have_count(0)
    assert console.upstream.state.keys() == ["sk-ok"]
    assert (await channels(console))[0]["test_time"] > 0

    await console.channel(name="Broken", key="fail-401")  # the fake upstream answers 401
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_role("button", name="Test “Broken”", exact=True).click()
    await expect(page.get_by_text(re.compile(r"“Broken” failed.*401"))).to_be_visible()


async def test_inline_edit_toggle_and_delete(page, console):
    cid = await console.channel(name="Alpha")
    await login(page, console)
    await page.goto("/channel")

    prio = page.get_by_label("Priority of “Alpha”")
    await prio.fill("7")
    await prio.press("Enter")
    await expect(page.get_by_text("Priority of “Alpha” set to 7")).to_be_visible()
    weight = page.get_by_label("Weight of “Alpha”")
    await weight.fill("3")
    await weight.press("Tab")  # leaving the field saves too
    await expect(page.get_by_text("Weight of “Alpha” set to 3")).to_be_visible()
    ch = await console.ok("GET", f"/api/channel/{cid}")
    assert (ch["priority"], ch["weight"]) == (7, 3)

    row = page.get_by_role("row").filter(has_text="Alpha")
    await page.get_by_role("button", name="Disable “Alpha”").click()
    await expect(row.get_by_text("Manually disabled")).to_be_visible()
    assert (await console.ok("GET", f"/api/channel/{cid}"))["status"] == 2
    await page.get_by_role("button", name="Enable “Alpha”").click()
    await expect(row.get_by_text("Enabled", exact=True)).to_be_visible()
    assert (await console.ok("GET", f"/api/channel/{cid}"))["status"] == 1

    await page.get_by_role("button", name="Delete “Alpha”").click()
    await page.locator(".n-popconfirm").get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No channels yet — add your first upstream key")).to_be_visible()
    assert await channels(console) == []


async def test_invalid_model_mapping_blocks_saving(page, console):
    await login(page, console)
    await page.goto("/channel/add")
    await page.get_by_label("Name", exact=True).fill("Mapped")
    await page.get_by_label("Key", exact=True).fill("sk-ok")
    await add_model(page, "gpt-3.5-turbo")
    mapping = page.get_by_label("Model mapping")
    await mapping.fill('{"gpt-3.5-turbo": ')
    await expect(page.get_by_text(re.compile(r"^Not valid JSON"))).to_be_visible()
    await page.get_by_role("button", name="Create channel").click()
    await expect(page.get_by_text("Please fix the highlighted fields before saving")).to_be_visible()
    assert await channels(console) == []

    await mapping.fill('{"gpt-3.5-turbo": 5}')
    await expect(page.get_by_text('The value of "gpt-3.5-turbo" must be a model name in quotes')).to_be_visible()
    await mapping.fill('{"gpt-3.5-turbo": "gpt-3.5-turbo-0125"}')
    await page.get_by_role("button", name="Create channel").click()
    await page.wait_for_url("**/channel")
    [ch] = await channels(console)
    assert json.loads(ch["model_mapping"]) == {"gpt-3.5-turbo": "gpt-3.5-turbo-0125"}


async def test_batch_create_and_rotate(page, console):
    await login(page, console)
    await page.goto("/channel/add")
    await page.get_by_label("Name", exact=True).fill("Batch")
    await page.get_by_label("Key", exact=True).fill("sk-a\nsk-b")
    await add_model(page, "gpt-3.5-turbo")
    await expect(page.get_by_test_id("channel-batch")).to_have_attribute("aria-checked", "true")
    await page.get_by_role("button", name="Create 2 channels").click()
    await expect(page.get_by_text("2 channels created")).to_be_visible()
    await page.wait_for_url("**/channel")
    assert [c["name"] for c in await channels(console)] == ["Batch", "Batch"]

    await page.goto("/channel/add")
    await page.get_by_label("Name", exact=True).fill("Rotating")
    await page.get_by_label("Key", exact=True).fill("sk-c\nsk-d")
    await add_model(page, "gpt-3.5-turbo")
    await page.get_by_test_id("channel-batch").click()
    await expect(page.get_by_text("Rotate keys inside this channel")).to_be_visible()
    await page.get_by_role("button", name="Create channel").click()
    await page.wait_for_url("**/channel")
    names = [c["name"] for c in await channels(console)]
    assert names.count("Rotating") == 1 and len(names) == 3
    found = await console.ok("GET", "/api/channel/search?keyword=sk-d")
    assert [c["name"] for c in found] == ["Rotating"]  # both keys live in the one channel


async def test_edit_azure_keeps_key_and_screenshots(page, browser, console):
    up = console.upstream.url
    main = await console.channel(name="OpenAI main", priority=10, weight=5, group="default,vip",
                          models="gpt-3.5-turbo,gpt-4o,gpt-4o-mini")
    azure = await console.channel(name="Azure East US", type=3, key="az-key", models="gpt-4o,gpt-35-turbo",
                                  config=json.dumps({"api_version": "2024-02-01"}),
                                  model_mapping=json.dumps({"gpt-4o": "gpt4o-deploy"}))
    await console.channel(name="Claude", type=14, key="sk-ant", base_url="", group="vip",
                          models="claude-3-5-sonnet-20241022")
    deepseek = await console.channel(name="DeepSeek", type=36, key="fail-401", models="deepseek-chat", status=3)
    await console.channel(name="Backup mirror", type=50, base_url=up + "/v1", status=2, priority=-1)
    for cid in (main, azure, deepseek):  # two pass, DeepSeek fails (401): response times to show
        await console.api("GET", f"/api/channel/test/{cid}")

    await login(page, console)
    await page.goto("/channel")
    await expect(page.get_by_role("row").filter(has_text="Azure East US").get_by_text("Not tested")).to_have_count(0)
    await expect(page.get_by_text("Auto-disabled")).to_be_visible()
    await shot(page, "channels-list")

    await page.get_by_role("button", name="Edit “Azure East US”").click()
    await page.wait_for_url(f"**/channel/edit/{azure}")
    version = page.get_by_label("API version")
    await expect(version).to_have_value("2024-02-01")
    await expect(page.get_by_label("Key", exact=True)).to_have_attribute("placeholder", re.compile("Leave empty to keep"))
    await shot(page, "channel-edit-azure")
    await version.fill("2024-06-01")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/channel")
    ch = await console.ok("GET", f"/api/channel/{azure}")
    assert json.loads(ch["config"])["api_version"] == "2024-06-01"
    assert json.loads(ch["model_mapping"]) == {"gpt-4o": "gpt4o-deploy"}
    console.upstream.state.reset()
    r = await console.api("GET", f"/api/channel/test/{azure}")
    assert r[1]["success"], r  # the key was kept (empty key field = unchanged)
    rec = console.upstream.state.requests[-1]
    assert rec.key == "az-key" and "api-version=2024-06-01" in rec.query and "gpt4o-deploy" in rec.path

    search = page.get_by_label("Search channels")
    await search.fill("deepseek")
    await search.press("Enter")
    await expect(page.get_by_text("1 channel matching “deepseek”")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="Claude")).to_have_count(0)
    await page.get_by_role("button", name="Clear search").first.click()
    await expect(page.get_by_role("row").filter(has_text="Claude")).to_be_visible()

    await page.get_by_test_id("theme-toggle").click()
    await page.mouse.move(700, 700)  # no tooltip in the picture
    await expect(page.get_by_text("Auto-disabled")).to_be_visible()
    await shot(page, "channels-list-dark")

    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    mobile = await ctx.new_page()
    await login(mobile, console)
    await mobile.goto("/channel")
    await expect(mobile.get_by_text("Backup mirror")).to_be_visible()
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    await shot(mobile, "channels-list-390")
    await mobile.get_by_role("button", name="Actions for “Claude”").click()
    await mobile.locator(".n-dropdown-option").filter(has_text=re.compile(r"^Edit$")).click()  # the card's menu (cards also show an Edit button)
    await mobile.wait_for_url("**/channel/edit/*")
    await ctx.close()
