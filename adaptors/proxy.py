"""Proxy (channel type 43): One API's raw pass-through channel, as pure request/response helpers.

How One API reaches a Proxy channel (router/relay.go, relay/controller/proxy.go,
relay/adaptor/proxy): only through ``ANY /v1/oneapi/proxy/{channel id}/{path}``, with a
OneRelay token; the channel is the one in the path (no model routing, no retries; One API checks
only that it is enabled, not the token's group or an admin role as for ``sk-KEY-ID`` pins). The
request goes to ``{channel base URL}{path}?{query}`` with the client's method and body as they
are, and the channel key as the ``Authorization`` header, written exactly as the key is stored
(so a key stored as ``Bearer sk-…`` is sent as a Bearer token). The answer's status, headers
and body go back to the client unchanged; nothing is billed. A chat request routed by model to a
Proxy channel fails in One API (its proxy adaptor converts no request), so the registry entry
serves no relay mode; the route's handler (not in this module) uses the helpers below.

Differences from One API, for safety: the client's headers are forwarded through an allow-list
(One API copies all but Host/Content-Length/Accept-Encoding/Connection, so cookies and the
client's own credentials would reach the upstream); a path with ``.``/``..`` segments (also
percent-encoded) or control characters is refused (400) and an unknown method (405) instead of
being sent; a channel without a base URL is a 503 ``channel_config_missing``; the answer's
``Set-Cookie`` and hop-by-hop/body-framing headers are not copied back (:func:`response_headers`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from .base import ChannelConfigError, ChannelTarget, UpstreamRejected, UpstreamRequest
from .common import channel_base_url, failure

PROXY_PREFIX = "/v1/oneapi/proxy"

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Request headers a client may pass through (lower case). Everything else is dropped: the
# client's credentials (Authorization, Cookie, Api-Key, X-Api-Key…), hop-by-hop and
# connection headers, Host/Content-Length (set for the new request), Accept-Encoding (the
# gateway's HTTP client negotiates its own) and forwarding headers.
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept",
    "accept-language",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-type",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "idempotency-key",
    "openai-beta",
    "anthropic-version",
    "anthropic-beta",
    "user-agent",
    "x-request-id",
})

# Response headers never copied back to the client: hop-by-hop ones, and the ones describing a
# body the gateway re-frames (its HTTP client decompresses and de-chunks).
DROPPED_RESPONSE_HEADERS = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "content-length", "content-encoding", "set-cookie", "alt-svc",
})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CHANNEL_PATH = re.compile(r"^" + re.escape(PROXY_PREFIX) + r"/(\d+)(/.*)?$", re.S)


def _rejected(status: int, code: str, message: str, type_: str = "one_api_error") -> UpstreamRejected:
    return UpstreamRejected(failure(status, message, type_, code, retryable=status >= 500, disables=False))


def split_proxy_path(path: str) -> tuple[int, str] | None:
    """``/v1/oneapi/proxy/12/v1/models`` → ``(12, "/v1/models")``; ``/v1/oneapi/proxy/12`` →
    ``(12, "")``; None when the path is not a proxy path (the query string must be split off)."""
    m = _CHANNEL_PATH.match(path or "")
    if m is None:
        return None
    return int(m.group(1)), m.group(2) or ""


def check_path(path: str) -> str:
    """The upstream path (after the proxy prefix), checked: it starts with ``/`` (or is empty),
    has no control characters, raw spaces, backslashes, ``?`` or ``#``, and no ``.``/``..``
    segment (plain or percent-encoded), so it cannot climb out of the channel's base URL path."""
    if not path:
        return ""
    if not path.startswith("/"):
        path = "/" + path
    if _CONTROL.search(path) or " " in path or "\\" in path:
        raise _rejected(400, "invalid_proxy_path", "The proxy path has control characters, spaces or backslashes")
    decoded = urllib.parse.unquote(path)
    if _CONTROL.search(decoded) or "\\" in decoded:
        raise _rejected(400, "invalid_proxy_path", "The proxy path has encoded control characters or backslashes")
    for segment in decoded.split("/"):
        if segment in (".", ".."):
            raise _rejected(400, "invalid_proxy_path", "The proxy path may not have . or .. segments")
    if "?" in path or "#" in path:
        raise _rejected(400, "invalid_proxy_path", "Pass the query string separately; the path may not hold ? or #")
    return path


