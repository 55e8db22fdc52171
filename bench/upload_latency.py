#!/usr/bin/env python3
"""Chat latency while big uploads stream through OneRelay.

Usage:  python bench/upload_latency.py [--duration 10] [--concurrency 8] [--upload-mb 20] [--uploaders 1]

Starts, all on 127.0.0.1:
  * the fake OpenAI upstream of the test suite (tests/fakeupstream.py) in a child process (and a
    second one that takes the uploads, so the fake's own work on them delays no chat answer),
  * OneRelay (`python server.py --port N`, fresh DATA_DIR) the way bench/run.py starts it,
    with a chat channel and a whisper-1 channel on that upstream and an unlimited token,
then runs `--concurrency` concurrent small non-stream chat requests for `--duration` seconds,
twice: alone, then while `--uploaders` processes send `--upload-mb` MB transcriptions
(multipart, response_format verbose_json) back to back. Prints p50/p99/max chat latency and
req/s of both runs side by side, and how many uploads went through and how long each took.

The load comes from this process (asyncio + curl); the uploaders are separate processes so
that their CPU does not slow the chat client. Needs nothing beyond the repo's dependencies.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
import run as benchrun  # noqa: E402  (bench/run.py: process bookkeeping, OneRelay start and setup)

CHAT_MODEL = benchrun.MODEL
CHAT_BODY = json.dumps({"model": CHAT_MODEL, "messages": benchrun.MESSAGES}).encode()


# -- the fake upstream (child process) -----------------------------------------------------------

def serve_upstream(port: int) -> None:
    sys.path.insert(0, REPO_DIR)
    import tornado.httpserver
    import tornado.ioloop

    from tests.fakeupstream import UpstreamState, make_upstream_app

    state = UpstreamState()
    server = tornado.httpserver.HTTPServer(make_upstream_app(state), max_body_size=64 * 1024 * 1024)
    server.listen(port, "127.0.0.1")
    # The fake records every request; forget them so a long run does not grow.
    tornado.ioloop.PeriodicCallback(state.reset, 1000).start()
    tornado.ioloop.IOLoop.current().start()


def start_upstream(tmp: str) -> int:
    port = benchrun.free_port()
    log = open(os.path.join(tmp, f"upstream-{port}.log"), "wb")
    proc = benchrun.spawn("upstream", [sys.executable, os.path.abspath(__file__), "--serve-upstream", str(port)],
                          cwd=REPO_DIR, stdin=benchrun.subprocess.DEVNULL, stdout=log, stderr=log)
    if not benchrun.wait_port(port, 20, proc):
        raise RuntimeError(f"the fake upstream did not start:\n{benchrun.tail(log.name)}")
    return port


# -- uploads (child processes) -------------------------------------------------------------------

def multipart_upload(size: int) -> tuple[bytes, str]:
    boundary = "bench" + os.urandom(8).hex()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"long.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    return head + os.urandom(size) + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload_loop(port: int, auth: str, size: int, stop: Any, results: Any) -> None:
    body, ctype = multipart_upload(size)
    done: list[float] = []
    errors = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("POST", "/v1/audio/transcriptions", body=body,
                         headers={"Authorization": auth, "Content-Type": ctype})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if resp.status == 200 and b'"duration"' in data:
                done.append(time.perf_counter() - t0)
            else:
                errors += 1
        except OSError:
            errors += 1
    results.put((done, errors))


# -- chat load (this process) ---------------------------------------------------------------------

async def chat_load(port: int, auth: str, concurrency: int, seconds: float) -> dict[str, Any]:
    from tornado.curl_httpclient import CurlAsyncHTTPClient
    from tornado.httpclient import HTTPRequest

    client = CurlAsyncHTTPClient(force_instance=True, max_clients=concurrency)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    lat: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            req = HTTPRequest(url, method="POST", body=CHAT_BODY, request_timeout=60,
                              headers={"Authorization": auth, "Content-Type": "application/json"})
            t0 = time.perf_counter()
            resp = await client.fetch(req, raise_error=False)
            dt = time.perf_counter() - t0
            if resp.code == 200:
                lat.append(dt)
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - t0
    client.close()
    return summarize(lat, errors, elapsed)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def summarize(lat: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    return {"requests": len(lat), "errors": errors, "rps": len(lat) / elapsed if elapsed else 0.0,
            "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
            "max_ms": (max(lat) * 1000) if lat else float("nan"),
            "mean_ms": (statistics.fmean(lat) * 1000) if lat else float("nan")}


def print_table(alone: dict[str, Any], during: dict[str, Any], uploads: list[float], upload_errors: int,
                args: argparse.Namespace) -> None:
    rows = [("p50 ms", "p50_ms", "{:.1f}"), ("p99 ms", "p99_ms", "{:.1f}"), ("max ms", "max_ms", "{:.1f}"),
            ("mean ms", "mean_ms", "{:.1f}"), ("req/s", "rps", "{:.0f}"), ("requests", "requests", "{}"),
            ("errors", "errors", "{}")]
    print(f"\nChat latency, {args.concurrency} concurrent non-stream requests for {args.duration:g} s each "
          f"(loopback, 1 OneRelay worker)\n")
    print(f"| {'':10} | {'alone':>10} | {'during uploads':>15} |")
    print(f"|{'-' * 12}|{'-' * 12}|{'-' * 17}|")
    for label, key, fmt in rows:
        print(f"| {label:10} | {fmt.format(alone[key]):>10} | {fmt.format(during[key]):>15} |")
    mb = args.upload_mb
    if uploads:
        mean = statistics.fmean(uploads)
        print(f"\nUploads during the second run: {len(uploads)} × {mb:g} MB transcriptions by {args.uploaders} "
              f"uploader(s), {mean:.2f} s each on average (max {max(uploads):.2f} s, "
              f"{mb / mean:.0f} MB/s per upload), {upload_errors} failed")
    else:
        print(f"\nNo upload finished during the second run ({upload_errors} failed)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured run (10)")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent chat requests (8)")
    ap.add_argument("--upload-mb", type=float, default=20, help="size of each uploaded file in MB (20)")
    ap.add_argument("--uploaders", type=int, default=1, help="processes uploading back to back (1)")
    ap.add_argument("--warmup", type=float, default=1, help="warm-up seconds (1)")
    ap.add_argument("--startup-timeout", type=float, default=60, help="seconds to wait for OneRelay (60)")
    ap.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return 0

    signal.signal(signal.SIGTERM, benchrun._on_sigterm)
    tmp = tempfile.mkdtemp(prefix="onerelay-upload-bench-")
    atexit.register(shutil.rmtree, tmp, True)  # runs last: after the children are stopped
    atexit.register(benchrun.cleanup)
    print(f"[bench] cores={os.cpu_count()} tmp={tmp}", flush=True)
    up_port = start_upstream(tmp)
    # The uploads go to a second fake upstream: parsing and hashing 20 MB there must not delay
    # the chat answers, or the figures would measure the fake instead of OneRelay.
    upload_port = start_upstream(tmp)
    port, root = benchrun.start_onerelay(tmp, args.startup_timeout)
    auth = benchrun.setup_onerelay(port, root, up_port)
    benchrun.api("POST", f"http://127.0.0.1:{port}", "/api/channel/", root, {
        "name": "whisper", "type": 1, "key": "sk-upstream", "base_url": f"http://127.0.0.1:{upload_port}",
        "models": "whisper-1", "group": "default"})
    err = benchrun.check_response("onerelay", f"http://127.0.0.1:{port}/v1/chat/completions", auth, False)
    if err:
        raise RuntimeError(err)
    time.sleep(0.5)  # the channel cache picks up the whisper channel

    asyncio.run(chat_load(port, auth, args.concurrency, args.warmup))
    print(f"[bench] chat alone, {args.duration:g} s", flush=True)
    alone = asyncio.run(chat_load(port, auth, args.concurrency, args.duration))

    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    size = int(args.upload_mb * 1024 * 1024)
    procs = [ctx.Process(target=upload_loop, args=(port, auth, size, stop, results), daemon=True)
             for _ in range(args.uploaders)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # the uploads are under way before the chat load starts
    print(f"[bench] chat during {args.upload_mb:g} MB uploads, {args.duration:g} s", flush=True)
    during = asyncio.run(chat_load(port, auth, args.concurrency, args.duration))
    stop.set()
    uploads: list[float] = []
    upload_errors = 0
    for _ in procs:
        done, errors = results.get(timeout=180)
        uploads += done
        upload_errors += errors
    for p in procs:
        p.join(10)
    print_table(alone, during, uploads, upload_errors, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
