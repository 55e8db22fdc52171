"""Usage limits that hold across nodes and workers (issue 15, items 1 and 3).

- **RPM / TPM** per token, per user and per group, optionally per model: requests and tokens
  (prompt + completion) in a sliding minute. A request over an RPM limit, or arriving while a
  TPM limit is used up, is refused with 429 and ``Retry-After``.
- **Periodic quotas** per token and per user: daily, weekly and monthly (UTC calendar periods)
  and a rolling 5-hour window. The request's reservation is taken from every period up front
  (refused with 403 when it does not fit) and corrected to the real cost when it settles.
- **Channel RPM** (``rpm_limit`` on a channel): a full channel is skipped by routing; the
  client gets 429 only when no other channel can serve.

Where the counts live: Redis when ``REDIS_CONN_STRING`` is set (one Lua call per check, the
Redis clock), else the database (``windows`` collection, one conditional update per check,
expired by a TTL index). Both are atomic per check, so N nodes never let more than the limit
through; only limited requests pay for it (an unlimited token costs nothing here).

Counting is a sliding-window counter: the current fixed window plus the previous one weighted
by how much of it still overlaps, as the per-IP limits do (handlers/ratelimit.py).

Limits are declared as ``{"rpm": 60, "tpm": 100000, "daily": 5000000, "weekly": 0,
"monthly": 0, "5h": 0, "models": {"gpt-4o": {"rpm": 10, "tpm": 20000}}}`` (0 or absent: no
limit): the ``limits`` field of a token or a user, and per group in the ``GroupLimits`` option.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError, PyMongoError

if TYPE_CHECKING:
    from models.db import Database
    from services.redisconn import RedisConn

log = logging.getLogger("onerelay.limits")

RATE_KEYS = ("rpm", "tpm")
PERIOD_KEYS = ("daily", "weekly", "monthly", "5h")
MINUTE = 60.0
FIVE_HOURS = 5 * 3600.0
MAX_LIMIT = 10**15
KEY_PREFIX = "onerelay:lim:"


class LimitError(ValueError):
    """A limits declaration that cannot be used."""


def parse_limits(value: Any, what: str = "limits", *, periods: bool = True) -> dict[str, Any]:
    """A validated limits object (``{}`` for none). ``periods``: daily/weekly/monthly/5h allowed."""
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError as e:
            raise LimitError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise LimitError(f"{what} must be an object such as {{\"rpm\": 60, \"tpm\": 100000}}")
    allowed = RATE_KEYS + (PERIOD_KEYS if periods else ()) + ("models",)
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k not in allowed:
            raise LimitError(f"{what}: unknown limit {k!r} (known: {', '.join(allowed)})")
        if k == "models":
            if not isinstance(v, dict):
                raise LimitError(f"{what}.models must be an object of model name to {{rpm, tpm}}")
            models = {}
            for m, lim in v.items():
                if not isinstance(m, str) or not m.strip() or not isinstance(lim, dict):
                    raise LimitError(f"{what}.models must be an object of model name to {{rpm, tpm}}")
                sub = {}
                for kk, vv in lim.items():
                    if kk not in RATE_KEYS:
                        raise LimitError(f"{what}.models.{m}: only rpm and tpm are per model")
                    sub[kk] = _count(vv, f"{what}.models.{m}.{kk}")
                models[m.strip()] = {kk: vv for kk, vv in sub.items() if vv}
            if any(models.values()):
                out["models"] = {m: lim for m, lim in models.items() if lim}
            continue
        n = _count(v, f"{what}.{k}")
        if n:
            out[k] = n
    return out


def _count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise LimitError(f"{what} must be a whole number (0: no limit)")
    if not 0 <= v <= MAX_LIMIT:
        raise LimitError(f"{what} must be between 0 and {MAX_LIMIT}")
    return int(v)


def period_windows(now: float) -> dict[str, tuple[str, float]]:
    """period -> (this period's id, seconds until it ends); 5h is sliding (its window length)."""
    d = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    day_end = dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    week_start = dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) - dt.timedelta(days=d.weekday())
    month_end = dt.datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    iso = d.isocalendar()
    return {
        "daily": (d.strftime("%Y-%m-%d"), (day_end - d).total_seconds()),
        "weekly": (f"{iso[0]}-W{iso[1]:02d}", (week_start + dt.timedelta(days=7) - d).total_seconds()),
        "monthly": (d.strftime("%Y-%m"), (month_end - d).total_seconds()),
        "5h": ("", FIVE_HOURS),
    }


