"""Conformance (issue 10): the installed ``openai`` SDK's own ``tests/api_resources`` tests,
fetched from its sdist at test time, pass through OneRelay wherever they pass against the
fake upstream directly. See ``tests/conformance/__init__.py`` for how."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from models.db import EmbeddedMongo
from relay.endpoints import DEFAULT_MODELS
from tests.conftest import Gateway, Upstream, listen, running_gateway
from tests.conformance import fake_upstream, harness


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    try:
        harness.ensure_test_deps()
        return harness.sdk_tests_dir()
    except Exception as e:  # noqa: BLE001 (the message says what failed)
        pytest.fail(f"cannot prepare the openai SDK's tests: {e}")


@pytest.fixture
async def fake() -> AsyncIterator[Upstream]:
    state = fake_upstream.FakeState()
    server, port = listen(fake_upstream.make_app(state))
    yield Upstream(state, f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
    server.stop()


@pytest.fixture
async def relay(mongo: EmbeddedMongo, fake: Upstream, tmp_root: str, request: Any) -> AsyncIterator[Gateway]:
    async with running_gateway(mongo, fake, tmp_root, request) as gateway:
        yield gateway


async def test_sdk_api_resources_pass_through_onerelay(sdk_dir: Path, fake: Upstream, relay: Gateway,
                                                       tmp_path: Path) -> None:
    files = harness.selected_files(sdk_dir)
    assert files, f"no selected api_resources tests in {sdk_dir}"
    models = sorted(set(harness.models_used(sdk_dir, files)) | set(DEFAULT_MODELS.values()))
    await relay.channel(name="conformance", key="sk-fake-upstream", base_url=fake.url, models=",".join(models))
    key = await relay.token(name="conformance")
    # The by-id Responses tests (retrieve, delete, cancel, input_items) ask for fixed ids; OneRelay
    # forwards those only for responses created through it (by the same user), so create them first.
    client = relay.client(key)
    responses_model = (harness.models_used(sdk_dir, [f for f in files if "respons" in f]) or models)[0]
    for rid in harness.response_ids_used(sdk_dir, files):
        fake.state.next_response_ids[:] = [rid]
        created = await client.responses.create(model=responses_model, input="hi")
        assert created.id == rid
    await client.close()
    fake.state.reset()

    access = logging.getLogger("tornado.access")  # ~1000 requests, a few hundred of them 4xx/5xx on purpose
    level = access.level
    access.setLevel(logging.CRITICAL)
    try:
        (rc_d, out_d), (rc_r, out_r) = await asyncio.gather(
            harness.run_sdk_tests(sdk_dir, files, fake.url + "/v1", tmp_path / "direct.xml"),
            harness.run_sdk_tests(sdk_dir, files, relay.url + "/v1", tmp_path / "onerelay.xml", api_key=key),
        )
    finally:
        access.setLevel(level)
    for name, rc, out in (("direct", rc_d, out_d), ("OneRelay", rc_r, out_r)):
        assert rc in (0, 1), f"the SDK's pytest run ({name}) did not complete (exit {rc}):\n{out[-5000:]}"
    # Both runs reached the fake: the direct one with the SDK tests' own key, the other through
    # OneRelay, which sends the channel's key.
    keys = {r.authorization for r in fake.state.requests}
    assert "Bearer sk-fake-upstream" in keys and len(keys) >= 2, keys
    direct = harness.parse_junit(tmp_path / "direct.xml")
    relayed = harness.parse_junit(tmp_path / "onerelay.xml")
    assert direct and relayed

    cmp = harness.compare(direct, relayed)
    print(f"\nopenai {harness.sdk_version()} api_resources tests, passed directly vs through OneRelay:")
    print(cmp.table)
    not_direct = {t: o for t, o in direct.items() if o.status != "passed"}
    if not_direct:
        print(f"\n{len(not_direct)} tests did not pass against the fake directly (not counted):")
        for test, n, line in harness.grouped(not_direct):
            print(f"  {n:>2}x {test}: {line[:300]}")
    if cmp.gains:
        print(f"\n{len(cmp.gains)} tests passed only through OneRelay:", *cmp.gains, sep="\n  ")
    if cmp.known:
        print(f"\n{len(cmp.known)} tests passed directly and failed through OneRelay as known "
              "(harness.KNOWN_DIVERGENCES):")
        for test, n, line in harness.grouped({t: o for t, (o, _) in cmp.known.items()}):
            print(f"  {n:>2}x {test}: {line[:300]}")
        for d in dict.fromkeys(div for _, div in cmp.known.values()):
            print(f"  {'BUG' if d.bug else 'why'}: {d.reason}")
    for d in cmp.stale:
        print(f"\nno test fails as this known divergence says any more (delete it): {d.tests}")
    if cmp.regressions:
        print(f"\n{len(cmp.regressions)} tests passed directly but not through OneRelay:")
        for test, n, line in harness.grouped(cmp.regressions):
            print(f"  {n:>2}x {test}: {line[:400]}")
    assert direct.keys() == relayed.keys(), "the two runs collected different tests"
    assert not cmp.regressions, f"{len(cmp.regressions)} SDK tests pass against the fake but not through OneRelay " \
                                f"(listed above): {sorted(cmp.regressions)[:20]}"
