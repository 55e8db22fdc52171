"""Tokens, Users and Redemptions pages: forms save what they show, copies and downloads
carry the server's keys, and row actions change the server state."""

from __future__ import annotations

import time
from datetime import datetime

from playwright.async_api import Page, expect

from tests.e2e.conftest import create_codes, fits, login, shot


def masked(key: str) -> str:
    return f"sk-{key[:4]}…{key[-4:]}"


async def clipboard(page: Page) -> str:
    return await page.evaluate("navigator.clipboard.readText()")  # type: ignore[no-any-return]


def row(page: Page, text: str):
    return page.get_by_role("row").filter(has_text=text)


async def settled_shot(page: Page, name: str) -> None:
    """A screenshot once the table's loading overlay has faded out (cosmetic only)."""
    await page.mouse.move(0, 0)  # no tooltip in the picture
    await page.wait_for_timeout(400)
    await shot(page, name)


async def test_token_form_copy_and_disable(page, console):
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    await console.channel(models="gpt-3.5-turbo,gpt-4o-mini")  # the models picker's choices
    await console.token(name="laptop")
    await console.token(name="ci-runner", unlimited_quota=False, remain_quota=250000)
    await login(page, console)

    await page.goto("/token")
    await expect(row(page, "ci-runner")).to_be_visible()
    await page.get_by_role("button", name="Add token").click()
    await page.wait_for_url("**/token/add")

    await page.get_by_label("Name", exact=True).fill("e2e-token")
    await page.get_by_label("Quota (USD)").fill("2.5")
    await page.get_by_test_id("token-never").click()  # expiry on: a date can be picked
    expiry_input = page.get_by_test_id("token-expiry").locator("input")
    await expect(expiry_input).to_be_enabled()
    await expiry_input.fill("2031-05-06 07:08:09")
    await expiry_input.press("Enter")
    await page.get_by_test_id("token-models").click()
    await page.locator(".n-base-select-option", has_text="gpt-4o-mini").click()
    await page.keyboard.press("Escape")
    await page.get_by_label("Subnet").fill("10.0.0.0/8")
    await settled_shot(page, "token-form")
    await page.get_by_role("button", name="Create token").click()

    key_box = page.get_by_test_id("new-token-key")
    await expect(key_box).to_be_visible()
    shown_key = (await key_box.inner_text()).strip()

    tokens = await console.ok("GET", "/api/token/?p=0")
    tok = next(t for t in tokens if t["name"] == "e2e-token")
    assert shown_key == "sk-" + tok["key"]
    assert tok["remain_quota"] == 1_250_000 and tok["unlimited_quota"] is False
    assert tok["expired_time"] == int(datetime(2031, 5, 6, 7, 8, 9).timestamp())  # browser and test share the TZ
    assert tok["models"] == "gpt-4o-mini"
    assert tok["subnet"] == "10.0.0.0/8"

    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Copy key").click()
    assert await clipboard(page) == shown_key
    await dialog.get_by_role("button", name="Done").click()
    await page.wait_for_url("**/token")

    r = row(page, "e2e-token")
    await expect(r.get_by_test_id("token-key")).to_have_text(masked(tok["key"]))
    await r.get_by_role("button", name="Copy key").click()
    assert await clipboard(page) == "sk-" + tok["key"]
    await r.get_by_role("button", name="More copy options").click()
    await page.get_by_text("Copy as OpenAI env").click()
    assert await clipboard(page) == f"OPENAI_BASE_URL={console.url}/v1\nOPENAI_API_KEY=sk-{tok['key']}"
    await r.get_by_role("button", name="Show key").click()
    await expect(r.get_by_test_id("token-key")).to_have_text("sk-" + tok["key"])
    await r.get_by_role("button", name="Hide key").click()
    await settled_shot(page, "tokens-list")

    await r.get_by_role("button", name="Disable").click()
    await expect(r.get_by_text("Disabled")).to_be_visible()
    tok = await console.ok("GET", f"/api/token/{tok['id']}")
    assert tok["status"] == 2
    # enabling an expired token: the server refuses and the page says why
    await console.ok("PUT", "/api/token/", {"id": tok["id"], "expired_time": int(time.time()) - 60})
    await page.get_by_role("button", name="Refresh").click()
    await row(page, "e2e-token").get_by_role("button", name="Enable").click()
    await expect(page.get_by_text("The token has expired: change its expiry first")).to_be_visible()

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(row(page, "e2e-token")).to_be_visible()
    await fits(page)
    await settled_shot(page, "tokens-390")


