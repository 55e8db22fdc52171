"""Browser tests of the console: Playwright (async API) driving Debian's headless
``/usr/bin/chromium`` against a real OneRelay (embedded DB, fake upstream) that serves the
compiled SPA from ``frontend/dist``. Never downloads a browser.

Fixtures:
- ``console``: a ``Gateway`` (see ``tests/conftest.py``) serving the built console.
- ``page``: a fresh browser context + page at 1366×860 on ``console.url``; any uncaught page
  error fails the test.
- ``login(page, console, username, password)``: a logged-in page via the API (fast path);
  the UI login itself is covered in ``test_flow``.
- ``shot(page, name)``: saves ``test-artifacts/screenshots/<name>.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import ROOT, Gateway, running_gateway

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
# ONERELAY_TEST_DIST points the tests at another build (e.g. a developer's /tmp build).
DIST = os.environ.get("ONERELAY_TEST_DIST") or os.path.join(ROOT, "frontend", "dist")
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "screenshots")


@pytest.fixture(scope="session")
def console_dist() -> str:
    """The compiled console; built here when missing (the README test command builds it first)."""
    if not os.path.isfile(os.path.join(DIST, "index.html")):
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("frontend/dist is missing and npm is not installed: cd frontend && npm ci && npm run build")
        front = os.path.join(ROOT, "frontend")
        if not os.path.isdir(os.path.join(front, "node_modules")):
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=front, check=True)
        subprocess.run([npm, "run", "build"], cwd=front, check=True)
    return DIST


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does this)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def console(mongo: Any, upstream: Any, tmp_root: str, console_dist: str,
                  request: Any) -> AsyncIterator[Gateway]:
    async with running_gateway(mongo, upstream, tmp_root, request, frontend_dist=console_dist,
                               global_web_rate_limit=100000, global_api_rate_limit=100000,
                               critical_rate_limit=100000) as gateway:
        yield gateway


@pytest.fixture
async def page(browser: Browser, console: Gateway) -> AsyncIterator[Page]:
    ctx = await browser.new_context(viewport={"width": 1366, "height": 860}, base_url=console.url,
                                    color_scheme="light")
    ctx.set_default_timeout(10000)
    pg = await ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def login(page: Page, console: Gateway, username: str = "root", password: str = "123456") -> dict[str, Any]:
    """Logs the page's browser context in through the API and tells the SPA who is logged in."""
    await page.goto("/about")
    r = await page.request.post(console.url + "/api/user/login", data={"username": username, "password": password})
    body = await r.json()
    assert body["success"], body
    await page.evaluate("u => localStorage.setItem('onerelay.user', JSON.stringify(u))", body["data"])
    return body["data"]  # type: ignore[no-any-return]


async def shot(page: Page, name: str, *, full_page: bool = False) -> str:
    """Saves a screenshot under test-artifacts/screenshots (after the network settles)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    try:
        await page.wait_for_load_state("networkidle", timeout=5000)
    except Exception:  # a long poll must not fail a screenshot
        pass
    path = os.path.join(ARTIFACTS, name + ".png")
    await page.screenshot(path=path, full_page=full_page)
    return path


async def fits(page: Page, width: int = 390) -> None:
    """The page does not scroll sideways at this viewport width."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


async def toggle_theme(page: Page) -> None:
    """Clicks the header's light/dark switch, then moves focus and the pointer out of the way."""
    await page.get_by_test_id("theme-toggle").click()
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.mouse.move(5, 5)
    await page.wait_for_timeout(250)


async def shot_light_dark(page: Page, name: str) -> None:
    """Screenshots `<name>-light` and `<name>-dark`, then switches back to the light theme."""
    await shot(page, name + "-light")
    await toggle_theme(page)
    await shot(page, name + "-dark")
    await toggle_theme(page)


async def create_codes(page: Page, name: str, quota_usd: str, count: str) -> None:
    """Creates redemption codes through the console form (the created-codes dialog stays open)."""
    await page.goto("/redemption")
    await page.get_by_role("button", name="Create codes").click()
    await page.wait_for_url("**/redemption/add")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Quota per code (USD)").fill(quota_usd)
    await page.get_by_label("Count").fill(count)
    await page.get_by_role("button", name="Create codes").click()
