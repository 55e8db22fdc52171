"""Console polish (issue 14), the shell's part: a new user's first dashboard (top up, the default
token, no "Welcome back"), a quick start that names a model the user can call, the push to change
the default password, the notice modal, recovery from a failed chunk load, settings that say
how they save and ask before dropping edits, quota units, accessibility (axe-core contrast and
focus in light and dark, visible focus in the side menu, autofocus, the theme following the
system), the JavaScript budget of /login and /, the dashboard's error rates, and screenshots."""

from __future__ import annotations

import gzip
import json
import os
import re
from typing import Any

import openai
import pytest
from playwright.async_api import Page, expect

from tests.conftest import ROOT
from tests.e2e.conftest import login, shot

CHAT = [{"role": "user", "content": "Hello"}]
AXE = os.path.join(ROOT, "frontend", "node_modules", "axe-core", "axe.min.js")
BUDGET_KB = 250


async def opt(console, key: str, value: str) -> None:
    await console.ok("PUT", "/api/option/", {"key": key, "value": value})


async def new_user(console, username: str = "newbie", password: str = "newbie-pass-1") -> dict[str, Any]:
    """A user made through sign-up (the default token, QuotaForNewUser), then logged in via the API."""
    await opt(console, "QuotaForNewUser", "0")
    r = await console.api("POST", "/api/user/register", {"username": username, "password": password})
    assert r[0] == 200 and r[1]["success"], r
    return {"username": username, "password": password}


# -- bundle size (item 16) ---------------------------------------------------------------------

def _route_js_kb(dist: str, src: str) -> tuple[float, list[str]]:
    """gzip kB of the JS /login or / loads: the entry, the route's page chunk and their static imports."""
    with open(os.path.join(dist, ".vite", "manifest.json")) as f:
        manifest = json.load(f)
    entry = next(k for k, v in manifest.items() if v.get("isEntry"))
    files: set[str] = set()
    seen: set[str] = set()

    def walk(k: str) -> None:
        if k in seen or k not in manifest:
            return
        seen.add(k)
        if manifest[k]["file"].endswith(".js"):
            files.add(manifest[k]["file"])
        for i in manifest[k].get("imports", []):
            walk(i)

    assert src in manifest, f"{src} is not a chunk of the build"
    walk(entry)
    walk(src)
    total = 0
    for name in files:
        with open(os.path.join(dist, name), "rb") as f:
            total += len(gzip.compress(f.read(), compresslevel=9))
    return total / 1000, sorted(files)


def test_login_and_home_load_at_most_250_kb_of_js(console_dist):
    sizes = {}
    for route, src in (("/login", "src/pages/auth/LoginPage.vue"), ("/", "src/pages/home/HomePage.vue")):
        kb, files = _route_js_kb(console_dist, src)
        sizes[route] = kb
        assert kb <= BUDGET_KB, f"{route} loads {kb:.1f} kB of gzip JS (> {BUDGET_KB}): {files}"
        # no chart library on these pages
        assert not [f for f in files if "echarts" in f.lower()], files
    # the dashboard's charts are a separate chunk, loaded by the dashboard only
    kb, files = _route_js_kb(console_dist, "src/pages/dashboard/DashboardPage.vue")
    assert kb < 300, (kb, files)


# -- item 6: a new user's first dashboard ------------------------------------------------------

async def test_new_user_empty_dashboard_points_to_top_up_and_default_token(page, console):
    u = await new_user(console)
    me = await login(page, console, u["username"], u["password"])
    tokens = await (await page.request.get(console.url + "/api/token/?p=0")).json()
    names = [t["name"] for t in tokens["data"]]
    assert names == ["default"], names  # sign-up made one

    await page.goto("/dashboard")
    header = page.locator(".page").first
    await expect(header).to_contain_text("Welcome, newbie!")
    await expect(header).not_to_contain_text("Welcome back")
    empty = page.get_by_test_id("dashboard-empty")
    await expect(empty).to_contain_text("Your balance is $0.00")
    await expect(empty.get_by_test_id("empty-topup")).to_be_visible()
    await expect(empty.get_by_test_id("empty-tokens")).to_have_text(re.compile("Your tokens"))
    await empty.get_by_test_id("empty-topup").click()
    await page.wait_for_url("**/topup")

    # the second visit is a returning one; with a balance the empty state names the default token
    await console.ok("POST", "/api/topup", {"user_id": me["id"], "quota": 500000, "remark": "credit"})
    await page.goto("/dashboard")
    await expect(page.locator(".page").first).to_contain_text("Welcome back, newbie")
    await expect(page.get_by_test_id("dashboard-empty")).to_contain_text("Your token “default” is ready")
    await expect(page.get_by_test_id("empty-topup")).to_have_count(0)


