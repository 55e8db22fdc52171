"""The service container: settings and every service a handler or the relay uses.

``server.py`` reads the environment and builds one :class:`AppContext` per process;
tests build their own. Nothing here reads ``os.environ`` except through
:meth:`Settings.from_env`, which is handed the environment by its caller.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Coroutine

import tornado.web

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIST = os.path.join(ROOT_DIR, "frontend", "dist")

__version__ = "0.1.0"

log = logging.getLogger("onerelay")

ROOT_QUOTA = 500_000_000_000_000  # One API's initial root quota (5e14)
DEFAULT_TEST_PROMPT = "Output only your specific model name with no additional text."  # One API's TEST_PROMPT
ABORT_GRACE = 5.0  # seconds requests ended at the shutdown deadline get to settle


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


def _trusted_proxies(value: str) -> Any:
    from services.clientip import TrustedProxies

    try:
        return TrustedProxies.parse(value)
    except ValueError as err:
        raise SystemExit(str(err)) from None


@dataclass
class Settings:
    """Everything configurable, read once from the environment (see README's table)."""

    port: int = 3000
    log_dir: str = "./logs"
    data_dir: str = "./data"
    mongodb_uri: str = ""
    log_mongodb_uri: str = ""
    redis_conn_string: str = ""
    redis_password: str = ""
    redis_master_name: str = ""  # Sentinel: REDIS_CONN_STRING lists the sentinels
    node_type: str = "master"  # master | slave (NODE_TYPE)
    worker_index: int = 0  # set by --workers N for each pre-forked worker (0 acts as master)
    workers: int = 1
    frontend_base_url: str = ""  # slave nodes redirect console pages there (One API)
    channel_test_frequency: float = 0.0  # seconds between automatic test rounds (env: minutes; 0 = off)
    polling_interval: float = 0.0  # seconds between two channels within a test/balance round
    auto_enable_check: float = 10.0  # seconds between two looks for channels whose auto_enable_at came
    metrics_token: str = ""  # /metrics wants "Authorization: Bearer <it>" when set
    metrics_enabled: bool = True  # /metrics answers 404 when off
    channel_update_frequency: float = 0.0  # seconds between balance rounds (env: minutes; 0 = off)
    enable_metric: bool = False
    metric_queue_size: int = 10
    metric_success_rate_threshold: float = 0.8
    lease_ttl: float = 30.0  # a crashed process's unspent quota lease returns after this
    shutdown_timeout: float = 30.0  # SIGTERM: seconds in-flight requests and streams get to finish
    gemini_version: str = "v1beta"  # GEMINI_VERSION: the Gemini API version (a channel's config may override)
    gemini_safety_setting: str = "BLOCK_NONE"  # GEMINI_SAFETY_SETTING: threshold for every harm category
    session_secret: str = ""
    crypto_secret: str = ""  # CRYPTO_SECRET: encrypts stored channel keys and secrets (services/crypto.py)
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
    # TRUSTED_PROXIES: networks whose X-Forwarded-For / X-Real-Ip / X-Forwarded-Proto are believed
    trusted_proxies: Any = field(default_factory=lambda: _trusted_proxies(""))
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
            redis_password=e.get("REDIS_PASSWORD", ""),
            redis_master_name=e.get("REDIS_MASTER_NAME", ""),
            node_type=(e.get("NODE_TYPE") or "master").strip().lower(),
            workers=int(_num(e, "WORKERS", 1)),
            frontend_base_url=(e.get("FRONTEND_BASE_URL") or "").rstrip("/"),
            # One API reads both frequencies in minutes (fractions allowed here); kept in seconds
            channel_test_frequency=_num(e, "CHANNEL_TEST_FREQUENCY", 0) * 60,
            polling_interval=_num(e, "POLLING_INTERVAL", 0),
            channel_update_frequency=_num(e, "CHANNEL_UPDATE_FREQUENCY", 0) * 60,
            enable_metric=_bool(e.get("ENABLE_METRIC")),
            metric_queue_size=int(_num(e, "METRIC_QUEUE_SIZE", 10)),
            metric_success_rate_threshold=_num(e, "METRIC_SUCCESS_RATE_THRESHOLD", 0.8),
            lease_ttl=_num(e, "LEASE_TTL", 30),
            shutdown_timeout=_num(e, "SHUTDOWN_TIMEOUT", 30),
            gemini_version=(e.get("GEMINI_VERSION") or "v1beta").strip(),
            gemini_safety_setting=(e.get("GEMINI_SAFETY_SETTING") or "BLOCK_NONE").strip(),
            session_secret=e.get("SESSION_SECRET", ""),
            crypto_secret=e.get("CRYPTO_SECRET", ""),
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
            trusted_proxies=_trusted_proxies(e.get("TRUSTED_PROXIES", "")),
            metrics_token=e.get("METRICS_TOKEN", ""),
            metrics_enabled=_bool(e.get("METRICS_ENABLED", "true")),
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
        if s.redis_conn_string:  # a malformed value stops start-up with one line, before anything runs
            from services.redisconn import parse_conn_string

            parse_conn_string(s.redis_conn_string, s.redis_password, s.redis_master_name)
        if s.node_type not in ("master", "slave"):
            raise SystemExit(f"NODE_TYPE must be master or slave, got {s.node_type!r}")
        if s.workers < 1:
            raise SystemExit(f"WORKERS must be at least 1, got {s.workers}")
        if s.shutdown_timeout < 0:
            raise SystemExit(f"SHUTDOWN_TIMEOUT must be 0 or more seconds, got {s.shutdown_timeout:g}")
        if e.get("FRONTEND_DIST"):
            s.frontend_dist = e["FRONTEND_DIST"]
        for k, v in overrides.items():
            setattr(s, k, v)
        return s

    @property
    def is_master(self) -> bool:
        """Creates indexes, migrates, runs the scheduler and log retention (one per deployment)."""
        return self.node_type == "master" and self.worker_index == 0

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
        from models.response_routes import ResponseRoutes
        from models.tokens import TokenStore
        from models.users import UserStore, hash_password
        from relay.channel_test import ChannelChecks, CheckServices
        from relay.tokenizer import TokenCounter
        from relay.upstream import ProxyConfig, make_client

        from models.events import EventBus
        from models.logs import LogStore

        self.settings = settings
        self._secret_from_env = bool(settings.session_secret)
        settings.session_secret = settings.resolve_session_secret()
        self.db = Database(settings.mongodb_uri, settings.log_mongodb_uri or None)
        self.redis = None
        if settings.redis_conn_string:
            from services.redisconn import RedisConn

            self.redis = RedisConn.from_settings(settings)
        # Stores own every write and publish a change event; caches on every process listen.
        self.events = EventBus(self.db, self.redis)
        from models.audit import AuditStore
        from services.crypto import SecretBox

        self.crypto = SecretBox(settings.crypto_secret)  # secrets at rest; decrypted on load only
        self.audit = AuditStore(self.db)
        self.options = Options()
        self.option_store = OptionStore(self.db, self.options, self.events, crypto=self.crypto)
        self.users = UserStore(self.db, self.events)
        self.tokens = TokenStore(self.db, self.events)
        self.redemptions = RedemptionStore(self.db, self.events)
        self.channels = ChannelStore(self.db, self.events, crypto=self.crypto)
        self.caches = Caches(self.db, ttl=settings.sync_frequency, events=self.events)
        self.router = ChannelRouter(self.channels, self.events)
        self.ledger = QuotaLedger(self.db, interval=settings.batch_update_interval, events=self.events,
                                  owner=self.events.origin, lease_ttl=settings.lease_ttl)
        self.logs = LogStore(self.db, self.ledger)
        self.response_routes = ResponseRoutes(self.db)
        self.counter = TokenCounter(o200k=bool(settings.tiktoken_cache_dir))
        self.adaptors = build_registry(settings)
        self.http = make_client(settings.relay_max_connections)
        self.proxy = ProxyConfig.parse(settings.relay_proxy)
        from relay.credentials import CredentialCache

        self.credentials = CredentialCache(self.http, self.proxy)  # exchanged access tokens
        self.channel_checks = ChannelChecks(CheckServices(
            channels=self.channels, logs=self.logs, options=self.options, adaptors=self.adaptors,
            http=self.http, proxy=self.proxy, relay_timeout=settings.relay_timeout,
            test_prompt=settings.test_prompt, spawn=self.spawn, credentials=self.credentials,
            disable_channel=self.disable_channel, on_enabled=self._channel_enabled))
        self.start_time = int(time.time())
        self.dummy_hash = hash_password(secrets.token_hex(8))
        from handlers.ratelimit import Limiter
        from models.verifications import VerificationStore
        from services.mailer import Mailer

        self.limiter = Limiter(self.redis)  # Redis windows when configured, else this process's
        self.mailer = Mailer(self.options)
        self.mailer.on_low_quota = self._low_quota
        self.verifications = VerificationStore(self.db)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None
        # Relay requests in flight (a Job adds itself when it starts and leaves when it has
        # settled): a clean stop waits for them, then ends the ones left (drain()).
        self.jobs: set[Any] = set()
        self.refusing = False  # the drain's deadline passed: new relay requests are refused (503)
        self.options.on_change(self._option_changed)
        from services.prometheus import Exposition, Metrics

        self.prom = Metrics(self, directory=os.environ.get("ONERELAY_METRICS_DIR", ""))
        from services.limits import Counters, Limits

        self.limits = Limits(Counters(self.db, self.redis))  # RPM/TPM, periodic quotas, channel RPM
        self.exposition = Exposition(self.prom)
        from services.metrics import ChannelMetrics  # scheduler
        from services.scheduler import Scheduler  # scheduler
        self.metrics = ChannelMetrics(self)  # scheduler
        self.scheduler = Scheduler(self.channel_checks, settings)  # scheduler

    def _option_changed(self, key: str) -> None:
        if key == "ApproximateTokenEnabled":
            self.counter.approximate = self.options.bool(key)
        elif key == "Language":
            from services.i18n import DEFAULT, normalize

            self.logs.language = normalize(self.options.get(key)) or DEFAULT

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.db.ping()
        await self.check_crypto()  # a wrong or missing CRYPTO_SECRET stops here, before serving
        if self.settings.is_master:
            await self.db.ensure_indexes(self.settings.log_retention_days)
            await self.response_routes.ensure_indexes()
            await self.audit.ensure_indexes()
        await self.share_session_secret()
        await self.events.start()
        await self.option_store.load()
        if self.settings.is_master:
            from services.migrations import migrate

            await migrate(self.db.system, self.channels)
            await self.bootstrap()
        await self.router.reload()
        self.ledger.start()
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop())
        if self.prom.directory:  # --workers: this worker's counters, for the others' /metrics
            self._metrics_task = asyncio.get_running_loop().create_task(self._metrics_loop())
        self.scheduler.start()  # scheduler (master only)

    async def check_crypto(self) -> None:
        """Refuse to start (CryptoError) when stored secrets cannot be read with CRYPTO_SECRET:
        the deployment's check value (stored by the first node with a secret) must decrypt,
        and so must every encrypted channel secret and option."""
        from services.crypto import check_deployment_secret

        await check_deployment_secret(self.db, self.crypto, "CRYPTO_SECRET is not the secret this database's secrets "
                                      "are encrypted with: start with that one, or change it with `python server.py "
                                      "rotate-secret --old OLD --new NEW`")
        await self.channels.all()  # decrypts every channel: raises on a wrong or missing secret
        await self.option_store.verify_secrets()

    async def share_session_secret(self) -> None:
        """Without SESSION_SECRET every node must still sign cookies alike: the first one
        to start stores its secret in the database and every node uses that one."""
        if self._secret_from_env:
            return
        from pymongo import ReturnDocument

        doc = await self.db.system.find_one_and_update(
            {"_id": "session_secret"}, {"$setOnInsert": {"value": self.settings.session_secret}},
            upsert=True, return_document=ReturnDocument.AFTER)
        if doc and isinstance(doc.get("value"), str) and doc["value"]:
            self.settings.session_secret = doc["value"]

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

    async def _metrics_loop(self) -> None:
        from services.prometheus import SNAPSHOT_EVERY

        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            self.prom.write_snapshot(force=True)

    async def _sync_loop(self) -> None:
        """Safety net: reload channels and options every SYNC_FREQUENCY seconds."""
        while True:
            await asyncio.sleep(self.settings.sync_frequency)
            try:
                await self.router.reload()
                await self.option_store.load()
            except Exception:
                log.exception("periodic sync failed")

    async def drain(self, timeout: float, hurry: asyncio.Event | None = None) -> int:
        """Let the relay requests in flight finish for up to ``timeout`` seconds (or until
        ``hurry`` is set), then end the ones left: an open stream gets one error event in its
        client's format (and ``[DONE]`` for OpenAI chat), every upstream call is cancelled, and
        each request settles its reservation as for a client that went away (billed for what
        was generated; one that answered nothing yet gets a 503 and is refunded). Returns how
        many were ended. Call :meth:`stop` (the final flush) only after this."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.jobs and loop.time() < deadline and not (hurry is not None and hurry.is_set()):
            await asyncio.sleep(0.05)
        self.refusing = True
        left = list(self.jobs)
        if not left:
            return 0
        log.warning("shutting down: ending %d request(s) still in flight", len(left))
        for job in left:
            job.abort("The server is shutting down")
        deadline = loop.time() + ABORT_GRACE
        while self.jobs and loop.time() < deadline:
            await asyncio.sleep(0.02)
        stuck = [job.task for job in self.jobs if job.task is not None and not job.task.done()]
        if stuck:  # e.g. waiting on the database: cancelled, their finally still settles
            log.warning("shutting down: cancelling %d request(s) that did not end", len(stuck))
            for task in stuck:
                task.cancel()
            await asyncio.wait(stuck, timeout=ABORT_GRACE)
        return len(left)

    async def stop(self) -> None:
        await self.scheduler.stop()  # scheduler
        if self._sync_task:
            self._sync_task.cancel()
        if self._metrics_task:
            self._metrics_task.cancel()
        self.prom.write_snapshot(force=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ledger.stop()
        await self.events.stop()
        if self.redis is not None:
            await self.redis.close()
        self.http.close()
        await self.db.close()

    # -- services used by handlers ------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a background task that is tracked and awaited on shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def channels_changed(self) -> None:
        """Rebuild this process's routing table now (stores already announced the change)."""
        await self.router.reload()

    async def disable_channel(self, channel_id: int, status: int, reason: str) -> None:
        """Auto-disable an enabled channel and notify root once (concurrent calls: one wins)."""
        from services.notify import channel_disabled_message, notify_root  # scheduler

        ch = self.router.get(channel_id)
        self.router.withdraw(channel_id)
        if not await self.channels.set_status(channel_id, status, only_from=1):  # scheduler
            return
        name = ch.name if ch else str(((await self.channels.get(channel_id)) or {}).get("name") or "")
        log.warning("channel #%d (%s) disabled: %s", channel_id, name, reason)
        self.spawn(notify_root(self, *channel_disabled_message(channel_id, name, reason)))  # scheduler

    def _channel_enabled(self, channel_id: int, name: str, reason: str) -> None:
        """A channel test re-enabled an auto-disabled channel: fresh metrics, and root hears of it."""
        from services.notify import channel_enabled_message, notify_root

        self.metrics.forget(channel_id)  # a fresh start, not the failures that disabled it
        self.spawn(notify_root(self, *channel_enabled_message(channel_id, name, reason)))

    def _low_quota(self, user_id: int, username: str, quota: int) -> None:
        """A user's quota fell below QuotaRemindThreshold: root hears of it (NotifyLowQuotaEnabled)."""
        if not self.options.bool("NotifyLowQuotaEnabled"):
            return
        from services.billing import log_quota
        from services.notify import low_quota_message, notify_root

        self.spawn(notify_root(self, *low_quota_message(username, user_id, log_quota(self, quota))))

    def notify_topup(self, user_id: int, username: str, quota: int, how: str) -> None:
        """A top-up: root hears of it (NotifyTopupEnabled)."""
        if not self.options.bool("NotifyTopupEnabled"):
            return
        from services.billing import log_quota
        from services.notify import notify_root, topup_message

        self.spawn(notify_root(self, *topup_message(username, user_id, log_quota(self, quota), how)))

    def model_owners(self) -> dict[str, str]:
        """Built-in model -> owner (``/v1/models``): the lowest type id that lists it wins."""
        from adaptors import PROVIDERS

        owners: dict[str, str] = {}
        for t, spec in sorted(PROVIDERS.items(), reverse=True):
            if t in self.adaptors:
                for m in spec.models:
                    owners[m] = spec.adaptor if spec.adaptor != "azure" else "openai"
        return owners


