"""The refusal log: the operation log entries of runs that never had the database open, kept
beside the database until a run folds them in.

A run refused because another run holds the database's lock cannot write `audit_log`: the holder
has the DuckDB file open. Nor can a run that fails before it opens the file (no inbox, an
unreadable rates table, a file another program holds). Each appends its entry instead, as one JSON
line (`AuditEntry.as_json`), to `<database>.refused.jsonl`. The next run that holds the lock inserts the entries audit_log does
not hold yet inside its own transaction (`fold_refusals`), and empties the file only after its
commit (`clear_refusals`). So an entry is never lost: a run that rolls back, or dies before its
commit, leaves the file as it was. And it is never folded twice: a run that dies between its
commit and the clearing leaves entries the next run finds in audit_log by `entry_id` and skips.

Each access holds an advisory lock (`flock`) on the file: an exclusive one to append one line in
one write, or to empty the file; a shared one to read it. A refused run waits for it at most while
a run reads the file or empties it, never for the run itself.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import duckdb

from flows.audit import INSERT_AUDIT_ENTRY, AuditEntry
from flows.owner_only import open_owner_only

REFUSAL_LOG_SUFFIX = ".refused.jsonl"
HELD_ENTRY_IDS = "SELECT entry_id FROM audit_log WHERE list_contains(?, entry_id)"


class RefusalLogError(ValueError):
    """A line of the refusal log is no entry shuno wrote; the message names the file and line, never its text."""


def refusal_log_path(database: Path) -> Path:
    """The refusal log of `database`: `<database>.refused.jsonl` beside the real file (symlinks resolved)."""
    resolved = database.resolve()
    return resolved.with_name(resolved.name + REFUSAL_LOG_SUFFIX)


def append_refusal(database: Path, entry: AuditEntry) -> None:
    """Appends `entry` to the refusal log of `database` as one line, in one write."""
    path, line = refusal_log_path(database), (entry.as_json() + "\n").encode("utf-8")
    # Owner-only like the database, in a folder made 0700 if a first run finds none yet.
    descriptor = open_owner_only(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        size = os.fstat(descriptor).st_size
        if os.write(descriptor, line) != len(line):
            # A short write (a full disk) would leave half a line for the next run to choke on.
            os.ftruncate(descriptor, size)
            raise OSError(errno.ENOSPC, f"refusal log {path} took only part of an entry")
    finally:
        os.close(descriptor)


def logged_refusals(database: Path) -> tuple[list[AuditEntry], int]:
    """The entries of the refusal log of `database`, and the log's size in bytes when read (0 when it has none)."""
    path = refusal_log_path(database)
    try:
        with path.open("rb") as log:
            fcntl.flock(log, fcntl.LOCK_SH)
            content = log.read()
    except FileNotFoundError:
        return [], 0
    return [_entry(path, number, line) for number, line in enumerate(content.splitlines(), start=1)], len(content)


def _entry(path: Path, number: int, line: bytes) -> AuditEntry:
    try:
        return AuditEntry.from_json(line.decode("utf-8"))
    except (ValueError, KeyError, TypeError):
        raise RefusalLogError(f"line {number} of the refusal log {path} is no shuno audit entry; move the file aside") from None


def fold_refusals(connection: duckdb.DuckDBPyConnection, database: Path) -> int:
    """Inserts the logged refusals audit_log does not hold yet; returns the bytes of the log read, for `clear_refusals`.

    Call it inside the run's transaction: the entries are then committed with the run or not at all.
    """
    entries, size = logged_refusals(database)
    if not entries:
        return size
    held = {entry_id for (entry_id,) in connection.execute(HELD_ENTRY_IDS, [[entry.entry_id for entry in entries]]).fetchall()}
    new = {entry.entry_id: entry for entry in entries if entry.entry_id not in held}
    for entry in new.values():
        connection.execute(INSERT_AUDIT_ENTRY, entry.row())
    return size


def clear_refusals(database: Path, folded_size: int) -> None:
    """Empties the refusal log of `database` after the commit of a fold that read `folded_size` bytes of it.

    A refusal appended since the fold read the log makes it longer: the log is then left whole, and
    the next run folds the new entry and skips the others, which audit_log now holds.
    """
    if folded_size == 0:
        return
    with refusal_log_path(database).open("r+b") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        if os.fstat(log.fileno()).st_size == folded_size:
            log.truncate(0)
