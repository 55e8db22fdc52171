"""The master's scheduler (automatic channel tests, balance refresh), success-rate metrics and
root notifications (Message Pusher webhook, email), against real servers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import openai
import pytest
import tornado.web

from models.channels import CH_AUTO_DISABLED, CH_ENABLED, CH_MANUALLY_DISABLED
from services.context import Settings
from services.notify import notify_root
from services.scheduler import Scheduler
from tests.conftest import Gateway, listen
from tests.fake_balance import BALANCES, BalanceState, make_balance_app
from tests.fakeupstream import UpstreamState, make_upstream_app
from tests.fake_oauth import SMTPServer
from tests.fake_oauth import smtp, smtp_server  # noqa: F401  (fixtures)

PUSH_TOKEN = "push-token-42"
MSG = [{"role": "user", "content": "hi"}]


# --------------------------------------------------------------------------- helpers and fakes

async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def set_options(gw: Gateway, **opts: Any) -> None:
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        await gw.ok("PUT", "/api/option/", {"key": k, "value": str(v)})


async def status_of(gw: Gateway, cid: int) -> int:
    doc = await gw.ctx.channels.get(cid)
    assert doc is not None
    return int(doc["status"])


async def background_done(gw: Gateway) -> None:
    """Wait until the gateway's tracked background tasks (disables, notifications) are over."""
    async def idle() -> bool:
        return not gw.ctx._tasks
    await eventually(idle, "background tasks")


class PushHandler(tornado.web.RequestHandler):
    """Message Pusher's API: checks the token, keeps the message."""

    def initialize(self, received: list[dict[str, Any]]) -> None:
        self.received = received

    def post(self, user: str) -> None:
        body = json.loads(self.request.body)
        body["_user"] = user
        body["_content_type"] = self.request.headers.get("Content-Type", "")
        self.received.append(body)
        if body.get("token") != PUSH_TOKEN:
            self.write({"success": False, "message": "invalid token"})
        else:
            self.write({"success": True, "message": ""})


class Pusher:
    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []

    async def configure(self, gw: Gateway, token: str = PUSH_TOKEN) -> None:
        await set_options(gw, MessagePusherAddress=self.url + "/push/root", MessagePusherToken=token)

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]


@pytest.fixture(scope="module")
async def pusher_server() -> AsyncIterator[Pusher]:
    received: list[dict[str, Any]] = []
    server, port = listen(tornado.web.Application([(r"/push/(\w+)", PushHandler, {"received": received})]))
    p = Pusher(f"http://127.0.0.1:{port}")
    p.received = received
    yield p
    server.stop()


@pytest.fixture
def pusher(pusher_server: Pusher) -> Pusher:
    pusher_server.received.clear()
    return pusher_server


# --------------------------------------------------------------------------- scheduler

@pytest.mark.settings(channel_test_frequency=0.2, polling_interval=0.01)
async def test_scheduler_disables_failing_reenables_auto_disabled_only(gw: Gateway, pusher: Pusher) -> None:
    await set_options(gw, AutomaticDisableChannelEnabled=True, AutomaticEnableChannelEnabled=True)
    await pusher.configure(gw)
    ok = await gw.channel(name="fine", key="sk-fine")
    bad = await gw.channel(name="bad", key="fail-401")
    flaky = await gw.channel(name="flaky", key="fail-500")  # failing, but not a disabling error
    auto_ok = await gw.channel(name="auto", key="sk-auto-ok")
    await gw.ctx.channels.set_status(auto_ok, CH_AUTO_DISABLED)
    manual_ok = await gw.channel(name="manual", key="sk-manual-ok", status=CH_MANUALLY_DISABLED)
    await gw.ctx.channels_changed()
    assert gw.ctx.scheduler.running

    async def settled() -> bool:
        return await status_of(gw, bad) == CH_AUTO_DISABLED and await status_of(gw, auto_ok) == CH_ENABLED
    await eventually(settled, "the failing channel disabled and the auto-disabled one re-enabled")
    # two more rounds (the first may have begun before the last channel existed) with the options
    # on: the manually disabled channel stays disabled, and every channel was tested
    seen = gw.ctx.scheduler.rounds["test"]

    async def another_round() -> bool:
        return gw.ctx.scheduler.rounds["test"] >= seen + 2
    await eventually(another_round, "one more test round")
    assert await status_of(gw, manual_ok) == CH_MANUALLY_DISABLED
    assert await status_of(gw, ok) == CH_ENABLED and await status_of(gw, flaky) == CH_ENABLED
    for cid in (ok, bad, flaky, auto_ok, manual_ok):  # every channel is tested (One API)
        doc = await gw.ctx.channels.get(cid)
        assert doc is not None and doc["test_time"] > 0
    assert "sk-manual-ok" in gw.upstream.state.keys()
    # routing follows
    assert gw.ctx.router.get(bad).status == CH_AUTO_DISABLED  # type: ignore[union-attr]
    assert gw.ctx.router.get(auto_ok).status == CH_ENABLED  # type: ignore[union-attr]
    # root heard of both, once each (the bad channel is no longer enabled in later rounds)
    await background_done(gw)
    assert pusher.titles().count(f"Channel «bad» (#{bad}) was disabled") == 1
    assert pusher.titles().count(f"Channel «auto» (#{auto_ok}) was re-enabled") == 1
    assert len(pusher.received) == 2
    disabled = next(m for m in pusher.received if m["title"].endswith("disabled"))
    assert "channel test" in disabled["content"] and disabled["description"] == disabled["content"]


