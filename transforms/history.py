"""The `history` table (CONTRACT v2): for each settlement date run, per 税目 × 会計年度 × 現年/滞繰, the figures as of that date.

Every date's rows come from the state rebuilt from everything stored now, cut at that date: a
receivable counts from the first snapshot that delivered it, with the 本税 its 本税 history gives
on that date; a receipt counts from its 納付日, a 充当 from its 充当適状日, a refund from its
支出決定日. So the table is a function of the stored inputs and the dates run, the same whatever
order the dates ran in, and a re-run of an old date gives that date's figures, not today's. The
figures are restated: a payment delivered late but paid before a date counts on that date, as the
receivable it was applied to now. Sums and filters give every column but one: 延滞金 as of an old
date grows with the days and is not a sum of dated events, so the arrears of each earlier date are
priced again by `transforms.arrears.arrears` over the ledger cut at that date (the cost of the
history step, which grows with the number of dates run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from schemas.codes import CandidateStatus, ReceiptYearClass
from schemas.rates import RatesTable
from transforms.arrears import arrears
from transforms.fiscal_year import CLOSING_PERIOD_LAST_MONTH, FISCAL_YEAR_FIRST_MONTH, receipt_fiscal_year
from transforms.ledger import conformed

KEY = ("as_of", "tax_code", "fiscal_year", "current_or_arrears")
AMOUNTS = ("assessed", "collected", "refunded", "arrears_principal", "arrears_late_fee", "refund_candidates_open")


@dataclass(frozen=True)
class SettledState:
    """What the rebuild settled as of its date, which history cuts at each earlier date.

    versions: every receivable ever delivered (transforms.receivables.receivable_versions);
    principal_history: (receivable_id, effective_from, principal); first_delivered: (receivable_id,
    first_delivered_on); ledger: the application ledger; applications, offsets, refund_candidates
    and arrears: the derived tables as of `as_of`.
    """

    versions: pl.DataFrame
    principal_history: pl.DataFrame
    first_delivered: pl.DataFrame
    ledger: pl.DataFrame
    applications: pl.DataFrame
    offsets: pl.DataFrame
    refund_candidates: pl.DataFrame
    arrears: pl.DataFrame
    as_of: date


@dataclass(frozen=True)
class Pricing:
    """What 延滞金 is priced with: the rates, the low-rate months per tax code, the exemption periods."""

    rates: RatesTable
    low_rate_months: Mapping[str, int] | None = None
    exemption_periods: pl.DataFrame | None = None


def first_delivered(snapshots: pl.DataFrame) -> pl.DataFrame:
    """receivable_id and first_delivered_on: the date of the first snapshot that carried each receivable."""
    return snapshots.group_by("receivable_id").agg(pl.col("snapshot_date").min().alias("first_delivered_on"))


def history(dates: Sequence[date], state: SettledState, pricing: Pricing) -> pl.DataFrame:
    """The `history` table: one row per date × 税目 × 会計年度 × 現年/滞繰, each date's figures as of that date."""
    taxed = state.versions.select("receivable_id", "tax_code", pl.col("fiscal_year").alias("assessed_year"))
    receipts = state.applications.join(taxed, on="receivable_id", how="left")
    candidates = state.refund_candidates.join(taxed, on="receivable_id", how="inner")
    days = [_rows_of_day(day, state, pricing, receipts, candidates) for day in sorted(set(dates))]
    rows = pl.concat([_empty(), *days], how="diagonal_relaxed")
    summed = rows.group_by(KEY).agg(pl.col(name).sum() for name in AMOUNTS)
    return conformed(summed.with_columns(pl.col(AMOUNTS).fill_null(0)), "history").sort(KEY, nulls_last=True)


