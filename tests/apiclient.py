"""One client for OneRelay's management API in tests: ``/api`` calls as root (its access token)
or as anyone, answers decoded from JSON. Used by the in-process gateway (conftest.Gateway) and by
the ``python server.py`` nodes (tests/nodes.Node)."""

from __future__ import annotations

import json
from typing import Any

import tornado.httpclient

ACCESS_TOKEN = "0123456789abcdef0123456789abcdef"


class ApiClient:
    url: str
    http: tornado.httpclient.AsyncHTTPClient

    async def api(self, method: str, path: str, body: Any = None, *, token: str | None = ACCESS_TOKEN,
                  headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, Any]:
        h = dict(headers or {})
        if token:
            h["Authorization"] = token
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        try:
            resp = await self.http.fetch(self.url + path, method=method, body=data, headers=h, raise_error=False,
                                         allow_nonstandard_methods=True, request_timeout=timeout)
        except Exception as e:  # noqa: BLE001 - curl's connection errors are raised, not returned
            raise OSError(str(e)) from None
        if resp.code == 599 and resp.error is not None:
            raise OSError(str(resp.error))
        try:
            return resp.code, json.loads(resp.body or b"null")
        except ValueError:
            return resp.code, resp.body

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        code, data = await self.api(method, path, body, **kw)
        assert code == 200 and isinstance(data, dict) and data.get("success"), (method, path, code, data)
        return data.get("data")
