"""``GET /api/openapi.json``: the OpenAPI 3.1 document (public), built once from the declarations."""

from __future__ import annotations

import json
from typing import Any

from schemas import openapi
from schemas.fields import Op

from ..base import ApiHandler

_cache: dict[str, bytes] = {}


class OpenAPIHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("This document (OpenAPI 3.1)")}

    async def get(self) -> None:
        doc = _cache.get("doc")
        if doc is None:
            from . import routes

            doc = _cache["doc"] = json.dumps(openapi.build(routes, self.ctx.settings.version),
                                             ensure_ascii=False).encode()
        self.finish(doc)


routes: list[Any] = [(r"/api/openapi\.json", OpenAPIHandler)]
