"""Notifications to root (issue 15, item 5): a channel disabled or re-enabled automatically, a
top-up, a user's low quota; by email, the Message Pusher or WxPusher webhook, or both
(``NotifyMethod``). Each against real servers: a fake webhook server speaking Message Pusher's
and WxPusher's APIs, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import pytest
import tornado.web

from services.mailer import maybe_remind_low_quota
from tests.conftest import Gateway, listen
from tests.fake_oauth import SMTPServer
from tests.fake_oauth import smtp, smtp_server  # noqa: F401  (fixtures)

PUSH_TOKEN = "push-secret"
WX_TOKEN = "AT_wx-app-token"


class Hooks:
    def __init__(self, url: str) -> None:
        self.url = url
        self.pusher: list[dict[str, Any]] = []
        self.wx: list[dict[str, Any]] = []
        self.wx_fail = False


class PusherHandler(tornado.web.RequestHandler):
    def initialize(self, hooks: Hooks) -> None:
        self.hooks = hooks

    def post(self) -> None:
        body = json.loads(self.request.body)
        self.hooks.pusher.append(body)
        self.write({"success": body.get("token") == PUSH_TOKEN, "message": ""})


class WxPusherHandler(tornado.web.RequestHandler):
    """WxPusher's /api/send/message: appToken, content, summary, contentType, uids."""

    def initialize(self, hooks: Hooks) -> None:
        self.hooks = hooks

    def post(self) -> None:
        body = json.loads(self.request.body)
        self.hooks.wx.append(body)
        ok = body.get("appToken") == WX_TOKEN and body.get("uids") and body.get("contentType") == 1
        if self.hooks.wx_fail or not ok:
            self.write({"code": 1001, "msg": "appToken is invalid", "data": None, "success": False})
            return
        self.write({"code": 1000, "msg": "处理成功", "data": [{"uid": u, "code": 1000} for u in body["uids"]],
                    "success": True})


@pytest.fixture(scope="module")
async def hooks_server() -> AsyncIterator[Hooks]:
    app = tornado.web.Application([(r"/push", PusherHandler, {"hooks": None}), (r"/wx", WxPusherHandler, {"hooks": None})])
    server, port = listen(app)
    hooks = Hooks(f"http://127.0.0.1:{port}")
    app.wildcard_router.rules[0].target_kwargs["hooks"] = hooks
    app.wildcard_router.rules[1].target_kwargs["hooks"] = hooks
    yield hooks
    server.stop()


@pytest.fixture
def hooks(hooks_server: Hooks) -> Hooks:
    hooks_server.pusher.clear()
    hooks_server.wx.clear()
    hooks_server.wx_fail = False
    return hooks_server


async def options(gw: Gateway, **opts: Any) -> None:
    for k, v in opts.items():
        v = ("true" if v else "false") if isinstance(v, bool) else str(v)
        await gw.ok("PUT", "/api/option/", {"key": k, "value": v})


async def settled(gw: Gateway) -> None:
    for _ in range(3):
        await asyncio.gather(*list(gw.ctx._tasks))
        await asyncio.sleep(0.05)


