"""OneRelay: an OpenAI-compatible LLM API gateway (One API compatible).

``python server.py`` runs it. Settings come from the environment and ``.env``
(read here only); with no ``MONGODB_URI`` an embedded MongoDB-wire database
(SecantusDB's ``secantusd-py``) runs as a child process with its data under
``$DATA_DIR/db``. The service container lives in :mod:`services.context`.

``--workers N`` (env ``WORKERS``) pre-forks N serving processes that share the
port through ``SO_REUSEPORT`` (the kernel spreads connections across them).
The parent (:class:`Supervisor`) only supervises: it owns the one embedded
database, restarts a worker that dies, and on SIGTERM/SIGINT stops the workers
(each drains its requests and flushes its quota and logs) before the database.
Worker 0 acts as the master (indexes, migrations, scheduler); the others only serve.

Stopping (README "Stopping and crashes"): SIGTERM or SIGINT closes the listening
socket, lets requests and streams in flight finish for ``SHUTDOWN_TIMEOUT``
seconds, ends the ones left (an error event in the client's format, the upstream
call cancelled), settles every reservation, and only then flushes usage, logs and
quota leases and exits 0. The embedded database is restarted (same port, same data)
if it dies; the relay serves from its caches meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import logging.handlers
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Coroutine

import tornado.httpserver
import tornado.netutil
import tornado.web

from models.db import EmbeddedMongo, secantus_command
from services.context import (  # noqa: F401  (re-exported for scripts and tests)
    DEFAULT_DIST, DEFAULT_TEST_PROMPT, ROOT_DIR, AppContext, Settings, __version__, http_server, make_app,
)

log = logging.getLogger("onerelay")

LOG_FILE = "onerelay.log"
LOG_MAX_BYTES = 50 * 1024 * 1024
LOG_BACKUPS = 5
WORKER_HEADER = "X-Onerelay-Worker"
MAX_WORKERS = 255  # a worker reports "ready" to the supervisor as one byte, its index
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def setup_logging(log_dir: str, debug: bool, tag: str = "") -> None:
    """stderr and ``$log_dir/onerelay.log``; ``tag`` (e.g. ``worker 1``) goes into every line.

    With several processes on one file, only the supervisor (no tag, or ``supervisor``)
    rotates it; workers append and reopen it after a rotation (``WatchedFileHandler``).
    """
    level = logging.DEBUG if debug else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        path = os.path.join(log_dir, LOG_FILE)
        if tag.startswith("worker"):
            handlers.append(logging.handlers.WatchedFileHandler(path))
        else:
            handlers.append(logging.handlers.RotatingFileHandler(
                path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS))
    fmt = "%(asctime)s %(levelname)s " + (f"[{tag}] " if tag else "") + "%(name)s: %(message)s"
    logging.basicConfig(level=level, handlers=handlers, format=fmt, force=True)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def worker_header(index: int) -> type[tornado.web.OutputTransform]:
    """A transform that names the worker in every response (``X-Onerelay-Worker: <index>``)."""
    value = str(index)

    class WorkerHeader(tornado.web.OutputTransform):
        def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes,
                                  finishing: bool) -> tuple[int, Any, bytes]:
            headers[WORKER_HEADER] = value
            return status_code, headers, chunk

    return WorkerHeader


# The embedded database is started again through this launcher rather than a ``preexec_fn``
# (unsafe once the process has threads): it sets PR_SET_PDEATHSIG, its own process group
# (Popen's) and a lower priority, as models/db.py does for the first start, then execs it.
_DB_LAUNCHER = """import ctypes, os, signal, sys
try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
except OSError:
    pass
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
try:
    os.nice(5)
except OSError:
    pass
