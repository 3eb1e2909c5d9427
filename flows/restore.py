"""`shuno restore BACKUP`: a backup put back in place of the database, under the run lock, in audit_log.

The current database is backed up first (a restore can be undone by restoring that one). The
backup is checked to open under the key, copied beside the database through a hidden file, and
renamed over it: a kill before the rename leaves the database as it was, after it the backup in
its place; both open. The operation log is the office's record of what was done, so the entries
audit_log held before the restore are carried into the restored database, and the restore is
added to them.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import duckdb

from flows.audit import INSERT_AUDIT_ENTRY, audit_entry, write_audit_entry
from flows.backups import Backup, backups, copy_owner_only, take_backup
from flows.database import connect, open_database
from flows.keys import DatabaseKeyError, database_key
from flows.operation import OperationRefused, operation_lock
from flows.pause import RESTORE_STAGE
from flows.settlement import published_analyst_copy
from schemas.codes import RunStatus

COMMAND = "shuno restore"
AUDIT_ROWS = "SELECT * FROM audit_log"
HELD_ENTRIES = "SELECT entry_id FROM audit_log"


def restore_backup(database: Path, name: str, kept: int) -> str:
    """Puts the backup named `name` back in place of `database`; returns where the analyst copy went. Raises OperationRefused."""
    parameters = {"backup": name}
    backup = _named_backup(database, name)
    with operation_lock(database, COMMAND, parameters, f"the restore of {name}"):
        _check_opens(backup, database)
        entries = _before_restore(database, kept)
        _set_log_aside(database)
        copy_owner_only(backup.path, database, RESTORE_STAGE)
        connection = connect(database)
        _carry_entries(connection, entries)
        write_audit_entry(connection, audit_entry(COMMAND, RunStatus.COMPLETED, parameters))
        copy = published_analyst_copy(connection, database)
        connection.close()
    return copy


def _named_backup(database: Path, name: str) -> Backup:
    found = [backup for backup in backups(database) if backup.name == name]
    if not found:
        raise OperationRefused(f"no backup {name} of {database} (shuno backups lists them); nothing was changed")
    return found[0]


def _check_opens(backup: Backup, database: Path) -> None:
    """Refuses a backup the database's key does not open, or that is no shuno database."""
    try:
        with open_database(backup.path, read_only=True, key=database_key(database, create=False)) as connection:
            connection.execute("SELECT count(*) FROM runs").fetchall()
    except (DatabaseKeyError, duckdb.Error) as error:
        raise OperationRefused(f"backup {backup.name} cannot be opened ({type(error).__name__}); nothing was changed") from None


def _before_restore(database: Path, kept: int) -> list[tuple]:
    """audit_log's rows of the current database, after backing it up; none when it cannot be opened (the reason to restore)."""
    with suppress(DatabaseKeyError, duckdb.Error):
        connection = connect(database)
        try:
            take_backup(connection, database, kept + 1)
            return connection.execute(AUDIT_ROWS).fetchall()
        finally:
            connection.close()
    return []


def _set_log_aside(database: Path) -> None:
    """Moves aside a write-ahead log the current database could not fold in (it did not open): it belongs to that file, not the backup."""
    log = database.with_name(database.name + ".wal")
    if log.exists():
        log.replace(log.with_name(log.name + ".before-restore"))


def _carry_entries(connection: duckdb.DuckDBPyConnection, entries: list[tuple]) -> None:
    """Inserts the operation log entries the restored database does not hold."""
    held = {entry_id for (entry_id,) in connection.execute(HELD_ENTRIES).fetchall()}
    missing = [list(row) for row in entries if row[0] not in held]
    if missing:
        connection.executemany(INSERT_AUDIT_ENTRY, missing)
