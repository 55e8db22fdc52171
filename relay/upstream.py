"""Upstream calls with Tornado's curl client (connection reuse, cancellation).

:class:`RelayCurlClient` is Tornado's ``CurlAsyncHTTPClient`` with a shorter path for the
relay's requests (a POST with a body, no proxy or certificate options); anything else takes
Tornado's own code. :class:`UpstreamCall` is one exchange: the status comes from the handle,
body chunks through a streaming callback, and ``cancel()`` ends the transfer at any time (on the
relay's path the client removes it from libcurl and closes its connection; on Tornado's, libcurl's
transfer-info callback aborts it), which is how a client that went away stops the upstream
generation.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Callable

import pycurl
from tornado import httputil, ioloop
from tornado.curl_httpclient import CurlAsyncHTTPClient, CurlError, curl_log
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
_E_CALL_MULTI_PERFORM = pycurl.E_CALL_MULTI_PERFORM
_POLL_IN, _POLL_OUT = pycurl.POLL_IN, pycurl.POLL_OUT
_CSELECT_IN, _CSELECT_OUT = pycurl.CSELECT_IN, pycurl.CSELECT_OUT
_SOCKET_TIMEOUT = pycurl.SOCKET_TIMEOUT
_MAX_QUEUED = 1024 * 1024  # as Tornado's _CurlStreamingBuffer: pause the transfer past this many bytes


def _fast(r: HTTPRequest) -> bool:
    """Whether a request takes the relay's own set-up: a POST with a body and nothing that needs
    Tornado's general set-up (proxy, auth, certificates, redirects, header callbacks)."""
    return (r.method == "POST" and r.body is not None and not r.proxy_host and r.auth_username is None
            and r.client_cert is None and r.client_key is None and r.ssl_options is None
            and not r.network_interface and r.ca_certs is None and r.allow_ipv6 is not False
            and r.header_callback is None and r.follow_redirects is False and r.validate_cert is not False
            and not curl_log.isEnabledFor(logging.DEBUG))


class _Transfer:
    """One request on the relay's path through :class:`RelayCurlClient`: its response body
    (buffered, or queued for the streaming callback) and the future its caller awaits."""

    __slots__ = ("request", "future", "raise_error", "headers", "buffer", "size", "limit", "too_large",
                 "chunks", "pending", "queued", "paused", "callback", "started", "ended", "handle",
                 "aborted")

    def __init__(self, request: HTTPRequest, future: Any, raise_error: bool, limit: int, started: float) -> None:
        self.request = request
        self.future = future
        self.raise_error = raise_error
        self.headers = _LazyHeaders()
        self.size = 0
        self.limit = limit
        self.too_large = False
        self.callback = request.streaming_callback
        self.buffer: BytesIO | None = None if self.callback else BytesIO()
        self.chunks: collections.deque[bytes] | None = collections.deque() if self.callback else None
        self.pending = 0  # bytes queued for the callback
        self.queued = False
        self.paused = False
        self.started = started
        self.ended = False  # libcurl has finished the transfer: the chunks being delivered are the last
        self.handle: pycurl.Curl | None = None  # the curl handle while the transfer runs
        self.aborted = False

    def write(self, chunk: bytes) -> int:
        """libcurl's WRITEFUNCTION for a buffered response."""
        size = self.size + len(chunk)
        if size > self.limit:
            self.too_large = True
            return 0  # libcurl fails the transfer; _finish says why
        self.size = size
        return self.buffer.write(chunk)  # type: ignore[union-attr]


