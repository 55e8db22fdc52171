"""``GET /api/audit/``: the audit log (root only), and :func:`audit`, the one-line hook the
admin write handlers call after a change.

Query: ``p`` (page, from 0), ``size`` (1-100, default 10), and the filters ``entity``
(channel, token, user, option, redemption), ``entity_id``, ``action`` (create, update,
delete, status, topup, manage), ``user_id`` (who), ``start_timestamp``/``end_timestamp``.
"""

from __future__ import annotations

from typing import Any, Iterable

from models.audit import ACTIONS, ENTITIES, to_api

from schemas.common import MAX_ID, PAGE, TS_MAX
from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import ApiError, ApiHandler, root_auth

PAGE_SIZE = 10


async def audit(handler: ApiHandler, user: dict[str, Any], action: str, entity: str, entity_id: Any,
                fields: Iterable[str] = (), **detail: Any) -> None:
    """Record that ``user`` did ``action`` to ``entity`` ``entity_id`` (names of the changed
    fields only; ``detail`` keeps only non-secret facts such as a status)."""
    await handler.ctx.audit.record(
        user_id=int(user.get("_id") or 0), username=str(user.get("username") or ""), action=action,
        entity=entity, entity_id=entity_id, fields=fields, ip=handler.client_ip, **detail)


def _int_arg(handler: ApiHandler, name: str, maximum: int = 2**62) -> int | None:
    raw = handler.get_query_argument(name, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be an integer") from None
    if n < 0 or n > maximum:
        raise ApiError(f"{name} must be between 0 and {maximum}")
    return n


class AuditHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("The audit log, newest first", query=Shape(
        PAGE, F("size", "integer", min=0, max=100), F("entity", enum=("", *ENTITIES)),
        F("action", enum=("", *ACTIONS)), F("entity_id", max_len=100), F("user_id", "integer", min=0, max=MAX_ID),
        F("start_timestamp", "integer", min=0, max=TS_MAX), F("end_timestamp", "integer", min=0, max=TS_MAX)))}

    @root_auth
    async def get(self, user: dict[str, Any]) -> None:
        q: dict[str, Any] = {}
        entity = self.get_query_argument("entity", "").strip()
        if entity:
            if entity not in ENTITIES:
                raise ApiError(f"entity must be one of {', '.join(ENTITIES)}")
            q["entity"] = entity
        action = self.get_query_argument("action", "").strip()
        if action:
            if action not in ACTIONS:
                raise ApiError(f"action must be one of {', '.join(ACTIONS)}")
            q["action"] = action
        eid = self.get_query_argument("entity_id", "").strip()
        if eid:
            if len(eid) > 100:
                raise ApiError("entity_id is too long")
            q["entity_id"] = {"$in": [eid, int(eid)]} if eid.isdigit() and len(eid) < 18 else eid
        uid = _int_arg(self, "user_id")
        if uid is not None:
            q["user_id"] = uid
        start, end = _int_arg(self, "start_timestamp", 2**40), _int_arg(self, "end_timestamp", 2**40)
        if start or end:
            q["created_at"] = {**({"$gte": start} if start else {}), **({"$lte": end} if end else {})}
        size = _int_arg(self, "size", 100) or PAGE_SIZE
        self.ok([to_api(d) for d in await self.ctx.audit.page(q, self.page(), max(1, size))])


routes = [(r"/api/audit/?", AuditHandler)]
