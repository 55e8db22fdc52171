#!/usr/bin/env python3
"""A/B: OneRelay at another commit vs this working tree, side by side on one machine.

Usage:  python bench/ab.py --base REV [--rounds 5] [--duration 5] [--connections 16] [--c1 4]

Checks REV out into a temporary ``git worktree``, starts nginx (bench/run.py's canned upstream)
and both OneRelays (one process each, a fresh embedded database each, auth, billing and logging
on), then alternates short wrk runs between them: non-stream and stream at ``--connections``
(req/s and CPU microseconds per request of the OneRelay process, its database not counted) and
at c=1 (p50 latency). Each figure is the median of ``--rounds`` rounds; A and B take turns going
first. Alternating on the same machine at the same time cancels most of a shared machine's
noise, which single runs of bench/run.py do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (nginx, OneRelay, wrk helpers)


def worktree(rev: str, tmp: str) -> str:
    path = os.path.join(tmp, "base")
    subprocess.run(["git", "-C", run.REPO_DIR, "worktree", "add", "--detach", path, rev], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def start(repo: str, tmp: str, name: str, upstream_port: int, timeout: float) -> tuple[int, int, str]:
    run.REPO_DIR = repo
    port, root_token = run.start_onerelay(tmp, timeout, 1, name)
    pid = next(p.pid for n, p in run._children if n == name)
    return port, pid, run.setup_onerelay(port, root_token, upstream_port)


def one_run(label: str, url: str, script: str, args: argparse.Namespace, pid: int, conns: int) -> dict:
    a = argparse.Namespace(**vars(args))
    a.connections, a.threads = conns, min(2, conns)
    c0 = run.proc_cpu_seconds(pid)
    out = run.run_wrk(url, script, a, args.duration)
    c1 = run.proc_cpu_seconds(pid)
    res = run.parse_wrk(out)
    if not res.get("requests") or res["non_2xx"] or res["socket_errors"]:
        raise RuntimeError(f"{label}: failed run:\n{out}")
    res["cpu_us"] = 1e6 * (c1 - c0) / res["requests"]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the commit to compare with (A); B is this working tree")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--c1", type=float, default=4.0, help="seconds of each c=1 run (0 skips them)")
    args = ap.parse_args()
    run.ensure_tools()
    here = run.REPO_DIR
    tmp = tempfile.mkdtemp(prefix="onerelay-ab-")
    # Both serve this tree's built console (a checkout without one would build it meanwhile).
    os.environ["FRONTEND_DIST"] = os.path.join(here, "frontend", "dist")
    base = worktree(args.base, tmp)
    try:
        up = run.start_nginx(tmp)
        servers = {"A": start(base, tmp, "onerelay-a", up, 60), "B": start(here, tmp, "onerelay-b", up, 60)}
        run.REPO_DIR = here
        body = {"non-stream": {"model": run.MODEL, "messages": run.MESSAGES},
                "stream": {"model": run.STREAM_MODEL, "stream": True, "messages": run.MESSAGES}}
        scripts = {(s, k): run.write_lua(tmp, f"{k}-{s}", body[s], servers[k][2]) for s in body for k in servers}
        results: dict[tuple[str, str, int], list[dict]] = {}
        for name, (port, pid, _) in servers.items():  # warm-up
            for s in body:
                one_run(f"{name} warm-up", f"http://127.0.0.1:{port}/v1/chat/completions", scripts[(s, name)],
                        argparse.Namespace(**{**vars(args), "duration": 2}), pid, args.connections)
        conc = [args.connections] + ([1] if args.c1 > 0 else [])
        for r in range(args.rounds):
            order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
            for s in body:
                for c in conc:
                    for name in order:
                        port, pid, _ = servers[name]
                        a = args if c != 1 else argparse.Namespace(**{**vars(args), "duration": args.c1})
                        res = one_run(f"{name} {s} c={c}", f"http://127.0.0.1:{port}/v1/chat/completions",
                                      scripts[(s, name)], a, pid, c)
                        results.setdefault((name, s, c), []).append(res)
            print(f"[ab] round {r + 1}/{args.rounds} done", flush=True)
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "cpu_us", "p50_ms")}
               for k, v in results.items()}
        print(f"\nA = {args.base}, B = working tree; medians of {args.rounds} alternated rounds of {args.duration:g} s"
              f" (c={args.connections}){'' if args.c1 <= 0 else f' and {args.c1:g} s at c=1'}")
        print(f"{'scenario':<11} | {'A req/s':>8} {'B req/s':>8} {'':>6} | {'A cpu µs':>8} {'B cpu µs':>8} {'':>6}"
              f" | {'A p50 c=1':>9} {'B p50 c=1':>9}")
        print("-" * 92)
        for s in body:
            a, b = med[("A", s, args.connections)], med[("B", s, args.connections)]
            row = (f"{s:<11} | {a['rps']:>8.0f} {b['rps']:>8.0f} {100 * (b['rps'] / a['rps'] - 1):>+5.1f}% | "
                   f"{a['cpu_us']:>8.0f} {b['cpu_us']:>8.0f} {b['cpu_us'] - a['cpu_us']:>+6.0f}")
            if args.c1 > 0:
                a1, b1 = med[("A", s, 1)], med[("B", s, 1)]
                row += f" | {1000 * a1['p50_ms']:>7.0f}us {1000 * b1['p50_ms']:>7.0f}us"
            print(row)
    finally:
        run.cleanup()
        subprocess.run(["git", "-C", here, "worktree", "remove", "--force", base], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