class ConsoleGzip(tornado.web.GZipContentEncoding):
    """gzip for the console and /api (as One API), never for /v1: relayed answers and
    streams go out as they come, without compression latency or CPU."""

    def __init__(self, request: Any) -> None:
        super().__init__(request)
        if request.path.startswith("/v1/"):
            self._gzipping = False


MAX_BODY_BYTES = 64 * 1024 * 1024  # after gzip decoding too (Tornado checks the decoded size)


def _nodelay_kept(value: bool) -> None:
    """A connection's ``set_nodelay``: TCP_NODELAY stays on (see :func:`http_server`)."""


def http_server(app: tornado.web.Application) -> Any:
    """The HTTP server for an app: a body cap, gzip request bodies decoded. Forwarded headers are
    not Tornado's business (it would trust anyone's): services/clientip.py reads them from
    TRUSTED_PROXIES only.

    Every connection gets TCP_NODELAY once, when accepted, and keeps it: a stream's events go out
    as they are written (Nagle's algorithm would hold a small event back until the client
    acknowledges the previous one), and Tornado's two ``setsockopt`` calls per response (on at
    its end, off again after) are saved."""
    import tornado.httpserver

    class Server(tornado.httpserver.HTTPServer):
        def handle_stream(self, stream: Any, address: Any) -> None:
            stream.set_nodelay(True)  # a no-op for a Unix socket
            stream.set_nodelay = _nodelay_kept
            super().handle_stream(stream, address)

    return Server(app, xheaders=False, max_body_size=MAX_BODY_BYTES, decompress_request=True)


def make_app(ctx: AppContext) -> tornado.web.Application:
    from handlers import all_routes

    return tornado.web.Application(
        all_routes(ctx.settings.frontend_dist), ctx=ctx, transforms=[ConsoleGzip],
        debug=False, xheaders=False,
    )


