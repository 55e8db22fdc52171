"""The compiled SPA (``frontend/dist``) with an ``index.html`` fallback for client routes."""

from __future__ import annotations

import os
from typing import Any

import tornado.web

from .base import BaseHandler
from .ratelimit import WebRateLimited

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>OneRelay</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:4px}</style></head><body>
<h1>OneRelay</h1><p>The API is running: point any OpenAI client at <code>{base}/v1</code>.</p>
<p>The web console is not built. Build it with <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>
and restart the server.</p></body></html>"""


class SPAHandler(WebRateLimited, BaseHandler):
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
        self.finish(_PLACEHOLDER.replace("{base}", f"{self.request.protocol}://{self.request.host}"))


class AssetHandler(WebRateLimited, tornado.web.StaticFileHandler):
    """Hashed build assets: cached for a year."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")


def routes(dist: str) -> list[Any]:
    return [
        (r"/assets/(.*)", AssetHandler, {"path": os.path.join(dist, "assets")}),
        (r"/(favicon\.(?:ico|svg)|logo\.(?:png|svg)|robots\.txt)", tornado.web.StaticFileHandler, {"path": dist}),
        (r"/(.*)", SPAHandler, {"dist": dist}),
    ]
