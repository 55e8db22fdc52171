#!/usr/bin/env python3
"""Soak: mixed traffic at a steady rate for a long time; nothing may grow after warm-up.

Usage:  python bench/soak.py [--duration 600] [--rate 40] [--every 30] [--warmup 60]

Runs, on 127.0.0.1 and in this one process (so its own counters can be read): the embedded
database (a child process), the fake upstream of the test suite (tests/fakeupstream.py: real
HTTP, OpenAI's wire format, failures and slow streams chosen by the channel key) and OneRelay
itself (AppContext + its Tornado app, as server.py builds them). Then sends, open loop at
``--rate`` requests a second, each on its own connection (``Connection: close``):

* non-stream and stream chat completions (billed and logged),
* streams the client abandons after the first chunk (a slow upstream: the transfer is cancelled),
* errors: a wrong key (401), a failing channel (the upstream's 500), a body that is not JSON
  (400), a model no channel serves (503),
* every ``--change-every`` seconds a change through the management API: an option (RetryTimes,
  ModelRatio), a channel's priority, a channel created and deleted.

Every ``--every`` seconds it prints: RSS, open file descriptors, asyncio tasks (the load's own
excluded), curl handles in use / sockets libcurl watches / queued, requests in flight. At the
end it compares each figure after warm-up with its bound (``BOUNDS``) and exits 1 when one grew
past it. tests/test_soak.py runs the same for 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)

# Growth allowed between the first sample after warm-up and any later one (load still on), and
# what must be back to its idle value once the load stops (tasks, curl handles, requests).
BOUNDS = {"rss_mb": 32.0, "fds": 48, "tasks": 48, "curl_in_use": 32}
LOAD_TASK = "soak-load"  # the load's own tasks are named so (left out of the task count)


# -- what the process holds -------------------------------------------------------------------
def sample(ctx: Any) -> dict[str, Any]:
    """RSS (MB), open fds, asyncio tasks (not the load's), curl handles in use, sockets libcurl
    watches and requests queued for a handle, and requests in flight (``ctx.jobs``)."""
    rss_kb = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    http = ctx.http
    return {
        "rss_mb": round(rss_kb / 1024, 1),
        "fds": len(os.listdir("/proc/self/fd")),
        "tasks": sum(1 for t in asyncio.all_tasks() if not t.get_name().startswith(LOAD_TASK)),
        "curl_in_use": len(http._curls) - len(http._free_list),
        "curl_sockets": len(http._fds),
        "curl_queued": len(http._requests),
        "jobs": len(ctx.jobs),
    }


# -- a tiny HTTP/1.1 client: one connection per request, closed after it --------------------------
async def request(port: int, method: str, path: str, body: bytes | None = None, auth: str = "",
                  first_chunk_only: bool = False, timeout: float = 30.0) -> tuple[int, bytes]:
    """(status, body); with ``first_chunk_only`` the connection is closed as soon as the answer's
    first bytes arrive (a client that goes away mid-stream). Status 0: no answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        if auth:
            head.append(f"Authorization: {auth}")
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        await writer.drain()
        if first_chunk_only:
            data = await asyncio.wait_for(reader.read(4096), timeout)
            return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0), b""
        data = await asyncio.wait_for(reader.read(), timeout)
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, data.partition(b"\r\n\r\n")[2]
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def api(port: int, token: str, method: str, path: str, body: Any = None) -> Any:
    raw = json.dumps(body).encode() if body is not None else None
    status, data = await request(port, method, path, raw, token)
    # A chunked answer (Transfer-Encoding): the JSON object is inside; find it.
    text = data.decode(errors="replace")
    start, end = text.find("{"), text.rfind("}")
    env = json.loads(text[start:end + 1]) if start >= 0 else {}
    if status != 200 or not env.get("success"):
        raise RuntimeError(f"{method} {path}: HTTP {status} {text[:200]}")
    return env.get("data")


