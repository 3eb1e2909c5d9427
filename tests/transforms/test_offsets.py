"""充当 of overpayments (SPEC §4.2; docs/reconciliation.md step 6), checked by hand.

本税 of 365,000 yen make a day of 延滞金 28 yen at the 2026 lower rate (2.8%) and 91 at the
higher (9.1%), and a day of 還付加算金 13 yen (1.3%).
"""

from datetime import date

import polars as pl

from schemas.codes import OffsetStatus
import pytest
from polars.testing import assert_frame_equal

from tests.transforms.test_application import AS_OF, DUE, SNAPSHOT_DAY, payment, payments_frame, random_case, receivable, settle, snapshot
from transforms.ledger import TABLE_SCHEMAS
from transforms.receivables import current_receivables
from transforms.overpayments import candidate_id

JANUARY_DUE = date(2026, 1, 30)  # Friday: 延滞金 from 1/31, lower rate to 2/28, higher from 3/1


def offsets_frame(*rows: tuple, status: str = OffsetStatus.PROPOSED) -> pl.DataFrame:
    """Offset rows as the table holds them, each with the status given (no decision: proposed)."""
    return pl.DataFrame([(*row, status) for row in rows], schema=TABLE_SCHEMAS["offsets"], orient="row")


def double_payment(receivable_id: str = "R1", paid_on: date = DUE, amount: int = 365_000) -> pl.DataFrame:
    """Two payments of amount to receivable_id on paid_on: the second, CT01-000002, is 誤納."""
    return payments_frame(payment(1, paid_on, amount, receivable_id), payment(2, paid_on, amount, receivable_id))


def erroneous_id(sequence: int = 2, arose_on: date = DUE) -> str:
    return candidate_id(f"CT01-{sequence:06}", "誤納", arose_on)


def refund(result, payment_key: str = "CT01-000002") -> tuple:
    """(overpaid, offset, refund, refund interest, offset interest) of the payment's candidate."""
    row = result.refund_candidates.filter(pl.col("payment_key") == payment_key)
    return row.select("overpaid_amount", "offset_amount", "refund_amount", "refund_interest", "offset_interest").row(0)


def test_offset_settles_principal_then_dunning_fee_then_late_fee_to_the_offset_day_and_the_rest_is_refunded():
    # R1: 1,095,000 due 1/30, paid 1/30, reduced to 365,000 on 6/10: 730,000 過納 arising 6/10,
    # 還付加算金 from 1/31. R0: 365,000 + 督促手数料 100 due 3/31, unpaid. 充当適状日 6/10 (the later
    # of 3/31 and 6/10): 本税 365,000, 督促手数料 100, 延滞金 4/1..4/30 30 × 28 = 840 and
    # 5/1..6/10 41 × 91 = 3,731; 4,571 → 4,500. 369,600 offset, 360,400 refunded.
    # offset_interest: 369,000 × 1.3% × 131 days (1/31..6/10) / 365 = 1,721 → 1,700.
    # refund_interest: 360,000 × 1.3% × 151 days (1/31..6/30) / 365 = 1,936 → 1,900.
    r0 = receivable("R0", due_date=date(2026, 3, 31), dunning_fee=100)
    snapshots = [
        snapshot(SNAPSHOT_DAY, r0, receivable("R1", principal=1_095_000, due_date=JANUARY_DUE)),
        snapshot(date(2026, 6, 15), r0, receivable("R1", principal=365_000, due_date=JANUARY_DUE, changed_on=date(2026, 6, 10))),
    ]
    result = settle(snapshots, payments_frame(payment(1, JANUARY_DUE, 1_095_000)))
    excess_id = candidate_id("CT01-000001", "過納", date(2026, 6, 10))
    assert_frame_equal(result.offsets, offsets_frame((excess_id, "R0", 365_000, 100, 4_500, date(2026, 6, 10))))
    assert refund(result, "CT01-000001") == (730_000, 369_600, 360_400, 1_900, 1_700)
    assert result.arrears.is_empty()


