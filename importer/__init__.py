"""Importing a One API database (SQLite, MySQL or PostgreSQL) into OneRelay's:
``python server.py import --from DSN`` (README "Moving from One API").

- :mod:`importer.sources` opens and reads One API's tables (sqlite3, PyMySQL, pg8000);
- :mod:`importer.mapping` turns each row into the document OneRelay's stores write;
- :mod:`importer.core` writes them (ids kept, idempotent, refusing a non-empty target);
- :mod:`importer.cli` is the ``import`` subcommand.
"""

from .core import Importer, ImportRefused, Report, run_import
from .sources import Source, SourceError, open_source, parse_dsn

__all__ = ["Importer", "ImportRefused", "Report", "Source", "SourceError", "open_source", "parse_dsn",
           "run_import"]
