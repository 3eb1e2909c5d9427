"""The story of one receivable, payment or candidate (SPEC §6.2), from hand-built frames, 延滞金 pieces checked by hand.

本税 365,000 due Thursday 2026-04-30, 165,000 paid 2026-05-10, as of 2026-06-30 (the case of
tests/transforms/test_arrears.py): 2.8% to the one-month day 5/31, 9.1% after it.
"""

from datetime import date
from fractions import Fraction

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.exemptions import load_exemption_kinds
from schemas.privacy import PERSONAL_FIELDS, SECRET_FIELDS
from schemas.rates import load_rates
from schemas.tables import all_tables
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
    candidate_story,
    exemption_periods,
    payment_story,
    receivable_story,
    snapshot_versions,
    version_changes,
)
from transforms.late_fee import ExemptionPeriod

DUE, PAID, AS_OF = date(2026, 4, 30), date(2026, 5, 10), date(2026, 6, 30)
SCHEMAS = {table.name: table.polars_schema for table in all_tables()}
SCHEMAS["applications joined with payments"] = {**SCHEMAS["payments"], **SCHEMAS["applications"]}
LAW = LateFeeLaw(load_rates(), load_exemption_kinds(), {})
PIECE_COLUMNS = ["start", "end", "days", "base", "rate_percent", "exempted_fraction", "yen"]


def frame(table: str, columns: tuple[str, ...], rows: list[dict]) -> pl.DataFrame:
    """A frame of `columns` of `table`, in the database's types; columns a row leaves out are null."""
    schema = {name: SCHEMAS[table][name] for name in columns}
    return pl.DataFrame([{name: row.get(name) for name in columns} for row in rows], schema=schema)


def snapshot(day: date, principal: int = 365_000, **changes) -> dict:
    return {
        "snapshot_date": day, "delivery_number": 1, "tax_code": "010", "fiscal_year": 2026, "tax_year": 2026,
        "installment": "01", "due_date": DUE, "principal": principal, "dunning_fee": 0, "dunning_sent_on": None, "changed_on": None, **changes,
    }


def applied(key: str, paid_on: date, principal: int, late_fee: int = 0) -> dict:
    return {
        "payment_key": key, "paid_on": paid_on, "matched_by": "route1", "status": "applied",
        "paid_total": principal + late_fee, "principal_applied": principal, "dunning_fee_applied": 0, "late_fee_applied": late_fee,
    }


def exempt(decision_id: str, start: date, end: date | None, kind: str = "suspension", revoked_by: str | None = None) -> dict:
    return {
        "decision_id": decision_id, "kind": "exempt", "receivable_id": "R1", "exemption_kind": kind, "start_on": start,
        "end_on": end, "decided_on": start, "reason_code": "R01", "revoked_by": revoked_by, "in_effect": revoked_by is None, "moved_yen": 0,
    }


def records(applications=(), arrears=(), offsets=(), decisions=(), snapshots=None, current=True) -> ReceivableRecords:
    snapshots = snapshots or [snapshot(date(2026, 4, 1))]
    return ReceivableRecords(
        receivable_id="R1",
        snapshots=frame("receivable_snapshots", SNAPSHOT_COLUMNS, snapshots),
        current=frame("receivables", ("principal", "tax_code", "effective_due_date"), [
            {"principal": snapshots[-1]["principal"], "tax_code": "010", "effective_due_date": DUE}
        ] if current else []),
        applications=frame("applications joined with payments", APPLIED_PAYMENT_COLUMNS, list(applications)),
        arrears=frame("arrears", ARREARS_COLUMNS, list(arrears)),
        offsets=frame("offsets", OFFSET_COLUMNS_SHOWN, list(offsets)),
        refund_candidates=frame("refund_candidates", CANDIDATE_COLUMNS, []),
        decisions=frame("decisions", DECISION_COLUMNS_SHOWN, list(decisions)),
        latest_run_on=AS_OF,
    )


def in_arrears(late_fee: int, exempted: int = 0) -> dict:
    return {
        "principal_outstanding": 200_000, "dunning_fee_outstanding": 0, "late_fee": late_fee, "late_fee_status": "見込",
        "late_fee_exempted": exempted, "offset_pending": 0, "days_overdue": 61, "dunning_due": True,
        "dunning_deadline": date(2026, 5, 20), "as_of": AS_OF,
    }


def pieces(story) -> pl.DataFrame:
    [section] = [section for section in story.sections if section.key == "late_fee_pieces"]
    return section.rows


def expected_pieces(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(zip(PIECE_COLUMNS, [pl.Date, pl.Date, pl.Int64, pl.Int64, pl.String, pl.String, pl.Int64])), orient="row")


