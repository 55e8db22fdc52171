#!/usr/bin/env python3
"""OneRelay load benchmark: direct-to-upstream vs through-OneRelay.

Usage:  python bench/run.py [--duration 10] [--connections 50] [--quick] [--workers 2]

Starts, all on 127.0.0.1:
  * nginx (Debian package) as a canned OpenAI upstream (non-daemon child),
  * OneRelay (`python server.py --port N`) with a fresh DATA_DIR,
  * then OneRelay again with `--workers 2` (fresh DATA_DIR, same upstream,
    same load) to show how it scales across processes (--workers 1 skips it),
  * a minimal Tornado+curl relay (the floor) and, when npm is there, Portkey's
    gateway (npm @portkey-ai/gateway, installed into a cache dir) on the same
    upstream, with the ratios OneRelay/Portkey and OneRelay/floor,
  * with --latency, one connection (c=1) to each for the p50 overhead,
configures a channel + token through the One API management API, then runs
wrk against each scenario and prints a side-by-side table.  Results are also
written as JSON into bench/results/ (gitignored).

Stdlib only.  Needs the `nginx` and `wrk` binaries (apt-get installed when
missing and running as root); `node` and `npm` for the Portkey peer.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as _dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")

UPSTREAM_KEY = "sk-upstream"
MODEL = "gpt-3.5-turbo"
STREAM_MODEL = "gpt-stream"
MESSAGES = [{"role": "user", "content": "hi"}]

# --------------------------------------------------------------------------
# child process bookkeeping / cleanup
# --------------------------------------------------------------------------

_children: list[tuple[str, subprocess.Popen]] = []


def _stop(name: str, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM our child, wait, then SIGKILL.  Every child runs in its own
    session (start_new_session=True), so its process group contains only
    processes it spawned (nginx workers, the embedded database, ...); those
    are swept up after the child itself has exited."""
    pgid = proc.pid  # new session => pgid == pid
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"[bench] {name} did not exit after SIGTERM; killing", file=sys.stderr)
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(5)
    # Leftover grandchildren in the child's own process group.
    for sig, pause in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.1)


# OneRelay flushes quota and logs on SIGTERM; after a heavy run that can take a while.
STOP_TIMEOUT = {"onerelay": 60.0}


def cleanup() -> None:
    while _children:
        name, proc = _children.pop()
        try:
            _stop(name, proc, STOP_TIMEOUT.get(name.split("-")[0], 10.0))
        except Exception as exc:  # keep cleaning the others
            print(f"[bench] failed to stop {name}: {exc}", file=sys.stderr)


def spawn(name: str, argv: list[str], **kw) -> subprocess.Popen:
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    _children.append((name, proc))
    return proc


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def tail(path: str, n: int = 60) -> str:
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no output)"


def ensure_tools() -> None:
    missing = [pkg for pkg in ("nginx", "wrk") if shutil.which(pkg) is None
               and not os.path.exists(f"/usr/sbin/{pkg}")]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"[bench] missing {', '.join(missing)}; install with: "
                 f"apt-get install -y {' '.join(missing)}")
    print(f"[bench] installing {' '.join(missing)} with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


# --------------------------------------------------------------------------
# upstream: nginx with canned OpenAI responses
# --------------------------------------------------------------------------

CREATED = 1700000000


def canned_completion() -> bytes:
    obj = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant",
                        "content": "Hello! This is a canned benchmark response."},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    }
    return json.dumps(obj, separators=(",", ":")).encode()


def canned_stream() -> bytes:
    words = ["Hello", " from", " the", " bench", " upstream", ",", " this", " is",
             " streamed", "."]
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk",
            "created": CREATED, "model": STREAM_MODEL}
    frames = []
    for i, w in enumerate(words):
        delta = {"role": "assistant", "content": w} if i == 0 else {"content": w}
        finish = "stop" if i == len(words) - 1 else None
        frames.append(dict(base, choices=[{"index": 0, "delta": delta,
                                           "finish_reason": finish}]))
    frames.append(dict(base, choices=[],
                       usage={"prompt_tokens": 10, "completion_tokens": 20,
                              "total_tokens": 30}))
    out = "".join("data: " + json.dumps(f, separators=(",", ":")) + "\n\n" for f in frames)
    out += "data: [DONE]\n\n"
    return out.encode()


