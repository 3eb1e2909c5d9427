"""The Prefect deployment `decide` (CONTRACT v2): one office decision entered from the Prefect UI's run form.

Its parameters are the decision's fields, typed (the kind an enum, days dates, yen an integer), so
the UI offers a form; it stores the decision the way `shuno decide` does (flows/decide.py),
sharing the run lock with the nightly run: a decision while a run holds the database is refused
at once, and logged in the refusal log like a refused run.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger
from pydantic import ValidationError

from flows.database import DEFAULT_DATABASE
from flows.decide import TakenDecisions, take_decisions
from flows.operation import OperationFailed, OperationRefused
from schemas.codes import DecisionKind
from schemas.decisions import Decision, decision_error
from schemas.settings import DEFAULT_SETTINGS_FILE, load_settings



@flow(name="decide", flow_run_name="decide-{kind}")
def decide(
    kind: DecisionKind,
    reason_code: str,
    decided_on: date | None = None,
    payment_key: str | None = None,
    receivable_id: str | None = None,
    candidate_id: str | None = None,
    file_name: str | None = None,
    record_number: int | None = None,
    exemption_kind: str | None = None,
    start_on: date | None = None,
    end_on: date | None = None,
    fraction: str | None = None,
    amount: int | None = None,
    note: str | None = None,
    decision_id: str | None = None,
    database: Path = DEFAULT_DATABASE,
    settings_file: Path = DEFAULT_SETTINGS_FILE,
) -> TakenDecisions:
    """Stores one decision of the office (SPEC §6) and rebuilds the derived tables with it.

    Args:
        kind: match, resolve, return, refunded, offset, exempt or revoke.
        reason_code: the office's reason code (letters, digits, `_.-`); free text goes in `note`.
        decided_on: the day the decision takes effect (支出決定日, 充当日, …); an exemption's is its first day.
        payment_key: the payment (match, resolve, return), as `payments.payment_key`.
        receivable_id: the receivable a match applies the payment to, or an exemption's.
        candidate_id: the refund candidate (refunded, offset).
        file_name: resolve: the file of the sighting whose values decide the held payment.
        record_number: resolve: that sighting's record number.
        exemption_kind: exempt: disaster, suspension, deferral, realisation or reduction.
        start_on: exempt: first day of the period.
        end_on: exempt: last day; empty while it is in force.
        fraction: exempt, reduction only: 1 or 1/2.
        amount: refunded: the yen refunded, checked against the refund as of decided_on.
        note: kept in the database only; never logged.
        decision_id: revoke: the decision to void.
        database: the DuckDB file.
        settings_file: the settings file (see the nightly flow).
    """
    fields = {name: value for name, value in locals().items() if name not in ("database", "settings_file") and value is not None}
    try:
        decision = Decision.model_validate(fields)
    except ValidationError as error:
        raise OperationRefused(decision_error(error)) from None
    try:
        taken = take_decisions([decision], database, load_settings(settings_file), command="deployment decide")
    except (OperationRefused, OperationFailed) as failure:
        # The cause may be a library's error whose message quotes values: only shuno's line is raised.
        raise failure from None
    get_run_logger().info("decision %s stored; tables rebuilt as of %s", ", ".join(taken.decision_ids), taken.as_of)
    return taken
