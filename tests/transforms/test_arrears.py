"""Arrears (SPEC §4.1, §4.3; docs/reconciliation.md step 8), checked by hand.

本税 365,000 due Thursday 2026-04-30, as of 2026-06-30 (61 days later): a day of 延滞金 is 28 yen at
2.8% (5/1..5/31) and 91 yen at 9.1% (from 6/1).
"""

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.rates import MissingRateError
from schemas.settings import Settings
from tests.transforms.test_application import AS_OF, DUE, RATES, SNAPSHOT_DAY, one_receivable, payment, payments_frame, receivable, settle, snapshot
from transforms.calendar import is_closed_day
from transforms.deliveries import deliveries, incomplete_deliveries
from transforms.ledger import TABLE_SCHEMAS
from transforms.rebuild import settlement
from transforms.receivables import current_receivables, principal_history, receivable_versions

LATE_DAY = date(2026, 6, 9)  # 延滞金 to 6/9: 31 × 28 + 9 × 91 = 1,687 → 1,600
OUTSTANDING = ["receivable_id", "principal_outstanding", "dunning_fee_outstanding", "late_fee", "late_fee_status", "dunning_due"]


def outstanding(result) -> list[tuple]:
    return result.arrears.select(OUTSTANDING).rows()


def test_partial_payment_leaves_principal_and_estimated_late_fee_as_of_the_run():
    # 165,000 paid 5/10: 5/1..5/10 on 365,000: 10 × 28 = 280; 5/11..5/31 on 200,000:
    # 200,000 × 2.8% × 21 / 365 = 322; 6/1..6/30 on 200,000: 200,000 × 9.1% × 30 / 365 = 1,495;
    # 2,097 → 2,000 yen, an estimate (見込) as if paid on 6/30.
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 5, 10), 165_000)))
    expected = pl.DataFrame(
        [
            {
                "receivable_id": "R1",
                "taxpayer_id": "T1",
                "tax_code": "010",
                "fiscal_year": 2026,
                "installment": "01",
                "effective_due_date": DUE,
                "principal": 365_000,
                "principal_outstanding": 200_000,
                "dunning_fee_outstanding": 0,
                "late_fee": 2_000,
                "late_fee_status": "見込",
                "late_fee_exempted": 0,
                "offset_pending": 0,
                "days_overdue": 61,
                "dunning_due": True,
                "dunning_deadline": date(2026, 5, 20),
                "dunning_sent_on": None,
                "dunning_ready": True,
                "dunning_hold_reason": None,
                "as_of": AS_OF,
            }
        ],
        schema=TABLE_SCHEMAS["arrears"],
    )
    assert_frame_equal(result.arrears, expected)


def test_unpaid_receivable_with_dunning_sent_is_not_due_a_dunning_letter():
    # Nothing paid: 31 × 28 + 30 × 91 = 868 + 2,730 = 3,598 → 3,500 yen 見込.
    result = settle(one_receivable(dunning_fee=100, dunning_sent_on=date(2026, 5, 15)), payments_frame())
    assert outstanding(result) == [("R1", 365_000, 100, 3_500, "見込", False)]


def test_late_full_payment_without_late_fee_leaves_fixed_late_fee():
    result = settle(one_receivable(), payments_frame(payment(1, LATE_DAY, 365_000)))
    assert outstanding(result) == [("R1", 0, 0, 1_600, "確定", False)]


def test_late_fee_paid_in_part_leaves_the_rest_fixed():
    result = settle(one_receivable(), payments_frame(payment(1, LATE_DAY, 365_000, late_fee=1_000)))
    assert outstanding(result) == [("R1", 0, 0, 600, "確定", False)]


@pytest.mark.parametrize(
    "payments",
    [
        [payment(1, DUE, 365_000)],  # on time
        [payment(1, LATE_DAY, 365_000, late_fee=1_600)],  # late, with its 延滞金
        [payment(1, LATE_DAY, 365_000), payment(2, date(2026, 6, 20), total=1_600, payment_class="02")],  # 延滞金 apart
    ],
)
def test_paid_in_full_leaves_no_arrears(payments):
    assert settle(one_receivable(), payments_frame(*payments)).arrears.is_empty()


def test_only_dunning_fee_unpaid_is_not_arrears():
    # CONTRACT.md: arrears are 本税 or 延滞金 outstanding; a 督促手数料 alone is not.
    result = settle(one_receivable(dunning_fee=100), payments_frame(payment(1, LATE_DAY, 365_000, late_fee=1_600)))
    assert result.arrears.is_empty()


def test_not_yet_due_and_cancelled_receivables_are_not_arrears():
    snapshots = [
        snapshot(SNAPSHOT_DAY, receivable("R1"), receivable("R2"), receivable("R3", due_date=date(2026, 7, 31))),
        snapshot(date(2026, 5, 15), receivable("R2"), receivable("R3", due_date=date(2026, 7, 31))),
    ]
    assert settle(snapshots, payments_frame()).arrears["receivable_id"].to_list() == ["R2"]


