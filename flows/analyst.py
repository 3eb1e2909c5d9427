"""Publish the analyst copy: the CONTRACT tables without personal columns, their comments, the views.

The copy is built under a temporary name next to the target and renamed over it: a reader never
sees a half-written file, and an analyst holding the previous copy open keeps reading it (the
rename swaps the directory entry, not the file they have open) and never blocks the nightly. It
is published read-only (mode 0444, CONTRACT v2): a connection that forgets `read_only=True` fails
at once instead of locking the other analysts out. Its table `about` says what it is as of.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path

import duckdb

from flows.database import connect_read_only, standing_run
from schemas.analyst import (
    ABOUT_COLUMNS,
    ABOUT_COMMENT,
    ANALYST_TABLES,
    ANALYST_VIEWS,
    CODE_LISTS,
    CODES_COLUMNS,
    CODES_COMMENT,
    EXCLUDED_COLUMNS,
    LISTED_CODES,
    UNKNOWN_CODE_NAME,
    AnalystView,
    CodeList,
)
from schemas.tables import sql_literal

COPY = "analyst_copy"
# With a read-only source connection DuckDB attaches read-only too unless told otherwise. No key:
# the copy is personal-free and analysts open it without one. (DuckDB 1.4 binds no parameter in
# ATTACH: the path, shuno's own, is quoted.)
ATTACH_COPY = "ATTACH {path} AS " + COPY + " (READ_WRITE)"
DETACH_COPY = f"DETACH {COPY}"
CHECKPOINT_COPY = f"CHECKPOINT {COPY}"
SOURCE_CATALOG = "SELECT current_database(), current_schema()"
SOURCE_TABLE_COMMENTS = """
SELECT table_name, comment FROM duckdb_tables()
WHERE database_name = ? AND schema_name = ? AND list_contains(?, table_name)
"""
SOURCE_COLUMNS = """
SELECT table_name, column_name, comment FROM duckdb_columns()
WHERE database_name = ? AND schema_name = ? AND list_contains(?, table_name)
ORDER BY table_name, column_index
"""


# Everyone may read the copy, no one may write it (the publisher replaces it by a rename).
READ_ONLY_MODE = 0o444


# (column name, its COMMENT) in column order.
ColumnComments = list[tuple[str, str | None]]


class AnalystCopyError(RuntimeError):
    """The source cannot be published (a CONTRACT table is missing)."""


def publish_analyst_copy(source: duckdb.DuckDBPyConnection | Path | str, target: Path) -> dict[str, int]:
    """Writes the analyst copy to `target` atomically; returns the row count of each table copied.

    `source` is the nightly's database (a path, opened read-only) or an open connection to it,
    outside any transaction that wrote to it (DuckDB writes one database per transaction).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with _source_connection(source) as connection:
            counts = _write_copy(connection, temporary)
        _replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    return counts


