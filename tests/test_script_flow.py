"""Drive OneRelay the way One API's docs describe, with a session cookie like a script would:
log in, change the password, create a channel, create a token, use it with the openai SDK,
read the logs and the balance."""

from __future__ import annotations

import json
from typing import Any

import tornado.httpclient

from tests.conftest import Gateway


class Session:
    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        resp = await self.http.fetch(self.base + path, method=method, headers=headers,
                                     body=None if body is None else json.dumps(body), raise_error=False,
                                     allow_nonstandard_methods=True)
        for c in resp.headers.get_list("Set-Cookie"):
            if c.startswith("session="):
                self.cookie = c.split(";", 1)[0]
        return json.loads(resp.body)  # type: ignore[no-any-return]


async def test_one_api_style_script(gw: Gateway) -> None:
    s = Session(gw.url)
    assert (await s.call("POST", "/api/user/login", {"username": "root", "password": "wrong"}))["success"] is False
    login = await s.call("POST", "/api/user/login", {"username": "root", "password": "123456"})
    assert login["success"] and login["data"]["role"] == 100
    assert (await s.call("PUT", "/api/user/self", {"password": "n3w-Passw0rd"}))["success"]
    ch = await s.call("POST", "/api/channel/", {"name": "openai", "type": 1, "key": "sk-ok",
                                                 "base_url": gw.upstream.url, "models": "gpt-3.5-turbo"})
    assert ch["success"], ch
    tok = await s.call("POST", "/api/token/", {"name": "script", "remain_quota": 500000,
                                                "unlimited_quota": False, "expired_time": -1})
    assert tok["success"], tok
    tokens = (await s.call("GET", "/api/token/?p=0"))["data"]
    key = "sk-" + next(t["key"] for t in tokens if t["name"] == "script")

    client = gw.client(key)
    reply = await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content

    logs = (await s.call("GET", "/api/log/?p=0&type=2&token_name=script"))["data"]
    assert len(logs) == 1 and logs[0]["model_name"] == "gpt-3.5-turbo" and logs[0]["quota"] == 12
    mine = (await s.call("GET", "/api/log/self?p=0"))["data"]
    assert [entry["request_id"] for entry in mine if entry["type"] == 2] == [logs[0]["request_id"]]
    tokens = (await s.call("GET", "/api/token/?p=0"))["data"]
    assert next(t for t in tokens if t["name"] == "script")["remain_quota"] == 500000 - 12

    # the old password is gone, the new one works, logout ends the session
    assert (await s.call("GET", "/api/user/logout"))["success"]
    s.cookie = ""
    assert (await s.call("POST", "/api/user/login", {"username": "root", "password": "123456"}))["success"] is False
    assert (await s.call("POST", "/api/user/login", {"username": "root", "password": "n3w-Passw0rd"}))["success"]
    s.http.close()