@pytest.mark.settings(channel_test_frequency=0.05, polling_interval=30)
async def test_scheduler_round_blocks_api_bulk_test_and_stops_cleanly(gw: Gateway) -> None:
    # An upstream of its own: the session's shared one may still be busy with earlier tests' work.
    state = UpstreamState()
    server, port = listen(make_upstream_app(state))
    try:
        await _round_blocks_bulk_test_and_stops_cleanly(gw, state, f"http://127.0.0.1:{port}")
    finally:
        server.stop()


async def _round_blocks_bulk_test_and_stops_cleanly(gw: Gateway, state: UpstreamState, url: str) -> None:
    await gw.channel(key="sk-one", base_url=url)
    await gw.channel(key="sk-two", base_url=url)
    checks = gw.ctx.channel_checks
    # A round that began before both channels existed (a slow start) would test one channel and
    # end without pausing: restart the scheduler so that every round sees the two channels.
    await asyncio.wait_for(gw.ctx.scheduler.stop(), 5)
    await asyncio.wait_for(checks.wait_idle(), 5)
    state.reset()
    gw.ctx.scheduler.start()

    async def first_tested() -> bool:
        return checks.bulk_test_running and len(state.requests) == 1
    # rounds come every 3 s; a loaded CI machine may need a few of them
    await eventually(first_tested, "a scheduled round paused between two channels", timeout=60)
    code, data = await gw.api("GET", "/api/channel/test?scope=all")
    assert code == 200 and data["success"] is False and "already running" in data["message"]
    await asyncio.wait_for(gw.ctx.scheduler.stop(), 5)  # cancels the 30 s pause
    assert not gw.ctx.scheduler.running and not checks.bulk_test_running
    await asyncio.wait_for(checks.wait_idle(), 1)
    assert state.keys() == ["sk-one"]
    # the API can test again
    await gw.ok("GET", "/api/channel/test?scope=all")
    await asyncio.wait_for(checks.wait_idle(), 10)


@pytest.mark.settings(auto_enable_check=0)
async def test_scheduler_only_on_master_and_when_configured(gw: Gateway) -> None:
    assert not gw.ctx.scheduler.running  # both frequencies default to 0 (and auto-enable is off here)
    checks = gw.ctx.channel_checks
    slave = Scheduler(checks, Settings(node_type="slave", channel_test_frequency=1, channel_update_frequency=1))
    slave.start()
    assert not slave.running
    worker = Scheduler(checks, Settings(worker_index=2, channel_test_frequency=1))
    worker.start()
    assert not worker.running
    master = Scheduler(checks, Settings(channel_test_frequency=60))
    master.start()
    assert master.running
    await master.stop()
    assert not master.running


@pytest.mark.settings(channel_update_frequency=0.2, polling_interval=0.01)
async def test_scheduler_refreshes_balances(gw: Gateway) -> None:
    state = BalanceState()
    server, port = listen(make_balance_app(state))
    try:
        url = f"http://127.0.0.1:{port}"
        await set_options(gw, AutomaticDisableChannelEnabled=True)
        ds = await gw.channel(type=36, key="sk-ds", base_url=url)
        zero = await gw.channel(type=36, key="bal-zero", base_url=url)
        off = await gw.channel(type=36, key="sk-off", base_url=url, status=CH_MANUALLY_DISABLED)

        async def refreshed() -> bool:
            doc = await gw.ctx.channels.get(ds)
            return bool(doc and doc["balance_updated_time"] > 0) and await status_of(gw, zero) == CH_AUTO_DISABLED
        await eventually(refreshed, "a balance round")
        doc = await gw.ctx.channels.get(ds)
        assert doc is not None and doc["balance"] == BALANCES["deepseek"] and doc["status"] == CH_ENABLED
        off_doc = await gw.ctx.channels.get(off)
        assert off_doc is not None and off_doc["balance_updated_time"] == 0  # enabled channels only
    finally:
        await gw.ctx.scheduler.stop()
        server.stop()


# --------------------------------------------------------------------------- metrics

