"""``/v1/oneapi/proxy/{channel}/{path}``: One API's raw pass-through to a Proxy channel (type 43),
for admin keys only, nothing billed."""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from tornado.httpclient import HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from tests.adaptor_helpers import serving
from tests.conftest import Gateway


class _Echo(tornado.web.RequestHandler):
    def initialize(self, seen: list[dict[str, Any]]) -> None:
        self.seen = seen

    def _answer(self, *_: Any) -> None:
        self.seen.append({"method": self.request.method, "path": self.request.path, "query": self.request.query,
                          "headers": dict(self.request.headers), "body": self.request.body})
        self.set_status(201 if self.request.method == "POST" else 200)
        self.set_header("X-Upstream", "yes")
        self.set_cookie("leak", "1")
        self.finish({"ok": True, "path": self.request.path})

    get = post = put = delete = patch = _answer  # type: ignore[assignment]


async def _send(gw: Gateway, method: str, path: str, key: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Any:
    """Sent as written: Tornado's own client does not squash ``..`` segments as libcurl does."""
    req = HTTPRequest(gw.url + path, method=method, body=body, allow_nonstandard_methods=True,
                      headers={"Authorization": f"Bearer {key}", **(headers or {})})
    client = SimpleAsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(req, raise_error=False)
    finally:
        client.close()


async def test_proxy_channel_pass_through(gw: Gateway) -> None:
    seen: list[dict[str, Any]] = []
    app = tornado.web.Application([(r"/.*", _Echo, {"seen": seen})])
    async with serving(app) as url:
        cid = await gw.channel(name="proxy", type=43, key="Bearer up-secret", base_url=url + "/base", models="via-proxy")
        other = await gw.channel(name="openai", type=1)
        admin_key = await gw.token()
        before = (await gw.user())["used_quota"]

        resp = await _send(gw, "POST", f"/v1/oneapi/proxy/{cid}/v1/things?x=1&y=2", admin_key,
                           body=b'{"a":1}', headers={"Content-Type": "application/json", "Cookie": "c=1",
                                                     "X-Secret": "no"})
        assert resp.code == 201 and json.loads(resp.body) == {"ok": True, "path": "/base/v1/things"}
        assert resp.headers.get("X-Upstream") == "yes" and "Set-Cookie" not in resp.headers
        up = seen[-1]
        assert (up["method"], up["path"], up["query"], up["body"]) == ("POST", "/base/v1/things", "x=1&y=2", b'{"a":1}')
        assert up["headers"]["Authorization"] == "Bearer up-secret"  # the channel's key, as stored
        assert "Cookie" not in up["headers"] and "X-Secret" not in up["headers"]

        resp = await _send(gw, "GET", f"/v1/oneapi/proxy/{cid}/v1/models", admin_key)
        assert resp.code == 200 and seen[-1]["method"] == "GET" and seen[-1]["path"] == "/base/v1/models"
        assert (await gw.user())["used_quota"] == before  # nothing billed

        # refused before reaching the upstream
        n = len(seen)
        resp = await _send(gw, "GET", f"/v1/oneapi/proxy/{cid}/v1/%2e%2e/secret", admin_key)
        assert resp.code == 400 and json.loads(resp.body)["error"]["code"] == "invalid_proxy_path"
        resp = await _send(gw, "GET", f"/v1/oneapi/proxy/{other}/v1/models", admin_key)
        assert resp.code == 400 and json.loads(resp.body)["error"]["code"] == "not_a_proxy_channel"
        resp = await _send(gw, "GET", "/v1/oneapi/proxy/9999/v1/models", admin_key)
        assert resp.code == 403
        resp = await _send(gw, "GET", f"/v1/oneapi/proxy/{cid}/v1/models", "sk-wrong")
        assert resp.code == 401
        await gw.ok("POST", "/api/user/", {"username": "plain", "password": "password1", "display_name": "p"})
        uid = [u for u in await gw.ok("GET", "/api/user/?p=0") if u["username"] == "plain"][0]["id"]
        await gw.ctx.users.update(uid, {"access_token": "plainuseraccesstoken000000000001"})
        user_key = await gw.token(as_token="plainuseraccesstoken000000000001")
        resp = await _send(gw, "GET", f"/v1/oneapi/proxy/{cid}/v1/models", user_key)
        assert resp.code == 403 and json.loads(resp.body)["error"]["code"] == "proxy_forbidden"
        assert len(seen) == n
