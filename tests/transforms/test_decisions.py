"""The office's decisions in the rebuild (SPEC §6), with numbers checked by hand.

Unless said otherwise: 本税 365,000 due Thursday 2026-04-30, as of 2026-06-30; a day of 延滞金 is
28 yen at 2.8% (5/1..5/31) and 91 yen at 9.1% (from 6/1); 還付加算金 is 1.3% in 2026.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from schemas.codes import CandidateStatus, DecisionKind, OffsetStatus, PaymentStatus, RefundKind
from schemas.exemptions import load_exemption_kinds
from schemas.settings import Settings
from tests.transforms.test_application import AS_OF, RATES, SNAPSHOT_DAY, one_receivable, payment, payments_frame, receivable, snapshot
from tests.transforms.test_offsets import double_payment, erroneous_id
from transforms.decisions import decision_effects, decisions_in_force, no_entries
from transforms.receivables import current_receivables, principal_history, receivable_versions
from transforms.rebuild import settlement


def entries(*rows: dict) -> pl.DataFrame:
    """decision_entries rows, numbered D000001, D000002, … in the order given."""
    base = {"decided_on": AS_OF, "reason_code": "TEST", "entered_by": "tester", "entered_at": datetime(2026, 7, 1, 9, 0)}
    numbered = [base | {"decision_id": f"D{number:06d}"} | row for number, row in enumerate(rows, start=1)]
    return pl.concat([no_entries(), pl.DataFrame(numbered)], how="diagonal_relaxed")


def settle_with(snapshots: list[pl.DataFrame], payments: pl.DataFrame, decided: pl.DataFrame, as_of: date = AS_OF):
    stored = pl.concat(snapshots)
    versions = receivable_versions(stored)
    effects = decision_effects(decided, load_exemption_kinds())
    return settlement(
        payments, versions, principal_history(stored, versions), current_receivables(stored), as_of, RATES, Settings(), decisions=effects
    )


def late_fee_of(result) -> tuple[int, int]:
    row = result.arrears.select("late_fee", "late_fee_exempted").row(0)
    return row


def test_without_an_exemption_the_late_fee_is_charged_whole():
    # 31 × 28 + 30 × 91 = 868 + 2,730 = 3,598 → 3,500 yen, nothing exempted.
    assert late_fee_of(settle_with(one_receivable(), payments_frame(), entries())) == (3_500, 0)


def test_a_suspension_from_june_exempts_every_day_after_it():
    # 5/1..5/31 868 yen only: under 1,000, so none; all 3,500 yen exempted.
    exempt = {"kind": DecisionKind.EXEMPT, "receivable_id": "R1", "exemption_kind": "suspension", "start_on": date(2026, 6, 1)}
    assert late_fee_of(settle_with(one_receivable(), payments_frame(), entries(exempt))) == (0, 3_500)


def test_a_half_exemption_for_june_halves_the_june_piece():
    # 868 + 2,730 / 2 = 868 + 1,365 = 2,233 → 2,200 yen; 3,500 − 2,200 = 1,300 exempted.
    exempt = {
        "kind": DecisionKind.EXEMPT,
        "receivable_id": "R1",
        "exemption_kind": "deferral",
        "start_on": date(2026, 6, 1),
        "end_on": date(2026, 6, 30),
    }
    assert late_fee_of(settle_with(one_receivable(), payments_frame(), entries(exempt))) == (2_200, 1_300)


def test_a_revoked_exemption_is_as_if_it_had_never_been_taken():
    exempt = {"kind": DecisionKind.EXEMPT, "receivable_id": "R1", "exemption_kind": "suspension", "start_on": date(2026, 6, 1)}
    revoke = {"kind": DecisionKind.REVOKE, "revokes": "D000001"}
    decided = entries(exempt, revoke)
    assert decisions_in_force(decided).is_empty()
    assert late_fee_of(settle_with(one_receivable(), payments_frame(), decided)) == (3_500, 0)


def test_a_refund_paid_fixes_its_interest_on_the_day_it_was_decided():
    # 誤納 of 4/30: 還付加算金 from 6/1 (the day after the one-month day). To 9/30, 122 days:
    # 365,000 × 1.3% × 122 / 365 = 1,586 → 1,500. Refunded on 8/31, 92 days: 1,196 → 1,100, and
    # it stays 1,100 however late the run.
    refunded = {"kind": DecisionKind.REFUNDED, "candidate_id": erroneous_id(), "decided_on": date(2026, 8, 31)}
    open_result = settle_with(one_receivable(), double_payment(), entries(), as_of=date(2026, 9, 30))
    paid_result = settle_with(one_receivable(), double_payment(), entries(refunded), as_of=date(2026, 9, 30))
    later_result = settle_with(one_receivable(), double_payment(), entries(refunded), as_of=date(2026, 12, 30))
    columns = ("status", "refund_amount", "refund_interest", "refunded_on")
    assert open_result.refund_candidates.select(columns).row(0) == (CandidateStatus.OPEN, 365_000, 1_500, None)
    assert paid_result.refund_candidates.select(columns).row(0) == (CandidateStatus.REFUNDED, 365_000, 1_100, date(2026, 8, 31))
    assert later_result.refund_candidates.select(columns).row(0) == paid_result.refund_candidates.select(columns).row(0)


def offset_case() -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """R1 paid twice on 4/30 (365,000 誤納 of CT01-000002); R0 of the same taxpayer, 500,000 due 1/30, unpaid."""
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R1"), receivable("R0", principal=500_000, due_date=date(2026, 1, 30)))]
    return snapshots, double_payment()


def test_proposed_offsets_show_as_pending_in_arrears_until_an_offset_decision_executes_them():
    # The 誤納 is offset to R0 on 4/30 (充当適状日: the later of R0's 納期限 and the day it arose):
    # 365,000 of R0's 本税. R0 stays in arrears for the other 135,000.
    snapshots, payments = offset_case()
    proposed = settle_with(snapshots, payments, entries())
    assert proposed.offsets.select("receivable_id", "principal_offset", "status").rows() == [("R0", 365_000, OffsetStatus.PROPOSED)]
    r0 = pl.col("receivable_id") == "R0"
    assert proposed.arrears.filter(r0).select("principal_outstanding", "offset_pending").row(0) == (135_000, 365_000)
    executed = settle_with(snapshots, payments, entries({"kind": DecisionKind.OFFSET, "candidate_id": erroneous_id()}))
    assert executed.offsets["status"].to_list() == [OffsetStatus.EXECUTED]
    assert executed.arrears.filter(r0).select("principal_outstanding", "offset_pending").row(0) == (135_000, 0)
    assert executed.refund_candidates.select("status", "refund_amount").row(0) == (CandidateStatus.OFFSET, 0)


def test_a_candidate_refunded_before_a_target_fell_due_is_not_offset_to_it():
    # R0 falls due 6/1 (Monday), after the refund of 5/20: the whole 365,000 was paid out.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R1"), receivable("R0", due_date=date(2026, 6, 1)))]
    refunded = {"kind": DecisionKind.REFUNDED, "candidate_id": erroneous_id(), "decided_on": date(2026, 5, 20)}
    assert not settle_with(snapshots, double_payment(), entries()).offsets.is_empty()
    result = settle_with(snapshots, double_payment(), entries(refunded))
    assert result.offsets.is_empty()
    assert result.refund_candidates.select("status", "refund_amount").row(0) == (CandidateStatus.REFUNDED, 365_000)


def test_a_returned_payment_is_a_whole_erroneous_candidate_with_no_receivable_and_no_offset():
    # A returned payment of 40,000 paid 5/8 beside R0 past due and unpaid: nothing is offset to it.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R0", due_date=date(2026, 1, 30)))]
    returned = payment(7, date(2026, 5, 8), 40_000, None, status=PaymentStatus.RETURNED)
    result = settle_with(snapshots, payments_frame(returned), entries())
    candidate = result.refund_candidates.select("kind", "taxpayer_id", "receivable_id", "overpaid_amount", "refund_amount", "arose_on").row(0)
    assert candidate == (RefundKind.ERRONEOUS, None, None, 40_000, 40_000, date(2026, 5, 8))
    assert result.offsets.is_empty()
    assert result.applications.is_empty()
