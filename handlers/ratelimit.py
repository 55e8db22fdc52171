"""Per-IP rate limits (One API's GlobalAPIRateLimit, GlobalWebRateLimit, CriticalRateLimit).

- ``/api/*``: GLOBAL_API_RATE_LIMIT requests (default 480) per 3 minutes per IP.
- Web pages and assets: GLOBAL_WEB_RATE_LIMIT (default 240) per 3 minutes per IP.
- Critical routes (login, register, verification and reset emails, password
  reset, OAuth): additionally CRITICAL_RATE_LIMIT (default 20) per 20 minutes.

A limit of 0 disables it; ``DEBUG=true`` disables all of them (One API).
Relay routes (``/v1``) are not limited.

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
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

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


class WebRateLimited:
    """Mixin for web page handlers: GLOBAL_WEB_RATE_LIMIT per IP, plain 429 when exceeded."""

    async def prepare(self: Any) -> None:
        ctx = self.application.settings["ctx"]
        wait = await web_rate_limit(ctx, self.request.remote_ip or "")
        if wait is not None:
            self.set_status(429)
            self.set_header("Retry-After", str(wait))
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("Too many requests: try again later\n")