@pytest.mark.settings(enable_metric=True, metric_queue_size=4, metric_success_rate_threshold=0.5)
async def test_metrics_disable_a_channel_once_and_routing_skips_it(gw: Gateway, pusher: Pusher) -> None:
    await pusher.configure(gw)
    a = await gw.channel(name="a", key="sk-a")
    b = await gw.channel(name="b", key="sk-b")
    await gw.ctx.channels_changed()
    m = gw.ctx.metrics
    # b: half of its last 4 calls succeeded, not below the threshold
    for ok in (False, True, False, True, False, True, False):
        m.record(b, ok)
    assert m.success_rate(b) == 0.5
    # a: the queue is not full yet, nothing happens
    for ok in (True, False, False):
        m.record(a, ok)
    await background_done(gw)
    assert await status_of(gw, a) == CH_ENABLED
    m.record(a, False)  # 1 of 4: disable, and the queue starts over
    assert m.success_rate(a) is None
    for _ in range(3):
        m.record(a, False)

    async def disabled() -> bool:
        return await status_of(gw, a) == CH_AUTO_DISABLED
    await eventually(disabled, "the metric disable")
    await background_done(gw)
    assert await status_of(gw, b) == CH_ENABLED
    assert pusher.titles() == [f"Channel «a» (#{a}) was disabled"]
    assert "success rate 25.00% over the last 4 calls" in pusher.received[0]["content"]
    # the relay no longer picks it
    key = await gw.token()
    async with gw.client(key) as client:
        for _ in range(6):
            r = await client.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # type: ignore[arg-type]
            assert r.choices[0].message.content
    assert gw.upstream.state.keys() == ["sk-b"] * 6


async def test_metrics_off_by_default(gw: Gateway) -> None:
    a = await gw.channel(key="sk-a")
    for _ in range(50):
        gw.ctx.metrics.record(a, False)
    await background_done(gw)
    assert await status_of(gw, a) == CH_ENABLED and gw.ctx.metrics.success_rate(a) is None


# --------------------------------------------------------------------------- notifications

async def test_relay_disable_pushes_one_notification(gw: Gateway, pusher: Pusher) -> None:
    await set_options(gw, AutomaticDisableChannelEnabled=True)
    await pusher.configure(gw)
    bad = await gw.channel(name="dead key", key="fail-401")
    await gw.ctx.channels_changed()
    key = await gw.token()
    async with gw.client(key) as client:
        async def call() -> None:
            with pytest.raises(openai.APIError):
                await client.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # type: ignore[arg-type]
        await asyncio.gather(*(call() for _ in range(5)))  # several may fail on it at once

    async def pushed() -> bool:
        return bool(pusher.received)
    await eventually(pushed, "the Message Pusher POST")
    await background_done(gw)
    assert await status_of(gw, bad) == CH_AUTO_DISABLED
    assert len(pusher.received) == 1  # concurrent disables announce once
    msg = pusher.received[0]
    assert msg["_user"] == "root" and msg["_content_type"].startswith("application/json")
    assert msg["title"] == f"Channel «dead key» (#{bad}) was disabled"
    assert "was disabled automatically" in msg["content"] and "Incorrect API key" in msg["content"]
    assert msg["token"] == PUSH_TOKEN and msg["description"] == msg["content"]
    assert set(msg) == {"title", "description", "content", "url", "channel", "token", "_user", "_content_type"}


async def test_email_to_root_without_pusher_and_when_the_push_fails(
        gw: Gateway, pusher: Pusher, smtp: SMTPServer) -> None:  # noqa: F811
    await smtp.configure(gw)
    await gw.ctx.users.update(1, {"email": "root@relay.example.com"})
    one = await gw.channel(name="one", key="sk-one")
    two = await gw.channel(name="two", key="sk-two")
    await gw.ctx.channels_changed()
    # no Message Pusher: email
    await gw.ctx.disable_channel(one, CH_AUTO_DISABLED, "upstream said: quota exhausted")
    await background_done(gw)
    mail = smtp.sink.last_to("root@relay.example.com")
    assert mail["Subject"] == f"Channel «one» (#{one}) was disabled"
    assert "upstream said: quota exhausted" in smtp.sink.text(mail)
    assert "quota exhausted" in smtp.sink.html(mail)
    # a push refused (wrong token) falls back to email, as One API
    await pusher.configure(gw, token="wrong")
    await gw.ctx.disable_channel(two, CH_AUTO_DISABLED, "channel test: HTTP 401")
    await background_done(gw)
    assert len(pusher.received) == 1 and pusher.received[0]["token"] == "wrong"
    assert smtp.sink.last_to("root@relay.example.com")["Subject"] == f"Channel «two» (#{two}) was disabled"
    assert len(smtp.sink.messages) == 2
    # an accepted push is the only notification
    await pusher.configure(gw)
    await gw.ctx.channels.set_status(two, CH_ENABLED)
    await gw.ctx.channels_changed()
    await gw.ctx.disable_channel(two, CH_AUTO_DISABLED, "again")
    await background_done(gw)
    assert len(pusher.received) == 2 and len(smtp.sink.messages) == 2
    # an already disabled channel: no second notice
    await gw.ctx.disable_channel(two, CH_AUTO_DISABLED, "again")
    await background_done(gw)
    assert len(pusher.received) == 2


async def test_notify_root_never_raises(gw: Gateway) -> None:
    await set_options(gw, MessagePusherAddress="http://127.0.0.1:1/push", SMTPServer="127.0.0.1",
                      SMTPPort="1", SMTPFrom="noreply@relay.example.com")
    await gw.ctx.users.update(1, {"email": "root@relay.example.com"})
    await notify_root(gw.ctx, "title", "content")  # both unreachable: logged only
    await set_options(gw, MessagePusherAddress="not a url", SMTPServer="")
    await notify_root(gw.ctx, "title", "content")
