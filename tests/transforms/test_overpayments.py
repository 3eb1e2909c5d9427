"""Overpayments as refund candidates (SPEC §4.2; docs/reconciliation.md step 5), by hand: 過納 or 誤納, and when each arose.

Amounts as in test_application: 本税 365,000 due 2026-04-30; a day of 還付加算金 on 365,000 yen
at the 2026 rate of 1.3% is 13 yen.
"""

from datetime import date, timedelta
from hashlib import sha256

import polars as pl

from tests.transforms.test_application import DUE, SNAPSHOT_DAY, key, one_receivable, payment, payments_frame, receivable, settle, snapshot
from transforms.overpayments import candidate_id

REDUCED_ON = date(2026, 6, 10)
CANDIDATE = ["payment_key", "kind", "overpaid_amount", "arose_on", "interest_start", "refund_interest", "expires_on", "expired"]


def reduced_to(reduced_principal: int, changed_on: date = REDUCED_ON, **values) -> list[pl.DataFrame]:
    """R1 as first assessed (with values), then reduced on changed_on, delivered five days later."""
    first = snapshot(SNAPSHOT_DAY, receivable(**values))
    reduced = receivable(**(values | {"principal": reduced_principal, "changed_on": changed_on}))
    return [first, snapshot(changed_on + timedelta(days=5), reduced)]


def candidates(result) -> list[tuple]:
    return sorted(result.refund_candidates.select(CANDIDATE).rows())


def test_late_fee_overpaid_is_erroneous():
    # 延滞金 owed to 6/9 is 1,600 (test_application); 400 of the 2,000 paid is 誤納, arising 6/9;
    # interest would start 7/10 (one-month day of 6/10 is 7/9), but 400 yen bears none (< 2,000).
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 6, 9), 365_000, late_fee=2_000)), as_of=date(2026, 12, 31))
    assert candidates(result) == [(key(1), "誤納", 400, date(2026, 6, 9), date(2026, 7, 10), 0, date(2031, 6, 9), False)]


def test_reduction_after_payment_is_excess_arising_on_the_change_day():
    # 730,000 paid 4/30, reduced to 365,000 on 6/10: 365,000 過納, arising 6/10, bearing 還付加算金
    # from 5/1 (the day after the 納付日) to 9/30: 31 + 30 + 31 + 31 + 30 = 153 days × 13 = 1,989 → 1,900.
    result = settle(reduced_to(365_000, principal=730_000), payments_frame(payment(1, DUE, 730_000)), as_of=date(2026, 9, 30))
    assert candidates(result) == [(key(1), "過納", 365_000, REDUCED_ON, date(2026, 5, 1), 1_900, date(2031, 6, 10), False)]


def test_reduction_shrinks_the_latest_payment_first():
    # 200,000 (4/20) + 165,000 (4/30), reduced to 265,000: the 4/30 payment gives back 100,000.
    payments = payments_frame(payment(1, date(2026, 4, 20), 200_000), payment(2, DUE, 165_000))
    result = settle(reduced_to(265_000), payments)
    assert [row[:4] for row in candidates(result)] == [(key(2), "過納", 100_000, REDUCED_ON)]


def test_reduction_below_an_earlier_payment_gives_back_from_both():
    # Reduced to 150,000: the 4/30 payment gives back all its 165,000, the 4/20 one 50,000.
    payments = payments_frame(payment(1, date(2026, 4, 20), 200_000), payment(2, DUE, 165_000))
    result = settle(reduced_to(150_000), payments)
    assert [row[:4] for row in candidates(result)] == [(key(1), "過納", 50_000, REDUCED_ON), (key(2), "過納", 165_000, REDUCED_ON)]


def test_double_payment_then_reduction_is_excess_for_the_first_and_erroneous_for_the_second():
    # The first payment was owed when made and is 100,000 too much since 6/10 (過納); the second
    # was never owed (誤納, arising on its 納付日).
    payments = payments_frame(payment(1, DUE, 365_000), payment(2, DUE, 365_000))
    result = settle(reduced_to(265_000), payments)
    assert [row[:4] for row in candidates(result)] == [(key(1), "過納", 100_000, REDUCED_ON), (key(2), "誤納", 365_000, DUE)]


def test_one_payment_can_be_partly_excess_and_partly_erroneous():
    # 400,000 paid on 365,000: 35,000 誤納 at once; the 減額 to 265,000 adds 100,000 過納.
    result = settle(reduced_to(265_000), payments_frame(payment(1, DUE, 400_000)))
    assert [row[:4] for row in candidates(result)] == [(key(1), "誤納", 35_000, DUE), (key(1), "過納", 100_000, REDUCED_ON)]


def test_reduction_after_a_late_payment_gives_back_late_fee_as_excess_too():
    # 730,000 due 4/30 paid 6/9 with its 延滞金: 5/1..5/31 730,000 × 2.8% × 31 / 365 = 1,736 and
    # 6/1..6/9 730,000 × 9.1% × 9 / 365 = 1,638; 3,374 → 3,300. Reduced to 365,000 on 7/10, the 延滞金
    # owed is 1,600, so 365,000 + 1,700 = 366,700 came back, all of it lawfully paid on 6/9: 過納.
    # 還付加算金 from 6/10 to 12/31 (21 + 31 + 31 + 30 + 31 + 30 + 31 = 205 days) on 366,000:
    # 366,000 × 1.3% × 205 / 365 = 2,672 → 2,600.
    snapshots = reduced_to(365_000, date(2026, 7, 10), principal=730_000)
    result = settle(snapshots, payments_frame(payment(1, date(2026, 6, 9), 730_000, late_fee=3_300)), as_of=date(2026, 12, 31))
    assert candidates(result) == [(key(1), "過納", 366_700, date(2026, 7, 10), date(2026, 6, 10), 2_600, date(2031, 7, 10), False)]


def test_payment_to_a_cancelled_receivable_is_excess_before_and_erroneous_after_the_cancellation():
    # R1 due 1/30 with a 100 yen 督促手数料, paid 4/30 with 延滞金 (1/31..2/28 29 days × 28 = 812,
    # 3/1..4/30 61 days × 91 = 5,551; 6,363 → 6,300): 371,400 in all. R1 is missing from the 6/1
    # snapshot: cancelled, so all of it is 過納 arising 6/1. A payment on 6/5 was never owed:
    # 誤納, 還付加算金 from the day after 7/5 (the one-month day from 6/6).
    r1 = receivable(due_date=date(2026, 1, 30), dunning_fee=100)
    snapshots = [snapshot(SNAPSHOT_DAY, r1, receivable("R2")), snapshot(date(2026, 6, 1), receivable("R2"))]
    payments = payments_frame(payment(1, DUE, 365_100, late_fee=6_300), payment(2, date(2026, 6, 5), 365_000))
    result = settle(snapshots, payments)
    assert [row[:5] for row in candidates(result)] == [
        (key(1), "過納", 371_400, date(2026, 6, 1), date(2026, 5, 1)),
        (key(2), "誤納", 365_000, date(2026, 6, 5), date(2026, 7, 6)),
    ]


def test_candidate_id_is_the_first_sixteen_hex_digits_of_the_sha256_of_payment_kind_and_day():
    assert candidate_id("CT01-000001", "過納", date(2026, 6, 10)) == sha256("CT01-000001|過納|2026-06-10".encode()).hexdigest()[:16]
