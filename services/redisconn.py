"""One Redis connection for the whole process: a single server, Sentinel, or Cluster.

``REDIS_CONN_STRING`` (One API's variable) picks the shape:

- one ``redis://[user:password@]host[:port][/db]`` or ``rediss://...`` (TLS) URL,
  or a bare ``host[:port]``: a single server;
- with ``REDIS_MASTER_NAME`` set: a comma-separated list of Sentinel addresses
  (``host:port`` or URLs); the master named ``REDIS_MASTER_NAME`` is found
  through them and followed across failovers;
- several comma-separated addresses without a master name: a Redis Cluster
  (its startup nodes), as One API does.

``REDIS_PASSWORD`` is the data nodes' password when the URL carries none. In
Sentinel mode a password in the URLs authenticates to the Sentinels (and to
the master too, unless ``REDIS_PASSWORD`` is set).

Parsing (:func:`parse_conn_string`) never connects; a malformed value stops
the process with one line (``SystemExit``). Clients use short timeouts and at
most one immediate retry, so a dead Redis fails a command in about a second
or two instead of hanging a request; callers decide what to do without it
(the rate limiter falls back to counting in memory).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger("onerelay.redis")

CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 2.0
HEALTH_CHECK_INTERVAL = 15
PING_TIMEOUT = 3.0
DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
SCHEMES = ("redis", "rediss")


@dataclass(frozen=True)
class RedisConfig:
    """What ``REDIS_CONN_STRING`` + ``REDIS_PASSWORD`` + ``REDIS_MASTER_NAME`` mean."""

    mode: str  # "redis" | "sentinel" | "cluster"
    nodes: tuple[tuple[str, int], ...]  # the server / sentinels / cluster startup nodes
    db: int = 0
    username: str | None = None
    password: str | None = None  # for the data nodes
    tls: bool = False
    master_name: str = ""
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def _fail(msg: str) -> SystemExit:
    return SystemExit(f"REDIS_CONN_STRING {msg}")


def _parse_entry(entry: str) -> tuple[str, urllib.parse.SplitResult]:
    shown = _redact(entry)
    if "://" in entry:
        scheme = entry.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            raise _fail(f"{shown!r}: unknown scheme {scheme + '://'!r}; use redis:// or rediss://")
        url = entry
    else:
        if "@" in entry or "/" in entry or "?" in entry:
            raise _fail(f"{shown!r}: write a full redis:// URL to give a password or a database")
        url = "redis://" + entry
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port
    except ValueError:
        hostport = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
        raw = hostport.rpartition("]")[2] if hostport.startswith("[") else hostport
        raw = raw.rpartition(":")[2]
        raise _fail(f"{shown!r}: bad port {raw!r}; expected host:port with a port from 1 to 65535") from None
    if not u.hostname:
        raise _fail(f"{shown!r}: the host is empty; expected host:port")
    if port is None:
        # urlsplit accepts "host:" as no port
        if u.netloc.rsplit("@", 1)[-1].endswith(":"):
            raise _fail(f"{shown!r}: the port is empty; expected host:port")
    elif not 1 <= port <= 65535:
        raise _fail(f"{shown!r}: bad port {port}; expected a port from 1 to 65535")
    if u.query or u.fragment:
        raise _fail(f"{shown!r}: URL options (?...) are not supported; use redis://[user:password@]host:port/db")
    return u.scheme.lower(), u


def _redact(entry: str) -> str:
    """The entry with any password replaced, for error messages."""
    if "@" not in entry:
        return entry
    head, _, tail = entry.rpartition("@")
    scheme, sep, userinfo = head.rpartition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{tail}" if ":" in userinfo else f"{scheme}{sep}{user}@{tail}"


def _db_of(u: urllib.parse.SplitResult, shown: str) -> int:
    path = u.path.strip("/")
    if not path:
        return 0
    if not path.isdigit():
        raise _fail(f"{shown!r}: the database must be a number (redis://host:port/0), got {path!r}")
    return int(path)


def parse_conn_string(value: str, password: str = "", master_name: str = "") -> RedisConfig | None:
    """Parse the settings; None when ``value`` is empty. Raises ``SystemExit`` (one line) when malformed."""
    value = (value or "").strip()
    if not value:
        return None
    master_name = (master_name or "").strip()
    entries = [e.strip() for e in value.split(",")]
    if any(not e for e in entries):
        raise _fail(f"{_redact(value)!r}: an empty address in the comma-separated list")
    mode = "sentinel" if master_name else ("cluster" if len(entries) > 1 else "redis")
    default_port = DEFAULT_SENTINEL_PORT if mode == "sentinel" else DEFAULT_PORT
    parsed = [(e, *_parse_entry(e)) for e in entries]
    schemes = {scheme for _, scheme, _ in parsed}
    if len(schemes) > 1:
        raise _fail("mixes redis:// and rediss:// addresses; use one scheme for all of them")
    tls = schemes == {"rediss"}
    nodes = tuple((u.hostname or "", u.port or default_port) for _, _, u in parsed)
    if len(set(nodes)) != len(nodes):
        raise _fail(f"{_redact(value)!r}: the same address is listed twice")
    url_user = next((urllib.parse.unquote(u.username) for _, _, u in parsed if u.username), None)
    url_pass = next((urllib.parse.unquote(u.password) for _, _, u in parsed if u.password is not None), None)
    dbs = {_db_of(u, _redact(e)) for e, _, u in parsed}
    if len(dbs) > 1:
        raise _fail("names different databases in one list; use the same /db on every address")
    db = dbs.pop()
    if mode == "cluster" and db != 0:
        raise _fail("selects database %d, but a Redis Cluster only has database 0 (several addresses "
                    "mean a cluster; set REDIS_MASTER_NAME for Sentinel)" % db)
    if mode == "sentinel":
        return RedisConfig(mode, nodes, db=db, username=None, password=password or url_pass or None,
                           tls=tls, master_name=master_name, sentinel_username=url_user,
                           sentinel_password=url_pass)
    return RedisConfig(mode, nodes, db=db, username=url_user, password=url_pass or password or None, tls=tls)


def _retry() -> Any:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # one immediate retry: enough to replace a pooled connection a restarted server closed,
    # never a backoff loop that holds a request for seconds
    return Retry(NoBackoff(), 1)


class RedisConn:
    """The process's Redis client and how to reach it.

    ``client`` runs commands (a ``Redis``, a Sentinel-managed master, or a
    ``RedisCluster``); ``healthy`` is a shared flag components set when they
    see Redis fail or recover; :meth:`pubsub` gives a classic pub/sub
    (broadcast to the whole deployment, also on a cluster).
    """

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.healthy = True
        self._warned_start = False
        self._sentinel: Any = None
        self._pubsub_client: "Redis | None" = None  # cluster: the client of the latest pubsub()
        self._pubsub_clients: dict[tuple[str, int], "Redis"] = {}  # cluster: one per startup node used
        self._pubsub_next = 0  # cluster: which startup node the next pubsub() uses
        self.client: Any = self._build()

    @classmethod
    def from_settings(cls, settings: Any) -> "RedisConn | None":
        cfg = parse_conn_string(getattr(settings, "redis_conn_string", ""),
                                getattr(settings, "redis_password", ""),
                                getattr(settings, "redis_master_name", ""))
        return cls(cfg) if cfg is not None else None

    @classmethod
    def from_url(cls, value: str, password: str = "", master_name: str = "") -> "RedisConn":
        cfg = parse_conn_string(value, password, master_name)
        if cfg is None:
            raise _fail("is empty")
        return cls(cfg)

    def _common(self) -> dict[str, Any]:
        c = self.config
        kw: dict[str, Any] = dict(socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
                                  health_check_interval=HEALTH_CHECK_INTERVAL, retry=_retry(),
                                  username=c.username, password=c.password)
        if c.tls:
            kw["ssl"] = True
        return kw

    def _build(self) -> Any:
        c = self.config
        if c.mode == "redis":
            from redis.asyncio import Redis

            host, port = c.nodes[0]
            return Redis(host=host, port=port, db=c.db, **self._common())
        if c.mode == "sentinel":
            from redis.asyncio.sentinel import Sentinel

            skw: dict[str, Any] = dict(socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
                                       retry=_retry())
            if c.sentinel_password is not None:
                skw.update(username=c.sentinel_username, password=c.sentinel_password)
            if c.tls:
                skw["ssl"] = True
            self._sentinel = Sentinel(list(c.nodes), sentinel_kwargs=skw)
            return self._sentinel.master_for(c.master_name, db=c.db, **self._common())
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        kw = self._common()
        kw.pop("retry")
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in c.nodes], retry=_retry(), **kw)

    def mark_down(self, err: BaseException, *, at_start: bool = False) -> None:
        """A component found Redis unreachable: one warning per outage for the whole process."""
        if self.healthy or at_start and not self._warned_start:
            self._warned_start = True
            when = "at start-up" if at_start else "mid-run"
            log.warning("Redis %s unreachable %s (%s: %s): change events use the database feed and "
                        "rate limits count per process until it answers", self.describe(), when,
                        type(err).__name__, str(err) or "no detail")
        self.healthy = False

    def mark_up(self) -> None:
        """Redis answered again (logged once per recovery)."""
        if not self.healthy:
            log.warning("Redis %s reachable again: shared state uses it", self.describe())
        self.healthy = True
        self._warned_start = True

    def describe(self) -> str:
        """For logs: mode and addresses, never a password."""
        addrs = ",".join(f"{h}:{p}" for h, p in self.config.nodes)
        extra = f" master {self.config.master_name}" if self.mode == "sentinel" else ""
        return f"{self.mode} {'rediss' if self.config.tls else 'redis'}://{addrs}{extra}"

    def pubsub(self) -> "PubSub":
        """A classic pub/sub on a non-cluster connection (a cluster broadcasts classic PUBLISH to every node).

        Read with ``get_message(timeout=...)`` or ``listen()``; the caller closes it (``aclose()``).
        On a cluster each call takes the next startup node in turn (the first one first), so a
        subscriber that lost its node (crashed, failed over, removed) resubscribes through another.
        """
        if self.mode != "cluster":
            return self.client.pubsub()
        node = self.config.nodes[self._pubsub_next % len(self.config.nodes)]
        self._pubsub_next += 1
        client = self._pubsub_clients.get(node)
        if client is None:
            from redis.asyncio import Redis

            client = self._pubsub_clients[node] = Redis(host=node[0], port=node[1], **self._common())
        self._pubsub_client = client
        return client.pubsub()

    async def ping(self) -> bool:
        """True when Redis answers PING; never raises."""
        try:
            return bool(await asyncio.wait_for(self.client.ping(), PING_TIMEOUT))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any failure means "not reachable now"
            return False

    async def close(self) -> None:
        for c in (self.client, *self._pubsub_clients.values(), self._sentinel):
            if c is None:
                continue
            try:
                await c.aclose()
            except Exception as e:  # noqa: BLE001 - closing a dead connection is not an error
                log.debug("closing redis client: %s", e)
        self._pubsub_client = None
        self._pubsub_clients.clear()
