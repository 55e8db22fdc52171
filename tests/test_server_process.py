"""server.py as a real process on the embedded default: CLI, persistence across restarts,
flush on SIGTERM, no orphaned database process after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

import openai
import pytest

from models.db import free_port
from tests.conftest import ROOT, Upstream

ACCESS = "feedfacefeedfacefeedfacefeedface"


def _env(data_dir: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_CONN_STRING", "PORT")}
    env.update(DATA_DIR=data_dir, INITIAL_ROOT_ACCESS_TOKEN=ACCESS, BATCH_UPDATE_INTERVAL="3600", **extra)
    return env


def _start(data_dir: str, port: int, **extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "server.py", "--port", str(port), "--log-dir",
                             os.path.join(data_dir, "logs")], cwd=ROOT, env=_env(data_dir, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _api(port: int, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": ACCESS, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        data = json.loads(r.read())
    assert data["success"], data
    return data.get("data")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read().split()
    return stat[2] != "Z"


def test_cli_flags() -> None:
    out = subprocess.run([sys.executable, "server.py", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "OneRelay" in out.stdout
    out = subprocess.run([sys.executable, "server.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert "--port" in out.stdout and "--log-dir" in out.stdout


async def test_restart_persistence_and_sigterm_flush(tmp_path: Any, upstream: Upstream) -> None:
    data_dir = str(tmp_path / "data")
    port = free_port()
    proc = _start(data_dir, port, INITIAL_ROOT_TOKEN="sk-InitialRootTokenForTests0001")
    try:
        cid = _api(port, "POST", "/api/channel/", {"name": "p", "type": 1, "key": "sk-ok",
                                                   "base_url": upstream.url, "models": "gpt-3.5-turbo"})["id"]
        tok = _api(port, "POST", "/api/token/", {"name": "persist", "unlimited_quota": False,
                                                 "remain_quota": 100000})
        client = openai.AsyncOpenAI(api_key="sk-" + tok["key"], base_url=f"http://127.0.0.1:{port}/v1",
                                    max_retries=0)
        for _ in range(3):
            await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
        await client.close()
        root_client = openai.AsyncOpenAI(api_key="sk-InitialRootTokenForTests0001",
                                         base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        assert [m.id async for m in root_client.models.list()] == ["gpt-3.5-turbo"]
        await root_client.close()
        # BATCH_UPDATE_INTERVAL is an hour: only the SIGTERM flush can write these.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        proc = _start(data_dir, port)
        tokens = _api(port, "GET", "/api/token/?p=0")
        t = [x for x in tokens if x["name"] == "persist"][0]
        assert t["used_quota"] == 36 and t["remain_quota"] == 100000 - 36
        assert _api(port, "GET", f"/api/channel/{cid}")["used_quota"] == 36
        logs = _api(port, "GET", "/api/log/?p=0")
        assert len(logs) == 3 and {entry["token_name"] for entry in logs} == {"persist"}
        me = _api(port, "GET", "/api/user/self")
        assert me["request_count"] == 3
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_embedded_db_dies_with_killed_server(tmp_path: Any) -> None:
    port = free_port()
    proc = _start(str(tmp_path / "data"), port)
    kids = _children(proc.pid)
    assert kids, "the embedded database should be a child process"
    proc.kill()
    proc.wait(10)
    # The database gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and shuts down cleanly:
    # connection drain (up to 7 s) and a storage checkpoint, slower on a loaded CI machine.
    deadline = time.time() + 60
    while time.time() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    assert not any(_alive(k) for k in kids)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_stop_stops_embedded_db(tmp_path: Any, sig: int) -> None:
    port = free_port()
    proc = _start(str(tmp_path / "data"), port)
    kids = _children(proc.pid)
    proc.send_signal(sig)
    assert proc.wait(30) == 0
    assert not any(_alive(k) for k in kids)
