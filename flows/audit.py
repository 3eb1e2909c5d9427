"""The operation log (評価書 III-3): one audit_log row per run, re-run, backfill, failure or refusal.

An entry names the OS user, the host and process, the command or flow, its parameters (JSON),
the files it read (name and SHA-256) and how it ended. It holds no personal data: parameter names
that are personal fields are refused, and files are named, never quoted. A refused run cannot open
the database another run holds: its entry waits in the refusal log (`flows/refusals.py`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from schemas.audit import AUDIT_OUTCOMES
from schemas.privacy import PERSONAL_FIELDS, SECRET_FIELDS
from schemas.tables import audit_log_table, create_statements

INSERT_AUDIT_ENTRY = "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class FileDigest:
    """A file the command read: its name and SHA-256 (None when it could not be read)."""

    file_name: str
    sha256: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One row of audit_log."""

    entry_id: str
    recorded_at: datetime
    os_user: str
    host: str
    process_id: int
    command: str
    parameters: str
    files: tuple[FileDigest, ...]
    outcome: str
    reason: str | None
    run_id: str | None

    def files_json(self) -> str:
        """The files as a JSON array of {"file_name", "sha256"}."""
        return json.dumps([{"file_name": file.file_name, "sha256": file.sha256} for file in self.files], ensure_ascii=False)

    def row(self) -> list:
        """The values of the audit_log row, in column order."""
        return [
            self.entry_id, self.recorded_at, self.os_user, self.host, self.process_id, self.command,
            self.parameters, self.files_json(), self.outcome, self.reason, self.run_id,
        ]  # fmt: skip

    def as_json(self) -> str:
        """The entry as one JSON line, for when the database cannot be written (it is locked by a run)."""
        names = [column.name for column in audit_log_table().columns]
        values = dict(zip(names, self.row(), strict=True))
        values["recorded_at"] = self.recorded_at.isoformat()
        values["files"] = json.loads(values["files"])
        values["parameters"] = json.loads(values["parameters"])
        return json.dumps(values, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> AuditEntry:
        """The entry `as_json` wrote; raises ValueError, KeyError or TypeError on a line it did not write."""
        values = json.loads(line)
        files = tuple(FileDigest(file["file_name"], file["sha256"]) for file in values["files"])
        return cls(
            values["entry_id"], datetime.fromisoformat(values["recorded_at"]), values["os_user"], values["host"],
            values["process_id"], values["command"], parameters_json(values["parameters"]), files, values["outcome"],
            values["reason"], values["run_id"],
        )  # fmt: skip


def file_digest(path: Path) -> FileDigest:
    """The name and SHA-256 of the file at `path`; the digest is None when the file cannot be read."""
    # An operation log that fails to record because a file vanished would hide the failure it records.
    try:
        with path.open("rb") as file:
            return FileDigest(path.name, hashlib.file_digest(file, "sha256").hexdigest())
    except OSError:
        return FileDigest(path.name, None)


def parameters_json(parameters: Mapping[str, object]) -> str:
    """The parameters as JSON (dates and paths as text); raises ValueError on a personal field's name."""
    personal = sorted(_keys(parameters) & (PERSONAL_FIELDS | SECRET_FIELDS))
    if personal:
        raise ValueError(f"audit parameters may not carry personal fields: {', '.join(personal)}")
    return json.dumps(parameters, ensure_ascii=False, sort_keys=True, default=_json_value)


def _keys(value: object) -> set[str]:
    if isinstance(value, Mapping):
        return {str(key) for key in value} | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list | tuple):
        return {key for item in value for key in _keys(item)}
    return set()


def _json_value(value: object) -> str:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"audit parameters take JSON values, dates and paths, not {type(value).__name__}")


def os_user() -> str:
    """The OS user running this process (getpass.getuser(); the numeric uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no LOGNAME/USER and no passwd entry, as in some containers
        return f"uid:{os.getuid()}"


def audit_entry(
    command: str,
    outcome: str,
    parameters: Mapping[str, object] | None = None,
    files: Iterable[Path | FileDigest] = (),
    reason: str | None = None,
    run_id: str | None = None,
) -> AuditEntry:
    """The audit entry of this process for `command`: who, when, with what, on which files, how it ended."""
    if outcome not in AUDIT_OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(AUDIT_OUTCOMES)}, not {outcome!r}")
    digests = tuple(file if isinstance(file, FileDigest) else file_digest(file) for file in files)
    return AuditEntry(
        uuid.uuid4().hex, datetime.now(), os_user(), socket.gethostname(), os.getpid(), command,
        parameters_json(parameters or {}), digests, outcome, reason, run_id,
    )  # fmt: skip


def write_audit_entry(connection: duckdb.DuckDBPyConnection, entry: AuditEntry) -> None:
    """Appends `entry` to audit_log, creating the table if the database has none.

    Call it outside the run's transaction (after its commit or rollback): an entry written inside
    a run that rolls back would vanish with it. The entry's reason must already be free of personal
    data (flows.settlement.failure_reason gives such a line).
    """
    for statement in create_statements(audit_log_table()):
        connection.execute(statement)
    connection.execute(INSERT_AUDIT_ENTRY, entry.row())
