"""HTTP edge: every URL area's routes, joined in order (most specific first)."""

from __future__ import annotations

from typing import Any

from . import api, dashboard, formats, metrics, relay, web
from .base import NotFoundHandler


def _slash_optional(route: Any) -> Any:
    """An ``/api`` route matched with or without a trailing slash: One API's console calls
    ``DELETE /api/token/5/`` and ``GET /api/channel/update_balance/5/`` (gin redirects them)."""
    pattern = route[0]
    if pattern.endswith("/?") or not pattern.startswith("/api"):
        return route
    return (pattern + "/?", *route[1:])


def all_routes(dist: str) -> list[Any]:
    return (
        relay.routes
        + formats.routes
        + dashboard.routes
        + metrics.routes
        + [_slash_optional(r) for r in api.routes]
        + [(r"/(?:v1|api)(?:/.*)?", NotFoundHandler)]
        + web.routes(dist)
    )
