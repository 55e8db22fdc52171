#!/usr/bin/env python3
"""The upstream client alone: Tornado's stock curl client vs OneRelay's ``RelayCurlClient``.

Usage:  python bench/upstream_client.py [--requests 20000] [--concurrency 16] [--rounds 3]

Starts nginx (bench/run.py's canned upstream) and, in this one process, sends
``POST /v1/chat/completions`` through each client the way the relay does (``UpstreamCall``:
non-stream, and stream with a streaming callback), first one at a time (c=1: microseconds per
request, wall and CPU) and then ``--concurrency`` at a time (CPU microseconds per request).
Each figure is the median of ``--rounds`` alternated rounds. No OneRelay server, database or
load generator: only what the client glue costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (nginx helpers)
from tornado.curl_httpclient import CurlAsyncHTTPClient  # noqa: E402

from adaptors.base import UpstreamRequest  # noqa: E402
from relay.upstream import RelayCurlClient, UpstreamCall  # noqa: E402

BODY = b'{"model":"gpt-bench","messages":[{"role":"user","content":"Hello"}]}'


def stock_client() -> CurlAsyncHTTPClient:
    return CurlAsyncHTTPClient(force_instance=True, max_clients=64, max_body_size=512 * 1024 * 1024)


def relay_client() -> CurlAsyncHTTPClient:
    return RelayCurlClient(force_instance=True, max_clients=64, max_body_size=512 * 1024 * 1024)


async def one(client: CurlAsyncHTTPClient, url: str, stream: bool) -> int:
    req = UpstreamRequest(url=url, method="POST", headers={"Content-Type": "application/json",
                                                           "Authorization": "Bearer sk-x"}, body=BODY)
    call = UpstreamCall(client, req, timeout=60.0, proxy=None)
    got = 0
    if stream:
        def on_chunk(chunk: bytes) -> None:
            nonlocal got
            got += len(chunk)
        resp = await call.fetch(on_chunk)
    else:
        resp = await call.fetch()
        got = len(resp.body or b"")
    if resp.code != 200 or not got:
        raise RuntimeError(f"upstream answered {resp.code}: {resp.error}")
    return got


async def measure(client: CurlAsyncHTTPClient, url: str, stream: bool, n: int, conc: int) -> tuple[float, float]:
    """(wall µs per request, CPU µs per request)."""
    for _ in range(200):
        await one(client, url, stream)
    w0, c0 = time.perf_counter(), time.process_time()
    if conc == 1:
        for _ in range(n):
            await one(client, url, stream)
    else:
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one(client, url, stream)

        await asyncio.gather(*(worker() for _ in range(conc)))
    w1, c1 = time.perf_counter(), time.process_time()
    return 1e6 * (w1 - w0) / n, 1e6 * (c1 - c0) / n


async def main_async(args: argparse.Namespace, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    clients = {"tornado": stock_client(), "onerelay": relay_client()}
    rows = []
    for stream in (False, True):
        url = base + ("/stream" if stream else "") + "/v1/chat/completions"
        for conc in (1, args.concurrency):
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in clients}
            for _ in range(args.rounds):
                for name, client in clients.items():
                    res[name].append(await measure(client, url, stream, args.requests, conc))
            rows.append((("stream" if stream else "non-stream"), conc,
                         {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
                          for k, v in res.items()}))
    print(f"\nUpstream client alone (one process, nginx upstream, {args.requests} requests per round, "
          f"median of {args.rounds} rounds): µs per request")
    print(f"{'scenario':<11} {'c':>3} | {'tornado wall':>12} {'cpu':>6} | {'onerelay wall':>13} {'cpu':>6} | cpu saved")
    print("-" * 74)
    for sc, conc, r in rows:
        (tw, tc), (ow, oc) = r["tornado"], r["onerelay"]
        print(f"{sc:<11} {conc:>3} | {tw:>12.1f} {tc:>6.1f} | {ow:>13.1f} {oc:>6.1f} | {tc - oc:>+7.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    run.ensure_tools()
    tmp = tempfile.mkdtemp(prefix="onerelay-client-bench-")
    try:
        port = run.start_nginx(tmp)
        try:
            import uvloop

            uvloop.run(main_async(args, port))
        except ImportError:
            asyncio.run(main_async(args, port))
    finally:
        run.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
