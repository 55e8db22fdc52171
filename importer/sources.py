"""Reading a One API database: SQLite (the standard library's sqlite3), MySQL (PyMySQL) and
PostgreSQL (pg8000), named the way One API names them.

Accepted ``--from`` values:

- ``sqlite:///abs/path/one-api.db``, ``sqlite:relative.db``, or a plain path to the file;
- ``mysql://user:pass@host:3306/oneapi``, or One API's own ``SQL_DSN`` for MySQL (the Go
  driver's form): ``user:pass@tcp(host:3306)/oneapi?charset=utf8mb4&parseTime=True``
  (also ``@unix(/run/mysqld/mysqld.sock)/oneapi`` and ``user:pass@/oneapi`` for localhost);
- ``postgres://user:pass@host:5432/oneapi`` or ``postgresql://...`` (``?sslmode=require``...).

Rows are read in batches by ascending id (keyset pages: ``WHERE id > last ORDER BY id``),
so a logs table of millions of rows streams in constant memory on every engine.
"""

from __future__ import annotations

import decimal
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator

TABLES = ("users", "tokens", "channels", "abilities", "redemptions", "options", "logs")


class SourceError(Exception):
    """The source cannot be opened or read (bad DSN, missing driver, connection refused)."""


@dataclass
class Dsn:
    engine: str  # sqlite | mysql | postgres
    path: str = ""  # sqlite
    host: str = "127.0.0.1"
    port: int = 0
    user: str = ""
    password: str = ""
    database: str = ""
    unix_socket: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def redacted(self) -> str:
        """The DSN without its password, for reports."""
        if self.engine == "sqlite":
            return f"sqlite:{self.path}"
        where = self.unix_socket or f"{self.host}:{self.port}"
        who = f"{self.user}@" if self.user else ""
        return f"{self.engine}://{who}{where}/{self.database}"


_GO_MYSQL = re.compile(r"^(?:(?P<proto>[a-z0-9]+)(?:\((?P<addr>[^)]*)\))?)?/(?P<db>[^?]*)(?:\?(?P<q>.*))?$")


def parse_dsn(value: str) -> Dsn:
    """A ``--from`` value (see the module doc) as a :class:`Dsn`; raises SourceError."""
    v = (value or "").strip()
    if not v:
        raise SourceError("no source given: --from sqlite:///path/one-api.db, mysql://... or postgres://...")
    low = v.lower()
    if low.startswith("sqlite:"):
        path = v[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]  # sqlite:///abs/path -> /abs/path; sqlite://rel.db -> rel.db
        if not path:
            raise SourceError("sqlite: give the database file, e.g. sqlite:///data/one-api.db")
        return Dsn("sqlite", path=path)
    if low.startswith(("postgres://", "postgresql://")):
        u = urllib.parse.urlsplit(v)
        q = dict(urllib.parse.parse_qsl(u.query))
        return Dsn("postgres", host=u.hostname or "127.0.0.1", port=u.port or 5432,
                   user=urllib.parse.unquote(u.username or ""), password=urllib.parse.unquote(u.password or ""),
                   database=urllib.parse.unquote(u.path.lstrip("/")) or "postgres", params=q)
    if low.startswith("mysql://"):
        u = urllib.parse.urlsplit(v)
        q = dict(urllib.parse.parse_qsl(u.query))
        return Dsn("mysql", host=u.hostname or "127.0.0.1", port=u.port or 3306,
                   user=urllib.parse.unquote(u.username or ""), password=urllib.parse.unquote(u.password or ""),
                   database=urllib.parse.unquote(u.path.lstrip("/")), params=q)
    if "://" not in v and ("@" in v or "tcp(" in v or "unix(" in v):
        # The Go MySQL driver's DSN: [user[:password]@][protocol[(address)]]/dbname[?params].
        # The password may hold '@' and '/': the credentials end at the last '@' before the address.
        cred, rest = "", v
        m = re.search(r"@(?=(?:[a-z0-9]+(?:\([^)]*\))?)?/[^/]*$)", v)
        if m:
            cred, rest = v[:m.start()], v[m.end():]
        mm = _GO_MYSQL.match(rest)
        if not mm:
            raise SourceError(f"cannot read this MySQL DSN: expected user:pass@tcp(host:3306)/dbname, got {redact(v)}")
        user, _, password = cred.partition(":")
        d = Dsn("mysql", user=user, password=password, database=mm.group("db"), port=3306,
                params=dict(urllib.parse.parse_qsl(mm.group("q") or "")))
        proto, addr = (mm.group("proto") or "tcp"), (mm.group("addr") or "")
        if proto == "unix":
            d.unix_socket = addr or "/run/mysqld/mysqld.sock"
            d.host = "localhost"
        elif addr:
            host, sep, port = addr.rpartition(":")
            if sep and port.isdigit():
                d.host, d.port = host.strip("[]") or "127.0.0.1", int(port)
            else:
                d.host = addr.strip("[]")
        if not d.database:
            raise SourceError("the MySQL DSN names no database (…/oneapi)")
        return d
    if os.path.exists(v) or low.endswith((".db", ".sqlite", ".sqlite3")):
        return Dsn("sqlite", path=v)
    raise SourceError(f"unknown source {redact(v)}: use sqlite:///path/one-api.db, mysql://user:pass@host/db, "
                      "user:pass@tcp(host:3306)/db or postgres://user:pass@host/db")


