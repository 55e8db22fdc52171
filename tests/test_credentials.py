"""Exchanged access tokens: one exchange per key at a time, cached until shortly before expiry,
refused keys reported as the adaptor says. The token endpoint is a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import pytest
import tornado.web

from adaptors.base import Adaptor, ChannelTarget, TokenGrant, UpstreamFailure, UpstreamRejected, UpstreamRequest
from relay import credentials as cred_mod
from relay.credentials import CredentialCache
from relay.upstream import make_client
from tests.conftest import listen


class TokenEndpoint(tornado.web.RequestHandler):
    calls = 0
    expires_in = 3600

    async def post(self) -> None:
        TokenEndpoint.calls += 1
        await asyncio.sleep(0.05)  # slow enough for concurrent callers to pile up
        key = json.loads(self.request.body)["key"]
        if key == "bad":
            self.set_status(401)
            self.finish({"error": "invalid_client"})
            return
        self.finish({"access_token": f"tok-{key}-{TokenEndpoint.calls}", "expires_in": TokenEndpoint.expires_in})


class Exchanging(Adaptor):
    name = "exchanging"
    credentials = True

    def __init__(self, url: str) -> None:
        self.url = url

    def token_request(self, target: ChannelTarget) -> UpstreamRequest:
        return UpstreamRequest("POST", self.url, {"Content-Type": "application/json"},
                               json.dumps({"key": target.key}).encode())

    def parse_token(self, status: int, body: bytes) -> TokenGrant:
        data = json.loads(body)
        if status != 200:
            raise UpstreamRejected(UpstreamFailure(status=status, message=str(data["error"]),
                                                   retryable=False, disables_channel=True))
        return TokenGrant(data["access_token"], float(data["expires_in"]))


@pytest.fixture
async def endpoint() -> AsyncIterator[str]:
    TokenEndpoint.calls, TokenEndpoint.expires_in = 0, 3600
    server, port = listen(tornado.web.Application([(r"/token", TokenEndpoint)]))
    yield f"http://127.0.0.1:{port}/token"
    server.stop()


def _target(key: str) -> ChannelTarget:
    return ChannelTarget(id=1, type=15, key=key)


async def test_one_exchange_for_concurrent_requests_then_cached(endpoint: str) -> None:
    cache = CredentialCache(make_client(10))
    ad = Exchanging(endpoint)
    tokens = await asyncio.gather(*(cache.token(ad, _target("k1")) for _ in range(20)))
    assert set(tokens) == {"tok-k1-1"} and TokenEndpoint.calls == 1
    assert await cache.token(ad, _target("k1")) == "tok-k1-1" and TokenEndpoint.calls == 1
    assert await cache.token(ad, _target("k2")) == "tok-k2-2"  # per key
    cache.forget(ad, _target("k1"))
    assert await cache.token(ad, _target("k1")) == "tok-k1-3"


async def test_renewed_before_expiry(endpoint: str, monkeypatch: Any) -> None:
    cache = CredentialCache(make_client(10))
    ad = Exchanging(endpoint)
    TokenEndpoint.expires_in = 30  # under the refresh margin: never served from the cache
    monkeypatch.setattr(cred_mod, "REFRESH_MARGIN", 60.0)
    first = await cache.token(ad, _target("k"))
    second = await cache.token(ad, _target("k"))
    assert first != second and TokenEndpoint.calls == 2


async def test_a_refused_key_and_an_unreachable_endpoint_are_rejections(endpoint: str) -> None:
    cache = CredentialCache(make_client(10))
    with pytest.raises(UpstreamRejected) as e:
        await cache.token(Exchanging(endpoint), _target("bad"))
    assert e.value.failure.disables_channel and e.value.failure.status == 401
    with pytest.raises(UpstreamRejected) as e:
        await cache.token(Exchanging("http://127.0.0.1:9/token"), _target("k"))
    assert e.value.failure.retryable and e.value.failure.code == "token_exchange_failed"
