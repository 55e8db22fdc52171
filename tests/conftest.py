"""Real parts: one embedded SecantusDB per test session (a fresh database per test),
a fake upstream HTTP server on loopback, and OneRelay itself on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import sys
import tempfile
from typing import Any, AsyncIterator, Iterator

import openai
import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from models.db import EmbeddedMongo  # noqa: E402
from services.context import AppContext, Settings, http_server, make_app  # noqa: E402
from tests.apiclient import ACCESS_TOKEN, ApiClient  # noqa: E402,F401 (ACCESS_TOKEN: tests import it here)
from tests.fakeupstream import UpstreamState, make_upstream_app  # noqa: E402

_db_seq = itertools.count(1)


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="onerelay-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mongo(tmp_root: str) -> Iterator[EmbeddedMongo]:
    srv = EmbeddedMongo(os.path.join(tmp_root, "db"), os.path.join(tmp_root, "db.log"))
    srv.start()
    yield srv
    srv.stop()


def listen(app: Any, make_server: Any = None) -> tuple[tornado.httpserver.HTTPServer, int]:
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = make_server(app) if make_server else tornado.httpserver.HTTPServer(app, xheaders=True)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


@pytest.fixture(scope="session")
async def upstream() -> AsyncIterator["Upstream"]:
    state = UpstreamState()
    server, port = listen(make_upstream_app(state))
    yield Upstream(state, f"http://127.0.0.1:{port}")
    server.stop()


class Upstream:
    def __init__(self, state: UpstreamState, url: str) -> None:
        self.state = state
        self.url = url


class Gateway(ApiClient):
    """A running OneRelay with helpers to drive its management API as root."""

    def __init__(self, ctx: AppContext, url: str, upstream: Upstream) -> None:
        self.ctx = ctx
        self.url = url
        self.upstream = upstream
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    async def channel(self, **fields: Any) -> int:
        body = {"name": "ch", "type": 1, "key": "sk-ok", "base_url": self.upstream.url,
                "models": "gpt-3.5-turbo", "group": "default"}
        body.update(fields)
        data = await self.ok("POST", "/api/channel/", body)
        return int(data["id"])

    async def token(self, as_token: str = ACCESS_TOKEN, **fields: Any) -> str:
        """Create a token (as root unless ``as_token`` names another user's access token)."""
        body = {"name": "test", "unlimited_quota": True, "expired_time": -1}
        body.update(fields)
        data = await self.ok("POST", "/api/token/", body, token=as_token)
        return "sk-" + data["key"]

    def client(self, key: str, **kw: Any) -> openai.AsyncOpenAI:
        """An SDK client; a request that never completes fails after 60 s instead of the SDK's 10 min."""
        kw.setdefault("timeout", 60.0)
        return openai.AsyncOpenAI(api_key=key, base_url=self.url + "/v1", max_retries=0, **kw)

    async def logs(self, **query: Any) -> list[dict[str, Any]]:
        """The newest logs; without a ``type`` filter, error logs (type 6, every failed request
        writes one: tests/test_error_logs.py) are left out, so a test reads what was billed."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        rows = await self.ok("GET", "/api/log/?" + qs)
        return rows if "type" in query else [r for r in rows if r["type"] != 6]

    async def user(self, uid: int = 1) -> dict[str, Any]:
        """The user's document as of now, ``quota`` being the spendable balance (leases included)."""
        await self.ctx.ledger.flush()
        doc = await self.ctx.db.users.find_one({"_id": uid})
        assert doc is not None
        doc["quota"] = self.ctx.ledger.view("u", uid, doc)
        return doc


async def start_gateway(mongo: EmbeddedMongo, upstream: Upstream, tmp_root: str,
                        **settings: Any) -> tuple[Gateway, Any]:
    n = next(_db_seq)
    uri = f"mongodb://127.0.0.1:{mongo.port}/t{n}"
    settings.setdefault("frontend_dist", os.path.join(tmp_root, "nodist"))
    settings.setdefault("batch_update_interval", 0.2)
    s = Settings.from_env(env={}, mongodb_uri=uri, data_dir=os.path.join(tmp_root, f"d{n}"),
                          initial_root_access_token=ACCESS_TOKEN, **settings)
    ctx = AppContext(s)
    await ctx.start()
    server, port = listen(make_app(ctx), http_server)
    return Gateway(ctx, f"http://127.0.0.1:{port}", upstream), server


@contextlib.asynccontextmanager
async def running_gateway(mongo: EmbeddedMongo, upstream: Upstream, tmp_root: str, request: Any,
                          **defaults: Any) -> AsyncIterator[Gateway]:
    """A fresh OneRelay for one test: ``defaults`` overridden by the test's ``settings`` marker."""
    marker = request.node.get_closest_marker("settings")
    settings = {**defaults, **(marker.kwargs if marker else {})}
    upstream.state.reset()
    gateway, server = await start_gateway(mongo, upstream, tmp_root, **settings)
    try:
        yield gateway
    finally:
        server.stop()
        await asyncio.sleep(0)
        await gateway.ctx.stop()
        gateway.http.close()


@pytest.fixture
async def gw(mongo: EmbeddedMongo, upstream: Upstream, tmp_root: str, request: Any) -> AsyncIterator[Gateway]:
    async with running_gateway(mongo, upstream, tmp_root, request) as gateway:
        yield gateway


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "settings(**kw): Settings overrides for the gw fixture")
