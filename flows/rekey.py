"""`shuno rekey`: the database and its backups re-encrypted under a new key, without losing a row, under the run lock.

Each file is copied whole (COPY FROM DATABASE) into a hidden file under the new key and its rows
counted table by table against the original. The new key waits beside the key file
(`<key>.new`). The commit point is the rename of the rekeyed database over the old one: a kill
before it leaves the database under the old key (the next rekey removes the leftovers and starts
again); a kill after it leaves a database that opens under the new key only, and the first
command that finds it so puts the new key and the rekeyed backups in place
(flows.database.finished_rekey). A plain database from before encryption is encrypted the same
way, its key made if there is none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from flows.audit import audit_entry, write_audit_entry
from flows.backups import backups, flush_folder, hidden_copy
from flows.database import RewriteError, checkpoint, connect, finished_rekey, opens_with, rewrite_database
from flows.keys import DatabaseKeyError, key_path, new_key, pending_key_path, read_key, write_key
from flows.operation import OperationRefused, operation_lock
from flows.pause import REKEY_STAGES, pause_point
from schemas.codes import RunStatus

COMMAND = "shuno rekey"


def rekey_database(database: Path) -> int:
    """Re-encrypts `database` and its backups under a new key; returns the files rewritten. Raises OperationRefused."""
    if not database.is_file():
        raise OperationRefused(f"{database} does not exist: nothing to rekey")
    with operation_lock(database, COMMAND, {}, "the rekey"):
        if finished_rekey(database):
            return _logged(database, 0)
        _remove_leftovers(database)
        old_key = _current_key(database)
        # The copy must hold all: a write-ahead log left beside the rekeyed file would be replayed onto it.
        _refused_on_error(lambda: checkpoint(database, old_key), database)
        key = new_key()
        write_key(pending_key_path(database), key)
        files = [database] + [backup.path for backup in backups(database)]
        try:
            for path in files:
                _rewritten(path, hidden_copy(path), old_key, key)
        except BaseException:
            _remove_leftovers(database)
            raise
        pause_point(REKEY_STAGES[0])
        os.replace(hidden_copy(database), database)
        flush_folder(database.parent)
        pause_point(REKEY_STAGES[1])
        finished_rekey(database)
    return _logged(database, len(files))


def _logged(database: Path, files: int) -> int:
    connection = connect(database)
    write_audit_entry(connection, audit_entry(COMMAND, RunStatus.COMPLETED, {"files": files}))
    connection.close()
    return files


def _remove_leftovers(database: Path) -> None:
    """Removes what a rekey killed before its commit point left: the pending key and the hidden copies."""
    pending_key_path(database).unlink(missing_ok=True)
    for path in [database] + [backup.path for backup in backups(database)]:
        hidden_copy(path).unlink(missing_ok=True)


def _current_key(database: Path) -> str | None:
    """The key of `database`, or None for a plain one from before encryption (a key file is then made if there is none)."""
    if not opens_with(database, None):
        return read_key(key_path(database))
    if not key_path(database).exists():
        write_key(key_path(database), new_key())
    return None


def _rewritten(source: Path, target: Path, old_key: str | None, key: str) -> None:
    """`source` copied whole to `target` under `key`; OperationRefused when it cannot be."""
    _refused_on_error(lambda: rewrite_database(source, target, old_key, key), source)


def _refused_on_error(step: Callable[[], None], path: Path) -> None:
    try:
        step()
    except (RewriteError, DatabaseKeyError, duckdb.Error) as error:
        raise OperationRefused(f"{path.name} could not be rekeyed ({type(error).__name__}); nothing was changed") from None
