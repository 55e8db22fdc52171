"""OneRelay on a real 3-master Redis Cluster (``REDIS_CONN_STRING=host:p1,host:p2,host:p3``).

The module starts three ``redis-server --cluster-enabled yes`` processes on free loopback
ports (no persistence, each in its own temporary directory), joins them with
``redis-cli --cluster create`` and waits for ``cluster_state:ok``; every test shares that
cluster and it is torn down at the end of the module.

- ``RedisConn`` in cluster mode answers PING, and two ``Limiter`` s on two connections share
  one limit for keys that hash to different slots (so to different masters).
- Two real nodes (``python server.py``) use the cluster: both report ``shared_state ==
  "redis"`` and a token disabled on one is refused on the other (cluster pub/sub).
- Last (it changes the topology): the first listed node gets a replica, is killed and fails
  over; event subscribers move to another startup node and the limits are shared again.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import time
from typing import Any, AsyncIterator, Iterator

import pytest

from services.redisconn import RedisConn
from tests.conftest import Upstream
from tests.nodes import Node, converge
from tests.realredis import RedisServer, free_port, have_redis

assert have_redis(), "redis-server is required (scripts/test.sh installs it)"

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
MSG = [{"role": "user", "content": "hi"}]
WINDOW = 3600.0  # long, so a dozen hits never straddle two windows (the sliding overlap would blur the count)
_seq = itertools.count(1)


def cluster_server() -> RedisServer:
    """A cluster-enabled ``RedisServer`` with its own free bus port (the default, port + 10000,
    may be taken or above 65535)."""
    port = free_port()
    bus = free_port()
    while bus == port:
        bus = free_port()
    return RedisServer(port, args=("--cluster-enabled", "yes", "--cluster-port", str(bus),
                                   "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"))


class RedisCluster:
    """Three cluster-enabled ``RedisServer`` s joined as three masters with no replicas
    (:meth:`add_replica` adds one)."""

    def __init__(self, masters: int = 3) -> None:
        self.servers = [cluster_server() for _ in range(masters)]

    @property
    def conn_string(self) -> str:
        return ",".join(s.address for s in self.servers)

    def _cli(self, port: int, *args: str, timeout: float = 10.0) -> str:
        proc = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.stdout + proc.stderr

    def start(self, timeout: float = 20.0) -> "RedisCluster":
        for s in self.servers:
            s.start()
        out = subprocess.run([REDIS_CLI, "--cluster", "create", *(s.address for s in self.servers),
                              "--cluster-replicas", "0", "--cluster-yes"],
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed ({out.returncode}):\n{out.stdout}{out.stderr}")
        self.wait_ok(self.servers, timeout)
        return self

    def wait_ok(self, servers: list[RedisServer], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            infos = [self._cli(s.port, "CLUSTER", "INFO") for s in servers]
            if all("cluster_state:ok" in i for i in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok:\n" + "\n".join(infos))
            time.sleep(0.05)

    def add_replica(self, master: RedisServer, timeout: float = 20.0) -> RedisServer:
        """A new node replicating ``master``, known to every node, its replication link up."""
        rep = cluster_server().start()
        self.servers.append(rep)
        master_id = self._cli(master.port, "CLUSTER", "MYID").strip()
        out = subprocess.run([REDIS_CLI, "--cluster", "add-node", rep.address, master.address, "--cluster-slave",
                              "--cluster-master-id", master_id], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster add-node failed ({out.returncode}):\n{out.stdout}{out.stderr}")
        rep_id = self._cli(rep.port, "CLUSTER", "MYID").strip()
        deadline = time.monotonic() + timeout
        while True:
            link = self._cli(rep.port, "INFO", "replication")
            views = [self._cli(s.port, "CLUSTER", "NODES") for s in self.servers if s.running]
            if "master_link_status:up" in link and all(f"{rep_id} " in v and f"slave {master_id}" in v
                                                           for v in views):
                return rep
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not join:\n" + link + "\n".join(views))
            time.sleep(0.05)

    def cleanup(self) -> None:
        for s in self.servers:
            s.cleanup()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


@pytest.fixture
async def conns(redis_cluster: RedisCluster) -> AsyncIterator[list[RedisConn]]:
    made: list[RedisConn] = []
    try:
        for _ in range(2):
            made.append(RedisConn.from_url(redis_cluster.conn_string))
        yield made
    finally:
        for c in made:
            await c.close()


async def test_cluster_mode_ping_and_a_shared_limit(redis_cluster: RedisCluster, conns: list[RedisConn]) -> None:
    from handlers.ratelimit import Limiter
    from redis.asyncio.cluster import RedisCluster as ClusterClient

    a, b = conns
    assert a.mode == b.mode == "cluster" and isinstance(a.client, ClusterClient)
    assert await a.ping() is True and await b.ping() is True

    run = f"rc{next(_seq)}-{time.time_ns()}"
    keys = [f"{run}:{i}" for i in range(12)]
    owners = {a.client.get_node_from_key("onerelay:rl:" + k).port for k in keys}
    assert len(owners) > 1, "the keys should live on several masters"
    la, lb = Limiter(a), Limiter(b)
    for key in keys:
        results = []
        for _ in range(6):  # interleaved: 6 hits through each connection, 12 in all, limit 10
            results.append(await la.hit(key, 10, WINDOW))
            results.append(await lb.hit(key, 10, WINDOW))
        assert results.count(True) == 10, (key, results)
        assert results[-2:] == [False, False], (key, results)
    # every answer came from the cluster, none from a fallback to per-process counting
    assert la.shared and lb.shared and len(la.local) == 0 and len(lb.local) == 0
    assert a.healthy and b.healthy
    # a PubSub from RedisConn sees a PUBLISH made through the cluster client (broadcast)
    ps = a.pubsub()
    try:
        await ps.subscribe("onerelay:test")
        await b.client.publish("onerelay:test", "hello")

        async def got() -> bool:
            msg = await ps.get_message(ignore_subscribe_messages=True, timeout=0.2)
            return msg is not None and msg["data"] == b"hello"
        await converge(got, timeout=10)
    finally:
        await ps.aclose()


async def test_two_nodes_share_state_through_the_cluster(redis_cluster: RedisCluster, mongo: Any,
                                                         upstream: Upstream) -> None:
    upstream.state.reset()
    uri = f"mongodb://127.0.0.1:{mongo.port}/rcl{next(_seq)}"
    nodes: list[Node] = []
    try:
        a = await Node(uri, redis_url=redis_cluster.conn_string).start()
        nodes.append(a)
        b = Node(uri, redis_url=redis_cluster.conn_string, node_type="slave")
        nodes.append(b)
        await b.start()
        for n in (a, b):
            assert (await n.ok("GET", "/api/status", token=None))["shared_state"] == "redis", n.log_tail()

        await a.ok("POST", "/api/channel/", {"name": "up", "type": 1, "key": "sk-ok", "base_url": upstream.url,
                                            "models": "gpt-3.5-turbo", "group": "default"})
        tok = await a.ok("POST", "/api/token/", {"name": "t", "unlimited_quota": True, "expired_time": -1})
        key = "sk-" + tok["key"]
        await converge(lambda: _code_is(b.chat(key, messages=MSG), 200), timeout=15)
        await a.ok("PUT", "/api/token/?status_only=true", {"id": tok["id"], "status": 2})
        await converge(lambda: _code_is(b.chat(key, messages=MSG), 401), timeout=15)
        # and back: enabled on B, served again on A
        await b.ok("PUT", "/api/token/?status_only=true", {"id": tok["id"], "status": 1})
        await converge(lambda: _code_is(a.chat(key, messages=MSG), 200), timeout=15)
        for n in (a, b):
            # still on pub/sub (no fallback to the database feed), and the events came through it
            status = await n.ok("GET", "/api/status", token=None)
            assert status["shared_state"] == "redis", n.log_tail()
            logs = n.log_tail(200000)
            assert "Traceback" not in logs and "unreachable" not in logs, logs
    finally:
        for n in nodes:
            n.close()


async def test_pubsub_follows_a_failover_of_the_first_startup_node(redis_cluster: RedisCluster,
                                                                   conns: list[RedisConn]) -> None:
    """The first listed node dies and its replica takes over: subscribers move to another startup
    node (they used to retry the dead one forever, leaving change events on the database feed and
    the shared ``healthy`` flag flapping between the event bus and the limiter), and the limits on
    the failed-over slots are shared again."""
    import json
    import uuid

    from handlers.ratelimit import Limiter
    from models.events import CHANNEL, EventBus
    from redis.cluster import key_slot

    first = redis_cluster.servers[0]
    redis_cluster.add_replica(first)
    a, b = conns
    buses = [EventBus(None, a), EventBus(None, b)]
    try:
        for bus in buses:
            await bus.start()
        assert [bus.mode for bus in buses] == ["redis", "redis"]
        # a key whose slot the first node serves (it moves to the replica)
        first_id = redis_cluster._cli(first.port, "CLUSTER", "MYID").strip()
        ranges = _slot_ranges(redis_cluster, first_id)
        run = f"fo{next(_seq)}-{time.time_ns()}"
        tag = next(t for t in (f"{run}:{i}" for i in range(100000))
                   if any(lo <= key_slot(t.encode()) <= hi for lo, hi in ranges))
        key, probe = f"{{{tag}}}:main", f"{{{tag}}}:probe"  # the same slot

        first.kill()
        redis_cluster.wait_ok([s for s in redis_cluster.servers if s.running])

        async def delivered(conn: RedisConn, src: EventBus, dst: EventBus) -> bool:
            before = dst.received
            ev = {"k": "test", "i": 1, "o": src.origin, "id": uuid.uuid4().hex}
            try:
                await conn.client.publish(CHANNEL, json.dumps(ev))
            except Exception:  # noqa: BLE001 - the client re-learns the topology (EventBus.publish falls back)
                return False
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and dst.received == before:
                await asyncio.sleep(0.02)
            return dst.received > before

        async def both_back_on_pubsub() -> bool:
            return ([bus.mode for bus in buses] == ["redis", "redis"] and await delivered(a, buses[0], buses[1])
                    and await delivered(b, buses[1], buses[0]))
        await converge(both_back_on_pubsub, timeout=20, interval=0.2)

        la, lb = Limiter(a), Limiter(b)

        async def limits_shared_again() -> bool:
            try:
                await asyncio.wait_for(la.remote.hit(probe, 10, WINDOW), 3)  # type: ignore[union-attr]
                await asyncio.wait_for(lb.remote.hit(probe, 10, WINDOW), 3)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the client has not learnt the new slot owner yet
                return False
            return True
        await converge(limits_shared_again, timeout=20, interval=0.2)
        results = []
        for _ in range(6):
            results.append(await la.hit(key, 10, WINDOW))
            results.append(await lb.hit(key, 10, WINDOW))
        assert results.count(True) == 10 and la.shared and lb.shared, results
        # settled: nobody marks the connections down any more
        await asyncio.sleep(1.5)
        assert a.healthy and b.healthy and [bus.mode for bus in buses] == ["redis", "redis"]
    finally:
        for bus in buses:
            await bus.stop()
        if not first.running:  # back as a replica of the promoted node: the cluster stays usable
            first.start()
            redis_cluster.wait_ok([s for s in redis_cluster.servers if s.running])


def _slot_ranges(cluster: RedisCluster, node_id: str) -> list[tuple[int, int]]:
    """The slot ranges ``node_id`` serves, from ``CLUSTER NODES``."""
    out = []
    for line in cluster._cli(cluster.servers[0].port, "CLUSTER", "NODES").splitlines():
        parts = line.split()
        if parts and parts[0] == node_id:
            for rng in parts[8:]:
                if "[" in rng:
                    continue
                lo, _, hi = rng.partition("-")
                out.append((int(lo), int(hi or lo)))
    return out


async def _code_is(aw: Any, want: int) -> bool:
    code, _ = await aw
    return bool(code == want)
