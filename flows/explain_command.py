"""`shuno explain`: the story of one receivable, payment or refund candidate (SPEC §6.2; CONTRACT v2).

The database is opened read-only: an explanation never changes what is stored, and it can be read
while no run holds the file. Each query reads only the columns transforms/explanation.py names, so
no name, address, 納付番号 or 確認番号 is ever fetched.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.database import DEFAULT_DATABASE, connect_read_only, query_frame
from flows.settlement import load_law_tables
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption, SettingsOption, command_settings
from schemas.codes import RunStatus
from schemas.settings import DEFAULT_SETTINGS_FILE
from transforms.explanation import (
    APPLIED_PAYMENT_COLUMNS,
    ARREARS_COLUMNS,
    CANDIDATE_COLUMNS,
    DECISION_COLUMNS_SHOWN,
    OFFSET_COLUMNS_SHOWN,
    PAYMENT_COLUMNS_SHOWN,
    SNAPSHOT_COLUMNS,
    LateFeeLaw,
    ReceivableRecords,
    Story,
    candidate_story,
    payment_story,
    receivable_story,
)

NOT_FOUND_EXIT_CODE = 1
# A pipe or a log file has no width; rich would assume 80 columns and fold the tables (flows/report.py does the same).
UNBOUNDED_WIDTH = 400


def _columns(names: tuple[str, ...], alias: str = "") -> str:
    # Identifiers come from transforms/explanation.py's declarations, never from input.
    return ", ".join(f'{alias}"{name}"' for name in names)


SNAPSHOTS = f"SELECT {_columns(SNAPSHOT_COLUMNS)} FROM receivable_snapshots WHERE receivable_id = ?"
CURRENT = 'SELECT "principal", "tax_code", "effective_due_date" FROM receivables WHERE receivable_id = ?'
APPLICATIONS = (
    'SELECT a."payment_key", a."paid_on", p."matched_by", p."status", p."paid_total", '
    'a."principal_applied", a."dunning_fee_applied", a."late_fee_applied" '
    "FROM applications a JOIN payments p ON p.payment_key = a.payment_key WHERE a.receivable_id = ?"
)
ARREARS = f"SELECT {_columns(ARREARS_COLUMNS)} FROM arrears WHERE receivable_id = ?"
CANDIDATES_OF_RECEIVABLE = f"SELECT {_columns(CANDIDATE_COLUMNS)} FROM refund_candidates WHERE receivable_id = ?"
OFFSETS_OF_RECEIVABLE = (
    f"SELECT {_columns(OFFSET_COLUMNS_SHOWN)} FROM offsets WHERE receivable_id = $1 "
    "OR candidate_id IN (SELECT candidate_id FROM refund_candidates WHERE receivable_id = $1)"
)
DECISIONS_OF_RECEIVABLE = (
    f"SELECT {_columns(DECISION_COLUMNS_SHOWN)} FROM decisions WHERE receivable_id = $1 "
    "OR payment_key IN (SELECT payment_key FROM applications WHERE receivable_id = $1) "
    "OR candidate_id IN (SELECT candidate_id FROM refund_candidates WHERE receivable_id = $1)"
)
LATEST_RUN = "SELECT max(settlement_date) FROM runs WHERE status = ?"
PAYMENT = f"SELECT {_columns(PAYMENT_COLUMNS_SHOWN)} FROM payments WHERE payment_key = ?"
CANDIDATES_OF_PAYMENT = f"SELECT {_columns(CANDIDATE_COLUMNS)} FROM refund_candidates WHERE payment_key = ?"
DECISIONS_OF_PAYMENT = f"SELECT {_columns(DECISION_COLUMNS_SHOWN)} FROM decisions WHERE payment_key = ?"
CANDIDATE = f"SELECT {_columns(CANDIDATE_COLUMNS)} FROM refund_candidates WHERE candidate_id = ?"
OFFSETS_OF_CANDIDATE = f"SELECT {_columns(OFFSET_COLUMNS_SHOWN)} FROM offsets WHERE candidate_id = ?"
DECISIONS_OF_CANDIDATE = f"SELECT {_columns(DECISION_COLUMNS_SHOWN)} FROM decisions WHERE candidate_id = ?"


class NotFound(LookupError):
    """No receivable, payment or candidate of the id asked about; the message says which."""


def explain(
    receivable_id: Annotated[str | None, typer.Argument(metavar="RECEIVABLE_ID", help="調定番号 to explain.")] = None,
    payment: Annotated[str | None, typer.Option("--payment", metavar="KEY", help="Explain a payment (payment_key).")] = None,
    candidate: Annotated[str | None, typer.Option("--candidate", metavar="ID", help="Explain a refund candidate.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of tables.")] = False,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """The story of one receivable, payment or refund candidate from what is stored, with every 延滞金 piece."""
    asked = [(kind, key) for kind, key in (("receivable", receivable_id), ("payment", payment), ("candidate", candidate)) if key]
    if len(asked) != 1:
        typer.echo("shuno explain: give one of RECEIVABLE_ID, --payment KEY or --candidate ID", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    settings = command_settings(settings_file, "explain")
    try:
        tables = load_law_tables(settings)
        law = LateFeeLaw(tables.rates, tables.exemption_kinds, settings.low_rate_months)
        with read_only(db) as connection:
            stories = explanation(connection, *asked[0], law)
    except (NotFound, ValueError, OSError, duckdb.Error) as error:
        typer.echo(f"shuno explain: {_one_line(error)}", err=True)
        raise typer.Exit(NOT_FOUND_EXIT_CODE) from None
    if as_json:
        typer.echo(json.dumps(explanation_document(stories), ensure_ascii=False, indent=2))
    else:
        print_explanation(stories, Console())


def _one_line(error: Exception) -> str:
    if isinstance(error, duckdb.Error):
        # DuckDB's messages run over several lines (a lock names the holding process): its first line says enough.
        return f"the database cannot be read ({str(error).splitlines()[0]})"
    return str(error)


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the database at path; NotFound when there is none (a read-only open cannot create one)."""
    if not path.is_file():
        raise NotFound(f"no database at {path}")
    return connect_read_only(path)


