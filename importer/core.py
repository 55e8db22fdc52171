"""The import itself: One API rows (importer.sources) mapped (importer.mapping) and written
into OneRelay's collections in the shapes its stores write, ids kept.

Rules (README "Moving from One API"):

- **Empty target only**, unless ``merge``: a database counts as empty when it holds no
  channels, redemptions or logs and no users but OneRelay's untouched first-start root
  (``root`` / ``123456``, nothing used, at most its ``INITIAL_ROOT_TOKEN`` token); that root
  is replaced by One API's users.
- **Idempotent by id**: a row whose id already exists is skipped and counted as already
  present (or reported when that id holds a different row); so a second run, with
  ``merge``, imports nothing twice.
- **Dry run** reads the target (to tell what is already there) and writes nothing.
- Afterwards every id counter is past the highest imported id, so new rows never collide.
- Abilities are rebuilt from the channels (ChannelStore.abilities_for), as OneRelay does on
  every channel write; channel keys and secret config/options are encrypted when
  CRYPTO_SECRET is set; one change event per kind tells running nodes (the change feed, and
  Redis when configured) to reload.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from pymongo import InsertOne
from pymongo.errors import BulkWriteError

from models.channels import ChannelStore
from models.db import Database
from models.options import default_options, is_secret_option
from models.tokens import TOKEN_ENABLED
from models.users import ROLE_ROOT, check_password

from . import mapping
from .sources import Source

BATCH = 1000
# Which OneRelay field tells that an existing document with the same id is the same row.
IDENTITY = {"users": "username", "tokens": "key", "channels": "created_time", "redemptions": "key",
            "logs": "created_at"}
COUNTERS = ("users", "tokens", "channels", "redemptions", "logs")


class ImportRefused(Exception):
    """The target holds data and ``merge`` was not given (nothing was written)."""


@dataclass
class TableReport:
    name: str
    found: int = 0
    imported: int = 0
    present: int = 0
    unmapped: list[tuple[Any, str]] = field(default_factory=list)


@dataclass
class Report:
    source: str
    target: str
    dry_run: bool
    merge: bool
    tables: dict[str, TableReport] = field(default_factory=dict)
    options_left_out: list[tuple[str, str]] = field(default_factory=list)
    options_kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: str = ""
    replaced_root: int = 0

    def table(self, name: str) -> TableReport:
        return self.tables.setdefault(name, TableReport(name))

    @property
    def total_imported(self) -> int:
        return sum(t.imported for t in self.tables.values())

    def text(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        lines = [f"One API database: {self.source}", f"OneRelay database: {self.target}"]
        if self.dry_run:
            lines.append("dry run: nothing was written")
        if self.refused:
            lines.append(f"REFUSED: {self.refused}")
        lines += ["", f"{'table':<12} {'in One API':>10} {verb:>13} {'already there':>13} {'not mapped':>10}"]
        for t in self.tables.values():
            lines.append(f"{t.name:<12} {t.found:>10} {t.imported:>13} {t.present:>13} {len(t.unmapped):>10}")
        unmapped = [(t.name, i, r) for t in self.tables.values() for i, r in t.unmapped]
        if unmapped:
            lines += ["", "Rows not imported:"]
            lines += [f"  {name} {ident}: {reason}" for name, ident, reason in unmapped]
        if self.options_left_out:
            lines += ["", "Options not imported:"]
            lines += [f"  {k}: {why}" for k, why in self.options_left_out]
        if self.options_kept:
            lines += ["", "Options already set in OneRelay (kept): " + ", ".join(self.options_kept)]
        if self.warnings:
            lines += ["", "Warnings:"] + [f"  {w}" for w in self.warnings]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines)


class Progress:
    """A progress bar on stderr (redrawn in place on a terminal, a line per 10 % otherwise)."""

    def __init__(self, label: str, total: int, out: TextIO | None = None) -> None:
        self.label, self.total, self.out = label, max(total, 0), out or sys.stderr
        self.done = 0
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._last_step = -1
        self._last_draw = 0.0

    def add(self, n: int) -> None:
        self.done += n
        step = (self.done * 10 // self.total) if self.total else 10
        now = time.monotonic()
        if self.tty and now - self._last_draw < 0.1 and self.done < self.total:
            return
        if not self.tty and step == self._last_step:
            return
        self._last_step, self._last_draw = step, now
        self.draw()

    def draw(self) -> None:
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        bar = "#" * int(frac * 30) + "-" * (30 - int(frac * 30))
        text = f"{self.label} [{bar}] {self.done:,}/{self.total:,} ({frac * 100:.0f}%)"
        self.out.write(("\r" + text) if self.tty else (text + "\n"))
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.draw()
            self.out.write("\n")
            self.out.flush()
        elif self._last_step != 10:
            self._last_step = 10
            self.draw()


class Importer:
    def __init__(self, db: Database | None, source: Source, *, dry_run: bool = False, merge: bool = False,
                 with_logs: bool = False, log_source: Source | None = None, crypto: Any = None,
                 events: Any = None, progress_out: TextIO | None = None, target_name: str = "") -> None:
        from services.crypto import NO_CRYPTO

        self.db = db
        self.src = source
        self.log_src = log_source or source
        self.dry_run = dry_run
        self.merge = merge
        self.with_logs = with_logs
        self.crypto = crypto or NO_CRYPTO
        self.events = events
        self.progress_out = progress_out
        self.report = Report(source.dsn.redacted(), target_name or "(none)", dry_run, merge)
        self.channels = ChannelStore(db, crypto=self.crypto) if db is not None else None
        self.user_ids: set[int] = set()  # users that exist after the import (token owners)
        self.replace_root: int = 0
        self.ability_rows = 0
        self._changed_options: list[str] = []

    # -- the target's state ---------------------------------------------------------------
    async def _default_root_only(self) -> tuple[bool, str, int]:
        """(empty, why not, id of an untouched default root to replace)."""
        db = self.db
        if db is None:
            return True, "", 0
        for name in ("channels", "redemptions", "logs"):
            n = await db.db[name].count_documents({}) if name != "logs" else await db.logs.count_documents({})
            if n:
                return False, f"it holds {n} {name}", 0
        users = [d async for d in db.users.find({}).limit(2)]
        if not users:
            tokens = await db.tokens.count_documents({})
            return (False, f"it holds {tokens} tokens", 0) if tokens else (True, "", 0)
        if len(users) > 1:
            return False, f"it holds {await db.users.count_documents({})} users", 0
        u = users[0]
        untouched = (u.get("username") == "root" and int(u.get("role", 0)) == ROLE_ROOT
                     and not int(u.get("used_quota") or 0) and not int(u.get("request_count") or 0)
                     and check_password("123456", str(u.get("password") or "")))
        if not untouched:
            return False, f"its user {u.get('username')!r} (id {u['_id']}) is not OneRelay's untouched " \
                          "first-start root (root / 123456, nothing used)", 0
        async for t in db.tokens.find({}):
            if int(t.get("user_id", 0)) != int(u["_id"]) or int(t.get("used_quota") or 0):
                return False, "it holds tokens in use", 0
        return True, "", int(u["_id"])

    async def _existing(self, col: str, ids: list[int], fields: tuple[str, ...] = ()) -> dict[int, dict[str, Any]]:
        if self.db is None or not ids:
            return {}
        proj = {f: 1 for f in fields} or {"_id": 1}
        coll = self.db.logs if col == "logs" else self.db.db[col]
        return {int(d["_id"]): d async for d in coll.find({"_id": {"$in": ids}}, proj)
                if int(d["_id"]) != self.replace_root or col != "users"}

    async def _taken(self, col: str, fld: str, values: list[str]) -> dict[str, int]:
        """value -> id of existing documents holding one of ``values`` in a unique field."""
        if self.db is None or not values:
            return {}
        out = {}
        async for d in self.db.db[col].find({fld: {"$in": values}}, {fld: 1}):
            if col == "users" and int(d["_id"]) == self.replace_root:
                continue
            out[str(d.get(fld))] = int(d["_id"])
        return out

    # -- the run --------------------------------------------------------------------------
    async def run(self) -> Report:
        rep = self.report
        empty, why, root = await self._default_root_only()
        if not empty and not self.merge:
            rep.refused = (f"the OneRelay database is not empty ({why}). Import into a new database, or give "
                           "--merge to add only the rows whose ids it does not have yet")
            if not self.dry_run:
                raise ImportRefused(rep.refused)
        if empty and root:
            self.replace_root = root
            rep.replaced_root = root
            rep.notes.append(f"OneRelay's untouched first-start root (id {root}) "
                             f"{'would be' if self.dry_run else 'was'} replaced by One API's users.")
        if self.merge and not empty:
            rep.notes.append("--merge: rows whose ids exist in OneRelay were left as they are.")
        if not self.dry_run:
            await self._prepare()
        if self.db is not None:
            async for d in self.db.users.find({}, {"_id": 1}):
                if int(d["_id"]) != self.replace_root:
                    self.user_ids.add(int(d["_id"]))
        await self._table("users", mapping.map_user)
        await self._table("tokens", mapping.map_token)
        await self._table("channels", mapping.map_channel)
        await self._abilities()
        await self._table("redemptions", mapping.map_redemption)
        await self._options()
        if self.with_logs:
            await self._table("logs", mapping.map_log, src=self.log_src, progress=True)
        else:
            n = self.log_src.count("logs")
            rep.table("logs").found = n
            if n:
                rep.notes.append(f"{n} log rows were not imported (add --with-logs to import them).")
        if not self.dry_run:
            await self._finish()
        return rep

    async def _prepare(self) -> None:
        """Indexes (the unique ones catch clashes), migrations marked done, the default root gone."""
        assert self.db is not None
        from services.crypto import check_deployment_secret
        from services.migrations import migrate

        await check_deployment_secret(self.db, self.crypto, "CRYPTO_SECRET is not the secret this OneRelay "
                                      "database is encrypted with: nothing was imported")
        await self.db.ensure_indexes()
        # The data migrations convert data OneRelay wrote in older releases; imported rows are
        # One API's and already in today's meaning: record them as done on a new database first.
        await migrate(self.db.system, ChannelStore(self.db, crypto=self.crypto))
        if self.replace_root:
            await self.db.tokens.delete_many({"user_id": self.replace_root})
            await self.db.users.delete_one({"_id": self.replace_root})

    async def _table(self, name: str, mapper: Callable[..., Any], *, src: Source | None = None,
                     progress: bool = False) -> None:
        src = src or self.src
        t = self.report.table(name)
        if not src.columns(name):
            self.report.notes.append(f"The One API database has no {name} table.")
            return
        bar = Progress(f"{name}", src.count(name), self.progress_out) if progress else None
        ident = IDENTITY[name]
        for rows in src.rows(name, BATCH):
            t.found += len(rows)
            docs: list[dict[str, Any]] = []
            for row in rows:
                doc, reason = mapper(row, self.report.warnings.append)
                if doc is None:
                    t.unmapped.append((f"id {row.get('id')}", reason or "cannot be mapped"))
                else:
                    docs.append(doc)
            docs = await self._drop_present(name, t, docs, ident)
            docs = await self._drop_clashes(name, t, docs)
            if docs and not self.dry_run:
                await self._insert(name, t, docs)
            else:
                t.imported += len(docs)
                if name == "channels":
                    self.ability_rows += sum(len(ChannelStore.abilities_for(d)) for d in docs)
            if name == "users":
                self.user_ids.update(int(d["_id"]) for d in docs)
            if bar:
                bar.add(len(rows))
        if bar:
            bar.finish()

    async def _drop_present(self, name: str, t: TableReport, docs: list[dict[str, Any]],
                            ident: str) -> list[dict[str, Any]]:
        there = await self._existing(name, [int(d["_id"]) for d in docs], (ident,))
        out = []
        for d in docs:
            old = there.get(int(d["_id"]))
            if old is None:
                out.append(d)
            elif name == "users" or old.get(ident) == d.get(ident):
                t.present += 1  # imported before (a user may have been renamed since: same id, same account)
            else:
                t.unmapped.append((f"id {d['_id']}", f"OneRelay already has a different {name[:-1]} "
                                                    "with this id (kept)"))
        return out

    async def _drop_clashes(self, name: str, t: TableReport, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows that would break a unique field or point at a missing owner."""
        if name == "users":
            checks = ("username", "access_token", "aff_code")
        elif name in ("tokens", "redemptions"):
            checks = ("key",)
        else:
            checks = ()
        taken: dict[str, dict[str, int]] = {}
        for fld in checks:
            taken[fld] = await self._taken(name, fld, [str(d[fld]) for d in docs if d.get(fld)])
        out = []
        for d in docs:
            clash = next((f for f in checks if d.get(f) and str(d[f]) in taken[f]), None)
            if clash:
                t.unmapped.append((f"id {d['_id']}", f"its {clash} is already used by OneRelay's "
                                                    f"{name[:-1]} {taken[clash][str(d[clash])]}"))
                continue
            if name == "tokens" and int(d["user_id"]) not in self.user_ids:
                t.unmapped.append((f"id {d['_id']}", f"its user {d['user_id']} does not exist"))
                continue
            out.append(d)
        return out

    async def _insert(self, name: str, t: TableReport, docs: list[dict[str, Any]]) -> None:
        assert self.db is not None
        coll = self.db.logs if name == "logs" else self.db.db[name]
        stored = [self.channels.seal(d) for d in docs] if name == "channels" and self.channels else docs
        try:
            res = await coll.insert_many(stored, ordered=False)
            t.imported += len(res.inserted_ids)
            ok = docs
        except BulkWriteError as e:
            bad = {err["index"]: err for err in e.details.get("writeErrors", [])}
            ok = [d for i, d in enumerate(docs) if i not in bad]
            t.imported += len(ok)
            for i, err in sorted(bad.items()):
                if err.get("code") == 11000 and name == "logs":
                    t.present += 1
                    continue
                t.unmapped.append((f"id {docs[i]['_id']}", f"not written: {err.get('errmsg', err)}"))
        if name == "channels":
            rows = [r for d in ok for r in ChannelStore.abilities_for(d)]
            if rows:
                await self.db.abilities.bulk_write([InsertOne(r) for r in rows], ordered=False)
            self.ability_rows += len(rows)

    async def _abilities(self) -> None:
        """Derived data: rebuilt from the imported channels (one row per group x model), as
        OneRelay's ChannelStore does on every channel write; One API's rows are only counted."""
        t = self.report.table("abilities")
        t.found = self.src.count("abilities")
        t.imported = self.ability_rows
        if t.found:
            self.report.notes.append(f"Abilities are rebuilt from the channels ({t.found} rows in One API).")

    async def _options(self) -> None:
        t = self.report.table("options")
        if not self.src.columns("options"):
            return
        defaults = default_options()
        stored: dict[str, str] = {}
        if self.db is not None:
            async for d in self.db.options.find({}):
                v = d.get("value")
                if isinstance(v, str):
                    try:
                        stored[str(d["_id"])] = self.crypto.decrypt(v)
                    except Exception:  # noqa: BLE001 - a wrong secret is caught by _prepare
                        stored[str(d["_id"])] = v
        empty = not self.merge or bool(self.replace_root)
        changed = []
        for rows in self.src.rows("options"):
            for row in rows:
                t.found += 1
                got = mapping.map_option(row)
                if isinstance(got, str):
                    self.report.options_left_out.append((str(row.get("key")), got))
                    continue
                key, value = got
                old = stored.get(key)
                if old == value:
                    t.present += 1
                    continue
                if old is not None and not empty and old != defaults.get(key):
                    self.report.options_kept.append(key)
                    t.present += 1
                    continue
                t.imported += 1
                changed.append(key)
                if not self.dry_run:
                    assert self.db is not None
                    v = self.crypto.encrypt(value) if is_secret_option(key) else value
                    await self.db.options.update_one({"_id": key}, {"$set": {"value": v}}, upsert=True)
        # One API answers in Chinese and its operators' scripts match those messages: a server
        # made from a One API database speaks zh-CN by default (a merge keeps the operator's choice).
        if empty and stored.get("Language") != "zh-CN":
            changed.append("Language")
            self.report.notes.append("Language set to zh-CN (One API's language): API messages and log content "
                                     "are in Chinese unless a client asks for English (Accept-Language); "
                                     "change it in Settings > Operation")
            if not self.dry_run:
                assert self.db is not None
                await self.db.options.update_one({"_id": "Language"}, {"$set": {"value": "zh-CN"}}, upsert=True)
        self._changed_options = changed

    async def _finish(self) -> None:
        assert self.db is not None
        for name in COUNTERS:
            src = self.log_src if name == "logs" else self.src
            top = src.max_id(name)
            if name == "logs" and not self.with_logs:
                continue
            if top > 0:
                await self.db.counters.update_one({"_id": name}, {"$max": {"seq": top}}, upsert=True)
        if self.events is not None:
            if self.replace_root:
                await self.events.publish("user", self.replace_root, tokens=True, session=True)
            await self.events.publish("channel", None)
            for key in self._changed_options:
                await self.events.publish("option", key)
            await self.events.publish("redemption", None)
        await self.db.system.update_one({"_id": "oneapi_import"}, {"$push": {"runs": {
            "at": int(time.time()), "source": self.report.source,
            "imported": {n: t.imported for n, t in self.report.tables.items()}}}}, upsert=True)


async def run_import(db: Database | None, source: Source, **kw: Any) -> Report:
    return await Importer(db, source, **kw).run()


__all__ = ["Importer", "ImportRefused", "Report", "run_import", "TOKEN_ENABLED"]
