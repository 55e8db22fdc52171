"""``/metrics`` (issue 15, item 6): Prometheus text format behind an optional bearer token;
requests, latency histograms, tokens and quota per model, channel and group, upstream errors,
retries, in-flight streams, ledger lag, cache hit rates, node and worker identity; with
``--workers`` the figures of every worker add up."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.prometheus import Metrics
from tests.conftest import Gateway

TOKEN = "scrape-secret"


async def scrape(gw: Gateway, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    h = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await gw.http.fetch(gw.url + "/metrics", headers=h, raise_error=False)
    if resp.code != 200:
        return resp.code, {}
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    fams = {f.name: f for f in text_string_to_metric_families(resp.body.decode())}
    return 200, fams


def value(fams: dict[str, Any], name: str, **labels: str) -> float:
    fam = fams[name]
    total = 0.0
    for s in fam.samples:
        if s.name in (name, name + "_total") and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


@pytest.mark.settings(metrics_token=TOKEN)
async def test_metrics_after_traffic(gw: Gateway) -> None:
    assert (await scrape(gw, None))[0] == 401
    assert (await scrape(gw, "wrong"))[0] == 401
    ok_id = await gw.channel(name="ok", models="gpt-4o-mini")
    bad_id = await gw.channel(name="bad", key="fail-500", models="gpt-4o-mini", priority=10)
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    key = await gw.token()
    client = gw.client(key)
    for stream in (False, True):
        r = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                                 stream=stream)
        if stream:
            async for _ in r:  # type: ignore[union-attr]
                pass
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(model="made-up-model-xyz", messages=[{"role": "user", "content": "x"}])
    await gw.ctx.ledger.flush()

    code, fams = await scrape(gw)
    assert code == 200
    ok = str(ok_id)
    assert value(fams, "onerelay_requests", model="gpt-4o-mini", channel=ok, status="200") == 2
    assert value(fams, "onerelay_requests", model="gpt-4o-mini", channel=ok, stream="true") == 1
    assert value(fams, "onerelay_requests", model="other", status="503") == 1  # unknown models: one label
    assert value(fams, "onerelay_upstream_errors", channel=str(bad_id), status="500") == 2
    assert value(fams, "onerelay_retries", model="gpt-4o-mini") == 2
    assert value(fams, "onerelay_tokens", model="gpt-4o-mini", kind="prompt") > 0
    assert value(fams, "onerelay_tokens", model="gpt-4o-mini", kind="completion") > 0
    assert value(fams, "onerelay_quota", model="gpt-4o-mini", group="default") > 0
    durations = [s for s in fams["onerelay_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in durations) == 3
    ttfb = [s for s in fams["onerelay_time_to_first_byte_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in ttfb) >= 1
    assert value(fams, "onerelay_cache_lookups", cache="token", result="hit") >= 1
    node = [s for s in fams["onerelay_node_info"].samples][0]
    assert node.labels["worker"] == "0" and node.labels["node"] and node.labels["version"]
    for gauge in ("onerelay_inflight_streams", "onerelay_ledger_flush_lag_seconds", "onerelay_cache_entries",
                  "process_resident_memory_bytes"):
        assert gauge in fams, gauge


@pytest.mark.settings(metrics_enabled=False)
async def test_metrics_can_be_turned_off(gw: Gateway) -> None:
    resp = await gw.http.fetch(gw.url + "/metrics", raise_error=False)
    assert resp.code == 404


def test_workers_add_up_and_labels_stay_bounded() -> None:
    """Each worker's counters land in the shared directory; any worker's scrape sums them all.
    A dead worker's last totals stay (sums never go backwards)."""
    with tempfile.TemporaryDirectory() as d:
        a, b = Metrics(directory=d), Metrics(directory=d)
        a.models = b.models = frozenset({"gpt-4o"})
        a.request_done(model="gpt-4o", channel=1, group="default", status=200, stream=False, seconds=0.2,
                       ttfb=None, prompt=10, completion=5, quota=30)
        b.request_done(model="gpt-4o", channel=1, group="default", status=200, stream=False, seconds=3.0,
                       ttfb=None, prompt=1, completion=1, quota=2)
        b.request_done(model="secret-internal-name", channel=0, group="default", status=503, stream=False,
                       seconds=0.01, ttfb=None)
        # b is another process: its snapshot carries another pid's name
        snap = b.snapshot()
        with open(os.path.join(d, "999999.json"), "w") as f:
            json.dump(snap, f)
        counters, hists = a.merged()
        assert counters["onerelay_requests"][("gpt-4o", "1", "default", "200", "false")] == 2
        assert counters["onerelay_tokens"][("gpt-4o", "1", "default", "prompt")] == 11
        assert counters["onerelay_requests"][("other", "0", "default", "503", "false")] == 1
        h = hists["onerelay_request_duration_seconds"][("gpt-4o", "1", "false")]
        assert sum(h[:-1]) == 2 and abs(h[-1] - 3.2) < 1e-9
        many = Metrics()
        for i in range(6000):
            many.inc("onerelay_retries", (f"m{i}",))
        assert len(many.counters["onerelay_retries"]) <= 5001


def test_two_workers_add_up(tmp_path: Any) -> None:
    """``python server.py --workers 2``: whichever worker answers a scrape, the relay counters are
    the sum over both (each worker's snapshot lands in the supervisor's directory)."""
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from models.db import free_port
    from tests.conftest import ROOT
    from tests.test_workers import _seen_workers, _wait, _workers

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGODB_URI", "REDIS_CONN_STRING", "PORT", "WORKERS", "NODE_TYPE", "METRICS_TOKEN")}
    env.update(DATA_DIR=str(tmp_path / "data"), FRONTEND_DIST=str(tmp_path / "nodist"),
               INITIAL_ROOT_ACCESS_TOKEN="c0ffeec0ffeec0ffeec0ffeec0ffeec0", GLOBAL_API_RATE_LIMIT="0")
    proc = subprocess.Popen([sys.executable, "server.py", "--workers", "2", "--port", str(port),
                             "--log-dir", str(tmp_path / "logs")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def post_bad_key() -> str:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", method="POST",
                                     data=b'{"model": "x", "messages": []}',
                                     headers={"Authorization": "Bearer sk-nope", "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            return e.headers.get("X-Onerelay-Worker") or ""
        return ""

    def scrape() -> tuple[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        n = sum(s.value for s in fams["onerelay_requests"].samples
                if s.name == "onerelay_requests_total" and s.labels["status"] == "401")
        worker = [s for s in fams["onerelay_node_info"].samples][0].labels["worker"]
        return worker, n

    try:
        _wait(lambda: proc.poll() is not None or len(_workers(proc.pid)) == 2, 60, "two workers")
        assert _seen_workers(port, {"0", "1"}) == {"0", "1"}
        answered = {post_bad_key() for _ in range(20)}
        assert answered == {"0", "1"}  # both workers took some
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (set(seen) == {"0", "1"} and all(v == 20 for v in seen.values())):
            w, n = scrape()
            seen[w] = n
            time.sleep(0.3)
        assert seen == {"0": 20, "1": 20}, seen  # either worker reports the sum
    finally:
        proc.terminate()
        proc.wait(30)
