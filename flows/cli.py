"""The `shuno` command line (CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.check import check_file, check_report
from flows.late_fee_command import late_fee
from flows.nightly import RunFailed, run_settlement_date
from flows.report import summary_lines
from flows.sample import sample
from schemas.inbox import parse_inbox_name

DEFAULT_INBOX = Path("sample_data/inbox")
DEFAULT_DATABASE = Path("data/shuno.duckdb")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="shuno: the city's nightly tax-receipt batch.")
app.command("late-fee", help="延滞金 for one receivable, with the pieces it sums (JSON).")(late_fee)
app.command(help="Write a realistic sample inbox.")(sample)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="files to validate")]) -> None:
    """Validate files against their layouts without touching the database."""
    missing = [path for path in files if not path.is_file()]
    if missing:
        typer.echo(f"shuno check: no such file: {missing[0]}", err=True)
        raise typer.Exit(2)
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
        raise typer.Exit(2) from None


@app.command()
def run(
    date: Annotated[str, typer.Option(help="settlement date YYYY-MM-DD")],
    inbox: InboxOption = DEFAULT_INBOX,
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """The nightly flow for one settlement date: load, validate, match, apply, rebuild."""
    try:
        summary = run_settlement_date(_settlement_date(date), inbox, db)
    except RunFailed as failure:
        typer.echo(f"shuno run: {failure}", err=True)
        raise typer.Exit(1) from None
    typer.echo("\n".join(summary_lines(summary)))


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
