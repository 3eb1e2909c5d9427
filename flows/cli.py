"""The `shuno` command line (CONTRACT.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.check import check_file, check_report
from flows.late_fee_command import late_fee

app = typer.Typer(add_completion=False, no_args_is_help=True, help="shuno: the city's nightly tax-receipt batch.")
app.command("late-fee", help="延滞金 for one receivable, with the pieces it sums (JSON).")(late_fee)


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


@app.command()
def run(
    date: Annotated[str, typer.Option(help="settlement date YYYY-MM-DD")],
    inbox: Annotated[Path, typer.Option(envvar="SHUNO_INBOX")] = Path("sample_data/inbox"),
    db: Annotated[Path, typer.Option(envvar="SHUNO_DB")] = Path("data/shuno.duckdb"),
) -> None:
    """The nightly flow for one settlement date."""
    typer.echo("shuno run: not yet implemented (the reconciliation issue adds it)", err=True)
    raise typer.Exit(1)


def main() -> None:
    """Entry point for `python -m flows.cli`."""
    app(prog_name="shuno")


if __name__ == "__main__":
    sys.exit(main())
