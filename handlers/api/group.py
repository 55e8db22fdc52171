"""``/api/group/``: the user groups known to billing (GroupRatio keys, admin)."""

from __future__ import annotations

from typing import Any

from schemas.fields import Op

from ..base import ApiHandler, admin_auth


class GroupHandler(ApiHandler):
    ops = {"GET": Op("The user groups known to billing")}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok(sorted(self.ctx.options.json("GroupRatio")))


routes = [
    (r"/api/group/?", GroupHandler),
]
