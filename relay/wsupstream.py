"""A websocket upstream exchange (Xunfei Spark): one text frame out, messages back.

:class:`WebSocketCall` has :class:`~relay.upstream.UpstreamCall`'s interface, so the pipeline
treats it like any other upstream: ``fetch(on_chunk)`` streams each message the upstream sends
as one chunk (a line: the message and ``\\n``), or without ``on_chunk`` returns them all as the
response body, one per line. A refused handshake comes back as its HTTP status and body (an
error the adaptor reads); no answer at all as a 599.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Callable

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, WebSocketError, websocket_connect

from adaptors.base import UpstreamRequest


class WebSocketCall:
    def __init__(self, req: UpstreamRequest, *, timeout: float, connect_timeout: float = 10.0) -> None:
        self.req = req
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.status = 0
        self.content_type = ""
        self.cancelled = False
        self.error_body = bytearray()
        self.ending = False  # (UpstreamCall's: a chunk is never known to be the last here)
        self._conn: WebSocketClientConnection | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._conn is not None:
            self._conn.close()

    async def fetch(self, on_chunk: Callable[[bytes], None] | None = None) -> HTTPResponse:
        request = HTTPRequest(self.req.url, headers=self.req.headers, connect_timeout=self.connect_timeout,
                              request_timeout=self.timeout or None)
        deadline = time.monotonic() + self.timeout if self.timeout else None  # 0: no limit
        try:
            conn = await asyncio.wait_for(websocket_connect(request), self.connect_timeout)
        except HTTPClientError as e:  # the handshake was answered with an HTTP error
            body = e.response.body if e.response is not None and e.response.body else str(e).encode()
            self.status = e.code
            self.error_body += body
            return HTTPResponse(request, e.code, buffer=io.BytesIO(body))
        except (OSError, WebSocketError, asyncio.TimeoutError) as e:
            return HTTPResponse(request, 599, error=e if str(e) else TimeoutError("connect timed out"))
        self._conn = conn
        self.status = 200
        parts: list[bytes] = []
        try:
            if self.req.body is not None:
                await conn.write_message(self.req.body.decode())
            while not self.cancelled:
                remaining = deadline - time.monotonic() if deadline is not None else None
                if remaining is not None and remaining <= 0:
                    raise asyncio.TimeoutError
                msg = await asyncio.wait_for(conn.read_message(), remaining)
                if msg is None:  # the upstream closed: the answer is complete
                    break
                line = (msg.encode() if isinstance(msg, str) else msg) + b"\n"
                if on_chunk is not None:
                    on_chunk(line)
                else:
                    parts.append(line)
        except asyncio.TimeoutError:
            return HTTPResponse(request, 599, error=TimeoutError("upstream websocket timed out"))
        except WebSocketError as e:
            return HTTPResponse(request, 599, error=e)
        finally:
            conn.close()
            self._conn = None
        return HTTPResponse(request, 200, buffer=io.BytesIO(b"".join(parts)))