# -- item 7: the quick start names a model the user can call ----------------------------------

async def test_quick_start_uses_an_available_model(page, console):
    await login(page, console)
    await page.goto("/dashboard")
    # no channel at all: it says so, and the example does not pretend
    await expect(page.get_by_test_id("quick-start-no-models")).to_be_visible()
    await expect(page.get_by_test_id("quick-start-example")).not_to_contain_text("gpt-3.5-turbo")

    await console.channel(name="cheap", models="text-embedding-3-small,claude-3-5-haiku,gpt-4o")
    await page.reload()
    example = page.get_by_test_id("quick-start-example")
    await expect(example).to_contain_text('"model": "claude-3-5-haiku"')
    await expect(page.get_by_test_id("quick-start-no-models")).to_have_count(0)
    available = (await console.ok("GET", "/api/user/available_models"))
    assert "claude-3-5-haiku" in available


# -- item 8: the default password --------------------------------------------------------------

async def test_default_password_redirects_to_change_it_with_a_banner(page, console):
    await page.goto("/login")
    await page.get_by_label("Username").fill("root")
    await page.get_by_label("Password", exact=True).fill("123456")
    await page.get_by_label("Password", exact=True).press("Enter")
    await page.wait_for_url(re.compile(r"/setting#password$"))
    await expect(page.get_by_test_id("default-password-warning")).to_be_visible()
    await expect(page.get_by_test_id("default-password-banner")).to_be_visible()
    assert await page.evaluate("document.activeElement?.getAttribute('aria-label')") == "New password"

    # the banner stays on every page until the password changes
    await page.goto("/dashboard")
    banner = page.get_by_test_id("default-password-banner")
    await expect(banner).to_contain_text("default password")
    await banner.get_by_role("button", name="Change password").click()
    await page.wait_for_url(re.compile(r"/setting#password$"))
    card = page.get_by_test_id("card-password")
    await card.get_by_label("New password", exact=True).fill("a-better-pass-1")
    await card.get_by_label("Confirm new password", exact=True).fill("a-better-pass-1")
    await card.get_by_role("button", name="Change password").click()
    await expect(page.get_by_test_id("default-password-banner")).to_have_count(0)
    await expect(page.get_by_test_id("default-password-warning")).to_have_count(0)
    await page.goto("/log")
    await expect(page.get_by_test_id("default-password-banner")).to_have_count(0)


# -- item 11: the notice modal -----------------------------------------------------------------

async def test_changed_notice_pops_up_once_on_any_page(page, console):
    await opt(console, "Notice", "Planned **maintenance** tonight")
    await login(page, console)
    await page.goto("/log")
    modal = page.get_by_test_id("notice-modal")
    await expect(modal).to_contain_text("Planned maintenance tonight")
    await page.get_by_test_id("notice-ok").click()
    await expect(modal).to_have_count(0)
    await page.goto("/dashboard")
    await page.wait_for_load_state("networkidle")
    await expect(page.get_by_test_id("notice-modal")).to_have_count(0)  # seen: not again

    await opt(console, "Notice", "Maintenance moved to **Friday**")
    await page.goto("/token")
    await expect(page.get_by_test_id("notice-modal")).to_contain_text("Maintenance moved to Friday")


# -- item 12: a failed lazy chunk reloads once -------------------------------------------------

