"""HTTP edge: every URL area's routes, joined in order (most specific first)."""

from __future__ import annotations

from typing import Any

from . import api, dashboard, formats, relay, web
from .base import NotFoundHandler


def all_routes(dist: str) -> list[Any]:
    return (
        relay.routes
        + formats.routes
        + dashboard.routes
        + api.routes
        + [(r"/(?:v1|api)(?:/.*)?", NotFoundHandler)]
        + web.routes(dist)
    )