def redact(value: str) -> str:
    """A DSN string with any password replaced by ***."""
    return re.sub(r"(://[^:/@]*:|^[^:/@()]*:)[^@]*@", r"\1***@", value)


def _text(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


class Source:
    """One open One API database."""

    def __init__(self, dsn: Dsn) -> None:
        self.dsn = dsn
        self.engine = dsn.engine
        self.conn: Any = None
        self._columns: dict[str, list[str]] = {}
        self.q = "`" if self.engine == "mysql" else '"'

    # -- connection -----------------------------------------------------------------------
    def open(self) -> "Source":
        d = self.dsn
        try:
            if self.engine == "sqlite":
                import sqlite3

                if not os.path.isfile(d.path):
                    raise SourceError(f"no SQLite database at {d.path}")
                # Read-only: the importer never writes to the source.
                self.conn = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(d.path))}?mode=ro", uri=True)
            elif self.engine == "mysql":
                try:
                    import pymysql
                except ImportError:
                    raise SourceError("reading MySQL needs PyMySQL: pip install onerelay[mysql] "
                                      "(or pip install pymysql)") from None
                kw: dict[str, Any] = dict(user=d.user, password=d.password, database=d.database,
                                          charset="utf8mb4", connect_timeout=15, autocommit=True)
                if d.unix_socket:
                    kw["unix_socket"] = d.unix_socket
                else:
                    kw["host"], kw["port"] = d.host, d.port
                if d.params.get("tls") in ("true", "skip-verify", "preferred"):
                    import ssl

                    ctx = ssl.create_default_context()
                    if d.params.get("tls") != "true":
                        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                    kw["ssl"] = ctx
                self.conn = pymysql.connect(**kw)
            elif self.engine == "postgres":
                try:
                    import pg8000.dbapi
                except ImportError:
                    raise SourceError("reading PostgreSQL needs pg8000: pip install onerelay[postgres] "
                                      "(or pip install pg8000)") from None
                ssl_ctx: Any = None
                mode = d.params.get("sslmode", "prefer")
                if mode in ("require", "verify-ca", "verify-full"):
                    import ssl

                    ssl_ctx = ssl.create_default_context()
                    if mode == "require":
                        ssl_ctx.check_hostname, ssl_ctx.verify_mode = False, ssl.CERT_NONE
                    elif mode == "verify-ca":
                        ssl_ctx.check_hostname = False
                self.conn = pg8000.dbapi.connect(user=d.user or "postgres", password=d.password or None,
                                                 host=d.host, port=d.port, database=d.database,
                                                 ssl_context=ssl_ctx, timeout=30)
                self.conn.autocommit = True
            else:
                raise SourceError(f"unknown engine {self.engine}")
        except SourceError:
            raise
        except Exception as e:  # noqa: BLE001 - every driver has its own error classes
            raise SourceError(f"cannot open {d.redacted()}: {e}") from None
        return self

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def __enter__(self) -> "Source":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------
    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, args) if args else cur.execute(sql)
            names = [c[0] for c in (cur.description or [])]
            return names, list(cur.fetchall())
        finally:
            cur.close()

    def ident(self, name: str) -> str:
        return f"{self.q}{name}{self.q}"

    def columns(self, table: str) -> list[str]:
        """The table's column names; [] when the table does not exist."""
        if table in self._columns:
            return self._columns[table]
        if self.engine == "sqlite":
            _, rows = self._exec(f"PRAGMA table_info({self.ident(table)})")
            cols = [str(r[1]) for r in rows]
        elif self.engine == "mysql":
            _, rows = self._exec("SELECT column_name FROM information_schema.columns "
                                 "WHERE table_schema = DATABASE() AND table_name = %s "
                                 "ORDER BY ordinal_position", (table,))
            cols = [str(_text(r[0])) for r in rows]
        else:
            _, rows = self._exec("SELECT column_name FROM information_schema.columns "
                                 "WHERE table_schema = current_schema() AND table_name = %s "
                                 "ORDER BY ordinal_position", (table,))
            cols = [str(r[0]) for r in rows]
        self._columns[table] = cols
        return cols

    def count(self, table: str) -> int:
        if not self.columns(table):
            return 0
        _, rows = self._exec(f"SELECT COUNT(*) FROM {self.ident(table)}")
        return int(rows[0][0])

    def max_id(self, table: str) -> int:
        if "id" not in self.columns(table):
            return 0
        _, rows = self._exec(f"SELECT MAX(id) FROM {self.ident(table)}")
        return int(rows[0][0] or 0)

    def rows(self, table: str, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every row as a dict (text decoded, decimals as floats), in batches, by ascending id
        (tables without an id column, abilities and options, in one batch)."""
        cols = self.columns(table)
        if not cols:
            return
        t = self.ident(table)
        if "id" not in cols:
            names, rows = self._exec(f"SELECT * FROM {t}")
            yield [{n: _text(v) for n, v in zip(names, r)} for r in rows]
            return
        last: int | None = None
        while True:
            where = "" if last is None else f" WHERE id > {int(last)}"
            names, rows = self._exec(f"SELECT * FROM {t}{where} ORDER BY id LIMIT {int(batch)}")
            if not rows:
                return
            out = [{n: _text(v) for n, v in zip(names, r)} for r in rows]
            yield out
            last = int(out[-1]["id"])
            if len(rows) < batch:
                return


def open_source(value: str) -> Source:
    return Source(parse_dsn(value)).open()