def _rows_of_day(day: date, state: SettledState, pricing: Pricing, receipts: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """The day's figures, one amount column per part, not yet summed per key."""
    receivables = receivables_on(day, state.versions, state.principal_history, state.first_delivered)
    receipts = receipts.filter(pl.col("paid_on") <= day)
    owed = state.arrears if day == state.as_of else _arrears_on(day, receivables, state, pricing)
    parts = [
        _current_assessed(receivables),
        _carried_assessed(day, receivables, receipts),
        receipts.group_by("tax_code", "fiscal_year", "current_or_arrears").agg(pl.col("principal_applied").sum().alias("collected")),
        _arrears_rows(day, owed),
        _refunded(day, candidates),
        _open_candidates(day, candidates),
    ]
    return pl.concat(parts, how="diagonal_relaxed").with_columns(pl.lit(day).alias("as_of"))


def receivables_on(day: date, versions: pl.DataFrame, principal_history: pl.DataFrame, first_delivered: pl.DataFrame) -> pl.DataFrame:
    """The receivables delivered by `day`, each with the 本税 in force on that day (a 更正 from its 更正日)."""
    known = versions.join(first_delivered.filter(pl.col("first_delivered_on") <= day), on="receivable_id", how="semi")
    in_force = principal_history.filter(pl.col("effective_from").is_null() | (pl.col("effective_from") <= day))
    principal = in_force.group_by("receivable_id", maintain_order=True).agg(pl.col("principal").last())
    joined = known.drop("principal").join(principal, on="receivable_id", how="left", maintain_order="left")
    return joined.with_columns(pl.col("principal").fill_null(0))


def _current_assessed(receivables: pl.DataFrame) -> pl.DataFrame:
    """現年 調定額: the 本税 of each 調定年度's receivables, as that year's own."""
    assessed = receivables.filter(pl.col("fiscal_year").is_not_null()).group_by("tax_code", "fiscal_year")
    return assessed.agg(pl.col("principal").sum().alias("assessed")).with_columns(pl.lit(ReceiptYearClass.CURRENT.value).alias("current_or_arrears"))


def open_fiscal_years(day: date) -> list[int]:
    """The fiscal years still open on `day`: its own, and the previous one in the 出納整理期間 (4/1–5/31)."""
    own = day.year - (day.month < FISCAL_YEAR_FIRST_MONTH)
    closing = FISCAL_YEAR_FIRST_MONTH <= day.month <= CLOSING_PERIOD_LAST_MONTH
    return [own - 1, own] if closing else [own]


def _carried_assessed(day: date, receivables: pl.DataFrame, receipts: pl.DataFrame) -> pl.DataFrame:
    """滞繰 調定額 of each fiscal year open on `day` or with 滞繰 receipts: the 本税 of earlier years' receivables not collected in earlier fiscal years."""
    carried, arrears_receipts = [], receipts.filter(pl.col("current_or_arrears") == ReceiptYearClass.ARREARS.value)
    for year in sorted(set(open_fiscal_years(day)) | set(arrears_receipts["fiscal_year"].unique().to_list())):
        earlier = receipts.filter(pl.col("fiscal_year") < year).group_by("receivable_id").agg(pl.col("principal_applied").sum().alias("paid"))
        owed = receivables.filter(pl.col("fiscal_year") < year).join(earlier, on="receivable_id", how="left")
        left = (pl.col("principal") - pl.col("paid").fill_null(0)).clip(lower_bound=0)
        carried.append(owed.group_by("tax_code").agg(left.sum().alias("assessed")).with_columns(pl.lit(year).alias("fiscal_year")))
    return pl.concat(carried).with_columns(pl.lit(ReceiptYearClass.ARREARS.value).alias("current_or_arrears"))


def _arrears_on(day: date, receivables: pl.DataFrame, state: SettledState, pricing: Pricing) -> pl.DataFrame:
    """The `arrears` rows as of an earlier day: the ledger and 充当 cut at that day, 延滞金 priced to it."""
    ledger = state.ledger.filter(pl.col("paid_on") <= day)
    offsets = state.offsets.filter(pl.col("offset_on") <= day)
    return arrears(receivables, ledger, offsets, day, pricing.rates, pricing.low_rate_months, pricing.exemption_periods)


def _arrears_rows(day: date, owed: pl.DataFrame) -> pl.DataFrame:
    """滞納 本税 and 延滞金 of the day, in the year and class a receipt of that day would take."""
    years = receipt_fiscal_year(pl.lit(day), pl.col("fiscal_year"))
    placed = owed.select("tax_code", *years, "principal_outstanding", "late_fee")
    return placed.group_by("tax_code", "fiscal_year", "current_or_arrears").agg(
        pl.col("principal_outstanding").sum().alias("arrears_principal"), pl.col("late_fee").sum().alias("arrears_late_fee")
    )


def _refunded(day: date, candidates: pl.DataFrame) -> pl.DataFrame:
    """Yen refunded by `day`, in the year and class of its 支出決定日 (a refund gives back a receipt)."""
    refunded = candidates.filter((pl.col("status") == CandidateStatus.REFUNDED) & (pl.col("refunded_on") <= day))
    placed = refunded.select("tax_code", *receipt_fiscal_year(pl.col("refunded_on"), pl.col("assessed_year")), "refund_amount")
    return placed.group_by("tax_code", "fiscal_year", "current_or_arrears").agg(pl.col("refund_amount").sum().alias("refunded"))


def _open_candidates(day: date, candidates: pl.DataFrame) -> pl.DataFrame:
    """Yen of refund candidates open on `day`: arisen, not expired, not refunded by then, not wholly offset."""
    refunded_by_then = (pl.col("status") == CandidateStatus.REFUNDED) & (pl.col("refunded_on") <= day)
    arisen = (pl.col("arose_on") <= day) & (pl.col("expires_on") > day) & (pl.col("refund_amount") > 0)
    open_ones = candidates.filter(arisen & ~refunded_by_then & (pl.col("status") != CandidateStatus.OFFSET))
    placed = open_ones.select("tax_code", *receipt_fiscal_year(pl.lit(day), pl.col("assessed_year")), "refund_amount")
    return placed.group_by("tax_code", "fiscal_year", "current_or_arrears").agg(pl.col("refund_amount").sum().alias("refund_candidates_open"))


def _empty() -> pl.DataFrame:
    """No rows, every column typed (so that a day without any figure still concatenates)."""
    types = {"as_of": pl.Date, "tax_code": pl.String, "fiscal_year": pl.Int64, "current_or_arrears": pl.String}
    return pl.DataFrame(schema=types | {name: pl.Int64 for name in AMOUNTS})