def explanation(connection: duckdb.DuckDBPyConnection, subject: str, key: str, law: LateFeeLaw) -> list[Story]:
    """The stories that explain one receivable, payment or candidate: its own, then its receivable's when it has one."""
    if subject == "receivable":
        return [receivable_story(receivable_records(connection, key), law)]
    if subject == "payment":
        story = payment_story(
            _found(query_frame(connection, PAYMENT, [key]), f"no payment {key}"),
            query_frame(connection, CANDIDATES_OF_PAYMENT, [key]),
            query_frame(connection, DECISIONS_OF_PAYMENT, [key]),
        )
    else:
        story = candidate_story(
            _found(query_frame(connection, CANDIDATE, [key]), f"no refund candidate {key}"),
            query_frame(connection, OFFSETS_OF_CANDIDATE, [key]),
            query_frame(connection, DECISIONS_OF_CANDIDATE, [key]),
        )
    receivable_id = story.facts["receivable_id"]
    return [story] if receivable_id is None else [story, receivable_story(receivable_records(connection, receivable_id), law)]


def _found(frame: pl.DataFrame, message: str) -> pl.DataFrame:
    if frame.is_empty():
        raise NotFound(message)
    return frame


def receivable_records(connection: duckdb.DuckDBPyConnection, receivable_id: str) -> ReceivableRecords:
    """What the database holds about one receivable; NotFound when no snapshot ever delivered it."""
    latest_run = connection.execute(LATEST_RUN, [RunStatus.COMPLETED]).fetchall()[0][0]
    return ReceivableRecords(
        receivable_id=receivable_id,
        snapshots=_found(query_frame(connection, SNAPSHOTS, [receivable_id]), f"no receivable {receivable_id}"),
        current=query_frame(connection, CURRENT, [receivable_id]),
        applications=query_frame(connection, APPLICATIONS, [receivable_id]).select(APPLIED_PAYMENT_COLUMNS),
        arrears=query_frame(connection, ARREARS, [receivable_id]),
        offsets=query_frame(connection, OFFSETS_OF_RECEIVABLE, [receivable_id]),
        refund_candidates=query_frame(connection, CANDIDATES_OF_RECEIVABLE, [receivable_id]),
        decisions=query_frame(connection, DECISIONS_OF_RECEIVABLE, [receivable_id]),
        latest_run_on=latest_run,
    )


def explanation_document(stories: list[Story]) -> dict[str, Any]:
    """The stories as one JSON-ready document: one object per subject, its facts and its parts as lists of rows."""
    return {
        story.subject: {
            "heading": story.heading,
            **{name: _json_value(value) for name, value in story.facts.items()},
            **{section.key: [_json_row(row) for row in section.rows.iter_rows(named=True)] for section in story.sections},
        }
        for story in stories
    }


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in row.items()}


def _json_value(value: Any) -> Any:
    # Dates in ISO form; yen stay integers, as the tables hold them.
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def print_explanation(stories: list[Story], console: Console) -> None:
    """Prints the stories with rich: a heading line, the facts, then one small table per part that has rows."""
    if not console.is_terminal:
        console.width = UNBOUNDED_WIDTH
    for story in stories:
        console.print(Text(story.heading, style="bold"))
        console.print(Text("  ".join(f"{name}={_cell(name, value)}" for name, value in story.facts.items())))
        for section in story.sections:
            if section.rows.is_empty():
                console.print(Text(f"{section.title}: なし"))
                continue
            console.print(_table(section.title, section.rows))
        console.print()


def _table(title: str, rows: pl.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for name, dtype in rows.schema.items():
        table.add_column(name, justify="right" if dtype.is_integer() else "left", no_wrap=True)
    for row in rows.iter_rows():
        table.add_row(*(Text(_cell(name, value)) for name, value in zip(rows.columns, row)))
    return table


# Whole numbers that are not yen: shown without a thousands separator.
NOT_YEN = frozenset({"fiscal_year", "tax_year", "delivery_number", "days", "days_overdue", "sighting_count"})


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}" if isinstance(value, int) and name not in NOT_YEN else str(value)
