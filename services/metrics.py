"""Success-rate monitoring of channels (``ENABLE_METRIC``), One API's ``monitor/metric.go``.

The relay reports each attempt's outcome with :meth:`ChannelMetrics.record`.
For every channel the last ``METRIC_QUEUE_SIZE`` outcomes are kept; when a
failure arrives on a full queue and the success rate in it is below
``METRIC_SUCCESS_RATE_THRESHOLD``, the channel is auto-disabled (status 3,
root notified by ``AppContext.disable_channel``) and its queue is cleared, so
one bad stretch disables once. As in One API this works independently of the
``AutomaticDisableChannelEnabled`` option.

Outcomes are counted per process: with several workers or nodes each one
judges the calls it relayed (One API keeps the same per-process queues).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from models.channels import CH_AUTO_DISABLED

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.metrics")


class _Window:
    """The last ``size`` outcomes of one channel with a running success count."""

    __slots__ = ("outcomes", "successes")

    def __init__(self, size: int) -> None:
        self.outcomes: deque[bool] = deque(maxlen=size)
        self.successes = 0

    def push(self, ok: bool) -> None:
        q = self.outcomes
        if len(q) == q.maxlen and q[0]:
            self.successes -= 1
        q.append(ok)
        if ok:
            self.successes += 1

    def clear(self) -> None:
        self.outcomes.clear()
        self.successes = 0


class ChannelMetrics:
    """Per-channel success windows; disables a channel whose success rate collapses.

    Always present on the context; :meth:`record` does nothing unless
    ``settings.enable_metric``.
    """

    def __init__(self, ctx: "AppContext") -> None:
        s = ctx.settings
        self.ctx = ctx
        self.enabled = bool(s.enable_metric)
        self.size = max(1, int(s.metric_queue_size))
        self.threshold = float(s.metric_success_rate_threshold)
        self._windows: dict[int, _Window] = {}

    def record(self, channel_id: int, ok: bool) -> None:
        """One attempt's outcome on a channel. O(1), synchronous; may spawn a disable."""
        if not self.enabled:
            return
        w = self._windows.get(channel_id)
        if w is None:
            w = self._windows[channel_id] = _Window(self.size)
        w.push(ok)
        if ok or len(w.outcomes) < self.size:
            return
        rate = w.successes / self.size
        if rate >= self.threshold:
            return
        w.clear()
        reason = (f"success rate {rate * 100:.2f}% over the last {self.size} calls is below "
                  f"the {self.threshold * 100:.2f}% threshold")
        log.warning("channel #%d: %s", channel_id, reason)
        self.ctx.spawn(self.ctx.disable_channel(channel_id, CH_AUTO_DISABLED, reason))

    def success_rate(self, channel_id: int) -> float | None:
        """The success rate over the outcomes kept for a channel (None: none kept)."""
        w = self._windows.get(channel_id)
        if w is None or not w.outcomes:
            return None
        return w.successes / len(w.outcomes)

    def forget(self, channel_id: int) -> None:
        """Drop a channel's outcomes (a deleted or re-enabled channel)."""
        self._windows.pop(channel_id, None)