os.execv(sys.argv[2], sys.argv[2:])
"""


class EmbeddedDB(EmbeddedMongo):
    """The embedded database, restarted on the same port and data directory when it dies
    (:meth:`keep_alive`, called about every second by the process that started it). The
    clients reconnect by themselves; meanwhile the relay serves from its caches and the
    ledger keeps its unwritten usage and logs for the next flush."""

    QUICK_DEATH = 10.0  # a database that dies sooner after its start is restarted with a growing delay
    MAX_BACKOFF = 30.0

    def __init__(self, storage_path: str, log_path: str | None = None) -> None:
        super().__init__(storage_path, log_path)
        self.started_at = time.monotonic()
        self.restart_at = 0.0
        self.quick_deaths = 0

    def keep_alive(self) -> None:
        """Restart the database if it died (non-blocking: it does not wait for it to answer)."""
        proc = self.proc
        if proc is None or proc.poll() is None:
            return
        now = time.monotonic()
        if not self.restart_at:
            self.quick_deaths = self.quick_deaths + 1 if now - self.started_at < self.QUICK_DEATH else 0
            delay = min(self.MAX_BACKOFF, 0.5 * 2 ** (self.quick_deaths - 1)) if self.quick_deaths else 0.0
            log.error("the embedded database (pid %d) died (%s); restarting it on port %d%s", proc.pid,
                      _describe_code(proc.returncode), self.port, f" in {delay:g} s" if delay else "")
            self.restart_at = now + delay
        if now < self.restart_at:
            return
        self.restart_at = 0.0
        self.started_at = now
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _DB_LAUNCHER, str(os.getpid()), *secantus_command(),
                 "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.storage_path,
                 "--log-level", "WARNING"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL, process_group=0)
        except OSError as e:
            log.error("restarting the embedded database failed: %s", e)
            return
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        log.info("embedded database restarted (pid %d) on port %d", self.proc.pid, self.port)


def _describe_code(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


async def _keep_database(embedded: EmbeddedDB) -> None:
    while True:
        await asyncio.sleep(0.5)
        embedded.keep_alive()


async def serve(settings: Settings, ready: Callable[[], None] | None = None,
                embedded: EmbeddedDB | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then drain, settle and flush. ``ready`` is called once
    listening; ``embedded`` is this process's own database, restarted if it dies.

    On the signal: the listening socket closes; requests and streams in flight get
    ``SHUTDOWN_TIMEOUT`` seconds; the ones left are ended (:meth:`AppContext.drain`); open
    connections close; then usage, logs and leases are written back (:meth:`AppContext.stop`).
    A second SIGINT (Ctrl-C twice) ends the wait at once.
    """
    from services.crypto import CryptoError

    ctx = AppContext(settings)
    try:
        await ctx.start()
    except CryptoError as e:  # refused with one clear line, not a traceback or a 500 later
        log.error("OneRelay cannot start: %s", e)
        raise SystemExit(f"OneRelay cannot start: {e}") from None
    app = make_app(ctx)
    server = http_server(app)
    if settings.workers > 1:
        app.transforms.append(worker_header(settings.worker_index))
        # One listening socket per worker; the kernel balances new connections across them.
        server.add_sockets(tornado.netutil.bind_sockets(settings.port, reuse_port=True))
        log.info("worker %d (pid %d) listening on :%d", settings.worker_index, os.getpid(), settings.port)
    else:
        server.listen(settings.port)
        log.info("OneRelay %s listening on :%d", settings.version, settings.port)
    stop, hurry = asyncio.Event(), asyncio.Event()
    interrupts = 0

    def on_signal(sig: int) -> None:
        nonlocal interrupts
        if sig == signal.SIGINT:  # not SIGTERM: a supervisor forwards one after the terminal's SIGINT
            interrupts += 1
            if interrupts > 1:
                hurry.set()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    watchdog = loop.create_task(_keep_database(embedded)) if embedded is not None else None
    # A worker starts with these blocked (see Supervisor._spawn): one sent during start-up waits
    # until now instead of killing the process halfway. A no-op in the single process.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if ready is not None:
        ready()
    await stop.wait()
    server.stop()  # no new connections
    log.info("shutting down: %d request(s) in flight get up to %g s", len(ctx.jobs), settings.shutdown_timeout)
    await ctx.drain(settings.shutdown_timeout, hurry)
    try:
        await asyncio.wait_for(server.close_all_connections(), timeout=5)
    except asyncio.TimeoutError:
        pass
    await ctx.drain(0)  # one that came on a kept-alive connection meanwhile was refused; settle any left
    log.info("shutting down: flushing quota and logs")
    try:
        await ctx.stop()
    finally:
        if watchdog is not None:
            watchdog.cancel()


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (a faster event loop), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    if sys.version_info >= (3, 12):
        asyncio.run(coro, loop_factory=uvloop.new_event_loop)
    else:
        uvloop.run(coro)