# -- the load ---------------------------------------------------------------------------------
@dataclass
class Load:
    port: int
    root: str  # the root user's access token (management API)
    upstream: str
    key: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    temp_channel: int | None = None
    changes: int = 0

    async def setup(self) -> None:
        for name, key, model in (("ok", "sk-ok", "gpt-3.5-turbo"), ("slow", "sk-slow", "gpt-slow"),
                                 ("failing", "fail-500", "gpt-fail")):
            await api(self.port, self.root, "POST", "/api/channel/", {
                "name": name, "type": 1, "key": key, "base_url": self.upstream, "models": model,
                "group": "default"})
        await api(self.port, self.root, "POST", "/api/token/",
                  {"name": "soak", "unlimited_quota": True, "expired_time": -1})
        tokens = await api(self.port, self.root, "GET", "/api/token/?p=0")
        key = next(t["key"] for t in tokens if t["name"] == "soak")
        self.key = "Bearer " + (key if key.startswith("sk-") else "sk-" + key)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def one(self, i: int) -> None:
        chat = "/v1/chat/completions"
        msg = [{"role": "user", "content": f"hello {i}"}]
        kind = i % 10
        try:
            if kind in (0, 2, 8):
                st, _ = await request(self.port, "POST", chat, json.dumps(
                    {"model": "gpt-3.5-turbo", "messages": msg}).encode(), self.key)
            elif kind in (1, 7):
                st, _ = await request(self.port, "POST", chat, json.dumps(
                    {"model": "gpt-3.5-turbo", "messages": msg, "stream": True}).encode(), self.key)
            elif kind == 3:  # a stream the client leaves after its first bytes
                st, _ = await request(self.port, "POST", chat, json.dumps(
                    {"model": "gpt-slow", "messages": msg, "stream": True}).encode(), self.key,
                    first_chunk_only=True)
                kind_name = "disconnect"
                self._count(f"{kind_name} {st}")
                return
            elif kind == 4:
                st, _ = await request(self.port, "POST", chat, b'{"model":"gpt-3.5-turbo","messages":[]}',
                                      "Bearer sk-wrong")
            elif kind == 5:
                st, _ = await request(self.port, "POST", chat, json.dumps(
                    {"model": "gpt-fail", "messages": msg}).encode(), self.key)
            elif kind == 6:
                st, _ = await request(self.port, "POST", chat, b'{"model": ', self.key)
            else:
                st, _ = await request(self.port, "POST", chat, json.dumps(
                    {"model": "no-such-model", "messages": msg}).encode(), self.key)
            self._count(str(st))
        except (OSError, asyncio.TimeoutError, ValueError, IndexError) as e:
            self._count(f"client error {type(e).__name__}")

    async def change(self) -> None:
        """One management change, in turn: options, a channel's priority, a channel added and deleted."""
        n = self.changes
        self.changes += 1
        step = n % 4
        try:
            if step == 0:
                await api(self.port, self.root, "PUT", "/api/option/", {"key": "RetryTimes", "value": str(n % 2)})
            elif step == 1:
                ratios = {"gpt-3.5-turbo": 0.25, "gpt-slow": 1, "gpt-fail": 1, f"soak-{n}": 1}
                await api(self.port, self.root, "PUT", "/api/option/",
                          {"key": "ModelRatio", "value": json.dumps(ratios)})
            elif step == 2:
                chans = await api(self.port, self.root, "GET", "/api/channel/?p=0")
                ch = next(c for c in chans if c["name"] == "ok")
                await api(self.port, self.root, "PUT", "/api/channel/", {**ch, "priority": n % 3})
            elif self.temp_channel is None:
                await api(self.port, self.root, "POST", "/api/channel/", {
                    "name": "temp", "type": 1, "key": "sk-ok", "base_url": self.upstream,
                    "models": "gpt-3.5-turbo", "group": "default"})
                chans = await api(self.port, self.root, "GET", "/api/channel/?p=0")
                self.temp_channel = next(c["id"] for c in chans if c["name"] == "temp")
            else:
                await api(self.port, self.root, "DELETE", f"/api/channel/{self.temp_channel}")
                self.temp_channel = None
            self._count("change ok")
        except (RuntimeError, OSError, StopIteration, asyncio.TimeoutError) as e:
            self._count(f"change failed: {str(e)[:60]}")

    async def run(self, duration: float, rate: float, change_every: float,
                  on_tick: Callable[[float], Any], tick_every: float) -> None:
        """Open loop: request i starts at i / rate seconds, whatever the others do."""
        tasks: set[asyncio.Task[Any]] = set()
        t0 = loop_time = asyncio.get_running_loop().time
        start = t0()
        i = 0
        next_change = change_every
        next_tick = tick_every
        while (now := loop_time() - start) < duration:
            while i < now * rate:
                t = asyncio.get_running_loop().create_task(self.one(i), name=f"{LOAD_TASK}-{i}")
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                i += 1
            if now >= next_change:
                next_change += change_every
                t = asyncio.get_running_loop().create_task(self.change(), name=f"{LOAD_TASK}-change")
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            if now >= next_tick:
                next_tick += tick_every
                on_tick(now)
            await asyncio.sleep(min(0.01, 1 / rate))
        if tasks:
            await asyncio.wait(tasks, timeout=60)


