"""``python server.py import --from DSN [--dry-run] [--merge] [--with-logs] [--logs-from DSN]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

DESCRIPTION = """Import a One API database (users with their passwords, tokens with their keys, channels,
redemption codes, options, and with --with-logs the logs) into OneRelay's database: the one
`python server.py` uses (MONGODB_URI, else the embedded database under DATA_DIR). Ids are kept.
Stop OneRelay first when it runs on the embedded database. It refuses a OneRelay database that
already holds data (other than the untouched first-start root) unless --merge is given; rows
whose ids exist are skipped, so running it again imports nothing twice."""

EPILOG = """sources: sqlite:///path/one-api.db | mysql://user:pass@host:3306/oneapi |
user:pass@tcp(host:3306)/oneapi (One API's SQL_DSN) | postgres://user:pass@host:5432/oneapi"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="onerelay import", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--from", dest="source", required=True, metavar="DSN",
                        help="the One API database (SQLITE_PATH as sqlite:///path, or SQL_DSN)")
    parser.add_argument("--logs-from", default="", metavar="DSN",
                        help="where One API's logs are when LOG_SQL_DSN was set (default: --from)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be imported and every row that cannot be; write nothing")
    parser.add_argument("--merge", action="store_true",
                        help="import into a OneRelay database that holds data: only rows whose ids it lacks")
    parser.add_argument("--with-logs", action="store_true", help="import the logs too (streamed in batches)")
    args = parser.parse_args(argv)

    from dotenv import load_dotenv

    load_dotenv()
    from services.context import Settings

    settings = Settings.from_env()
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from models.db import Database, EmbeddedMongo
    from services.crypto import CryptoError, SecretBox

    from .core import ImportRefused, Importer
    from .sources import SourceError, parse_dsn, Source

    try:
        source = Source(parse_dsn(args.source)).open()
        log_source = Source(parse_dsn(args.logs_from)).open() if args.logs_from else None
    except SourceError as e:
        print(f"import: {e}", file=sys.stderr)
        return 1

    embedded = None
    uri = settings.mongodb_uri
    target = uri
    if not uri:
        path = os.path.join(settings.data_dir, "db")
        target = f"the embedded database in {path}"
        if not (args.dry_run and not os.path.isdir(path)):
            # The server must be stopped: one embedded database per data directory.
            embedded = EmbeddedMongo(path, os.path.join(settings.data_dir, "import-db.log"))
            uri = embedded.start()
        else:
            target += " (not created yet)"

    async def go() -> Any:
        db = Database(uri, settings.log_mongodb_uri or None) if uri else None
        events = redis = None
        try:
            if db is not None:
                await db.ping()
                if not args.dry_run:
                    from models.events import EventBus

                    if settings.redis_conn_string:
                        from services.redisconn import RedisConn

                        redis = RedisConn.from_settings(settings)
                    events = EventBus(db, redis)
                    if redis is not None:
                        await events.start()
            imp = Importer(db, source, dry_run=args.dry_run, merge=args.merge, with_logs=args.with_logs,
                           log_source=log_source, crypto=SecretBox(settings.crypto_secret),
                           events=events, target_name=_redact_uri(target))
            try:
                return await imp.run(), ""
            except ImportRefused as e:
                return imp.report, str(e)
        finally:
            if events is not None:
                await events.stop()
            if redis is not None:
                await redis.close()
            if db is not None:
                await db.close()

    try:
        report, refused = asyncio.run(go())
    except CryptoError as e:
        print(f"import: {e}", file=sys.stderr)
        return 1
    except SourceError as e:
        print(f"import: {e}", file=sys.stderr)
        return 1
    finally:
        source.close()
        if log_source is not None:
            log_source.close()
        if embedded is not None:
            embedded.stop()
    if refused:
        print(f"import: nothing was imported: {refused}", file=sys.stderr)
        return 1
    print(report.text())
    if report.refused:  # a dry run into a database that a real run would refuse
        return 1
    if not args.dry_run:
        print(f"\nimport: done, {report.total_imported} rows imported. Start OneRelay on this database "
              "(python server.py); running nodes reload on their own.")
    return 0


def _redact_uri(uri: str) -> str:
    from .sources import redact

    return redact(uri)