def _die_with_parent(parent: int) -> None:
    """PR_SET_PDEATHSIG: SIGTERM when the supervisor dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


class Supervisor:
    """The parent process of ``--workers N``: forks, restarts and stops the workers.

    It never serves and builds no client or event loop (a fork must not copy them). Worker 0
    is started first and the others once it is ready, so the master's index creation and
    first-start bootstrap finish before any other worker touches the database.
    """

    STOP_MARGIN = 30.0  # beyond SHUTDOWN_TIMEOUT, a worker gets this long to end requests and flush
    QUICK_DEATH = 10.0  # a worker that dies sooner after its start is restarted with a growing delay
    MAX_BACKOFF = 30.0
    ROTATE_EVERY = 5.0

    def __init__(self, settings: Settings, embedded: EmbeddedDB | None = None) -> None:
        self.settings = settings
        self.embedded = embedded
        self.stop_timeout = settings.shutdown_timeout + self.STOP_MARGIN
        self.n = settings.workers
        self.parent = os.getpid()
        self.workers: dict[int, int] = {}  # pid -> worker index
        self.started: dict[int, float] = {}  # index -> monotonic start time
        self.ready: set[int] = set()  # indexes that reported ready since their last start
        self.quick_deaths: dict[int, int] = {}
        self.restart_at: dict[int, float] = {}  # index -> monotonic time to fork it again
        self.stopping = False
        self.up = False  # every worker has been ready once
        self.failed = False  # a worker failed to start: stop and exit 1
        self._wake_r, self._wake_w = os.pipe()
        self._ready_r, self._ready_w = os.pipe()
        # /metrics of any worker adds up every worker's counters from this directory
        # (services/prometheus.py); fresh for each run, removed when the supervisor stops.
        self.metrics_dir = tempfile.mkdtemp(prefix="onerelay-metrics-")
        os.environ["ONERELAY_METRICS_DIR"] = self.metrics_dir
        for fd in (self._wake_r, self._wake_w, self._ready_r):
            os.set_blocking(fd, False)

    # -- signals ------------------------------------------------------------------------------
    def _on_stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGCHLD, lambda s, f: None)  # wakes select() through the wakeup fd

    # -- workers ------------------------------------------------------------------------------
    def _spawn(self, index: int) -> None:
        # Blocked across the fork: the child must not run our handlers, and a stop signal sent
        # to it while it starts is delivered once its event loop handles it (serve()).
        signal.pthread_sigmask(signal.SIG_BLOCK, (*_STOP_SIGNALS, signal.SIGCHLD))
        try:
            pid = os.fork()
            if pid == 0:
                self._worker(index)  # never returns
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (*_STOP_SIGNALS, signal.SIGCHLD))
        self.workers[pid] = index
        self.started[index] = time.monotonic()
        self.ready.discard(index)
        log.info("worker %d started (pid %d)", index, pid)

    def _worker(self, index: int) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGCHLD,))  # TERM/INT: in serve()
            for fd in (self._wake_r, self._wake_w, self._ready_r):
                os.close(fd)
            _die_with_parent(self.parent)
            setup_logging(self.settings.log_dir, self.settings.debug, tag=f"worker {index}")
            self.settings.worker_index = index
            ready_w = self._ready_w

            def ready() -> None:
                try:
                    os.write(ready_w, bytes([index]))
                except OSError:  # the supervisor is gone; PR_SET_PDEATHSIG stops us
                    pass

            run(serve(self.settings, ready=ready))
            code = 0
        except KeyboardInterrupt:
            code = 0
        except BaseException:
            logging.getLogger("onerelay").exception("worker %d failed", index)
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _reap(self) -> None:
        for pid in list(self.workers):  # only ours: EmbeddedMongo waits for the database
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done == 0:
                continue
            index = self.workers.pop(pid)
            was_ready = index in self.ready
            self.ready.discard(index)
            if self.stopping:
                log.info("worker %d (pid %d) stopped: %s", index, pid, _describe(status))
                continue
            if not self.up and not was_ready:
                log.error("worker %d (pid %d) failed to start: %s", index, pid, _describe(status))
                self.stopping = True
                self.failed = True
                continue
            lived = time.monotonic() - self.started.get(index, 0.0)
            if lived < self.QUICK_DEATH:
                self.quick_deaths[index] = self.quick_deaths.get(index, 0) + 1
            else:
                self.quick_deaths[index] = 0
            delay = 0.0
            if self.quick_deaths[index]:
                delay = min(self.MAX_BACKOFF, 0.5 * 2 ** (self.quick_deaths[index] - 1))
            log.error("worker %d (pid %d) died unexpectedly (%s); restarting it%s", index, pid,
                      _describe(status), f" in {delay:g} s" if delay else "")
            self.restart_at[index] = time.monotonic() + delay

    def _read_ready(self) -> None:
        try:
            data = os.read(self._ready_r, 64)
        except BlockingIOError:
            return
        for index in data:
            self.ready.add(index)
        if not self.up and 0 in self.ready:
            for i in range(1, self.n):  # the master is up: the others can start
                if i not in self.started and i not in self.restart_at:
                    self.restart_at[i] = 0.0
        if not self.up and len(self.ready) == self.n:
            self.up = True
            log.info("OneRelay %s: %d workers serving on :%d", self.settings.version, self.n,
                     self.settings.port)

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    # -- log rotation -------------------------------------------------------------------------
    def _rotate_logs(self) -> None:
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.handlers.RotatingFileHandler):
                try:
                    if os.path.getsize(h.baseFilename) >= h.maxBytes > 0:
                        h.acquire()
                        try:
                            h.doRollover()
                        finally:
                            h.release()
                except OSError:
                    pass

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        self._spawn(0)
        next_rotate = time.monotonic() + self.ROTATE_EVERY
        while not self.stopping:
            now = time.monotonic()
            for index, at in sorted(self.restart_at.items()):
                if at <= now and not self.stopping:
                    del self.restart_at[index]
                    self._spawn(index)
            if now >= next_rotate:
                self._rotate_logs()
                next_rotate = now + self.ROTATE_EVERY
            timeout = 1.0
            if self.restart_at:
                timeout = max(0.0, min(timeout, min(self.restart_at.values()) - now))
            try:
                readable, _, _ = select.select([self._wake_r, self._ready_r], [], [], timeout)
            except InterruptedError:
                readable = []
            if self._ready_r in readable:
                self._read_ready()
            if self._wake_r in readable:
                self._drain_wakeups()
            self._reap()
            if self.embedded is not None:
                self.embedded.keep_alive()
        self._stop_all()
        return 1 if self.failed else 0

    def _stop_all(self) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        if self.workers:
            log.info("stopping %d worker(s)", len(self.workers))
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.stop_timeout
        while self.workers and time.monotonic() < deadline:
            self._reap()
            if self.embedded is not None:  # the workers' final flush needs it
                self.embedded.keep_alive()
            if self.workers:
                try:
                    select.select([self._wake_r], [], [], 0.1)
                except InterruptedError:
                    pass
                self._drain_wakeups()
        for pid, index in list(self.workers.items()):
            log.warning("worker %d (pid %d) did not stop in %g s: killing it", index, pid, self.stop_timeout)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.workers.pop(pid, None)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


def _check_port(port: int) -> None:
    """Fail at once (not in a restart loop) when anything, even another SO_REUSEPORT
    server, already listens on the port: the workers would silently share it."""
    try:
        for s in tornado.netutil.bind_sockets(port):
            s.close()
    except OSError as e:
        raise SystemExit(f"cannot listen on port {port}: {e}") from None


def _startup_notes(settings: Settings) -> None:
    if settings.frontend_base_url and settings.node_type == "master":
        log.info("FRONTEND_BASE_URL is ignored on the master node")
    if settings.mongodb_uri and not settings.session_secret:
        bar = "*" * 78
        log.warning("%s", bar)
        log.warning("SESSION_SECRET is not set while MONGODB_URI is. Set the SAME random SESSION_SECRET")
        log.warning("on every node (e.g. `openssl rand -hex 32`): nodes that sign login cookies with")
        log.warning("different secrets log users out when a request lands on another node.")
        log.warning("%s", bar)


def rotate_secret(argv: list[str]) -> int:
    """``python server.py rotate-secret [--old OLD] [--new NEW]``: re-encrypt every stored secret
    (channel keys, secret channel config, SMTP/OAuth options) from OLD to NEW, encrypting the
    plaintext ones, and exit. OLD defaults to $OLD_CRYPTO_SECRET (empty: the data is plaintext),
    NEW to $CRYPTO_SECRET; ``--new ''`` decrypts everything back to plaintext. Stop every
    OneRelay node first (they hold the old secret), then start them with NEW."""
    parser = argparse.ArgumentParser(prog="onerelay rotate-secret", description=rotate_secret.__doc__)
    parser.add_argument("--old", default=None, help="the current CRYPTO_SECRET (env OLD_CRYPTO_SECRET)")
    parser.add_argument("--new", default=None, help="the new CRYPTO_SECRET (env CRYPTO_SECRET); '' = plaintext")
    args = parser.parse_args(argv)

    from dotenv import load_dotenv

    load_dotenv()
    old = os.environ.get("OLD_CRYPTO_SECRET", "") if args.old is None else args.old
    new = os.environ.get("CRYPTO_SECRET", "") if args.new is None else args.new
    if not old and not new:
        raise SystemExit("rotate-secret: give --new (or CRYPTO_SECRET), and --old (or OLD_CRYPTO_SECRET) "
                         "when the stored secrets are encrypted already")
    settings = Settings.from_env()
    setup_logging("", settings.debug)

    from models.db import Database, EmbeddedMongo
    from services.crypto import CryptoError, SecretBox, rotate_secrets

    embedded = None
    if not settings.mongodb_uri:  # the embedded database: the server must be stopped
        embedded = EmbeddedMongo(os.path.join(settings.data_dir, "db"))
        settings.mongodb_uri = embedded.start()

    async def go() -> dict[str, int]:
        db = Database(settings.mongodb_uri)
        try:
            await db.ping()
            return await rotate_secrets(db, SecretBox(old), SecretBox(new))
        finally:
            await db.close()

    try:
        counts = asyncio.run(go())
    except CryptoError as e:
        raise SystemExit(f"rotate-secret: nothing changed: {e}") from None
    finally:
        if embedded is not None:
            embedded.stop()
    state = "encrypted with the new secret" if new else "stored as plaintext"
    print(f"rotate-secret: {counts['channels']} channel(s) and {counts['options']} secret option(s) {state}")
    return 0


def import_oneapi(argv: list[str]) -> int:
    """``python server.py import --from DSN [--dry-run] [--merge] [--with-logs]``: copy a One API
    database (SQLite, MySQL or PostgreSQL) into OneRelay's, ids kept, and exit (importer/cli.py).
    Stop OneRelay first when it runs on the embedded database."""
    from importer.cli import main as import_main

    return import_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["rotate-secret"]:
        return rotate_secret(argv[1:])
    if argv[:1] == ["import"]:
        return import_oneapi(argv[1:])
    parser = argparse.ArgumentParser(prog="onerelay", description="OneRelay: an OpenAI-compatible LLM API gateway.")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 3000; env PORT overrides)")
    parser.add_argument("--log-dir", default="./logs", help="directory for log files (default ./logs)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="serving processes sharing the port (default 1; env WORKERS overrides)")
    parser.add_argument("--version", action="version", version=f"OneRelay {__version__}")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")

    from dotenv import load_dotenv

    load_dotenv()
    settings = Settings.from_env(log_dir=args.log_dir)
    if args.port is not None and not os.environ.get("PORT"):
        settings.port = args.port
    if args.workers is not None and not os.environ.get("WORKERS"):
        settings.workers = args.workers
    if settings.workers > MAX_WORKERS:
        raise SystemExit(f"at most {MAX_WORKERS} workers, got {settings.workers}")
    multi = settings.workers > 1
    setup_logging(settings.log_dir, settings.debug, tag="supervisor" if multi else "")
    _startup_notes(settings)
    if multi:
        _check_port(settings.port)

    from services.console_build import ConsoleBuild

    if os.path.abspath(settings.frontend_dist) == DEFAULT_DIST:  # `npm run build` writes there
        ConsoleBuild(DEFAULT_DIST, os.path.join(ROOT_DIR, "frontend")).start_if_needed()

    embedded = None
    if not settings.mongodb_uri:
        embedded = EmbeddedDB(os.path.join(settings.data_dir, "db"),
                              os.path.join(settings.log_dir, "db.log") if settings.log_dir else None)
        settings.mongodb_uri = embedded.start()
        log.info("embedded database (SecantusDB) on %s, data in %s", settings.mongodb_uri,
                 embedded.storage_path)
    try:
        if multi:
            return Supervisor(settings, embedded).run()
        run(serve(settings, embedded=embedded))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
