"""`shuno status [--json]` (CONTRACT v2): every settlement date from the first to today, and the latest "as of".

Read from `runs`, the operation log (audit_log and the refusal log) and `ingested_files`, with the
database open read-only for a moment; see transforms/run_status.py for what each state means.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from flows.database import DEFAULT_DATABASE, connect_read_only, holder_pid, latest_completed_date
from flows.refusals import RefusalLogError, logged_refusals
from flows.settings_option import DatabaseOption
from schemas.settings import CITY_TIME_ZONE
from transforms.run_status import NEVER_RUN, date_states, file_warnings, run_attempts

UNREADABLE_EXIT_CODE = 1
RUNS = "SELECT settlement_date, started_at, status FROM runs"
# Runs only: a refused decision or void is no attempt at running the date (`runs` has the voids).
OPERATIONS = ("decide", "void")
LOGGED = "SELECT recorded_at, outcome, reason, parameters FROM audit_log WHERE command NOT LIKE '%decide%' AND command NOT LIKE '%void%'"
FILES = "SELECT settlement_date, file_name, status, rejected_count FROM ingested_files"


def status(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Per settlement date from the first to today: completed, failed (reason), refused, never run; warnings; the latest as of."""
    today = datetime.now(CITY_TIME_ZONE).date()
    (runs, logged, files), as_of = _read(db)
    try:
        waiting = [entry for entry in logged_refusals(db)[0] if not any(operation in entry.command for operation in OPERATIONS)]
    except (RefusalLogError, OSError) as error:
        typer.echo(f"shuno status: {error}", err=True)
        raise typer.Exit(UNREADABLE_EXIT_CODE) from None
    waiting_rows = pl.DataFrame(
        [(entry.recorded_at, entry.outcome, entry.reason, entry.parameters) for entry in waiting],
        schema=logged.schema,
        orient="row",
    )
    refusals = _with_dates(pl.concat([logged, waiting_rows]).unique())
    states = date_states(run_attempts(runs, refusals), file_warnings(files), today)
    if as_json:
        typer.echo(json.dumps({"as_of": as_of, "today": today, "dates": states.to_dicts()}, ensure_ascii=False, default=_json_value))
        return
    _print(states, as_of, today)


def _read(database: Path) -> tuple[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], date | None]:
    """The runs, the logged attempts and the files of the database, and the date it stands as of (None before any run)."""
    empty = (
        pl.DataFrame(schema={"settlement_date": pl.Date, "started_at": pl.Datetime("us"), "status": pl.String}),
        pl.DataFrame(schema={"recorded_at": pl.Datetime("us"), "outcome": pl.String, "reason": pl.String, "parameters": pl.String}),
        pl.DataFrame(schema={"settlement_date": pl.Date, "file_name": pl.String, "status": pl.String, "rejected_count": pl.Int64}),
    )
    if not database.is_file():
        return empty, None
    try:
        connection = connect_read_only(database)
    except duckdb.IOException as error:
        pid = f" (pid {holder_pid(error)})" if holder_pid(error) else ""
        typer.echo(f"shuno status: a run holds {database}{pid} now; ask again when it ends", err=True)
        raise typer.Exit(UNREADABLE_EXIT_CODE) from None
    try:
        frames = tuple(connection.sql(sql).pl().cast(dict(frame.schema)) for sql, frame in zip((RUNS, LOGGED, FILES), empty))
        return frames, latest_completed_date(connection)
    finally:
        connection.close()


def _with_dates(logged: pl.DataFrame) -> pl.DataFrame:
    """The logged entries with the settlement date their parameters name (entries naming none are dropped)."""
    named = pl.col("parameters").str.json_path_match("$.settlement_date").str.to_date(strict=False)
    return logged.with_columns(named.alias("settlement_date")).drop_nulls("settlement_date")


def _json_value(value: object) -> str:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _print(states: pl.DataFrame, as_of: date | None, today: date) -> None:
    """The dates as a table; consecutive days never run are one row (`--json` lists every day)."""
    table = Table(title=f"settlement dates to {today} (Asia/Tokyo); as of {as_of or 'no completed run'}", title_justify="left")
    for column in ("settlement date", "state", "last attempt", "reason", "warnings"):
        table.add_column(column, overflow="fold")
    for first, last, state, attempted_at, reason, warnings in _runs_of_never_run(states).iter_rows():
        days = first.isoformat() if first == last else f"{first} … {last} ({(last - first).days + 1} days)"
        attempted = attempted_at.isoformat(timespec="seconds") if attempted_at else ""
        table.add_row(days, state, attempted, reason or "", warnings or "")
    Console(width=160).print(table)


def _runs_of_never_run(states: pl.DataFrame) -> pl.DataFrame:
    """states with each run of consecutive never-run days as one row from its first to its last day."""
    never = pl.col("state") == NEVER_RUN
    group = (~(never & never.shift(1, fill_value=False))).cum_sum().alias("group")
    grouped = states.with_columns(group).group_by("group", maintain_order=True)
    return grouped.agg(
        pl.col("settlement_date").first().alias("first"), pl.col("settlement_date").last().alias("last"), pl.all().exclude("settlement_date").first()
    ).drop("group")
