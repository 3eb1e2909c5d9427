"""Backups of the database (SPEC §8): one before each run, the last N kept, put back by `shuno restore` under the run lock.

A backup is the database file itself, copied after a CHECKPOINT by the process that holds the run
lock and has the file open with no transaction: DuckDB writes nothing to the file then, so the
copy is consistent, and it is encrypted under the database's key (`shuno rekey` re-encrypts the
backups with the database). Each copy is written to a hidden file in the owner-only folder
`backups/` beside the database, flushed, then renamed into place: a kill leaves either no new
backup or a whole one, and never touches the database.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from flows.owner_only import open_owner_only, owner_only_folder
from flows.pause import pause_point

BACKUP_FOLDER = "backups"
BACKUP_SUFFIX = ".duckdb"
# A name sorts as its time: the newest backup is the last.
STAMP_FORMAT = "%Y%m%dT%H%M%S%f"
RUNS_STORED = "SELECT count(*) FROM runs"


@dataclass(frozen=True)
class Backup:
    """One backup of the database: its file, when it was taken, its size in bytes."""

    path: Path
    taken_at: datetime
    size: int

    @property
    def name(self) -> str:
        """The name `shuno restore` takes."""
        return self.path.name


def backup_folder(database: Path) -> Path:
    """The folder of the backups of `database`: `backups/` beside the real file."""
    return database.resolve().parent / BACKUP_FOLDER


def backups(database: Path) -> list[Backup]:
    """The backups of `database`, oldest first (half-written hidden copies left by a kill are not backups)."""
    folder = backup_folder(database)
    prefix = database.resolve().stem + "-"
    found = sorted(folder.glob(f"{prefix}*{BACKUP_SUFFIX}")) if folder.is_dir() else []
    return [Backup(path, _taken_at(path, prefix), path.stat().st_size) for path in found]


def _taken_at(path: Path, prefix: str) -> datetime:
    return datetime.strptime(path.name.removeprefix(prefix).removesuffix(BACKUP_SUFFIX), STAMP_FORMAT)


def take_backup(connection: duckdb.DuckDBPyConnection, database: Path, kept: int) -> Backup | None:
    """Backs up `database`, open on `connection` under the run lock, keeping the newest `kept`; None for a database no run has written."""
    if connection.execute(RUNS_STORED).fetchall()[0][0] == 0:
        return None
    # Folds the write-ahead log into the file: the file alone is then the whole database.
    connection.execute("CHECKPOINT")
    folder = owner_only_folder(backup_folder(database))
    target = folder / f"{database.resolve().stem}-{datetime.now().strftime(STAMP_FORMAT)}{BACKUP_SUFFIX}"
    copy_owner_only(database, target, "backed-up")
    for old in backups(database)[:-kept]:
        old.path.unlink(missing_ok=True)
    return next(backup for backup in backups(database) if backup.path == target)


def copy_owner_only(source: Path, target: Path, stage: str) -> None:
    """Copies `source` to `target` through a hidden file flushed to disk and renamed (mode 0600); `stage` names the kill tests' pause."""
    hidden = hidden_copy(target)
    descriptor = open_owner_only(hidden, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with source.open("rb") as reading, os.fdopen(descriptor, "wb", closefd=False) as writing:
            shutil.copyfileobj(reading, writing, length=1 << 20)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    pause_point(stage)
    os.replace(hidden, target)
    flush_folder(target.parent)


def hidden_copy(target: Path) -> Path:
    """The hidden file a copy to `target` is written to before it is renamed (a kill may leave it; the next copy overwrites it)."""
    return target.with_name(f".{target.name}.partial")


def flush_folder(folder: Path) -> None:
    """Flushes `folder`'s entries to disk, so a rename in it survives a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
