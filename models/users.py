"""Users: accounts, roles, bcrypt passwords, system access tokens."""

from __future__ import annotations

import asyncio
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bcrypt
from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from .db import Database

if TYPE_CHECKING:
    from .events import EventBus

ROLE_GUEST, ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT = 0, 1, 10, 100
STATUS_ENABLED, STATUS_DISABLED, STATUS_DELETED = 1, 2, 3

# Fields a management response may carry (never the password hash).
PUBLIC_FIELDS = (
    "id", "username", "display_name", "role", "status", "email", "github_id", "wechat_id",
    "lark_id", "oidc_id", "quota", "used_quota", "request_count", "group", "aff_code",
    "inviter_id",
)

# ``GET /api/user/?order=`` (One API): descending by one of these, else newest first.
LIST_ORDERS = ("quota", "used_quota", "request_count")


@dataclass(slots=True)
class UserRecord:
    """The cached view of a user the relay needs (no secrets)."""

    id: int
    username: str
    role: int
    status: int
    group: str
    session_version: int = 0
    limits: dict[str, Any] = field(default_factory=dict)  # services/limits.py (RPM/TPM, periodic quotas)

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> "UserRecord":
        from services.limits import LimitError, parse_limits

        try:
            limits = parse_limits(d.get("limits"))
        except LimitError:
            limits = {}
        return cls(
            id=int(d["_id"]), username=d.get("username", ""), role=int(d.get("role", 1)),
            status=int(d.get("status", 1)), group=d.get("group") or "default",
            session_version=int(d.get("session_version", 0)), limits=limits,
        )


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def new_access_token() -> str:
    return uuid.uuid4().hex


def new_aff_code() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(4))


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in PUBLIC_FIELDS if k != "id"}
    out["id"] = int(doc["_id"])
    for k in ("display_name", "email", "github_id", "wechat_id", "lark_id", "oidc_id", "aff_code"):
        out[k] = out[k] or ""
    for k in ("quota", "used_quota", "request_count", "inviter_id"):
        out[k] = int(out[k] or 0)
    out["quota"] += int(doc.get("leased") or 0)  # quota leased to processes is still the user's
    out["group"] = out["group"] or "default"
    # the password is One API's well-known default (123456): the console asks to change it
    out["default_password"] = bool(doc.get("default_password"))
    out["limits"] = doc.get("limits") if isinstance(doc.get("limits"), dict) else {}
    return out


DEFAULT_PASSWORD = "123456"  # One API's first root password; flagged until changed


