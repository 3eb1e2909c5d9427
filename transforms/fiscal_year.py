"""The 会計年度 a receipt belongs to, and whether it is 現年 or 滞繰 (CONTRACT v2, 地方自治法第235条の5)."""

from __future__ import annotations

import polars as pl

from schemas.codes import ReceiptYearClass

FISCAL_YEAR_FIRST_MONTH = 4
# 出納整理期間: the year closes (出納閉鎖) on 5/31 of the next year, 地方自治法第235条の5.
CLOSING_PERIOD_LAST_MONTH = 5


def fiscal_year_of_day(day: pl.Expr) -> pl.Expr:
    """The fiscal year (April to March) a day falls in."""
    return day.dt.year().cast(pl.Int64) - (day.dt.month() < FISCAL_YEAR_FIRST_MONTH).cast(pl.Int64)


def receipt_fiscal_year(paid_on: pl.Expr, assessed_year: pl.Expr) -> list[pl.Expr]:
    """`fiscal_year` (会計年度) and `current_or_arrears` (現年/滞繰) of a receipt, from 納付日 and 調定年度.

    地方自治法第235条の5 (出納整理期間): a receipt from 4/1 to 5/31 of year Y to a receivable whose
    調定年度 is Y−1 or earlier, 現年 and 滞繰 alike, belongs to fiscal year Y−1, the year still open
    until 出納閉鎖; any other receipt to the fiscal year (April–March) of its 納付日. 現年: the
    receivable's 調定年度 is that fiscal year; 滞繰 otherwise. A receipt whose receivable has no
    調定年度 takes the fiscal year of its 納付日 and is neither (null).
    """
    calendar_year = paid_on.dt.year().cast(pl.Int64)
    month = paid_on.dt.month()
    in_closing_period = (month >= FISCAL_YEAR_FIRST_MONTH) & (month <= CLOSING_PERIOD_LAST_MONTH)
    previous_year_open = in_closing_period & (assessed_year.cast(pl.Int64) < calendar_year)
    fiscal_year = pl.when(previous_year_open).then(calendar_year - 1).otherwise(fiscal_year_of_day(paid_on))
    current = pl.when(assessed_year.is_null()).then(None).when(assessed_year.cast(pl.Int64) == fiscal_year)
    year_class = current.then(pl.lit(ReceiptYearClass.CURRENT.value)).otherwise(pl.lit(ReceiptYearClass.ARREARS.value))
    return [fiscal_year.alias("fiscal_year"), year_class.alias("current_or_arrears")]
