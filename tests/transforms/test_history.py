"""The `history` table (CONTRACT v2), by hand: each date's figures from the state cut at that date.

Four 個人市民税 receivables: R1 of 調定年度 2025 (365,000 due 2026-02-27, 100,000 paid 3/10 and
65,000 on 4/20, in the 出納整理期間), R2 of 2024 (200,000 due 2025-01-31, 50,000 paid 2026-04-20
and 30,000 on 6/10), R3 of 2026 paid in full on its 納期限 2026-04-30, and R4 of 2026 (10,000
due 6/30) first delivered on 5/20. The dates run are 2026-05-11 (2025 still open) and 6/15.
"""

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.transforms.test_application import RATES, payment, payments_frame, receivable, settle, snapshot
from transforms.history import DatedHistory, Pricing, SettledState, first_delivered, history, open_fiscal_years
from transforms.receivables import principal_history, receivable_versions

MAY_11, JUNE_15 = date(2026, 5, 11), date(2026, 6, 15)
RECEIVABLES = [
    receivable("R1", fiscal_year=2025, due_date=date(2026, 2, 27)),
    receivable("R2", fiscal_year=2024, due_date=date(2025, 1, 31), principal=200_000),
    receivable("R3", fiscal_year=2026),
]
LATER = receivable("R4", fiscal_year=2026, due_date=date(2026, 6, 30), principal=10_000)
SNAPSHOTS = [snapshot(date(2026, 4, 1), *RECEIVABLES), snapshot(date(2026, 5, 20), *RECEIVABLES, LATER)]
PAYMENTS = [
    payment(1, date(2026, 3, 10), 100_000),
    payment(2, date(2026, 4, 20), 65_000),
    payment(3, date(2026, 4, 20), 50_000, "R2"),
    payment(4, date(2026, 4, 30), 365_000, "R3"),
    payment(5, date(2026, 6, 10), 30_000, "R2"),
]
FIGURES = ["as_of", "fiscal_year", "current_or_arrears", "assessed", "collected", "arrears_principal"]


def dated_history_of(
    snapshots: list[pl.DataFrame], payments: list[dict], dates: list[date], as_of: date, kept: DatedHistory | None = None
) -> DatedHistory:
    """history over the dates of the state rebuilt as of as_of from these snapshots and payments, keeping what `kept` allows."""
    return history(dates, settled_state(snapshots, payments, as_of), Pricing(RATES), kept)


def settled_state(snapshots: list[pl.DataFrame], payments: list[dict], as_of: date) -> SettledState:
    """The state rebuilt as of as_of from these snapshots and payments, as history reads it."""
    settled, stored = settle(snapshots, payments_frame(*payments), as_of), pl.concat(snapshots)
    versions = receivable_versions(stored)
    return SettledState(
        versions, principal_history(stored, versions), first_delivered(stored), settled.ledger, settled.applications,
        settled.offsets, settled.refund_candidates, settled.arrears, as_of,
    )  # fmt: skip


def history_of(snapshots: list[pl.DataFrame], payments: list[dict], dates: list[date], as_of: date) -> pl.DataFrame:
    """The history rows, every date computed."""
    return dated_history_of(snapshots, payments, dates, as_of).rows


def test_each_date_has_its_own_assessments_receipts_and_arrears():
    found = history_of(SNAPSHOTS, PAYMENTS, [MAY_11, JUNE_15], JUNE_15).select(FIGURES)
    expected = pl.DataFrame(
        [
            # 5/11: R4 not yet delivered; 4/20 receipts belong to 2025 (R2's as 滞繰).
            (MAY_11, 2024, "現年", 200_000, 0, 0),
            (MAY_11, 2025, "滞繰", 200_000, 50_000, 150_000),
            (MAY_11, 2025, "現年", 365_000, 165_000, 200_000),
            (MAY_11, 2026, "滞繰", 350_000, 0, 0),
            (MAY_11, 2026, "現年", 365_000, 365_000, 0),
            # 6/15: 2025 is closed, R1 and R2 are 滞繰 of 2026; R4 is assessed and not yet due.
            (JUNE_15, 2024, "現年", 200_000, 0, 0),
            (JUNE_15, 2025, "滞繰", 200_000, 50_000, 0),
            (JUNE_15, 2025, "現年", 365_000, 165_000, 0),
            (JUNE_15, 2026, "滞繰", 350_000, 30_000, 320_000),
            (JUNE_15, 2026, "現年", 375_000, 365_000, 0),
        ],
        schema=found.schema,
        orient="row",
    )
    assert_frame_equal(found, expected)


