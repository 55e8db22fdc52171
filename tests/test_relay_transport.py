"""Upstream transport settings: RELAY_TIMEOUT and RELAY_PROXY."""

from __future__ import annotations

from typing import Any, AsyncIterator

import openai
import pytest
import tornado.httpclient
import tornado.web

from tests.conftest import Gateway, listen

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.settings(relay_timeout=0.5)
async def test_relay_timeout_is_504(gw: Gateway) -> None:
    await gw.channel(key="sk-sleep")
    key = await gw.token()
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert e.value.status_code == 504
    assert await gw.logs() == []


class ProxyHandler(tornado.web.RequestHandler):
    """A minimal HTTP forward proxy (absolute-URI requests), recording what it forwards."""

    SUPPORTED_METHODS = ("GET", "POST")

    def initialize(self, seen: list[str]) -> None:
        self.seen = seen

    async def post(self, *_: Any) -> None:
        self.seen.append(self.request.uri)
        headers = {k: v for k, v in self.request.headers.items() if k.lower() not in ("proxy-connection", "host")}
        client = tornado.httpclient.AsyncHTTPClient()
        resp = await client.fetch(self.request.uri, method="POST", body=self.request.body, headers=headers,
                                  raise_error=False)
        self.set_status(resp.code)
        self.set_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
        self.finish(resp.body)


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []
    server, port = listen(tornado.web.Application([(r".*", ProxyHandler, {"seen": seen})]))
    yield f"http://127.0.0.1:{port}", seen
    server.stop()


async def test_relay_proxy(gw: Gateway, proxy: tuple[str, list[str]]) -> None:
    from relay.upstream import ProxyConfig

    url, seen = proxy
    gw.ctx.proxy = ProxyConfig.parse(url)
    await gw.channel()
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert resp.choices[0].message.content
    assert seen == [gw.upstream.url + "/v1/chat/completions"]


def test_proxy_url_parsing() -> None:
    from relay.upstream import ProxyConfig

    p = ProxyConfig.parse("http://u:p@proxy.local:8080")
    assert p is not None and (p.host, p.port, p.username, p.password) == ("proxy.local", 8080, "u", "p")
    p = ProxyConfig.parse("socks5://10.0.0.1:1080")
    assert p is not None and p.host == "socks5://10.0.0.1" and p.port == 1080
    assert ProxyConfig.parse("") is None
    with pytest.raises(ValueError):
        ProxyConfig.parse("http://")