async def root_with_email(gw: Gateway, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await gw.ctx.db.users.update_one({"_id": 1}, {"$set": {"email": "root@relay.example.com"}})


async def test_each_event_through_each_way(gw: Gateway, hooks: Hooks, smtp: SMTPServer) -> None:
    await root_with_email(gw, smtp)
    await options(gw, MessagePusherAddress=hooks.url + "/push", MessagePusherToken=PUSH_TOKEN,
                  WxPusherAddress=hooks.url + "/wx", WxPusherAppToken=WX_TOKEN, WxPusherUids="UID_root, UID_ops",
                  NotifyMethod="both", NotifyTopupEnabled=True, NotifyLowQuotaEnabled=True,
                  AutomaticDisableChannelEnabled=True, QuotaRemindThreshold=1000)

    # 1. a channel disabled automatically (an upstream 401), then re-enabled at its auto-enable time
    cid = await gw.channel(name="shaky", key="fail-401")
    key = await gw.token()
    with pytest.raises(Exception):
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "x"}])
    await settled(gw)
    assert (await gw.ok("GET", f"/api/channel/{cid}"))["status"] == 3
    # 2. a top-up by redemption code, and one by the admin API
    code = await gw.ok("POST", "/api/redemption/", {"name": "gift", "quota": 500000, "count": 1})
    await gw.ok("POST", "/api/user/topup", {"key": code[0]})
    await gw.ok("POST", "/api/topup", {"user_id": 1, "quota": 1000})
    # 3. a user's quota crossing below QuotaRemindThreshold
    await gw.ok("POST", "/api/user/", {"username": "spender", "password": "spender-pass-1"})
    spender = (await gw.ok("GET", "/api/user/search?keyword=spender"))[0]["id"]
    # the user has no email (no reminder to them), but root hears of it
    assert await maybe_remind_low_quota(gw.ctx.mailer, gw.ctx.users, gw.ctx.spawn, spender, 900) is False
    await settled(gw)
    await gw.ctx.channel_checks.enable_due()  # nothing due: no message
    await gw.ok("PUT", "/api/channel/", {"id": cid, "auto_enable_at": 1})
    await gw.ctx.channel_checks.enable_due()
    await settled(gw)

    titles = [m["title"] for m in hooks.pusher]
    assert any("shaky" in t and "disabled" in t for t in titles), titles
    assert any("shaky" in t and "re-enabled" in t for t in titles), titles
    assert sum("topped up" in t for t in titles) == 2, titles
    assert any("spender" in t and "running out of quota" in t for t in titles), titles
    assert all(m["token"] == PUSH_TOKEN for m in hooks.pusher)
    assert [m["summary"] for m in hooks.wx] == titles  # WxPusher gets the same, to every UID
    assert all(m["uids"] == ["UID_root", "UID_ops"] and m["appToken"] == WX_TOKEN for m in hooks.wx)
    subjects = [m["Subject"] for m in smtp.sink.messages if "root@relay.example.com" in m["To"]]
    assert sorted(subjects) == sorted(titles)  # "both": email too


async def test_methods_and_fallback(gw: Gateway, hooks: Hooks, smtp: SMTPServer) -> None:
    await root_with_email(gw, smtp)
    await options(gw, MessagePusherAddress="", WxPusherAddress=hooks.url + "/wx", WxPusherAppToken=WX_TOKEN,
                  WxPusherUids="UID_root", NotifyTopupEnabled=True)
    before = len(smtp.sink.messages)

    async def topup() -> None:
        await gw.ok("POST", "/api/topup", {"user_id": 1, "quota": 1000})
        await settled(gw)

    await topup()  # auto: the webhook delivered, no email
    assert len(hooks.wx) == 1 and len(smtp.sink.messages) == before
    hooks.wx_fail = True
    await topup()  # auto: the webhook refused, so email
    assert len(hooks.wx) == 2 and len(smtp.sink.messages) == before + 1
    await options(gw, NotifyMethod="webhook")
    await topup()  # webhook only: refused, and no email either
    assert len(hooks.wx) == 3 and len(smtp.sink.messages) == before + 1
    hooks.wx_fail = False
    await options(gw, NotifyMethod="email")
    await topup()  # email only
    assert len(hooks.wx) == 3 and len(smtp.sink.messages) == before + 2
    await options(gw, NotifyTopupEnabled=False)
    await topup()  # the event is off
    assert len(hooks.wx) == 3 and len(smtp.sink.messages) == before + 2

    for key, value in (("NotifyMethod", "pigeon"), ("WxPusherAddress", "ftp://x")):
        _, r = await gw.api("PUT", "/api/option/", {"key": key, "value": value})
        assert r["success"] is False, (key, r)
    # the app token is a secret: never returned
    opts = {o["key"]: o["value"] for o in await gw.ok("GET", "/api/option/")}
    assert "WxPusherAppToken" not in opts and opts["WxPusherUids"] == "UID_root"
