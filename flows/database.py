"""The embedded DuckDB file: opening it with every table in place, reading and writing frames."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from schemas.tables import Table, all_tables, create_statements, missing_column_statements

INCOMING = "incoming_frame"
# DuckDB names the process holding a file it cannot lock: "Conflicting lock is held in <program> (PID 1234)".
HOLDER_PID = re.compile(r"Conflicting lock is held in .* \(PID (\d+)\)")


def holder_pid(error: duckdb.Error) -> str | None:
    """The pid of the process holding the database, when error is DuckDB's refusal to lock it; else None."""
    found = HOLDER_PID.search(str(error))
    return found.group(1) if found else None


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection to the database at `path`, created with every table if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    present = _present_columns(connection)
    for table in all_tables():
        # The columns exist before their COMMENTs are set.
        create, *comments = create_statements(table)
        for statement in [create, *missing_column_statements(table, present.get(table.name)), *comments]:
            connection.execute(statement)
    return connection


PRESENT_COLUMNS = "SELECT table_name, list(column_name) FROM duckdb_columns() WHERE database_name = current_database() GROUP BY table_name"


def _present_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The columns each existing table of the database has now."""
    return dict(connection.execute(PRESENT_COLUMNS).fetchall())


def query_frame(connection: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """The result of `sql` (with bound `params`) as a polars frame, fully fetched."""
    return connection.sql(sql, params=params or []).pl()


def insert_frame(connection: duckdb.DuckDBPyConnection, table: Table, frame: pl.DataFrame) -> None:
    """Appends `frame` to `table`, matching columns by name (absent columns stay null)."""
    if frame.is_empty():
        return
    connection.register(INCOMING, frame)
    try:
        connection.execute(f'INSERT INTO "{table.name}" BY NAME SELECT * FROM {INCOMING}')
    finally:
        connection.unregister(INCOMING)


def replace_rows(connection: duckdb.DuckDBPyConnection, table: Table, frame: pl.DataFrame) -> None:
    """Replaces every row of `table` with `frame` (the derived tables are rebuilt whole)."""
    connection.execute(f'DELETE FROM "{table.name}"')
    insert_frame(connection, table, frame.select(table.column_names))