def nginx_quote(body: bytes) -> str:
    """Single-quoted nginx string literal.  nginx unescapes \\\\, \\', \\n, \\r,
    \\t inside quoted strings; `$` would start a variable, so refuse it."""
    text = body.decode()
    if "$" in text:
        raise ValueError("nginx return body must not contain '$'")
    text = (text.replace("\\", "\\\\").replace("'", "\\'")
            .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return "'" + text + "'"


def nginx_conf(tmp: str, port: int) -> str:
    return f"""\
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name localhost;

        location = /v1/chat/completions {{
            types {{ }}
            default_type application/json;
            return 200 {nginx_quote(canned_completion())};
        }}

        location = /stream/v1/chat/completions {{
            types {{ }}
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 {nginx_quote(canned_stream())};
        }}
    }}
}}
"""


def start_nginx(tmp: str) -> int:
    port = free_port()
    ndir = os.path.join(tmp, "nginx")
    os.makedirs(ndir, exist_ok=True)
    conf = os.path.join(ndir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(ndir, port))
    log = os.path.join(ndir, "nginx-stderr.log")
    # -e: also keep the startup error log out of /var/log/nginx.
    argv = [nginx_bin(), "-p", ndir, "-c", conf, "-e", os.path.join(ndir, "nginx-error.log")]
    with open(log, "wb") as out:
        proc = spawn("nginx", argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    if not wait_port(port, 10, proc):
        sys.exit(f"[bench] nginx failed to start:\n{tail(log)}\n"
                 f"{tail(os.path.join(ndir, 'nginx-error.log'))}")
    return port


# --------------------------------------------------------------------------
# HTTP (urllib) helpers
# --------------------------------------------------------------------------


def http(method: str, url: str, body=None, headers=None, timeout: float = 10.0):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def check_response(label: str, url: str, auth: str, stream: bool) -> str | None:
    """One request before loading; returns an error string or None."""
    body = {"model": STREAM_MODEL if stream else MODEL, "messages": MESSAGES}
    if stream:
        body["stream"] = True
    try:
        status, hdrs, data = http("POST", url, body, {"Authorization": auth})
    except Exception as exc:
        return f"{label}: request failed: {exc}"
    ctype = next((v for k, v in hdrs.items() if k.lower() == "content-type"), "")
    text = data.decode(errors="replace")
    if status != 200:
        return f"{label}: HTTP {status}: {text[:500]}"
    if stream:
        if "text/event-stream" not in ctype or "data: [DONE]" not in text:
            return f"{label}: bad SSE response ({ctype}): {text[:500]}"
    else:
        try:
            obj = json.loads(text)
            obj["choices"][0]["message"]["content"]
        except Exception:
            return f"{label}: bad JSON response ({ctype}): {text[:500]}"
    return None


# --------------------------------------------------------------------------
# OneRelay
# --------------------------------------------------------------------------


def start_onerelay(tmp: str, timeout: float, workers: int = 1,
                   name: str = "onerelay") -> tuple[int, str]:
    server_py = os.path.join(REPO_DIR, "server.py")
    if not os.path.exists(server_py):
        raise RuntimeError(f"{server_py} does not exist")
    port = free_port()
    token = secrets.token_hex(16)  # 32 hex chars
    data_dir = os.path.join(tmp, f"{name}-data")
    os.makedirs(data_dir, exist_ok=True)
    env = dict(os.environ)
    # Fresh embedded database, default settings.  Set to "" rather than removed so
    # that a local .env (python-dotenv never overrides set variables) can't bring
    # them back.
    for var in ("MONGODB_URI", "LOG_MONGODB_URI", "REDIS_CONN_STRING",
                "BATCH_UPDATE_INTERVAL", "PORT", "DEBUG", "WORKERS", "NODE_TYPE"):
        env[var] = ""
    env.update(DATA_DIR=data_dir, INITIAL_ROOT_ACCESS_TOKEN=token,
               LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    argv = [sys.executable, server_py, "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    with open(server_py, errors="replace") as f:
        if "--log-dir" in f.read():  # keep log files out of the repo's ./logs
            argv += ["--log-dir", os.path.join(tmp, f"{name}-logs")]
    log = os.path.join(tmp, f"{name}.log")
    with open(log, "wb") as out:
        proc = spawn(name, argv,
                     cwd=REPO_DIR, env=env, stdin=subprocess.DEVNULL,
                     stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"OneRelay exited with code {proc.returncode}:\n{tail(log)}")
        try:
            status, _, body = http("GET", f"http://127.0.0.1:{port}/api/status", timeout=2)
            if status == 200:
                return port, token
            last = f"HTTP {status}: {body[:200]!r}"
        except Exception as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"OneRelay /api/status not ready after {timeout:.0f}s "
                       f"(last: {last}):\n{tail(log)}")


def api(method: str, base: str, path: str, token: str, body=None):
    status, _, data = http(method, base + path, body, {"Authorization": token})
    try:
        env = json.loads(data)
    except ValueError:
        raise RuntimeError(f"{method} {path}: HTTP {status}, non-JSON body: {data[:300]!r}")
    if not isinstance(env, dict) or not env.get("success"):
        msg = env.get("message") if isinstance(env, dict) else env
        raise RuntimeError(f"{method} {path}: HTTP {status}, failed: {msg!r}")
    return env.get("data")


def launch_onerelay(tmp: str, args: argparse.Namespace, upstream_port: int, errors: list[str], workers: int,
                    name: str) -> tuple[int | None, str | None]:
    """Start and set up OneRelay with ``workers`` processes: (port, auth header), or
    (None, None) with the reason in ``errors`` when it cannot run."""
    label = "OneRelay" if workers == 1 else f"OneRelay --workers {workers}"
    try:
        port, root_token = start_onerelay(tmp, args.startup_timeout, workers, name)
        return port, setup_onerelay(port, root_token, upstream_port)
    except Exception as exc:
        errors.append(f"{label}: {exc}")
        print(f"[bench] {label} unavailable:\n{exc}", file=sys.stderr, flush=True)
        return None, None


def setup_onerelay(port: int, root_token: str, upstream_port: int) -> str:
    """Create the two channels and a token; returns the client's Authorization value."""
    base = f"http://127.0.0.1:{port}"
    up = f"http://127.0.0.1:{upstream_port}"
    api("POST", base, "/api/channel/", root_token, {
        "name": "bench", "type": 1, "key": UPSTREAM_KEY, "base_url": up,
        "models": MODEL, "group": "default"})
    api("POST", base, "/api/channel/", root_token, {
        "name": "bench-stream", "type": 1, "key": UPSTREAM_KEY, "base_url": up + "/stream",
        "models": STREAM_MODEL, "group": "default"})
    api("POST", base, "/api/token/", root_token, {
        "name": "bench", "remain_quota": 0, "unlimited_quota": True, "expired_time": -1})
    tokens = api("GET", base, "/api/token/?p=0", root_token)
    if isinstance(tokens, dict):  # tolerate a paginated {"items"/"data": [...]} shape
        tokens = tokens.get("items") or tokens.get("data") or []
    for t in tokens or []:
        if t.get("name") == "bench" and t.get("key"):
            key = t["key"]
            return "Bearer " + (key if key.startswith("sk-") else "sk-" + key)
    raise RuntimeError(f"GET /api/token/?p=0: no token named 'bench' in {tokens!r:.300}")


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------


def lua_long_string(s: str) -> str:
    level = 0
    while ("]" + "=" * level + "]") in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


def write_lua(tmp: str, name: str, body: dict, auth: str, headers: dict | None = None) -> str:
    path = os.path.join(tmp, f"{name}.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {lua_long_string(json.dumps(body, separators=(',', ':')))}\n")
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.headers["Authorization"] = {lua_long_string(auth)}\n')
        for k, v in (headers or {}).items():
            f.write(f'wrk.headers[{json.dumps(k)}] = {lua_long_string(v)}\n')  # not t[[[k]]]: a call in Lua
    return path


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(out: str) -> dict:
    res: dict = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None,
                 "non_2xx": 0, "socket_errors": 0}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        res["requests"] = int(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
        if m:
            res[key] = round(_ms(m.group(1), m.group(2)), 3)
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if m:
        res["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["socket_errors"] = sum(int(x) for x in m.groups())
        res["socket_errors_detail"] = dict(zip(("connect", "read", "write", "timeout"),
                                              map(int, m.groups())))
    return res


def run_wrk(url: str, script: str, args, seconds: float) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s",
            "--latency", "--timeout", "10s", "-s", script, url]
    proc = spawn("wrk", argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            _children.remove(("wrk", proc))
        except ValueError:
            pass
    return out.decode(errors="replace")


def measure(label: str, url: str, script: str, args, cpu_of: dict | None = None) -> dict:
    """wrk against ``url``. With ``cpu_of`` ({group: root pid}), also the CPU each process
    group, wrk and the machine spent per request (the groups' share includes the batched
    writes flushed in the seconds after the run)."""
    if args.warmup > 0:
        print(f"[bench] {label}: warm-up {args.warmup:g}s ...", flush=True)
        run_wrk(url, script, args, args.warmup)
    print(f"[bench] {label}: measuring {args.duration:g}s ...", flush=True)
    before = cpu_snapshot(cpu_of) if cpu_of else None
    out = run_wrk(url, script, args, args.duration)
    during = cpu_snapshot(cpu_of) if cpu_of else None
    res = parse_wrk(out)
    res["wrk_output"] = out
    if res["rps"] is None:
        print(f"[bench] {label}: could not parse wrk output:\n{out}", file=sys.stderr)
    if before and during and res.get("requests"):
        # Let the batch writer flush what this run queued: the database may lag behind a run
        # that kept every core busy; its catch-up is part of the cost per request.
        res["db_catch_up_s"] = wait_db_idle(cpu_of["onerelay"]) if "onerelay" in cpu_of else 0.0
        after = cpu_snapshot(cpu_of)
        n = res["requests"]
        res["cpu_us_per_req"] = {g: round(1e6 * (after["groups"][g] - before["groups"][g]) / n, 1)
                                 for g in before["groups"]}
        res["cpu_us_per_req"]["wrk"] = round(1e6 * (during["wrk"] - before["wrk"]) / n, 1)
        total = during["total"] - before["total"]
        res["machine_busy"] = round((during["busy"] - before["busy"]) / total, 3) if total else None
        c = res["cpu_us_per_req"]
        # Like the groups, from the start of the run to the end of the flush after it.
        c["all"] = round(1e6 * (after["busy"] - before["busy"]) / os.sysconf("SC_CLK_TCK") / n, 1)
        # Everything else the machine ran meanwhile (the kernel's loopback work, other programs).
        c["other"] = round(max(0.0, c["all"] - sum(v for k, v in c.items() if k != "all")), 1)
        # What the whole machine could relay at this CPU cost per request, all cores busy.
        res["cpu_bound_rps"] = round((os.cpu_count() or 1) * 1e6 / c["all"], 1) if c["all"] else None
        spent = [during["workers"][p] - before["workers"].get(p, 0.0) for p in during["workers"]]
        if len(spent) > 1 and sum(spent) > 0:  # how evenly SO_REUSEPORT spread the load
            res["worker_cpu_split"] = [round(x / sum(spent), 3) for x in sorted(spent, reverse=True)]
    return res


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _f(v, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def _lat(v) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f}us" if v < 1 else f"{v:.2f}ms" if v < 100 else f"{v:.0f}ms"


def _errs(r: dict | None) -> str:
    if r is None:
        return "-"
    n = r["non_2xx"] + r["socket_errors"]
    return f"{n} ({n / r['requests']:.0%})" if n and r.get("requests") else str(n)


def print_workers(results: dict, scenarios: list[str], workers: int) -> None:
    """OneRelay with 1 worker vs N workers."""
    print(f"\nOneRelay, 1 worker vs {workers} workers (same upstream, same load; "
          f"auth, billing and logging on)")
    hdr = (f"{'scenario':<12} | {'1 worker req/s':>14} {'p50':>8} {'p99':>8} | "
           f"{f'{workers} workers req/s':>15} {'p50':>8} {'p99':>8} | {'ratio':>6} | errors")
    print(hdr)
    print("-" * len(hdr))
    for sc in scenarios:
        one = results.get(f"onerelay/{sc}") or {}
        many = results.get(f"onerelay-{workers}w/{sc}") or {}
        ratio = (f"x{many['rps'] / one['rps']:.2f}" if one.get("rps") and many.get("rps") else "n/a")
        print(f"{sc:<12} | {_f(one.get('rps'), '.1f'):>14} {_lat(one.get('p50_ms')):>8} "
              f"{_lat(one.get('p99_ms')):>8} | {_f(many.get('rps'), '.1f'):>15} "
              f"{_lat(many.get('p50_ms')):>8} {_lat(many.get('p99_ms')):>8} | {ratio:>6} | "
              f"{_errs(one or None)}/{_errs(many or None)}")
    print("ratio = req/s with N workers / req/s with 1 worker")


def print_cpu(results: dict, scenarios: list[str], workers: int) -> None:
    """Where the CPU went in the OneRelay runs."""
    print(f"\nWhere the CPU went: microseconds per request (cores={os.cpu_count()})")
    hdr = (f"{'run':<24} | {'onerelay':>8} {'database':>8} {'nginx':>6} {'wrk':>6} "
           f"{'other':>6} {'all':>6} | {'busy':>5} | {'cpu-bound req/s':>15} | {'db idle after':>13}")
    print(hdr)
    print("-" * len(hdr))
    for sc in scenarios:
        for key, name in ((f"onerelay/{sc}", "1 worker"), (f"onerelay-{workers}w/{sc}", f"{workers} workers")):
            c = (results.get(key) or {}).get("cpu_us_per_req")
            if not c:
                continue
            busy = results[key].get("machine_busy")
            print(f"{sc + ', ' + name:<24} | {c.get('onerelay', 0):8.0f} {c.get('database', 0):8.0f} "
                  f"{c.get('nginx', 0):6.0f} {c.get('wrk', 0):6.0f} {c.get('other', 0):6.0f} "
                  f"{c.get('all', 0):6.0f} | "
                  f"{_f(busy, '.0%'):>5} | {_f(results[key].get('cpu_bound_rps'), '.0f'):>15} | "
                  f"{_f(results[key].get('db_catch_up_s'), '.0f') + ' s':>13}")
    for sc in scenarios:
        split = (results.get(f"onerelay-{workers}w/{sc}") or {}).get("worker_cpu_split")
        if split:
            print(f"{sc}, {workers} workers: CPU split between the workers "
                  + " / ".join(f"{x:.0%}" for x in split))
    print("onerelay = supervisor + workers; database = the embedded SecantusDB; all = the whole "
          "machine; each from the start of the run to the end of the batched quota/log flush after "
          "it (db idle after: seconds until the database had caught up). other = all - the rest (kernel, other programs: a busy machine skews every figure). "
          "busy = share of all cores in use during the run. cpu-bound req/s = cores / all: the "
          "sustained rate this machine could reach at that cost per request")


def _cpu(r: dict | None, group: str) -> str:
    c = (r or {}).get("cpu_us_per_req") or {}
    return f"{c[group]:.0f}" if c.get(group) is not None else "n/a"


def print_peers(results: dict, scenarios: list[str]) -> None:
    """OneRelay, the floor and Portkey side by side (one process each), with the ratios."""
    if not any(results.get(f"{n}/{sc}") for n in ("minimal", "portkey") for sc in scenarios):
        return
    print(f"\nSide by side, one process each (OneRelay with auth, billing and logging on; the floor with none; "
          f"Portkey {PORTKEY_VERSION} on Node {_node_version()}); event loop of OneRelay and the floor: "
          f"{event_loop_name()}")
    hdr = (f"{'scenario':<11}| {'onerelay':>9} {'cpu':>5} | {'floor':>9} {'cpu':>5} | {'portkey':>9} {'cpu':>5} "
           f"| {'errors o/f/p':>16} | {'OneRelay/Portkey':>16} {'OneRelay/floor':>14}")
    print(hdr)
    print("-" * len(hdr))
    for sc in scenarios:
        o, m, k = (results.get(f"{n}/{sc}") for n in ("onerelay", "minimal", "portkey"))
        ok_k, ok_m = _answered(k), _answered(m)
        vs_k = f"x{o['rps'] / ok_k['rps']:.2f}" if o and o.get("rps") and ok_k else "n/a"
        vs_m = f"{o['rps'] / ok_m['rps']:.0%}" if o and o.get("rps") and ok_m else "n/a"
        errs = f"{_errs(o)}/{_errs(m)}/{_errs(k)}"
        print(f"{sc:<11}| {_f((o or {}).get('rps'), '.0f'):>9} {_cpu(o, 'onerelay'):>5} | "
              f"{_f((m or {}).get('rps'), '.0f'):>9} {_cpu(m, 'minimal'):>5} | "
              f"{_f((k or {}).get('rps'), '.0f'):>9} {_cpu(k, 'portkey'):>5} | {errs:>16} | {vs_k:>16} {vs_m:>14}")
    print("req/s and cpu (µs of CPU of that process per request; OneRelay's database not included: see "
          "below); a ratio is n/a when most of that peer's answers failed (errors: non-2xx + socket errors)")


def _answered(r: dict | None) -> dict | None:
    """The run, when most of its answers were 2xx (a peer answering errors fast proves nothing)."""
    if not r or not r.get("rps") or not r.get("requests"):
        return None
    return None if (r["non_2xx"] + r["socket_errors"]) * 10 > r["requests"] else r


def print_latency(results: dict, scenarios: list[str]) -> None:
    names = [n for n in ("direct", "minimal", "onerelay", "portkey") if any(results.get(f"c1/{n}/{sc}")
                                                                           for sc in scenarios)]
    if not names:
        return
    print("\nOne connection (c=1): p50 latency, and overhead over the direct upstream's p50")
    hdr = f"{'scenario':<11}| " + " | ".join(f"{n:>8} p50 {'+':>1}{'over':>7}" for n in names)
    print(hdr)
    print("-" * len(hdr))
    for sc in scenarios:
        d = (results.get(f"c1/direct/{sc}") or {}).get("p50_ms")
        cells = []
        for n in names:
            r = results.get(f"c1/{n}/{sc}") or {}
            p50 = r.get("p50_ms")
            bad = r.get("requests") and (r["non_2xx"] + r["socket_errors"]) * 2 > r["requests"]
            over = f"{p50 - d:.2f}ms" if p50 is not None and d is not None and n != "direct" else ""
            cells.append(f"{_lat(p50):>12} {('failed' if bad else over):>8}")
        print(f"{sc:<11}| " + " | ".join(cells))


def _node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def print_table(results: dict, scenarios: list[str]) -> None:
    hdr = (f"{'scenario':<12} | {'direct req/s':>12} {'p50':>8} {'p99':>8} | "
           f"{'onerelay req/s':>14} {'p50':>8} {'p99':>8} | {'ratio':>6} | errors (direct/onerelay)")
    print(hdr)
    print("-" * len(hdr))
    for sc in scenarios:
        d = results.get(f"direct/{sc}")
        o = results.get(f"onerelay/{sc}")
        dv = d or {}
        ov = o or {}
        ratio = (f"{ov['rps'] / dv['rps']:.1%}" if ov.get("rps") and dv.get("rps") else "n/a")
        print(f"{sc:<12} | {_f(dv.get('rps'), '.1f'):>12} {_lat(dv.get('p50_ms')):>8} "
              f"{_lat(dv.get('p99_ms')):>8} | {_f(ov.get('rps'), '.1f'):>14} "
              f"{_lat(ov.get('p50_ms')):>8} {_lat(ov.get('p99_ms')):>8} | {ratio:>6} | "
              f"{_errs(d)}/{_errs(o)}")
    print("ratio = onerelay req/s as a share of direct req/s; "
          "errors = non-2xx responses + wrk socket errors")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured run (10)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each run (2)")
    ap.add_argument("--quick", action="store_true", help="3 s measured runs")
    ap.add_argument("--direct-only", action="store_true", help="skip OneRelay (upstream only)")
    ap.add_argument("--workers", type=int, default=2,
                    help="also run OneRelay with --workers N and compare it with 1 worker "
                         "(default 2; 1 skips it)")
    ap.add_argument("--startup-timeout", type=float, default=60,
                    help="seconds to wait for OneRelay /api/status (60)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, configs)")
    ap.add_argument("--no-portkey", action="store_true",
                    help=f"skip Portkey's gateway (npm @portkey-ai/gateway@{PORTKEY_VERSION}, run when npm is there)")
    ap.add_argument("--latency", type=float, default=5,
                    help="seconds of one connection (c=1) to each target for the p50 overhead (5; 0 skips)")
    args = ap.parse_args()
    if args.quick:
        args.duration = 3
    args.connections = max(args.connections, args.threads)

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)
    # Ctrl-C -> KeyboardInterrupt even if SIGINT was inherited as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(cleanup)
    ensure_tools()

    started = _dt.datetime.now().astimezone()
    tmp = tempfile.mkdtemp(prefix="onerelay-bench-")
    results: dict = {}
    errors: list[str] = []
    scenarios = ["non-stream", "stream"]
    bodies = {
        "non-stream": {"model": MODEL, "messages": MESSAGES},
        "stream": {"model": STREAM_MODEL, "stream": True, "messages": MESSAGES},
    }
    print(f"[bench] {started:%Y-%m-%d %H:%M:%S %Z}  cores={os.cpu_count()}  "
          f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
          f"(warm-up {args.warmup:g}s)  tmp={tmp}", flush=True)
    try:
        up_port = start_nginx(tmp)
        direct_urls = {
            "non-stream": f"http://127.0.0.1:{up_port}/v1/chat/completions",
            "stream": f"http://127.0.0.1:{up_port}/stream/v1/chat/completions",
        }
        up_auth = f"Bearer {UPSTREAM_KEY}"
        for sc in scenarios:
            err = check_response(f"direct/{sc}", direct_urls[sc], up_auth, sc == "stream")
            if err:
                raise RuntimeError(f"upstream sanity check failed: {err}")

        gw_auth = None
        gw_port = None
        if not args.direct_only:
            gw_port, gw_auth = launch_onerelay(tmp, args, up_port, errors, 1, "onerelay")

        min_port = None if args.direct_only else start_minimal(tmp, up_port)
        pk_port = None
        if not args.direct_only and not args.no_portkey:
            try:
                pk_port = start_portkey(tmp)
            except Exception as exc:  # no npm, no network: the table says why
                errors.append(f"Portkey: {exc}")
                print(f"[bench] Portkey's gateway unavailable: {exc}", file=sys.stderr, flush=True)
        nginx_pid = next((p.pid for n, p in _children if n == "nginx"), None)
        min_pid = next((p.pid for n, p in _children if n == "minimal"), None)
        pk_pid = next((p.pid for n, p in _children if n == "portkey"), None)
        gw_pid = next((p.pid for n, p in _children if n == "onerelay"), None)
        gw_cpu = {"onerelay": gw_pid, "nginx": nginx_pid} if gw_pid and nginx_pid else None
        for sc in scenarios:
            script = write_lua(tmp, f"direct-{sc}", bodies[sc], up_auth)
            results[f"direct/{sc}"] = measure(f"direct/{sc}", direct_urls[sc], script, args)
            if min_port:
                min_url = f"http://127.0.0.1:{min_port}" + ("/stream" if sc == "stream" else "") \
                    + "/v1/chat/completions"
                err = check_response(f"minimal/{sc}", min_url, up_auth, sc == "stream")
                if err:
                    errors.append(f"floor sanity check failed: {err}")
                script = write_lua(tmp, f"minimal-{sc}", bodies[sc], up_auth)
                results[f"minimal/{sc}"] = measure(f"minimal/{sc}", min_url, script, args,
                                                   {"minimal": min_pid} if min_pid else None)
            if pk_port:
                pk_url = f"http://127.0.0.1:{pk_port}/v1/chat/completions"
                hdrs = portkey_headers(up_port, sc == "stream")
                try:
                    st, _, data = http("POST", pk_url, bodies[sc], {"Authorization": up_auth, **hdrs})
                    if st != 200:
                        errors.append(f"Portkey {sc}: HTTP {st}: {data[:200]!r}")
                except Exception as exc:
                    errors.append(f"Portkey {sc}: {exc}")
                script = write_lua(tmp, f"portkey-{sc}", bodies[sc], up_auth, hdrs)
                results[f"portkey/{sc}"] = measure(f"portkey/{sc}", pk_url, script, args,
                                                   {"portkey": pk_pid} if pk_pid else None)
            if gw_auth:
                gw_url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
                err = check_response(f"onerelay/{sc}", gw_url, gw_auth, sc == "stream")
                if err:  # still measured: the failures show up in the errors column
                    errors.append(f"gateway sanity check failed: {err}")
                    print(f"[bench] {err}", file=sys.stderr, flush=True)
                script = write_lua(tmp, f"onerelay-{sc}", bodies[sc], gw_auth)
                results[f"onerelay/{sc}"] = measure(f"onerelay/{sc}", gw_url, script, args, gw_cpu)

        if args.latency > 0:
            lat_args = argparse.Namespace(**{**vars(args), "connections": 1, "threads": 1,
                                             "duration": args.latency, "warmup": 1})
            for sc in scenarios:
                targets = [("direct", direct_urls[sc], up_auth, None)]
                if min_port:
                    targets.append(("minimal", f"http://127.0.0.1:{min_port}" + ("/stream" if sc == "stream" else "")
                                    + "/v1/chat/completions", up_auth, None))
                if gw_auth:
                    targets.append(("onerelay", f"http://127.0.0.1:{gw_port}/v1/chat/completions", gw_auth, None))
                if pk_port:
                    targets.append(("portkey", f"http://127.0.0.1:{pk_port}/v1/chat/completions", up_auth,
                                    portkey_headers(up_port, sc == "stream")))
                for name, url, auth, hdrs in targets:
                    script = write_lua(tmp, f"c1-{name}-{sc}", bodies[sc], auth, hdrs)
                    results[f"c1/{name}/{sc}"] = measure(f"c=1 {name}/{sc}", url, script, lat_args)

        if gw_auth and args.workers > 1:
            # The same OneRelay with N pre-forked workers, alone on the machine: the 1-worker
            # server (and its database) stops first so it takes no CPU from this run.
            name = f"onerelay-{args.workers}w"
            for n, p in list(_children):
                if n in ("onerelay", "minimal", "portkey"):
                    _children.remove((n, p))
                    _stop(n, p, STOP_TIMEOUT.get(n, 10.0))
            mw_port, mw_auth = launch_onerelay(tmp, args, up_port, errors, args.workers, name)
            mw_pid = next((p.pid for n, p in _children if n == name), None)
            mw_cpu = {"onerelay": mw_pid, "nginx": nginx_pid} if mw_pid and nginx_pid else None
            if mw_auth:
                # The supervisor starts workers 1.. once worker 0 is up: wait for all of them.
                wait_workers(mw_pid, args.workers, 30)
            for sc in scenarios if mw_auth else []:
                mw_url = f"http://127.0.0.1:{mw_port}/v1/chat/completions"
                err = check_response(f"{name}/{sc}", mw_url, mw_auth, sc == "stream")
                if err:
                    errors.append(f"gateway sanity check failed: {err}")
                    print(f"[bench] {err}", file=sys.stderr, flush=True)
                script = write_lua(tmp, f"{name}-{sc}", bodies[sc], mw_auth)
                results[f"{name}/{sc}"] = measure(f"{name}/{sc}", mw_url, script, args, mw_cpu)

        # Peers (e.g. LiteLLM proxy) would go here: start the peer pointing at the
        # same nginx upstream, run measure() against it and add a column.  Not
        # implemented; nothing is installed for it (LiteLLM is skipped even when
        # importable).

        print()
        print(f"OneRelay benchmark  {started:%Y-%m-%d %H:%M:%S %Z}  "
              f"cores={os.cpu_count()}  {platform.platform()}  python {platform.python_version()}")
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
              f"(warm-up {args.warmup:g}s), upstream = nginx {_nginx_version()}, loopback")
        print()
        print_table(results, scenarios)
        for sc in scenarios:
            m = results.get(f"minimal/{sc}") or {}
            if m.get("rps"):
                print(f"floor  {sc:<10}: minimal Tornado+curl relay (no auth/billing/logs) {m['rps']:9.1f} req/s  "
                      f"p50 {_lat(m.get('p50_ms'))}  p99 {_lat(m.get('p99_ms'))}  errors {_errs(m)}")
        print_peers(results, scenarios)
        if args.latency > 0:
            print_latency(results, scenarios)
        if any(k.startswith(f"onerelay-{args.workers}w/") for k in results):
            print_workers(results, scenarios, args.workers)
        print_cpu(results, scenarios, args.workers)
        for e in errors:
            print(f"\nNOTE: {e.splitlines()[0][:300]}")

        os.makedirs(RESULTS_DIR, exist_ok=True)
        out_path = os.path.join(RESULTS_DIR, f"bench-{started:%Y%m%d-%H%M%S}.json")
        with open(out_path, "w") as f:
            json.dump({
                "date": started.isoformat(),
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "nginx": _nginx_version(),
                "wrk": {"threads": args.threads, "connections": args.connections,
                        "duration_s": args.duration, "warmup_s": args.warmup},
                "errors": errors,
                "peers": [f"portkey {PORTKEY_VERSION}"] if pk_port else [],
                "event_loop": event_loop_name(),
                "results": results,
                "workers_compared": args.workers if args.workers > 1 else None,
            }, f, indent=2)
        print(f"\nresults written to {os.path.relpath(out_path)}")
        return 1 if errors else 0
    finally:
        cleanup()
        if args.keep_tmp:
            print(f"[bench] temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


FLUSH_WAIT = 6.0  # seconds after a run for the batch writer (BATCH_UPDATE_INTERVAL 5 s) to flush
FLUSH_WAIT_MAX = 120.0


def wait_db_idle(root: int) -> float:
    """At least FLUSH_WAIT seconds, then until OneRelay's database child has been idle (< 5 %
    of a core) for a second; returns the seconds waited."""
    t0 = time.monotonic()
    time.sleep(FLUSH_WAIT)
    db = [p for p in descendants(root) if "secantusd" in _cmdline(p)]
    while db and time.monotonic() - t0 < FLUSH_WAIT_MAX:
        c0 = sum(proc_cpu_seconds(p) for p in db)
        time.sleep(1.0)
        if sum(proc_cpu_seconds(p) for p in db) - c0 < 0.05:
            break
    return round(time.monotonic() - t0, 1)


def cpu_snapshot(groups: dict) -> dict:
    """CPU seconds so far of each {group: root pid} with its descendants (the embedded database,
    a child of OneRelay, counts as its own group 'database'), of our reaped children (wrk), and
    the machine's busy/total jiffies."""
    snap: dict = {"groups": {g: 0.0 for g in groups}, "workers": {}}
    snap["groups"]["database"] = 0.0
    for group, root in groups.items():
        for pid in [root] + descendants(root):
            cmd = _cmdline(pid)
            g = "database" if "secantusd" in cmd else group
            cpu = proc_cpu_seconds(pid) if cmd else 0.0
            snap["groups"][g] += cpu
            if group == "onerelay" and g == group and pid != root:
                snap["workers"][pid] = cpu
    t = os.times()
    snap["wrk"] = t.children_user + t.children_system
    with open("/proc/stat") as f:
        jiffies = [int(x) for x in f.readline().split()[1:]]
    snap["total"] = sum(jiffies[:8])
    snap["busy"] = snap["total"] - jiffies[3] - jiffies[4]  # minus idle and iowait
    return snap


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    for child in child_pids(pid):
        out += [child] + descendants(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_workers(pid: int | None, n: int, timeout: float) -> None:
    """Until ``pid`` (a --workers supervisor) has n worker children, and a moment for the last
    to start listening."""
    deadline = time.monotonic() + timeout
    while pid and time.monotonic() < deadline:
        if len([c for c in child_pids(pid) if "secantusd" not in _cmdline(c)]) >= n:
            time.sleep(2)
            return
        time.sleep(0.2)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and of its children it has reaped (Linux /proc):
    a short-lived child that exits between two snapshots is not subtracted from its group."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def child_pids(pid: int) -> list[int]:
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    except (OSError, ValueError):
        return []


PORTKEY_VERSION = "1.15.2"


def bench_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "onerelay-bench")


def install_portkey() -> str:
    """Portkey's gateway (npm ``@portkey-ai/gateway``, PORTKEY_VERSION) in the bench's cache dir,
    installed with npm the first time; returns its start script. RuntimeError when it cannot."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node/npm not found (apt-get install nodejs npm)")
    prefix = os.path.join(bench_cache_dir(), f"portkey-{PORTKEY_VERSION}")
    script = os.path.join(prefix, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
    if not os.path.exists(script):
        os.makedirs(prefix, exist_ok=True)
        print(f"[bench] installing @portkey-ai/gateway@{PORTKEY_VERSION} into {prefix} with npm ...", flush=True)
        p = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error",
                            f"@portkey-ai/gateway@{PORTKEY_VERSION}"], capture_output=True, text=True, timeout=600)
        if p.returncode != 0 or not os.path.exists(script):
            raise RuntimeError(f"npm install @portkey-ai/gateway@{PORTKEY_VERSION} failed: "
                               f"{(p.stderr or p.stdout).strip()[-500:]}")
    return script


def start_portkey(tmp: str) -> int:
    """Portkey's gateway on a free port (headless: no console), one Node process."""
    script = install_portkey()
    port = free_port()
    log = os.path.join(tmp, "portkey.log")
    with open(log, "wb") as out:
        proc = spawn("portkey", ["node", script, f"--port={port}", "--headless"], cwd=tmp,
                     stdin=subprocess.DEVNULL,  # as `npx @portkey-ai/gateway` runs it (NODE_ENV unset)
                     stdout=out, stderr=subprocess.STDOUT)
    if not wait_port(port, 30, proc):
        raise RuntimeError(f"Portkey's gateway did not start:\n{tail(log, 20)}")
    return port


def portkey_headers(up_port: int, stream: bool) -> dict:
    """Portkey routes by headers: the OpenAI provider at a custom host (the same nginx)."""
    return {"x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{up_port}" + ("/stream" if stream else "") + "/v1"}


def event_loop_name() -> str:
    """The loop OneRelay (server.run) and the floor (minimal_relay.py) both run on: uvloop when
    this interpreter has it, else asyncio's own."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio (uvloop not installed)"
    return f"uvloop {getattr(uvloop, '__version__', '?')}"


def start_minimal(tmp: str, up_port: int) -> int:
    port = free_port()
    spawn("minimal", [sys.executable, os.path.join(REPO_DIR, "bench", "minimal_relay.py"), str(port),
                      f"http://127.0.0.1:{up_port}"], stdin=subprocess.DEVNULL,
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port, 20):
        raise RuntimeError("the minimal relay did not start")
    return port


def _nginx_version() -> str:
    try:
        p = subprocess.run([nginx_bin(), "-v"], capture_output=True, text=True)
        return (p.stderr or p.stdout).strip().split("/")[-1]
    except OSError:
        return "?"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\n[bench] interrupted", file=sys.stderr)
        sys.exit(130)