def check(samples: list[tuple[float, dict[str, Any]]], idle: dict[str, Any], base_idle: dict[str, Any],
          warmup: float) -> list[str]:
    """What grew past its bound: any sample after warm-up against the first one after it, and
    the idle state after the load against the idle state before it."""
    after = [s for t, s in samples if t >= warmup]
    problems = []
    if len(after) >= 2:
        first = after[0]
        for k in ("rss_mb", "fds", "tasks"):
            peak = max(s[k] for s in after[1:])
            if peak - first[k] > BOUNDS[k]:
                problems.append(f"{k} grew from {first[k]} to {peak} after warm-up (bound +{BOUNDS[k]})")
    for k in ("tasks", "curl_in_use", "curl_queued", "jobs"):
        if idle[k] > base_idle[k]:
            problems.append(f"{k}: {idle[k]} once idle after the load, {base_idle[k]} before it")
    if idle["fds"] - base_idle["fds"] > 8:
        problems.append(f"fds: {idle['fds']} once idle after the load, {base_idle['fds']} before it")
    return problems


async def wait_idle(ctx: Any, base: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """The sample once nothing is in flight any more (requests settled, curl handles back, and
    with ``base`` the tasks and fds back to its level), or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    s = sample(ctx)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        s = sample(ctx)
        if not s["jobs"] and not s["curl_in_use"] and not s["curl_queued"] and (
                base is None or (s["tasks"] <= base["tasks"] and s["fds"] <= base["fds"])):
            await asyncio.sleep(1.0)  # connections close, callbacks end
            return sample(ctx)
    return s


def fmt(t: float, s: dict[str, Any], counts: dict[str, int] | None = None) -> str:
    line = (f"t={t:6.0f}s  rss={s['rss_mb']:7.1f} MB  fds={s['fds']:4d}  tasks={s['tasks']:4d}  "
            f"curl in use/sockets/queued={s['curl_in_use']}/{s['curl_sockets']}/{s['curl_queued']}  "
            f"in flight={s['jobs']}")
    if counts is not None:
        line += "  answers: " + ", ".join(f"{k}×{v}" for k, v in sorted(counts.items()))
    return line


def dump_tasks() -> None:
    for t in asyncio.all_tasks():
        print("   task", t.get_name(), t.get_coro())
        fr = t.get_coro().cr_frame
        if fr is not None and "_server_request_loop" in str(t.get_coro()):
            conn = fr.f_locals.get("self")
            st = conn.stream
            print("     stream closed", st.closed(), "socket", st.socket, "reading", st.reading(), "writing", st.writing())
            print("     read buffer", bytes(st._read_buffer[:300]))
            print("     locals", {k: repr(v)[:300] for k, v in fr.f_locals.items()})


# -- the run ------------------------------------------------------------------------------
def serve_upstream(port: int) -> None:
    """The fake upstream alone in its own process (``--serve-upstream PORT``)."""
    import tornado.httpserver
    import tornado.ioloop

    from tests.fakeupstream import UpstreamState, make_upstream_app

    import logging

    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)

    async def go() -> None:
        tornado.httpserver.HTTPServer(make_upstream_app(UpstreamState())).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(go())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def soak(duration: float, rate: float, every: float, warmup: float, change_every: float,
               out: Callable[[str], None] = print) -> tuple[list[str], list[tuple[float, dict[str, Any]]]]:
    """The whole run: (what grew past its bound, the samples). This process holds OneRelay only:
    the database and the fake upstream are child processes."""
    import subprocess

    import tornado.netutil

    from models.db import EmbeddedMongo
    from services.context import AppContext, Settings, http_server, make_app

    tmp = tempfile.mkdtemp(prefix="onerelay-soak-")
    mongo = EmbeddedMongo(os.path.join(tmp, "db"), os.path.join(tmp, "db.log"))
    mongo.start()
    up_port = _free_port()
    up = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-upstream", str(up_port)],
                          cwd=REPO_DIR, stdin=subprocess.DEVNULL)
    ctx = server = None
    try:
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", up_port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        root = secrets.token_hex(16)
        settings = Settings.from_env(env={}, mongodb_uri=f"mongodb://127.0.0.1:{mongo.port}/onerelay",
                                     data_dir=os.path.join(tmp, "data"), initial_root_access_token=root,
                                     frontend_dist=os.path.join(tmp, "nodist"))
        ctx = AppContext(settings)
        await ctx.start()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = http_server(make_app(ctx))
        server.add_sockets(sockets)
        load = Load(sockets[0].getsockname()[1], root, f"http://127.0.0.1:{up_port}")
        await load.setup()
        base_idle = await wait_idle(ctx)
        out(f"[soak] {duration:g} s at {rate:g} req/s, a change every {change_every:g} s, warm-up {warmup:g} s; "
            f"idle before: {fmt(0, base_idle)}")
        if os.environ.get("SOAK_TASKS"):
            dump_tasks()
        samples: list[tuple[float, dict[str, Any]]] = []

        def tick(t: float) -> None:
            s = sample(ctx)
            samples.append((t, s))
            out(fmt(t, s, load.counts))

        await load.run(duration, rate, change_every, tick, every)
        idle = await wait_idle(ctx, base_idle)
        out(f"[soak] idle after: {fmt(duration, idle)}")
        if os.environ.get("SOAK_TASKS"):
            dump_tasks()
        problems = check(samples, idle, base_idle, warmup)
        bad = {k: v for k, v in load.counts.items() if k.startswith(("client error", "change failed"))}
        if bad:
            problems.append(f"requests that got no answer or changes that failed: {bad}")
        for p in problems:
            out(f"[soak] GREW: {p}")
        if not problems:
            out("[soak] nothing grew past its bound after warm-up ("
                + ", ".join(f"{k} +{v}" for k, v in BOUNDS.items()) + "), and the idle state came back")
        return problems, samples
    finally:
        if server is not None:
            server.stop()
        if ctx is not None:
            await ctx.stop()
        up.terminate()
        up.wait(10)
        mongo.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    ap.add_argument("--rate", type=float, default=40, help="requests a second (40)")
    ap.add_argument("--every", type=float, default=30, help="seconds between samples (30)")
    ap.add_argument("--warmup", type=float, default=60, help="seconds before growth counts (60)")
    ap.add_argument("--change-every", type=float, default=5, help="seconds between management changes (5)")
    ap.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return 0
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)  # the errors are on purpose
    from server import run

    problems: list[str] = []

    async def go() -> None:
        nonlocal problems
        problems, _ = await soak(args.duration, args.rate, args.every, args.warmup, args.change_every,
                                 lambda line: print(line, flush=True))

    run(go())
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
