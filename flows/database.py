"""The embedded DuckDB file: opening it encrypted with every table in place, reading and writing frames.

The database is encrypted whole (SPEC §8, docs/encryption.md): its blocks, its write-ahead log and
the files DuckDB spills to while it sorts or joins, with AES-GCM under the city's key (flows/keys.py).
DuckDB writes encrypted files only with its httpfs extension loaded (its built-in crypto reads
only); the extension comes from the pinned `duckdb-ext-httpfs` wheel, loaded from its file, so
nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import re
from contextlib import suppress
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flows.backups import backups, hidden_copy
from flows.keys import DatabaseKeyError, database_key, key_path, pending_key_path, read_key
from flows.owner_only import OWNER_ONLY_FILE, narrow_umask, owner_only_folder
from schemas.codes import RunStatus
from schemas.tables import StoredTable, Table, all_tables, schema_statements, sql_literal

INCOMING = "incoming_frame"
# The database every command and flow uses unless told otherwise (CONTRACT: `--db`, `SHUNO_DB`).
DEFAULT_DATABASE = Path("data/shuno.duckdb")
# DuckDB names the process holding a file it cannot lock: "Conflicting lock is held in <program> (PID 1234)".
HOLDER_PID = re.compile(r"Conflicting lock is held in .* \(PID (\d+)\)")


def holder_pid(error: duckdb.Error) -> str | None:
    """The pid of the process holding the database, when error is DuckDB's refusal to lock it; else None."""
    found = HOLDER_PID.search(str(error))
    return found.group(1) if found else None


# The name the database is attached under; queries name it through current_database().
CATALOG = "shuno"
# The key travels as a bound value: ATTACH takes no parameters, but its options take expressions.
SET_KEY = "SET VARIABLE shuno_key = ?"
FORGET_KEY = "RESET VARIABLE shuno_key"
WRONG_KEY = "Wrong encryption key"
NOT_ENCRYPTED = "is not encrypted"


def crypto_extension() -> Path:
    """The httpfs extension file shipped in the `duckdb-ext-httpfs` wheel for the installed DuckDB."""
    spec = importlib.util.find_spec("duckdb_ext")
    folders = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    found = [path for folder in folders for path in Path(folder).glob(f"extensions/v{duckdb.__version__}/*/httpfs.duckdb_extension")]
    if not found:
        raise DatabaseKeyError(f"the httpfs extension of DuckDB {duckdb.__version__} is not installed (pip package duckdb-ext-httpfs)")
    return found[0]


# The extension files (by their identity on disk) whose signature DuckDB checked in this process.
VERIFIED_EXTENSIONS: set[tuple[str, int, int, int, int]] = set()


