"""Schemathesis against a live OneRelay, from its own /api/openapi.json (issue 11, item 2).

Anonymous, as a common user, as root (access token) and on /v1 with an ``sk-`` key routed to
the fake upstream: stateless runs and stateful ones (the links: create, then get, update,
delete). Zero 500s, zero answers outside the schema, and no quota billed for a request that
was not forwarded.

Bounded for CI (FUZZ_EXAMPLES=3 examples per operation, FUZZ_MAX_TIME seconds per run); a
longer local run: ``FUZZ_EXAMPLES=500 FUZZ_MAX_TIME=1800 python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from typing import Any

import pytest

from tests.conftest import ACCESS_TOKEN, Gateway

pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
MAX_TIME = int(os.environ.get("FUZZ_MAX_TIME", "30"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
V1_CHECKS = "status_code_conformance,content_type_conformance,response_schema_conformance,relay_errors_are_clean"
# Calls that would end the run's own credentials (a new access token, deleting oneself), or
# reach the outside world (OAuth providers, mail, channel tests and balances at made-up URLs).
EXCLUDE = [r"^/api/user/token$", r"^/api/oauth/", r"^/api/verification$", r"^/api/reset_password$",
           r"^/api/channel/test", r"^/api/channel/update_balance", r"^/v1/"]
UPLOADS = r"^/v1/(images/(edits|variations)|audio/(transcriptions|translations))$"

pytestmark = pytest.mark.settings(global_api_rate_limit=0, critical_rate_limit=0)


async def schemathesis(gw: Gateway, *args: str, headers: dict[str, str] | None = None,
                       checks: str = CHECKS) -> str:
    exe = shutil.which("schemathesis") or shutil.which("st")
    cmd = [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]
    cmd += ["run", gw.url + "/api/openapi.json", "--url", gw.url, "--checks", checks,
            "--max-examples", str(EXAMPLES), "--max-time", str(MAX_TIME), "--seed", os.environ.get("FUZZ_SEED", "1"),
            "--request-timeout", "20", "--no-color", "--suppress-health-check", "all", "--generation-database", "none",
            "--generation-deterministic" if os.environ.get("FUZZ_DETERMINISTIC") else "--workers=1", *args]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": os.getcwd()}
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, env=env)
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-8000:]
    return text


def excluding(*extra: str) -> list[str]:
    args: list[str] = []
    for rx in (*EXCLUDE, *extra):
        args += ["--exclude-path-regex", rx]
    return args


async def test_fuzz_api_anonymous_common_user_and_root(gw: Gateway) -> None:
    await schemathesis(gw, *excluding(), "--phases", "examples,coverage,fuzzing")
    user = await gw.ok("POST", "/api/user/", {"username": "fuzzer", "password": "fuzzer-pass"})
    code, data = await gw.api("POST", "/api/user/login", {"username": "fuzzer", "password": "fuzzer-pass"},
                              token=None)
    assert code == 200 and data["success"], data
    doc = await gw.ctx.db.users.find_one({"_id": user["id"]})
    access = await gw.ctx.users.regenerate_access_token(user["id"]) if doc else ""
    await schemathesis(gw, *excluding(r"^/api/user/self$"), "--phases", "examples,coverage,fuzzing,stateful",
                       headers={"Authorization": access})
    await schemathesis(gw, *excluding(r"^/api/user/register$", r"^/api/user/login$"),
                       "--phases", "examples,coverage,fuzzing,stateful", headers={"Authorization": ACCESS_TOKEN})


async def test_fuzz_v1_rejected_requests_are_never_billed(gw: Gateway) -> None:
    for model_list in ("gpt-4o-mini,gpt-3.5-turbo,text-embedding-3-small", "claude-3-5-haiku-latest"):
        await gw.channel(models=model_list, base_url=gw.upstream.url, type=1)
    key = await gw.token(name="fuzz", unlimited_quota=False, remain_quota=10**12)
    tid = next(t["id"] for t in await gw.ok("GET", "/api/token/") if t["name"] == "fuzz")
    gw.upstream.state.reset()
    await schemathesis(gw, "--include-path-regex", r"^/v1/", "--exclude-path-regex", UPLOADS,
                       "--phases", "examples,coverage,fuzzing", headers={"Authorization": key}, checks=V1_CHECKS)
    await gw.ctx.ledger.flush()
    tok = await gw.ok("GET", f"/api/token/{tid}")
    logs = [log for log in await consume_logs(gw) if log.get("token_name") == "fuzz"]
    forwarded = len(gw.upstream.state.requests)
    # Every billed request was forwarded (a rejected one never is), and the token paid exactly
    # what the logs say: nothing else was taken from it.
    assert len(logs) <= forwarded, (len(logs), forwarded)
    assert tok["used_quota"] == sum(int(log["quota"]) for log in logs), (tok, len(logs))
    assert tok["remain_quota"] + tok["used_quota"] == 10**12


async def consume_logs(gw: Gateway) -> list[dict[str, Any]]:
    await gw.ctx.ledger.flush()
    return [d async for d in gw.ctx.db.logs.find({"type": 2})]
