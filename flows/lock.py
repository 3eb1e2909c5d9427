"""shuno's run lock: one run at a time per database file, a second one refused at once.

Deployments have a concurrency limit, but `shuno run` bypasses it, so the lock lives next to the
database: an OS advisory lock (`flock`) on `<database>.lock`, taken without waiting and held for the
whole run. The OS releases it when the holder's process ends however it ends, so a `kill -9` never
leaves a stale lock, and nothing ever needs to remove the file. The holder writes its pid and start
time into the file only so that a refused run can say who holds it; the lock itself is the truth.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flows.owner_only import open_owner_only

LOCK_SUFFIX = ".lock"
HOLDER_BYTES = 200


@dataclass(frozen=True)
class LockHolder:
    """The run holding a database's lock: the lock file, and the pid and start time it recorded."""

    lock_path: Path
    pid: int | None
    since: datetime | None

    def description(self) -> str:
        """One line naming the lock file, since when it is held and by which process (no personal data)."""
        since = self.since.isoformat(timespec="seconds") if self.since else "a moment ago"
        pid = self.pid if self.pid is not None else "not yet recorded"
        return f"another shuno run holds {self.lock_path} since {since} (pid {pid})"


class RunLockHeld(RuntimeError):
    """The database's run lock is held by another run; `holder` says which."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(holder.description())
        self.holder = holder


def lock_path(database: Path) -> Path:
    """The lock file of `database`: `<database>.lock` beside the real file (symlinks resolved)."""
    resolved = database.resolve()
    return resolved.with_name(resolved.name + LOCK_SUFFIX)


class RunLock:
    """A held run lock; leaving the `with` block (or `release`) lets the next run in."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Clears the holder record and releases the lock (closing the descriptor releases it)."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            os.ftruncate(descriptor, 0)
        finally:
            os.close(descriptor)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def acquire_run_lock(database: Path) -> RunLock:
    """The run lock of `database`, taken at once; raises `RunLockHeld` if another run holds it.

    Never waits and never retries. Not re-entrant: a second acquisition in the same process is
    refused too (`flock` locks belong to open files), so a caller of `run_settlement_date` must not
    hold the lock itself.
    """
    path = lock_path(database)
    # os.open makes the descriptor non-inheritable, so no child process can keep the lock alive.
    descriptor = open_owner_only(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = recorded_holder(path, descriptor)
        os.close(descriptor)
        raise RunLockHeld(holder) from None
    except BaseException:
        os.close(descriptor)
        raise
    _record_holder(descriptor)
    return RunLock(path, descriptor)


def _record_holder(descriptor: int) -> None:
    record = f"{os.getpid()} {datetime.now().astimezone().isoformat(timespec='seconds')}\n"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, record.encode("ascii"), 0)


def recorded_holder(path: Path, descriptor: int) -> LockHolder:
    """What the holder wrote into the lock file; unknown fields stay None (it may not have written yet)."""
    fields = os.pread(descriptor, HOLDER_BYTES, 0).decode("ascii", errors="replace").split()
    try:
        return LockHolder(path, int(fields[0]), datetime.fromisoformat(fields[1]))
    except (IndexError, ValueError):
        return LockHolder(path, None, None)
