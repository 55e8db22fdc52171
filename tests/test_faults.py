"""Faults with real parts.

- The embedded database SIGKILLed under load (``python server.py`` as a real process, the
  database its child): the server restarts it on the same port and data directory, relays keep
  serving from caches and leases meanwhile, and the ledger's flushes catch up: every request is
  logged and billed once, nothing lost, nothing counted twice.
- Upstream garbage: a 200 with bytes that are not JSON, a 500 HTML page, a cut-off JSON body,
  random bytes or an HTML page on a stream. Each gives a clean error in the client's API family
  (status, request id, never HTML), and nothing is billed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any, AsyncIterator

import pymongo
import pytest
import tornado.httpclient
import tornado.web

from models.db import EmbeddedMongo, free_port
from tests.conftest import ACCESS_TOKEN, ROOT, Gateway, Upstream, listen

MODEL = "gpt-3.5-turbo"


# --------------------------------------------------------------------------- the database killed


def _start(data_dir: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_CONN_STRING", "PORT", "WORKERS")}
    env.update(DATA_DIR=data_dir, INITIAL_ROOT_ACCESS_TOKEN=ACCESS_TOKEN, BATCH_UPDATE_INTERVAL="0.3",
               GLOBAL_API_RATE_LIMIT="0", FRONTEND_DIST=os.path.join(data_dir, "nodist"))
    proc = subprocess.Popen([sys.executable, "server.py", "--port", str(port), "--log-dir",
                             os.path.join(data_dir, "logs")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, _log(data_dir)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _log(data_dir: str) -> str:
    try:
        with open(os.path.join(data_dir, "logs", "onerelay.log")) as f:
            return f.read()[-6000:]
    except OSError:
        return ""


def _db_child(pid: int) -> int | None:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    for kid in (int(x) for x in out.split()):
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{kid}/stat") as f:
                zombie = f.read().split()[2] == "Z"
        except OSError:
            continue
        if b"secantusd" in cmd and not zombie:
            return kid
    return None


async def _api(http: Any, port: int, method: str, path: str, body: Any = None) -> Any:
    resp = await http.fetch(f"http://127.0.0.1:{port}{path}", method=method, raise_error=False,
                            body=json.dumps(body) if body is not None else None, request_timeout=30,
                            headers={"Authorization": ACCESS_TOKEN, "Content-Type": "application/json"})
    data = json.loads(resp.body)
    assert data["success"], data
    return data.get("data")


async def test_embedded_database_killed_mid_load(tmp_path: Any, upstream: Upstream) -> None:
    data_dir = str(tmp_path / "data")
    port = free_port()
    proc = _start(data_dir, port)
    http = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=50)
    try:
        await _api(http, port, "POST", "/api/channel/", {"name": "up", "type": 1, "key": "sk-ok",
                                                        "base_url": upstream.url, "models": MODEL})
        tok = await _api(http, port, "POST", "/api/token/", {"name": "load", "remain_quota": 10_000_000,
                                                            "unlimited_quota": False, "expired_time": -1})
        key = "sk-" + tok["key"]
        first = _db_child(proc.pid)
        assert first is not None, "the embedded database should be a child process of the server"
        statuses: list[int] = []
        errors: list[Any] = []
        stop_at = time.monotonic() + 7.0

        async def client() -> None:
            body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})
            while time.monotonic() < stop_at:
                resp = await http.fetch(f"http://127.0.0.1:{port}/v1/chat/completions", method="POST", body=body,
                                        headers={"Authorization": f"Bearer {key}"}, raise_error=False,
                                        request_timeout=30)
                statuses.append(resp.code)
                if resp.code != 200:
                    errors.append((time.monotonic(), resp.code, resp.body))
                await asyncio.sleep(0.02)

        load = asyncio.gather(*(client() for _ in range(4)))
        await asyncio.sleep(2.0)
        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)  # mid-load, mid-flush perhaps
        served_before = len(statuses)
        await asyncio.sleep(0.3)
        served_while_down = len(statuses) - served_before
        await load
        assert statuses and set(statuses) == {200}, (errors[:3], len(errors), killed_at)
        assert served_while_down > 0
        # restarted on the same port, as a child of the server
        deadline = time.monotonic() + 30
        second = None
        while time.monotonic() < deadline:
            second = _db_child(proc.pid)
            if second not in (None, first):
                break
            await asyncio.sleep(0.2)
        assert second not in (None, first), _log(data_dir)
        assert "restarting it on port" in _log(data_dir)
        # a management write needs the database: it works again
        await _api(http, port, "PUT", "/api/option/", {"key": "SystemName", "value": "after the crash"})
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60) == 0, _log(data_dir)
    finally:
        http.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # the database as the server left it: every request logged and billed exactly once
    db_srv = EmbeddedMongo(os.path.join(data_dir, "db"))
    db_srv.start()
    try:
        db = pymongo.MongoClient(db_srv.uri).get_default_database()
        logs = list(db.logs.find({"type": 2}))
        n = len(statuses)
        assert len(logs) == n and len({x["request_id"] for x in logs}) == n
        billed = sum(int(x["quota"]) for x in logs)
        token = db.tokens.find_one({"key": key[3:]})
        user = db.users.find_one({"_id": 1})
        channel = db.channels.find_one({})
        assert token["used_quota"] == billed and token["remain_quota"] == 10_000_000 - billed
        assert int(token.get("leased") or 0) == 0 and not token.get("leases")
        assert user["used_quota"] == billed and user["request_count"] == n
        assert int(user.get("leased") or 0) == 0 and not user.get("leases")
        assert channel["used_quota"] == billed
        assert db.options.find_one({"_id": "SystemName"}) or db.options.find_one({"key": "SystemName"})
    finally:
        db_srv.stop()


# --------------------------------------------------------------------------- upstream garbage

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>"
             b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n")


class Garbage(tornado.web.RequestHandler):
    """Channel keys: ``json-garbage`` (200, JSON type, random bytes), ``html-500`` (an HTML error
    page), ``cut-json`` (200, a JSON body cut off), ``sse-garbage`` (200, event-stream type,
    random bytes), ``html-200`` (200 with an HTML page)."""

    def post(self, *_: Any) -> None:
        key = self.request.headers.get("Authorization", "")[7:]
        noise = random.Random(7).randbytes(3000)
        if key == "json-garbage":
            self.set_header("Content-Type", "application/json")
            self.finish(noise)
        elif key == "html-500":
            self.set_status(500)
            self.set_header("Content-Type", "text/html")
            self.finish(HTML_PAGE)
        elif key == "cut-json":
            self.set_header("Content-Type", "application/json")
            self.finish(b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "mess')
        elif key == "sse-garbage":
            self.set_header("Content-Type", "text/event-stream")
            self.finish(noise)
        else:
            self.set_header("Content-Type", "text/html")
            self.finish(HTML_PAGE)


@pytest.fixture(scope="module")
async def garbage_url() -> AsyncIterator[str]:
    server, port = listen(tornado.web.Application([(r"/v1/chat/completions", Garbage)]))
    yield f"http://127.0.0.1:{port}"
    server.stop()


async def _post(gw: Gateway, path: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    resp = await gw.http.fetch(gw.url + path, method="POST", body=json.dumps(body), raise_error=False,
                               headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                               request_timeout=30)
    return resp.code, dict(resp.headers), resp.body or b""


@pytest.mark.parametrize("behaviour,status", [
    ("json-garbage", 502), ("html-500", 500), ("cut-json", 502), ("sse-garbage", 502), ("html-200", 502),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_garbage_is_a_clean_error(gw: Gateway, garbage_url: str, behaviour: str, status: int,
                                                 stream: bool) -> None:
    await gw.channel(key=behaviour, base_url=garbage_url)
    key = await gw.token(unlimited_quota=False, remain_quota=1_000_000)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "stream": stream}
    code, headers, body = await _post(gw, "/v1/chat/completions", key, chat)
    assert code == status, body
    assert headers["Content-Type"].startswith("application/json"), headers
    err = json.loads(body)["error"]
    request_id = headers["X-Oneapi-Request-Id"]
    assert err["message"].endswith(f"(request id: {request_id})"), err
    assert "<" not in err["message"] and "\ufffd" not in err["message"] and len(err["message"]) < 400, err
    assert err["type"] and "code" in err
    if behaviour.startswith("html"):
        assert "HTML page: 502 Bad Gateway" in err["message"], err
    # Anthropic clients get Anthropic's error shape for the same failure
    code, headers, body = await _post(gw, "/v1/messages", key, {**chat, "max_tokens": 20})
    assert code == status and json.loads(body)["type"] == "error", body
    assert "<" not in json.loads(body)["error"]["message"]
    # nothing billed: no consume log, the token's quota whole, no usage counted
    await gw.ctx.ledger.flush()
    tok = await gw.ctx.db.tokens.find_one({"key": key[3:]})
    assert tok is not None and int(tok.get("used_quota") or 0) == 0
    assert gw.ctx.ledger.view("t", tok["_id"], tok) == 1_000_000
    assert not [x for x in await gw.logs() if x.get("type") == 2]