# -- the counters ---------------------------------------------------------------------------------
# KEYS[1] a hash {w: window index, c: count in it, p: count in the window before, l: window ms}.
# ARGV: limit (0: no check), window ms, amount, mode ("take": add when it fits, "add": add always,
# "peek": add nothing), fixed (1: one window for the key's whole life, expiring after the window:
# calendar periods, whose key names the period). Returns {ok 1|0, ms until the window ends, level before}.
_LUA = """
local limit = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local mode = ARGV[4]
if ARGV[5] == '1' then
  local c = tonumber(redis.call('HGET', KEYS[1], 'c')) or 0
  local ok = 1
  if mode == 'take' and limit > 0 and c + amount > limit then ok = 0 end
  if ok == 1 and mode ~= 'peek' then
    redis.call('HINCRBYFLOAT', KEYS[1], 'c', amount)
    if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], win) end
  end
  return {ok, win, tostring(c)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idx = math.floor(now / win)
local h = redis.call('HMGET', KEYS[1], 'w', 'c', 'p', 'l')
local w, c, p = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
if w == nil or tonumber(h[4]) ~= win or w < idx - 1 then
  c, p = 0, 0
elseif w == idx - 1 then
  c, p = 0, c
end
local left = (idx + 1) * win - now
local level = p * (1 - (now - idx * win) / win) + c
local ok = 1
if mode == 'take' and limit > 0 and level + amount > limit then
  ok = 0
end
if ok == 1 and mode ~= 'peek' then
  c = c + amount
end
redis.call('HSET', KEYS[1], 'w', idx, 'c', c, 'p', p, 'l', win)
redis.call('PEXPIRE', KEYS[1], 2 * win + 1000)
return {ok, left, tostring(level)}
"""