def test_offset_to_an_older_receivable_stops_its_late_fee_on_the_day_the_overpayment_arose():
    # R1 (400,000) paid twice on 4/30: 誤納 400,000 arising 4/30. R0 due 1/30 unpaid: 延滞金 to 4/30
    # 1/31..2/28 29 × 28 = 812, 3/1..4/30 61 × 91 = 5,551; 6,363 → 6,300. 371,400 offset, 28,600
    # refunded. 還付加算金 on the offset starts 6/1, after the 充当適状日: none.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R0", due_date=JANUARY_DUE, dunning_fee=100), receivable("R1", principal=400_000))]
    result = settle(snapshots, double_payment(amount=400_000))
    assert_frame_equal(result.offsets, offsets_frame((erroneous_id(), "R0", 365_000, 100, 6_300, DUE)))
    assert refund(result) == (400_000, 371_400, 28_600, 0, 0)
    assert result.arrears.is_empty()


def test_partial_offset_counts_as_a_payment_on_the_offset_day():
    # 誤納 165,000 arising 4/30 pays R0's 本税 in part; the rest is in arrears with 延滞金 as of 6/30:
    # 812 + 5,551 as above, then 5/1..6/30 on 200,000: 200,000 × 9.1% × 61 / 365 = 3,041; 9,404 → 9,400.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R0", due_date=JANUARY_DUE), receivable("R1", principal=165_000))]
    result = settle(snapshots, double_payment(amount=165_000))
    assert_frame_equal(result.offsets, offsets_frame((erroneous_id(), "R0", 165_000, 0, 0, DUE)))
    arrears = result.arrears.select("receivable_id", "principal_outstanding", "late_fee", "late_fee_status")
    assert arrears.rows() == [("R0", 200_000, 9_400, "見込")]


def test_offset_day_is_the_due_date_of_a_receivable_due_after_the_overpayment_arose():
    # 誤納 arising 1/15; R0 falls due 3/31: the 充当 takes effect on 3/31, before any 延滞金.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R0", due_date=date(2026, 3, 31)), receivable("R1", due_date=date(2026, 1, 15)))]
    result = settle(snapshots, double_payment(paid_on=date(2026, 1, 15)))
    expected = offsets_frame((erroneous_id(arose_on=date(2026, 1, 15)), "R0", 365_000, 0, 0, date(2026, 3, 31)))
    assert_frame_equal(result.offsets, expected)
    assert result.arrears.is_empty()


def test_offset_pays_fixed_late_fee_of_a_receivable_whose_principal_was_paid_late():
    # R0 due 1/30 was paid on 3/31 without 延滞金: 812 + 3/1..3/31 31 × 91 = 2,821; 3,633 → 3,600.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R0", due_date=JANUARY_DUE), receivable("R1"))]
    payments = pl.concat([double_payment(), payments_frame(payment(3, date(2026, 3, 31), 365_000, "R0"))])
    result = settle(snapshots, payments)
    assert_frame_equal(result.offsets, offsets_frame((erroneous_id(), "R0", 0, 0, 3_600, DUE)))
    assert refund(result)[:3] == (365_000, 3_600, 361_400)


def test_targets_are_taken_by_due_date_then_receivable_id():
    # 誤納 150,000 arising 4/30; R0a and R0b (100,000 each) are both due 1/30. R0a first: 本税 100,000
    # and 延滞金 to 4/30: 100,000 × 2.8% × 29 / 365 = 222, 100,000 × 9.1% × 61 / 365 = 1,520; 1,742 →
    # 1,700. The remaining 48,300 goes to R0b's 本税.
    snapshots = [
        snapshot(
            SNAPSHOT_DAY,
            receivable("R0b", due_date=JANUARY_DUE, principal=100_000),
            receivable("R0a", due_date=JANUARY_DUE, principal=100_000),
            receivable("R1", principal=150_000),
        )
    ]
    result = settle(snapshots, double_payment(amount=150_000))
    expected = offsets_frame((erroneous_id(), "R0a", 100_000, 0, 1_700, DUE), (erroneous_id(), "R0b", 48_300, 0, 0, DUE))
    assert_frame_equal(result.offsets, expected)


