"""Proxy (type 43): One API's raw pass-through channel. The registry serves no relay mode with it
(it is reached through /v1/oneapi/proxy/{channel}/..., whose handler lives elsewhere); the pure
request/response helpers are tested here, and their requests sent through the relay's own
upstream transport to an echo server."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import pytest
from tornado.curl_httpclient import CurlAsyncHTTPClient
from tornado.httputil import HTTPHeaders

from adaptors import build_registry
from adaptors.base import ChannelTarget, UpstreamRejected
from adaptors.proxy import (
    PROXY_PREFIX,
    build_proxy_request,
    check_path,
    forwarded_headers,
    query_string,
    response_headers,
    split_proxy_path,
    target_url,
)
from adaptors.registry import PROVIDERS
from relay.upstream import UpstreamCall
from tests.adaptor_helpers import FakeServer, serving
from tests.fake_palm_aiproxy import FakeState, make_app


def target(**kw: Any) -> ChannelTarget:
    base: dict[str, Any] = {"id": 12, "type": 43, "key": "Bearer sk-upstream", "base_url": "https://gw.example.com/api/"}
    base.update(kw)
    return ChannelTarget(**base)


CLIENT_HEADERS = {
    "Host": "onerelay.example.com",
    "Authorization": "Bearer sk-onerelay-token",
    "Cookie": "session=secret",
    "Content-Type": "application/json",
    "Content-Length": "17",
    "Accept": "text/event-stream",
    "Accept-Encoding": "gzip",
    "Connection": "keep-alive",
    "User-Agent": "OpenAI/Python 1.0",
    "X-Forwarded-For": "10.0.0.1",
    "X-Real-IP": "10.0.0.1",
    "Api-Key": "client-secret",
    "X-Api-Key": "client-secret",
    "OpenAI-Beta": "assistants=v2",
    "Anthropic-Version": "2023-06-01",
}


# --------------------------------------------------------------------------- pure


def test_registry_entry_serves_no_relay_mode() -> None:
    s = PROVIDERS[43]
    assert s.adaptor is None and not s.supported and s.modes == ()
    assert s.base_url_required and s.base_url == "" and "/v1/oneapi/proxy/" in s.note
    assert 43 not in build_registry()


@pytest.mark.parametrize("path, expected", [
    ("/v1/oneapi/proxy/12/v1/models", (12, "/v1/models")),
    ("/v1/oneapi/proxy/7", (7, "")),
    ("/v1/oneapi/proxy/7/", (7, "/")),
    ("/v1/oneapi/proxy/7/a/b/c:run", (7, "/a/b/c:run")),
    ("/v1/oneapi/proxy/x/v1/models", None),
    ("/v1/oneapi/proxy/", None),
    ("/v1/chat/completions", None),
    ("/v1/oneapi/proxy/12abc/v1", None),
])
def test_split_proxy_path(path: str, expected: Any) -> None:
    assert split_proxy_path(path) == expected
    assert PROXY_PREFIX == "/v1/oneapi/proxy"


def test_request_as_one_api_forwards_it() -> None:
    body = b'{"model":"gpt-4o"}'
    up = build_proxy_request("post", "/v1/chat/completions", "a=1&b=two%20words", CLIENT_HEADERS, body, target())
    assert up.method == "POST"
    assert up.url == "https://gw.example.com/api/v1/chat/completions?a=1&b=two%20words"
    assert up.body == body  # the bytes as they are
    assert up.headers == {
        "Content-Type": "application/json", "Accept": "text/event-stream", "User-Agent": "OpenAI/Python 1.0",
        "OpenAI-Beta": "assistants=v2", "Anthropic-Version": "2023-06-01",
        "Authorization": "Bearer sk-upstream",  # the key as stored, not the client's token
    }


def test_key_is_the_authorization_value_as_stored() -> None:
    up = build_proxy_request("GET", "/v1/models", None, {"Authorization": "Bearer client"}, None,
                             target(key=" sk-raw "))
    assert up.headers == {"Authorization": "sk-raw"} and up.body is None  # One API: no Bearer added
    up = build_proxy_request("GET", "/v1/models", None, {"Authorization": "Bearer client"}, None, target(key=""))
    assert up.headers == {}  # the client's credentials never pass


def test_bodies_by_method() -> None:
    t = target()
    assert build_proxy_request("POST", "/x", "", {}, None, t).body == b""
    assert build_proxy_request("PUT", "/x", "", {}, b"", t).body == b""
    assert build_proxy_request("DELETE", "/x/1", "", {}, b"", t).body is None
    assert build_proxy_request("DELETE", "/x/1", "", {}, b'{"a":1}', t).body == b'{"a":1}'
    up = build_proxy_request("GET", "/x", "", {"Content-Type": "application/json"}, b"", t)
    assert up.body is None and "Content-Type" not in up.headers
    with pytest.raises(UpstreamRejected) as e:
        build_proxy_request("TRACE", "/x", "", {}, None, t)
    assert e.value.failure.status == 405 and not e.value.failure.retryable


def test_paths_stay_under_the_base_url() -> None:
    assert check_path("") == "" and check_path("v1/models") == "/v1/models"
    assert check_path("/v1/files/a%20b.txt") == "/v1/files/a%20b.txt"
    assert check_path("/a/..b/c.") == "/a/..b/c."  # dots inside a segment are fine
    for bad in ("/../admin", "/v1/../../x", "/v1/./x", "/%2e%2e/x", "/%2E%2e/x", "/a%2f..%2fb", "/x\r\nHost: y",
                "/a b", "/a\\..\\b", "/a%00", "/x?y=1", "/x#frag"):
        with pytest.raises(UpstreamRejected) as e:
            check_path(bad)
        assert e.value.failure.status == 400 and e.value.failure.code == "invalid_proxy_path", bad
    assert target_url(target(base_url="http://h:1"), "") == "http://h:1"
    assert target_url(target(base_url="http://h:1/"), "/", "x=1") == "http://h:1/?x=1"


def test_missing_base_url_is_a_clear_channel_error() -> None:
    with pytest.raises(UpstreamRejected) as e:
        build_proxy_request("GET", "/v1/models", "", {}, None, target(base_url="  "))
    f = e.value.failure
    assert f.status == 503 and f.code == "channel_config_missing" and f.retryable and not f.disables_channel
    assert f.payload is not None and f.payload["code"] == "channel_config_missing" and "base URL" in f.message


def test_query_forms() -> None:
    assert query_string(None) == "" and query_string("") == "" and query_string("?a=1") == "a=1"
    assert query_string("q=a b") == "q=a%20b"
    assert query_string(b"a=%C3%A9") == "a=%C3%A9"
    assert query_string({"a": "1", "b": ["x", "y"]}) == "a=1&b=x&b=y"
    assert query_string([("k", "v w")]) == "k=v+w"
    for bad in ("a=1\r\nX: y", "a=1#frag"):
        with pytest.raises(UpstreamRejected):
            query_string(bad)


def test_header_forms() -> None:
    h = HTTPHeaders()
    h.add("Content-Type", "application/json")
    h.add("Accept", "application/json")
    h.add("Accept", "text/plain")
    h.add("Authorization", "Bearer client")
    assert forwarded_headers(h) == {"Content-Type": "application/json", "Accept": "application/json"}
    assert forwarded_headers([("accept", "a"), ("Accept", "b"), ("user-agent", ["ua1", "ua2"]),
                              ("Openai-Beta", "x\r\ny")]) == {"accept": "a", "user-agent": "ua1"}
    assert forwarded_headers(None) == {}


def test_response_headers() -> None:
    h = HTTPHeaders()
    for name, value in [("Content-Type", "text/event-stream"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked"),
                        ("Content-Encoding", "gzip"), ("Connection", "close"), ("X-Request-Id", "r1"),
                        ("Set-Cookie", "a=1"), ("X-Ratelimit-Remaining", "9"), ("X-Multi", "1"), ("X-Multi", "2")]:
        h.add(name, value)
    assert response_headers(h) == [("Content-Type", "text/event-stream"), ("X-Request-Id", "r1"),
                                   ("X-Ratelimit-Remaining", "9"), ("X-Multi", "1"), ("X-Multi", "2")]
    assert response_headers({"keep-alive": "timeout=5", "Cache-Control": ["no-cache", "x"]}) == [
        ("Cache-Control", "no-cache"), ("Cache-Control", "x")]


# --------------------------------------------------------------------------- through the relay's transport


@pytest.fixture(scope="module")
async def echo() -> AsyncIterator[FakeServer]:
    state = FakeState()
    async with serving(make_app(state)) as url:
        yield FakeServer(state, url + "/gateway")


async def _call(up: Any) -> Any:
    client = CurlAsyncHTTPClient(force_instance=True)
    try:
        call = UpstreamCall(client, up, timeout=10, proxy=None)
        return await call.fetch()
    finally:
        client.close()


@pytest.mark.parametrize("method, body", [("POST", b'{"model":"m","x":[1,2]}'), ("GET", None), ("PUT", b""),
                                          ("PATCH", b"raw \x00\xff bytes"), ("DELETE", None), ("DELETE", b"{}"),
                                          ("OPTIONS", None)])
async def test_forwarded_request_reaches_the_upstream(echo: FakeServer, method: str, body: bytes | None) -> None:
    path_in = "/v1/oneapi/proxy/12/v1/files/abc:run"
    split = split_proxy_path(path_in)
    assert split is not None and split[0] == 12
    up = build_proxy_request(method, split[1], "limit=2&q=a%20b", CLIENT_HEADERS, body,
                             target(base_url=echo.url + "/"))
    resp = await _call(up)
    assert resp.code == 200, resp.body
    seen = json.loads(resp.body)
    assert seen["method"] == method and seen["path"] == "/gateway/v1/files/abc:run"
    assert seen["query"] == "limit=2&q=a%20b"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"] == "Bearer sk-upstream"
    assert headers["user-agent"] == "OpenAI/Python 1.0" and headers["openai-beta"] == "assistants=v2"
    for name in ("cookie", "x-forwarded-for", "x-real-ip", "api-key", "x-api-key"):
        assert name not in headers, name
    assert headers["host"] != "onerelay.example.com"
    assert seen["body"].encode("utf-8") == (body or b"").decode("utf-8", "replace").encode("utf-8")
    out = dict(response_headers(resp.headers))
    assert out["X-Upstream"] == "echo" and "Set-Cookie" not in out and "Content-Length" not in out