@contextmanager
def _source_connection(source: duckdb.DuckDBPyConnection | Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    connection = connect_read_only(Path(source))
    try:
        yield connection
    finally:
        connection.close()


def _write_copy(connection: duckdb.DuckDBPyConnection, temporary: Path) -> dict[str, int]:
    catalog, schema = connection.execute(SOURCE_CATALOG).fetchone()
    table_comments, columns = _source_catalog(connection, catalog, schema)
    connection.execute(ATTACH_COPY.format(path=sql_literal(str(temporary))))
    try:
        _copy_in_one_transaction(connection, catalog, schema, table_comments, columns)
        counts = {table: _copied_rows(connection, table) for table in ANALYST_TABLES}
        # Folds the write-ahead log into the file, so the renamed file is the whole copy.
        connection.execute(CHECKPOINT_COPY)
    finally:
        connection.execute(DETACH_COPY)
    return counts


def _copy_in_one_transaction(
    connection: duckdb.DuckDBPyConnection, catalog: str, schema: str, table_comments: dict[str, str | None], columns: dict[str, ColumnComments]
) -> None:
    """The tables, their COMMENTs and the views, written to the attached copy in one transaction (rolled back if one fails)."""
    # Alone, each of the hundreds of statements would commit the copy's catalog: half the time of a publish.
    connection.begin()
    try:
        _execute_script(connection, [statement for table in ANALYST_TABLES for statement in copy_statements(catalog, schema, table, table_comments[table], columns[table])])
        # The views name codes from `codes` and read the date of `about`: both come first.
        _write_about(connection)
        _write_codes(connection)
        _execute_script(connection, [statement for view in ANALYST_VIEWS for statement in view_statements(view)])
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _execute_script(connection: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    """Runs the statements, none with parameters, in order, as one script."""
    # One call for hundreds of COMMENTs: DuckDB still runs them one by one, without a round of the Python API each.
    connection.execute(";\n".join(statements))


def _write_about(connection: duckdb.DuckDBPyConnection) -> None:
    """The copy's table `about`: the date it is as of, when it was published, the run that made it, shuno's version."""
    standing = standing_run(connection)
    as_of, run_id = standing if standing else (None, None)
    table = _create_commented_table(connection, "about", ABOUT_COLUMNS, ABOUT_COMMENT)
    connection.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", [as_of, datetime.now(), run_id, metadata.version("shuno")])


def _write_codes(connection: duckdb.DuckDBPyConnection) -> None:
    """The copy's table `codes`: every listed code with its Japanese name, then the codes met in the copy but in no list."""
    table = _create_commented_table(connection, "codes", CODES_COLUMNS, CODES_COMMENT)
    connection.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", [list(row) for row in LISTED_CODES])
    _execute_script(connection, [f"INSERT INTO {table} {unknown_codes_select(code_list)}" for code_list in CODE_LISTS if code_list.columns])


def unknown_codes_select(code_list: CodeList) -> str:
    """SELECT of (code_list, code, `不明 (<code>)`) for each code of the list's columns in the copy not in the copy's `codes`."""
    # Names come from the declarations of schemas/analyst.py, never from input: quoted, not bound,
    # so that the lists' statements run as one script.
    met = " UNION ".join(f"SELECT {_identifier(column)} AS code FROM {COPY}.main.{_identifier(table)}" for table, column in code_list.columns)
    prefix, suffix = UNKNOWN_CODE_NAME.split("{code}")
    name = sql_literal(code_list.name)
    return (
        f"SELECT DISTINCT {name}, code, {sql_literal(prefix)} || code || {sql_literal(suffix)} FROM ({met})"
        f" WHERE code IS NOT NULL AND code NOT IN (SELECT code FROM {COPY}.main.codes WHERE code_list = {name}) ORDER BY code"
    )


def _create_commented_table(connection: duckdb.DuckDBPyConnection, name: str, columns: tuple[tuple[str, str, str], ...], comment: str) -> str:
    """Creates the copy's own table `name` (columns: name, DuckDB type, Japanese COMMENT) with its COMMENTs; returns its qualified name."""
    table = f"{COPY}.main.{_identifier(name)}"
    statements = [f"CREATE TABLE {table} ({', '.join(f'{_identifier(column)} {kind}' for column, kind, _ in columns)})"]
    statements.append(f"COMMENT ON TABLE {table} IS {sql_literal(comment)}")
    _execute_script(connection, statements + [f"COMMENT ON COLUMN {table}.{_identifier(column)} IS {sql_literal(text)}" for column, _, text in columns])
    return table


def _source_catalog(connection: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> tuple[dict[str, str | None], dict[str, ColumnComments]]:
    tables = list(ANALYST_TABLES)
    table_comments = dict(connection.execute(SOURCE_TABLE_COMMENTS, [catalog, schema, tables]).fetchall())
    missing = [table for table in ANALYST_TABLES if table not in table_comments]
    if missing:
        raise AnalystCopyError(f"the source database has no table {', '.join(missing)}")
    columns: dict[str, ColumnComments] = {table: [] for table in ANALYST_TABLES}
    for table, column, comment in connection.execute(SOURCE_COLUMNS, [catalog, schema, tables]).fetchall():
        columns[table].append((column, comment))
    return table_comments, columns


def copy_statements(catalog: str, schema: str, table: str, comment: str | None, columns: ColumnComments) -> list[str]:
    """CREATE TABLE … AS SELECT of one table's non-personal columns into the copy, and its COMMENTs."""
    # Names come from the source's catalog, comments from its COMMENTs: quoted, never bound
    # (DuckDB 2.0.1 accepts no parameter in COMMENT ON).
    kept = [(name, text) for name, text in columns if name not in EXCLUDED_COLUMNS]
    selected = ", ".join(_identifier(name) for name, _ in kept)
    copied = f"{COPY}.main.{_identifier(table)}"
    statements = [f"CREATE TABLE {copied} AS SELECT {selected} FROM {_identifier(catalog)}.{_identifier(schema)}.{_identifier(table)}"]
    if comment is not None:
        statements.append(f"COMMENT ON TABLE {copied} IS {sql_literal(comment)}")
    statements += [f"COMMENT ON COLUMN {copied}.{_identifier(name)} IS {sql_literal(text)}" for name, text in kept if text is not None]
    return statements


def view_statements(view: AnalystView) -> list[str]:
    """CREATE VIEW of one analyst view in the copy, and its COMMENTs."""
    # A view's unqualified table names bind in the view's own catalog (checked on DuckDB 2.0.1),
    # so the view reads the copy's tables, under whatever name the analyst opens the file.
    created = f"{COPY}.main.{_identifier(view.name)}"
    statements = [f"CREATE VIEW {created} AS {view.select}", f"COMMENT ON VIEW {created} IS {sql_literal(view.comment)}"]
    statements += [f"COMMENT ON COLUMN {created}.{_identifier(name)} IS {sql_literal(text)}" for name, text in view.column_comments]
    return statements


def _copied_rows(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    return connection.execute(f"SELECT count(*) FROM {COPY}.main.{_identifier(table)}").fetchone()[0]


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _replace(temporary: Path, target: Path) -> None:
    # fsync before and after the rename: after a power cut the target is the old copy or the new one.
    temporary.chmod(READ_ONLY_MODE)
    with temporary.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(temporary, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _remove(temporary: Path) -> None:
    for path in (temporary, temporary.with_name(temporary.name + ".wal")):
        path.unlink(missing_ok=True)


def _remove_leftovers(target: Path) -> None:
    # A publish killed mid-way leaves its temporary file; publishing runs under the nightly's
    # lock, so no other publish is writing one now.
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        _remove(leftover)
