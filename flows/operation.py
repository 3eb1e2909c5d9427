"""An operator's change to the database besides a nightly run (`shuno decide`, `shuno void`): one frame for all of them.

The change holds the run lock like a run (refused at once while a run holds the database, and
logged in the refusal log), runs in one transaction that folds the refusal log into audit_log,
and is in audit_log however it ends: completed, refused (a one-line reason, nothing changed) or
failed (nothing changed). After its commit the analyst copy is published again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import duckdb

from flows.audit import audit_entry, write_audit_entry
from flows.database import connect
from flows.lock import RunLock, RunLockHeld, acquire_run_lock
from flows.refusals import append_refusal, clear_refusals, fold_refusals
from flows.settlement import failure_reason, published_analyst_copy
from schemas.audit import REFUSED
from schemas.codes import RunStatus

Result = TypeVar("Result")


class OperationRefused(RuntimeError):
    """An operation refused, nothing changed; the message is the one-line reason."""


class OperationFailed(RuntimeError):
    """An operation that could not complete for a reason other than a refusal; nothing changed."""


@dataclass(frozen=True)
class Done(Generic[Result]):
    """What a completed operation returned, the audit parameters it adds, and where the analyst copy went."""

    result: Result
    analyst_copy: str


def locked_operation(
    database: Path,
    command: str,
    parameters: dict,
    change: Callable[[duckdb.DuckDBPyConnection], tuple[Result, dict]],
    what: str,
) -> Done[Result]:
    """Runs change(connection) in one transaction under the run lock; `change` returns its result and the audit parameters to add.

    `change` raises OperationRefused for a refusal. `what` names the operation in the messages
    ("decisions", "the void of 2026-05-13").
    """
    if not database.is_file():
        raise OperationRefused(f"{database} does not exist: no settlement date has been run")
    with operation_lock(database, command, parameters, what):
        connection = connect(database)
        try:
            connection.begin()
            result, added = change(connection)
            folded_size = fold_refusals(connection, database)
            connection.commit()
        except OperationRefused as refused:
            connection.rollback()
            write_audit_entry(connection, audit_entry(command, REFUSED, parameters, reason=str(refused)))
            connection.close()
            raise
        except Exception as error:
            connection.rollback()
            reason = failure_reason(error)
            write_audit_entry(connection, audit_entry(command, RunStatus.FAILED, parameters, reason=reason))
            connection.close()
            raise OperationFailed(f"{what} failed and changed nothing: {reason}") from error
        # Committed: a refusal log that cannot be emptied holds only entries audit_log has now.
        with suppress(OSError):
            clear_refusals(database, folded_size)
        write_audit_entry(connection, audit_entry(command, RunStatus.COMPLETED, parameters | added))
        copy = published_analyst_copy(connection, database)
        connection.close()
    return Done(result, copy)


def operation_lock(database: Path, command: str, parameters: dict, what: str) -> RunLock:
    """The database's run lock, taken at once; an operation that finds it held is logged in the refusal log and refused."""
    try:
        return acquire_run_lock(database)
    except RunLockHeld as held:
        with suppress(OSError):
            append_refusal(database, audit_entry(command, REFUSED, parameters, reason=held.holder.description()))
        raise OperationRefused(f"{what} refused, nothing changed: {held.holder.description()}") from None
