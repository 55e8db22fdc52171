"""One API rows -> OneRelay documents (the shapes models/*.py write).

Each ``map_*`` returns ``(doc, None)`` or ``(None, reason)``; notes about a row that is
imported but may not behave as before go to ``warn``. Columns a table lacks (older One API
releases) take One API's defaults. Ids are kept (``_id`` = One API's ``id``).
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Callable

from models.channels import parse_json_object
from models.logs import LOG_TYPES
from models.options import OptionError, option_type, validate_option

Warn = Callable[[str], None]
Mapped = tuple[dict[str, Any] | None, str | None]

# One API kept a per-type setting in ``other`` before ``config`` existed
# (middleware/distributor.go reads it when config lacks it): which config member it was.
OTHER_TO_CONFIG = {3: "api_version", 18: "api_version", 24: "api_version", 21: "library_id", 17: "plugin"}


def _int(v: Any, default: int = 0) -> int:
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return int(float(v))


def _str(v: Any) -> str:
    return "" if v is None else str(v)


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "t", "true", "yes")
    return bool(v)


def _row_id(row: dict[str, Any]) -> int | None:
    try:
        rid = int(row.get("id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return rid if rid > 0 else None


def map_user(row: dict[str, Any], warn: Warn) -> Mapped:
    uid = _row_id(row)
    if uid is None:
        return None, f"no valid id ({row.get('id')!r})"
    username = _str(row.get("username")).strip()
    if not username:
        return None, "empty username"
    password = _str(row.get("password"))
    if password and not password.startswith(("$2a$", "$2b$", "$2y$")):
        warn(f"user {uid} ({username}): the password is not a bcrypt hash; it cannot log in with "
             "a password until an admin sets a new one")
    doc: dict[str, Any] = {
        "_id": uid, "username": username, "password": password,
        "display_name": _str(row.get("display_name")) or username,
        "role": _int(row.get("role"), 1), "status": _int(row.get("status"), 1),
        "email": _str(row.get("email")),
        "quota": _int(row.get("quota")), "used_quota": _int(row.get("used_quota")),
        "request_count": _int(row.get("request_count")),
        "group": _str(row.get("group")) or "default", "inviter_id": _int(row.get("inviter_id")),
        "session_version": 0, "created_time": 0,
    }
    for k in ("github_id", "wechat_id", "lark_id", "oidc_id"):
        doc[k] = _str(row.get(k))
    # Unique (sparse) fields: absent rather than "" so several users may lack them.
    for k in ("access_token", "aff_code"):
        v = _str(row.get(k)).strip()
        if v:
            doc[k] = v
    return doc, None


def map_token(row: dict[str, Any], warn: Warn) -> Mapped:
    tid = _row_id(row)
    if tid is None:
        return None, f"no valid id ({row.get('id')!r})"
    key = _str(row.get("key")).strip()
    if key.startswith("sk-"):
        key = key[3:]
    if not key:
        return None, "empty key"
    if "-" in key:
        warn(f"token {tid}: its key holds '-', which One API and OneRelay read as a channel pin; "
             "no client can use it")
    expired = row.get("expired_time")
    doc = {
        "_id": tid, "user_id": _int(row.get("user_id")), "key": key, "status": _int(row.get("status"), 1),
        "name": _str(row.get("name")), "created_time": _int(row.get("created_time")),
        "accessed_time": _int(row.get("accessed_time")),
        "expired_time": -1 if expired is None else _int(expired, -1),
        "remain_quota": _int(row.get("remain_quota")), "unlimited_quota": _bool(row.get("unlimited_quota")),
        "used_quota": _int(row.get("used_quota")), "models": _str(row.get("models")),
        "subnet": _str(row.get("subnet")),
    }
    if doc["subnet"]:
        from models.tokens import parse_subnets

        try:
            parse_subnets(doc["subnet"])
        except ValueError as e:
            warn(f"token {tid}: {e}; OneRelay refuses every request with it until the subnet is fixed")
    return doc, None


def map_channel(row: dict[str, Any], warn: Warn) -> Mapped:
    cid = _row_id(row)
    if cid is None:
        return None, f"no valid id ({row.get('id')!r})"
    ctype = _int(row.get("type"), 0)
    other = _str(row.get("other"))
    config_text = _str(row.get("config")).strip()
    mapping = _str(row.get("model_mapping")).strip()
    try:
        parse_json_object(mapping, "model_mapping")
    except ValueError as e:
        warn(f"channel {cid}: {e}; the mapping is kept but ignored until fixed")
    try:
        config = parse_json_object(config_text, "config")
    except ValueError as e:
        warn(f"channel {cid}: {e}; the config is kept but ignored until fixed")
        config = None
    member = OTHER_TO_CONFIG.get(ctype)
    if member and other.strip() and config is not None and not config.get(member):
        # One API's legacy ``other`` field: folded into config where it would have been read.
        config = {**config, member: other.strip()}
        config_text = json.dumps(config, ensure_ascii=False)
    if config_text in ("{}", "null"):
        config_text = ""
    from adaptors.registry import PROVIDERS

    if ctype not in PROVIDERS:
        warn(f"channel {cid} ({_str(row.get('name'))}): type {ctype} is unknown to OneRelay; "
             "requests routed to it fail until its type is changed")
    weight = row.get("weight")
    priority = row.get("priority")
    doc = {
        "_id": cid, "type": ctype, "key": _str(row.get("key")), "status": _int(row.get("status"), 1),
        "name": _str(row.get("name")), "weight": _int(weight) if weight is not None else 0,
        "created_time": _int(row.get("created_time")), "test_time": _int(row.get("test_time")),
        "response_time": _int(row.get("response_time")), "base_url": _str(row.get("base_url")),
        "other": other, "balance": float(row.get("balance") or 0.0),
        "balance_updated_time": _int(row.get("balance_updated_time")),
        "models": _str(row.get("models")), "group": _str(row.get("group")) or "default",
        "used_quota": _int(row.get("used_quota")), "model_mapping": "" if mapping == "{}" else mapping,
        "priority": _int(priority) if priority is not None else 0, "config": config_text,
        "system_prompt": _str(row.get("system_prompt")),
    }
    return doc, None


def map_redemption(row: dict[str, Any], warn: Warn) -> Mapped:
    rid = _row_id(row)
    if rid is None:
        return None, f"no valid id ({row.get('id')!r})"
    key = _str(row.get("key")).strip()
    if not key:
        return None, "empty key"
    return {
        "_id": rid, "user_id": _int(row.get("user_id")), "key": key, "status": _int(row.get("status"), 1),
        "name": _str(row.get("name")), "quota": _int(row.get("quota"), 100),
        "created_time": _int(row.get("created_time")), "redeemed_time": _int(row.get("redeemed_time")),
        "used_user_id": 0,  # One API does not record who redeemed a code
    }, None


def map_log(row: dict[str, Any], warn: Warn) -> Mapped:
    lid = _row_id(row)
    if lid is None:
        return None, f"no valid id ({row.get('id')!r})"
    ltype = _int(row.get("type"), 0)
    if ltype not in LOG_TYPES:
        return None, f"unknown log type {ltype}"
    created = _int(row.get("created_at"))
    doc = {
        "_id": lid, "user_id": _int(row.get("user_id")), "created_at": created, "type": ltype,
        "content": _str(row.get("content")), "username": _str(row.get("username")),
        "token_name": _str(row.get("token_name")), "model_name": _str(row.get("model_name")),
        "quota": _int(row.get("quota")), "prompt_tokens": _int(row.get("prompt_tokens")),
        "completion_tokens": _int(row.get("completion_tokens")), "channel_id": _int(row.get("channel_id")),
        "request_id": _str(row.get("request_id")), "elapsed_time": _int(row.get("elapsed_time")),
        "is_stream": _bool(row.get("is_stream")),
        "created_dt": datetime.datetime.fromtimestamp(max(created, 0), datetime.timezone.utc).replace(tzinfo=None),
    }
    if _bool(row.get("system_prompt_reset")):
        doc["system_prompt_reset"] = True
    return doc, None


def map_option(row: dict[str, Any]) -> tuple[str, str] | str:
    """``(key, value)`` for an option OneRelay knows (value checked), else the reason it is left out."""
    key = _str(row.get("key"))
    value = _str(row.get("value"))
    if not option_type(key):
        return "not an option OneRelay has"
    try:
        return key, validate_option(key, value)
    except OptionError as e:
        return str(e)