class Counters:
    """Sliding-window counters shared by every process: Redis when configured (and answering),
    else the database."""

    def __init__(self, db: "Database", redis: "RedisConn | None" = None) -> None:
        self.db = db
        self.col = db.windows
        self.redis = redis
        self._script = redis.client.register_script(_LUA) if redis is not None else None

    async def op(self, key: str, window: float, *, limit: float = 0, amount: float = 1,
                 mode: str = "take", fixed: bool = False) -> tuple[bool, float, float]:
        """(ok, seconds until the current window ends, level before) for one take/add/peek.
        ``fixed``: one window for the key's whole life (expiring ``window`` seconds after it
        was first counted): a calendar period, whose key names the period."""
        if self._script is not None and getattr(self.redis, "healthy", True):
            try:
                ok, left_ms, level = await self._script(
                    keys=[KEY_PREFIX + key], args=[limit, max(1, int(window * 1000)), amount, mode,
                                                   "1" if fixed else "0"])
                return bool(int(ok)), int(left_ms) / 1000, float(level)
            except Exception as e:  # noqa: BLE001 - Redis down: the database counts meanwhile
                log.warning("limits: Redis failed (%s); counting in the database", e)
        if fixed:
            return await self._db_fixed(key, window, limit, amount, mode)
        return await self._db_op(key, window, limit, amount, mode)

    async def _db_fixed(self, key: str, ttl: float, limit: float, amount: float, mode: str) -> tuple[bool, float, float]:
        expire = dt.datetime.fromtimestamp(time.time() + ttl, dt.timezone.utc)
        if mode == "peek":
            cur = await self.col.find_one({"_id": key}, {"n": 1})
            return True, ttl, float((cur or {}).get("n") or 0)
        flt: dict[str, Any] = {"_id": key}
        if mode == "take" and limit > 0:
            if amount > limit:
                return False, ttl, float(((await self.col.find_one({"_id": key}, {"n": 1})) or {}).get("n") or 0)
            flt["n"] = {"$lte": limit - amount}
        try:
            doc = await self.col.find_one_and_update(
                flt, {"$inc": {"n": amount}, "$setOnInsert": {"exp": expire}}, upsert=True, projection={"n": 1})
        except DuplicateKeyError:
            cur = await self.col.find_one({"_id": key}, {"n": 1})
            return False, ttl, float((cur or {}).get("n") or 0)
        return True, ttl, float((doc or {}).get("n") or 0)

    async def _db_op(self, key: str, window: float, limit: float, amount: float, mode: str) -> tuple[bool, float, float]:
        now = time.time()
        idx = math.floor(now / window)
        left = (idx + 1) * window - now
        prev = await self.col.find_one({"_id": f"{key}:{idx - 1}"}, {"n": 1})
        cur_id = f"{key}:{idx}"
        weight = 1 - (now - idx * window) / window
        carried = float((prev or {}).get("n") or 0) * weight
        expire = dt.datetime.fromtimestamp(now + 2 * window + 1, dt.timezone.utc)
        if mode == "peek":
            cur = await self.col.find_one({"_id": cur_id}, {"n": 1})
            return True, left, carried + float((cur or {}).get("n") or 0)
        if mode == "add" or limit <= 0:
            doc = await self.col.find_one_and_update(
                {"_id": cur_id}, {"$inc": {"n": amount}, "$setOnInsert": {"exp": expire}}, upsert=True,
                projection={"n": 1})
            return True, left, carried + float((doc or {}).get("n") or 0)
        room = limit - carried - amount  # the current window may hold at most this before adding
        if room < 0:
            cur = await self.col.find_one({"_id": cur_id}, {"n": 1})
            return False, left, carried + float((cur or {}).get("n") or 0)
        try:
            doc = await self.col.find_one_and_update(
                {"_id": cur_id, "n": {"$lte": room}}, {"$inc": {"n": amount}, "$setOnInsert": {"exp": expire}},
                upsert=True, projection={"n": 1})
        except DuplicateKeyError:  # the window exists and is too full
            cur = await self.col.find_one({"_id": cur_id}, {"n": 1})
            return False, left, carried + float((cur or {}).get("n") or 0)
        return True, left, carried + float((doc or {}).get("n") or 0)


# -- what a request is subject to -----------------------------------------------------------------
@dataclass
class Admission:
    """What :meth:`Limits.admit` took for one request, settled by :meth:`Limits.settle`."""

    tpm_keys: list[str] = field(default_factory=list)
    periods: list[tuple[str, float, bool]] = field(default_factory=list)  # (key, window, fixed) charged ``reserved``
    reserved: int = 0


class LimitRefused(Exception):
    def __init__(self, message: str, status: int, retry_after: float, code: str) -> None:
        super().__init__(message)
        self.message, self.status, self.retry_after, self.code = message, status, retry_after, code


