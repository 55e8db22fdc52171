"""OneRelay: an OpenAI-compatible LLM API gateway (One API compatible).

``python server.py`` runs it. Settings come from the environment and ``.env``
(read here only); with no ``MONGODB_URI`` an embedded MongoDB-wire database
(SecantusDB's ``secantusd-py``) runs as a child process with its data under
``$DATA_DIR/db``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Coroutine

import tornado.httpserver
import tornado.web

ROOT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIST = os.path.join(ROOT_DIR, "frontend", "dist")

__version__ = "0.1.0"

log = logging.getLogger("onerelay")

ROOT_QUOTA = 500_000_000_000_000  # One API's initial root quota (5e14)
DEFAULT_TEST_PROMPT = "Output only your specific model name with no additional text."  # One API's TEST_PROMPT


def _bool(v: str | None, default: bool = False) -> bool:
    if v is None or v == "":
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


def _num(env: dict[str, str], key: str, default: float) -> float:
    v = env.get(key, "")
    if not v.strip():
        return default
    try:
        return float(v)
    except ValueError:
        raise SystemExit(f"{key} must be a number, got {v!r}") from None


@dataclass
class Settings:
    """Everything configurable, read once from the environment (see README's table)."""

    port: int = 3000
    log_dir: str = "./logs"
    data_dir: str = "./data"
    mongodb_uri: str = ""
    log_mongodb_uri: str = ""
    redis_conn_string: str = ""
    session_secret: str = ""
    sync_frequency: float = 600.0
    batch_update_interval: float = 5.0
    relay_timeout: float = 0.0
    relay_proxy: str = ""
    relay_max_connections: int = 512
    enforce_include_usage: bool = False
    initial_root_token: str = ""
    initial_root_access_token: str = ""
    log_retention_days: int = 0
    tiktoken_cache_dir: str = ""
    test_prompt: str = DEFAULT_TEST_PROMPT
    debug: bool = False
    global_api_rate_limit: int = 480  # /api requests per IP per 3 minutes (0 = off)
    global_web_rate_limit: int = 240  # web page requests per IP per 3 minutes (0 = off)
    critical_rate_limit: int = 20  # login/register/email/OAuth requests per IP per 20 minutes
    github_oauth_base: str = "https://github.com"
    github_api_base: str = "https://api.github.com"
    lark_base: str = "https://open.feishu.cn"
    turnstile_verify_url: str = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    frontend_dist: str = field(default_factory=lambda: DEFAULT_DIST)
    version: str = __version__

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        e = dict(os.environ if env is None else env)
        s = cls(
            port=int(_num(e, "PORT", 3000)),
            data_dir=e.get("DATA_DIR") or "./data",
            mongodb_uri=e.get("MONGODB_URI", ""),
            log_mongodb_uri=e.get("LOG_MONGODB_URI", ""),
            redis_conn_string=e.get("REDIS_CONN_STRING", ""),
            session_secret=e.get("SESSION_SECRET", ""),
            sync_frequency=_num(e, "SYNC_FREQUENCY", 600),
            batch_update_interval=_num(e, "BATCH_UPDATE_INTERVAL", 5),
            relay_timeout=_num(e, "RELAY_TIMEOUT", 0),
            relay_proxy=e.get("RELAY_PROXY", ""),
            relay_max_connections=int(_num(e, "RELAY_MAX_CONNECTIONS", 512)),
            enforce_include_usage=_bool(e.get("ENFORCE_INCLUDE_USAGE")),
            initial_root_token=e.get("INITIAL_ROOT_TOKEN", ""),
            initial_root_access_token=e.get("INITIAL_ROOT_ACCESS_TOKEN", ""),
            log_retention_days=int(_num(e, "LOG_RETENTION_DAYS", 0)),
            tiktoken_cache_dir=e.get("TIKTOKEN_CACHE_DIR", ""),
            test_prompt=e.get("TEST_PROMPT") or DEFAULT_TEST_PROMPT,
            debug=_bool(e.get("DEBUG")),
            global_api_rate_limit=int(_num(e, "GLOBAL_API_RATE_LIMIT", 480)),
            global_web_rate_limit=int(_num(e, "GLOBAL_WEB_RATE_LIMIT", 240)),
            critical_rate_limit=int(_num(e, "CRITICAL_RATE_LIMIT", 20)),
            github_oauth_base=(e.get("GITHUB_OAUTH_BASE") or "https://github.com").rstrip("/"),
            github_api_base=(e.get("GITHUB_API_BASE") or "https://api.github.com").rstrip("/"),
            lark_base=(e.get("LARK_BASE") or "https://open.feishu.cn").rstrip("/"),
            turnstile_verify_url=e.get("TURNSTILE_VERIFY_URL")
            or "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        )
        if s.relay_proxy:
            from relay.upstream import ProxyConfig

            try:
                ProxyConfig.parse(s.relay_proxy)
            except ValueError as err:
                raise SystemExit(str(err)) from None
        if e.get("FRONTEND_DIST"):
            s.frontend_dist = e["FRONTEND_DIST"]
        for k, v in overrides.items():
            setattr(s, k, v)
        return s

    def resolve_session_secret(self) -> str:
        """SESSION_SECRET, else one generated once and kept in DATA_DIR (sessions survive restarts)."""
        if self.session_secret:
            return self.session_secret
        path = os.path.join(self.data_dir, "session_secret")
        try:
            with open(path) as f:
                secret = f.read().strip()
            if secret:
                return secret
        except FileNotFoundError:
            pass
        os.makedirs(self.data_dir, exist_ok=True)
        secret = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        return secret


class AppContext:
    """Every service a handler needs, built once per process (or per test)."""

    def __init__(self, settings: Settings) -> None:
        from adaptors import build_registry
        from models.cache import Caches, ChannelRouter
        from models.channels import ChannelStore
        from models.db import Database
        from models.ledger import QuotaLedger
        from models.options import Options, OptionStore
        from models.redemptions import RedemptionStore
        from models.tokens import TokenStore
        from models.users import UserStore, hash_password
        from relay.channel_test import ChannelChecks
        from relay.tokenizer import TokenCounter
        from relay.upstream import ProxyConfig, make_client

        self.settings = settings
        settings.session_secret = settings.resolve_session_secret()
        self.db = Database(settings.mongodb_uri, settings.log_mongodb_uri or None)
        self.options = Options()
        self.option_store = OptionStore(self.db, self.options)
        self.users = UserStore(self.db)
        self.tokens = TokenStore(self.db)
        self.redemptions = RedemptionStore(self.db)
        self.channels = ChannelStore(self.db)
        self.caches = Caches(self.db, ttl=settings.sync_frequency)
        self.router = ChannelRouter(self.channels)
        self.ledger = QuotaLedger(self.db, interval=settings.batch_update_interval)
        self.counter = TokenCounter(o200k=bool(settings.tiktoken_cache_dir))
        self.adaptors = build_registry()
        self.channel_checks = ChannelChecks(self)
        self.http = make_client(settings.relay_max_connections)
        self.proxy = ProxyConfig.parse(settings.relay_proxy)
        self.start_time = int(time.time())
        self.dummy_hash = hash_password(secrets.token_hex(8))
        from handlers.ratelimit import RateLimiter
        from models.verifications import VerificationStore
        from services.mailer import Mailer

        self.limiter = RateLimiter()
        self.mailer = Mailer(self.options)
        self.verifications = VerificationStore(self.db)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self.options.on_change(self._option_changed)

    def _option_changed(self, key: str) -> None:
        if key == "ApproximateTokenEnabled":
            self.counter.approximate = self.options.bool(key)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.db.ping()
        await self.db.ensure_indexes(self.settings.log_retention_days)
        await self.option_store.load()
        await self.bootstrap()
        await self.router.reload()
        self.ledger.start()
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop())

    async def bootstrap(self) -> None:
        """First start on an empty database: root/123456 (One API), initial tokens."""
        from models.users import ROLE_ROOT

        if await self.users.count() > 0:
            return
        root = await self.users.create(
            "root", "123456", role=ROLE_ROOT, quota=ROOT_QUOTA, display_name="Root User",
            access_token=self.settings.initial_root_access_token or None,
        )
        log.warning("created the root user: log in as root / 123456 and change the password")
        if self.settings.initial_root_token:
            key = self.settings.initial_root_token
            key = key[3:] if key.startswith("sk-") else key
            await self.tokens.create(int(root["_id"]), "Initial Root Token", key=key,
                                     unlimited_quota=True)

    async def _sync_loop(self) -> None:
        """Safety net: reload channels and options every SYNC_FREQUENCY seconds."""
        while True:
            await asyncio.sleep(self.settings.sync_frequency)
            try:
                await self.router.reload()
                await self.option_store.load()
            except Exception:
                log.exception("periodic sync failed")

    async def stop(self) -> None:
        if self._sync_task:
            self._sync_task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ledger.stop()
        self.http.close()
        await self.db.close()

    # -- services used by handlers ------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a background task that is tracked and awaited on shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def channels_changed(self) -> None:
        await self.router.reload()

    async def disable_channel(self, channel_id: int, status: int, reason: str) -> None:
        ch = self.router.get(channel_id)
        if ch is None or ch.status != 1:
            return
        self.router.withdraw(channel_id)
        await self.channels.set_status(channel_id, status)
        await self.router.reload()
        log.warning("channel #%d (%s) disabled: %s", channel_id, ch.name, reason)

    def model_owners(self) -> dict[str, str]:
        owners: dict[str, str] = {}
        for t, adaptor in sorted(self.adaptors.items(), reverse=True):
            for m in adaptor.models(t):
                owners[m] = adaptor.name if adaptor.name != "azure" else "openai"
        return owners


class ConsoleGzip(tornado.web.GZipContentEncoding):
    """gzip for the console and /api (as One API), never for /v1: relayed answers and
    streams go out as they come, without compression latency or CPU."""

    def __init__(self, request: Any) -> None:
        super().__init__(request)
        if request.path.startswith("/v1/"):
            self._gzipping = False


def make_app(ctx: AppContext) -> tornado.web.Application:
    from handlers import all_routes

    return tornado.web.Application(
        all_routes(ctx.settings.frontend_dist), ctx=ctx, transforms=[ConsoleGzip],
        debug=False, xheaders=True,
    )


def setup_logging(log_dir: str, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            os.path.join(log_dir, "onerelay.log"), maxBytes=50 * 1024 * 1024, backupCount=5))
    logging.basicConfig(level=level, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


async def serve(settings: Settings) -> None:
    ctx = AppContext(settings)
    await ctx.start()
    app = make_app(ctx)
    server = tornado.httpserver.HTTPServer(app, xheaders=True, max_body_size=64 * 1024 * 1024)
    server.listen(settings.port)
    log.info("OneRelay %s listening on :%d", settings.version, settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: flushing quota and logs")
    server.stop()
    try:
        await asyncio.wait_for(server.close_all_connections(), timeout=10)
    except asyncio.TimeoutError:
        pass
    await ctx.stop()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onerelay", description="OneRelay: an OpenAI-compatible LLM API gateway.")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 3000; env PORT overrides)")
    parser.add_argument("--log-dir", default="./logs", help="directory for log files (default ./logs)")
    parser.add_argument("--version", action="version", version=f"OneRelay {__version__}")
    args = parser.parse_args(argv)

    from dotenv import load_dotenv

    load_dotenv()
    settings = Settings.from_env(log_dir=args.log_dir)
    if args.port is not None and not os.environ.get("PORT"):
        settings.port = args.port
    setup_logging(settings.log_dir, settings.debug)

    from services.console_build import ConsoleBuild

    if os.path.abspath(settings.frontend_dist) == DEFAULT_DIST:  # `npm run build` writes there
        ConsoleBuild(DEFAULT_DIST, os.path.join(ROOT_DIR, "frontend")).start_if_needed()

    embedded = None
    if not settings.mongodb_uri:
        from models.db import EmbeddedMongo

        embedded = EmbeddedMongo(os.path.join(settings.data_dir, "db"),
                                 os.path.join(settings.log_dir, "db.log") if settings.log_dir else None)
        settings.mongodb_uri = embedded.start()
        log.info("embedded database (SecantusDB) on %s, data in %s", settings.mongodb_uri,
                 embedded.storage_path)
    try:
        run(serve(settings))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