def test_a_partial_payment_cuts_the_pieces_and_the_estimate_runs_to_the_run_date():
    story = receivable_story(records([applied("K1", PAID, 165_000)], [in_arrears(2_000)]), LAW)
    # 5/1..5/10 on 365,000: 365,000 × 2.8% × 10 / 365 = 280; 5/11..5/31 on 200,000: 200,000 × 2.8% × 21 / 365
    # = 322.2 → 322; 6/1..6/30 on 200,000: 200,000 × 9.1% × 30 / 365 = 1,495.9 → 1,495; 2,097 → 2,000 見込.
    assert_frame_equal(pieces(story), expected_pieces(
        (date(2026, 5, 1), date(2026, 5, 10), 10, 365_000, "2.8", "0", 280),
        (date(2026, 5, 11), date(2026, 5, 31), 21, 200_000, "2.8", "0", 322),
        (date(2026, 6, 1), date(2026, 6, 30), 30, 200_000, "9.1", "0", 1_495),
    ))
    facts = story.facts
    assert (facts["late_fee_status"], facts["late_fee_until"], facts["late_fee_total"]) == ("見込", AS_OF, 2_000)
    assert facts["late_fee_total"] == facts["late_fee_outstanding"] + facts["late_fee_paid"]
    assert (facts["principal"], facts["principal_paid"], facts["state"]) == (365_000, 165_000, "滞納")


def test_a_full_payment_fixes_the_late_fee_at_its_payment_day_and_counts_what_was_paid_of_it():
    # To 6/9: 31 × 28 (= 365,000 × 2.8% / 365 a day) + 9 × 91 = 868 + 819 = 1,687 → 1,600 確定; 1,000 of it paid.
    story = receivable_story(records([applied("K1", date(2026, 6, 9), 365_000, late_fee=1_000)], [in_arrears(600)]), LAW)
    assert pieces(story)["yen"].to_list() == [868, 819]
    assert (story.facts["late_fee_status"], story.facts["late_fee_until"]) == ("確定", date(2026, 6, 9))
    assert (story.facts["late_fee_total"], story.facts["late_fee_paid"], story.facts["late_fee_outstanding"]) == (1_600, 1_000, 600)


def test_an_offset_pays_principal_on_its_offset_day_and_an_offset_from_its_overpayment_does_not():
    offsets = [
        {"candidate_id": "C1", "receivable_id": "R1", "principal_offset": 365_000, "dunning_fee_offset": 0,
         "late_fee_offset": 1_600, "offset_on": date(2026, 6, 9), "status": "proposed"},
        {"candidate_id": "C2", "receivable_id": "R9", "principal_offset": 5_000, "dunning_fee_offset": 0,
         "late_fee_offset": 0, "offset_on": date(2026, 5, 2), "status": "executed"},
    ]
    story = receivable_story(records(offsets=offsets), LAW)
    assert (story.facts["late_fee_until"], story.facts["late_fee_total"], story.facts["late_fee_paid"]) == (date(2026, 6, 9), 1_600, 1_600)
    assert story.facts["state"] == "完納"


def test_an_exemption_period_in_force_exempts_its_days_and_a_revoked_one_does_not():
    # Suspension (all exempted) 6/1..6/10: that piece bears 0; 6/11..6/30 on 200,000: 200,000 × 9.1% × 20 / 365
    # = 997.3 → 997; 280 + 322 + 0 + 997 = 1,599 → 1,500. The revoked half exemption from 5/1 changes nothing.
    decisions = [exempt("D000001", date(2026, 6, 1), date(2026, 6, 10)), exempt("D000002", date(2026, 5, 1), None, "deferral", "D000003")]
    story = receivable_story(records([applied("K1", PAID, 165_000)], [in_arrears(1_500, exempted=500)], decisions=decisions), LAW)
    assert_frame_equal(pieces(story), expected_pieces(
        (date(2026, 5, 1), date(2026, 5, 10), 10, 365_000, "2.8", "0", 280),
        (date(2026, 5, 11), date(2026, 5, 31), 21, 200_000, "2.8", "0", 322),
        (date(2026, 6, 1), date(2026, 6, 10), 10, 200_000, "9.1", "1", 0),
        (date(2026, 6, 11), date(2026, 6, 30), 20, 200_000, "9.1", "0", 997),
    ))
    assert (story.facts["late_fee_total"], story.facts["late_fee_exempted"]) == (1_500, 500)


