"""Refunds of overpayments (SPEC §4.2; docs/reconciliation.md step 7), by hand: 還付加算金 and expiry.

Amounts as in test_application: 本税 365,000 due 2026-04-30; a day of 還付加算金 on 365,000 yen
at the 2026 rate of 1.3% is 13 yen.
"""

from datetime import date
from hashlib import sha256

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.rates import MissingRateError
from tests.transforms.test_application import DUE, key, one_receivable, payment, payments_frame, receivable, settle, snapshot
from tests.transforms.test_overpayments import candidates
from transforms.overpayments import candidate_id


def test_double_payment_is_erroneous_with_interest_from_the_day_after_the_one_month_day():
    # Paid 4/30 twice: the second never was owed (誤納, arises 4/30). 還付加算金 starts the day after
    # the one-month day counted from 5/1, i.e. 6/1, and runs to as_of 9/30: 30 + 31 + 31 + 30 = 122
    # days × 13 = 1,586 → 1,500 yen.
    payments = payments_frame(payment(1, DUE, 365_000), payment(2, DUE, 365_000))
    result = settle(one_receivable(), payments, as_of=date(2026, 9, 30))
    expected_id = sha256(f"{key(2)}|誤納|2026-04-30".encode()).hexdigest()[:16]
    expected = pl.DataFrame(
        [
            {
                "candidate_id": expected_id,
                "taxpayer_id": "T1",
                "payment_key": key(2),
                "common_tax_id": "CT01",
                "sequence_number": 2,
                "payment_info_sequence": None,
                "receivable_id": "R1",
                "kind": "誤納",
                "paid_on": DUE,
                "overpaid_amount": 365_000,
                "offset_amount": 0,
                "refund_amount": 365_000,
                "interest_start": date(2026, 6, 1),
                "refund_interest": 1_500,
                "offset_interest": 0,
                "arose_on": DUE,
                "expires_on": date(2031, 4, 30),
                "expired": False,
                "status": "open",
                "refunded_on": None,
                "as_of": date(2026, 9, 30),
            }
        ],
        schema=result.refund_candidates.schema,
    )
    assert_frame_equal(result.refund_candidates, expected)
    assert candidate_id(key(2), "誤納", DUE) == expected_id


@pytest.mark.parametrize(("as_of", "expired"), [(date(2025, 2, 28), False), (date(2025, 3, 1), True)])
def test_claim_arising_on_29_february_expires_on_28_february_five_years_later(as_of, expired):
    # 誤納 on Saturday 2020-02-29 (a convenience-store payment): expires 2025-02-28. Interest from
    # 2020-04-01 (one-month day of 3/1 is 3/31) on 365,000 yen, a day of which is 16 yen in 2020
    # (1.6%), 10 in 2021 (1.0%), 9 in 2022–2025 (0.9%): 275 × 16 + 365 × 10 + 365 × 9 × 2 + 366 × 9
    # + 59 × 9 = 4,400 + 3,650 + 6,570 + 3,294 + 531 = 18,445 → 18,400 (18,454 a day later, the same).
    paid_on = date(2020, 2, 29)
    snapshots = [snapshot(date(2020, 2, 1), receivable(due_date=date(2020, 3, 31), fiscal_year=2019, tax_year=2019))]
    result = settle(snapshots, payments_frame(payment(1, paid_on, 365_000), payment(2, paid_on, 365_000)), as_of=as_of)
    assert candidates(result) == [(key(2), "誤納", 365_000, paid_on, date(2020, 4, 1), 18_400, date(2025, 2, 28), expired)]


def test_refund_interest_needs_the_rates_of_every_year_it_runs():
    payments = payments_frame(payment(1, DUE, 365_000), payment(2, DUE, 365_000))
    with pytest.raises(MissingRateError, match="2027"):
        settle(one_receivable(), payments, as_of=date(2027, 1, 10))
