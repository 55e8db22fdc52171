"""Public and account pages: log in, sign up, top up, home, about, 404."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import login, shot


def form_button(page: Page, name: str):
    """A button inside the page's form (the public header has its own "Log in" button)."""
    return page.locator("form").get_by_role("button", name=name, exact=True)


async def test_login_wrong_password_shows_server_message(page, console):
    await page.goto("/login")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("not-the-password")
    await page.get_by_label("Password", exact=True).press("Enter")  # Enter submits
    await expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    assert page.url.endswith("/login")
    assert await page.evaluate("localStorage.getItem('onerelay.user')") is None

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await page.get_by_label("Username").wait_for()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the login page scrolls sideways at 390 px ({width} px wide)"
    await shot(page, "login-390")


async def test_login_success_lands_on_dashboard_or_redirect(page, console):
    await page.goto("/login")
    await expect(page.get_by_role("link", name="Forgot password?")).to_have_attribute("href", "/reset")
    await expect(page.get_by_role("link", name="Sign up")).to_have_attribute("href", "/register")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("123456")
    await shot(page, "login")
    await form_button(page, "Log in").click()
    # root still has the default password: sent to change it first (One API does the same)
    await page.wait_for_url("**/setting#password")
    user = await page.evaluate("JSON.parse(localStorage.getItem('onerelay.user'))")
    assert user["username"] == "root" and user["default_password"] is True
    await console.ok("PUT", "/api/user/self", {"password": "root-pass-2026"})

    # a guarded page sends a visitor to /login?redirect=…, and back there after logging in
    await page.evaluate("localStorage.removeItem('onerelay.user')")
    await page.context.clear_cookies()
    await page.goto("/topup")
    await page.wait_for_url("**/login?redirect=/topup")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("root-pass-2026")
    await form_button(page, "Log in").click()
    await page.wait_for_url("**/topup")


async def test_register_checks_then_creates_the_user(page, console):
    await page.goto("/register?aff=nosuchcode")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("whatever-123")
    await page.get_by_label("Confirm password").fill("whatever-123")
    await form_button(page, "Create account").click()
    await expect(page.get_by_role("alert")).to_contain_text("That username is already taken")

    await page.get_by_label("Username").fill("newbie")
    await page.get_by_label("Password", exact=True).fill("newbie-pass-1")
    await page.get_by_label("Confirm password").fill("something-else")
    await form_button(page, "Create account").click()
    await expect(page.get_by_text("The passwords do not match")).to_be_visible()
    assert not await console.ok("GET", "/api/user/search?keyword=newbie")  # nothing was sent

    await expect(page.get_by_label("Invite code")).to_have_value("nosuchcode")  # from ?aff=
    await page.get_by_label("Confirm password").fill("newbie-pass-1")
    await shot(page, "register")
    await form_button(page, "Create account").click()
    await page.wait_for_url("**/login?username=newbie")
    found = await console.ok("GET", "/api/user/search?keyword=newbie")
    assert [u["username"] for u in found] == ["newbie"]

    await expect(page.get_by_label("Username")).to_have_value("newbie")  # filled in
    await page.get_by_label("Password", exact=True).fill("newbie-pass-1")
    await form_button(page, "Log in").click()
    await page.wait_for_url("**/dashboard")
    user = await page.evaluate("JSON.parse(localStorage.getItem('onerelay.user'))")
    assert user["username"] == "newbie" and user["role"] == 1


