"""The sample city: receivables about twice the payments, and the days whose payments the window's files carry."""

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from sample_data import COMMITTED_PAYMENTS
from sample_data.city import payment_days
from sample_data.common import sighting_dates
from schemas.inbox import FileKind


def test_receivables_are_about_twice_the_payments_with_unique_ids(committed_sample):
    [receivables, *_] = [file.records for file in committed_sample.files if file.kind == FileKind.RECEIVABLES]
    assert 1.6 * COMMITTED_PAYMENTS <= receivables.height <= 2.4 * COMMITTED_PAYMENTS
    assert receivables["receivable_id"].is_unique().all()
    eltax = receivables.filter(pl.col("tax_code").is_in(["020", "030", "070"]))
    assert eltax["filing_receipt_number"].is_not_null().all() and eltax["payment_number"].is_null().all()
    qr = receivables.filter(pl.col("tax_code").is_in(["010", "040", "050", "060"]))
    assert qr["payment_number"].is_not_null().all() and qr["confirmation_number"].is_not_null().all()
    assert (receivables["dunning_fee"] > 0).any() and receivables["due_date"].dt.weekday().is_in([6, 7]).any()


def test_sightings_come_the_next_business_day_and_two_business_days_after_payment():
    # Friday 5/8/2026: 速報 on Monday 5/11, deposit and 確報 on Tuesday 5/12.
    assert sighting_dates(date(2026, 5, 8)) == (date(2026, 5, 11), date(2026, 5, 12))
    days = payment_days((date(2026, 5, 11), date(2026, 5, 12), date(2026, 5, 13)))
    expected = pl.DataFrame(
        {
            "paid_on": [date(2026, 5, day) for day in range(7, 13)],
            "quick_on": [None, *[date(2026, 5, 11)] * 3, date(2026, 5, 12), date(2026, 5, 13)],
            "confirm_on": [date(2026, 5, 11), *[date(2026, 5, 12)] * 3, date(2026, 5, 13), None],
            "weight": [1.0, 1.0, 0.3, 0.3, 1.0, 1.0],
        }
    )
    assert_frame_equal(days, expected)