async def test_logout_recovers_from_a_failed_chunk_load(page, console):
    await login(page, console)
    await page.goto("/dashboard")
    await expect(page.get_by_test_id("stat-cards")).to_be_visible()
    failed: list[str] = []

    async def fail_once(route):
        if not failed:
            failed.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await page.route(re.compile(r"/assets/LoginPage-[\w-]+\.js$"), fail_once)
    await page.get_by_test_id("user-menu").click()
    await page.get_by_text("Log out", exact=True).click()
    await page.wait_for_url(re.compile(r"/login(\?|$)"))
    await expect(page.get_by_label("Username")).to_be_visible(timeout=15000)
    await expect(page.get_by_label("Username")).to_be_focused()
    assert failed, "the login chunk was never requested"


# -- item 10: settings say how they save; unsaved edits ask first --------------------------------

async def test_settings_switches_save_at_once_and_unsaved_edits_ask(page, console):
    await login(page, console)
    await page.goto("/setting?tab=operation")
    general = page.get_by_test_id("card-general")
    await expect(general.get_by_test_id("switch-note")).to_contain_text("Switches save as soon as you flip them")
    save = general.get_by_role("button", name=re.compile("^Save "))
    await expect(save).to_be_disabled()  # nothing to save, and it says so by being off
    await general.get_by_test_id("opt-ApproximateTokenEnabled").click()
    await expect(page.get_by_text(re.compile(r"^Saved: "))).to_be_visible()
    await expect(page.get_by_text("Nothing to save")).to_have_count(0)
    await expect(save).to_be_disabled()

    # a JSON error sits right under its own textarea, above the next field's label
    ratios = page.get_by_test_id("card-ratios")
    box = ratios.get_by_label("Model ratio", exact=True)
    await box.fill('{"gpt-4o": 2.5,')
    err = ratios.get_by_test_id("error-ModelRatio")
    await expect(err).to_contain_text("Not valid JSON")
    eb = await err.bounding_box()
    ib = await box.bounding_box()
    nxt = await ratios.get_by_label("Completion ratio", exact=True).bounding_box()
    assert eb and ib and nxt
    assert 0 <= eb["y"] - (ib["y"] + ib["height"]) < 40, (eb, ib)
    assert eb["y"] + eb["height"] < nxt["y"] - 20 or eb["x"] + 10 < nxt["x"] or nxt["x"] + 10 < eb["x"], (eb, nxt)

    # leaving with the unsaved edit asks; Stay keeps the page, Leave goes
    await page.get_by_role("menu").first.get_by_role("link", name="Logs", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Leave without saving?")
    await expect(dialog).to_contain_text("Ratios")
    await dialog.get_by_role("button", name="Stay").click()
    await expect(page).to_have_url(re.compile(r"/setting\?tab=operation"))
    await expect(box).to_have_value('{"gpt-4o": 2.5,')

    # closing the tab asks too (beforeunload)
    kinds: list[str] = []

    async def on_dialog(d):
        kinds.append(d.type)
        await d.dismiss()

    page.on("dialog", on_dialog)
    await page.close(run_before_unload=True)
    for _ in range(50):
        if kinds:
            break
        await page.wait_for_timeout(100)
    assert kinds == ["beforeunload"], kinds


async def test_settings_leave_discards_after_confirm(page, console):
    await login(page, console)
    await page.goto("/setting?tab=other")
    await page.get_by_test_id("card-branding").get_by_label("System name", exact=True).fill("Renamed")
    await page.get_by_role("menu").first.get_by_role("link", name="Dashboard", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    await page.wait_for_url("**/dashboard")


# -- item 9: quota units -------------------------------------------------------------------------

async def test_one_quota_format_usd_or_points_never_tokens(page, console):
    await login(page, console)
    await page.goto("/dashboard")
    remaining = page.get_by_test_id("stat-remaining").locator(".value")
    text = await remaining.inner_text()
    assert re.fullmatch(r"\$[\d,]+\.\d{2}", text), text  # the full amount, never "$1B"
    title = await remaining.get_attribute("title")
    assert title and "quota points" in title and re.search(r"\$[\d,]+\.\d{6}", title), title

    await opt(console, "DisplayInCurrencyEnabled", "false")
    await page.evaluate("localStorage.removeItem('onerelay.status')")
    await page.reload()
    await expect(remaining).not_to_contain_text("$")
    cards = await page.get_by_test_id("stat-cards").inner_text()
    # quota is never called tokens; only the LLM token card is
    assert cards.lower().count("token") == 1 and "Tokens · 7 days" in cards, cards
    assert "quota points" in (await remaining.get_attribute("title") or "")


# -- item 14: accessibility ----------------------------------------------------------------------

async def axe_violations(page: Page) -> list[dict[str, Any]]:
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(350)  # transitions settle (colours are read from the screen state)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=AXE)
    res = await page.evaluate(
        """async () => {
             const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] },
                                                 resultTypes: ['violations'] });
             return r.violations.map(v => ({ id: v.id, nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').slice(0, 160)) }));
           }""")
    return [v for v in res if v["id"] == "color-contrast" or "focus" in v["id"]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_contrast_and_focus_on_the_main_pages(browser, console, scheme):
    await opt(console, "Notice", "")
    # bypass_csp: axe is injected as an inline script, which the console's CSP forbids
    ctx = await browser.new_context(viewport={"width": 1366, "height": 860}, base_url=console.url, color_scheme=scheme,
                                    reduced_motion="reduce", bypass_csp=True)
    ctx.set_default_timeout(10000)
    pg = await ctx.new_page()
    problems: dict[str, Any] = {}
    for path in ("/login", "/register", "/reset", "/"):
        await pg.goto(path)
        await pg.locator(".n-layout-header").first.wait_for()
        if v := await axe_violations(pg):
            problems[path] = v
    await _seed_usage(console)
    await login(pg, console)
    for path in ("/dashboard", "/setting", "/setting?tab=operation", "/setting?tab=system", "/setting?tab=other", "/user/edit"):
        await pg.goto(path)
        await pg.get_by_test_id("page-title").wait_for()
        if v := await axe_violations(pg):
            problems[path] = v
    assert await pg.evaluate("document.documentElement.dataset.theme") == scheme
    await ctx.close()
    assert not problems, json.dumps(problems, indent=1)


async def test_side_menu_shows_keyboard_focus(page, console):
    await login(page, console)
    await page.goto("/dashboard")
    await page.get_by_test_id("stat-cards").wait_for()
    link = page.get_by_role("menu").first.get_by_role("link", name="Tokens", exact=True)
    await link.focus()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Tab")  # focus arrived by keyboard: :focus-visible
    style = await page.evaluate(
        """() => { const a = document.activeElement; const box = a.closest('.n-menu-item-content');
                  const s = getComputedStyle(box); return [a.textContent, s.outlineStyle, s.outlineWidth]; }""")
    assert style[0] == "Tokens" and style[1] == "solid" and style[2] != "0px", style


async def test_first_field_has_the_focus(page, console):
    for path, label in (("/login", "Username"), ("/register", "Username"), ("/reset", "Email")):
        await page.goto(path)
        await expect(page.get_by_label(label, exact=True)).to_be_focused()
    await page.goto("/login?username=root")
    await expect(page.get_by_label("Password", exact=True)).to_be_focused()


async def test_theme_follows_the_system_until_picked(browser, console):
    ctx = await browser.new_context(base_url=console.url, color_scheme="dark")
    pg = await ctx.new_page()
    theme = "document.documentElement.dataset.theme"
    await pg.goto("/login")
    await pg.get_by_label("Username").wait_for()
    assert await pg.evaluate(theme) == "dark"
    async def becomes(value: str) -> None:
        for _ in range(50):
            if await pg.evaluate(theme) == value:
                return
            await pg.wait_for_timeout(100)
        assert await pg.evaluate(theme) == value

    await pg.emulate_media(color_scheme="light")  # live: no reload
    await becomes("light")
    await pg.emulate_media(color_scheme="dark")
    await becomes("dark")
    # naive's own surfaces follow too (the dark theme chunk loaded)
    bg = await pg.evaluate("getComputedStyle(document.querySelector('.n-card')).backgroundColor")
    assert bg != "rgb(255, 255, 255)", bg

    # an explicit pick wins over the system, also after a reload
    await pg.get_by_test_id("theme-toggle").click()
    assert await pg.evaluate(theme) == "light"
    await pg.emulate_media(color_scheme="dark")
    await pg.reload()
    await pg.get_by_label("Username").wait_for()
    assert await pg.evaluate(theme) == "light"
    await ctx.close()


# -- the dashboard's error rates ------------------------------------------------------------------

async def _seed_usage(console) -> None:
    """Realistic traffic with failures: a good channel, a flaky one (HTTP 500), a model nobody serves."""
    if getattr(console, "_seeded", False):
        return
    console._seeded = True
    await opt(console, "RetryTimes", "0")
    await console.channel(name="openai-main", models="gpt-4o-mini,gpt-4o", priority=10)
    await console.channel(name="flaky-proxy", key="fail-500-flaky", models="claude-3-5-haiku", priority=5)
    key = await console.token(name="app")
    client = console.client(key)
    for i in range(6):
        await client.chat.completions.create(model="gpt-4o-mini" if i % 2 else "gpt-4o", messages=CHAT)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(model="claude-3-5-haiku", messages=CHAT)
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(model="no-such-model", messages=CHAT)
    await console.ctx.ledger.flush()


async def test_dashboard_shows_error_rates_per_channel_and_model(page, console):
    await _seed_usage(console)
    await login(page, console)
    await page.goto("/dashboard")
    card = page.get_by_test_id("error-rates")
    await expect(page.get_by_test_id("error-rates-summary")).to_contain_text("4 failed of 10 requests")
    channels = page.get_by_test_id("error-rates-channels")
    flaky = channels.locator("tr", has_text="flaky-proxy")
    await expect(flaky).to_contain_text("100%")
    await expect(channels.locator("tr", has_text="openai-main")).to_contain_text("0%")
    await card.get_by_text("By model", exact=True).click()
    models = page.get_by_test_id("error-rates-models")
    await expect(models.locator("tr", has_text="claude-3-5-haiku")).to_contain_text("100%")
    await expect(models.locator("tr", has_text="no-such-model")).to_be_visible()
    await models.get_by_role("link", name="claude-3-5-haiku").click()
    await page.wait_for_url(re.compile(r"/log\?type=6&model_name=claude-3-5-haiku"))

    # not for common users
    await console.ok("POST", "/api/user/", {"username": "alice", "password": "alice-pass-1"})
    await login(page, console, "alice", "alice-pass-1")
    await page.goto("/dashboard")
    await page.get_by_test_id("stat-cards").wait_for()
    await expect(page.get_by_test_id("error-rates")).to_have_count(0)


# -- screenshots -------------------------------------------------------------------------------------

PAGES = [
    ("login", "/login", False),
    ("register", "/register", False),
    ("home", "/", False),
    ("dashboard", "/dashboard", True),
    ("settings-personal", "/setting", True),
    ("settings-operation", "/setting?tab=operation", True),
    ("settings-system", "/setting?tab=system", True),
    ("settings-other", "/setting?tab=other", True),
    ("profile", "/user/edit", True),
]


@pytest.mark.parametrize("width", [1440, 390])
async def test_screenshots(browser, console, width):
    await _seed_usage(console)
    for scheme in ("light", "dark"):
        ctx = await browser.new_context(viewport={"width": width, "height": 900}, base_url=console.url,
                                        color_scheme=scheme, reduced_motion="reduce")
        ctx.set_default_timeout(10000)
        pg = await ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        logged_in = False
        for name, path, auth in PAGES:
            if auth and not logged_in:
                await login(pg, console)
                logged_in = True
            await pg.goto(path)
            if auth:
                await pg.get_by_test_id("page-title" if width > 900 else "user-menu").wait_for()
            await pg.wait_for_load_state("networkidle")
            await pg.wait_for_timeout(400)
            await pg.mouse.move(1, 1)
            await shot(pg, f"polish-{name}-{width}-{scheme}", full_page=True)
            if name == "dashboard":  # the error rates, below the charts
                await pg.get_by_test_id("error-rates-channels").scroll_into_view_if_needed()
                await shot(pg, f"polish-dashboard-errors-{width}-{scheme}")
        await ctx.close()
        assert not errors, errors
