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

from flows.database import DEFAULT_DATABASE
from flows.keys import DatabaseKeyError
from flows.alerts_command import alerts_app
from flows.at_rest_commands import backups_command, purge_command, rekey_command, restore_command
from flows.audit_command import audit
from flows.check import check_file, check_report
from flows.decide_command import decide_app
from flows.explain_command import explain
from flows.export_command import export
from flows.late_fee_command import late_fee
from flows.pending_command import pending
from flows.report_command import report
from flows.settlement import RunFailed, failure_reason, refuse_future_date, run_lock
from flows.runtime import prepare_process
from flows.sample import sample
from flows.operation import OperationFailed, OperationRefused
from flows.status_command import status
from flows.void import void_date
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption, SettingsOption, command_settings
from schemas.inbox import parse_inbox_name
from schemas.models import is_collector_code
from schemas.settings import DEFAULT_SETTINGS_FILE

DEFAULT_INBOX = Path("sample_data/inbox")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="shuno: the city's nightly tax-receipt batch.")
app.command("late-fee", help="延滞金 for one receivable, with the pieces it sums (JSON).")(late_fee)
app.command(help="Write a realistic sample inbox.")(sample)
app.add_typer(decide_app, name="decide")
app.add_typer(alerts_app, name="alerts")
app.command(help="The operation log (audit_log and the refusal log), read-only.")(audit)
app.command(help="The story of one receivable, payment or refund candidate, with every 延滞金 piece.")(explain)
app.command(help="Every settlement date from the first to today: completed, failed, refused or never run.")(status)
app.command("pending", help="The work queue: pending and held payments, oldest first, with suggested receivables (--csv for Excel).")(pending)
app.command(help="The run report of a settlement date as an Excel workbook (--xlsx FILE).")(report)
app.command(help="One table or view of the analyst copy as CSV (BOM), Parquet or xlsx; --headers ja for Japanese headers.")(export)

# Personal data at rest (SPEC §8): backups, restore, rekey, purge.
app.command("backups", help="The backups of the database (one is taken before each run).")(backups_command)
app.command("restore", help="Put a backup back in place of the database, under the run lock.")(restore_command)
app.command("rekey", help="Re-encrypt the database and its backups under a new key.")(rekey_command)
app.command("purge", help="Erase personal fields of closed records older than the retention period.")(purge_command)


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
    confirm_gap: Annotated[bool, typer.Option("--confirm-gap", help="run a date far after the latest run (the setting gap_days_to_confirm)")] = False,
    collector: Annotated[
        int | None, typer.Option(metavar="CODE", help="load only this 収納団体コード's files (a shared centre's inbox), into its own --db")
    ] = None,
) -> None:
    """The nightly flow for one settlement date: load, validate, match, apply, rebuild, report."""
    settlement_date = _settlement_date(date)
    if collector is not None and not is_collector_code(collector):
        typer.echo(f"shuno run: --collector {collector} is not a 収納団体コード (six digits, the last its check digit)", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    # A wrong settings file is refused before Prefect starts; the flow then reads the same file the same way.
    command_settings(settings_file, "run")
    try:
        # Refused (and logged) at once, before Prefect starts, for a date after today or when another
        # run holds the database; the run checks both again.
        refuse_future_date(settlement_date, inbox, db, "shuno run")
        with run_lock(settlement_date, inbox, db, "shuno run"):
            pass
        _run_nightly_flow(settlement_date, inbox, db, settings_file, confirm_gap, collector)
    except RunFailed as failure:
        typer.echo(f"shuno run: {failure}", err=True)
        raise typer.Exit(1) from None
    except Exception as error:  # Prefect's own failures (its API): one line, no traceback; a report it cannot show only warns
        typer.echo(f"shuno run: run of {settlement_date} stopped: {failure_reason(error)}", err=True)
        raise typer.Exit(1) from None


def _run_nightly_flow(settlement_date: dt.date, inbox: Path, database: Path, settings_file: Path, confirm_gap: bool, collector: int | None) -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Prefect takes a second to import: only `run` needs it.
    from prefect import tags

    from flows.nightly import COMMAND_TAG, local_prefect_api, nightly

    # A run through Prefect leaves about half a million objects behind: the garbage collections
    # Python runs while it exits would take more than a second over them, to find nothing.
    atexit.register(gc.freeze)
    with local_prefect_api(), tags(COMMAND_TAG):
        nightly(settlement_date, inbox, database, settings_file, confirm_gap, collector)


@app.command()
def void(
    date: Annotated[str, typer.Option(help="settlement date YYYY-MM-DD whose run to void")],
    reason: Annotated[str, typer.Option(metavar="CODE", help="reason code")],
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Void the run of a date: its stored inputs withdrawn, "as of" from the runs left, tables rebuilt; running it again restores it."""
    settlement_date = _settlement_date(date)
    settings = command_settings(settings_file, "void")
    try:
        done = void_date(settlement_date, db, reason, settings)
    except (OperationRefused, OperationFailed) as failure:
        typer.echo(f"shuno void: {failure}", err=True)
        raise typer.Exit(1) from None
    as_of = done.result.as_of or "no run stands: the derived tables are empty"
    typer.echo(f"run of {settlement_date} voided; tables rebuilt as of {as_of}; analyst copy {done.analyst_copy}")


@app.command()
def dates(inbox: InboxOption = DEFAULT_INBOX) -> None:
    """The settlement dates the inbox holds files for, oldest first, one a line."""
    found = sorted({name.settlement_date for path in inbox.iterdir() if (name := parse_inbox_name(path.name))})
    typer.echo("\n".join(day.isoformat() for day in found))


def main() -> None:
    """Entry point of `shuno` and `python -m flows.cli`: a key that cannot open the database is one line, whatever the command."""
    try:
        app(prog_name="shuno")
    except DatabaseKeyError as error:
        typer.echo(f"shuno: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