async def test_redemption_codes_download(page, console):
    await login(page, console)
    await create_codes(page, "e2e-batch", "3", "3")

    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_text("3 codes created")).to_be_visible()
    await shot(page, "redemption-codes-dialog")
    async with page.expect_download() as info:
        await dialog.get_by_role("button", name="Download .txt").click()
    download = await info.value
    assert download.suggested_filename == "redemption-codes-e2e-batch.txt"
    text = open(await download.path(), encoding="utf-8").read()

    codes = await console.ok("GET", "/api/redemption/search?keyword=e2e-batch")
    assert len(codes) == 3 and all(c["quota"] == 1_500_000 for c in codes)
    assert sorted(text.splitlines()) == sorted(c["key"] for c in codes)
    listed = [li.strip() for li in await page.get_by_test_id("created-codes").locator("li").all_inner_texts()]
    assert listed == text.splitlines()

    last = max(codes, key=lambda c: c["id"])
    await console.ok("POST", "/api/user/topup", {"key": last["key"]})  # root redeems one
    await dialog.get_by_role("button", name="Done").click()
    await page.wait_for_url("**/redemption")
    used = page.get_by_role("row").filter(has=page.get_by_role("cell", name=str(last["id"]), exact=True))
    await expect(used.get_by_text("Used", exact=True)).to_be_visible()
    await expect(used.get_by_text("by root (#1)")).to_be_visible()
    await expect(used.get_by_role("button", name="Disable")).to_have_count(0)  # a used code stays used
    first = min(codes, key=lambda c: c["id"])
    r = page.get_by_role("row").filter(has=page.get_by_role("cell", name=str(first["id"]), exact=True))
    await r.get_by_role("button", name="Disable").click()
    await expect(r.get_by_text("Disabled")).to_be_visible()
    assert (await console.ok("GET", f"/api/redemption/{first['id']}"))["status"] == 2
    await settled_shot(page, "redemptions-list")


async def test_user_create_edit_quota_and_disable(page, console):
    for name in ("alice", "bob"):
        await console.ok("POST", "/api/user/", {"username": name, "password": "password-1", "display_name": name.title()})
    await console.ok("POST", "/api/user/manage", {"username": "bob", "action": "promote"})
    await login(page, console)
    await page.goto("/user")
    await page.get_by_role("button", name="Add user").click()
    await page.wait_for_url("**/user/add")
    await page.get_by_label("Username").fill("erin")
    await page.get_by_label("Display name").fill("Erin Example")
    await page.get_by_label("Password").fill("erin-pass-1")
    await page.get_by_role("button", name="Create user").click()
    await page.wait_for_url("**/user")
    [erin] = await console.ok("GET", "/api/user/search?keyword=erin")
    assert erin["display_name"] == "Erin Example"
    await expect(row(page, "Erin Example")).to_be_visible()
    await settled_shot(page, "users-list")

    await row(page, "erin").get_by_role("button", name="Edit").click()
    await page.wait_for_url(f"**/user/edit/{erin['id']}")
    quota_input = page.get_by_label("Quota (USD)")
    await expect(quota_input).to_have_value(str(erin["quota"] / 500000).removesuffix(".0"))
    await quota_input.fill("7.5")
    await shot(page, "user-edit")
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url("**/user")
    user = await console.ok("GET", f"/api/user/{erin['id']}")
    assert user["quota"] == 3_750_000
    logs = await console.logs(p=0, type=3)
    assert any(log["username"] == "erin" and "quota" in log["content"] for log in logs)

    r = row(page, "erin")
    await r.get_by_role("button", name="Disable").click()
    await expect(r.get_by_text("Disabled")).to_be_visible()
    assert (await console.ok("GET", f"/api/user/{erin['id']}"))["status"] == 2

    # the root user cannot be deleted: the server's refusal is shown
    root_row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="1", exact=True))
    await root_row.get_by_role("button", name="Delete").click()
    await page.get_by_role("button", name="Delete", exact=True).last.click()
    await expect(page.get_by_text("The root user cannot be deleted")).to_be_visible()

    await page.get_by_test_id("user-order").click()
    await page.locator(".n-base-select-option", has_text="Most quota left").click()
    await expect(page.get_by_role("row").nth(1)).to_contain_text("root")
