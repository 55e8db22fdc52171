"""relay/upstream.RelayCurlClient: the relay's short curl set-up answers as Tornado's own does.

Response headers are kept raw and parsed on first read; POST bodies go as POSTFIELDS; other
requests (GET, a proxy, redirects...) take Tornado's own set-up. A real HTTP server answers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from typing import Any, AsyncIterator

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


BIG = 5 * 1024 * 1024  # more than the 1 MB the client queues before it pauses a transfer


class Big(tornado.web.RequestHandler):
    async def post(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        block = bytes(range(256)) * 256  # 64 kB
        for _ in range(BIG // len(block)):
            self.write(block)
        await self.flush()
        self.finish()


class BigGzip(tornado.web.RequestHandler):
    """5 MB that compress to a few kB: one socket read decodes to more than the client queues."""

    def post(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Content-Encoding", "gzip")
        self.finish(gzip.compress(b"data: 0123456789abcdef\n\n" * (BIG // 24)))


class Silent(tornado.web.RequestHandler):
    closed = 0  # connections the client closed while this handler waited

    async def post(self) -> None:
        if self.request.body == b"stream":
            self.set_header("Content-Type", "text/event-stream")
            await self.flush()
        await asyncio.sleep(5)  # answers nothing (more) in time
        if not self.request.connection.stream.closed():  # type: ignore[union-attr]
            self.finish("late")

    def on_connection_close(self) -> None:
        Silent.closed += 1


@pytest.fixture
async def base() -> AsyncIterator[str]:
    server, port = listen(tornado.web.Application([(r"/echo", Echo), (r"/stream", Stream), (r"/big", Big), (r"/bigz", BigGzip),
                                                        (r"/silent", Silent)]))
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


async def test_large_stream_is_paused_and_resumed_and_arrives_whole(base: str) -> None:
    """A streamed body arriving faster than it is consumed: past 1 MB queued the transfer is
    paused (libcurl keeps the chunk), resumed when delivered; every byte arrives once, in order."""
    client = make_client(4)
    got = bytearray()
    call = UpstreamCall(client, UpstreamRequest("POST", base.replace("/echo", "/big"), {}, b"x"), timeout=30, proxy=None)
    resp = await call.fetch(got.extend)
    assert resp.code == 200
    block = bytes(range(256)) * 256
    assert len(got) == BIG and bytes(got) == block * (BIG // len(block))
    got.clear()  # decompressed: one read decodes to megabytes, so the transfer is paused on the way
    paused = []
    real = client._deliver_one

    def deliver_one(t: Any) -> None:
        paused.append(t.paused)
        real(t)

    client._deliver_one = deliver_one  # type: ignore[method-assign]
    call = UpstreamCall(client, UpstreamRequest("POST", base.replace("/echo", "/bigz"), {}, b"x"), timeout=30,
                        proxy=None)
    resp = await call.fetch(got.extend)
    assert resp.code == 200 and bytes(got) == b"data: 0123456789abcdef\n\n" * (BIG // 24)
    assert any(paused)
    client.close()


async def test_body_over_max_body_size_fails_the_transfer(base: str) -> None:
    from tornado.httpclient import AsyncHTTPClient
    from tornado.curl_httpclient import CurlError

    client = RelayCurlClient(force_instance=True, max_clients=4, max_body_size=1024 * 1024)
    url = base.replace("/echo", "/big")
    with pytest.raises(CurlError, match="max_body_size of 1048576"):  # buffered
        await client.fetch(HTTPRequest(url, method="POST", body=b"x", follow_redirects=False), raise_error=False)
    chunks: list[bytes] = []
    with pytest.raises(CurlError, match="max_body_size of 1048576"):  # streamed: what fitted was delivered
        await client.fetch(HTTPRequest(url, method="POST", body=b"x", follow_redirects=False,
                                       streaming_callback=chunks.append), raise_error=False)
    assert 0 < sum(map(len, chunks)) <= 1024 * 1024
    client.close()
    assert AsyncHTTPClient  # (imported for the type only)


async def test_request_timeout_fires_through_the_loops_timers(base: str) -> None:
    """libcurl's timers run on the asyncio loop directly: a request timeout ends the transfer."""
    client = make_client(4)
    call = UpstreamCall(client, UpstreamRequest("POST", base.replace("/echo", "/silent"), {}, b"x"),
                        timeout=0.3, proxy=None)
    resp = await asyncio.wait_for(call.fetch(), 4)
    assert resp.code == 599 and "timed out" in str(resp.error).lower()
    client.close()


