"""`shuno report --date D --xlsx FILE` (CONTRACT v2): the run report of a settlement date as an Excel workbook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from flows.database import DEFAULT_DATABASE, connect_read_only, holder_pid
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption
from flows.workbook import SHEETS, DateNeverRun, workbook_frames, write_workbook

NOT_REPORTED_EXIT_CODE = 1


class ReportRefused(Exception):
    """The workbook cannot be written (no run of the date, no database, a run holds it, an unwritable file); one line."""


def report(
    date: Annotated[str, typer.Option(help="settlement date YYYY-MM-DD whose run to report")],
    xlsx: Annotated[Path, typer.Option("--xlsx", help="workbook to write (.xlsx)")],
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """The run report of a settlement date as an Excel workbook: 収納日計表, arrears, refund candidates, work queue."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        typer.echo(f"shuno report: --date {date!r} is not a date YYYY-MM-DD", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None
    try:
        as_of = written_workbook(db, day, xlsx)
    except ReportRefused as refusal:
        typer.echo(f"shuno report: {refusal}", err=True)
        raise typer.Exit(NOT_REPORTED_EXIT_CODE) from None
    later = "" if as_of == day else f"; arrears, refund candidates and the work queue are as of {as_of}, the latest run standing"
    typer.echo(f"workbook of {day} written to {xlsx} ({len(SHEETS)} sheets){later}")


def written_workbook(database: Path, day: dt.date, out: Path) -> dt.date | None:
    """Writes the workbook of `day` from `database` to `out` and returns the tables' 基準日; ReportRefused when it cannot."""
    if not database.is_file():
        raise ReportRefused(f"no database {database}: {day} was never run")
    try:
        with connect_read_only(database) as connection:
            found, frames = workbook_frames(connection, day)
    except duckdb.IOException as error:
        pid = f" (pid {holder_pid(error)})" if holder_pid(error) else ""
        raise ReportRefused(f"a run holds {database}{pid} now; ask again when it ends") from None
    except DateNeverRun as error:
        raise ReportRefused(str(error)) from None
    try:
        write_workbook(found, frames, out)
    except OSError as error:
        raise ReportRefused(f"cannot write {out}: {error.strerror or error}") from None
    return found.as_of