def test_low_rate_period_is_a_setting_by_tax_code():
    # 国民健康保険税 (060) with a three-month lower rate: 5/1..6/30 all at 2.8%: 61 × 28 = 1,708 →
    # 1,700; the other tax codes keep one month: 3,598 → 3,500 as above.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R1", tax_code="060"), receivable("R2"))]
    result = settle(snapshots, payments_frame(), low_rate_months={"060": 3})
    assert result.arrears.select("receivable_id", "late_fee").rows() == [("R1", 1_700), ("R2", 3_500)]


def test_due_date_on_a_saturday_moves_to_monday():
    # 5/30/2026 is a Saturday: the 納期限 is Monday 6/1, 29 days before as_of; the 督促 deadline is
    # 6/21. 延滞金 6/2..6/30: 29 × 28 = 812 yen is under 1,000: none yet.
    result = settle(one_receivable(due_date=date(2026, 5, 30)), payments_frame())
    row = result.arrears.select("effective_due_date", "days_overdue", "dunning_deadline", "late_fee").row(0)
    assert row == (date(2026, 6, 1), 29, date(2026, 6, 21), 0)


def test_arrears_follow_the_latest_assessment():
    # Reduced to 265,000, nothing paid: 265,000 × 2.8% × 31 / 365 = 630 and 265,000 × 9.1% × 30 / 365
    # = 1,982; 2,612 → 2,600.
    snapshots = [one_receivable()[0], snapshot(date(2026, 6, 15), receivable(principal=265_000, changed_on=date(2026, 6, 10)))]
    assert outstanding(settle(snapshots, payments_frame())) == [("R1", 265_000, 0, 2_600, "見込", True)]


def test_estimated_late_fee_needs_the_rates_of_the_run_year():
    with pytest.raises(MissingRateError, match="2027"):
        settle(one_receivable(), payments_frame(), as_of=date(2027, 1, 10))


KINDS = ["NOFU_NYUKIN", "NOFU_NOFUBI"]
MISSING_DAY = date(2026, 5, 15)
# R1 due 4/30, before the missing day; R2 due 5/31, a Sunday, so 6/1: after it. R3 was sent its 督促状.
TWO_RECEIVABLES = [
    snapshot(
        SNAPSHOT_DAY,
        receivable("R1"),
        receivable("R2", due_date=date(2026, 5, 31)),
        receivable("R3", dunning_fee=100, dunning_sent_on=date(2026, 5, 15)),
    )
]


def business_days_files(first: date, last: date, *left_out: tuple[str, date]) -> pl.DataFrame:
    """ingested_files rows of both expected kinds loaded for every business day from first to last, but those left out."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    rows = [(kind, day, 1, "loaded") for day in days if not is_closed_day(day) for kind in KINDS if (kind, day) not in left_out]
    return pl.DataFrame(rows, schema={"kind": pl.String, "settlement_date": pl.Date, "delivery_number": pl.Int32, "status": pl.String}, orient="row")


def dunning(files: pl.DataFrame) -> list[tuple]:
    """receivable_id, dunning_due, dunning_ready and dunning_hold_reason of each arrear when `files` were seen."""
    stored = pl.concat(TWO_RECEIVABLES)
    versions = receivable_versions(stored)
    incomplete = incomplete_deliveries(deliveries(files, AS_OF, KINDS))
    settled = settlement(payments_frame(), versions, principal_history(stored, versions), current_receivables(stored), AS_OF, RATES, Settings(), incomplete=incomplete)
    return settled.arrears.select("receivable_id", "dunning_due", "dunning_ready", "dunning_hold_reason").rows()


def test_a_receivable_due_before_a_missing_delivery_is_held_from_dunning_with_the_reason():
    files = business_days_files(date(2026, 4, 1), AS_OF, ("NOFU_NYUKIN", MISSING_DAY))
    assert dunning(files) == [
        ("R1", True, False, "no NOFU_NYUKIN for 2026-05-15"),
        ("R2", True, True, None),
        ("R3", False, False, None),
    ]


def test_the_hold_names_the_first_incomplete_delivery_and_counts_the_others():
    files = business_days_files(date(2026, 4, 1), AS_OF, ("NOFU_NYUKIN", MISSING_DAY), ("NOFU_NOFUBI", date(2026, 6, 5)))
    assert dunning(files)[0] == ("R1", True, False, "no NOFU_NYUKIN for 2026-05-15 (and 1 more)")


def test_a_held_receivable_is_ready_once_the_missing_file_is_delivered_and_its_date_run_again():
    before = business_days_files(date(2026, 4, 1), AS_OF, ("NOFU_NYUKIN", MISSING_DAY))
    after_rerun = pl.concat([before, pl.DataFrame([("NOFU_NYUKIN", MISSING_DAY, 1, "loaded")], schema=before.schema, orient="row")])
    assert [row[2] for row in dunning(before)] == [False, True, False]
    assert dunning(after_rerun) == [("R1", True, True, None), ("R2", True, True, None), ("R3", False, False, None)]