async def test_more_requests_than_handles_mixed_with_tornados_path(base: str) -> None:
    """Twenty requests on two curl handles, the relay's POSTs and Tornado's GETs queued together:
    each is answered, by its own path."""
    client = make_client(2)

    async def post(i: int) -> None:
        resp = await client.fetch(HTTPRequest(base, method="POST", body=str(i).encode(), follow_redirects=False),
                                  raise_error=False)
        assert resp.code == 201 and json.loads(resp.body)["body"] == str(i)
        assert isinstance(resp.headers, _LazyHeaders)

    async def get() -> None:
        resp = await client.fetch(base, raise_error=False)
        assert resp.code == 200 and resp.body == b"got" and not isinstance(resp.headers, _LazyHeaders)

    await asyncio.gather(*(post(i) if i % 3 else get() for i in range(20)))
    assert len(client._free_list) == 2 and not client._requests
    client.close()


async def test_a_failing_streaming_callback_is_logged_and_the_rest_delivered(
        base: str, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(4)
    seen: list[bytes] = []

    def callback(chunk: bytes) -> None:
        seen.append(chunk)
        if len(seen) == 1:
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        resp = await client.fetch(HTTPRequest(base.replace("/echo", "/stream"), method="POST", body=b"x",
                                              follow_redirects=False, streaming_callback=callback),
                                  raise_error=False)
    assert resp.code == 200 and b"".join(seen) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert "boom" in caplog.text
    client.close()


async def test_cancel_ends_the_transfer_and_closes_the_upstream_connection(base: str) -> None:
    """UpstreamCall.cancel on the relay's path: a waiting call (streamed or not) ends at once with
    a 599, the upstream's connection is closed (so it stops generating), and the handle serves
    the next request; a call still queued for a handle is taken off the queue."""
    client = make_client(1)
    url = base.replace("/echo", "/silent")
    for body in (b"stream", b"plain"):
        before = Silent.closed
        call = UpstreamCall(client, UpstreamRequest("POST", url, {}, body), timeout=30, proxy=None)
        chunks: list[bytes] = []
        task = asyncio.ensure_future(call.fetch(chunks.append if body == b"stream" else None))
        await asyncio.sleep(0.3)
        queued = UpstreamCall(client, UpstreamRequest("POST", base, {}, b"q"), timeout=30, proxy=None)
        queued_task = asyncio.ensure_future(queued.fetch())  # the one handle is busy: it waits
        await asyncio.sleep(0.05)
        queued.cancel()
        resp = await asyncio.wait_for(queued_task, 2)
        assert resp.code == 599 and "cancelled" in str(resp.error)
        call.cancel()
        resp = await asyncio.wait_for(task, 2)
        assert resp.code == 599 and "cancelled" in str(resp.error) and not chunks
        for _ in range(40):
            if Silent.closed > before:
                break
            await asyncio.sleep(0.05)
        assert Silent.closed == before + 1
        ok = await asyncio.wait_for(client.fetch(HTTPRequest(base, method="POST", body=b"after",
                                                             follow_redirects=False), raise_error=False), 5)
        assert ok.code == 201 and json.loads(ok.body)["body"] == "after"
    call.cancel()  # ended: a no-op
    client.close()