def test_exemption_periods_take_the_fraction_of_their_kind_or_the_one_the_decision_gave():
    decisions = frame("decisions", DECISION_COLUMNS_SHOWN, [
        exempt("D000001", date(2026, 6, 1), None, "deferral"),
        {**exempt("D000002", date(2026, 7, 1), date(2026, 7, 5), "reduction"), "fraction": "1/2"},
        {**exempt("D000003", date(2026, 8, 1), None), "receivable_id": "R2"},
    ])
    assert exemption_periods(decisions, "R1", load_exemption_kinds()) == [
        ExemptionPeriod(date(2026, 6, 1), None, Fraction(1, 2)),
        ExemptionPeriod(date(2026, 7, 1), date(2026, 7, 5), Fraction(1, 2)),
    ]


def test_snapshot_versions_say_what_changed_from_the_version_before():
    versions = snapshot_versions(frame("receivable_snapshots", SNAPSHOT_COLUMNS, [
        snapshot(date(2026, 5, 20), 52_000, changed_on=date(2026, 5, 18), dunning_fee=100),
        snapshot(date(2026, 4, 1), 58_000),
        snapshot(date(2026, 4, 2), 58_000),
    ]))
    assert versions["changes"].to_list() == ["初回", "変更なし", "本税 58,000 → 52,000; 督促手数料 0 → 100; 更正日 なし → 2026-05-18"]
    # 2026-04-30 is a Thursday: the 納期限 stays.
    assert versions["effective_due_date"].to_list() == [DUE] * 3


def test_version_changes_name_a_moved_due_date():
    assert version_changes(snapshot(AS_OF), snapshot(AS_OF, due_date=date(2026, 5, 31))) == "納期限 2026-04-30 → 2026-05-31"


def test_a_cancelled_receivable_owes_nothing_and_says_so():
    story = receivable_story(records(current=False), LAW)
    assert (story.facts["principal"], story.facts["late_fee_total"], story.facts["state"]) == (0, 0, "取消 (最新の調定にない)")
    assert pieces(story).is_empty()


def test_a_paid_on_time_receivable_has_no_pieces():
    story = receivable_story(records([applied("K1", DUE, 365_000)]), LAW)
    assert pieces(story).is_empty() and (story.facts["state"], story.facts["late_fee_status"]) == ("完納", "確定")


def test_no_part_of_a_story_has_a_personal_column():
    personal = PERSONAL_FIELDS | SECRET_FIELDS | {"note", "entered_by", "taxpayer_id"}
    shown = [SNAPSHOT_COLUMNS, APPLIED_PAYMENT_COLUMNS, ARREARS_COLUMNS, CANDIDATE_COLUMNS, OFFSET_COLUMNS_SHOWN, DECISION_COLUMNS_SHOWN, PAYMENT_COLUMNS_SHOWN]
    assert personal.isdisjoint(name for columns in shown for name in columns)
    story = receivable_story(records([applied("K1", PAID, 165_000)], [in_arrears(2_000)]), LAW)
    assert personal.isdisjoint([*story.facts, *(name for section in story.sections for name in section.rows.columns)])


def test_a_payment_story_and_a_candidate_story_lead_with_their_own_facts():
    payment = frame("payments", PAYMENT_COLUMNS_SHOWN, [
        {"payment_key": "K9", "status": "pending", "error_class": "20", "paid_on": PAID, "paid_total": 25_000, "sighting_count": 2}
    ])
    no_rows = frame("decisions", DECISION_COLUMNS_SHOWN, [])
    story = payment_story(payment, frame("refund_candidates", CANDIDATE_COLUMNS, []), no_rows)
    assert story.heading == "納付 K9: pending (エラー区分 20), 納付日 2026-05-10, 25,000 円"
    assert (story.facts["receivable_id"], story.facts["sighting_count"]) == (None, 2)
    candidate = frame("refund_candidates", CANDIDATE_COLUMNS, [
        {"candidate_id": "C1", "receivable_id": "R1", "kind": "誤納", "overpaid_amount": 47_300, "offset_amount": 31_800,
         "refund_amount": 15_500, "status": "open"}
    ])
    story = candidate_story(candidate, frame("offsets", OFFSET_COLUMNS_SHOWN, []), no_rows)
    assert story.heading == "還付・充当候補 C1: 誤納 47,300 円 (充当 31,800 円, 還付 15,500 円), open"


def test_a_receivable_no_snapshot_delivered_has_no_story():
    never_delivered = ReceivableRecords(**{**vars(records()), "snapshots": frame("receivable_snapshots", SNAPSHOT_COLUMNS, [])})
    with pytest.raises(ValueError, match="no snapshot ever delivered receivable R1"):
        receivable_story(never_delivered, LAW)
