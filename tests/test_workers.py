"""``python server.py --workers 2`` as a real process tree (supervisor, two workers, the embedded
database), and a slave node redirecting console pages to FRONTEND_BASE_URL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
import tornado.httpclient

from models.db import free_port
from tests.conftest import ROOT, Gateway

ACCESS = "c0ffeec0ffeec0ffeec0ffeec0ffeec0"


def _get(port: int, path: str) -> tuple[str | None, Any]:
    """A request on a new connection: (X-Onerelay-Worker, JSON body)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": ACCESS})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers.get("X-Onerelay-Worker"), json.loads(r.read())


def _children(pid: int) -> dict[int, str]:
    """pid -> command line of ``pid``'s live children."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    kids = {}
    for p in map(int, out.split()):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                kids[p] = f.read().replace(b"\0", b" ").decode()
        except OSError:
            pass
    return kids


def _workers(pid: int) -> set[int]:
    return {p for p, cmd in _children(pid).items() if "secantusd" not in cmd}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _seen_workers(port: int, want: set[str], timeout: float = 30) -> set[str]:
    """Workers that answered, over new connections, until ``want`` answered or ``timeout`` passed
    (a worker just forked is still starting)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            worker, body = _get(port, "/api/status")
        except OSError:
            time.sleep(0.05)
            continue
        assert body["success"] is True
        seen.add(worker or "")
        if want <= seen:
            break
    return seen


def test_two_workers_share_the_port_restart_and_stop_cleanly(tmp_path: Any) -> None:
    port = free_port()
    dist = tmp_path / "dist"
    dist.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGODB_URI", "REDIS_CONN_STRING", "PORT", "WORKERS", "NODE_TYPE")}
    env.update(DATA_DIR=str(tmp_path / "data"), FRONTEND_DIST=str(dist), INITIAL_ROOT_ACCESS_TOKEN=ACCESS,
               GLOBAL_API_RATE_LIMIT="0")
    log_dir = tmp_path / "logs"
    proc = subprocess.Popen([sys.executable, "server.py", "--workers", "2", "--port", str(port),
                             "--log-dir", str(log_dir)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    every: set[int] = set()
    try:
        _wait(lambda: proc.poll() is not None or len(_workers(proc.pid)) == 2, 60, "two workers")
        assert proc.poll() is None, (log_dir / "onerelay.log").read_text()
        kids = _children(proc.pid)
        every |= set(kids)
        assert sum("secantusd" in cmd for cmd in kids.values()) == 1  # one database for both

        assert _seen_workers(port, {"0", "1"}) == {"0", "1"}
        me = _get(port, "/api/user/self")[1]
        assert me["success"] and me["data"]["username"] == "root"

        # A killed worker is replaced (same index) while the other keeps serving.
        victim = max(_workers(proc.pid))
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: len(_workers(proc.pid) - {victim}) == 2, 30, "the worker's replacement")
        every |= _workers(proc.pid)
        assert _seen_workers(port, {"0", "1"}) == {"0", "1"}

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        _wait(lambda: not any(_alive(p) for p in every), 10, "every child to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = (log_dir / "onerelay.log").read_text()
    assert "[worker 1]" in text and "died unexpectedly (killed by SIGKILL)" in text
    assert "[worker 0]" in text and text.count("shutting down: flushing quota and logs") == 2


def test_workers_flag_is_in_help() -> None:
    out = subprocess.run([sys.executable, "server.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert "--workers" in out.stdout


async def _fetch(gw: Gateway, path: str) -> tornado.httpclient.HTTPResponse:
    return await gw.http.fetch(gw.url + path, follow_redirects=False, raise_error=False)


@pytest.mark.settings(node_type="slave", frontend_base_url="http://example.test")
async def test_slave_redirects_console_pages(gw: Gateway) -> None:
    for path in ("/login", "/token?p=2", "/", "/assets/index-abc.js", "/favicon.ico"):
        resp = await _fetch(gw, path)
        assert resp.code == 302 and resp.headers["Location"] == "http://example.test" + path, path
    resp = await _fetch(gw, "/api/status")
    assert resp.code == 200 and json.loads(resp.body)["success"] is True
    resp = await _fetch(gw, "/v1/models")
    assert resp.code == 401 and "error" in json.loads(resp.body)


@pytest.mark.settings(frontend_base_url="http://example.test")
async def test_master_ignores_frontend_base_url(gw: Gateway) -> None:
    resp = await _fetch(gw, "/login")
    assert resp.code == 200 and b"OneRelay" in resp.body
