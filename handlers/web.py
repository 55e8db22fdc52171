"""The compiled SPA (``frontend/dist``) with an ``index.html`` fallback for client routes.

On a ``NODE_TYPE=slave`` node with ``FRONTEND_BASE_URL`` set, every request here (pages,
client routes, assets) is redirected to that URL with the same path and query, as One API
does; ``/api``, ``/v1`` and ``/dashboard`` are routed before these handlers and still answer.

Every answer here carries the console's security headers (:class:`SecurityHeaders`): a
Content-Security-Policy (scripts only from this origin and Cloudflare Turnstile, styles from
this origin plus the inline ones Naive UI injects, API calls only to this origin, the page
framed only by itself) that still lets the Chat, Home and About pages frame the operator's
ChatLink/HomePageContent/About URL (any https: page, and an http:// one named there),
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: strict-origin-when-cross-origin``.
"""

from __future__ import annotations

import html
import inspect
import os
import re
from typing import Any

import tornado.web

from services import console_build

from .base import BaseHandler
from .ratelimit import WebRateLimited

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>OneRelay</title>{refresh}
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.55}}
code,pre{{background:#f3f3f3;padding:.1rem .3rem;border-radius:4px}}pre{{padding:.8rem;overflow:auto}}</style></head><body>
<h1>OneRelay</h1><p>The API is running: point any OpenAI client at <code>{base}/v1</code>.</p>{body}</body></html>"""

_HOW = "<p>Build it with <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>; no restart is needed.</p>"


def placeholder(base: str, state: str, error: str) -> str:
    """The page served at console routes while ``frontend/dist`` is not there."""
    refresh = ""
    if state == console_build.BUILDING:
        refresh = '<meta http-equiv="refresh" content="5">'
        body = "<p><b>The web console is being built</b> (npm ci &amp;&amp; npm run build). This page reloads by itself.</p>"
    elif state == console_build.FAILED:
        body = ("<p><b>Building the web console failed.</b></p><pre>" + html.escape(error) + "</pre>" + _HOW)
    elif state == console_build.NO_NPM:
        body = "<p>The web console is not built and <b>npm is not installed</b>. Install Node.js 20+ and npm, then:</p>" + _HOW
    else:
        body = "<p>The web console is not built.</p>" + _HOW
    return _PAGE.format(refresh=refresh, base=html.escape(base), body=body)


TURNSTILE_ORIGIN = "https://challenges.cloudflare.com"
_URL_ORIGIN = re.compile(r"^\s*(https?://[^/\s?#]+)", re.I)


def _http_origin(value: str) -> str:
    """The origin of an http:// option URL ("" otherwise: https: is allowed wholesale)."""
    m = _URL_ORIGIN.match(value or "")
    return m.group(1).lower() if m and m.group(1).lower().startswith("http://") else ""


def console_csp(options: Any) -> str:
    """The console's Content-Security-Policy for the current options."""
    frames = ["'self'", "https:"]
    for key in ("ChatLink", "HomePageContent", "About"):
        origin = _http_origin(options.get(key))
        if origin and origin not in frames:
            frames.append(origin)
    images = ["'self'", "data:", "blob:", "https:"]
    for key in ("Logo", "WeChatAccountQRCodeImageURL"):
        origin = _http_origin(options.get(key))
        if origin and origin not in images:
            images.append(origin)
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' {TURNSTILE_ORIGIN}",
        "style-src 'self' 'unsafe-inline'",  # Naive UI (css-render) injects <style> elements
        "img-src " + " ".join(images),
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src " + " ".join(frames),
        "frame-ancestors 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ))


class SecurityHeaders:
    """Mixin: the console's CSP, nosniff, referrer policy and framing headers."""

    def set_default_headers(self: Any) -> None:
        super().set_default_headers()  # type: ignore[misc]
        ctx = self.application.settings.get("ctx")
        if ctx is not None:
            self.set_header("Content-Security-Policy", console_csp(ctx.options))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "strict-origin-when-cross-origin")
        self.set_header("X-Frame-Options", "SAMEORIGIN")


class FrontendRedirect:
    """Mixin: a slave node with FRONTEND_BASE_URL sends console requests there (302)."""

    async def prepare(self: Any) -> None:
        s = self.application.settings["ctx"].settings
        if s.frontend_base_url and s.node_type == "slave":
            self.redirect(s.frontend_base_url + self.request.uri)
            return
        result = super().prepare()  # type: ignore[misc]
        if inspect.isawaitable(result):
            await result


class SPAHandler(SecurityHeaders, FrontendRedirect, WebRateLimited, BaseHandler):
    """Serves ``index.html`` for every client-side route."""

    def initialize(self, dist: str) -> None:  # type: ignore[override]
        super().initialize()
        self.dist = dist

    def get(self, *_: Any) -> None:
        index = os.path.join(self.dist, "index.html")
        self.set_header("Cache-Control", "no-cache")
        if os.path.isfile(index):
            with open(index, "rb") as f:
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(f.read())
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        state, error = console_build.state_of(self.dist)
        self.finish(placeholder(f"{self.request.protocol}://{self.request.host}", state, error))


class AssetHandler(SecurityHeaders, FrontendRedirect, tornado.web.StaticFileHandler):
    """Hashed build assets: cached for a year, and not counted by the web rate limit (a cold
    load fetches ~20 of them; only pages count, so fresh tabs do not trip it)."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")


class RootFileHandler(SecurityHeaders, FrontendRedirect, tornado.web.StaticFileHandler):
    """favicon, logo and robots.txt from the build's root."""


def routes(dist: str) -> list[Any]:
    return [
        (r"/assets/(.*)", AssetHandler, {"path": os.path.join(dist, "assets")}),
        (r"/(favicon\.(?:ico|svg)|logo\.(?:png|svg)|robots\.txt)", RootFileHandler, {"path": dist}),
        (r"/(.*)", SPAHandler, {"dist": dist}),
    ]
