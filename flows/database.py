"""The embedded DuckDB file: opening it with every table in place, reading and writing frames."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from schemas.codes import RunStatus
from schemas.tables import StoredTable, Table, all_tables, schema_statements

INCOMING = "incoming_frame"
# The database every command and flow uses unless told otherwise (CONTRACT: `--db`, `SHUNO_DB`).
DEFAULT_DATABASE = Path("data/shuno.duckdb")
# DuckDB names the process holding a file it cannot lock: "Conflicting lock is held in <program> (PID 1234)".
HOLDER_PID = re.compile(r"Conflicting lock is held in .* \(PID (\d+)\)")


def holder_pid(error: duckdb.Error) -> str | None:
    """The pid of the process holding the database, when error is DuckDB's refusal to lock it; else None."""
    found = HOLDER_PID.search(str(error))
    return found.group(1) if found else None


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection to the database at `path`, its tables brought to their declarations (created when missing).

    A database already as declared takes one catalog query and no statement: setting a COMMENT
    again writes the catalog, which cost a third of a second at every run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    stored = stored_tables(connection)
    for table in all_tables():
        for statement in schema_statements(table, stored.get(table.name)):
            connection.execute(statement)
    return connection


STORED_COLUMNS = """
SELECT tables.table_name, tables.comment, list((columns.column_name, columns.comment))
FROM duckdb_tables() AS tables JOIN duckdb_columns() AS columns USING (database_name, schema_name, table_name)
WHERE tables.database_name = current_database() AND tables.schema_name = 'main'
GROUP BY ALL
"""


def stored_tables(connection: duckdb.DuckDBPyConnection) -> dict[str, StoredTable]:
    """What the database holds now of each of its tables: comments of the table and of each column."""
    # Each column comes as a (name, comment) pair.
    return {name: StoredTable(comment, dict(columns)) for name, comment, columns in connection.execute(STORED_COLUMNS).fetchall()}


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


# The latest settlement date whose last completed-or-voided run completed, and that run: a void
# (`shuno void`) takes its date out of "as of" until the date is run again.
STANDING_RUN = """
SELECT settlement_date, run_id FROM (
    SELECT settlement_date, arg_max(status, started_at) AS last_status, arg_max(run_id, started_at) AS run_id
    FROM runs WHERE status IN (?, ?) GROUP BY settlement_date
) WHERE last_status = ? ORDER BY settlement_date DESC LIMIT 1
"""


def standing_run(connection: duckdb.DuckDBPyConnection) -> tuple[date, str] | None:
    """The latest settlement date whose run stands (completed and not voided since) and that run's id, or None."""
    found = connection.execute(STANDING_RUN, [RunStatus.COMPLETED, RunStatus.VOIDED, RunStatus.COMPLETED]).fetchall()
    return found[0] if found else None


def latest_completed_date(connection: duckdb.DuckDBPyConnection) -> date | None:
    """The latest settlement date whose run stands ("as of"), or None."""
    standing = standing_run(connection)
    return standing[0] if standing else None