def _scopes(token: Any, user: Any, group: str, group_limits: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    if getattr(token, "limits", None):
        out.append(("token", f"t{token.id}", token.limits))
    if getattr(user, "limits", None):
        out.append(("user", f"u{user.id}", user.limits))
    g = group_limits.get(group)
    if g:
        out.append(("group", f"g{group}", g))
    return out


WHO = {"token": "This API key", "user": "Your account", "group": "Your group"}


class Limits:
    """``ctx.limits``: admit a request against every limit that applies, settle it after."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def admit(self, token: Any, user: Any, group: str, group_limits: dict[str, Any], model: str,
                    reserve: int) -> Admission | None:
        """Check and take (raises :class:`LimitRefused`); None when no limit applies."""
        scopes = _scopes(token, user, group, group_limits)
        if not scopes:
            return None
        adm = Admission(reserved=reserve)
        c = self.counters
        rules = [(scope, ident, lim, suffix, r) for scope, ident, lim in scopes
                 for suffix, r in (("", lim), (f":m:{model}", (lim.get("models") or {}).get(model) or {}))]
        # 1. token-per-minute limits only read (tokens are known once the request ends), so a
        #    refusal here takes nothing; 2. then each request-per-minute limit takes one request;
        #    3. then each periodic quota takes the reservation (given back if a later one refuses).
        for scope, ident, _, suffix, r in rules:
            tpm = r.get("tpm")
            if tpm:
                key = f"tpm:{ident}{suffix}"
                _, left, level = await c.op(key, MINUTE, mode="peek")
                if level >= tpm:
                    what = f"{WHO[scope]}'s limit of {tpm} tokens per minute" + (f" for {model}" if suffix else "")
                    raise LimitRefused(f"{what} is used up: retry in {math.ceil(left)} s", 429, left,
                                       "rate_limit_exceeded")
                adm.tpm_keys.append(key)
        for scope, ident, _, suffix, r in rules:
            rpm = r.get("rpm")
            if rpm:
                ok, left, _ = await c.op(f"rpm:{ident}{suffix}", MINUTE, limit=rpm)
                if not ok:
                    what = f"{WHO[scope]}'s limit of {rpm} requests per minute" + (f" for {model}" if suffix else "")
                    raise LimitRefused(f"{what} is reached: retry in {math.ceil(left)} s", 429, left,
                                       "rate_limit_exceeded")
        windows = None
        for scope, ident, lim in scopes:
            if scope == "group":
                continue
            for period in PERIOD_KEYS:
                cap = lim.get(period)
                if not cap:
                    continue
                windows = windows or period_windows(time.time())
                pid, length = windows[period]
                key = f"q{period}:{ident}:{pid}" if pid else f"q{period}:{ident}"
                window = length if period == "5h" else _PERIOD_SPAN[period]
                fixed = period != "5h"
                ok, left, used = await c.op(key, window, limit=cap, amount=reserve, fixed=fixed)
                if not ok:
                    await self.release(adm)
                    until = length if fixed else left
                    raise LimitRefused(
                        f"{WHO[scope]}'s {_PERIOD_NAME[period]} quota ({cap}) is used up: {int(used)} spent; "
                        f"more in {_human(until)}", 403, until, "periodic_quota_exceeded")
                adm.periods.append((key, window, fixed))
        return adm

    async def settle(self, adm: Admission, tokens: int, quota: int) -> None:
        """The request ended: its tokens count for TPM, its periods get the real cost."""
        c = self.counters
        try:
            for key in adm.tpm_keys:
                if tokens:
                    await c.op(key, MINUTE, amount=tokens, mode="add")
            delta = quota - adm.reserved
            if delta:
                for key, window, fixed in adm.periods:
                    await c.op(key, window, amount=delta, mode="add", fixed=fixed)
        except PyMongoError as e:
            log.warning("limits: usage not recorded: %s", e)

    async def release(self, adm: Admission) -> None:
        """Give back what was taken from the periods (a refused or failed request)."""
        await self.settle(Admission(periods=adm.periods, reserved=adm.reserved), 0, 0)

    async def channel_slot(self, channel_id: int, rpm: int) -> bool:
        """Take one of a channel's requests this minute; False when it is full."""
        ok, _, _ = await self.counters.op(f"rpm:c{channel_id}", MINUTE, limit=rpm)
        return ok


# A calendar period's counter is one fixed window (its key names the period), kept a while past the
# period's end and then expired.
_PERIOD_SPAN = {"daily": 86_400.0 * 2, "weekly": 86_400.0 * 8, "monthly": 86_400.0 * 32}
_PERIOD_NAME = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "5h": "5-hour"}


def _human(seconds: float) -> str:
    s = int(math.ceil(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{math.ceil(s / 60)} min"
    return f"{s // 3600} h {math.ceil((s % 3600) / 60)} min"
