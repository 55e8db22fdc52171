"""relay/upstream.RelayCurlClient: the relay's short curl set-up answers as Tornado's own does.

Response headers are kept raw and parsed on first read; POST bodies go as POSTFIELDS; other
requests (GET, a proxy, redirects...) take Tornado's own set-up. A real HTTP server answers.
"""

from __future__ import annotations

import json
from typing import AsyncIterator

import pytest
import tornado.web
from tornado.httpclient import HTTPRequest

from adaptors.base import UpstreamRequest
from relay.upstream import RelayCurlClient, UpstreamCall, _LazyHeaders, make_client
from tests.conftest import listen


class Echo(tornado.web.RequestHandler):
    def post(self) -> None:
        self.set_status(201, "Made Up")
        self.add_header("X-Multi", "a")
        self.add_header("X-Multi", "b")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"body": self.request.body.decode("latin1"), "method": self.request.method,
                                "expect": self.request.headers.get("Expect"),
                                "pragma": self.request.headers.get("Pragma"),
                                "auth": self.request.headers.get("Authorization")}))

    def get(self) -> None:
        self.set_header("X-Got", "yes")
        self.finish("got")

    async def put(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        for i in range(3):
            self.write(f"data: {i}\n\n")
            await self.flush()
        self.finish()


class Stream(Echo):
    post = Echo.put  # type: ignore[assignment]


@pytest.fixture
async def base() -> AsyncIterator[str]:
    server, port = listen(tornado.web.Application([(r"/echo", Echo), (r"/stream", Stream)]))
    yield f"http://127.0.0.1:{port}/echo"
    server.stop()


async def test_post_answers_as_tornado_does(base: str) -> None:
    client = make_client(4)
    assert isinstance(client, RelayCurlClient)
    body = bytes(range(256)) * 3  # binary, NUL bytes included: sent whole
    resp = await client.fetch(HTTPRequest(base, method="POST", body=body, headers={"Authorization": "Bearer k"},
                                          follow_redirects=False),
                              raise_error=False)
    assert resp.code == 201 and resp.reason == "Made Up"
    assert isinstance(resp.headers, _LazyHeaders)
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers.get_list("X-Multi") == ["a", "b"]
    assert "x-multi" in resp.headers and resp.headers["X-Multi"] == "a,b"
    got = json.loads(resp.body)
    assert got["body"].encode("latin1") == body
    assert got["method"] == "POST" and got["auth"] == "Bearer k"
    assert got["expect"] is None and got["pragma"] is None  # as Tornado: neither header is sent
    # Again on the same handle (reset between requests), with an empty body.
    resp = await client.fetch(HTTPRequest(base, method="POST", body=b"", follow_redirects=False),
                              raise_error=False)
    assert resp.code == 201 and json.loads(resp.body)["body"] == ""
    client.close()


async def test_other_requests_take_tornados_setup(base: str) -> None:
    client = make_client(4)
    resp = await client.fetch(base, raise_error=False)
    assert resp.code == 200 and resp.body == b"got" and resp.headers["X-Got"] == "yes"
    assert not isinstance(resp.headers, _LazyHeaders)
    client.close()


async def test_streamed_call_and_header_lines_with_cr_lf_refused(base: str) -> None:
    client = make_client(4)
    for method, url in (("PUT", base), ("POST", base.replace("/echo", "/stream"))):  # Tornado's set-up; ours
        chunks: list[bytes] = []
        call = UpstreamCall(client, UpstreamRequest(method, url, {}, b"x"), timeout=10, proxy=None)
        resp = await call.fetch(chunks.append)
        assert resp.code == 200 and b"".join(chunks) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        assert call.content_type.startswith("text/event-stream")
        assert isinstance(resp.headers, _LazyHeaders) == (method == "POST")
    with pytest.raises(ValueError, match="Illegal characters"):  # as Tornado's own set-up
        await client.fetch(HTTPRequest(base, method="POST", body=b"{}", headers={"X-Bad": "a\r\nb"},
                                       follow_redirects=False))
    client.close()