def test_an_earlier_dates_late_fee_is_what_a_rebuild_as_of_that_date_gives():
    """延滞金 of 5/11 is priced again over the ledger cut at 5/11: the same as a rebuild on 5/11 of what was there."""
    as_of_june = history_of(SNAPSHOTS, PAYMENTS, [MAY_11, JUNE_15], JUNE_15).filter(pl.col("as_of") == MAY_11)
    paid_by_may_11 = [row for row in PAYMENTS if row["paid_on"] <= MAY_11]
    as_of_may = history_of(SNAPSHOTS[:1], paid_by_may_11, [MAY_11], MAY_11)
    assert as_of_june["arrears_late_fee"].sum() > 0
    assert_frame_equal(as_of_june, as_of_may)


def test_the_dates_order_and_repeats_do_not_matter():
    once = history_of(SNAPSHOTS, PAYMENTS, [MAY_11, JUNE_15], JUNE_15)
    assert_frame_equal(history_of(SNAPSHOTS, PAYMENTS, [JUNE_15, MAY_11, MAY_11], JUNE_15), once)


APRIL_30 = date(2026, 4, 30)


def _marked(kept: DatedHistory, day: date) -> DatedHistory:
    """kept with every row of `day` collected 1 yen more: a row that shows whether it was kept or computed again."""
    marked = pl.when(pl.col("as_of") == day).then(pl.col("collected") + 1).otherwise(pl.col("collected"))
    return DatedHistory(kept.rows.with_columns(marked.alias("collected")), kept.days)


def test_a_date_whose_records_did_not_change_keeps_its_rows_and_the_latest_is_computed_again():
    dates = [APRIL_30, MAY_11, JUNE_15]
    first = dated_history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15)
    again = dated_history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15, _marked(_marked(first, MAY_11), JUNE_15))
    assert_frame_equal(again.days, first.days)
    by_day = again.rows.group_by("as_of").agg(pl.col("collected").sum()).sort("as_of")
    computed = first.rows.group_by("as_of").agg(pl.col("collected").sum()).sort("as_of")
    rows_of_may_11 = first.rows.filter(pl.col("as_of") == MAY_11).height
    # 5/11 kept (marked rows come back), 6/15 (the latest) computed again, 4/30 untouched.
    assert by_day["collected"].to_list() == [computed["collected"][0], computed["collected"][1] + rows_of_may_11, computed["collected"][2]]


def test_a_payment_dated_before_a_date_computes_that_date_and_later_ones_again():
    """The payment of 6/10 arrives late: 4/30 and 5/11 keep their rows, 6/15 changes; the result is a full computation's."""
    dates = [APRIL_30, MAY_11, JUNE_15]
    before = dated_history_of(SNAPSHOTS, PAYMENTS[:4], dates, JUNE_15)
    after = dated_history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15, before)
    assert_frame_equal(after.rows, history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15))
    changed = after.days.join(before.days, on=["as_of", "fingerprint"], how="anti")["as_of"].to_list()
    assert changed == [JUNE_15]
    # The two payments of 4/20 arriving late change 4/30 and 5/11 too, not 4/10.
    dates, late = [date(2026, 4, 10), *dates], [*PAYMENTS[:1], *PAYMENTS[3:]]
    without = dated_history_of(SNAPSHOTS, late, dates, JUNE_15)
    moved = dated_history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15, without)
    assert_frame_equal(moved.rows, history_of(SNAPSHOTS, PAYMENTS, dates, JUNE_15))
    assert moved.days.join(without.days, on=["as_of", "fingerprint"], how="anti")["as_of"].to_list() == [APRIL_30, MAY_11, JUNE_15]


def test_other_rates_compute_every_date_again():
    dates = [APRIL_30, MAY_11, JUNE_15]
    state = settled_state(SNAPSHOTS, PAYMENTS, JUNE_15)
    first = history(dates, state, Pricing(RATES))
    other = history(dates, state, Pricing(RATES, {"010": 2}), first)
    assert other.days.join(first.days, on=["as_of", "fingerprint"], how="semi").height == 0


@pytest.mark.parametrize(
    ("day", "years"),
    [(date(2026, 3, 31), [2025]), (date(2026, 4, 1), [2025, 2026]), (date(2026, 5, 31), [2025, 2026]), (date(2026, 6, 1), [2026])],
)
def test_open_fiscal_years_around_the_closing_period(day, years):
    assert open_fiscal_years(day) == years
