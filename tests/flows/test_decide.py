"""`shuno decide` on the committed sample: each kind takes effect at once, revoking undoes it, refusals store nothing, re-runs keep decisions.

The decisions are taken after the sample's three nights (the session's sample_nights), on payments and
candidates found by their state, not by hard-coded keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.decide import take_decisions
from flows.operation import OperationRefused
from flows.lock import acquire_run_lock
from flows.refusals import logged_refusals
from flows.settlement import run_settlement_date
from schemas.codes import CandidateStatus, DecisionKind, MatchedBy, OffsetStatus, PaymentStatus
from schemas.decisions import Decision
from schemas.tables import derived_tables
from tests.databases import read_only_database

TODAY = date(2026, 5, 13)
STATE_TABLES = [table.name for table in derived_tables()] + ["decision_entries"]


def _query(database: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    with read_only_database(database) as connection:
        return connection.sql(sql, params=params or []).pl()


def _state(database: Path) -> dict[str, pl.DataFrame]:
    """Every derived table and the decisions entered, sorted, without the moment they were entered."""
    with read_only_database(database) as connection:
        tables = {name: connection.sql(f'SELECT * FROM "{name}"').pl() for name in STATE_TABLES}
    tables["decision_entries"] = tables["decision_entries"].drop("entered_at")
    return {name: frame.sort(pl.all()) for name, frame in tables.items()}


def _decision(kind: DecisionKind, **fields) -> Decision:
    return Decision.model_validate({"kind": kind, "decided_on": TODAY, "reason_code": "TEST"} | fields)


def _decide(database: Path, kind: DecisionKind, **fields) -> str:
    return take_decisions([_decision(kind, **fields)], database, today=TODAY).decision_ids[0]


@dataclass(frozen=True)
class Targets:
    """What the sample offers each kind of decision: found by state in the database after the last night."""

    pending: str  # pending payment whose amount is the outstanding 本税 of a receivable due a 督促状 (no 延滞金 if any)
    receivable: str
    returned: str  # another pending payment
    held: str
    held_sighting: tuple[str, int]
    refundable: str  # open candidate without proposed 充当
    offsettable: str  # open candidate with proposed 充当
    exempted: str  # receivable in arrears with 延滞金


@pytest.fixture(scope="module")
def targets(sample_nights) -> Targets:
    database = sample_nights.database_after()
    pending = _query(
        database,
        """SELECT p.payment_key, a.receivable_id FROM payments p JOIN arrears a ON a.principal_outstanding = p.paid_total
           WHERE p.status = 'pending' AND p.error_class IN ('10', '20', '30') AND a.dunning_due ORDER BY a.late_fee, 1, 2 LIMIT 1""",
    ).row(0)
    others = _query(database, "SELECT payment_key FROM payments WHERE status = 'pending' AND payment_key <> ? ORDER BY 1", [pending[0]])
    held = _query(database, "SELECT payment_key, common_tax_id FROM payments WHERE status = 'held' ORDER BY 1").row(0)
    sighting = _query(database, "SELECT file_name, record_number FROM payment_records WHERE common_tax_id = ? ORDER BY file_date DESC", [held[1]]).row(0)
    candidates = _query(
        database,
        """SELECT c.candidate_id, count(o.candidate_id) AS offsets FROM refund_candidates c LEFT JOIN offsets o USING (candidate_id)
           WHERE c.status = 'open' AND c.taxpayer_id IS NOT NULL GROUP BY 1 ORDER BY 1""",
    )
    exempted = _query(database, "SELECT receivable_id FROM arrears WHERE late_fee > 0 ORDER BY late_fee DESC, 1 LIMIT 1").item()
    return Targets(
        pending=pending[0],
        receivable=pending[1],
        returned=others["payment_key"][0],
        held=held[0],
        held_sighting=sighting,
        refundable=candidates.filter(pl.col("offsets") == 0)["candidate_id"][0],
        offsettable=candidates.filter(pl.col("offsets") > 0)["candidate_id"][0],
        exempted=exempted,
    )


@dataclass(frozen=True)
class Decided:
    """The sample after its nights and a decision of every kind (the first match revoked): the database and the ids."""

    database: Path
    before: dict[str, pl.DataFrame]
    after_match: dict[str, pl.DataFrame]
    after_revoke: dict[str, pl.DataFrame]
    ids: dict[str, str]


@pytest.fixture(scope="module")
def decided(sample_nights, targets, tmp_path_factory) -> Decided:
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path_factory.mktemp("decided") / "shuno.duckdb")
    before = _state(database)
    ids = {"match": _decide(database, DecisionKind.MATCH, payment_key=targets.pending, receivable_id=targets.receivable)}
    after_match = _state(database)
    ids["revoke"] = _decide(database, DecisionKind.REVOKE, decision_id=ids["match"])
    after_revoke = _state(database)
    # The other kinds in one batch, as `shuno decide --file` takes them: one transaction, one rebuild.
    file_name, record_number = targets.held_sighting
    batch = {
        "match again": _decision(DecisionKind.MATCH, payment_key=targets.pending, receivable_id=targets.receivable),
        "return": _decision(DecisionKind.RETURN, payment_key=targets.returned),
        "resolve": _decision(DecisionKind.RESOLVE, payment_key=targets.held, file_name=file_name, record_number=record_number),
        "refunded": _decision(DecisionKind.REFUNDED, candidate_id=targets.refundable),
        "offset": _decision(DecisionKind.OFFSET, candidate_id=targets.offsettable),
        "exempt": _decision(DecisionKind.EXEMPT, receivable_id=targets.exempted, exemption_kind="suspension", start_on=date(2025, 1, 1)),
    }
    taken = take_decisions(list(batch.values()), database, today=TODAY, rows_named=True)
    ids |= dict(zip(batch, taken.decision_ids))
    return Decided(database, before, after_match, after_revoke, ids)


def _row(tables: dict[str, pl.DataFrame], table: str, key: str, value: str) -> dict | None:
    rows = tables[table].filter(pl.col(key) == value).to_dicts()
    return rows[0] if rows else None


def test_a_pending_payment_matched_by_decision_leaves_arrears_and_revoking_it_puts_it_back(decided, targets):
    assert _row(decided.before, "arrears", "receivable_id", targets.receivable)["dunning_due"]
    matched = _row(decided.after_match, "payments", "payment_key", targets.pending)
    assert (matched["status"], matched["matched_by"], matched["receivable_id"]) == (PaymentStatus.APPLIED, MatchedBy.DECISION, targets.receivable)
    assert _row(decided.after_match, "arrears", "receivable_id", targets.receivable) is None
    for table in ("payments", "arrears", "applications", "refund_candidates", "offsets"):
        assert decided.after_revoke[table].equals(decided.before[table]), table
    assert _row(decided.after_revoke, "decisions", "decision_id", decided.ids["match"])["revoked_by"] == decided.ids["revoke"]


def test_every_kind_took_effect_and_says_what_it_moved(decided, targets):
    state = _state(decided.database)
    by_id = {row["decision_id"]: row for row in state["decisions"].to_dicts()}
    assert not by_id[decided.ids["match"]]["in_effect"]
    assert all(by_id[decided.ids[kind]]["in_effect"] for kind in ("revoke", "match again", "return", "resolve", "refunded", "offset", "exempt"))
    assert _row(state, "payments", "payment_key", targets.returned)["status"] == PaymentStatus.RETURNED
    returned = _row(state, "refund_candidates", "payment_key", targets.returned)
    assert returned["receivable_id"] is None and returned["taxpayer_id"] is None
    assert returned["overpaid_amount"] == _row(state, "payments", "payment_key", targets.returned)["paid_total"]
    assert _row(state, "payments", "payment_key", targets.held)["status"] != PaymentStatus.HELD
    refunded = _row(state, "refund_candidates", "candidate_id", targets.refundable)
    assert (refunded["status"], refunded["refunded_on"]) == (CandidateStatus.REFUNDED, TODAY)
    offsets = state["offsets"].filter(pl.col("candidate_id") == targets.offsettable)
    assert offsets["status"].to_list() == [OffsetStatus.EXECUTED] * offsets.height
    exempted = _row(state, "arrears", "receivable_id", targets.exempted)
    before = _row(decided.before, "arrears", "receivable_id", targets.exempted)
    assert exempted is None or exempted["late_fee"] < before["late_fee"]
    assert by_id[decided.ids["exempt"]]["moved_yen"] == (before["late_fee"] if exempted is None else exempted["late_fee_exempted"])


def test_every_decision_is_in_the_audit_log_without_its_note(decided):
    entries = _query(decided.database, "SELECT parameters FROM audit_log WHERE command = 'shuno decide' AND outcome = 'completed'")
    logged = [decision for text in entries["parameters"] for decision in json.loads(text)["decisions"]]
    assert len(logged) == len(decided.ids) and all("note" not in decision for decision in logged)


def test_reruns_of_any_date_in_any_order_keep_every_decision_in_force(decided, sample_nights, tmp_path):
    expected = _state(decided.database)
    database = tmp_path / "shuno.duckdb"
    database.write_bytes(decided.database.read_bytes())
    first, second, last = sample_nights.dates
    for night in (second, last, first, last):
        run_settlement_date(night, sample_nights.inbox, database)
    found = _state(database)
    for table in STATE_TABLES:
        assert found[table].equals(expected[table]), table


def test_a_refused_decision_stores_nothing_and_is_logged(decided, targets, tmp_path):
    database = tmp_path / "shuno.duckdb"
    database.write_bytes(decided.database.read_bytes())
    before = _state(database)
    with pytest.raises(OperationRefused, match=rf"payment {targets.returned} already has decision D\d+ \(return\) in force"):
        _decide(database, DecisionKind.MATCH, payment_key=targets.returned, receivable_id=targets.receivable)
    after = _state(database)
    assert all(after[name].equals(before[name]) for name in STATE_TABLES)
    refused = _query(database, "SELECT reason FROM audit_log WHERE outcome = 'refused'")["reason"].to_list()
    assert any(targets.returned in reason for reason in refused)


def test_a_refund_amount_other_than_the_refund_as_of_that_day_is_refused_with_both_numbers(sample_nights, targets, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    refund = _query(database, "SELECT refund_amount FROM refund_candidates WHERE candidate_id = ?", [targets.refundable]).item()
    with pytest.raises(OperationRefused, match=f"amount {refund + 1} yen differs from the refund as of {TODAY}, {refund} yen"):
        _decide(database, DecisionKind.REFUNDED, candidate_id=targets.refundable, amount=refund + 1)
    assert _query(database, "SELECT count(*) FROM decision_entries").item() == 0


def test_a_file_of_decisions_is_all_or_none_and_a_refusal_names_the_row(sample_nights, targets, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    header = "kind,payment_key,receivable_id,candidate_id,file_name,record_number,exemption_kind,start_on,end_on,fraction,amount,decided_on,reason_code,note,decision_id"
    rows = [
        f"match,{targets.pending},{targets.receivable},,,,,,,,,{TODAY},MANUAL,called the taxpayer,",
        f"return,{targets.pending},,,,,,,,,,{TODAY},WRONG_CITY,,",
    ]
    decisions_file = tmp_path / "decisions.csv"
    decisions_file.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["decide", "--file", str(decisions_file), "--db", str(database)])
    assert result.exit_code == 1
    assert f"row 2: payment {targets.pending} already has decision D000001 (match) in force" in result.stderr
    assert _query(database, "SELECT count(*) FROM decision_entries").item() == 0
    decisions_file.write_text("\n".join([header, rows[0]]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["decide", "--file", str(decisions_file), "--db", str(database)])
    assert (result.exit_code, result.stdout.strip()) == (0, "D000001")
    assert "called the taxpayer" not in result.output


def test_the_command_exits_2_on_bad_usage_and_1_when_refused(sample_nights, targets, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    runner = CliRunner()
    bad_date = runner.invoke(app, ["decide", "match", "--payment", targets.pending, "--receivable", targets.receivable, "--on", "2026-13-01", "--reason", "X", "--db", str(database)])
    assert bad_date.exit_code == 2 and "decided_on" in bad_date.stderr
    unknown = runner.invoke(app, ["decide", "offset", "--candidate", "nope", "--on", "2026-05-13", "--reason", "X", "--db", str(database)])
    assert unknown.exit_code == 1 and "refund candidate nope is not stored" in unknown.stderr
    missing = runner.invoke(app, ["decide", "revoke", "--decision", "D000001", "--on", "2026-05-13", "--reason", "X", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and not (tmp_path / "none.duckdb").exists()


def test_a_decision_while_a_run_holds_the_database_is_refused_at_once_and_logged(sample_nights, targets, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    with acquire_run_lock(database):
        with pytest.raises(OperationRefused, match="another shuno run holds"):
            _decide(database, DecisionKind.RETURN, payment_key=targets.returned)
    logged, _ = logged_refusals(database)
    assert [entry.command for entry in logged] == ["shuno decide"] and logged[0].outcome == "refused"
    assert _query(database, "SELECT count(*) FROM decision_entries").item() == 0
