"""DESIGN rule 1: no database round trip per request on the happy path."""

from __future__ import annotations

import asyncio

from pymongo import monitoring

from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]


class _Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if event.command_name == "find" and target == "changes":
            return  # the change feed's poll (every 0.5 s without Redis): not a request's call
        self.commands.append((event.database_name, event.command_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


RECORDER = _Recorder()
monitoring.register(RECORDER)  # applies to clients created from now on (each gw makes its own)


async def test_happy_path_makes_no_database_calls(gw: Gateway) -> None:
    gw.ctx.ledger.interval = 3600  # no periodic flush during the measurement
    await gw.channel()
    key = await gw.token(unlimited_quota=False, remain_quota=10**6)
    c = gw.client(key)
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # warms the caches
    await asyncio.sleep(0.5)  # the flusher's current 0.2 s nap ends; its next one is an hour
    dbname = gw.ctx.db.db.name
    before = len([x for x in RECORDER.commands if x[0] == dbname])
    for _ in range(5):
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    stream = await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
    [x async for x in stream]
    await asyncio.gather(*[c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG) for _ in range(10)])
    after = [x for x in RECORDER.commands if x[0] == dbname][before:]
    assert after == [], after
    # ... and everything lands with one flush
    await gw.ctx.ledger.flush()
    flushed = [x[1] for x in RECORDER.commands if x[0] == dbname][before:]
    assert "insert" in flushed and "update" in flushed
    assert await gw.ctx.db.logs.count_documents({"type": 2}) == 17
