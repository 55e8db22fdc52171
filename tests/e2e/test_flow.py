"""The issue's whole journey, in one browser session, through the UI only (the API is used only
to check what the UI did): log in as root, change the root password, create a channel, test
it, create a token, call /v1/chat/completions with it through the openai SDK, see the consume
log and the dashboard chart update, create redemption codes, and redeem one as a newly
registered user."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import shot


def form_button(page: Page, name: str):
    return page.locator("form").get_by_role("button", name=name, exact=True)


async def pick(page: Page, testid: str, text: str) -> None:
    await page.get_by_test_id(testid).click()
    await page.keyboard.type(text)
    await page.locator(".n-base-select-option").filter(has_text=re.compile(rf"^{re.escape(text)}$")).first.click()
    await page.keyboard.press("Escape")


async def test_operator_and_user_journey(page, console, browser):
    await page.emulate_media(reduced_motion="reduce")

    # 1. log in as root through the form
    await page.goto("/login")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("123456")
    await form_button(page, "Log in").click()
    # the default password sends root to Settings → Personal, password card, first

    # 2. change the root password (Settings → Personal)
    await page.wait_for_url("**/setting#password")
    await expect(page.get_by_test_id("default-password-banner")).to_be_visible()
    card = page.get_by_test_id("card-password")
    await card.get_by_label("New password", exact=True).fill("root-pass-2026")
    await card.get_by_label("Confirm new password", exact=True).fill("root-pass-2026")
    await card.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed")).to_be_visible()
    code, body = await console.api("POST", "/api/user/login", {"username": "root", "password": "123456"}, token=None)
    assert not body["success"], "the old root password still works"
    code, body = await console.api("POST", "/api/user/login", {"username": "root", "password": "root-pass-2026"}, token=None)
    assert body["success"], body

    # 3. create a channel through the form, then 4. test it
    await page.get_by_role("menu").first.get_by_role("link", name="Channels", exact=True).click()
    await page.get_by_role("button", name="Add channel").first.click()
    await pick(page, "channel-type", "OpenAI")
    await page.get_by_label("Name", exact=True).fill("Upstream A")
    await page.get_by_label("Base URL").fill(console.upstream.url)
    await page.get_by_label("Key", exact=True).fill("sk-ok")
    await pick(page, "channel-models", "gpt-3.5-turbo")
    await page.get_by_role("button", name="Create channel").click()
    await page.wait_for_url("**/channel")
    await page.get_by_role("button", name="Test “Upstream A”", exact=True).click()
    await expect(page.get_by_text(re.compile(r"“Upstream A”: OK in (< 1 ms|[\d,]+ ms|[\d,]+\.\d\d s)"))).to_be_visible()
    [ch] = await console.ok("GET", "/api/channel/?p=0")
    assert ch["name"] == "Upstream A" and ch["test_time"] > 0 and ch["status"] == 1
    await shot(page, "flow-channels")

    # 5. create a token; the dialog shows its key
    await page.get_by_role("menu").first.get_by_role("link", name="Tokens", exact=True).click()
    await page.get_by_role("button", name="Add token").click()
    await page.get_by_label("Name", exact=True).fill("journey")
    await page.get_by_test_id("token-unlimited").click()
    await page.get_by_role("button", name="Create token").click()
    key = (await page.get_by_test_id("new-token-key").inner_text()).strip()
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", key), key
    await page.get_by_role("button", name="Done").click()

    # 6. call /v1/chat/completions with it through the openai SDK
    resp = await console.client(key).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hello from the journey"}])
    assert resp.choices[0].message.content
    await console.ctx.ledger.flush()

    # 7. the consume log shows up, and the dashboard chart counts the request
    await page.get_by_role("menu").first.get_by_role("link", name="Logs", exact=True).click()
    rows = page.get_by_test_id("log-table").locator("tbody tr")
    row = rows.filter(has_text="Consume")
    await expect(row).to_have_count(1)  # besides it: the channel test's log
    await expect(row).to_contain_text("gpt-3.5-turbo")
    await expect(row).to_contain_text("journey")
    await expect(rows.filter(has_text="Test")).to_have_count(1)
    await page.get_by_role("menu").first.get_by_role("link", name="Dashboard", exact=True).click()
    await expect(page.get_by_test_id("requests-summary")).to_have_text("1 request in 7 days")
    await expect(page.get_by_test_id("share-legend")).to_contain_text("gpt-3.5-turbo")
    await shot(page, "flow-dashboard")

    # 8. create two redemption codes worth $2 each
    await page.get_by_role("menu").first.get_by_role("link", name="Redemptions", exact=True).click()
    await page.get_by_role("button", name="Create codes").click()
    await page.get_by_label("Name", exact=True).fill("welcome")
    await page.get_by_label("Quota per code (USD)").fill("2")
    await page.get_by_label("Count").fill("2")
    await page.get_by_role("button", name="Create codes").click()
    await expect(page.get_by_role("dialog").get_by_text("2 codes created")).to_be_visible()
    items = page.get_by_test_id("created-codes").locator("li")
    await expect(items).to_have_count(2)
    codes = [c.strip() for c in await items.all_inner_texts()]
    assert len(codes) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", c) for c in codes), codes
    await page.get_by_role("dialog").get_by_role("button", name="Done").click()

    # 9. a newly registered user (another browser) redeems one on the Top up page
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    user = await ctx.new_page()
    await user.goto("/register")
    await user.get_by_label("Username").fill("newcomer")
    await user.get_by_label("Password", exact=True).fill("newcomer-pass")
    await user.get_by_label("Confirm password").fill("newcomer-pass")
    await form_button(user, "Create account").click()
    await user.wait_for_url("**/login?username=newcomer")
    await user.get_by_label("Password", exact=True).fill("newcomer-pass")
    await form_button(user, "Log in").click()
    await user.wait_for_url("**/dashboard")
    await user.goto("/topup")
    await expect(user.get_by_test_id("balance")).to_have_text("$0.00")
    await user.get_by_label("Redemption code").fill(codes[0])
    await user.get_by_role("button", name="Redeem", exact=True).click()
    await expect(user.get_by_test_id("balance")).to_have_text("$2.00")
    await shot(user, "flow-topup-390")
    [newcomer] = await console.ok("GET", "/api/user/search?keyword=newcomer")
    assert newcomer["quota"] == 1_000_000
    used = await console.ok("GET", "/api/redemption/search?keyword=welcome")
    assert sorted(c["status"] for c in used) == [1, 3]  # one used, one still valid
    await ctx.close()