def test_candidates_are_offset_in_the_order_they_arose():
    # 誤納 50,000 arising 4/20 (R2 paid twice), then 100,000 arising 4/30 (R1 paid twice), against R0:
    # 100,000 due Wednesday 4/15. The 4/20 one pays 50,000 on 4/20, the 4/30 one the other 50,000;
    # 延滞金 4/16..4/20 on 100,000: 38, 4/21..4/30 on 50,000: 38; 76 yen is under 1,000: none.
    snapshots = [
        snapshot(
            SNAPSHOT_DAY,
            receivable("R0", due_date=date(2026, 4, 15), principal=100_000),
            receivable("R1", principal=100_000),
            receivable("R2", principal=50_000),
        )
    ]
    payments = payments_frame(
        payment(1, DUE, 100_000, "R1"), payment(2, DUE, 100_000, "R1"), payment(3, date(2026, 4, 20), 50_000, "R2"), payment(4, date(2026, 4, 20), 50_000, "R2")
    )
    result = settle(snapshots, payments)
    expected = offsets_frame(
        (erroneous_id(4, date(2026, 4, 20)), "R0", 50_000, 0, 0, date(2026, 4, 20)),
        (erroneous_id(2, DUE), "R0", 50_000, 0, 0, DUE),
    )
    assert_frame_equal(result.offsets, expected)
    assert refund(result)[:3] == (100_000, 50_000, 50_000)


def test_no_offset_to_a_receivable_not_yet_past_its_due_date():
    # R2 falls due 7/31 and R3 on as_of itself (6/30): neither is past due, so all is refunded.
    r2, r3 = receivable("R2", due_date=date(2026, 7, 31)), receivable("R3", due_date=date(2026, 6, 30))
    result = settle([snapshot(SNAPSHOT_DAY, receivable("R1"), r2, r3)], double_payment())
    assert result.offsets.is_empty()
    assert refund(result)[:3] == (365_000, 0, 365_000)


def test_no_offset_across_taxpayers():
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R1"), receivable("R9", taxpayer_id="T2", due_date=JANUARY_DUE))]
    result = settle(snapshots, double_payment())
    assert result.offsets.is_empty()
    assert result.arrears["receivable_id"].to_list() == ["R9"]


@pytest.mark.parametrize(("as_of", "offset"), [(date(2025, 2, 28), True), (date(2025, 3, 1), False)])
def test_an_expired_claim_is_not_offset(as_of, offset):
    # 誤納 of 2020-02-29 expires 2025-02-28. R0 fell due on Friday 2025-01-31 (充当適状日, no 延滞金).
    snapshots = [
        snapshot(
            date(2020, 2, 1),
            receivable("R1", due_date=date(2020, 3, 31)),
            receivable("R0", due_date=date(2025, 1, 31), fiscal_year=2024, tax_year=2024),
        )
    ]
    result = settle(snapshots, double_payment(paid_on=date(2020, 2, 29)), as_of=as_of)
    expected = [(erroneous_id(arose_on=date(2020, 2, 29)), "R0", 365_000, 0, 0, date(2025, 1, 31), "proposed")] if offset else []
    assert result.offsets.rows() == expected


@pytest.mark.parametrize("seed", range(4))
def test_offsets_stay_within_the_candidate_the_taxpayer_and_what_is_past_due(seed):
    snapshots, payments = random_case(seed)
    result = settle([snapshots], payments)
    candidates = result.refund_candidates.select("candidate_id", pl.col("taxpayer_id").alias("candidate_taxpayer"), "arose_on", "overpaid_amount", "offset_amount", "refund_amount")
    receivables = current_receivables(snapshots).select("receivable_id", "taxpayer_id", "effective_due_date", "principal")
    offsets = result.offsets.join(candidates, on="candidate_id").join(receivables, on="receivable_id")
    assert offsets.height == result.offsets.height
    assert offsets.filter(pl.col("taxpayer_id") != pl.col("candidate_taxpayer")).is_empty()
    assert offsets.filter(pl.col("effective_due_date") >= AS_OF).is_empty()
    assert offsets.filter(pl.col("offset_on") != pl.max_horizontal("effective_due_date", "arose_on")).is_empty()
    assert candidates.filter(pl.col("overpaid_amount") != pl.col("offset_amount") + pl.col("refund_amount")).is_empty()
    assert candidates.filter(pl.col("refund_amount") < 0).is_empty()
    applied = result.applications.group_by("receivable_id").agg(pl.col("principal_applied").sum())
    principal_offsets = result.offsets.group_by("receivable_id").agg(pl.col("principal_offset").sum())
    settled = receivables.join(applied, on="receivable_id", how="left").join(principal_offsets, on="receivable_id", how="left").fill_null(0)
    assert settled.filter(pl.col("principal_applied") + pl.col("principal_offset") > pl.col("principal")).is_empty()
