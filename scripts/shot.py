"""Screenshot console pages in Debian's headless Chromium (a development aid).

    python scripts/shot.py http://127.0.0.1:3000 /dashboard /channel --login root:123456 --out /tmp/shots
    python scripts/shot.py http://127.0.0.1:3000 /login --width 390 --dark

Logs in through the API when --login is given; writes one PNG per path.
"""

from __future__ import annotations

import argparse
import os

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--login", help="user:password")
    ap.add_argument("--out", default="/tmp/shots")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=860)
    ap.add_argument("--dark", action="store_true")
    ap.add_argument("--full", action="store_true", help="full-page screenshots")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": a.width, "height": a.height},
                                  color_scheme="dark" if a.dark else "light")
        page = ctx.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and print(f"[console.{m.type}] {m.text}"))
        page.on("pageerror", lambda e: print(f"[pageerror] {e}"))
        if a.login:  # through the API (the cookie lands in this context), then tell the SPA who we are
            user, pw = a.login.split(":", 1)
            page.goto(a.base + "/about")
            r = page.request.post(a.base + "/api/user/login", data={"username": user, "password": pw})
            body = r.json()
            if not body.get("success"):
                raise SystemExit(f"login failed: {body}")
            page.evaluate("u => localStorage.setItem('onerelay.user', JSON.stringify(u))", body["data"])
        for path in a.paths:
            page.goto(a.base + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(600)
            name = (path.strip("/").replace("/", "_") or "home") + (f"_{a.width}" if a.width != 1366 else "") + ("_dark" if a.dark else "")
            f = os.path.join(a.out, name + ".png")
            page.screenshot(path=f, full_page=a.full)
            print(f)
        browser.close()


if __name__ == "__main__":
    main()
