"""Graceful drain on SIGTERM, with real ``python server.py`` processes and a slow real upstream.

20 requests in flight (streams and plain answers) all complete after SIGTERM, and only then are
usage, logs and leases written back; with a small ``SHUTDOWN_TIMEOUT`` a never-ending stream is
ended with an error event in its client's format (``[DONE]`` for OpenAI chat), its upstream
call cancelled, and what it generated billed. The database is read directly afterwards: quota =
initial − billed, one log per billed request, no lease left.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator

import pymongo
import pytest
import tornado.httpclient
import tornado.web

from tests.conftest import listen
from tests.nodes import Node, converge

MODEL = "gpt-3.5-turbo"
CHUNKS = 10  # a slow stream's content pieces
_seq = itertools.count(1)


@dataclass
class SlowState:
    started: int = 0  # requests that reached the upstream
    gone: int = 0  # streams whose reader (the gateway) went away before their end


class SlowChat(tornado.web.RequestHandler):
    """Channel keys choose: ``slow-<ms>`` streams CHUNKS pieces <ms> apart (a plain request
    answers after CHUNKS × <ms>); ``forever`` streams a piece every 200 ms until the reader goes
    (a plain request never answers)."""

    def initialize(self, state: SlowState) -> None:
        self.state = state
        self.closed = False

    def on_connection_close(self) -> None:
        self.closed = True

    async def post(self) -> None:
        key = self.request.headers.get("Authorization", "")[7:]
        body = json.loads(self.request.body)
        self.state.started += 1
        forever = key == "forever"
        delay = 0.2 if forever else int(key.split("-")[1]) / 1000
        usage = {"prompt_tokens": 9, "completion_tokens": CHUNKS, "total_tokens": 9 + CHUNKS}
        if not body.get("stream"):
            while forever and not self.closed:
                await asyncio.sleep(0.1)
            if self.closed:
                return
            await asyncio.sleep(delay * CHUNKS)
            self.finish({"id": "chatcmpl-slow", "object": "chat.completion", "created": int(time.time()),
                         "model": body["model"], "usage": usage,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "tok " * CHUNKS}}]})
            return
        self.set_header("Content-Type", "text/event-stream")
        base = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body["model"]}
        i = 0
        while forever or i < CHUNKS:
            if self.closed:
                self.state.gone += 1
                return
            self.write(_frame({**base, "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]}))
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the reader went away
                self.state.gone += 1
                return
            i += 1
            await asyncio.sleep(delay)
        self.write(_frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            self.write(_frame({**base, "choices": [], "usage": usage}))
        self.finish(b"data: [DONE]\n\n")


def _frame(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


@pytest.fixture(scope="module")
async def slow() -> AsyncIterator[tuple[SlowState, str]]:
    state = SlowState()
    server, port = listen(tornado.web.Application([(r"/v1/chat/completions", SlowChat, {"state": state})]))
    yield state, f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def nodes(mongo: Any) -> AsyncIterator[list[Node]]:
    made: list[Node] = []
    yield made
    for n in made:
        n.kill()
        n.http.close()


async def _setup(node: Node, base_url: str, key: str) -> str:
    await node.ok("POST", "/api/channel/", {"name": "slow", "type": 8, "key": key, "base_url": base_url,
                                          "models": MODEL, "group": "default"})
    tok = await node.ok("POST", "/api/token/", {"name": "drain", "remain_quota": 50_000_000,
                                               "unlimited_quota": False, "expired_time": -1})
    return "sk-" + tok["key"]


async def _stream(node: Node, key: str, path: str = "/v1/chat/completions", **extra: Any) -> tuple[int, bytes]:
    """A streamed request: (status, everything the client received)."""
    got = bytearray()
    body: dict[str, Any] = {"model": MODEL, "stream": True, "max_tokens": 50,
                            "messages": [{"role": "user", "content": "Hello there"}], **extra}
    resp = await node.http.fetch(
        node.url + path, method="POST", body=json.dumps(body), raise_error=False, request_timeout=120,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        streaming_callback=got.extend)
    return resp.code, bytes(got)


def _db(uri: str) -> Any:
    return pymongo.MongoClient(uri).get_default_database()


def _account_state(db: Any, tok_key: str) -> dict[str, Any]:
    user = db.users.find_one({"_id": 1})
    token = db.tokens.find_one({"key": tok_key[3:]})
    logs = list(db.logs.find({"type": 2}))
    return {"user": user, "token": token, "logs": logs}


def _assert_settled(before: dict[str, Any], after: dict[str, Any], n_logs: int) -> int:
    """quota = initial − billed for the user and the token, counters agree, no lease left."""
    logs = after["logs"]
    assert len(logs) == n_logs, [(x.get("content"), x.get("quota")) for x in logs]
    billed = sum(int(x["quota"]) for x in logs)
    assert billed > 0
    for acct, field in (("user", "quota"), ("token", "remain_quota")):
        doc0, doc1 = before[acct], after[acct]
        assert int(doc1.get("leased") or 0) == 0 and not doc1.get("leases"), doc1
        assert int(doc1[field]) == int(doc0[field]) - billed, (acct, doc0[field], doc1[field], billed)
        assert int(doc1.get("used_quota") or 0) - int(doc0.get("used_quota") or 0) == billed
    assert int(after["user"].get("request_count") or 0) - int(before["user"].get("request_count") or 0) == n_logs
    return billed


async def test_sigterm_drains_twenty_requests_in_flight(mongo: Any, slow: tuple[SlowState, str],
                                                        nodes: list[Node]) -> None:
    state, base_url = slow
    uri = f"mongodb://127.0.0.1:{mongo.port}/drain{next(_seq)}"
    # Only the final flush can write usage and logs: it must come after every settlement.
    node = await Node(uri, BATCH_UPDATE_INTERVAL="3600", LEASE_TTL="30", SHUTDOWN_TIMEOUT="20").start()
    nodes.append(node)
    key = await _setup(node, base_url, "slow-150")  # 10 pieces 150 ms apart: 1.5 s a request
    db = _db(uri)
    before = _account_state(db, key)
    assert not before["logs"]
    state.started = 0

    async def plain() -> tuple[int, Any]:
        return await node.chat(key, max_tokens=50)

    streams = [_stream(node, key, stream_options={"include_usage": True}) for _ in range(7)] + \
              [_stream(node, key) for _ in range(3)]  # counted locally: no usage chunk
    tasks = [asyncio.ensure_future(c) for c in streams + [plain() for _ in range(10)]]
    await converge(lambda: _true(state.started >= 20), timeout=30)
    t0 = time.monotonic()
    node.proc.send_signal(15)  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    with pytest.raises(OSError):  # the listening socket is closed at once
        await node.api("GET", "/api/status", token=None, timeout=5)
    results = await asyncio.gather(*tasks)
    code = await asyncio.get_running_loop().run_in_executor(None, node.proc.wait, 60)  # type: ignore[union-attr]
    assert code == 0, node.log_tail()
    assert time.monotonic() - t0 < 30
    for status, body in results[:10]:  # every stream complete: all pieces, a finish, [DONE]
        assert status == 200, body
        text = body.decode()
        assert text.count('"tok "') == CHUNKS and '"finish_reason": "stop"' in text, text
        assert text.rstrip().endswith("data: [DONE]") and '"error"' not in text, text
    for status, data in results[10:]:
        assert status == 200, data
        assert data["choices"][0]["message"]["content"] == "tok " * CHUNKS
    after = _account_state(db, key)
    _assert_settled(before, after, 20)
    assert all("stream ended early" not in x["content"] for x in after["logs"])
    assert "in flight get up to 20 s" in node.log_tail(20000)


async def _true(v: bool) -> bool:
    return v


async def test_shutdown_timeout_ends_open_streams(mongo: Any, slow: tuple[SlowState, str],
                                                  nodes: list[Node]) -> None:
    state, base_url = slow
    uri = f"mongodb://127.0.0.1:{mongo.port}/drain{next(_seq)}"
    node = await Node(uri, BATCH_UPDATE_INTERVAL="3600", LEASE_TTL="30", SHUTDOWN_TIMEOUT="1").start()
    nodes.append(node)
    key = await _setup(node, base_url, "forever")
    db = _db(uri)
    before = _account_state(db, key)
    state.started = state.gone = 0
    chat = asyncio.ensure_future(_stream(node, key, stream_options={"include_usage": True}))
    messages = asyncio.ensure_future(_stream(node, key, "/v1/messages", max_tokens=50))
    responses = asyncio.ensure_future(_stream(node, key, "/v1/responses", input="Hello there",
                                              max_output_tokens=50))
    plain = asyncio.ensure_future(node.chat(key, max_tokens=50))  # never answered upstream
    await converge(lambda: _true(state.started >= 4), timeout=30)
    await asyncio.sleep(0.5)  # the streams are open and flowing
    t0 = time.monotonic()
    node.proc.send_signal(15)  # type: ignore[union-attr]
    (c1, chat_body), (c2, msg_body), (c3, resp_body), (c4, plain_body) = \
        await asyncio.gather(chat, messages, responses, plain)
    code = await asyncio.get_running_loop().run_in_executor(None, node.proc.wait, 60)  # type: ignore[union-attr]
    took = time.monotonic() - t0
    assert code == 0, node.log_tail()
    assert took < 1 + 25, took  # SHUTDOWN_TIMEOUT + a generous margin (abort grace, flush)
    # OpenAI chat: the pieces so far, one error event, [DONE]
    text = chat_body.decode()
    assert c1 == 200 and '"tok "' in text
    frames = [f for f in text.strip().split("\n\n") if f]
    err = json.loads(frames[-2][len("data: "):])
    assert err["error"]["code"] == "stream_interrupted" and "shutting down" in err["error"]["message"]
    assert "request id" in err["error"]["message"] and frames[-1] == "data: [DONE]"
    # Anthropic Messages: an `event: error` in Anthropic's shape
    text = msg_body.decode()
    assert c2 == 200 and "event: message_start" in text and "event: error" in text, text
    assert "shutting down" in text and "[DONE]" not in text
    # Responses: an error event in the Responses stream shape
    text = resp_body.decode()
    assert c3 == 200 and "shutting down" in text and ("event: error" in text or "response.failed" in text), text
    # a request that had no answer yet: a clean 503, refunded
    assert c4 == 503 and plain_body["error"]["code"] == "server_shutting_down", (plain_body, node.log_tail(20000))
    assert "request id" in plain_body["error"]["message"]
    await converge(lambda: _true(state.gone >= 3), timeout=10)  # the upstream streams were cancelled
    after = _account_state(db, key)
    billed = _assert_settled(before, after, 3)  # the streams billed for what they generated
    assert all("stream ended early" in x["content"] for x in after["logs"])
    assert billed < 3 * 1000  # partial generations, nowhere near the reservations
