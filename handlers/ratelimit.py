"""Per-IP rate limits (One API's GlobalAPIRateLimit, GlobalWebRateLimit, CriticalRateLimit).

- ``/api/*``: GLOBAL_API_RATE_LIMIT requests (default 480) per 3 minutes per IP.
- Web pages and assets: GLOBAL_WEB_RATE_LIMIT (default 240) per 3 minutes per IP.
- Critical routes (login, register, verification and reset emails, password
  reset, OAuth): additionally CRITICAL_RATE_LIMIT (default 20) per 20 minutes.

A limit of 0 disables it; ``DEBUG=true`` disables all of them (One API).
Relay routes (``/v1``) are not limited. Every limit counts the client address
that services/clientip.py resolves (forwarded headers only from TRUSTED_PROXIES).

Failed password logins are throttled apart from these limits by
:class:`LoginThrottle` (``ctx.limiter.logins``), per account and per address,
with growing lock times; see its docstring. DEBUG does not turn it off.

Counting: :class:`RateLimiter` keeps sliding windows in this process's
memory. :class:`RedisRateLimiter` keeps the same windows in Redis (one Lua
call per check, clock from the Redis server), so a limit holds for the whole
deployment. :class:`Limiter` (``ctx.limiter``) uses Redis when there is one
and falls back to the in-memory counters while Redis is unreachable: a
request never fails because of Redis, the outage and the recovery are logged
once each, and a dead Redis is retried about once a second, not on every
request.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import ipaddress
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Callable

from services import clientip

if TYPE_CHECKING:
    from services.context import AppContext
    from services.redisconn import RedisConn

log = logging.getLogger("onerelay.ratelimit")

API_WINDOW = 3 * 60.0
WEB_WINDOW = 3 * 60.0
CRITICAL_WINDOW = 20 * 60.0
SWEEP_EVERY = 60.0
KEY_PREFIX = "onerelay:rl:"
REDIS_RETRY_EVERY = 1.0  # while Redis is down, at most one request per second tries it
REDIS_TIMEOUT = 3.0  # overall cap on one limiter call to Redis (the client's own timeouts are shorter)
MAX_RETRY_HINTS = 10000


class RateLimiter:
    """Sliding-window counters per key: at most ``limit`` hits in any ``window`` seconds.

    Each key keeps two fixed-window counts (current and previous window); the
    previous one is weighted by how much of it still overlaps the sliding
    window. That is O(1) memory per key (unlike a log of timestamps) and
    exact while a client stays inside its first window. Stale keys are swept
    about once a minute.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> [window index, count in that window, count in the window before, window]
        self._buckets: dict[str, list[float]] = {}
        self._next_sweep = clock() + SWEEP_EVERY

    def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one request for ``key``; False (and not counted) when over ``limit``."""
        if limit <= 0 or window <= 0:
            return True
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        idx = now // window
        b = self._buckets.get(key)
        if b is None or b[3] != window or b[0] < idx - 1:
            b = [idx, 0.0, 0.0, window]
            self._buckets[key] = b
        elif b[0] == idx - 1:
            b[0], b[1], b[2] = idx, 0.0, b[1]
        overlap = 1.0 - (now - idx * window) / window
        if b[2] * overlap + b[1] >= limit:
            return False
        b[1] += 1
        return True

    def retry_after(self, key: str) -> int:
        """Seconds until the current window ends (a hint for ``Retry-After``)."""
        b = self._buckets.get(key)
        if b is None:
            return 0
        return max(1, int((b[0] + 1) * b[3] - self._clock()) + 1)

    def reset(self) -> None:
        self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY
        stale = [k for k, b in self._buckets.items() if b[0] < now // b[3] - 1]
        for k in stale:
            del self._buckets[k]


# One sliding window per key in one hash {w: window index, c: count in it, p: count in the one
# before, l: window length in ms}; the same arithmetic as RateLimiter.hit, on the Redis clock.
# ARGV: limit, window (ms). Returns {allowed 1|0, seconds until the current window ends + 1}.
_SLIDING_WINDOW_LUA = """
local limit = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
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
local retry = math.floor(((idx + 1) * win - now) / 1000) + 1
local overlap = 1 - (now - idx * win) / win
local allowed = 0
if p * overlap + c < limit then
  c = c + 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'w', idx, 'c', c, 'p', p, 'l', win)