def _file_identity(path: Path) -> tuple[str, int, int, int, int]:
    status = path.stat()
    return (str(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def crypto_connection(database: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection able to write encrypted files, spilling encrypted beside `database`; nothing attached."""
    extension = crypto_extension()
    identity = _file_identity(extension)
    # DuckDB checks the extension's signature at every LOAD by hashing its 25 MB (0.1 s of CPU an
    # open, hundreds of opens a day). The first LOAD in a process checks it; the library then stays
    # mapped in the process, and a later LOAD of the same unchanged file, which runs that same code,
    # skips the check, which is switched back on at once for anything else loaded on the connection.
    checked = identity in VERIFIED_EXTENSIONS
    connection = duckdb.connect(config={"allow_unsigned_extensions": True} if checked else {})
    try:
        connection.execute(f"LOAD {sql_literal(extension)}")
        if checked:
            connection.execute("SET allow_unsigned_extensions = false")
        VERIFIED_EXTENSIONS.add(identity)
        # Spill files hold rows in clear unless asked; beside the database, in its owner-only folder.
        connection.execute("SET temp_file_encryption = true")
        connection.execute(f"SET temp_directory = {sql_literal(str(database.resolve()) + '.tmp')}")
    except BaseException:
        connection.close()
        raise
    return connection


def attach(connection: duckdb.DuckDBPyConnection, path: Path, alias: str, key: str | None, read_only: bool = False) -> None:
    """Attaches the file `path` as `alias`, encrypted under `key` (plain when None: only `shuno rekey` reads a plain one)."""
    options = [] if key is None else ["ENCRYPTION_KEY getvariable('shuno_key')"]
    options += ["READ_ONLY"] if read_only else []
    if key is not None:
        connection.execute(SET_KEY, [key])
    try:
        connection.execute(f"ATTACH {sql_literal(path)} AS {alias}" + (f" ({', '.join(options)})" if options else ""))
    finally:
        if key is not None:
            connection.execute(FORGET_KEY)


def open_database(path: Path, read_only: bool = False, key: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection whose current database is the encrypted file `path`, under its key (or `key`); nothing else is done to it.

    Raises DatabaseKeyError, one line and nothing changed, when the key is missing or does not open the file.
    """
    narrow_umask()
    if not read_only:
        owner_only_folder(path.parent)
    key = key if key is not None else database_key(path, create=not read_only)
    connection = crypto_connection(path)
    try:
        attach(connection, path, CATALOG, key, read_only)
        connection.execute(f"USE {CATALOG}")
    except duckdb.Error as error:
        connection.close()
        if WRONG_KEY in str(error) and finished_rekey(path):
            return open_database(path, read_only)
        raise _key_error(error, path) or error
    if not read_only:
        path.chmod(OWNER_ONLY_FILE)
    return connection


def opens_with(path: Path, key: str | None) -> bool:
    """Whether the file `path` attaches under `key` (None: as a plain file), read-only and nothing changed."""
    probe = crypto_connection(path)
    try:
        attach(probe, path, "probe", key, read_only=True)
    except duckdb.Error:
        return False
    finally:
        probe.close()
    return True


def finished_rekey(path: Path) -> bool:
    """Whether a rekey killed after putting the rekeyed database in place was finished now (its new key and backups put in place too)."""
    pending = pending_key_path(path)
    if not pending.exists():
        return False
    if not opens_with(path, read_key(pending)):
        return False
    # The database opens under the new key only once the rekey has put it in place: its commit point.
    for backup in backups(path):
        with suppress(FileNotFoundError):
            os.replace(hidden_copy(backup.path), backup.path)
    with suppress(FileNotFoundError):
        os.replace(pending, key_path(path))
    return True


def _key_error(error: duckdb.Error, path: Path) -> DatabaseKeyError | None:
    """The one-line key error a failed ATTACH means, or None when it is about something else (a lock held)."""
    if WRONG_KEY in str(error):
        return DatabaseKeyError(f"the key {key_path(path)} does not open {path}; nothing was changed")
    if NOT_ENCRYPTED in str(error):
        return DatabaseKeyError(f"{path} is not encrypted: shuno rekey encrypts it; nothing was changed")
    return None


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the encrypted database at `path` (other readers may open it too)."""
    return open_database(path, read_only=True)


def connect(path: Path, key: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the database at `path`, its tables brought to their declarations (created when missing).

    A database already as declared takes one catalog query and no statement: setting a COMMENT
    again writes the catalog, which cost a third of a second at every run.
    """
    connection = open_database(path, key=key)
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
    # Not `connection.sql(sql, params=…)`: with parameters DuckDB 1.4 materialises the result as a
    # relation first, and its `.pl()` then cost ten times the query (21 s instead of 2 s at 1M).
    return connection.execute(sql, params or []).pl()


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
    """Replaces every row of `table` with `frame` (the derived tables are rebuilt whole), stored in no particular order."""
    connection.execute(f'DELETE FROM "{table.name}"')
    # A derived table has no order of its own: its readers sort. Kept in the frame's order, DuckDB
    # 1.4 inserts on one thread into memory and compresses it all at commit (9 of the 18 CPU s of
    # writing them at 1M); in no order its threads write compressed row groups as they insert.
    connection.execute("SET preserve_insertion_order = false")
    try:
        insert_frame(connection, table, frame.select(table.column_names))
    finally:
        connection.execute("RESET preserve_insertion_order")


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


def checkpoint(path: Path, key: str | None) -> None:
    """Folds the write-ahead log of the file `path` (under `key`, plain when None) into it: the file alone is then the whole database."""
    connection = crypto_connection(path)
    try:
        attach(connection, path, "folded", key)
        connection.execute("CHECKPOINT folded")
    finally:
        connection.close()


class RewriteError(RuntimeError):
    """A database file could not be rewritten whole (a table would lose rows); the original is untouched."""


TABLE_NAMES = "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY table_name"
COUNT_ROWS = 'SELECT count(*) FROM {catalog}.main."{table}"'


def rewrite_database(source: Path, target: Path, old_key: str | None, key: str | None) -> None:
    """Copies the database file `source` (under `old_key`) whole into the new file `target` (under `key`; plain when None, tests only), table by table counted.

    The copy holds the rows and nothing else: the blocks DuckDB freed in `source` (erased values,
    deleted rows) do not travel. Raises RewriteError, or DuckDB's error, with `target` removed.
    """
    target.unlink(missing_ok=True)
    connection = crypto_connection(source)
    try:
        attach(connection, source, "old", old_key, read_only=True)
        attach(connection, target, "new", key)
        connection.execute("COPY FROM DATABASE old TO new")
        tables = [name for (name,) in connection.execute(TABLE_NAMES, ["old"]).fetchall()]
        lost = [table for table in tables if _row_count(connection, "old", table) != _row_count(connection, "new", table)]
        if lost:
            raise RewriteError(f"the copy of {source.name} would lose rows of {', '.join(lost)}")
        connection.execute("DETACH new")
    except BaseException:
        connection.close()
        target.unlink(missing_ok=True)
        raise
    connection.close()
    target.chmod(OWNER_ONLY_FILE)


def _row_count(connection: duckdb.DuckDBPyConnection, catalog: str, table: str) -> int:
    # Table names come from the catalog, not from data.
    return connection.execute(COUNT_ROWS.format(catalog=catalog, table=table)).fetchall()[0][0]
