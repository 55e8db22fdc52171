"""Channels (upstream accounts) and their abilities (group × model rows)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne

from .db import Database

CH_UNKNOWN, CH_ENABLED, CH_MANUALLY_DISABLED, CH_AUTO_DISABLED = 0, 1, 2, 3

API_FIELDS = (
    "type", "status", "name", "weight", "created_time", "test_time", "response_time", "base_url",
    "other", "balance", "balance_updated_time", "models", "group", "used_quota", "model_mapping",
    "priority", "config", "system_prompt",
)


def split_csv(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for part in text.split(","):
        part = part.strip()
        if part:
            seen[part] = None
    return list(seen)


def parse_json_object(text: Any, what: str) -> dict[str, Any]:
    """A JSON-object option field (model_mapping, config); "" → {}."""
    if text in (None, "", "{}"):
        return {}
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a JSON object string")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object")
    return data


@dataclass(slots=True)
class ChannelRecord:
    """The routing view of a channel (holds its keys: never serialised to clients)."""

    id: int
    type: int
    name: str
    status: int
    keys: list[str]
    base_url: str
    models: list[str]
    groups: list[str]
    model_mapping: dict[str, str]
    system_prompt: str
    priority: int
    weight: int
    config: dict[str, Any]
    other: str
    _rotation: Any = field(default=None, repr=False)

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> "ChannelRecord":
        keys = [k.strip() for k in str(d.get("key") or "").splitlines() if k.strip()]
        try:
            mapping = {str(k): str(v) for k, v in parse_json_object(d.get("model_mapping"), "model_mapping").items()
                       if isinstance(v, str) and v}
        except ValueError:
            mapping = {}
        try:
            config = parse_json_object(d.get("config"), "config")
        except ValueError:
            config = {}
        return cls(
            id=int(d["_id"]), type=int(d.get("type", 1)), name=d.get("name", ""),
            status=int(d.get("status", 1)), keys=keys or [""], base_url=d.get("base_url") or "",
            models=split_csv(d.get("models")), groups=split_csv(d.get("group")) or ["default"],
            model_mapping=mapping, system_prompt=d.get("system_prompt") or "",
            priority=int(d.get("priority") or 0), weight=max(0, int(d.get("weight") or 0)),
            config=config, other=d.get("other") or "",
        )

    def next_key(self) -> str:
        """Several keys (one per line) are used in rotation."""
        if len(self.keys) == 1:
            return self.keys[0]
        if self._rotation is None:
            self._rotation = itertools.cycle(self.keys)
        return str(next(self._rotation))


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(doc["_id"]), "key": ""}
    for k in API_FIELDS:
        out[k] = doc.get(k)
    for k in ("weight", "priority", "used_quota", "test_time", "response_time", "created_time",
              "balance_updated_time"):
        out[k] = int(out[k] or 0)
    out["balance"] = float(out["balance"] or 0)
    for k in ("base_url", "other", "models", "group", "system_prompt", "name"):
        out[k] = out[k] or ""
    out["model_mapping"] = out["model_mapping"] or ""
    out["config"] = out["config"] or ""
    out["group"] = out["group"] or "default"
    return out


class ChannelStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.col = db.channels

    @staticmethod
    def abilities_for(doc: dict[str, Any]) -> list[dict[str, Any]]:
        enabled = int(doc.get("status", 1)) == CH_ENABLED
        return [
            {"group": g, "model": m, "channel_id": int(doc["_id"]), "enabled": enabled,
             "priority": int(doc.get("priority") or 0)}
            for g in (split_csv(doc.get("group")) or ["default"])
            for m in split_csv(doc.get("models"))
        ]

    async def rebuild_abilities(self, doc: dict[str, Any]) -> None:
        await self.db.abilities.delete_many({"channel_id": int(doc["_id"])})
        rows = self.abilities_for(doc)
        if rows:
            await self.db.abilities.bulk_write([InsertOne(r) for r in rows], ordered=False)

    async def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        cid = await self.db.next_id("channels")
        doc = {
            "_id": cid, "type": 1, "key": "", "status": CH_ENABLED, "name": "", "weight": 0,
            "created_time": int(time.time()), "test_time": 0, "response_time": 0, "base_url": "",
            "other": "", "balance": 0.0, "balance_updated_time": 0, "models": "",
            "group": "default", "used_quota": 0, "model_mapping": "", "priority": 0, "config": "",
            "system_prompt": "",
        }
        doc.update(fields)
        doc["_id"] = cid
        await self.col.insert_one(doc)
        await self.rebuild_abilities(doc)
        return doc

    async def get(self, cid: int) -> dict[str, Any] | None:
        return await self.col.find_one({"_id": cid})

    async def update(self, cid: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        if fields:
            await self.col.update_one({"_id": cid}, {"$set": fields})
        doc = await self.get(cid)
        if doc is not None:
            await self.rebuild_abilities(doc)
        return doc

    async def set_status(self, cid: int, status: int) -> None:
        await self.col.update_one({"_id": cid}, {"$set": {"status": status}})
        await self.db.abilities.update_many({"channel_id": cid}, {"$set": {"enabled": status == CH_ENABLED}})

    async def delete(self, cid: int) -> bool:
        res = await self.col.delete_one({"_id": cid})
        await self.db.abilities.delete_many({"channel_id": cid})
        return res.deleted_count > 0

    async def all(self) -> list[dict[str, Any]]:
        return [d async for d in self.col.find({})]