async def test_topup_redeems_a_code_and_updates_the_balance(page, console):
    await console.ok("POST", "/api/user/", {"username": "payer", "password": "payer-pass-1"})
    await console.ok("PUT", "/api/option/", {"key": "TopUpLink", "value": "https://shop.example.com/buy"})
    keys = await console.ok("POST", "/api/redemption/", {"name": "e2e", "quota": 1_000_000, "count": 1})
    await login(page, console, "payer", "payer-pass-1")
    await page.goto("/topup")
    balance = page.get_by_test_id("balance")
    await expect(balance).to_have_text("$0.00")

    await page.get_by_label("Redemption code").fill(keys[0])
    await page.get_by_role("button", name="Redeem", exact=True).click()
    await expect(page.get_by_text("Redeemed $2.00").first).to_be_visible()
    await expect(balance).to_have_text("$2.00")

    found = await console.ok("GET", "/api/user/search?keyword=payer")
    assert found[0]["quota"] == 1_000_000
    await shot(page, "topup")

    # the same code again: the server's message, the balance unchanged
    await page.get_by_label("Redemption code").fill(keys[0])
    await page.get_by_label("Redemption code").press("Enter")
    await expect(page.get_by_text("This redemption code has already been used")).to_be_visible()
    await expect(balance).to_have_text("$2.00")

    # "Buy quota" opens TopUpLink with the user in the query (the shop is stubbed)
    await page.context.route("https://shop.example.com/**", lambda route: route.fulfill(body="shop"))
    async with page.context.expect_page() as popup_info:
        await page.get_by_role("button", name="Buy quota").click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    url = popup.url
    await popup.close()
    uid = found[0]["id"]
    assert url.startswith(f"https://shop.example.com/buy?username=payer&user_id={uid}&transaction_id="), url


async def test_home_landing_then_markdown_content_and_notice(page, console):
    await page.goto("/")
    await expect(page.get_by_text("One OpenAI-compatible endpoint for every model provider")).to_be_visible()
    await expect(page.get_by_test_id("base-url")).to_contain_text(console.url + "/v1")
    await page.get_by_test_id("base-url").locator("..").get_by_text("Python", exact=True).click()
    await expect(page.get_by_test_id("snippet")).to_contain_text("from openai import OpenAI")
    await shot(page, "home")

    await console.ok("PUT", "/api/option/", {"key": "HomePageContent", "value": "# Hello"})
    await console.ok("PUT", "/api/option/", {"key": "Notice", "value": "Planned **maintenance** tonight"})
    await page.reload()
    await expect(page.get_by_role("heading", name="Hello", level=1)).to_be_visible()
    await expect(page.get_by_test_id("notice")).to_contain_text("Planned maintenance tonight")
    await expect(page.get_by_text("One OpenAI-compatible endpoint for every model provider")).to_have_count(0)


async def test_about_and_not_found(page, console):
    await page.goto("/about")
    await expect(page.get_by_text("Settings → Other")).to_be_visible()
    status = await console.ok("GET", "/api/status")
    await expect(page.get_by_test_id("version")).to_have_text("v" + status["version"])
    await shot(page, "about")
    await console.ok("PUT", "/api/option/", {"key": "About", "value": "## Run by ACME\n\nContact ops@acme.test"})
    await page.reload()
    await expect(page.get_by_role("heading", name="Run by ACME")).to_be_visible()

    await page.goto("/no/such/page")
    await expect(page.get_by_text("Page not found")).to_be_visible()
    await expect(page.get_by_text("/no/such/page")).to_be_visible()
    await shot(page, "notfound")
    await page.get_by_role("button", name="Back to home").click()
    await page.wait_for_url(console.url + "/")


async def test_register_and_login_follow_the_sign_up_switches(page, console):
    await console.ok("PUT", "/api/option/", {"key": "PasswordRegisterEnabled", "value": "false"})
    await page.goto("/register")
    await expect(page.get_by_test_id("register-password-off")).to_be_visible()
    assert await page.get_by_label("Confirm password").count() == 0
    await console.ok("PUT", "/api/option/", {"key": "RegisterEnabled", "value": "false"})
    await page.reload()
    await expect(page.get_by_test_id("register-closed")).to_contain_text("Sign-up is closed")
    await console.ok("PUT", "/api/option/", {"key": "PasswordLoginEnabled", "value": "false"})
    await page.goto("/login")
    await expect(page.get_by_test_id("password-login-off")).to_be_visible()
