"""Several real OneRelay processes (``python server.py``) on one database, for multi-node tests.

Each :class:`Node` is a child process with its own port, ``DATA_DIR`` and log
directory (so nothing is shared through the file system: cookies work across
nodes only because the nodes share the session secret through the database).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import tornado.httpclient

from tests.apiclient import ACCESS_TOKEN, ApiClient
from tests.realredis import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Node(ApiClient):
    def __init__(self, mongodb_uri: str, *, redis_url: str = "", node_type: str = "master",
                 workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="onerelay-node-")
        self.env = {
            **os.environ,
            "PORT": str(self.port), "MONGODB_URI": mongodb_uri, "DATA_DIR": os.path.join(self.dir, "data"),
            "FRONTEND_DIST": os.path.join(self.dir, "nodist"), "NODE_TYPE": node_type,
            "INITIAL_ROOT_ACCESS_TOKEN": ACCESS_TOKEN, "BATCH_UPDATE_INTERVAL": "0.5",
            "LEASE_TTL": "4", "SYNC_FREQUENCY": "600", "GLOBAL_API_RATE_LIMIT": "0",
            "CRITICAL_RATE_LIMIT": "0", "WORKERS": str(workers),
        }
        self.env.pop("SESSION_SECRET", None)
        if redis_url:
            self.env["REDIS_CONN_STRING"] = redis_url
        else:
            self.env.pop("REDIS_CONN_STRING", None)
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=200)

    async def start(self, timeout: float = 60.0) -> "Node":
        log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "server.py", "--log-dir", os.path.join(self.dir, "logs")],
            cwd=ROOT, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                code, _ = await self.api("GET", "/api/status", token=None)
                if code == 200:
                    return self
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"node did not answer in time:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(os.path.join(self.dir, "stderr.log"), "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    async def chat(self, key: str, model: str = "gpt-3.5-turbo", **extra: Any) -> tuple[int, Any]:
        body = {"model": model, "messages": [{"role": "user", "content": "Hello there"}], **extra}
        resp = await self.http.fetch(
            self.url + "/v1/chat/completions", method="POST", body=json.dumps(body),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            raise_error=False, request_timeout=60)
        try:
            return resp.code, json.loads(resp.body or b"null")
        except ValueError:
            return resp.code, resp.body

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: a clean stop (quota, logs and leases written back)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL: a crash (nothing written back)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        self.terminate()
        self.http.close()


async def converge(check: Any, timeout: float = 10.0, interval: float = 0.02) -> float:
    """Poll ``await check()`` until it is truthy; returns the seconds it took (fails after
    ``timeout``, a deadline for a functional wait, not a performance assertion)."""
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no convergence within {timeout} s: {check}")
        await asyncio.sleep(interval)
