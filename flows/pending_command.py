"""`shuno pending`: the work queue of SPEC §6.2, read from the database without writing to it (CONTRACT.md v2).

Every pending and held payment, oldest 納付日 first, how long it has waited, and the receivables
the last rebuild suggests for it with their reasons (transforms/work_queue.py). A suggestion is
only shown: the office applies one with `shuno decide match`. Nothing personal is printed: the
queue holds payment keys, codes, dates and yen, never a name, 納付番号 or 確認番号.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.database import DEFAULT_DATABASE, connect_read_only
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption
from schemas.codes import ErrorClass, PaymentStatus, SuggestionReason, code_labels

# `shuno run`'s --db (flows/cli.py, which registers this command and so cannot be imported here).
UNREADABLE_EXIT_CODE = 1
QUEUE = """
SELECT paid_on, days_waiting, payment_key, status, error_class, paid_total, first_seen_on,
       suggestion_rank, suggested_receivable_id, suggestion_reason, as_of
FROM work_queue
ORDER BY paid_on, payment_key, suggestion_rank NULLS LAST
"""
LABELS = {"status": code_labels(PaymentStatus), "error_class": code_labels(ErrorClass), "suggestion_reason": code_labels(SuggestionReason)}
# Excel opens UTF-8 CSV as UTF-8 only after a byte-order mark; without one it reads Shift_JIS.
CSV_ENCODING = "utf-8-sig"
# A pipe has no width; rich would assume 80 columns and fold the rows.
UNBOUNDED_WIDTH = 200


class QueueUnreadable(Exception):
    """The database cannot be read now (missing, held by a writer, or from before the work queue); the message is one line."""


def pending(
    csv_output: Annotated[bool, typer.Option("--csv", help="CSV (UTF-8 with BOM, for Excel) on stdout instead of a table.")] = False,
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """The work queue: every pending and held payment, oldest 納付日 first, with suggested receivables and why."""
    try:
        queue = stored_work_queue(db)
    except FileNotFoundError as error:
        typer.echo(f"shuno pending: {error}", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE) from None
    except QueueUnreadable as error:
        typer.echo(f"shuno pending: {error}", err=True)
        raise typer.Exit(UNREADABLE_EXIT_CODE) from None
    if csv_output:
        write_queue_csv(queue, sys.stdout.buffer)
    else:
        print_queue(queue, Console())


def stored_work_queue(database: Path) -> pl.DataFrame:
    """The `work_queue` table of `database`, oldest 納付日 first, read through a read-only connection."""
    if not database.is_file():
        raise FileNotFoundError(f"no database {database}: run `shuno run` first")
    try:
        with connect_read_only(database) as connection:
            return connection.sql(QUEUE).pl()
    except duckdb.CatalogException:
        raise QueueUnreadable(f"{database} has no work queue yet: it is rebuilt by the next `shuno run`") from None
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        # DuckDB's message names the writer's program and PID, never data; its first line is enough.
        # (ConnectionException: this very process has the file open for writing.)
        reason = str(error).splitlines()[0]
        raise QueueUnreadable(f"cannot read {database} now (another process is writing it?): {reason}") from None


def labelled(queue: pl.DataFrame) -> pl.DataFrame:
    """The queue with a `…_label` column after each coded column, saying what the code means."""
    labels = [pl.col(name).replace_strict(codes, default=None, return_dtype=pl.String).alias(f"{name}_label") for name, codes in LABELS.items()]
    ordered = [column for name in queue.columns for column in ([name, f"{name}_label"] if name in LABELS else [name])]
    return queue.with_columns(labels).select(ordered)


def write_queue_csv(queue: pl.DataFrame, output: BinaryIO) -> None:
    """Writes the queue as CSV, one row per suggestion, codes as their text (エラー区分 `00` stays `00`) beside their labels."""
    text = io.StringIO(newline="")
    rows = labelled(queue)
    writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(rows.columns)
    writer.writerows(["" if value is None else str(value) for value in row] for row in rows.iter_rows())
    output.write(text.getvalue().encode(CSV_ENCODING))
    output.flush()


def queue_lines(queue: pl.DataFrame) -> list[tuple[str, ...]]:
    """One line per waiting payment: 納付日, days waited, key, status, エラー区分, yen, and its suggestions, one a line."""
    lines = []
    for (payment_key,), rows in queue.group_by("payment_key", maintain_order=True):
        first = rows.row(0, named=True)
        suggested = [
            f"{row['suggestion_rank']}. {row['suggested_receivable_id']}  {LABELS['suggestion_reason'][row['suggestion_reason']]}"
            for row in rows.iter_rows(named=True)
            if row["suggestion_rank"] is not None
        ]
        error = f"{first['error_class']} {LABELS['error_class'][first['error_class']]}"
        waited = f"{first['days_waiting']:,}"
        lines.append((str(first["paid_on"]), waited, payment_key, first["status"], error, f"{first['paid_total']:,}", "\n".join(suggested) or "(none)"))
    return lines


def queue_count(queue: pl.DataFrame) -> str:
    """The count line: payments waiting, by status, and the longest wait."""
    payments = queue.unique("payment_key")
    if payments.is_empty():
        return "no payment waiting"
    by_status = ", ".join(f"{count:,} {status}" for status, count in payments.group_by("status").len().sort("status").iter_rows())
    as_of, longest = payments["as_of"][0], payments["days_waiting"].max()
    return f"{payments.height:,} payments waiting ({by_status}) as of {as_of}; the longest has waited {longest:,} days"


def print_queue(queue: pl.DataFrame, console: Console) -> None:
    """Prints the queue with rich, oldest 納付日 first, and the count line."""
    if not console.is_terminal:
        console.width = UNBOUNDED_WIDTH
    shown = Table(title="work queue: pending and held payments, oldest 納付日 first (suggestions are never applied by themselves)", title_justify="left")
    for name, numeric in (("納付日", False), ("days waiting", True), ("payment", False), ("status", False), ("エラー区分", False), ("yen", True), ("suggested receivables", False)):
        shown.add_column(name, justify="right" if numeric else "left", no_wrap=name != "suggested receivables")
    for line in queue_lines(queue):
        shown.add_row(*(Text(cell) for cell in line))
    console.print(shown)
    console.print(Text(queue_count(queue)))
