"""Settings: the root's Operation / System / Other tabs (options saved per key, shell refresh,
JSON validation, log clean-up) and the Personal tab (access token, password, role-filtered tabs)."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.conftest import login, shot


async def options(console) -> dict[str, str]:
    return {o["key"]: o["value"] for o in await console.ok("GET", "/api/option/")}


async def test_other_tab_system_name_updates_the_shell(page, console):
    await login(page, console)
    await page.goto("/setting?tab=other")
    card = page.get_by_test_id("card-branding")
    name = card.get_by_label("System name", exact=True)
    await name.fill("Acme Relay")
    await card.get_by_role("button", name="Save Branding").click()
    await page.get_by_text("System name saved").wait_for()
    assert (await options(console))["SystemName"] == "Acme Relay"
    # the shell reloads /api/status at once: brand in the side menu and the browser title
    await page.locator(".brand .name").filter(has_text="Acme Relay").first.wait_for()
    assert await page.title() == "Settings · Acme Relay"  # the page keeps its part of the title
    # Notice has a live Markdown preview
    notice = page.get_by_test_id("card-notice")
    await notice.get_by_label("Notice", exact=True).fill("**Maintenance** tonight")
    await notice.get_by_label("Notice preview").locator("strong", has_text="Maintenance").wait_for()
    await page.get_by_role("heading", name="Settings").scroll_into_view_if_needed()
    await shot(page, "settings-other")


async def test_operation_toggle_ratios_and_log_cleanup(page, console):
    now = int(time.time())
    base = {"user_id": 1, "type": 2, "username": "root", "token_name": "k", "model_name": "gpt-4o",
            "quota": 5, "prompt_tokens": 1, "completion_tokens": 1, "content": ""}
    await console.ctx.db.logs.insert_many([
        {**base, "_id": 9001, "created_at": now - 90 * 86400},
        {**base, "_id": 9002, "created_at": now - 60 * 86400},
        {**base, "_id": 9003, "created_at": now - 3600},
    ])
    await login(page, console)
    await page.goto("/setting?tab=operation")
    assert (await options(console))["DisplayInCurrencyEnabled"] == "true"
    switch = page.get_by_test_id("opt-DisplayInCurrencyEnabled")
    await switch.click()
    await page.get_by_text("Saved: Show quotas in USD off").wait_for()
    assert (await options(console))["DisplayInCurrencyEnabled"] == "false"
    assert await switch.get_attribute("aria-checked") == "false"

    # invalid JSON: an inline error, and nothing reaches the server
    before = (await options(console))["ModelRatio"]
    ratios = page.get_by_test_id("card-ratios")
    await ratios.get_by_label("Model ratio", exact=True).fill('{"gpt-4o": 2.5,')
    await ratios.get_by_text("Not valid JSON").wait_for()
    await ratios.get_by_role("button", name="Save Ratios").click()
    await page.get_by_text(re.compile(r"^Model ratio: Not valid JSON")).wait_for()
    assert (await options(console))["ModelRatio"] == before

    # a valid edit saves only the changed key
    await ratios.get_by_label("Group ratio", exact=True).fill('{"default": 1, "vip": 0.8}')
    await ratios.get_by_label("Model ratio", exact=True).fill(before)
    await ratios.get_by_role("button", name="Save Ratios").click()
    await page.get_by_text("Group ratio saved").wait_for()
    opts = await options(console)
    assert json.loads(opts["GroupRatio"]) == {"default": 1, "vip": 0.8}
    assert opts["ModelRatio"] == before

    # a number field saved by its card's Save button
    general = page.get_by_test_id("card-general")
    await general.get_by_label("Retry times", exact=True).fill("3")
    await general.get_by_role("button", name="Save General").click()
    await page.get_by_text("Retry times saved").wait_for()
    assert (await options(console))["RetryTimes"] == "3"

    # old logs: older than the chosen day (default 30 days ago) are deleted, with the count shown
    await page.get_by_role("button", name="Delete logs").click()
    await page.get_by_role("button", name="Delete", exact=True).click()
    await page.get_by_test_id("logs-deleted").get_by_text("Deleted 2 logs").wait_for()
    ids = [l["id"] for l in await console.logs()]
    assert 9003 in ids and 9001 not in ids and 9002 not in ids

    await page.reload()  # a fresh view without the toasts
    await page.get_by_test_id("card-ratios").wait_for()
    await shot(page, "settings-operation")


async def test_system_tab_saves_changed_keys_and_secrets(page, console):
    await login(page, console)
    await page.goto("/setting?tab=system")
    smtp = page.get_by_test_id("card-smtp")
    await smtp.get_by_label("SMTP server", exact=True).fill("smtp.example.com")
    secret = smtp.get_by_label("SMTP password", exact=True)
    assert await secret.get_attribute("placeholder") == "(unchanged)"
    await secret.fill("hunter2-secret")
    await smtp.get_by_role("button", name="Save SMTP").click()
    await page.get_by_text("2 settings saved").wait_for()
    opts = await options(console)
    assert opts["SMTPServer"] == "smtp.example.com"
    assert "SMTPToken" not in opts  # never sent back...
    assert console.ctx.options.get("SMTPToken") == "hunter2-secret"  # ...but stored
    assert await secret.input_value() == ""  # the field empties again

    # each key is PUT on its own: a refused key is reported, the others are saved
    async def refuse_port(route):
        if route.request.method == "PUT" and json.loads(route.request.post_data or "{}").get("key") == "SMTPPort":
            await route.fulfill(json={"success": False, "message": "SMTPPort refused by the test"})
        else:
            await route.continue_()

    await page.route("**/api/option/", refuse_port)
    await smtp.get_by_label("SMTP port", exact=True).fill("2525")
    await smtp.get_by_label("SMTP account", exact=True).fill("relay@example.com")
    await smtp.get_by_role("button", name="Save SMTP").click()
    await smtp.get_by_role("alert").get_by_text("SMTPPort refused by the test").wait_for()
    await page.get_by_text("SMTP account saved").wait_for()
    opts = await options(console)
    assert opts["SMTPAccount"] == "relay@example.com" and opts["SMTPPort"] == "587"
    await smtp.get_by_text("1 unsaved change", exact=True).wait_for()  # the refused port stays in the draft
    await page.unroute("**/api/option/", refuse_port)

    # the callback URL follows ServerAddress
    server = page.get_by_test_id("card-server")
    await server.get_by_label("Server address", exact=True).fill("https://relay.example.com")
    await server.get_by_label("Server address", exact=True).press("Enter")  # Enter saves the card
    await page.get_by_text("Server address saved").wait_for()
    await page.get_by_test_id("card-github").get_by_text("https://relay.example.com/oauth/github").wait_for()
    assert (await options(console))["ServerAddress"] == "https://relay.example.com"
    await page.reload()
    await page.get_by_test_id("card-smtp").wait_for()
    await shot(page, "settings-system")


async def test_personal_access_token_and_password(page, console):
    await console.ok("POST", "/api/user/", {"username": "alice", "password": "alice-pass-1", "display_name": "Alice"})
    await login(page, console, "alice", "alice-pass-1")
    await page.goto("/setting")
    # a common user has the Personal tab only, even when asking for another one
    tabs = page.get_by_role("tab")
    await tabs.filter(has_text="Personal").wait_for()
    assert await tabs.count() == 1
    await page.goto("/setting?tab=system")
    await page.get_by_test_id("card-profile").get_by_text("@alice").wait_for()
    assert await page.get_by_role("tab", name="System").count() == 0

    # access token: generated, shown once, and it authenticates the management API
    await page.get_by_role("button", name="Generate access token").click()
    await page.get_by_role("button", name="Generate", exact=True).click()
    field = page.get_by_label("Access token", exact=True)
    await field.wait_for()
    token = await field.input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", token), token
    me = await console.ok("GET", "/api/user/self", token=token)
    assert me["username"] == "alice"

    # password: changed here, this browser stays logged in, the new one works, the old one not
    card = page.get_by_test_id("card-password")
    await card.get_by_label("New password", exact=True).fill("short")
    await card.get_by_role("button", name="Change password").click()
    await card.get_by_text("The password must be 8 to 20 characters long").wait_for()
    await card.get_by_label("New password", exact=True).fill("alice-pass-2")
    await card.get_by_label("Confirm new password", exact=True).fill("alice-pass-2")
    await card.get_by_role("button", name="Change password").click()
    await page.get_by_text("Password changed").wait_for()
    code, body = await console.api("POST", "/api/user/login", {"username": "alice", "password": "alice-pass-2"}, token=None)
    assert code == 200 and body["success"], body
    code, body = await console.api("POST", "/api/user/login", {"username": "alice", "password": "alice-pass-1"}, token=None)
    assert not body["success"]
    r = await page.request.get(console.url + "/api/user/self")
    assert (await r.json())["success"]  # the session cookie was re-issued
    await page.reload()
    await page.get_by_test_id("card-profile").get_by_text("@alice").wait_for()
    await shot(page, "settings-personal")


async def test_self_edit_and_account_deletion(page, console):
    await console.ok("POST", "/api/user/", {"username": "bob", "password": "bob-pass-12", "display_name": "Bob"})
    await login(page, console, "bob", "bob-pass-12")
    await page.goto("/setting")
    await page.get_by_role("button", name="Edit profile").click()
    await page.wait_for_url("**/user/edit")
    await page.get_by_label("Display name", exact=True).fill("Bobby Tables")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url("**/setting")
    await page.get_by_test_id("card-profile").get_by_text("Bobby Tables").wait_for()
    users = await console.ok("GET", "/api/user/search?keyword=bob")
    assert users[0]["display_name"] == "Bobby Tables"

    # email binding: the server's answers are shown (no SMTP here; a wrong code is refused)
    await page.get_by_role("button", name="Bind Email").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Email address").fill("bob@example.com")
    await dialog.get_by_role("button", name="Send code").click()
    await page.get_by_text("Email is not configured").wait_for()
    await dialog.get_by_label("Verification code").fill("ABC123")
    await dialog.get_by_role("button", name="Bind", exact=True).click()
    await page.get_by_text("The verification code is wrong or has expired").wait_for()
    await dialog.get_by_role("button", name="Close").click()

    await page.get_by_role("button", name="Delete account").click()
    confirm = page.get_by_role("button", name="Delete my account")
    assert await confirm.is_disabled()
    await page.get_by_label("Confirm username").fill("bob")
    await confirm.click()
    await page.wait_for_url(re.compile(r"/$"))
    code, body = await console.api("POST", "/api/user/login", {"username": "bob", "password": "bob-pass-12"}, token=None)
    assert not body["success"]


async def test_screens_narrow_and_dark(browser, console):
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    pg = await ctx.new_page()
    await login(pg, console)
    await pg.goto("/setting")
    await pg.get_by_test_id("card-profile").get_by_text("@root").wait_for()
    width = await pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    await shot(pg, "settings-personal-390")
    await pg.goto("/setting?tab=operation")
    await pg.get_by_test_id("card-ratios").wait_for()
    width = await pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the Operation tab scrolls sideways at 390 px ({width} px wide)"
    await ctx.close()

    ctx = await browser.new_context(viewport={"width": 1366, "height": 860}, base_url=console.url,
                                    color_scheme="dark")
    pg = await ctx.new_page()
    await login(pg, console)
    await pg.goto("/setting?tab=operation")
    await pg.get_by_test_id("card-general").get_by_label("Quota per unit", exact=True).wait_for()
    assert await pg.evaluate("document.documentElement.dataset.theme") == "dark"
    await shot(pg, "settings-operation-dark")
    await ctx.close()