class UserStore:
    """Owns every write of ``users``; each write publishes ``user`` (caches on every process drop it).

    Quota itself moves through :class:`models.ledger.QuotaLedger` (leases and credits)."""

    def __init__(self, db: Database, events: "EventBus | None" = None) -> None:
        self.db = db
        self.col = db.users
        self.events = events

    async def _changed(self, uid: int, **data: Any) -> None:
        if self.events is not None:
            await self.events.publish("user", uid, **data)

    async def by_field(self, field: str, value: Any) -> dict[str, Any] | None:
        """The user whose ``field`` (an OAuth id: github_id, oidc_id...) equals ``value``."""
        return await self.col.find_one({field: value})

    async def by_email(self, email: str) -> dict[str, Any] | None:
        """The live (not deleted) user with this email, ignoring case."""
        if not email:
            return None
        return await self.col.find_one({
            "email": {"$regex": "^" + re.escape(email) + "$", "$options": "i"},
            "status": {"$ne": STATUS_DELETED},
        })

    async def by_aff_code(self, aff_code: str) -> dict[str, Any] | None:
        if not aff_code:
            return None
        return await self.col.find_one({"aff_code": aff_code, "status": {"$ne": STATUS_DELETED}})

    async def last_id(self) -> int:
        """The highest user id allocated so far (OAuth usernames are ``prefix_<next id>``)."""
        doc = await self.db.counters.find_one({"_id": "users"})
        return int((doc or {}).get("seq", 0))

    async def mark_quota_reminded(self, uid: int, reminded: bool) -> dict[str, Any] | None:
        """Flip the low-quota reminder flag atomically. Setting it returns the user (email and
        username) when this call set it (so one reminder goes out per crossing across nodes),
        else None."""
        if not reminded:
            await self.col.update_one({"_id": uid, "quota_reminded": True}, {"$set": {"quota_reminded": False}})
            return None
        doc = await self.col.find_one_and_update(
            {"_id": uid, "quota_reminded": {"$ne": True}}, {"$set": {"quota_reminded": True}},
            projection={"email": 1, "username": 1})
        return doc

    async def add_topup_total(self, uid: int, quota: int) -> int:
        """Count a top-up (quota points, bonuses left out) and return the user's total so far."""
        doc = await self.col.find_one_and_update({"_id": uid}, {"$inc": {"topup_total": int(quota)}},
                                                 projection={"topup_total": 1}, return_document=ReturnDocument.AFTER)
        return int((doc or {}).get("topup_total") or 0)

    async def root_email(self) -> str:
        doc = await self.col.find_one({"role": ROLE_ROOT, "status": {"$ne": STATUS_DELETED}},
                                      {"email": 1}, sort=[("_id", 1)])
        return str((doc or {}).get("email") or "")

    async def create(
        self, username: str, password: str, *, role: int = ROLE_COMMON, quota: int = 0,
        display_name: str = "", email: str = "", group: str = "default",
        access_token: str | None = None, inviter_id: int = 0, **extra: Any,
    ) -> dict[str, Any]:
        uid = await self.db.next_id("users")
        hashed = await asyncio.to_thread(hash_password, password)
        doc: dict[str, Any] = {
            "_id": uid, "username": username, "password": hashed,
            "display_name": display_name or username, "role": role, "status": STATUS_ENABLED,
            "email": email, "quota": int(quota), "used_quota": 0, "request_count": 0,
            "group": group, "inviter_id": inviter_id, "session_version": 0,
            "created_time": int(time.time()), "default_password": password == DEFAULT_PASSWORD,
        }
        if access_token:
            doc["access_token"] = access_token
        doc.update(extra)
        for _ in range(10):  # aff codes are 4 chars: retry on the rare clash
            doc["aff_code"] = new_aff_code()
            try:
                await self.col.insert_one(doc)
                return doc
            except DuplicateKeyError as e:
                if "aff_code" not in str(e):
                    raise
        raise RuntimeError("could not allocate an aff code")

    async def get(self, uid: int) -> dict[str, Any] | None:
        return await self.col.find_one({"_id": uid})

    async def by_username(self, username: str) -> dict[str, Any] | None:
        return await self.col.find_one({"username": username})

    async def by_login(self, name: str) -> dict[str, Any] | None:
        """Login accepts a username or an email (One API)."""
        doc = await self.col.find_one({"username": name})
        if doc is None and "@" in name:
            doc = await self.col.find_one({"email": name, "status": {"$ne": STATUS_DELETED}})
        return doc

    async def by_access_token(self, token: str) -> dict[str, Any] | None:
        if not token:
            return None
        return await self.col.find_one({"access_token": token})

    async def count(self) -> int:
        return await self.col.count_documents({})

    async def update(self, uid: int, fields: dict[str, Any]) -> None:
        await self.col.update_one({"_id": uid}, {"$set": fields})
        await self._changed(uid, fields=sorted(fields))

    async def bump_session(self, uid: int) -> None:
        """Every session of the user ends (password change, logout everywhere)."""
        await self.col.update_one({"_id": uid}, {"$inc": {"session_version": 1}})
        await self._changed(uid, session=True)

    async def page(self, page: int, size: int, order: str = "") -> list[dict[str, Any]]:
        """One page of live (not soft-deleted) users, without password hashes."""
        sort = [(order, DESCENDING), ("_id", DESCENDING)] if order in LIST_ORDERS else [("_id", DESCENDING)]
        cur = self.col.find({"status": {"$ne": STATUS_DELETED}}, {"password": 0}) \
            .sort(sort).skip(page * size).limit(size)
        return [d async for d in cur]

    async def search(self, keyword: str, limit: int = 100) -> list[dict[str, Any]]:
        """One API: the id, or a username / email / display name prefix (live users only)."""
        prefix = {"$regex": "^" + re.escape(keyword)}
        ors: list[dict[str, Any]] = [{"username": prefix}, {"email": prefix}, {"display_name": prefix}]
        if keyword.isdigit() and len(keyword) < 19:
            ors.append({"_id": int(keyword)})
        cur = self.col.find({"$or": ors, "status": {"$ne": STATUS_DELETED}}, {"password": 0}) \
            .sort([("_id", DESCENDING)]).limit(limit)
        return [d async for d in cur]

    async def soft_delete(self, uid: int) -> None:
        """One API's delete: status 3, username ``deleted_<uuid>``; sessions die."""
        await self.col.update_one({"_id": uid}, {
            "$set": {"status": STATUS_DELETED, "username": f"deleted_{uuid.uuid4().hex}"},
            "$inc": {"session_version": 1},
        })
        await self._changed(uid, tokens=True, session=True)

    async def set_status(self, uid: int, status: int) -> None:
        """Enable or disable; disabling also ends every session of the user."""
        upd: dict[str, Any] = {"$set": {"status": status}}
        if status != STATUS_ENABLED:
            upd["$inc"] = {"session_version": 1}
        await self.col.update_one({"_id": uid}, upd)
        await self._changed(uid, status=status)

    async def regenerate_access_token(self, uid: int) -> str:
        """A fresh system access token (32-hex UUID); the old one stops working."""
        for _ in range(5):
            token = new_access_token()
            try:
                await self.col.update_one({"_id": uid}, {"$set": {"access_token": token}})
                await self._changed(uid)
                return token
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not allocate an access token")

    async def ensure_aff_code(self, uid: int) -> str:
        """The user's invite code, created when missing."""
        doc = await self.col.find_one({"_id": uid}, {"aff_code": 1})
        if doc is None:
            raise KeyError(uid)
        if doc.get("aff_code"):
            return str(doc["aff_code"])
        for _ in range(10):
            code = new_aff_code()
            try:
                got = await self.col.find_one_and_update(
                    {"_id": uid, "$or": [{"aff_code": {"$exists": False}}, {"aff_code": None},
                                         {"aff_code": ""}]},
                    {"$set": {"aff_code": code}}, projection={"aff_code": 1},
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if got is None:  # set concurrently by another request
                again = await self.col.find_one({"_id": uid}, {"aff_code": 1})
                return str((again or {}).get("aff_code") or "")
            return code
        raise RuntimeError("could not allocate an aff code")
