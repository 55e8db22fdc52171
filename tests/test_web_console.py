"""Serving the compiled console: index.html fallback for client routes, long-cached hashed
assets, gzip, the placeholder page while the console is missing or being built, and the
background build itself (with a stand-in `npm` on PATH)."""

from __future__ import annotations

import os
import stat

import pytest
import tornado.httpclient

from handlers.web import placeholder
from services import console_build
from tests.conftest import running_gateway

INDEX = b"<!doctype html><html><body><div id=app></div><script src=/assets/index-abc123.js></script></body></html>"
ASSET = b"console.log('onerelay');\n" * 400


@pytest.fixture
def dist(tmp_path):
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_bytes(INDEX)
    (d / "assets" / "index-abc123.js").write_bytes(ASSET)
    (d / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return str(d)


async def fetch(url, **kw):
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(url, raise_error=False, decompress_response=False, **kw)
    finally:
        client.close()


async def test_client_routes_fall_back_to_index(mongo, upstream, tmp_root, request, dist):
    async with running_gateway(mongo, upstream, tmp_root, request, frontend_dist=dist) as gw:
        for path in ("/", "/channel", "/token/edit/3", "/setting?tab=system", "/no/such/page"):
            r = await fetch(gw.url + path)
            assert r.code == 200 and r.body == INDEX, path
            assert r.headers["Content-Type"].startswith("text/html")
            assert r.headers["Cache-Control"] == "no-cache"
        r = await fetch(gw.url + "/favicon.svg")
        assert r.code == 200 and b"<svg" in r.body
        # API and relay misses stay JSON, never the SPA
        r = await fetch(gw.url + "/api/nope")
        assert r.code == 404 and b"Invalid URL" in r.body
        r = await fetch(gw.url + "/v1/nope", method="POST", body="{}")
        assert r.code == 404 and b'"error"' in r.body


async def test_assets_are_long_cached_and_gzipped(mongo, upstream, tmp_root, request, dist):
    async with running_gateway(mongo, upstream, tmp_root, request, frontend_dist=dist) as gw:
        r = await fetch(gw.url + "/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
        assert r.code == 200
        assert "immutable" in r.headers["Cache-Control"] and "max-age=31536000" in r.headers["Cache-Control"]
        assert r.headers.get("Content-Encoding") == "gzip"
        assert len(r.body) < len(ASSET) / 5
        r = await fetch(gw.url + "/assets/missing-zzz.js")
        assert r.code == 404


async def test_placeholder_when_not_built(mongo, upstream, tmp_root, request, tmp_path):
    async with running_gateway(mongo, upstream, tmp_root, request, frontend_dist=str(tmp_path / "nodist")) as gw:
        r = await fetch(gw.url + "/dashboard")
        assert r.code == 200
        assert b"npm ci &amp;&amp; npm run build" in r.body
        assert gw.url.encode() + b"/v1" in r.body


def _fake_npm(bin_dir, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n" + script)
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)


def _wait(build, timeout=20.0):
    assert build.thread is not None
    build.thread.join(timeout)
    assert not build.thread.is_alive()


def test_background_build_success(tmp_path, monkeypatch):
    src = tmp_path / "frontend"
    src.mkdir()
    (src / "package.json").write_text("{}")
    (src / "node_modules").mkdir()  # installed already: only `npm run build` runs
    log = tmp_path / "npm.log"
    _fake_npm(tmp_path / "bin", f'echo "$@" >> {log}\nsleep 0.3\nmkdir -p dist && echo built > dist/index.html\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    b = console_build.ConsoleBuild(str(src / "dist"), str(src))
    assert b.start_if_needed()
    assert console_build.state_of(str(src / "dist"))[0] == console_build.BUILDING
    page = placeholder("http://x", console_build.BUILDING, "")
    assert 'http-equiv="refresh"' in page and "being built" in page
    _wait(b)
    assert b.state == console_build.READY
    assert log.read_text().split("\n")[0] == "run build"
    assert not b.start_if_needed()  # already there: nothing to do


def test_background_build_installs_then_reports_failure(tmp_path, monkeypatch):
    src = tmp_path / "frontend"
    src.mkdir()
    (src / "package.json").write_text("{}")
    log = tmp_path / "npm.log"
    _fake_npm(tmp_path / "bin", f'echo "$@" >> {log}\nif [ "$1" = run ]; then echo "error TS2304: bad" >&2; exit 2; fi\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    b = console_build.ConsoleBuild(str(src / "dist"), str(src))
    assert b.start_if_needed()
    _wait(b)
    assert log.read_text().splitlines() == ["ci --no-audit --no-fund", "run build"]
    state, error = console_build.state_of(str(src / "dist"))
    assert state == console_build.FAILED and "TS2304" in error and "exited with 2" in error


def test_no_npm_means_instructions(tmp_path, monkeypatch):
    src = tmp_path / "frontend"
    src.mkdir()
    (src / "package.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    b = console_build.ConsoleBuild(str(src / "dist"), str(src))
    assert not b.start_if_needed()
    assert b.state == console_build.NO_NPM
    page = placeholder("http://x", b.state, "")
    assert "npm is not installed" in page