redis.call('PEXPIRE', KEYS[1], 2 * win)
return {allowed, retry}
"""


class RedisRateLimiter:
    """:class:`RateLimiter`'s sliding windows kept in Redis: one EVALSHA per check.

    Every process and node sharing the Redis shares the counts; the time is
    the Redis server's, so nodes with skewed clocks still agree. A key expires
    two windows after its last hit. Errors propagate (:class:`Limiter` handles them).
    """

    def __init__(self, redis: "RedisConn", prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.client.register_script(_SLIDING_WINDOW_LUA)

    async def hit(self, key: str, limit: int, window: float) -> tuple[bool, int]:
        """Count one request for ``key``; (allowed, seconds until the current window ends)."""
        if limit <= 0 or window <= 0:
            return True, 0
        win_ms = max(1, int(round(window * 1000)))
        allowed, retry = await self._script(keys=[self.prefix + key], args=[int(limit), win_ms])
        return bool(int(allowed)), max(1, int(retry))


class Limiter:
    """``ctx.limiter``: shared counts in Redis when there is one, this process's memory otherwise.

    ``await hit(key, limit, window)`` never raises: when Redis fails, the hit
    is counted by :attr:`local` (a :class:`RateLimiter`), ``redis.healthy`` is
    set False and a warning is logged once; at most one request per
    ``retry_every`` seconds tries Redis again until it answers (then
    ``healthy`` is True again and the recovery is logged once).
    """

    def __init__(self, redis: "RedisConn | None" = None, *, local: RateLimiter | None = None,
                 prefix: str = KEY_PREFIX, retry_every: float = REDIS_RETRY_EVERY,
                 timeout: float = REDIS_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.local = local if local is not None else RateLimiter()
        self.remote = RedisRateLimiter(redis, prefix) if redis is not None else None
        self.retry_every = retry_every
        self.timeout = timeout
        self._clock = clock
        self._down = False  # this limiter saw Redis fail and has not seen it answer since
        self._retry_at = 0.0
        self._hints: dict[str, int] = {}  # key -> Retry-After from the last refusal Redis decided
        self.logins = LoginThrottle(self, clock=clock)  # failed-login locks, shared the same way

    @property
    def shared(self) -> bool:
        """True while counts go to Redis (False: no Redis, or counting locally during an outage)."""
        return self.remote is not None and not self._down and bool(getattr(self.redis, "healthy", True))

    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one request for ``key``; False (and not counted) when over ``limit``."""
        if limit <= 0 or window <= 0:
            return True
        if self.remote is not None and self._try_redis():
            try:
                allowed, retry = await asyncio.wait_for(self.remote.hit(key, limit, window), self.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any Redis failure: count here instead
                self._failed(e)
            else:
                self._answered()
                if allowed:
                    self._hints.pop(key, None)
                else:
                    if len(self._hints) >= MAX_RETRY_HINTS:
                        self._hints.clear()
                    self._hints[key] = retry
                return allowed
        self._hints.pop(key, None)
        return self.local.hit(key, limit, window)

    def retry_after(self, key: str) -> int:
        """Seconds until the window of ``key``'s last refusal ends (a hint for ``Retry-After``)."""
        hint = self._hints.get(key)
        return hint if hint is not None else self.local.retry_after(key)

    def reset(self) -> None:
        """Forget this process's counts (the shared ones in Redis expire on their own)."""
        self.local.reset()
        self._hints.clear()
        self.logins.reset()

    def _try_redis(self) -> bool:
        if not self._down and getattr(self.redis, "healthy", True):
            return True
        now = self._clock()
        if now < self._retry_at:
            return False
        self._retry_at = now + self.retry_every  # this request probes; the others count locally
        return True

    def _failed(self, e: BaseException) -> None:
        self._retry_at = self._clock() + self.retry_every
        self._down = True
        if self.redis is not None:
            self.redis.mark_down(e)  # logged once per outage for the whole process

    def _answered(self) -> None:
        self._down = False
        if self.redis is not None and not self.redis.healthy:
            self.redis.mark_up()


# -- failed logins ------------------------------------------------------------------------------
LOGIN_ACCOUNT_FREE = 5  # failures on one account (from anywhere) before it locks
LOGIN_ADDRESS_FREE = 10  # failures from one address (on any accounts) before it locks
LOGIN_BASE_DELAY = 5.0  # the first lock, in seconds; every further failure doubles it
LOGIN_MAX_DELAY = 15 * 60.0
LOGIN_MEMORY = 24 * 3600.0  # failures are forgotten a day after the last one
LOGIN_PREFIX = "onerelay:login:"
MAX_LOGIN_KEYS = 200_000  # in-process entries kept at most (the oldest half goes beyond that)


def login_lock_seconds(failures: int, free: int) -> float:
    """The lock after the ``failures``-th failure: none before ``free``, then
    LOGIN_BASE_DELAY doubling with each failure up to LOGIN_MAX_DELAY."""
    if failures < free:
        return 0.0
    return min(LOGIN_MAX_DELAY, LOGIN_BASE_DELAY * 2.0 ** min(failures - free, 40))


class LoginCounters:
    """Failures and lock end per key in this process's memory (clock injectable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, list[float]] = {}  # key -> [failures, locked until, forget at]
        self._next_sweep = clock() + SWEEP_EVERY

    def peek(self, key: str) -> tuple[int, float]:
        """(failures remembered, seconds the key stays locked)."""
        now = self.clock()
        e = self._entries.get(key)
        if e is None or e[2] <= now:
            return 0, 0.0
        return int(e[0]), max(0.0, e[1] - now)

    def fail(self, key: str, free: int) -> tuple[int, float]:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        e = self._entries.get(key)
        if e is None or e[2] <= now:
            e = [0.0, 0.0, 0.0]
            self._entries[key] = e
        e[0] += 1
        lock = login_lock_seconds(int(e[0]), free)
        if lock:
            e[1] = max(e[1], now + lock)
        e[2] = now + LOGIN_MEMORY
        return int(e[0]), max(0.0, e[1] - now)

    def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def reset(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY
        for k in [k for k, e in self._entries.items() if e[2] <= now]:
            del self._entries[k]
        if len(self._entries) > MAX_LOGIN_KEYS:
            for k in list(self._entries)[: len(self._entries) // 2]:
                del self._entries[k]


# One key's {n: failures, u: locked until (ms, Redis clock)}. ARGV: op ('peek' | 'fail' | 'clear'),
# free, base delay (ms), max delay (ms), memory (ms). Returns {failures, ms still locked}.
_LOGIN_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'clear' then
  redis.call('DEL', KEYS[1])
  return {0, 0}
end
local h = redis.call('HMGET', KEYS[1], 'n', 'u')
local n, u = tonumber(h[1]) or 0, tonumber(h[2]) or 0
if ARGV[1] == 'fail' then
  local free, base, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  n = n + 1
  if n >= free then
    local lock = math.floor(math.min(cap, base * 2 ^ math.min(n - free, 40)))
    if now + lock > u then u = now + lock end
  end
  redis.call('HSET', KEYS[1], 'n', n, 'u', u)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
end
local left = u - now
if left < 0 then left = 0 end
return {n, left}
"""


class LoginVerdict:
    """What :meth:`LoginThrottle.check` decided before the password is looked at."""

    __slots__ = ("retry_after", "message")

    def __init__(self, retry_after: int = 0, message: str = "") -> None:
        self.retry_after = retry_after
        self.message = message

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


def wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


class LoginThrottle:
    """Failed password logins, per account and per address (``ctx.limiter.logins``).

    - Every failed login (unknown user, wrong password, banned user alike)
      counts against the account (its user id; an unknown name by its hash)
      and against the client address. After LOGIN_ACCOUNT_FREE failures on an
      account, or LOGIN_ADDRESS_FREE from an address (an IPv6 address counts
      as its /64), the key is locked for
      LOGIN_BASE_DELAY seconds, doubling with every further failure up to
      LOGIN_MAX_DELAY. Failures are forgotten LOGIN_MEMORY after the last one;
      a correct login clears the account's count, never the address's (an
      attacker logging into their own account must not wash their address).
    - A locked address is refused outright (no password check).
    - A locked account delays guesses, not its owner: an attempt is refused
      only when its address has failed before. From an address with no
      failure remembered the password is checked: the owner gets in, a wrong
      guess doubles the lock and marks that address too. Rotating addresses
      therefore buys one guess per fresh address per day against a locked
      account, and nobody can lock the owner out by failing on purpose.
    - Access tokens (``Authorization`` on /api) never pass through here.

    Counts live in Redis when the deployment has one (one EVALSHA per key, the
    Redis clock), with the :class:`Limiter`'s fallback to this process's
    memory while Redis is down.
    """

    def __init__(self, limiter: Limiter, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = limiter
        self.local = LoginCounters(clock)
        self._script = limiter.redis.client.register_script(_LOGIN_LUA) if limiter.redis is not None else None

    @staticmethod
    def address_key(address: str) -> str:
        """IPv6 counts per /64 (one subscriber's usual allocation: rotating inside it buys nothing)."""
        ip = clientip.parse_ip(address)
        if ip is not None and ip.version == 6:
            return "addr:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return "addr:" + address

    @staticmethod
    def account_key(user: dict[str, Any] | None, name: str) -> str:
        if user is not None and user.get("_id") is not None:
            return f"u:{int(user['_id'])}"
        return "n:" + hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]

    async def _op(self, op: str, key: str, free: int = 0) -> tuple[int, float]:
        lim = self.limiter
        if self._script is not None and lim._try_redis():
            try:
                n, left = await asyncio.wait_for(self._script(keys=[LOGIN_PREFIX + key], args=[
                    op, free, int(LOGIN_BASE_DELAY * 1000), int(LOGIN_MAX_DELAY * 1000),
                    int(LOGIN_MEMORY * 1000)]), lim.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any Redis failure: count here instead
                lim._failed(e)
            else:
                lim._answered()
                return int(n), int(left) / 1000.0
        if op == "peek":
            return self.local.peek(key)
        if op == "fail":
            return self.local.fail(key, free)
        self.local.clear(key)
        return 0, 0.0

    async def check(self, account: str, address: str) -> LoginVerdict:
        """Before the password check: refused (with seconds to wait) or let through."""
        addr_failures, addr_left = await self._op("peek", self.address_key(address))
        if addr_left > 0:
            wait = math.ceil(addr_left)
            return LoginVerdict(wait, "Too many failed logins from your address: "
                                      f"try again in {wait_text(wait)}")
        if addr_failures > 0:
            _, acct_left = await self._op("peek", "acct:" + account)
            if acct_left > 0:
                wait = math.ceil(acct_left)
                return LoginVerdict(wait, "Too many failed logins for this account: "
                                          f"try again in {wait_text(wait)}")
        return LoginVerdict()

    async def failed(self, account: str, address: str) -> int:
        """Count a failed login; seconds until the next attempt is allowed (0: no wait)."""
        _, acct_left = await self._op("fail", "acct:" + account, LOGIN_ACCOUNT_FREE)
        _, addr_left = await self._op("fail", self.address_key(address), LOGIN_ADDRESS_FREE)
        return math.ceil(max(acct_left, addr_left))

    async def succeeded(self, account: str) -> None:
        await self._op("clear", "acct:" + account)

    def reset(self) -> None:
        self.local.reset()


def _limiter(ctx: "AppContext") -> Any:
    if ctx.settings.debug:
        return None
    return getattr(ctx, "limiter", None)


async def _hit(limiter: Any, key: str, limit: int, window: float) -> bool:
    """``limiter.hit`` for a :class:`Limiter` (async) or a plain :class:`RateLimiter` (sync)."""
    r = limiter.hit(key, limit, window)
    if inspect.isawaitable(r):
        r = await r
    return bool(r)


async def api_rate_limit(ctx: "AppContext", ip: str, *, critical: bool) -> tuple[str, int] | None:
    """Count an ``/api`` request; returns (message, retry-after seconds) when refused."""
    limiter = _limiter(ctx)
    if limiter is None:
        return None
    s = ctx.settings
    key = "api:" + ip
    if not await _hit(limiter, key, int(getattr(s, "global_api_rate_limit", 480)), API_WINDOW):
        return "Too many requests: try again later", limiter.retry_after(key)
    if critical:
        key = "crit:" + ip
        if not await _hit(limiter, key, int(getattr(s, "critical_rate_limit", 20)), CRITICAL_WINDOW):
            return "Too many attempts: try again in a few minutes", limiter.retry_after(key)
    return None


async def web_rate_limit(ctx: "AppContext", ip: str) -> int | None:
    """Count a web page request; returns retry-after seconds when refused."""
    limiter = _limiter(ctx)
    if limiter is None:
        return None
    key = "web:" + ip
    if not await _hit(limiter, key, int(getattr(ctx.settings, "global_web_rate_limit", 240)), WEB_WINDOW):
        return limiter.retry_after(key)
    return None


_LIMITED_PAGE = {
    "en": ("Too many requests", "This address has opened console pages too often: at most {limit} page loads "
           "per 3 minutes are allowed (the operator's GLOBAL_WEB_RATE_LIMIT). Nothing is wrong with your "
           "account. This page reloads by itself in {wait} seconds.", "Reload now"),
    "zh-CN": ("请求过于频繁", "当前 IP 打开控制台页面过于频繁：每 3 分钟最多 {limit} 次页面加载（管理员设置的 "
              "GLOBAL_WEB_RATE_LIMIT）。您的账户没有问题。本页将在 {wait} 秒后自动刷新。", "立即刷新"),
}


def limited_page(lang: str, limit: int, wait: int) -> str:
    """The page a tripped web limit shows: what happened, that the account is fine, when it
    reloads (by itself)."""
    title, text, again = _LIMITED_PAGE.get(lang, _LIMITED_PAGE["en"])
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta http-equiv="refresh" content="{wait}"><meta name="viewport" content="width=device-width, '
            'initial-scale=1"><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:5rem auto;'
            'padding:0 1rem;color:#1f2328;line-height:1.6}a{color:#1d4ed8}@media(prefers-color-scheme:dark)'
            '{body{background:#101014;color:#e6e6e6}a{color:#6aaefb}}</style></head><body>'
            f'<h1>{title}</h1><p>{text.format(limit=limit, wait=wait)}</p><p><a href="">{again}</a></p></body></html>')


class WebRateLimited:
    """Mixin for web pages (not hashed assets): GLOBAL_WEB_RATE_LIMIT per IP; past it, a
    429 page that explains itself, in the visitor's language, and reloads when allowed."""

    async def prepare(self: Any) -> None:
        ctx = self.application.settings["ctx"]
        wait = await web_rate_limit(ctx, clientip.for_request(self.request, ctx.settings))
        if wait is not None:
            from services.i18n import DEFAULT, negotiate, normalize

            lang = negotiate(self.request.headers.get("Accept-Language"),
                             normalize(ctx.options.get("Language")) or DEFAULT)
            self.set_status(429)
            self.set_header("Retry-After", str(wait))
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(limited_page(lang, int(getattr(ctx.settings, "global_web_rate_limit", 240)), max(1, int(wait))))
