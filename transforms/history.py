"""The `history` table (CONTRACT v2): for each settlement date run, per 税目 × 会計年度 × 現年/滞繰, the figures as of that date.

Every date's rows come from the state rebuilt from everything stored now, cut at that date: a
receivable counts from the first snapshot that delivered it, with the 本税 its 本税 history gives
on that date; a receipt counts from its 納付日, a 充当 from its 充当適状日, a refund from its
支出決定日. So the table is a function of the stored inputs and the dates run, the same whatever
order the dates ran in, and a re-run of an old date gives that date's figures, not today's. The
figures are restated: a payment delivered late but paid before a date counts on that date, as the
receivable it was applied to now. Sums and filters give every column but one: 延滞金 as of an old
date grows with the days and is not a sum of dated events, so the arrears of each earlier date are
priced again by `transforms.arrears.arrears` over the ledger cut at that date.

That pricing is the cost of the step, and it would grow with every date run (about 1.4 CPU s a date
at 1M). So a date's rows are computed again only when what they are made of changed: each date has
a fingerprint, the sums of two hashes of every row of the cut state (the rows dated on or before it:
receivables from their first delivery, 本税 history, receipts, ledger, 充当, refund candidates) and
a token of what prices them (rates, low-rate months, exemption periods, the source of the modules
that compute the rows). A date whose fingerprint is the one stored beside its rows keeps them; the
latest date is always computed (its arrears are the rebuild's own). The result is the same as
computing every date (tests/transforms/test_history.py), at the cost of hashing the state once.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

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


@dataclass(frozen=True)
class DatedHistory:
    """The `history` rows and, per date, the fingerprint of what its rows were made of (table `history_days`)."""

    rows: pl.DataFrame
    days: pl.DataFrame


def history(dates: Sequence[date], state: SettledState, pricing: Pricing, kept: DatedHistory | None = None) -> DatedHistory:
    """The `history` table: one row per date × 税目 × 会計年度 × 現年/滞繰, each date's figures as of that date.

    kept: the history stored by the run before; its rows of a date whose fingerprint is unchanged are kept.
    """
    days = sorted(set(dates))
    fingerprints = day_fingerprints(days, dated_hashes(state), pricing)
    unchanged = unchanged_days(fingerprints, kept, state.as_of)
    rows = dated_rows([day for day in days if day not in unchanged], state, pricing)
    return dated_history(rows, fingerprints, kept, unchanged)


def dated_history(rows: pl.DataFrame, fingerprints: pl.DataFrame, kept: DatedHistory | None, unchanged: Sequence[date]) -> DatedHistory:
    """The `history` table of the dates' rows (`dated_rows`: of every taxpayer, or of parts of them, to be summed) and the kept rows of the unchanged dates."""
    summed = rows.group_by(KEY).agg(pl.col(name).sum() for name in AMOUNTS).with_columns(pl.col(AMOUNTS).fill_null(0))
    if kept is not None and unchanged:
        summed = pl.concat([summed, kept.rows.filter(pl.col("as_of").is_in(list(unchanged)))], how="diagonal_relaxed")
    return DatedHistory(conformed(summed, "history").sort(KEY, nulls_last=True), conformed(fingerprints, "history_days"))


def dated_rows(days: Sequence[date], state: SettledState, pricing: Pricing, arrears_years: pl.DataFrame | None = None) -> pl.DataFrame:
    """The figures of each of `days`, summed per key, of the taxpayers of `state`.

    arrears_years (`arrears_receipt_years` of every taxpayer): the 滞繰 receipts' fiscal years, each
    with its first 納付日, whose 滞繰 調定額 a day counts; the state's own when None.
    """
    receipts, candidates = _receipts_and_candidates(state)
    years = arrears_years if arrears_years is not None else _arrears_years(receipts)
    computed = [_rows_of_day(day, state, pricing, receipts, candidates, years) for day in days]
    rows = pl.concat([_empty(), *computed], how="diagonal_relaxed")
    return rows.group_by(KEY).agg(pl.col(name).sum() for name in AMOUNTS)


