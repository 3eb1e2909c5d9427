"""Opening a database the tests wrote: shuno's main database is encrypted under the session's key, the analyst copy is not."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.database import connect_read_only
from flows.keys import DatabaseKeyError


def read_only_database(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to `path`: through the key when it is encrypted (the main database), plain when not (the analyst copy)."""
    try:
        return connect_read_only(Path(path))
    except DatabaseKeyError as error:
        if "is not encrypted" not in str(error):
            raise
    return duckdb.connect(str(path), read_only=True)