def query_string(query: str | Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> str:
    """The query as sent: a raw string is kept as it is (a leading ``?`` dropped); a mapping or
    pairs are encoded (a list value repeats the name)."""
    if query is None:
        return ""
    if isinstance(query, (bytes, bytearray)):
        query = bytes(query).decode("latin-1")
    if isinstance(query, str):
        q = query[1:] if query.startswith("?") else query
        if _CONTROL.search(q) or "#" in q:
            raise _rejected(400, "invalid_proxy_query", "The query string has control characters or #")
        return q.replace(" ", "%20")
    items = query.items() if isinstance(query, Mapping) else query
    return urllib.parse.urlencode(list(items), doseq=True)


def forwarded_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    """The client headers allowed through (first value of each; names as the client wrote them)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    if headers is None:
        return out
    if isinstance(headers, Mapping):
        pairs: Iterable[tuple[str, Any]] = headers.items()
        get_all = getattr(headers, "get_list", None)  # tornado's HTTPHeaders: one value per name
        if callable(get_all):
            pairs = ((k, (get_all(k) or [""])[0]) for k in headers.keys())
    else:
        pairs = headers
    for name, value in pairs:
        low = str(name).lower()
        if low not in FORWARDED_REQUEST_HEADERS or low in seen:
            continue
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        text = str(value)
        if "\r" in text or "\n" in text:
            continue
        seen.add(low)
        out[str(name)] = text
    return out


def target_url(target: ChannelTarget, path: str, query: Any = None) -> str:
    base = channel_base_url(target)
    if not base:
        raise ChannelConfigError(f"Channel #{target.id} (Proxy) has no base URL: set the address to forward to")
    url = base + check_path(path)
    q = query_string(query)
    if q:
        url += ("&" if "?" in base else "?") + q
    return url


def build_proxy_request(method: str, path: str, query: Any, headers: Any, body: bytes | None,
                        target: ChannelTarget) -> UpstreamRequest:
    """The request a Proxy channel sends for a client's ``{method} /v1/oneapi/proxy/{id}{path}?{query}``.

    ``path`` is what follows the channel id (see :func:`split_proxy_path`); ``headers`` the
    client's (a mapping, tornado's ``HTTPHeaders``, or pairs); ``body`` the client's bytes, sent
    as they are. The channel key, as stored, becomes ``Authorization`` (none when it is empty);
    the client's own ``Authorization`` never passes. Raises :class:`UpstreamRejected` for an
    unknown method, a path that could leave the base URL, or a channel without a base URL.
    """
    verb = (method or "").strip().upper()
    if verb not in METHODS:
        raise _rejected(405, "method_not_allowed", f"Method {method or '(none)'} cannot be proxied")
    url = target_url(target, path, query)
    out = forwarded_headers(headers)
    key = (target.key or "").strip()
    if key:
        out["Authorization"] = key
    data: bytes | None = bytes(body) if body else None
    if data is None and verb in _BODY_METHODS:
        data = b""
    if data is None:
        for name in [n for n in out if n.lower() in ("content-type", "content-encoding")]:
            del out[name]
    return UpstreamRequest(verb, url, out, data)


def response_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The upstream answer's headers to copy to the client (all values, hop-by-hop and body-framing
    ones dropped)."""
    pairs: Iterable[tuple[str, Any]]
    if isinstance(headers, Mapping):
        get_all = getattr(headers, "get_all", None)  # tornado's HTTPHeaders
        pairs = get_all() if callable(get_all) else headers.items()
    else:
        pairs = headers
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        if str(name).lower() in DROPPED_RESPONSE_HEADERS:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            text = str(v)
            if "\r" not in text and "\n" not in text:
                out.append((str(name), text))
    return out


__all__ = ["PROXY_PREFIX", "METHODS", "FORWARDED_REQUEST_HEADERS", "DROPPED_RESPONSE_HEADERS", "split_proxy_path",
           "check_path", "query_string", "forwarded_headers", "target_url", "build_proxy_request",
           "response_headers"]
