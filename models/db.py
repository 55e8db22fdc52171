"""Database client, counters, indexes and the embedded MongoDB-wire server launcher.

With ``MONGODB_URI`` unset, OneRelay runs SecantusDB's CLI (``secantusd-py``) as
a child process on a free loopback port; it is never imported (GPL-2.0). The
child gets ``PR_SET_PDEATHSIG`` so it dies with us even on SIGKILL, and is
stopped with SIGTERM (a clean WiredTiger checkpoint) on a normal exit.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

log = logging.getLogger("onerelay.db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # own process group: a Ctrl-C in our terminal goes to us, we stop it cleanly
    try:
        # The hot path never waits on the database (caches + batched writes), so under CPU
        # contention the relay goes first and the batch writer catches up in the lulls.
        os.nice(5)
    except OSError:
        pass


def secantus_command() -> list[str]:
    """The ``secantusd-py`` launcher, preferring the one beside our interpreter."""
    here = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    if os.path.exists(here):
        return [sys.executable, here]
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the SecantusDB package (pip install -e .)")
    return [found]


class EmbeddedMongo:
    """A SecantusDB server as a child process on a free loopback port."""

    def __init__(self, storage_path: str, log_path: str | None = None) -> None:
        self.storage_path = storage_path
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/onerelay"

    def start(self, timeout: float = 60.0) -> str:
        os.makedirs(self.storage_path, exist_ok=True)
        self.port = free_port()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        cmd = secantus_command() + [
            "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", self.storage_path, "--log-level", "WARNING",
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"embedded database exited with code {self.proc.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.uri
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded database did not start in time")

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Database:
    """The async client and the collections OneRelay uses."""

    def __init__(self, uri: str, log_uri: str | None = None) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, tz_aware=False, connect=False, serverSelectionTimeoutMS=15000
        )
        self.db: AsyncDatabase[dict[str, Any]] = self.client.get_default_database("onerelay")
        self.log_client: AsyncMongoClient[dict[str, Any]] | None = (
            AsyncMongoClient(log_uri, connect=False) if log_uri else None)
        log_db = self.log_client.get_default_database("onerelay") if self.log_client else self.db
        self.users = self.db["users"]
        self.tokens = self.db["tokens"]
        self.channels = self.db["channels"]
        self.abilities = self.db["abilities"]
        self.redemptions = self.db["redemptions"]
        self.options = self.db["options"]
        self.counters = self.db["counters"]
        self.changes = self.db["changes"]  # the change feed (models/events.py)
        self.windows = self.db["windows"]  # usage-limit counters (services/limits.py)
        self.system = self.db["system"]  # deployment-wide settings (the shared session secret)
        self.logs = log_db["logs"]

    async def ping(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.db.command("ping")
                if self.log_client:
                    await self.log_client.admin.command("ping")
                return
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def next_id(self, name: str, count: int = 1) -> int:
        """Allocate ``count`` consecutive integer ids; returns the first."""
        doc = await self.counters.find_one_and_update(
            {"_id": name}, {"$inc": {"seq": count}}, upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["seq"]) - count + 1

    async def ensure_indexes(self, log_retention_days: int = 0) -> None:
        await self.users.create_index("username", unique=True)
        await self.users.create_index("access_token", unique=True, sparse=True)
        await self.users.create_index("aff_code", unique=True, sparse=True)
        await self.users.create_index("email")
        await self.tokens.create_index("key", unique=True)
        await self.tokens.create_index("key_suffix", unique=True, sparse=True)
        await self.tokens.create_index("user_id")
        await self.redemptions.create_index("key", unique=True)
        await self.abilities.create_index(
            [("group", ASCENDING), ("model", ASCENDING), ("enabled", ASCENDING), ("priority", DESCENDING)]
        )
        await self.abilities.create_index("channel_id")
        await self.changes.create_index("ts")
        await self.windows.create_index("exp", expireAfterSeconds=0, name="windows_ttl")
        try:
            await self.changes.create_index("at", expireAfterSeconds=3600, name="changes_ttl")
        except PyMongoError as e:
            log.info("changes TTL index: %s", e)
        await self.users.create_index("leased", sparse=True)
        await self.tokens.create_index("leased", sparse=True)
        await self.logs.create_index([("created_at", DESCENDING)])
        await self.logs.create_index([("user_id", ASCENDING), ("created_at", DESCENDING)])
        # Each index costs the embedded server ~50 µs per inserted log: keep only the two
        # that the log pages need (newest first; one user's newest first).
        if log_retention_days > 0:
            # TTL indexes need a date field; every log carries ``created_dt``.
            try:
                await self.logs.create_index(
                    "created_dt", expireAfterSeconds=log_retention_days * 86400, name="logs_ttl"
                )
            except PyMongoError as e:  # a changed retention: drop and recreate
                log.info("recreating the logs TTL index: %s", e)
                await self.logs.drop_index("logs_ttl")
                await self.logs.create_index(
                    "created_dt", expireAfterSeconds=log_retention_days * 86400, name="logs_ttl"
                )

    async def close(self) -> None:
        await self.client.close()
        if self.log_client:
            await self.log_client.close()
