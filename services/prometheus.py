"""``/metrics``: Prometheus text format (prometheus-client) for a monitoring stack.

The relay's hot path only adds to plain dicts of this process (a few hundred nanoseconds per
request: no locks, no mmap writes); a scrape turns them into metric families through a custom
collector and prometheus-client writes the text format.

With ``--workers N`` a scrape reaches one worker (SO_REUSEPORT), so each worker also writes its
counters to ``<dir>/<pid>.json`` every few seconds and when it stops (the supervisor makes the
directory fresh at start-up, ``ONERELAY_METRICS_DIR``); the worker that answers adds every
other worker's file to its own live figures. Counters and histograms are summed over workers
(a worker that died keeps its last totals in its file, so sums never go backwards); gauges
(in-flight streams, ledger lag, cache sizes) are per worker and carry a ``worker`` label.

Metric names and labels are documented in README.md ("Metrics"). Label values are bounded: a
model name is kept only for models a channel serves (others count as ``other``), and each metric
keeps at most :data:`MAX_SERIES` label sets (the rest go to ``other``).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily,
)
from prometheus_client.process_collector import ProcessCollector

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.metrics")

MAX_SERIES = 5000
SNAPSHOT_EVERY = 5.0  # seconds between two snapshots of a worker's counters
# request latency (whole request) and time to first byte, in seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OTHER = "other"

# name -> (help, label names); counters are summed over workers
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "onerelay_requests": ("Relay requests answered, by outcome", ("model", "channel", "group", "status", "stream")),
    "onerelay_tokens": ("Tokens billed, prompt and completion", ("model", "channel", "group", "kind")),
    "onerelay_quota": ("Quota charged (QuotaPerUnit points = $1)", ("model", "channel", "group")),
    "onerelay_upstream_errors": ("Upstream attempts that failed, by channel and HTTP status", ("channel", "status")),
    "onerelay_retries": ("Requests retried on another channel after a failure", ("model",)),
    "onerelay_cache_lookups": ("Cache lookups of tokens and users", ("cache", "result")),
}
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "onerelay_request_duration_seconds": ("Time to answer a relay request, whole", ("model", "channel", "stream")),
    "onerelay_time_to_first_byte_seconds": ("Time to the first byte sent to the client", ("model", "channel", "stream")),
}


class Metrics:
    """This process's figures (``ctx.prom``). Cheap to record into; read by :class:`Collector`."""

    def __init__(self, ctx: "AppContext | None" = None, directory: str = "") -> None:
        self.ctx = ctx
        self.directory = directory
        self.counters: dict[str, dict[tuple[str, ...], float]] = {n: {} for n in COUNTERS}
        # name -> labels -> [bucket counts..., +Inf count, sum]
        self.histograms: dict[str, dict[tuple[str, ...], list[float]]] = {n: {} for n in HISTOGRAMS}
        self.models: frozenset[str] = frozenset()  # the models some channel serves (label values kept)
        self._last_snapshot = 0.0

    # -- recording (hot path) -----------------------------------------------------------------
    def model_label(self, model: str) -> str:
        ctx = self.ctx
        models = ctx.router.all_models if ctx is not None else self.models
        return model if model in models else OTHER

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        series = self.counters[name]
        v = series.get(labels)
        if v is None:
            if len(series) >= MAX_SERIES:
                labels = (OTHER,) * len(labels)
            v = series.get(labels, 0.0)
        series[labels] = v + amount

    def observe(self, name: str, labels: tuple[str, ...], seconds: float) -> None:
        series = self.histograms[name]
        h = series.get(labels)
        if h is None:
            if len(series) >= MAX_SERIES:
                labels = (OTHER,) * len(labels)
            h = series.get(labels)
            if h is None:
                h = series[labels] = [0.0] * (len(BUCKETS) + 2)
        h[bisect.bisect_left(BUCKETS, seconds)] += 1
        h[-1] += seconds

    def request_done(self, *, model: str, channel: int, group: str, status: int, stream: bool,
                     seconds: float, ttfb: float | None, prompt: int = 0, completion: int = 0,
                     quota: int = 0) -> None:
        """One relay request answered: its outcome, timings and (when billed) usage."""
        m = self.model_label(model)
        ch = str(channel)
        st = "true" if stream else "false"
        self.inc("onerelay_requests", (m, ch, group, str(status), st))
        self.observe("onerelay_request_duration_seconds", (m, ch, st), seconds)
        if ttfb is not None:
            self.observe("onerelay_time_to_first_byte_seconds", (m, ch, st), ttfb)
        if prompt:
            self.inc("onerelay_tokens", (m, ch, group, "prompt"), prompt)
        if completion:
            self.inc("onerelay_tokens", (m, ch, group, "completion"), completion)
        if quota:
            self.inc("onerelay_quota", (m, ch, group), quota)

    # -- across workers -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "counters": {n: [[list(k), v] for k, v in s.items()] for n, s in self.counters.items()},
            "histograms": {n: [[list(k), v] for k, v in s.items()] for n, s in self.histograms.items()},
        }

    def write_snapshot(self, force: bool = False) -> None:
        """This worker's counters to ``<dir>/<pid>.json`` (at most every few seconds unless forced)."""
        if not self.directory:
            return
        now = time.monotonic()
        if not force and now - self._last_snapshot < SNAPSHOT_EVERY:
            return
        self._last_snapshot = now
        path = os.path.join(self.directory, f"{os.getpid()}.json")
        try:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.snapshot(), f, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError as e:
            log.warning("metrics snapshot not written: %s", e)

    def others(self) -> Iterator[dict[str, Any]]:
        """The snapshots of the other workers (and of workers that have exited)."""
        if not self.directory:
            return
        mine = f"{os.getpid()}.json"
        try:
            names = [n for n in os.listdir(self.directory) if n.endswith(".json") and n != mine]
        except OSError:
            return
        for name in names:
            try:
                with open(os.path.join(self.directory, name), encoding="utf-8") as f:
                    yield json.load(f)
            except (OSError, ValueError):
                continue

    def merged(self) -> tuple[dict[str, dict[tuple[str, ...], float]], dict[str, dict[tuple[str, ...], list[float]]]]:
        counters = {n: dict(s) for n, s in self.counters.items()}
        hists = {n: {k: list(v) for k, v in s.items()} for n, s in self.histograms.items()}
        for snap in self.others():
            for n, rows in snap.get("counters", {}).items():
                if n in counters:
                    for k, v in rows:
                        key = tuple(k)
                        counters[n][key] = counters[n].get(key, 0.0) + float(v)
            for n, rows in snap.get("histograms", {}).items():
                if n in hists:
                    for k, v in rows:
                        key = tuple(k)
                        cur = hists[n].get(key)
                        if cur is None or len(cur) != len(v):
                            hists[n][key] = list(v)
                        else:
                            hists[n][key] = [a + b for a, b in zip(cur, v)]
        return counters, hists


