"""Options: One API's key/value settings, cached in memory, stored in ``options``.

Values are strings on the wire and in the collection (One API's contract);
:class:`Options` gives typed reads. Ratio tables are parsed once per change.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any, Callable

from relay import ratios

from .db import Database

if TYPE_CHECKING:
    from services.crypto import SecretBox

    from .events import EventBus

TRUE_DEFAULTS = (
    "PasswordLoginEnabled", "PasswordRegisterEnabled", "RegisterEnabled", "LogConsumeEnabled", "LogErrorEnabled",
    "DisplayInCurrencyEnabled", "DisplayTokenStatEnabled",
)
FALSE_DEFAULTS = (
    "EmailVerificationEnabled", "GitHubOAuthEnabled", "OidcEnabled", "WeChatAuthEnabled",
    "TurnstileCheckEnabled", "EmailDomainRestrictionEnabled", "AutomaticDisableChannelEnabled",
    "AutomaticEnableChannelEnabled", "ApproximateTokenEnabled", "LarkAuthEnabled",
    "NotifyTopupEnabled", "NotifyLowQuotaEnabled",
)
STRING_DEFAULTS = {
    "EmailDomainWhitelist": "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,"
    "yahoo.com,foxmail.com",
    "SMTPServer": "", "SMTPFrom": "", "SMTPAccount": "", "SMTPToken": "",
    "SystemName": "OneRelay", "Notice": "", "About": "", "HomePageContent": "", "Footer": "",
    "Logo": "", "ServerAddress": "", "TopUpLink": "", "ChatLink": "",
    "GitHubClientId": "", "GitHubClientSecret": "", "WeChatServerAddress": "",
    "WeChatServerToken": "", "WeChatAccountQRCodeImageURL": "", "MessagePusherAddress": "",
    "MessagePusherToken": "", "TurnstileSiteKey": "", "TurnstileSecretKey": "",
    "LarkClientId": "", "LarkClientSecret": "", "OidcClientId": "", "OidcClientSecret": "",
    "OidcWellKnown": "", "OidcAuthorizationEndpoint": "", "OidcTokenEndpoint": "",
    "OidcUserinfoEndpoint": "", "Theme": "default",
    # the operator's language: messages when a request names none we speak, and log content
    "Language": "en",
    # how root is notified (services/notify.py): auto | email | webhook | both; WxPusher's webhook
    "NotifyMethod": "auto", "WxPusherAppToken": "", "WxPusherUids": "", "WxPusherAddress": "",
    # billing extras (services/billing.py): new users' group, upgrades by top-ups, bonus periods, plans
    "DefaultGroup": "default", "GroupUpgradeRules": "{}", "TopupBonusPeriods": "[]", "TopupPlans": "[]",
    # per-call prices in USD by model (tokens billed "per_call"); limits per group (services/limits.py);
    # the groups a user may pick for a token, with a description each
    "ModelPrice": "{}", "GroupLimits": "{}", "UserUsableGroups": "{}",
}
INT_DEFAULTS = {
    "SMTPPort": 587, "QuotaForNewUser": 0, "QuotaForInviter": 0, "QuotaForInvitee": 0,
    "QuotaRemindThreshold": 1000, "PreConsumedQuota": 500, "RetryTimes": 0,
}
FLOAT_DEFAULTS = {"ChannelDisableThreshold": 5.0, "QuotaPerUnit": 500000.0, "InviteRebateRatio": 0.0}
JSON_OPTIONS = ("ModelRatio", "CompletionRatio", "GroupRatio")


def default_options() -> dict[str, str]:
    d: dict[str, str] = {}
    for k in TRUE_DEFAULTS:
        d[k] = "true"
    for k in FALSE_DEFAULTS:
        d[k] = "false"
    d.update(STRING_DEFAULTS)
    for k, v in INT_DEFAULTS.items():
        d[k] = str(v)
    for k, fv in FLOAT_DEFAULTS.items():
        d[k] = str(int(fv)) if fv == int(fv) else str(fv)
    d["ModelRatio"] = json.dumps(ratios.MODEL_RATIO, indent=2)
    d["CompletionRatio"] = json.dumps(ratios.COMPLETION_RATIO, indent=2)
    d["GroupRatio"] = json.dumps(ratios.GROUP_RATIO, indent=2)
    return d


class OptionError(ValueError):
    pass


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# The type and range of every option (bool, int, float, JSON ratio table or string): a value is
# checked against it before it is stored; floats must be finite, ints fit comfortably in int64.
MAX_QUOTA = 10**18
INT_RANGES: dict[str, tuple[int, int]] = {
    "SMTPPort": (0, 65535), "QuotaForNewUser": (0, MAX_QUOTA), "QuotaForInviter": (0, MAX_QUOTA),
    "QuotaForInvitee": (0, MAX_QUOTA), "QuotaRemindThreshold": (0, MAX_QUOTA), "PreConsumedQuota": (0, MAX_QUOTA),
    "RetryTimes": (0, 100),
}
FLOAT_RANGES: dict[str, tuple[float, float]] = {"ChannelDisableThreshold": (0.0, 1e9), "QuotaPerUnit": (1e-9, 1e15),
                                                "InviteRebateRatio": (0.0, 1.0)}
BILLING_JSON = ("GroupUpgradeRules", "TopupBonusPeriods", "TopupPlans")
LONG_TEXT_OPTIONS = ("Notice", "About", "HomePageContent", "Footer", "Logo")
TEXT_LIMIT, LONG_TEXT_LIMIT = 4096, 1_000_000


def option_type(key: str) -> str:
    """"json", "bool", "int", "float" or "string"; "" for an unknown key."""
    if key in JSON_OPTIONS:
        return "json"
    if key in TRUE_DEFAULTS or key in FALSE_DEFAULTS or key.endswith("Enabled"):
        return "bool"
    if key in INT_DEFAULTS:
        return "int"
    if key in FLOAT_DEFAULTS:
        return "float"
    return "string" if key in STRING_DEFAULTS else ""


def validate_option(key: str, value: str) -> str:
    """Check a value before it is stored; returns the normalised string."""
    from schemas.fields import loads  # no NaN/Infinity, bounded depth

    kind = option_type(key)
    if kind == "json":
        if len(value) > LONG_TEXT_LIMIT:
            raise OptionError(f"{key} is too long (at most {LONG_TEXT_LIMIT} characters)")
        try:
            data = loads(value)
        except ValueError as e:
            raise OptionError(f"{key} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and _is_number(v) and 0 <= v <= 1e15 for k, v in data.items()
        ):
            raise OptionError(f"{key} must be a JSON object of name to non-negative finite number")
        return value
    if kind == "bool":
        if value not in ("true", "false"):
            raise OptionError(f"{key} must be \"true\" or \"false\"")
        return value
    if kind == "int":
        lo, hi = INT_RANGES.get(key, (0, MAX_QUOTA))
        v = value.strip()
        if not v.lstrip("+-").isdigit() or len(v) > 40:
            raise OptionError(f"{key} must be an integer")
        n = int(v)
        if not lo <= n <= hi:
            raise OptionError(f"{key} must be between {lo} and {hi}")
        return str(n)
    if kind == "float":
        lo_f, hi_f = FLOAT_RANGES.get(key, (0.0, 1e15))
        try:
            f = float(value)
        except ValueError:
            raise OptionError(f"{key} must be a number") from None
        if not math.isfinite(f):
            raise OptionError(f"{key} must be a finite number (not NaN or Infinity)")
        if not lo_f <= f <= hi_f:
            raise OptionError(f"{key} must be positive" if f <= 0 else f"{key} must be between {lo_f:g} and {hi_f:g}")
        return value.strip()
    if not kind:
        raise OptionError(f"unknown option {key}")
    if key in BILLING_JSON:
        from services.billing import check_option

        if len(value) > TEXT_LIMIT * 4:
            raise OptionError(f"{key} is too long (at most {TEXT_LIMIT * 4} characters)")
        try:
            data = loads(value or ("[]" if key != "GroupUpgradeRules" else "{}"))
        except ValueError as e:
            raise OptionError(f"{key} is not valid JSON: {e}") from None
        why = check_option(key, data)
        if why:
            raise OptionError(why)
        return value.strip()
    if key in ("ModelPrice", "GroupLimits", "UserUsableGroups"):
        try:
            data = loads(value.strip() or "{}")
        except ValueError as e:
            raise OptionError(f"{key} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise OptionError(f"{key} must be a JSON object")
        if key == "ModelPrice" and not all(_is_number(v) and 0 <= v <= 1e6 for v in data.values()):
            raise OptionError("ModelPrice must be a JSON object of model name to a price in USD per request (0 to 1000000)")
        if key == "UserUsableGroups" and not all(isinstance(k, str) and k.strip() and isinstance(v, str)
                                                  for k, v in data.items()):
            raise OptionError("UserUsableGroups must be a JSON object of group name to its description")
        if key == "GroupLimits":
            from services.limits import LimitError, parse_limits

            for g, lim in data.items():
                try:
                    parse_limits(lim, f"GroupLimits.{g}", periods=False)
                except LimitError as e:
                    raise OptionError(str(e)) from None
        return value.strip() or "{}"
    if key == "DefaultGroup" and not value.strip():
        raise OptionError("DefaultGroup must not be empty")
    if key == "NotifyMethod" and value.strip() not in ("auto", "email", "webhook", "both"):
        raise OptionError("NotifyMethod must be one of auto, email, webhook, both")
    if key in ("WxPusherAddress",) and value.strip() and not value.strip().startswith(("http://", "https://")):
        raise OptionError(f"{key} must be an http:// or https:// URL")
    if key == "Language":
        from services.i18n import LANGUAGES, normalize

        lang = normalize(value)
        if lang is None:
            raise OptionError(f"Language must be one of {', '.join(LANGUAGES)}")
        return lang
    limit = LONG_TEXT_LIMIT if key in LONG_TEXT_OPTIONS else TEXT_LIMIT
    if len(value) > limit:
        raise OptionError(f"{key} is too long (at most {limit} characters)")
    return value


class Options:
    """In-memory view of the options; ``store`` persists and ``reload`` refreshes."""

    RATIO_MEMO_LIMIT = 10_000  # (model, channel type, group) entries kept before the memo starts over

    def __init__(self) -> None:
        self.values: dict[str, str] = default_options()
        self._parsed: dict[str, Any] = {}  # JSON tables, parsed once per change
        self._ints: dict[str, int] = {}  # int options, parsed once per change
        self._floats: dict[str, float] = {}
        self._ratios: dict[tuple[str, int, str], tuple[float, float, float]] = {}
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, fn: Callable[[str], None]) -> None:
        self._listeners.append(fn)

    def set_local(self, key: str, value: str) -> None:
        self.values[key] = value
        self._parsed.pop(key, None)
        self._ints.pop(key, None)
        self._floats.pop(key, None)
        if key in JSON_OPTIONS:
            self._ratios = {}
        for fn in self._listeners:
            fn(key)

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def bool(self, key: str) -> bool:
        return self.values.get(key) == "true"

    def int(self, key: str) -> int:
        """The option as an int; its default when the stored value is not a finite number.
        Parsed once per change (the relay reads PreConsumedQuota and RetryTimes per request)."""
        v = self._ints.get(key)
        if v is None:
            v = self._ints[key] = self._parse_int(key)
        return v

    def _parse_int(self, key: str) -> int:
        try:
            f = float(self.values.get(key, "0"))
            if math.isfinite(f):
                return int(f) if abs(f) < 2**53 else int(self.values.get(key, "0"))
        except ValueError:
            pass
        return int(INT_DEFAULTS.get(key, 0))

    def float(self, key: str) -> float:
        """The option as a finite float (its default for NaN, Infinity or garbage)."""
        v = self._floats.get(key)
        if v is None:
            v = self._floats[key] = self._parse_float(key)
        return v

    def _parse_float(self, key: str) -> float:
        try:
            f = float(self.values.get(key, "0"))
            if math.isfinite(f):
                return f
        except ValueError:
            pass
        return float(FLOAT_DEFAULTS.get(key, 0.0))

    def ratios(self, model: str, channel_type: int, group: str) -> tuple[float, float, float]:
        """(model ratio, group ratio, completion ratio) for a request: looked up in the
        ModelRatio / GroupRatio / CompletionRatio tables once per (model, channel type, group)
        and remembered until one of those tables changes."""
        key = (model, channel_type, group)
        r = self._ratios.get(key)
        if r is None:
            r = (ratios.model_ratio(self.json("ModelRatio"), model, channel_type),
                 ratios.group_ratio(self.json("GroupRatio"), group),
                 ratios.completion_ratio(self.json("CompletionRatio"), model, channel_type))
            if len(self._ratios) >= self.RATIO_MEMO_LIMIT:
                self._ratios = {}
            self._ratios[key] = r
        return r

    def json(self, key: str) -> dict[str, Any]:
        v = self._parsed.get(key)
        if v is None:
            try:
                v = json.loads(self.values.get(key) or "{}")
            except ValueError:
                v = {}
            if key == "ModelRatio":  # new built-in keys are merged in (One API does this at load)
                v = {**ratios.MODEL_RATIO, **v}
            self._parsed[key] = v
        return v


SECRET_OPTION_SUFFIXES = ("Token", "Secret", "SecretKey")  # SMTPToken, GitHubClientSecret, TurnstileSecretKey…


def is_secret_option(key: str) -> bool:
    """Options holding credentials: never returned by GET /api/option/, encrypted at rest
    with CRYPTO_SECRET (SMTPToken, GitHubClientSecret, LarkClientSecret, OidcClientSecret,
    WeChatServerToken, MessagePusherToken, TurnstileSecretKey)."""
    return key.endswith(SECRET_OPTION_SUFFIXES)


class OptionStore:
    """Owns every write of ``options``; each write publishes ``option`` and every process
    reloads that key from the database. Secret options are stored encrypted when
    CRYPTO_SECRET is set and held in memory as plaintext."""

    def __init__(self, db: Database, options: Options, events: "EventBus | None" = None,
                 crypto: "SecretBox | None" = None) -> None:
        from services.crypto import NO_CRYPTO

        self.db = db
        self.options = options
        self.events = events
        self.crypto = crypto or NO_CRYPTO
        if events is not None:
            events.subscribe("option", self._on_change)

    def _on_change(self, ev: dict[str, Any]) -> Any:
        key = ev.get("i")
        if ev.get("o") == getattr(self.events, "origin", None) or not isinstance(key, str):
            return None
        return asyncio.get_running_loop().create_task(self.reload_key(key))

    async def reload_key(self, key: str) -> None:
        doc = await self.db.options.find_one({"_id": key})
        if doc is not None and isinstance(doc.get("value"), str):
            self.options.set_local(key, self.crypto.decrypt(doc["value"]))

    async def load(self) -> None:
        """Seed missing defaults, then read everything into memory."""
        existing = {d["_id"]: d.get("value", "") async for d in self.db.options.find({})}
        missing = [{"_id": k, "value": v} for k, v in self.options.values.items() if k not in existing]
        if missing:
            await self.db.options.insert_many(missing, ordered=False)
        for k, v in existing.items():
            if isinstance(v, str):
                self.options.set_local(k, self.crypto.decrypt(v))

    async def verify_secrets(self) -> None:
        """Decrypt every stored secret option (raises CryptoError on a wrong or missing secret)."""
        async for d in self.db.options.find({"value": {"$regex": "^enc:v1:"}}):
            self.crypto.decrypt(str(d["value"]))

    async def update(self, key: str, value: str) -> None:
        value = validate_option(key, value)
        stored = self.crypto.encrypt(value) if is_secret_option(key) else value
        await self.db.options.update_one({"_id": key}, {"$set": {"value": stored}}, upsert=True)
        self.options.set_local(key, value)
        if self.events is not None:
            await self.events.publish("option", key)
