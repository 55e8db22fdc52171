"""Per-IP rate limits (One API's GlobalAPIRateLimit, GlobalWebRateLimit, CriticalRateLimit).

- ``/api/*``: GLOBAL_API_RATE_LIMIT requests (default 480) per 3 minutes per IP.
- Web pages and assets: GLOBAL_WEB_RATE_LIMIT (default 240) per 3 minutes per IP.
- Critical routes (login, register, verification and reset emails, password
  reset, OAuth): additionally CRITICAL_RATE_LIMIT (default 20) per 20 minutes.

A limit of 0 disables it; ``DEBUG=true`` disables all of them (One API).
Relay routes (``/v1``) are not limited. Counters live in this process's
memory; a Redis-backed limiter for several nodes can replace
:class:`RateLimiter` behind the same ``hit`` method.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from server import AppContext

API_WINDOW = 3 * 60.0
WEB_WINDOW = 3 * 60.0
CRITICAL_WINDOW = 20 * 60.0
SWEEP_EVERY = 60.0


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


def _limiter(ctx: "AppContext") -> RateLimiter | None:
    if ctx.settings.debug:
        return None
    return getattr(ctx, "limiter", None)


def api_rate_limit(ctx: "AppContext", ip: str, *, critical: bool) -> tuple[str, int] | None:
    """Count an ``/api`` request; returns (message, retry-after seconds) when refused."""
    limiter = _limiter(ctx)
    if limiter is None:
        return None
    s = ctx.settings
    key = "api:" + ip
    if not limiter.hit(key, int(getattr(s, "global_api_rate_limit", 480)), API_WINDOW):
        return "Too many requests: try again later", limiter.retry_after(key)
    if critical:
        key = "crit:" + ip
        if not limiter.hit(key, int(getattr(s, "critical_rate_limit", 20)), CRITICAL_WINDOW):
            return "Too many attempts: try again in a few minutes", limiter.retry_after(key)
    return None


def web_rate_limit(ctx: "AppContext", ip: str) -> int | None:
    """Count a web page request; returns retry-after seconds when refused."""
    limiter = _limiter(ctx)
    if limiter is None:
        return None
    key = "web:" + ip
    if not limiter.hit(key, int(getattr(ctx.settings, "global_web_rate_limit", 240)), WEB_WINDOW):
        return limiter.retry_after(key)
    return None


class WebRateLimited:
    """Mixin for web page handlers: GLOBAL_WEB_RATE_LIMIT per IP, plain 429 when exceeded."""

    def prepare(self: Any) -> None:
        ctx = self.application.settings["ctx"]
        wait = web_rate_limit(ctx, self.request.remote_ip or "")
        if wait is not None:
            self.set_status(429)
            self.set_header("Retry-After", str(wait))
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("Too many requests: try again later\n")