class Collector:
    """Turns :class:`Metrics` (all workers) and the process's live state into metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Any]:
        m = self.metrics
        ctx = m.ctx
        counters, hists = m.merged()
        for name, (doc, labels) in COUNTERS.items():
            fam = CounterMetricFamily(name, doc, labels=list(labels))
            for k, v in counters[name].items():
                fam.add_metric(list(k), v)
            yield fam
        for name, (doc, labels) in HISTOGRAMS.items():
            fam = HistogramMetricFamily(name, doc, labels=list(labels))
            for k, h in hists[name].items():
                cum, buckets = 0.0, []
                for bound, count in zip(BUCKETS, h):
                    cum += count
                    buckets.append((repr(bound), cum))
                cum += h[len(BUCKETS)]
                buckets.append(("+Inf", cum))
                fam.add_metric(list(k), buckets, sum_value=h[-1])
            yield fam
        if ctx is None:
            return
        worker = str(ctx.settings.worker_index)
        info = InfoMetricFamily("onerelay_node", "This node and worker", labels=["worker"])
        info.add_metric([worker], {"node": node_name(), "node_type": ctx.settings.node_type,
                                   "version": ctx.settings.version, "shared_state": ctx.events.mode})
        yield info
        streams = GaugeMetricFamily("onerelay_inflight_streams", "Streams being relayed now (this worker)",
                                    labels=["worker"])
        streams.add_metric([worker], sum(1 for j in list(ctx.jobs) if getattr(j, "stream", False)))
        yield streams
        inflight = GaugeMetricFamily("onerelay_inflight_requests", "Relay requests in progress (this worker)",
                                     labels=["worker"])
        inflight.add_metric([worker], len(ctx.jobs))
        yield inflight
        lag = GaugeMetricFamily("onerelay_ledger_flush_lag_seconds",
                                "Seconds since this worker's quota and log writes last reached the database",
                                labels=["worker"])
        pending_logs = list(getattr(ctx.ledger, "_logs", ()))
        oldest = min((float(e.get("created_at") or 0) for e in pending_logs), default=0.0)
        lag.add_metric([worker], max(0.0, time.time() - oldest) if oldest else 0.0)
        yield lag
        pending = GaugeMetricFamily("onerelay_ledger_pending_logs", "Logs waiting for the next batch (this worker)",
                                    labels=["worker"])
        pending.add_metric([worker], len(pending_logs))
        yield pending
        size = GaugeMetricFamily("onerelay_cache_entries", "Records cached (this worker)", labels=["worker", "cache"])
        size.add_metric([worker, "token"], len(ctx.caches.tokens))
        size.add_metric([worker, "user"], len(ctx.caches.users))
        yield size


def node_name() -> str:
    return os.environ.get("NODE_NAME") or socket.gethostname()


class Exposition:
    """The registry a scrape renders: the collector plus this process's CPU, memory and fds."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(Collector(metrics))  # type: ignore[arg-type]
        ProcessCollector(registry=self.registry)

    def render(self) -> bytes:
        if self.metrics.ctx is not None:
            self.update_cache_counters()
            self.metrics.write_snapshot(force=True)
        return generate_latest(self.registry)

    def update_cache_counters(self) -> None:
        ctx = self.metrics.ctx
        assert ctx is not None
        for cache_name, cache in (("token", ctx.caches.tokens), ("user", ctx.caches.users)):
            self.metrics.counters["onerelay_cache_lookups"][(cache_name, "miss")] = float(cache.misses)
            self.metrics.counters["onerelay_cache_lookups"][(cache_name, "hit")] = float(cache.lookups - cache.misses)
