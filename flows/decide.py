"""The office's decisions stored, and every derived table rebuilt with them, in one transaction (SPEC §6).

`shuno decide` and the Prefect deployment `decide` both call `take_decisions`, an operation of
flows/operation.py: under the run lock (a decision while a run holds the database is refused at
once and logged in the refusal log) it checks every decision against what is stored
(transforms/decision_rules.py), stores them, rebuilds the derived tables as of the latest
settlement date run (the inbox is not read), checks that each decision took effect as asked, and
commits; anything refused or failed leaves the database as it was. Every outcome is in audit_log,
without the decisions' notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from flows.audit import os_user
from flows.database import insert_frame, latest_completed_date, query_frame
from flows.operation import OperationFailed, OperationRefused, locked_operation
from flows.settlement import LawTables, failure_reason, load_law_tables, rebuild_derived
from schemas.codes import DecisionKind, FileStatus, OffsetStatus
from schemas.decisions import Decision
from schemas.settings import CITY_TIME_ZONE, Settings
from schemas.tables import decision_entries_table
from transforms.decision_rules import CandidateFacts, EntryFacts, StoredFacts, refusals
from transforms.payments import SEQUENCE_KEY_PREFIX, sighting_places
from transforms.rebuild import DerivedTables

DECISION_ID_DIGITS = 6


@dataclass(frozen=True)
class TakenDecisions:
    """Decisions stored: their ids, the date the tables are as of, and where the analyst copy went."""

    decision_ids: list[str]
    as_of: date
    analyst_copy: str


def take_decisions(
    decisions: Sequence[Decision],
    database: Path,
    settings: Settings | None = None,
    command: str = "shuno decide",
    rows_named: bool = False,
    today: date | None = None,
) -> TakenDecisions:
    """Stores decisions, all or none, and rebuilds the derived tables with them in the same transaction.

    rows_named: the decisions are the rows of a file, and a refusal names the row. today: the
    city's date (Asia/Tokyo) unless given; no decision takes effect after it. Raises
    OperationRefused (nothing stored) or OperationFailed.
    """
    settings = settings or Settings()
    today = today or datetime.now(CITY_TIME_ZONE).date()
    try:
        law = load_law_tables(settings)
    except Exception as error:
        raise OperationFailed(f"decisions not stored: {failure_reason(error)}") from error

    def store(connection: duckdb.DuckDBPyConnection) -> tuple[tuple[list[str], date], dict]:
        ids, as_of = _stored_and_rebuilt(connection, decisions, law, settings, today, rows_named)
        return (ids, as_of), {"decision_ids": ids}

    done = locked_operation(database, command, _audit_parameters(decisions, database), store, "decisions")
    ids, as_of = done.result
    return TakenDecisions(ids, as_of, done.analyst_copy)


def _stored_and_rebuilt(
    connection: duckdb.DuckDBPyConnection,
    decisions: Sequence[Decision],
    law: LawTables,
    settings: Settings,
    today: date,
    rows_named: bool,
) -> tuple[list[str], date]:
    """The decisions checked and stored, the tables rebuilt and their effect checked (in the caller's transaction)."""
    as_of = latest_completed_date(connection)
    if as_of is None:
        raise OperationRefused("no settlement date has been run yet: decisions act on what a run stored")
    ids = _next_decision_ids(connection, len(decisions))
    reasons = refusals(decisions, stored_facts(connection, decisions, today, law), ids)
    _refuse_first(reasons, rows_named)
    insert_frame(connection, decision_entries_table(), entry_rows(decisions, ids))
    derived = rebuild_derived(connection, as_of, law, settings)
    _refuse_first(effect_refusals(decisions, ids, derived), rows_named)
    return ids, as_of


def _refuse_first(reasons: Sequence[str | None], rows_named: bool) -> None:
    """Raises OperationRefused with the first reason found, naming its row when the decisions are a file's rows."""
    for row_number, reason in enumerate(reasons, start=1):
        if reason is not None:
            raise OperationRefused(f"row {row_number}: {reason}" if rows_named else reason)


def effect_refusals(decisions: Sequence[Decision], ids: Sequence[str], derived: DerivedTables) -> list[str | None]:
    """Per decision, why the rebuilt tables show it did not do what it asked (None when it did)."""
    table = derived.decisions.select("decision_id", "in_effect")
    in_effect = dict(table.iter_rows())
    refunds = dict(derived.refund_candidates.select("candidate_id", "refund_amount").iter_rows())
    found = []
    for decision, decision_id in zip(decisions, ids):
        reason = None
        if not in_effect.get(decision_id, False):
            reason = f"{decision.kind} on {_target(decision)} would change nothing in the rebuilt tables (see `shuno explain`)"
        elif decision.kind == DecisionKind.REFUNDED and decision.amount is not None:
            refund = refunds[decision.candidate_id]
            if refund != decision.amount:
                reason = (
                    f"refund candidate {decision.candidate_id}: amount {decision.amount} yen differs from the refund "
                    f"as of {decision.decided_on}, {refund} yen"
                )
        found.append(reason)
    return found


def _target(decision: Decision) -> str:
    if decision.payment_key:
        return f"payment {decision.payment_key}"
    if decision.candidate_id:
        return f"refund candidate {decision.candidate_id}"
    if decision.receivable_id:
        return f"receivable {decision.receivable_id}"
    return f"decision {decision.decision_id}"


def entry_rows(decisions: Sequence[Decision], ids: Sequence[str]) -> pl.DataFrame:
    """The decision_entries rows of decisions: their fields, who entered them and when."""
    entered_by, entered_at = os_user(), datetime.now()
    rows = [
        decision.model_dump(exclude={"decision_id"})
        | {"decision_id": decision_id, "revokes": decision.decision_id, "entered_by": entered_by, "entered_at": entered_at}
        for decision, decision_id in zip(decisions, ids)
    ]
    frame = pl.DataFrame(rows, schema_overrides={"kind": pl.String})
    return frame.select(pl.col(name).cast(dtype) for name, dtype in decision_entries_table().polars_schema.items())


def _next_decision_ids(connection: duckdb.DuckDBPyConnection, count: int) -> list[str]:
    """count new decision ids after the highest stored: D000001, D000002, …"""
    highest = connection.execute("SELECT max(decision_id) FROM decision_entries").fetchall()[0][0]
    start = int(highest[1:]) + 1 if highest else 1
    return [f"D{number:0{DECISION_ID_DIGITS}d}" for number in range(start, start + count)]


def stored_facts(connection: duckdb.DuckDBPyConnection, decisions: Sequence[Decision], today: date, law: LawTables) -> StoredFacts:
    """What is stored about the payments, receivables, candidates and decisions the decisions name."""
    payment_keys = sorted({decision.payment_key for decision in decisions if decision.payment_key})
    receivable_ids = sorted({decision.receivable_id for decision in decisions if decision.receivable_id})
    candidate_ids = sorted({decision.candidate_id for decision in decisions if decision.candidate_id})
    payments = query_frame(connection, "SELECT payment_key, status, error_class FROM payments WHERE list_contains(?, payment_key)", [payment_keys])
    delivered = query_frame(connection, "SELECT DISTINCT receivable_id FROM receivable_snapshots WHERE list_contains(?, receivable_id)", [receivable_ids])
    current = query_frame(connection, "SELECT receivable_id FROM receivables WHERE list_contains(?, receivable_id)", [receivable_ids])
    candidates = query_frame(connection, CANDIDATE_FACTS, [OffsetStatus.PROPOSED, candidate_ids])
    entries = query_frame(connection, "SELECT decision_id, kind, payment_key, candidate_id, revokes, file_name FROM decision_entries ORDER BY decision_id")
    held = query_frame(connection, "SELECT file_name FROM ingested_files WHERE status = ?", [FileStatus.HELD])
    return StoredFacts(
        today=today,
        exemption_kinds=law.exemption_kinds,
        payments={key: (status, error_class) for key, status, error_class in payments.iter_rows()},
        sightings=_sightings(connection, [decision.payment_key for decision in decisions if decision.kind == DecisionKind.RESOLVE]),
        receivables_delivered=set(delivered["receivable_id"]),
        receivables_current=set(current["receivable_id"]),
        candidates={row[0]: CandidateFacts(*row[1:]) for row in candidates.iter_rows()},
        entries=[EntryFacts(*row) for row in entries.iter_rows()],
        held_snapshots=set(held["file_name"]),
    )


CANDIDATE_FACTS = """
SELECT c.candidate_id, c.status, c.arose_on, count(o.candidate_id) FILTER (WHERE o.status = ?) AS proposed_offsets
FROM refund_candidates c LEFT JOIN offsets o USING (candidate_id)
WHERE list_contains(?, c.candidate_id)
GROUP BY ALL
"""


def _sightings(connection: duckdb.DuckDBPyConnection, payment_keys: list[str]) -> dict[str, set[tuple[str, int]]]:
    """payment_key → (file_name, record_number) of every stored record of these payments."""
    if not payment_keys:
        return {}
    # Records are looked up by the fields their key is made of, then keyed as the rebuild keys them.
    sequences = [int(key.removeprefix(SEQUENCE_KEY_PREFIX)) for key in payment_keys if key.startswith(SEQUENCE_KEY_PREFIX)]
    case_ids = [key.rsplit("-", 1)[0] for key in payment_keys if not key.startswith(SEQUENCE_KEY_PREFIX)]
    columns = "file_name, record_number, common_tax_id, sequence_number"
    payment_records = query_frame(connection, f"SELECT {columns} FROM payment_records WHERE list_contains(?, common_tax_id)", [case_ids])
    provisional_records = query_frame(
        connection,
        f"SELECT {columns}, payment_info_sequence FROM provisional_records "
        "WHERE list_contains(?, common_tax_id) OR list_contains(?, payment_info_sequence)",
        [case_ids, sequences],
    )
    places = sighting_places(payment_records, provisional_records).filter(pl.col("payment_key").is_in(payment_keys))
    found: dict[str, set[tuple[str, int]]] = {}
    for key, file_name, record_number in places.iter_rows():
        found.setdefault(key, set()).add((file_name, record_number))
    return found


def _audit_parameters(decisions: Sequence[Decision], database: Path) -> dict:
    """What the audit log keeps of the decisions: everything but the notes (free text may name a person)."""
    kept = [decision.model_dump(mode="json", exclude={"note"}, exclude_none=True) for decision in decisions]
    return {"database": str(database), "decisions": kept}
