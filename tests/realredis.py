"""Real ``redis-server`` / ``redis-sentinel`` processes for tests (no fakes).

``RedisServer`` runs a throwaway server on a free loopback port with its own
temporary directory and no persistence; ``kill()`` (SIGKILL) and ``restart()``
(same port) let a test take Redis away and bring it back. ``SentinelServer``
runs a ``redis-sentinel`` that monitors a ``RedisServer``.

    srv = RedisServer().start()
    try:
        ... srv.url ...          # redis://127.0.0.1:PORT/0
        srv.kill(); srv.restart()
    finally:
        srv.cleanup()

Both are context managers (start on enter, stop and delete the directory on
exit) and are also stopped at interpreter exit if a test forgets.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from typing import Any, Sequence

REDIS_SERVER = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"
# redis-sentinel is only a name for redis-server; ``redis-server CONF --sentinel`` works without the package
REDIS_SENTINEL = os.environ.get("REDIS_SENTINEL_BIN") or shutil.which("redis-sentinel") or ""

_live: "weakref.WeakSet[_Process]" = weakref.WeakSet()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def have_redis() -> bool:
    return os.path.exists(REDIS_SERVER) and os.access(REDIS_SERVER, os.X_OK)


def _ping(port: int, timeout: float = 0.5) -> bool:
    """True when something on ``port`` answers PING like a ready Redis (NOAUTH counts as up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(256)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")


class _Process:
    binary = REDIS_SERVER
    what = "redis-server"

    def __init__(self, port: int | None = None, *, args: Sequence[str] = (), start_timeout: float = 10.0) -> None:
        self.port = port or free_port()
        self.args = list(args)
        self.start_timeout = start_timeout
        self.dir = tempfile.mkdtemp(prefix=f"onerelay-{self.what}-")
        self.log_path = os.path.join(self.dir, f"{self.what}.log")
        self.console_path = os.path.join(self.dir, "console.log")
        self.proc: subprocess.Popen[bytes] | None = None
        _live.add(self)

    # -- subclass hooks ----------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Any:
        if self.running:
            return self
        if not os.path.exists(self.dir):
            os.makedirs(self.dir)
        deadline = time.monotonic() + self.start_timeout
        with open(self.console_path, "ab") as console:  # config errors go here, before the log file opens
            self.proc = subprocess.Popen(self.command(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"{self.what} on port {self.port} exited with {code} at start:\n"
                                   + self.log_tail())
            if _ping(self.port):
                return self
            time.sleep(0.02)
        self._signal(signal.SIGKILL)
        raise RuntimeError(f"{self.what} on port {self.port} did not answer PING within "
                           f"{self.start_timeout:g} s:\n" + self.log_tail())

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM and wait (SIGKILL if it lingers). The directory stays, so ``restart()`` works."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-flight, as in a crash."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> Any:
        """Stop if running, then start again on the same port (fresh, empty data)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop and delete the temporary directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for path in (self.console_path, self.log_path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    out += [ln for ln in f.readlines() if ln.strip()]
            except OSError:
                pass
        return "".join(out[-lines:]) or "(empty log)"

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} running={self.running}>"


class RedisServer(_Process):
    """A ``redis-server`` on 127.0.0.1: no persistence, its own temp dir, optional ``password``."""

    def __init__(self, port: int | None = None, *, password: str | None = None, args: Sequence[str] = (),
                 start_timeout: float = 10.0) -> None:
        super().__init__(port, args=args, start_timeout=start_timeout)
        self.password = password

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
               "--logfile", self.log_path, "--save", "", "--appendonly", "no", "--daemonize", "no"]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd + self.args


class SentinelServer(_Process):
    """A ``redis-sentinel`` monitoring ``master`` under ``name`` (quorum 1)."""

    binary = REDIS_SENTINEL or REDIS_SERVER
    what = "redis-sentinel"

    def __init__(self, master: RedisServer, name: str = "mymaster", port: int | None = None, *,
                 down_after_ms: int = 5000, start_timeout: float = 10.0) -> None:
        super().__init__(port, start_timeout=start_timeout)
        self.master = master
        self.name = name
        self.down_after_ms = down_after_ms

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        conf = os.path.join(self.dir, "sentinel.conf")
        lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}", f'logfile "{self.log_path}"',
                 f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1",
                 f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}"]
        if self.master.password:
            lines.append(f"sentinel auth-pass {self.name} {self.master.password}")
        if not os.path.exists(conf):  # sentinel rewrites its config; keep it across restarts
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
        return [self.binary, conf] if REDIS_SENTINEL else [self.binary, conf, "--sentinel"]


@atexit.register
def _stop_all() -> None:
    for p in list(_live):
        try:
            p.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
