"""``python server.py import``: a One API database on SQLite, MariaDB and PostgreSQL (real servers
started here on loopback ports under a temp dir) copied into OneRelay's, then served.

Each engine's database is created from One API's schema (tests/oneapi_fixtures) with realistic
rows; the importer runs as the real CLI (a ``python server.py import`` process) into a fresh
OneRelay database on the session's embedded server; then OneRelay starts on it and an imported
user logs in with the password One API hashed, an imported key relays a chat to the fake
upstream through the imported channel (multi-line keys, model mapping, pins by channel id),
and quotas move as they should."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any, AsyncIterator, Iterator

import pytest

from models.db import EmbeddedMongo, free_port
from pymongo import MongoClient
from services.context import AppContext, Settings, http_server, make_app
from tests import oneapi_fixtures as fx
from tests.apiclient import ACCESS_TOKEN
from tests.conftest import Gateway, Upstream, listen

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_seq = itertools.count(1)
MYSQL_PASSWORD = "p@ss:w/rd"  # '@', ':' and '/' in the DSN's password on purpose
PG_PASSWORD = "pg-p@ss word"


# -- database servers ------------------------------------------------------------------------------
def _wait(check: Any, proc: subprocess.Popen[bytes], what: str, log: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        try:
            check()
            return
        except Exception as e:  # noqa: BLE001 - any driver error means not ready yet
            last = e
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start: {last}: {_tail(log)}")


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class MariaDB:
    def __init__(self) -> None:
        mariadbd = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not os.path.exists(mariadbd) or not install:
            pytest.skip("MariaDB is not installed (scripts/test.sh installs Debian's mariadb-server)")
        try:
            import pymysql  # noqa: F401
        except ImportError:
            pytest.skip("PyMySQL is not installed (pip install -e '.[test]')")
        self.dir = tempfile.mkdtemp(prefix="onerelay-mariadb-")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "err.log")
        data = os.path.join(self.dir, "data")
        user = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root without it
        subprocess.run([install, "--no-defaults", f"--datadir={data}", *user,
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={self.sock}", f"--port={self.port}",
             "--bind-address=127.0.0.1", *user, f"--pid-file={os.path.join(self.dir, 'pid')}",
             f"--log-error={self.log}", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _wait(lambda: self.admin().close(), self.proc, "mariadbd", self.log)
        with contextlib.closing(self.admin()) as c, c.cursor() as cur:
            cur.execute("CREATE USER 'oneapi'@'%%' IDENTIFIED BY %s", (MYSQL_PASSWORD,))
            cur.execute("GRANT ALL ON *.* TO 'oneapi'@'%'")

    def admin(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(unix_socket=self.sock, user="root", database=database, charset="utf8mb4",
                               autocommit=True)

    def new_database(self, upstream_url: str) -> str:
        name = f"oneapi_{next(_seq)}"
        with contextlib.closing(self.admin()) as c, c.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        with contextlib.closing(self.admin(name)) as c:
            fx.populate(c, "mysql", upstream_url)
        # One API's own SQL_DSN form (the Go MySQL driver's), password with '@', ':' and '/'.
        return f"oneapi:{MYSQL_PASSWORD}@tcp(127.0.0.1:{self.port})/{name}?charset=utf8mb4&parseTime=True&loc=Local"

    def close(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        initdb = shutil.which("initdb") or (os.path.join(bins[-1], "initdb") if bins else "")
        postgres = shutil.which("postgres") or (os.path.join(bins[-1], "postgres") if bins else "")
        if not (initdb and os.path.exists(initdb) and os.path.exists(postgres)):
            pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql)")
        try:
            import pg8000  # noqa: F401
        except ImportError:
            pytest.skip("pg8000 is not installed (pip install -e '.[test]')")
        # initdb and postgres refuse to run as root: as root, they run as nobody in a dir it owns.
        self.as_user: dict[str, Any] = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
        self.dir = tempfile.mkdtemp(prefix="onerelay-postgres-")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PG_PASSWORD + "\n")
        if self.as_user:
            for path in (self.dir, pwfile):
                shutil.chown(path, "nobody", "nogroup")
        self.log = os.path.join(self.dir, "postgres.log")
        data = os.path.join(self.dir, "data")
        subprocess.run([initdb, "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth=scram-sha-256",
                        "-E", "UTF8", "--no-locale"], check=True, capture_output=True, timeout=120, **self.as_user)
        self.port = free_port()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [postgres, "-D", data, "-p", str(self.port), "-h", "127.0.0.1", "-k", self.dir,
                 "-c", "fsync=off"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, **self.as_user)
        _wait(lambda: self.admin().close(), self.proc, "postgres", self.log)

    def admin(self, database: str = "postgres") -> Any:
        import pg8000.dbapi

        return pg8000.dbapi.connect(user="postgres", password=PG_PASSWORD, host="127.0.0.1",
                                    port=self.port, database=database)

    def new_database(self, upstream_url: str) -> str:
        name = f"oneapi_{next(_seq)}"
        c = self.admin()
        c.autocommit = True
        c.cursor().execute(f"CREATE DATABASE {name}")
        c.close()
        with contextlib.closing(self.admin(name)) as c:
            fx.populate(c, "postgres", upstream_url)
        from urllib.parse import quote

        return f"postgres://postgres:{quote(PG_PASSWORD, safe='')}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def close(self) -> None:
        _stop(self.proc, signal.SIGINT)  # fast shutdown
        shutil.rmtree(self.dir, ignore_errors=True)


class SQLite:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="onerelay-sqlite-")

    def new_database(self, upstream_url: str, old: bool = False) -> str:
        path = os.path.join(self.dir, f"one-api-{next(_seq)}.db")
        with contextlib.closing(sqlite3.connect(path)) as c:
            fx.populate(c, "sqlite", upstream_url, old=old)
        return f"sqlite://{path}"  # sqlite:///abs/path

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    started: dict[str, Any] = {}
    yield started
    for srv in started.values():
        srv.close()


@pytest.fixture(params=fx.ENGINES)
def engine(request: Any, servers: dict[str, Any]) -> Any:
    name = request.param
    if name not in servers:
        servers[name] = {"sqlite": SQLite, "mysql": MariaDB, "postgres": Postgres}[name]()
    return servers[name]


@pytest.fixture
def source(engine: Any, upstream: Upstream) -> str:
    return engine.new_database(upstream.url)  # type: ignore[no-any-return]


@pytest.fixture
def target(mongo: EmbeddedMongo) -> str:
    return f"mongodb://127.0.0.1:{mongo.port}/imp{next(_seq)}"


# -- helpers ---------------------------------------------------------------------------------------
def run_import(uri: str, *args: str, data_dir: str = "", **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRYPTO_SECRET", "REDIS_CONN_STRING", "LOG_MONGODB_URI", "SQL_DSN")}
    env.update(extra_env)
    env["MONGODB_URI"] = uri
    env["DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix="onerelay-imp-data-")
    return subprocess.run([sys.executable, "server.py", "import", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def collections(uri: str) -> dict[str, int]:
    with MongoClient(uri) as c:
        db = c.get_default_database()
        return {name: db[name].count_documents({}) for name in db.list_collection_names()}


@contextlib.asynccontextmanager
async def onerelay(uri: str, upstream: Upstream, tmp_root: str, **settings: Any) -> AsyncIterator[Gateway]:
    """OneRelay serving the given database (in-process, as conftest's gateway)."""
    n = next(_seq)
    s = Settings.from_env(env={}, mongodb_uri=uri, data_dir=os.path.join(tmp_root, f"imp-d{n}"),
                          frontend_dist=os.path.join(tmp_root, "nodist"), batch_update_interval=0.2,
                          initial_root_access_token=ACCESS_TOKEN,  # only for a first start (no users)
                          **settings)
    ctx = AppContext(s)
    await ctx.start()
    server, port = listen(make_app(ctx), http_server)
    gw = Gateway(ctx, f"http://127.0.0.1:{port}", upstream)
    try:
        yield gw
    finally:
        server.stop()
        await asyncio.sleep(0)
        await ctx.stop()
        gw.http.close()


async def login(gw: Gateway, username: str, password: str) -> dict[str, Any]:
    resp = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                               headers={"Content-Type": "application/json"},
                               body=json.dumps({"username": username, "password": password}))
    return json.loads(resp.body)  # type: ignore[no-any-return]


