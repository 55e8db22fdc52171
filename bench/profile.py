#!/usr/bin/env python3
"""Where OneRelay's CPU goes on the hot path: py-spy over a wrk run, top functions printed.

Usage:  python bench/profile.py [--duration 15] [--stream] [--top 10] [--connections 32]

Starts nginx (the canned upstream) and one OneRelay process as bench/run.py does, loads
``POST /v1/chat/completions`` with wrk (non-stream, or stream with --stream), samples the
OneRelay process with py-spy meanwhile (``pip install py-spy``; run as root), and prints the
functions with the most samples: by own time (the function itself) and by total time (with
what it calls). The raw collapsed stacks stay in the temp dir (--keep-tmp) for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: nginx, OneRelay and wrk helpers)


def summarize(raw: str, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        samples += count
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        own[_short(frames[-1])] += count
        for f in set(_short(f) for f in frames):
            total[f] += count
    if not samples:
        return "no samples (is py-spy allowed to read the process? run as root)"
    idle = sum(c for f, c in own.items() if f.startswith(("select ", "poll ", "epoll", "_run_once", "wait ")))
    lines = [f"{samples} samples ({100 * idle / samples:.0f}% waiting in the event loop's poll)", "",
             f"top {top} by own time:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", f"top {top} by total time (the function and what it calls), past the event loop:"]
    skip = ("<module>", "run_forever", "_run_once", "_run ", "start ", "main ", "run ", "serve ")
    rows = [(f, c) for f, c in total.most_common(top * 4) if not f.startswith(skip)]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in rows[:top]]
    ours = [(f, c) for f, c in own.most_common() if _is_ours(f)]
    lines += ["", f"OneRelay's own code: {100 * sum(c for _, c in ours) / samples:.1f}% of samples; top {top}:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in ours[:top]]
    by_pkg: collections.Counter[str] = collections.Counter()
    for f, c in own.items():
        by_pkg[_package(f)] += c
    lines += ["", "own time by package:"]
    lines += [f"  {100 * c / samples:5.1f}%  {p}" for p, c in by_pkg.most_common(14)]
    return "\n".join(lines)


OURS = ("relay/", "handlers/", "models/", "adaptors/", "services/", "schemas/", "server.py")


def _is_ours(frame: str) -> bool:
    return any(f"({p}" in frame for p in OURS)


def _package(frame: str) -> str:
    path = frame.rpartition(" (")[2].rstrip(")")
    if any(path.startswith(p) for p in OURS):
        return path
    top = path.split("/", 1)[0]
    return top if "/" in path else path


def _short(frame: str) -> str:
    """``func (path/to/file.py:123)`` → ``func (file.py)``, repository paths relative."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    if run.REPO_DIR in path:
        path = os.path.relpath(path, run.REPO_DIR)
    elif not path.startswith("/") and not path.startswith("<"):
        pass  # already relative to the repository
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    else:
        path = os.path.basename(path)
    return f"{name} ({path})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--startup-timeout", type=float, default=60)
    args = ap.parse_args()
    if not shutil.which("py-spy"):
        print("py-spy is missing: pip install py-spy", file=sys.stderr)
        return 2
    run.ensure_tools()
    tmp = tempfile.mkdtemp(prefix="onerelay-profile-")
    try:
        up = run.start_nginx(tmp)
        errors: list[str] = []
        port, auth = run.launch_onerelay(tmp, args, up, errors, 1, "onerelay")
        if port is None or auth is None:
            print("\n".join(errors), file=sys.stderr)
            return 1
        body = {"model": run.STREAM_MODEL if args.stream else run.MODEL, "messages": run.MESSAGES}
        if args.stream:
            body["stream"] = True
        script = run.write_lua(tmp, "profile", body, auth)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        pid = next(p for name, proc in run._children if name == "onerelay" for p in [proc.pid])
        run.run_wrk(url, script, args, 3)  # warm-up
        out = os.path.join(tmp, "stacks.txt")
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", str(args.rate), "--format", "raw",
                                "--duration", str(int(args.duration)), "--output", out, "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        report = run.run_wrk(url, script, args, args.duration)
        spy.wait(timeout=args.duration + 60)
        parsed = run.parse_wrk(report)
        print(f"{'stream' if args.stream else 'non-stream'}: {parsed.get('rps', 0):,.0f} req/s under py-spy "
              f"(sampling slows it; use bench/run.py for throughput)\n")
        with open(out) as f:
            print(summarize(f.read(), args.top))
        if args.keep_tmp:
            print(f"\ncollapsed stacks: {out}")
        return 0
    finally:
        run.cleanup()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
