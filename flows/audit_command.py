"""`shuno audit [--since YYYY-MM-DD] [--json]` (CONTRACT v2): the operation log, read without opening the database for writing.

It shows audit_log and the entries still waiting in the refusal log (refused or failed runs and
decisions that could not write audit_log, which the next run folds in), oldest first. An operator
never needs to open `data/shuno.duckdb` for it, and a reader it leaves open would stop the next
run: the database is opened read-only for the moment of one query.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from flows.audit import AuditEntry, FileDigest
from flows.database import DEFAULT_DATABASE, connect_read_only, holder_pid
from flows.refusals import RefusalLogError, logged_refusals
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption

UNREADABLE_EXIT_CODE = 1
AUDIT_ROWS = "SELECT * FROM audit_log WHERE recorded_at >= ? ORDER BY recorded_at, entry_id"


def audit(
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="entries recorded on or after this day")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Print the operation log (評価書 III-3): who ran, re-ran, decided or was refused, when, and how it ended."""
    start = _since(since)
    entries, unreadable = _stored_entries(db, start)
    try:
        waiting = [entry for entry in logged_refusals(db)[0] if entry.recorded_at >= start]
    except (RefusalLogError, OSError) as error:
        typer.echo(f"shuno audit: {error}", err=True)
        raise typer.Exit(UNREADABLE_EXIT_CODE) from None
    folded = {entry.entry_id for entry in entries}
    shown = sorted(entries + [entry for entry in waiting if entry.entry_id not in folded], key=lambda entry: (entry.recorded_at, entry.entry_id))
    if as_json:
        for entry in shown:
            typer.echo(entry.as_json())
    else:
        _print(shown, {entry.entry_id for entry in waiting} - folded)
    if unreadable:
        typer.echo(f"shuno audit: {unreadable}", err=True)
        raise typer.Exit(UNREADABLE_EXIT_CODE)


def _since(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.min
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    except ValueError:
        typer.echo(f"shuno audit: --since {text!r} is not a date YYYY-MM-DD", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None


def _stored_entries(database: Path, start: dt.datetime) -> tuple[list[AuditEntry], str | None]:
    """audit_log's entries from start on, and why the database could not be read (None when it could)."""
    if not database.is_file():
        return [], None
    try:
        connection = connect_read_only(database)
    except duckdb.IOException as error:
        pid = f" (pid {holder_pid(error)})" if holder_pid(error) else ""
        return [], f"a run holds {database}{pid} now: only the refusal log's entries are shown; ask again when it ends"
    try:
        if not connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_log'").fetchall()[0][0]:
            return [], None
        rows = connection.execute(AUDIT_ROWS, [start]).fetchall()
    finally:
        connection.close()
    return [_entry(row) for row in rows], None


def _entry(row: tuple) -> AuditEntry:
    entry_id, recorded_at, os_user, host, process_id, command, parameters, files, outcome, reason, run_id = row
    digests = tuple(FileDigest(file["file_name"], file["sha256"]) for file in _json_list(files))
    return AuditEntry(entry_id, recorded_at, os_user, host, process_id, command, parameters, digests, outcome, reason, run_id)


def _json_list(text: str | None) -> list[dict]:
    return json.loads(text) if text else []


def _print(entries: list[AuditEntry], waiting: set[str]) -> None:
    table = Table(title=f"operation log: {len(entries)} entries", title_justify="left")
    for column in ("recorded at", "user", "command", "outcome", "run", "reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        outcome = f"{entry.outcome} (refusal log)" if entry.entry_id in waiting else entry.outcome
        table.add_row(entry.recorded_at.isoformat(timespec="seconds"), entry.os_user, entry.command, outcome, (entry.run_id or "")[:8], entry.reason or "")
    Console(width=160).print(table)