async def chat(gw: Gateway, key: str, model: str = "gpt-3.5-turbo") -> tuple[int, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "你好"}]}
    resp = await gw.http.fetch(gw.url + "/v1/chat/completions", method="POST", raise_error=False,
                               headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                               body=json.dumps(body), request_timeout=60)
    try:
        return resp.code, json.loads(resp.body)
    except ValueError:
        return resp.code, resp.body


def counts_table(report: str) -> dict[str, list[str]]:
    """The report's table: name -> [in One API, imported, already there, not mapped]."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("table "))
    out = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        name, *cells = line.split()
        out[name] = cells
    return out


# -- the tests -------------------------------------------------------------------------------------
async def test_import_then_serve(source: str, target: str, upstream: Upstream, tmp_root: str) -> None:
    # A dry run prints every table and every row it cannot map, and writes nothing.
    dry = run_import(target, "--from", source, "--dry-run", "--with-logs")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was written" in dry.stdout
    assert "tokens id 6: its user 99 does not exist" in dry.stdout
    assert "logs id 2350: unknown log type 9" in dry.stdout
    assert "SomeFutureOption: not an option OneRelay has" in dry.stdout
    assert "ChannelDisableThreshold: ChannelDisableThreshold must be a number" in dry.stdout
    assert "type 999 is unknown to OneRelay" in dry.stdout
    assert "Language set to zh-CN" in dry.stdout
    assert all(n == 0 for n in collections(target).values())

    done = run_import(target, "--from", source, "--with-logs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2,346/2,346 (100%)" in done.stderr  # the logs' progress bar
    counts = collections(target)
    assert counts["users"] == 4 and counts["tokens"] == 5 and counts["channels"] == 4
    assert counts["redemptions"] == 3 and counts["logs"] == fx.N_LOGS and counts["abilities"] == 7

    with MongoClient(target) as c:
        db = c.get_default_database()
        zhang = db.users.find_one({"_id": 2})
        assert zhang["username"] == fx.ZHANG and zhang["display_name"] == "张三 Zhang 🚀"
        assert (zhang["group"], zhang["aff_code"], zhang["inviter_id"], zhang["github_id"]) == ("vip", "Zx9Q", 1, "gh-4242")
        assert (zhang["quota"], zhang["used_quota"], zhang["request_count"]) == (1_000_000, 5_000, 7)
        assert "access_token" not in zhang and db.users.find_one({"_id": 1})["access_token"] == fx.ACCESS
        assert db.users.find_one({"_id": 5})["oidc_id"] == "oidc-sub-55"
        assert db.users.find_one({"_id": 3})["status"] == 3
        t1, t2, t8 = (db.tokens.find_one({"_id": i}) for i in (1, 2, 8))
        assert t1["unlimited_quota"] is True and t1["expired_time"] == -1
        assert (t2["models"], t2["subnet"], t2["name"]) == ("gpt-3.5-turbo,gpt-4o", "127.0.0.0/8,::1/128", "笔记本 key")
        assert (t8["models"], t8["subnet"]) == ("", "")
        assert db.tokens.find_one({"_id": 3})["expired_time"] == fx.NOW - 86_400
        ch1, ch2, ch4 = (db.channels.find_one({"_id": i}) for i in (1, 2, 4))
        assert ch1["key"] == "sk-upstream-a\nsk-upstream-b\n" and ch1["name"] == "OpenAI 主渠道"
        assert json.loads(ch1["model_mapping"]) == {"gpt-4o": "gpt-3.5-turbo"}
        assert json.loads(ch1["config"]) == {"region": "", "user_id": "org-1"}
        assert (ch1["balance"], ch1["used_quota"], ch1["test_time"], ch1["response_time"]) == (12.5, 999_999, fx.NOW + 60, 321)
        assert json.loads(ch2["config"]) == {"api_version": "2024-02-01"} and ch2["other"] == "2024-02-01"
        assert (ch2["status"], ch2["weight"], ch2["priority"], ch2["model_mapping"]) == (2, 0, 0, "")
        assert (ch4["status"], ch4["priority"], ch4["system_prompt"], ch4["config"]) == (3, 5, "你是一个有帮助的助手。", "")
        assert {(a["group"], a["model"], a["enabled"]) for a in db.abilities.find({"channel_id": 1})} == {
            ("default", "gpt-3.5-turbo", True), ("default", "gpt-4o", True),
            ("vip", "gpt-3.5-turbo", True), ("vip", "gpt-4o", True)}
        assert [r["status"] for r in db.redemptions.find().sort("_id", 1)] == [1, 3, 2]
        assert db.redemptions.find_one({"_id": 1})["name"] == "春节礼包"
        opts = {d["_id"]: d["value"] for d in db.options.find()}
        assert opts["SystemName"] == "我的 One API" and opts["RegisterEnabled"] == "false"
        assert json.loads(opts["GroupRatio"])["vip"] == 2 and "SomeFutureOption" not in opts
        assert opts["Language"] == "zh-CN"  # One API's language: its operators' scripts match its messages
        log9 = db.logs.find_one({"_id": 9})
        assert log9["content"] == "模型倍率 0.75，第 9 条" and log9["is_stream"] is True and log9["quota"] == 9
        assert log9["created_dt"] is not None
        seq = {d["_id"]: d["seq"] for d in db.counters.find()}
        assert seq["users"] >= 5 and seq["tokens"] >= 8 and seq["channels"] >= 7 and seq["redemptions"] >= 3
        assert seq["logs"] >= fx.N_LOGS + 5

    async with onerelay(target, upstream, tmp_root) as gw:
        # Old passwords (Go's $2a$ bcrypt) keep working; the imported root's access token too.
        assert (await login(gw, fx.ZHANG, fx.ZHANG_PASSWORD))["success"]
        assert (await login(gw, "root", fx.ROOT_PASSWORD))["success"]
        assert not (await login(gw, "root", "123456"))["success"]  # no default root was created
        me = await gw.ok("GET", "/api/user/self")
        assert me["id"] == 1 and me["username"] == "root"
        assert (await gw.ok("GET", "/api/status"))["system_name"] == "我的 One API"
        # One API's Chinese messages, word for word, for clients that name no language
        assert (await login(gw, "root", "123456"))["message"] == "用户名或密码错误，或用户已被封禁"

        # A client keeps its key: a chat through the imported channel, billed to the imported quota.
        before_u = await gw.user(2)
        code, body = await chat(gw, "sk-" + fx.ZHANG_KEY)
        assert code == 200, body
        assert body["choices"][0]["message"]["content"]
        got = gw.upstream.state.requests[-1]
        assert got.key in ("sk-upstream-a", "sk-upstream-b")
        await gw.ctx.ledger.flush()
        after_u = await gw.user(2)
        token = await gw.ctx.db.tokens.find_one({"_id": 2})
        spent = before_u["quota"] - after_u["quota"]
        assert spent > 0
        assert after_u["used_quota"] == 5_000 + spent and after_u["request_count"] == 8
        assert token["used_quota"] == 5_000 + spent
        assert gw.ctx.ledger.view("t", 2, token) == 500_000 - spent

        # model_mapping: gpt-4o goes upstream as gpt-3.5-turbo; the second key line is used too.
        code, body = await chat(gw, "sk-" + fx.ZHANG_KEY, "gpt-4o")
        assert code == 200, body
        assert gw.upstream.state.requests[-1].json["model"] == "gpt-3.5-turbo"
        assert {r.key for r in gw.upstream.state.requests[-2:]} == {"sk-upstream-a", "sk-upstream-b"}

        # Ids are kept: the root's KEY-CHANNELID pin still names channel 1.
        code, body = await chat(gw, f"sk-{fx.ROOT_KEY}-1")
        assert code == 200, body
        code, body = await chat(gw, f"sk-{fx.OLD_KEY}")  # a token from before tokens.models existed
        assert code == 200, body
        for refused in (fx.EXPIRED_KEY, fx.EXHAUSTED_KEY, fx.ORPHAN_KEY):
            code, body = await chat(gw, "sk-" + refused)
            assert code == 401, (refused, code, body)
        code, body = await chat(gw, "sk-" + fx.EXPIRED_KEY)
        assert body["error"]["message"].startswith("该令牌已过期"), body

        # New rows get ids after the imported ones.
        cid = await gw.channel(name="new")
        assert cid == 8
        uid = (await gw.ok("POST", "/api/user/", {"username": "newbie", "password": "newbie-pass1"}))
        newbie = await gw.ctx.db.users.find_one({"username": "newbie"})
        assert newbie["_id"] == 6, uid

    # A second run: refused without --merge, and with it imports nothing twice.
    before = collections(target)
    again = run_import(target, "--from", source, "--with-logs")
    assert again.returncode == 1 and "not empty" in again.stderr and "--merge" in again.stderr
    merged = run_import(target, "--from", source, "--with-logs", "--merge")
    assert merged.returncode == 0, merged.stderr
    table = counts_table(merged.stdout)
    assert table["users"] == ["4", "0", "4", "0"] and table["tokens"] == ["6", "0", "5", "1"]
    assert table["channels"] == ["4", "0", "4", "0"] and table["logs"] == ["2346", "0", str(fx.N_LOGS), "1"]
    after = collections(target)
    assert {k: after[k] for k in before if k != "changes"} == {k: v for k, v in before.items() if k != "changes"}


async def test_replaces_untouched_default_root_refuses_used_database(
        target: str, upstream: Upstream, tmp_root: str, servers: dict[str, Any], mongo: EmbeddedMongo) -> None:
    sqlite_src = (servers.get("sqlite") or servers.setdefault("sqlite", SQLite())).new_database(upstream.url)
    # OneRelay started once on this database: it created root / 123456. That root is replaced.
    async with onerelay(target, upstream, tmp_root) as gw:
        assert (await login(gw, "root", "123456"))["success"]
    done = run_import(target, "--from", sqlite_src)
    assert done.returncode == 0, done.stderr
    assert "untouched first-start root (id 1)" in done.stdout
    async with onerelay(target, upstream, tmp_root) as gw:
        assert (await login(gw, "root", fx.ROOT_PASSWORD))["success"]
        assert not (await login(gw, "root", "123456"))["success"]

    # A database that has been used (another user) is refused, and nothing is written to it.
    other = f"mongodb://127.0.0.1:{mongo.port}/imp{next(_seq)}"
    async with onerelay(other, upstream, tmp_root) as gw:
        await gw.ok("POST", "/api/user/", {"username": "alice", "password": "alice-pass1"})
    before = collections(other)
    refused = run_import(other, "--from", sqlite_src)
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "2 users" in refused.stderr
    assert collections(other) == before
    dry = run_import(other, "--from", sqlite_src, "--dry-run")
    assert dry.returncode == 1 and "REFUSED" in dry.stdout
    assert collections(other) == before


async def test_old_release_schema(target: str, upstream: Upstream, servers: dict[str, Any]) -> None:
    """A database from before tokens.models/subnet, channels.config/system_prompt, users.lark_id/
    oidc_id and the newer log columns: those take One API's defaults."""
    src = (servers.get("sqlite") or servers.setdefault("sqlite", SQLite())).new_database(upstream.url, old=True)
    done = run_import(target, "--from", src, "--with-logs")
    assert done.returncode == 0, done.stderr
    with MongoClient(target) as c:
        db = c.get_default_database()
        assert db.tokens.find_one({"_id": 2})["models"] == ""
        ch2 = db.channels.find_one({"_id": 2})
        assert ch2["system_prompt"] == "" and json.loads(ch2["config"]) == {"api_version": "2024-02-01"}
        assert db.users.find_one({"_id": 5})["oidc_id"] == ""
        assert db.logs.find_one({"_id": 3})["is_stream"] is False


