"""Periodic channel jobs on the master node: automatic channel tests and balance refresh.

* Every ``CHANNEL_TEST_FREQUENCY`` minutes (``Settings`` keeps it in seconds), every channel is tested, one at a
  time with ``POLLING_INTERVAL`` seconds between two (One API's
  ``AutomaticallyTestChannels``). The monitor rules of
  :class:`~relay.channel_test.ChannelChecks` apply: an enabled channel failing
  with a disabling error (or slower than ``ChannelDisableThreshold``) is
  auto-disabled when ``AutomaticDisableChannelEnabled``; an auto-disabled one
  (status 3, never a manually disabled one) that passes is re-enabled when
  ``AutomaticEnableChannelEnabled``. Root is notified of both.
* Every ``auto_enable_check`` seconds (10), a disabled channel whose ``auto_enable_at`` has
  come is enabled (and the time cleared); root is notified as for a re-enabled channel.
* Every ``CHANNEL_UPDATE_FREQUENCY`` minutes, the balance of every enabled
  channel of a supported type is refreshed, with the same pause between two;
  a balance <= 0 auto-disables (with ``AutomaticDisableChannelEnabled``).

Each loop waits its period, runs one round to the end, then waits again: a
round never overlaps the previous one. A round is skipped when a bulk test (or
balance update) started from the API is still running. Only the master runs
the scheduler (``settings.is_master``); a frequency of 0 turns that job off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from relay.channel_test import CheckError

if TYPE_CHECKING:
    from relay.channel_test import ChannelChecks
    from services.context import Settings

log = logging.getLogger("onerelay.scheduler")


class Scheduler:
    """The channel test and balance loops; ``start()`` on start-up, ``await stop()`` on shutdown."""

    def __init__(self, checks: "ChannelChecks", settings: "Settings") -> None:
        self.checks = checks
        self.settings = settings
        self._tasks: list[asyncio.Task[None]] = []
        self.rounds = {"test": 0, "balance": 0, "auto_enable": 0}  # completed rounds (status, tests)

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def start(self) -> None:
        """Start the enabled loops (master only; idempotent)."""
        if self._tasks or not self.settings.is_master:
            return
        s = self.settings
        loop = asyncio.get_running_loop()
        if s.channel_test_frequency > 0:
            log.info("testing all channels every %g s", s.channel_test_frequency)
            self._tasks.append(loop.create_task(
                self._every(s.channel_test_frequency, "test", self._test_round)))
        if s.channel_update_frequency > 0:
            log.info("updating channel balances every %g s", s.channel_update_frequency)
            self._tasks.append(loop.create_task(
                self._every(s.channel_update_frequency, "balance", self._balance_round)))

        if s.auto_enable_check > 0:  # disabled channels with an auto_enable_at come back on time
            self._tasks.append(loop.create_task(
                self._every(s.auto_enable_check, "auto_enable", self._auto_enable_round)))

    async def stop(self) -> None:
        """Cancel the loops (a round in progress stops at its next await) and wait for them."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, period: float, name: str, round_: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await round_()
            except CheckError as e:  # the API started one that is still running
                log.info("scheduled channel %s round skipped: %s", name, e.message)
            except Exception:
                log.exception("scheduled channel %s round failed", name)
            else:
                self.rounds[name] += 1

    @property
    def _interval(self) -> float:
        return max(0.0, self.settings.polling_interval)

    async def _test_round(self) -> None:
        n = await self.checks.run_bulk_test("all", interval=self._interval)
        log.info("scheduled channel test finished: %d channels", n)

    async def _auto_enable_round(self) -> None:
        n = await self.checks.enable_due()
        if n:
            log.info("%d channel(s) enabled at their auto-enable time", n)

    async def _balance_round(self) -> None:
        n = await self.checks.run_bulk_balance(interval=self._interval)
        log.info("scheduled balance update finished: %d channels", n)