class RelayCurlClient(CurlAsyncHTTPClient):
    """Tornado's curl client with a shorter path for the relay's requests (a POST with a body
    and no proxy, auth or certificate options, see :func:`_fast`); anything else takes
    Tornado's own code. On that path:

    - no copy of the request's headers into ``HTTPHeaders`` and no ``_RequestProxy``; after
      ``curl.reset()`` every option is at its libcurl default, so only the options that differ are
      set; the body goes as ``POSTFIELDS`` (no read and seek callbacks); response headers are kept
      raw and parsed only if read (:class:`_LazyHeaders`); no timing ``getinfo`` calls at the end;
    - a streamed body's chunks reach the streaming callback right after the ``socket_action``
      that read them (Tornado queues them for the next loop iteration), outside libcurl as
      Tornado requires, with the same pause past 1 MB queued;
    - for every transfer (both paths), sockets and timers go to the asyncio loop directly, a
      0 ms timer is a ``call_soon``, and libcurl's -1 ("no timer") cancels the timer instead of
      running an extra ``socket_action`` (Tornado schedules one at once).
    """

    def initialize(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # set first: Tornado's initialize already runs libcurl's timer callback
        self._aloop = ioloop.IOLoop.current().asyncio_loop  # type: ignore[attr-defined]
        self._timeout = None
        self._timeout_due = -1.0  # when the pending timer fires (0: at once), -1 when none
        self._ready: list[_Transfer] = []  # streamed transfers with chunks to deliver
        super().initialize(*args, **kwargs)

    # -- the relay's path -----------------------------------------------------------------------
    def fetch(self, request: Any, raise_error: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs or not isinstance(request, HTTPRequest) or not self.takes(request):
            return super().fetch(request, raise_error=raise_error, **kwargs)
        t = self.transfer(request, raise_error)
        self.submit(t)
        return t.future

    def takes(self, request: HTTPRequest) -> bool:
        """Whether a request goes the relay's path (:meth:`transfer`, :meth:`submit`)."""
        return not self._closed and _fast(request)

    def transfer(self, request: HTTPRequest, raise_error: bool = True) -> _Transfer:
        """A request on the relay's path (:meth:`takes` must hold) for :meth:`submit`: its
        ``future`` gives the response and :meth:`abort` can end it at any time. The caller may
        keep it before libcurl runs (chunks can arrive within ``submit``)."""
        return _Transfer(request, self._aloop.create_future(), raise_error, self.max_body_size, self._aloop.time())

    def submit(self, t: _Transfer) -> None:
        self._requests.append(t)  # type: ignore[arg-type]
        self._process_queue()
        self._set_timeout(0)

    def abort(self, t: _Transfer) -> None:
        """End a transfer now, waiting or running (its connection is closed, so the upstream stops
        generating): its future gets a 599 ``transfer cancelled``, its pending chunks are
        dropped. Never from inside libcurl (a streaming callback runs outside it). Once ended,
        a no-op."""
        if t.aborted or t.future.done():
            return
        t.aborted = True
        t.chunks = None
        curl = t.handle
        if curl is not None and getattr(curl, "info", None) is t:
            t.handle = None
            curl.info = None  # type: ignore[attr-defined]
            self._multi.remove_handle(curl)
            curl.reset()
            self._free_list.append(curl)
            if self._requests:
                self._aloop.call_soon(self._process_queue)
        else:
            try:
                self._requests.remove(t)  # type: ignore[arg-type]
            except ValueError:
                pass
        self._resolve(t, HTTPResponse(t.request, 599,
                                      error=CurlError(CURLE_ABORTED_BY_CALLBACK, "transfer cancelled")))

    def _setup(self, curl: pycurl.Curl, t: _Transfer) -> None:
        r = t.request
        setopt = curl.setopt
        setopt(pycurl.PROTOCOLS, _PROTOCOLS)
        setopt(pycurl.REDIR_PROTOCOLS, _PROTOCOLS)
        setopt(pycurl.URL, r.url)
        # as Tornado: no "Expect: 100-continue", no "Pragma: no-cache" unless asked for
        expect = pragma = True
        lines = []
        for k, v in r.headers.items():
            line = b"%s: %s" % (k.encode("ascii"), v.encode("iso8859-1"))
            if b"\r" in line or b"\n" in line:
                raise ValueError("Illegal characters in header (CR or LF): %r" % line)
            lines.append(line)
            low = k.lower()
            if low == "expect":
                expect = False
            elif low == "pragma":
                pragma = False
        if expect:
            lines.append(b"Expect:")
        if pragma:
            lines.append(b"Pragma:")
        setopt(pycurl.HTTPHEADER, lines)
        setopt(pycurl.HEADERFUNCTION, t.headers.raw.append)
        if t.callback is not None:
            setopt(pycurl.WRITEFUNCTION, functools.partial(self._stream_write, t))
        else:
            setopt(pycurl.WRITEFUNCTION, t.write)
        defaults = self.defaults  # Tornado's request defaults, for what the request leaves unset
        connect_timeout = r.connect_timeout if r.connect_timeout is not None else defaults["connect_timeout"]
        request_timeout = r.request_timeout if r.request_timeout is not None else defaults["request_timeout"]
        setopt(pycurl.CONNECTTIMEOUT_MS, int(1000 * connect_timeout))
        setopt(pycurl.TIMEOUT_MS, int(1000 * request_timeout))
        setopt(pycurl.USERAGENT, r.user_agent or defaults.get("user_agent") or "Mozilla/5.0 (compatible; pycurl)")
        if (r.decompress_response if r.decompress_response is not None else defaults.get("decompress_response")):
            setopt(pycurl.ENCODING, "gzip,deflate")
        body = r.body
        setopt(pycurl.POSTFIELDSIZE, len(body))
        setopt(pycurl.POSTFIELDS, body)
        if threading.active_count() > 1:
            setopt(pycurl.NOSIGNAL, 1)
        if r.prepare_curl_callback is not None:
            r.prepare_curl_callback(curl)

    def _stream_write(self, t: _Transfer, chunk: bytes) -> int:
        """libcurl's WRITEFUNCTION for a streamed response (inside ``socket_action``: queue only)."""
        size = t.size + len(chunk)
        if size > t.limit:
            t.too_large = True
            return 0
        if t.pending >= _MAX_QUEUED:
            t.paused = True  # libcurl keeps this chunk and hands it over again when resumed
            return pycurl.WRITEFUNC_PAUSE
        t.size = size
        t.pending += len(chunk)
        t.chunks.append(chunk)  # type: ignore[union-attr]
        if not t.queued:
            t.queued = True
            self._ready.append(t)
        return len(chunk)

    def _deliver(self) -> None:
        """Hand queued chunks to their streaming callbacks (after ``socket_action`` returned)."""
        while self._ready:
            ready, self._ready = self._ready, []
            for t in ready:
                self._deliver_one(t)

    def _deliver_one(self, t: _Transfer) -> None:
        t.queued = False
        chunks, callback = t.chunks, t.callback
        while chunks and not t.aborted:  # a callback may add chunks (a pause and resume runs the write callback)
            chunk = chunks.popleft()
            t.pending -= len(chunk)
            try:
                callback(chunk)  # type: ignore[misc]
            except Exception:
                self.handle_callback_exception(callback)
        if t.aborted:
            return
        if t.paused and t.handle is not None:
            t.paused = False
            try:
                t.handle.pause(pycurl.PAUSE_CONT)  # may call _stream_write again, synchronously
            except pycurl.error:
                pass  # the transfer failed while paused: _finish reports it
            self._set_timeout(0)

    def _process_queue(self) -> None:
        while True:
            started = 0
            while self._free_list and self._requests:
                started += 1
                curl = self._free_list.pop()
                item = self._requests.popleft()
                if type(item) is not _Transfer:  # Tornado's path
                    self._requests.appendleft(item)
                    self._free_list.append(curl)
                    self._process_one_tornado()
                    continue
                curl.info = item  # type: ignore[attr-defined]
                item.handle = curl
                try:
                    self._setup(curl, item)
                except Exception as e:
                    curl.info = None  # type: ignore[attr-defined]
                    item.handle = None
                    curl.reset()
                    self._free_list.append(curl)
                    self._resolve(item, HTTPResponse(item.request, 599, error=e))
                else:
                    self._multi.add_handle(curl)
            if not started:
                break

    def _process_one_tornado(self) -> None:
        """Start the first queued request (a Tornado one) with Tornado's own code: its queue
        loop runs only while the first entry is its kind."""
        rest = self._requests
        self._requests = collections.deque([rest.popleft()])
        try:
            super()._process_queue()
        finally:
            rest.extendleft(reversed(self._requests))
            self._requests = rest

    def _finish(self, curl: pycurl.Curl, curl_error: int | None = None, curl_message: str | None = None) -> None:
        t = curl.info  # type: ignore[attr-defined]
        if type(t) is not _Transfer:
            super()._finish(curl, curl_error, curl_message)
            return
        curl.info = None  # type: ignore[attr-defined]
        t.handle = None  # the handle is reset and reused below: never resumed
        self._multi.remove_handle(curl)
        if t.callback is not None:
            t.paused = False
            self._deliver_one(t)  # everything received reaches the callback before the response
        buffer = t.buffer
        if curl_error:
            if t.too_large:
                curl_message = "body exceeded max_body_size of %d bytes" % self.max_body_size
            error: CurlError | None = CurlError(curl_error, curl_message or "")
            code = 599
            buffer = None
        else:
            error = None
            code = curl.getinfo(pycurl.RESPONSE_CODE)
            if buffer is not None:
                buffer.seek(0)
        curl.reset()
        self._free_list.append(curl)
        self._resolve(t, HTTPResponse(t.request, code, headers=t.headers, buffer=buffer, error=error,
                                      reason=None if code == 200 else t.headers.get("X-Http-Reason"),
                                      request_time=self._aloop.time() - t.started))

    @staticmethod
    def _resolve(t: _Transfer, response: HTTPResponse) -> None:
        """As Tornado's ``fetch``: an error raises unless it is an HTTP status and ``raise_error``
        is off; a cancelled future is left alone."""
        future = t.future
        if future.cancelled():
            return
        if response.error and (t.raise_error or not response._error_is_response_code):
            future.set_exception(response.error)
        else:
            future.set_result(response)

    # -- sockets and timers, for every transfer -------------------------------------------------
    def _handle_socket(self, event: int, fd: int, multi: pycurl.CurlMulti, data: Any | None) -> None:
        # Always remove and re-add, as Tornado: libcurl may close a socket and open another on
        # the same fd without a POLL_REMOVE in between.
        loop = self._aloop
        old = self._fds.pop(fd, None)
        if old is not None:
            if old & _POLL_IN:
                loop.remove_reader(fd)
            if old & _POLL_OUT:
                loop.remove_writer(fd)
        if event == pycurl.POLL_REMOVE:
            return
        if event & _POLL_IN:
            loop.add_reader(fd, self._socket_action, fd, _CSELECT_IN)
        if event & _POLL_OUT:
            loop.add_writer(fd, self._socket_action, fd, _CSELECT_OUT)
        self._fds[fd] = event

    def _socket_action(self, fd: int, action: int) -> None:
        multi = self._multi
        while True:
            try:
                ret = multi.socket_action(fd, action)[0]
            except pycurl.error as e:
                ret = e.args[0] if isinstance(e.args[0], int) else 0
            if ret != _E_CALL_MULTI_PERFORM:
                break
        self._after_action()

    def _after_action(self) -> None:
        """After ``socket_action``: chunks to their callbacks (those of a finished transfer marked
        as its last), then the finished transfers' responses, then queued requests started."""
        multi = self._multi
        done: list[tuple[pycurl.Curl, Any, int | None, str | None]] = []
        while True:
            num_q, ok_list, err_list = multi.info_read()
            for curl in ok_list:
                done.append((curl, curl.info, None, None))  # type: ignore[attr-defined]
            for curl, errnum, errmsg in err_list:
                done.append((curl, curl.info, errnum, errmsg))  # type: ignore[attr-defined]
            if num_q == 0:
                break
        for _, t, _, _ in done:
            if type(t) is _Transfer:
                t.ended = True
        if self._ready:
            self._deliver()
        for curl, t, errnum, errmsg in done:
            if curl.info is t:  # type: ignore[attr-defined]  # (not aborted by a callback meanwhile)
                self._finish(curl, errnum, errmsg)
        self._process_queue()

    def _set_timeout(self, msecs: int) -> None:
        if msecs == 0 and self._timeout_due == 0.0:
            return  # already due at once
        if self._timeout is not None:
            self._timeout.cancel()  # type: ignore[attr-defined]
            self._timeout = None
            self._timeout_due = -1.0
        if msecs < 0:
            return  # libcurl: no timer needed
        if msecs == 0:
            self._timeout = self._aloop.call_soon(self._handle_timeout)
            self._timeout_due = 0.0
        else:
            self._timeout = self._aloop.call_later(msecs / 1000.0, self._handle_timeout)
            self._timeout_due = msecs

    def _handle_timeout(self) -> None:
        self._timeout = None
        self._timeout_due = -1.0
        self._socket_action(_SOCKET_TIMEOUT, 0)
        # As Tornado: when libcurl set no timer meanwhile (this one may have fired a little before
        # libcurl's clock says it is due), ask it what is left.
        if self._timeout is None:
            left = self._multi.timeout()
            if left >= 0:
                self._set_timeout(left)

    def close(self) -> None:
        for fd, event in list(self._fds.items()):
            if event & _POLL_IN:
                self._aloop.remove_reader(fd)
            if event & _POLL_OUT:
                self._aloop.remove_writer(fd)
        self._fds.clear()
        super().close()


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
        self._transfer: _Transfer | None = None
        self._running = False
        self._pending: Any = None  # a non-streamed fetch's future
        self._dropped = False

    def cancel(self) -> None:
        """Stop waiting at once, streamed or not, even while the upstream sends nothing. On the
        relay's path the client ends the transfer (:meth:`RelayCurlClient.abort`: its connection
        closed, the upstream stops); on Tornado's a stream is aborted by libcurl's progress
        callback and a non-streamed call is dropped, its answer ignored."""
        self.cancelled = True
        if not self._running:
            return
        if self._transfer is not None:
            self.client.abort(self._transfer)  # type: ignore[attr-defined]
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
                if not self.status:
                    # Read from the handle: Tornado delivers header callbacks later
                    # than body chunks when a whole response arrives in one read.
                    curl = self._transfer.handle if self._transfer is not None else self._curl
                    if curl is not None:
                        self.status = int(curl.getinfo(pycurl.RESPONSE_CODE))
                        self.content_type = (curl.getinfo(pycurl.CONTENT_TYPE) or "").lower()
                if 200 <= self.status < 300 and not self.cancelled:
                    on_chunk(chunk)
                else:
                    self.error_body += chunk

            kwargs.update(streaming_callback=stream_cb)
        return HTTPRequest(
            self.req.url, method=self.req.method, headers=self.req.headers, body=self.req.body,
            request_timeout=self.timeout, connect_timeout=self.connect_timeout,
            decompress_response=True, follow_redirects=False, allow_nonstandard_methods=True,
            validate_cert=True, **kwargs,
        )

    @property
    def ending(self) -> bool:
        """While a chunk is handed over: the transfer has ended, this chunk is among the last
        (the relay then writes it with the response's end instead of flushing it alone)."""
        return self._transfer is not None and self._transfer.ended

    def _prepare_curl(self, curl: pycurl.Curl) -> None:
        """Tornado's path only: a stream cancelled by libcurl's progress callback."""
        self._curl = curl
        curl.setopt(pycurl.NOPROGRESS, 0)
        curl.setopt(pycurl.XFERINFOFUNCTION, lambda *_: 1 if self.cancelled else 0)

    async def fetch(self, on_chunk: Callable[[bytes], None] | None = None) -> HTTPResponse:
        request = self._http_request(on_chunk)
        fast = isinstance(self.client, RelayCurlClient) and self.client.takes(request)
        if on_chunk is not None and not fast:
            request.prepare_curl_callback = self._prepare_curl
        self._running = True
        try:
            if fast:
                self._transfer = t = self.client.transfer(request, raise_error=False)  # type: ignore[attr-defined]
                self._pending = t.future
                self.client.submit(t)  # type: ignore[attr-defined]
            else:
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