async def test_crypto_secret(target: str, upstream: Upstream, tmp_root: str, servers: dict[str, Any]) -> None:
    """With CRYPTO_SECRET, channel keys and secret options are stored encrypted, and a OneRelay
    started with that secret relays through them."""
    src = (servers.get("sqlite") or servers.setdefault("sqlite", SQLite())).new_database(upstream.url)
    done = run_import(target, "--from", src, CRYPTO_SECRET="import-test-secret")
    assert done.returncode == 0, done.stderr
    with MongoClient(target) as c:
        db = c.get_default_database()
        assert db.channels.find_one({"_id": 1})["key"].startswith("enc:v1:")
        assert db.options.find_one({"_id": "SMTPToken"})["value"].startswith("enc:v1:")
    wrong = run_import(target, "--from", src, "--merge", CRYPTO_SECRET="another-secret")
    assert wrong.returncode == 1 and "CRYPTO_SECRET" in wrong.stderr
    async with onerelay(target, upstream, tmp_root, crypto_secret="import-test-secret") as gw:
        code, body = await chat(gw, "sk-" + fx.ZHANG_KEY)
        assert code == 200, body
        assert gw.upstream.state.requests[-1].key in ("sk-upstream-a", "sk-upstream-b")
        assert gw.ctx.options.get("SMTPToken") == "smtp-secret"


