"""The 会計年度 and 現年/滞繰 of a receipt (CONTRACT v2, 地方自治法第235条の5), checked by hand.

The 2025 fiscal year runs from 2025-04-01 to 2026-03-31; its 出納整理期間 ends on 2026-05-31.
"""

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.codes import ReceiptYearClass
from transforms.fiscal_year import fiscal_year_of_day, receipt_fiscal_year

CURRENT, ARREARS = ReceiptYearClass.CURRENT.value, ReceiptYearClass.ARREARS.value
YEARS_SCHEMA = {"fiscal_year": pl.Int64, "current_or_arrears": pl.String}


def _receipt_years(paid_on: list[date], assessed_years: list[int | None]) -> pl.DataFrame:
    """fiscal_year and current_or_arrears of receipts paid on paid_on to receivables of those 調定年度."""
    receipts = pl.DataFrame(
        {"paid_on": paid_on, "fiscal_year": assessed_years}, schema={"paid_on": pl.Date, "fiscal_year": pl.Int32}
    )
    return receipts.select(receipt_fiscal_year(pl.col("paid_on"), pl.col("fiscal_year")))


@pytest.mark.parametrize(
    ("paid_on", "assessed_year", "fiscal_year", "year_class"),
    [
        # A 2025 receivable: 現年 of 2025 to the end of the 出納整理期間, then 滞繰 of 2026.
        (date(2026, 3, 31), 2025, 2025, CURRENT),
        (date(2026, 4, 1), 2025, 2025, CURRENT),
        (date(2026, 5, 31), 2025, 2025, CURRENT),
        (date(2026, 6, 1), 2025, 2026, ARREARS),
        # A 2023 receivable is 滞繰 throughout; April–May of 2026 still belong to 2025.
        (date(2026, 3, 31), 2023, 2025, ARREARS),
        (date(2026, 4, 1), 2023, 2025, ARREARS),
        (date(2026, 5, 31), 2023, 2025, ARREARS),
        (date(2026, 6, 1), 2023, 2026, ARREARS),
        # A 2026 receivable paid in April 2026 is 現年 of the new year: 2025 is not its year.
        (date(2026, 4, 1), 2026, 2026, CURRENT),
        (date(2026, 5, 31), 2026, 2026, CURRENT),
        # Paid before its own year begins: the year of its 納付日, and 滞繰 as the rule reads (not 現年).
        (date(2026, 3, 31), 2026, 2025, ARREARS),
    ],
)
def test_receipt_fiscal_year_around_the_closing_period(
    paid_on: date, assessed_year: int, fiscal_year: int, year_class: str
) -> None:
    expected = pl.DataFrame({"fiscal_year": [fiscal_year], "current_or_arrears": [year_class]}, schema=YEARS_SCHEMA)
    assert_frame_equal(_receipt_years([paid_on], [assessed_year]), expected)


def test_receipt_fiscal_year_without_assessment_year() -> None:
    """A receivable with no 調定年度: the fiscal year of the 納付日, neither 現年 nor 滞繰."""
    found = _receipt_years([date(2026, 4, 1), date(2026, 3, 31)], [None, None])
    expected = pl.DataFrame({"fiscal_year": [2026, 2025], "current_or_arrears": [None, None]}, schema=YEARS_SCHEMA)
    assert_frame_equal(found, expected)


def test_fiscal_year_of_day_turns_on_april_first() -> None:
    """The fiscal year of a day alone, without 出納整理期間 (the built 仮登録 rows' 会計年度); no day, no year."""
    days = pl.DataFrame({"day": [date(2026, 3, 31), date(2026, 4, 1), date(2026, 5, 31), None]}, schema={"day": pl.Date})
    found = days.select(fiscal_year_of_day(pl.col("day")).alias("fiscal_year"))
    assert_frame_equal(found, pl.DataFrame({"fiscal_year": [2025, 2026, 2026, None]}, schema={"fiscal_year": pl.Int64}))