def _receipts_and_candidates(state: SettledState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The applications and the refund candidates, each with its receivable's tax code and 調定年度 (assessed_year)."""
    taxed = state.versions.select("receivable_id", "tax_code", pl.col("fiscal_year").alias("assessed_year"))
    return state.applications.join(taxed, on="receivable_id", how="left"), state.refund_candidates.join(taxed, on="receivable_id", how="inner")


def arrears_receipt_years(state: SettledState) -> pl.DataFrame:
    """fiscal_year and first_paid_on of the 滞繰 receipts of the state's taxpayers (parts' are combined by `combined_arrears_years`)."""
    return _arrears_years(_receipts_and_candidates(state)[0])


def _arrears_years(receipts: pl.DataFrame) -> pl.DataFrame:
    arrears_receipts = receipts.filter(pl.col("current_or_arrears") == ReceiptYearClass.ARREARS.value)
    return arrears_receipts.group_by("fiscal_year").agg(pl.col("paid_on").min().alias("first_paid_on"))


def combined_arrears_years(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The `arrears_receipt_years` of some parts of the taxpayers, as of all of them."""
    return pl.concat(parts).group_by("fiscal_year").agg(pl.col("first_paid_on").min())


def unchanged_days(fingerprints: pl.DataFrame, kept: DatedHistory | None, as_of: date) -> list[date]:
    """The dates, other than as_of, whose fingerprint is the one stored with their kept rows."""
    if kept is None:
        return []
    same = fingerprints.join(kept.days, on=["as_of", "fingerprint"], how="semi")
    return [day for day in same["as_of"].to_list() if day != as_of]


# What each part of the state is dated by: a row can change the figures of its date and every later one.
def _dated_parts(state: SettledState, receipts: pl.DataFrame, candidates: pl.DataFrame) -> dict[str, tuple[pl.DataFrame, pl.Expr]]:
    return {
        "receivables": (state.versions.join(state.first_delivered, on="receivable_id", how="left"), pl.col("first_delivered_on")),
        "principal_history": (state.principal_history, pl.col("effective_from")),
        "receipts": (receipts, pl.col("paid_on")),
        # Not its receivable_number: a rank among the ledger's own receivables, which a part of the taxpayers numbers otherwise.
        "ledger": (state.ledger.drop("receivable_number", strict=False), pl.col("paid_on")),
        "offsets": (state.offsets, pl.col("offset_on")),
        # Only what the rows read: a candidate's 還付加算金 grows with as_of and is no figure of `history`.
        "refund_candidates": (candidates.select(CANDIDATE_COLUMNS), pl.min_horizontal("arose_on", "refunded_on")),
    }


CANDIDATE_COLUMNS = ("candidate_id", "tax_code", "assessed_year", "status", "arose_on", "refunded_on", "expires_on", "refund_amount")


# Two 32-bit halves of differently seeded row hashes, summed per date: no overflow below 2³² rows.
HASH_SEEDS = (1, 2)
BEFORE_ANY_DATE = date(1, 1, 1)


def dated_hashes(state: SettledState) -> pl.DataFrame:
    """on, first and second: per date, the sums of the two row hashes of every row of the state dated on it (parts' may be concatenated)."""
    receipts, candidates = _receipts_and_candidates(state)
    events = pl.concat([_row_hashes(name, frame, dated) for name, (frame, dated) in _dated_parts(state, receipts, candidates).items()])
    return events.group_by("on").agg(pl.col("first", "second").sum())


def day_fingerprints(days: Sequence[date], hashes: pl.DataFrame, pricing: Pricing) -> pl.DataFrame:
    """as_of and fingerprint: for each day, the sums of the row hashes (`dated_hashes`) of every row dated on or before it, and the pricing's token."""
    running = hashes.group_by("on").agg(pl.col("first", "second").sum()).sort("on").with_columns(pl.col("first", "second").cum_sum())
    found = pl.DataFrame({"as_of": list(days)}, schema={"as_of": pl.Date}).join_asof(running, left_on="as_of", right_on="on", strategy="backward")
    fingerprint = pl.format("{}-{}-{}", pl.lit(_pricing_token(pricing)), pl.col("first").fill_null(0), pl.col("second").fill_null(0))
    return found.select("as_of", fingerprint.alias("fingerprint"))


def _row_hashes(name: str, frame: pl.DataFrame, dated: pl.Expr) -> pl.DataFrame:
    """(on, first, second): each row's date (undated rows count from the start) and two 32-bit hashes of its values and its part's name."""
    named = frame.with_columns(pl.lit(name).alias("part_name"))
    first, second = (named.hash_rows(seed=seed) // (1 << 32) for seed in HASH_SEEDS)
    on = frame.select(dated.fill_null(BEFORE_ANY_DATE).cast(pl.Date).alias("on"))
    return on.with_columns(first.alias("first"), second.alias("second"))


# The modules whose code makes a date's rows: a change to any of them computes every date again.
RULE_MODULES = (
    "transforms.history",
    "transforms.arrears",
    "transforms.late_fee",
    "transforms.late_fee_frames",
    "transforms.late_fees_owed",
    "transforms.ledger",
    "transforms.fiscal_year",
    "transforms.calendar",
)


def _pricing_token(pricing: Pricing) -> str:
    """A digest of what prices and places a date's rows besides the state: rates, low-rate months, exemption periods, the rules' code, polars."""
    exemptions = pricing.exemption_periods
    parts = [
        repr(sorted(pricing.rates.by_year.items())),
        repr(sorted((pricing.low_rate_months or {}).items())),
        "" if exemptions is None else repr(exemptions.sort(exemptions.columns).rows()),
        _rules_digest(),
        pl.__version__,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@cache
def _rules_digest() -> str:
    """sha256 of the source of RULE_MODULES."""
    digest = hashlib.sha256()
    for name in RULE_MODULES:
        digest.update(inspect.getsource(importlib.import_module(name)).encode())
    return digest.hexdigest()


def _rows_of_day(day: date, state: SettledState, pricing: Pricing, receipts: pl.DataFrame, candidates: pl.DataFrame, arrears_years: pl.DataFrame) -> pl.DataFrame:
    """The day's figures, one amount column per part, not yet summed per key."""
    receivables = receivables_on(day, state.versions, state.principal_history, state.first_delivered)
    receipts = receipts.filter(pl.col("paid_on") <= day)
    owed = state.arrears if day == state.as_of else _arrears_on(day, receivables, state, pricing)
    parts = [
        _current_assessed(receivables),
        _carried_assessed(day, receivables, receipts, arrears_years.filter(pl.col("first_paid_on") <= day)["fiscal_year"].to_list()),
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


def _carried_assessed(day: date, receivables: pl.DataFrame, receipts: pl.DataFrame, arrears_years: list[int]) -> pl.DataFrame:
    """滞繰 調定額 of each fiscal year open on `day` or with 滞繰 receipts by then (arrears_years): the 本税 of earlier years' receivables not collected in earlier fiscal years."""
    carried = []
    for year in sorted(set(open_fiscal_years(day)) | set(arrears_years)):
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
