"""`shuno decide KIND …` and `shuno decide --file FILE.csv` (CONTRACT v2): the office's decisions, stored at once.

Exit 0: stored and the derived tables rebuilt in the same transaction; 1: refused (one-line
reason, nothing stored); 2: bad usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from flows.database import DEFAULT_DATABASE
from flows.decide import take_decisions
from flows.operation import OperationFailed, OperationRefused
from flows.settings_option import BAD_INPUT_EXIT_CODE, DatabaseOption, SettingsOption, command_settings
from schemas.codes import DecisionKind
from schemas.decisions import Decision, DecisionFileError, decision_error, parsed_decisions
from schemas.settings import DEFAULT_SETTINGS_FILE

REFUSED_EXIT_CODE = 1

decide_app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="Store an office decision (SPEC §6) and rebuild the tables with it: one KIND, or --file for many.",
)

OnOption = Annotated[str, typer.Option("--on", metavar="YYYY-MM-DD", help="the day the decision takes effect")]
ReasonOption = Annotated[str, typer.Option("--reason", metavar="CODE", help="reason code")]
NoteOption = Annotated[str | None, typer.Option("--note", help="note (kept in the database only, never logged)")]
PaymentOption = Annotated[str, typer.Option("--payment", metavar="KEY", help="payment_key")]
CandidateOption = Annotated[str, typer.Option("--candidate", metavar="ID", help="refund candidate id")]


@decide_app.callback()
def decide(
    context: typer.Context,
    file: Annotated[Path | None, typer.Option("--file", metavar="FILE.csv", help="many decisions, all or none")] = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Store decisions: `shuno decide KIND …` for one, `shuno decide --file FILE.csv` for many."""
    if context.invoked_subcommand is not None:
        return
    if file is None:
        typer.echo(context.get_help())
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    try:
        decisions = parsed_decisions(file.read_text(encoding="utf-8-sig"), file.name)
    except (OSError, UnicodeDecodeError) as error:
        _exit(f"{file} cannot be read ({type(error).__name__})", BAD_INPUT_EXIT_CODE)
    except DecisionFileError as error:
        _exit(f"refused, nothing stored: {error}", REFUSED_EXIT_CODE)
    _take(decisions, db, settings_file, rows_named=True)


@decide_app.command()
def match(
    payment: PaymentOption,
    receivable: Annotated[str, typer.Option("--receivable", metavar="ID", help="receivable_id")],
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Apply a pending payment to a receivable (manual 消込)."""
    _one(dict(kind=DecisionKind.MATCH, payment_key=payment, receivable_id=receivable, decided_on=on, reason_code=reason, note=note), db, settings_file)


@decide_app.command()
def resolve(
    payment: PaymentOption,
    file: Annotated[str, typer.Option("--file", metavar="NAME", help="file name of the sighting whose values decide")],
    record: Annotated[int, typer.Option("--record", metavar="N", help="its record number")],
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Decide a held payment by one of its sightings."""
    fields = dict(kind=DecisionKind.RESOLVE, payment_key=payment, file_name=file, record_number=record, decided_on=on, reason_code=reason, note=note)
    _one(fields, db, settings_file)


@decide_app.command("return")
def return_payment(
    payment: PaymentOption,
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Return a pending payment that belongs to no receivable of the city (a 誤納 refund candidate)."""
    _one(dict(kind=DecisionKind.RETURN, payment_key=payment, decided_on=on, reason_code=reason, note=note), db, settings_file)


@decide_app.command()
def refunded(
    candidate: CandidateOption,
    on: OnOption,
    reason: ReasonOption,
    amount: Annotated[int | None, typer.Option("--amount", metavar="YEN", help="the yen refunded, checked")] = None,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Record a refund paid on its 支出決定日 (--on): 還付加算金 is fixed there."""
    fields = dict(kind=DecisionKind.REFUNDED, candidate_id=candidate, amount=amount, decided_on=on, reason_code=reason, note=note)
    _one(fields, db, settings_file)


@decide_app.command()
def offset(
    candidate: CandidateOption,
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Execute a candidate's proposed 充当 on its 充当日 (--on)."""
    _one(dict(kind=DecisionKind.OFFSET, candidate_id=candidate, decided_on=on, reason_code=reason, note=note), db, settings_file)


@decide_app.command()
def exempt(
    receivable: Annotated[str, typer.Option("--receivable", metavar="ID", help="receivable_id")],
    kind: Annotated[str, typer.Option("--kind", metavar="KIND", help="disaster, suspension, deferral, realisation or reduction")],
    start: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD", help="first day of the period")],
    reason: ReasonOption,
    end: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="last day; left out: still in force")] = None,
    fraction: Annotated[str | None, typer.Option("--fraction", metavar="1|1/2", help="for `reduction`: the share exempted")] = None,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """A 延滞金 exemption period of a receivable (SPEC §6.1)."""
    fields = dict(
        kind=DecisionKind.EXEMPT, receivable_id=receivable, exemption_kind=kind, start_on=start, end_on=end, fraction=fraction, reason_code=reason, note=note
    )
    _one(fields, db, settings_file)


@decide_app.command()
def revoke(
    decision: Annotated[str, typer.Option("--decision", metavar="ID", help="the decision to void")],
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Void a decision in force: the tables become as if it had never been taken."""
    _one(dict(kind=DecisionKind.REVOKE, decision_id=decision, decided_on=on, reason_code=reason, note=note), db, settings_file)


@decide_app.command("accept-snapshot")
def accept_snapshot(
    file: Annotated[str, typer.Option("--file", metavar="NAME", help="the held receivables snapshot (ingested_files)")],
    on: OnOption,
    reason: ReasonOption,
    note: NoteOption = None,
    db: DatabaseOption = DEFAULT_DATABASE,
    settings_file: SettingsOption = DEFAULT_SETTINGS_FILE,
) -> None:
    """Accept a held receivables snapshot: the next run of its date uses it."""
    _one(dict(kind=DecisionKind.ACCEPT_SNAPSHOT, file_name=file, decided_on=on, reason_code=reason, note=note), db, settings_file)


def _one(fields: dict, database: Path, settings_file: Path) -> None:
    """Builds one decision from a subcommand's options (bad values: exit 2) and takes it."""
    try:
        decision = Decision.model_validate({name: value for name, value in fields.items() if value is not None})
    except ValidationError as error:
        _exit(decision_error(error), BAD_INPUT_EXIT_CODE)
    _take([decision], database, settings_file, rows_named=False)


def _take(decisions: list[Decision], database: Path, settings_file: Path, rows_named: bool) -> None:
    settings = command_settings(settings_file, "decide")
    try:
        taken = take_decisions(decisions, database, settings, rows_named=rows_named)
    except OperationRefused as refused:
        _exit(f"refused, nothing stored: {refused}", REFUSED_EXIT_CODE)
    except OperationFailed as failed:
        _exit(str(failed), REFUSED_EXIT_CODE)
    typer.echo("\n".join(taken.decision_ids))
    typer.echo(f"tables rebuilt as of {taken.as_of}; analyst copy {taken.analyst_copy}", err=True)


def _exit(message: str, code: int) -> None:
    typer.echo(f"shuno decide: {message}", err=True)
    raise typer.Exit(code)

