"""Upstream calls with Tornado's curl client (connection reuse, cancellation).

The curl client accepts only synchronous streaming callbacks (Tornado 6.6):
:class:`UpstreamCall` receives the status line through ``header_callback``,
body chunks through ``streaming_callback``, and can abort a transfer at any
time through libcurl's transfer-info callback (``cancel()``), which is how a
client that went away stops the upstream generation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import pycurl
from tornado import httputil
from tornado.curl_httpclient import CurlAsyncHTTPClient, CurlError, _CurlStreamingBuffer, curl_log
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

from adaptors.base import UpstreamRequest

CURLE_OPERATION_TIMEDOUT = 28
CURLE_ABORTED_BY_CALLBACK = 42


@dataclass
class ProxyConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "ProxyConfig | None":
        """``http://user:pass@host:port`` or ``socks5://host:port`` (curl understands the scheme)."""
        if not url:
            return None
        u = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if not u.hostname:
            raise ValueError(f"RELAY_PROXY is not a URL: {url!r}")
        scheme = u.scheme or "http"
        default_port = {"http": 80, "https": 443}.get(scheme, 1080)
        host = u.hostname if scheme == "http" else f"{scheme}://{u.hostname}"
        return cls(host, u.port or default_port, u.username, u.password)


class _LazyHeaders(httputil.HTTPHeaders):
    """A response's headers, kept as the raw lines libcurl hands over (its header callback is
    then ``list.append``, no Python frame per line) and parsed by Tornado's own code the first
    time anything reads them. The relay reads only the status and Content-Type (from the
    handle), so on the hot path they are never parsed."""

    def __init__(self) -> None:  # no super().__init__: its attributes appear when first read
        self.raw: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and "raw" in self.__dict__ and not name.startswith("__"):
            raw = self.__dict__.pop("raw")
            httputil.HTTPHeaders.__init__(self)
            for line in raw:
                CurlAsyncHTTPClient._curl_header_callback(None, self, None, line)  # type: ignore[arg-type]
            return getattr(self, name)
        raise AttributeError(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        raw = self.__dict__.get("raw")
        if raw is not None and name == "X-Http-Reason":  # read by every _finish: no full parse
            for line in reversed(raw):
                if line.startswith(b"HTTP/"):
                    try:
                        return httputil.parse_response_start_line(line.decode("latin1").rstrip()).reason
                    except httputil.HTTPInputError:
                        return default
            return default
        return super().get(name, default)


_PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS


class RelayCurlClient(CurlAsyncHTTPClient):
    """Tornado's curl client with a shorter request set-up for the relay's requests (a POST with
    a body, no proxy, auth or certificate options): after ``curl.reset()`` every option is at its
    libcurl default, so only the options that differ are set; the body goes as ``POSTFIELDS``
    (no read and seek callbacks); response headers are kept raw and parsed only if read
    (:class:`_LazyHeaders`). Anything else takes Tornado's own set-up."""

    def _curl_setup_request(self, curl: pycurl.Curl, request: HTTPRequest, buffer: Any,
                            headers: httputil.HTTPHeaders) -> None:
        # ``request`` is Tornado's _RequestProxy (each attribute read a Python call that falls back
        # to the client's defaults): read the request itself, and the proxy only for what is unset.
        r: HTTPRequest = getattr(request, "request", request)
        if (r.method != "POST" or r.body is None or r.proxy_host or r.auth_username is not None
                or r.client_cert is not None or r.client_key is not None or r.ssl_options is not None
                or r.network_interface or r.ca_certs is not None or r.allow_ipv6 is False
                or r.header_callback is not None or r.follow_redirects is not False or r.validate_cert is False
                or curl_log.isEnabledFor(logging.DEBUG)):
            super()._curl_setup_request(curl, request, buffer, headers)
            return
        connect_timeout = r.connect_timeout if r.connect_timeout is not None else request.connect_timeout
        request_timeout = r.request_timeout if r.request_timeout is not None else request.request_timeout
        decompress = r.decompress_response if r.decompress_response is not None else request.decompress_response
        user_agent = r.user_agent or request.user_agent
        request = r
        setopt = curl.setopt
        setopt(pycurl.PROTOCOLS, _PROTOCOLS)
        setopt(pycurl.REDIR_PROTOCOLS, _PROTOCOLS)
        setopt(pycurl.URL, request.url)
        hdrs = request.headers
        if "Expect" not in hdrs:  # as Tornado: no "Expect: 100-continue", no "Pragma: no-cache"
            hdrs["Expect"] = ""
        if "Pragma" not in hdrs:
            hdrs["Pragma"] = ""
        lines = [b"%s: %s" % (k.encode("ascii"), v.encode("iso8859-1")) for k, v in hdrs.get_all()]
        for line in lines:
            if b"\r" in line or b"\n" in line:
                raise ValueError("Illegal characters in header (CR or LF): %r" % line)
        setopt(pycurl.HTTPHEADER, lines)
        lazy = _LazyHeaders()
        curl.info["headers"] = lazy  # type: ignore[attr-defined]  # what _finish hands to the response
        setopt(pycurl.HEADERFUNCTION, lazy.raw.append)
        if request.streaming_callback:
            streaming_buffer = _CurlStreamingBuffer(self, curl, request.streaming_callback)
            curl.info["streaming_buffer"] = streaming_buffer  # type: ignore[attr-defined]
            setopt(pycurl.WRITEFUNCTION, streaming_buffer.write)
        else:
            max_body = self.max_body_size

            def write_function(chunk: bytes) -> int:
                if buffer.tell() + len(chunk) > max_body:
                    curl.info["body_too_large"] = True  # type: ignore[attr-defined]
                    return 0
                return buffer.write(chunk)  # type: ignore[no-any-return]

            setopt(pycurl.WRITEFUNCTION, write_function)
        setopt(pycurl.CONNECTTIMEOUT_MS, int(1000 * connect_timeout))
        setopt(pycurl.TIMEOUT_MS, int(1000 * request_timeout))
        setopt(pycurl.USERAGENT, user_agent or "Mozilla/5.0 (compatible; pycurl)")
        if decompress:
            setopt(pycurl.ENCODING, "gzip,deflate")
        body = request.body  # bytes: HTTPRequest encodes a str body
        setopt(pycurl.POSTFIELDSIZE, len(body))
        setopt(pycurl.POSTFIELDS, body)
        if threading.active_count() > 1:
            setopt(pycurl.NOSIGNAL, 1)
        if request.prepare_curl_callback is not None:
            request.prepare_curl_callback(curl)


def make_client(max_clients: int) -> CurlAsyncHTTPClient:
    AsyncHTTPClient.configure(
        RelayCurlClient, max_clients=max_clients, max_body_size=512 * 1024 * 1024,
    )
    client = AsyncHTTPClient(force_instance=True)
    assert isinstance(client, CurlAsyncHTTPClient)
    return client


class UpstreamCall:
    """One upstream HTTP exchange; streaming when ``on_chunk`` is given.

    While streaming, chunks of a 2xx ``text/event-stream`` (or any 2xx that
    the caller accepts) go to ``on_chunk``; for any other status the body is
    buffered so the caller can turn it into an error (and retry: nothing has
    reached the client).
    """

    def __init__(self, client: CurlAsyncHTTPClient, req: UpstreamRequest, *, timeout: float,
                 proxy: ProxyConfig | None, connect_timeout: float = 10.0) -> None:
        self.client = client
        self.req = req
        self.timeout = timeout
        self.proxy = proxy
        self.connect_timeout = connect_timeout
        self.status = 0
        self.content_type = ""
        self.cancelled = False
        self.error_body = bytearray()
        self._curl: pycurl.Curl | None = None
        self._running = False
        self._pending: Any = None  # a non-streamed fetch's future
        self._dropped = False

    def cancel(self) -> None:
        """Stop waiting at once, streamed or not, even while the upstream sends nothing. A stream's
        transfer is aborted by libcurl's progress callback; a non-streamed one (which has no
        progress callback: ~40 µs of Python calls per request) is dropped, its answer ignored."""
        self.cancelled = True
        if not self._running:
            return
        curl = self._curl
        if curl is not None:
            # libcurl runs the progress callback (which aborts) only when it drives the handle:
            # a pause and resume drives an idle transfer now.
            try:
                curl.pause(pycurl.PAUSE_ALL)
                curl.pause(pycurl.PAUSE_CONT)
            except pycurl.error:
                pass
        elif self._pending is not None and not self._pending.done():
            self._dropped = True
            self._pending.cancel()

    def _http_request(self, on_chunk: Callable[[bytes], None] | None) -> HTTPRequest:
        kwargs: dict[str, Any] = {}
        if self.proxy is not None:
            kwargs.update(proxy_host=self.proxy.host, proxy_port=self.proxy.port,
                          proxy_username=self.proxy.username, proxy_password=self.proxy.password)
        if on_chunk is not None:
            def stream_cb(chunk: bytes) -> None:
                if not self.status and self._curl is not None:
                    # Read from the handle: Tornado delivers header callbacks later
                    # than body chunks when a whole response arrives in one read.
                    self.status = int(self._curl.getinfo(pycurl.RESPONSE_CODE))
                    self.content_type = (self._curl.getinfo(pycurl.CONTENT_TYPE) or "").lower()
                if 200 <= self.status < 300 and not self.cancelled:
                    on_chunk(chunk)
                else:
                    self.error_body += chunk

            kwargs.update(streaming_callback=stream_cb, prepare_curl_callback=self._prepare_curl)
        return HTTPRequest(
            self.req.url, method=self.req.method, headers=self.req.headers, body=self.req.body,
            request_timeout=self.timeout, connect_timeout=self.connect_timeout,
            decompress_response=True, follow_redirects=False, allow_nonstandard_methods=True,
            validate_cert=True, **kwargs,
        )

    def _prepare_curl(self, curl: pycurl.Curl) -> None:
        self._curl = curl
        curl.setopt(pycurl.NOPROGRESS, 0)
        curl.setopt(pycurl.XFERINFOFUNCTION, lambda *_: 1 if self.cancelled else 0)

    async def fetch(self, on_chunk: Callable[[bytes], None] | None = None) -> HTTPResponse:
        request = self._http_request(on_chunk)
        self._running = True
        try:
            self._pending = self.client.fetch(request, raise_error=False)
            resp = await self._pending
        except CurlError as e:  # no HTTP answer at all (connect failure, timeout, abort)
            return HTTPResponse(request, 599, error=e)
        except asyncio.CancelledError:
            if not self._dropped:
                raise
            return HTTPResponse(request, 599, error=CurlError(CURLE_ABORTED_BY_CALLBACK, "transfer cancelled"))
        finally:
            self._running = False
            self._pending = None
        if resp.code != 599:
            self.status = resp.code
        return resp


def transport_error(resp: HTTPResponse) -> tuple[str, bool]:
    """(message, timed_out) for a 599 (no HTTP answer)."""
    err = resp.error
    if isinstance(err, CurlError):
        return f"upstream connection failed: {err.message}", err.errno == CURLE_OPERATION_TIMEDOUT
    return f"upstream connection failed: {err}", isinstance(err, TimeoutError)


def open_call(client: CurlAsyncHTTPClient, req: UpstreamRequest, *, timeout: float,
              proxy: ProxyConfig | None) -> Any:
    """The exchange for an adaptor's request: HTTP, or a websocket (Xunfei Spark)."""
    if req.transport == "websocket":
        from .wsupstream import WebSocketCall

        return WebSocketCall(req, timeout=timeout)
    return UpstreamCall(client, req, timeout=timeout, proxy=proxy)
