#!/usr/bin/env python3
"""How cost grows with the data: route and auth time per request, and start-up time, with
10k channels and 1M tokens loaded.

Usage:  python bench/scale.py [--channels 10000] [--tokens 1000000] [--startups 3]

Fills a fresh embedded database (child process) with ``--channels`` channels (OpenAI type, in
the ``default`` group: one model each ``m-<i>``, every tenth also ``shared-100`` (100 channels
over 10 priorities), all of them ``shared-all``) and ``--tokens`` tokens of one user, with the
indexes OneRelay creates. Then, in this process, on an AppContext started against it (as
server.py builds it):

* route: ``ChannelRouter.pick`` for a model one channel serves, one 100 channels serve and one
  every channel serves (the weighted choice among a band); the table's rebuild (``reload``,
  run on every channel change);
* auth: ``Job.authorize`` with a cached token (the hot path) and a token not yet cached (one
  indexed ``find`` among ``--tokens``), and ``parse_request`` for a small chat body;

and ``python server.py`` started ``--startups`` times against the filled database: seconds
until ``/api/status`` answers. Stdlib and the repository only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Awaitable, Callable

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_DIR not in sys.path:
    sys.path.insert(0, REPO_DIR)


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Median over 5 rounds of the µs per call of ``fn``."""
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


async def per_await(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


async def fill(db: Any, channels: int, tokens: int) -> list[str]:
    """Channels and tokens written straight in the documented shape; returns the tokens' keys."""
    now = int(time.time())
    docs = []
    for i in range(1, channels + 1):
        models = [f"m-{i}", "shared-all"] + (["shared-100"] if i % (channels // 100 or 1) == 0 else [])
        docs.append({"_id": i, "type": 1, "key": f"sk-{i}", "status": 1, "name": f"ch-{i}",
                     "base_url": "http://127.0.0.1:9", "models": ",".join(models), "group": "default",
                     "priority": i % 10 if "shared-100" in models else 0, "weight": 0,
                     "created_time": now, "model_mapping": "", "other": "", "config": "{}"})
    for b in range(0, len(docs), 1000):
        await db.channels.insert_many(docs[b:b + 1000], ordered=False)
    await db.counters.update_one({"_id": "channels"}, {"$set": {"seq": channels}}, upsert=True)
    keys = []
    t0 = time.monotonic()
    batch = 10_000
    for b in range(0, tokens, batch):
        rows = []
        for i in range(b + 1, min(b + batch, tokens) + 1):
            key = secrets.token_hex(24)
            keys.append(key)
            rows.append({"_id": 1_000_000 + i, "user_id": 1, "key": key, "status": 1, "name": f"t{i}",
                         "created_time": now, "accessed_time": now, "expired_time": -1,
                         "remain_quota": 0, "unlimited_quota": True, "used_quota": 0})
        await db.tokens.insert_many(rows, ordered=False)
        if (b // batch) % 10 == 9:
            done = b + batch
            rate = done / (time.monotonic() - t0)
            print(f"[scale] {done:,} tokens written ({rate:,.0f}/s, {(tokens - done) / rate:,.0f} s left)", flush=True)
    return keys


def startup_seconds(uri: str, data_dir: str, root: str) -> float:
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ, MONGODB_URI=uri, DATA_DIR=data_dir, INITIAL_ROOT_ACCESS_TOKEN=root,
               LOG_LEVEL="WARNING", REDIS_CONN_STRING="", WORKERS="", NODE_TYPE="")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.join(REPO_DIR, "server.py"), "--port", str(port)],
                            cwd=REPO_DIR, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - t0 < 300:
            if proc.poll() is not None:
                raise RuntimeError(f"server.py exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server.py did not answer /api/status in 300 s")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def main_async(args: argparse.Namespace) -> None:
    from models.db import EmbeddedMongo
    from relay import endpoints
    from relay.pipeline import Job
    from services.context import AppContext, Settings

    tmp = tempfile.mkdtemp(prefix="onerelay-scale-")
    mongo = EmbeddedMongo(os.path.join(tmp, "db"), os.path.join(tmp, "db.log"))
    mongo.start()
    root = secrets.token_hex(16)
    uri = f"mongodb://127.0.0.1:{mongo.port}/onerelay"
    data_dir = os.path.join(tmp, "data")
    try:
        settings = Settings.from_env(env={}, mongodb_uri=uri, data_dir=data_dir, initial_root_access_token=root,
                                     frontend_dist=os.path.join(tmp, "nodist"))
        ctx = AppContext(settings)
        await ctx.start()  # indexes, the root user, options
        t0 = time.monotonic()
        keys = await fill(ctx.db, args.channels, args.tokens)
        print(f"[scale] {args.channels:,} channels and {args.tokens:,} tokens written in "
              f"{time.monotonic() - t0:,.0f} s", flush=True)
        t0 = time.monotonic()
        await ctx.router.reload()
        reload_s = time.monotonic() - t0
        router = ctx.router
        print(f"\nWith {args.channels:,} channels and {args.tokens:,} tokens loaded (one process, "
              f"{'uvloop' if 'uvloop' in type(asyncio.get_running_loop()).__module__ else 'asyncio'}):")
        rows = [("route: pick, a model 1 channel serves", per_call(lambda: router.pick("default", "m-7"), 20000)),
                ("route: pick, a model 100 channels serve (10 priorities)",
                 per_call(lambda: router.pick("default", "shared-100"), 20000)),
                (f"route: pick, a model all {args.channels:,} channels serve",
                 per_call(lambda: router.pick("default", "shared-all"), 200)),
                (f"route: table rebuild (reload, on every channel change), {args.channels:,} channels",
                 reload_s * 1e6)]

        class Sink:
            closed = started = False

        hot = keys[0]
        job = Job(ctx, Sink(), "chat", "scale")  # type: ignore[arg-type]
        await job.authorize("Bearer sk-" + hot, "127.0.0.1")
        rows.append(("auth: Job.authorize, token cached", await per_await(
            lambda: Job(ctx, Sink(), "chat", "scale").authorize("Bearer sk-" + hot, "127.0.0.1"), 5000)))  # type: ignore[arg-type]
        cold = iter(keys[1:])
        rows.append((f"auth: Job.authorize, token not cached (a find among {args.tokens:,})", await per_await(
            lambda: Job(ctx, Sink(), "chat", "scale").authorize("Bearer sk-" + next(cold), "127.0.0.1"), 200)))  # type: ignore[arg-type]
        body = b'{"model":"m-7","messages":[{"role":"user","content":"hi"}]}'
        rows.append(("request: parse_request, a small chat body",
                     per_call(lambda: endpoints.parse_request("chat", body), 20000)))
        width = max(len(r[0]) for r in rows)
        for name, us in rows:
            print(f"  {name:<{width}}  {us:12,.1f} µs")
        await ctx.stop()
        if args.startups:
            times = [startup_seconds(uri, data_dir, root) for _ in range(args.startups)]
            print(f"  {'start-up: python server.py until /api/status answers':<{width}}  "
                  f"{statistics.median(times):12.2f} s  (median of {len(times)}: "
                  + ", ".join(f"{t:.2f}" for t in times) + ")")
    finally:
        mongo.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=10_000)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--startups", type=int, default=3, help="server.py start-ups timed (0 skips)")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from server import run

    run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
