"""The `shuno` command line (CONTRACT.md)."""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.check import check_file, check_report
from flows.late_fee_command import late_fee
from flows.pending_command import pending
from flows.settlement import RunFailed, failure_reason, run_lock
from flows.runtime import prepare_process
from flows.sample import sample
from flows.settings_option import BAD_INPUT_EXIT_CODE, SettingsOption, command_settings
from schemas.inbox import parse_inbox_name
from schemas.settings import DEFAULT_SETTINGS_FILE

DEFAULT_INBOX = Path("sample_data/inbox")
DEFAULT_DATABASE = Path("data/shuno.duckdb")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="shuno: the city's nightly tax-receipt batch.")
app.command("late-fee", help="延滞金 for one receivable, with the pieces it sums (JSON).")(late_fee)
app.command(help="Write a realistic sample inbox.")(sample)
app.command("pending", help="The work queue: pending and held payments, oldest first, with suggested receivables (--csv for Excel).")(pending)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="files to validate")]) -> None:
    """Validate files against their layouts without touching the database."""
    missing = [path for path in files if not path.is_file()]
    if missing:
        typer.echo(f"shuno check: no such file: {missing[0]}", err=True)
        raise typer.Exit(2)
    prepare_process()
    results = [check_file(path) for path in files]
    for found in results:
        typer.echo("\n".join(check_report(found)))
    raise typer.Exit(0 if all(found.would_load for found in results) else 1)


InboxOption = Annotated[Path, typer.Option(envvar="SHUNO_INBOX", help="inbox folder")]
DatabaseOption = Annotated[Path, typer.Option(envvar="SHUNO_DB", help="DuckDB file")]


def _settlement_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        typer.echo(f"shuno: --date {text!r} is not a date YYYY-MM-DD", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None


# Set before Prefect is imported, unless the user set them: Prefect's analytics write to its SQLite
# file at start-up ("database is locked" when two processes do), and its console log would print
# a failed task's traceback where CONTRACT wants one line. Logs still reach the Prefect API.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
}


@app.command()
def run(
    date: Annotated[str, typer.Option(help="settlement date YYYY-MM-DD")],
    inbox: InboxOption = DEFAULT_INBOX,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """The nightly flow for one settlement date: load, validate, match, apply, rebuild, report."""
    settlement_date = _settlement_date(date)
    # A wrong settings file is refused before Prefect starts; the flow then reads the same file the same way.
    command_settings(settings_file, "run")
    try:
        # Refused (and logged) at once, before Prefect starts, when another run holds the database; the run takes the lock again.
        with run_lock(settlement_date, inbox, db, "shuno run"):
            pass
        _run_nightly_flow(settlement_date, inbox, db, settings_file)
    except RunFailed as failure:
        typer.echo(f"shuno run: {failure}", err=True)
        raise typer.Exit(1) from None
    except Exception as error:  # Prefect's own failures (its API): one line, no traceback; a report it cannot show only warns
        typer.echo(f"shuno run: run of {settlement_date} stopped: {failure_reason(error)}", err=True)
        raise typer.Exit(1) from None


def _run_nightly_flow(settlement_date: dt.date, inbox: Path, database: Path, settings_file: Path) -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Prefect takes a second to import: only `run` needs it.
    from prefect import tags

    from flows.nightly import COMMAND_TAG, local_prefect_api, nightly

    # A run through Prefect leaves about half a million objects behind: the garbage collections
    # Python runs while it exits would take more than a second over them, to find nothing.
    atexit.register(gc.freeze)
    with local_prefect_api(), tags(COMMAND_TAG):
        nightly(settlement_date, inbox, database, settings_file)


@app.command()
def dates(inbox: InboxOption = DEFAULT_INBOX) -> None:
    """The settlement dates the inbox holds files for, oldest first, one a line."""
    found = sorted({name.settlement_date for path in inbox.iterdir() if (name := parse_inbox_name(path.name))})
    typer.echo("\n".join(day.isoformat() for day in found))


def main() -> None:
    """Entry point for `python -m flows.cli`."""
    app(prog_name="shuno")


if __name__ == "__main__":
    sys.exit(main())