def test_dsn_forms() -> None:
    from importer.sources import SourceError, parse_dsn, redact

    d = parse_dsn("root:p@ss:w/rd@tcp(db.local:3307)/oneapi?charset=utf8mb4&parseTime=True")
    assert (d.engine, d.user, d.password, d.host, d.port, d.database) == ("mysql", "root", "p@ss:w/rd", "db.local", 3307, "oneapi")
    assert d.params["charset"] == "utf8mb4"
    d = parse_dsn("oneapi:pw@unix(/run/mysqld/mysqld.sock)/one")
    assert (d.unix_socket, d.database) == ("/run/mysqld/mysqld.sock", "one")
    d = parse_dsn("u:pw@/oneapi")
    assert (d.host, d.port, d.database) == ("127.0.0.1", 3306, "oneapi")
    d = parse_dsn("mysql://u:p%40w@h:3306/db")
    assert (d.engine, d.password, d.host) == ("mysql", "p@w", "h")
    d = parse_dsn("postgresql://u:pw@h/db?sslmode=require")
    assert (d.engine, d.port, d.database, d.params["sslmode"]) == ("postgres", 5432, "db", "require")
    assert parse_dsn("postgres://u@h:6543/x").port == 6543
    assert parse_dsn("sqlite:///data/one-api.db").path == "/data/one-api.db"
    assert parse_dsn("sqlite:one-api.db").path == "one-api.db"
    assert parse_dsn("./one-api.db").engine == "sqlite"
    assert "pw" not in redact("u:pw@tcp(h:1)/db") and "pw" not in redact("mysql://u:pw@h/db")
    with pytest.raises(SourceError):
        parse_dsn("redis://h")


def test_missing_driver_names_the_extra(tmp_path: Any) -> None:
    code = ("import sys; sys.modules['pymysql'] = None; sys.modules['pg8000'] = None; sys.modules['pg8000.dbapi'] = None\n"
            "from importer.sources import Source, parse_dsn, SourceError\n"
            "for dsn in ('u:p@tcp(127.0.0.1:1)/x', 'postgres://u@127.0.0.1:1/x'):\n"
            "    try:\n        Source(parse_dsn(dsn)).open()\n"
            "    except SourceError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "pip install onerelay[mysql]" in out.stdout and "pip install onerelay[postgres]" in out.stdout, out
