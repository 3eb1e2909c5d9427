"""延滞金 and 還付加算金 of whole frames of receivables at once (SPEC §4.1, §4.2, §6.1).

The law and rounding of transforms/late_fee.py, written as one polars query per call so that
the arrears of millions of receivables are rebuilt without a Python loop per receivable; the
tests check it against that reference. Each receivable's days are cut into spans at its first
day, every 1/1, the day after its one-month day and the day after each partial payment; each
span is priced as floor(thousands of yen × rate in hundredths of a percent × days / 3,650).
Receivables with exemption periods have their spans cut again at each period's first day and the
day after its last, and a span inside a period with exempted fraction n/d is priced as
floor(thousands × rate × days × (d − n) / (3,650 × d)).
"""

from fractions import Fraction

from decimal import Decimal

import polars as pl

from schemas.rates import RATE_UNITS_PER_PERCENT, MissingRateError, RatesTable
from transforms.late_fee import BASE_UNIT, DAYS_IN_RATE_YEAR, SMALLEST_BASE, SMALLEST_TOTAL, TOTAL_UNIT

# Rates are counted in hundredths of a percent (schemas/rates.py refuses finer ones when the table
# loads) so that base × rate × days / 365 stays in integers:
# base × rate% × days / 365 = thousands × rate units × days / (100 × 100 × 365 / 1,000): a base is
# always whole thousands of yen (§20条の4の2).
PIECE_DIVISOR = 100 * RATE_UNITS_PER_PERCENT * DAYS_IN_RATE_YEAR // BASE_UNIT
# A piece never crosses New Year, so it has at most 366 days.
LONGEST_PIECE_DAYS = 366
LARGEST_INT64 = 2**63 - 1
LEAP_YEARS_BEFORE_1970 = 1969 // 4 - 1969 // 100 + 1969 // 400
RATE_NAMES = ("late_fee_low_rate", "late_fee_high_rate", "refund_interest_rate")
PERIOD_COLUMNS = ("receivable_id", "principal", "effective_due_date", "end_date", "low_rate_months")
PAYMENT_COLUMNS = ("receivable_id", "paid_on", "amount")
OVERPAYMENT_COLUMNS = ("candidate_id", "amount", "start", "end")
# An exemption period's end_on may be null: still in force. Its fraction is exact, numerator over denominator.
EXEMPTION_COLUMNS = ("receivable_id", "start_on", "end_on", "exempted_numerator", "exempted_denominator")
EXEMPTION_REQUIRED = ("receivable_id", "start_on", "exempted_numerator", "exempted_denominator")
FRACTION_COLUMNS = ("exempted_numerator", "exempted_denominator")
RANK_SCHEMA = {"exempted_numerator": pl.Int64, "exempted_denominator": pl.Int64, "rank": pl.Int64}
ONE_DAY = pl.duration(days=1)


def one_month_day_expression(start: pl.Expr, months: pl.Expr | int = 1) -> pl.Expr:
    """A polars expression for late_fee.one_month_day of a Date expression (民法 §143)."""
    # The day before the same day-number `months` later, or that month's last day when the
    # number does not exist there: both are min(that month's 1st + (day − 2), its last day).
    month_number = start.dt.year().cast(pl.Int64) * 12 + start.dt.month() - 1 + months
    day_before_same_day = _first_of_month(month_number) + pl.duration(days=start.dt.day() - 2)
    return pl.min_horizontal(day_before_same_day, _first_of_month(month_number + 1) - ONE_DAY)


def late_fees(
    periods: pl.DataFrame,
    principal_payments: pl.DataFrame,
    rates: RatesTable,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The rounded 延滞金 of every receivable in periods, in the order of periods, exemption periods applied."""
    pieces = late_fee_pieces_by_row(periods, principal_payments, rates, exemption_periods)
    return periods.select("receivable_id", _rounded_totals(pieces, periods.height).alias("late_fee"))


def late_fees_exempted(
    periods: pl.DataFrame, principal_payments: pl.DataFrame, rates: RatesTable, exemption_periods: pl.DataFrame
) -> pl.DataFrame:
    """The 延滞金 in yen each receivable in periods is not charged because of its exemption periods, in the order of periods.

    As transforms.late_fee.late_fee_exempted defines it: the rounded total without the periods minus
    the rounded total with them. Only the receivables that have a period are priced twice.
    """
    _refuse_nulls(exemption_periods, EXEMPTION_REQUIRED)
    exempt = periods.filter(pl.col("receivable_id").is_in(exemption_periods["receivable_id"].implode()))
    charged = late_fees(exempt, principal_payments, rates, exemption_periods)["late_fee"]
    exempted = late_fees(exempt, principal_payments, rates).with_columns(pl.col("late_fee") - charged)
    by_receivable = exempted.rename({"late_fee": "late_fee_exempted"})
    joined = periods.select("receivable_id").join(by_receivable, on="receivable_id", how="left", maintain_order="left")
    return joined.with_columns(pl.col("late_fee_exempted").fill_null(0))


def late_fee_pieces_by_row(
    periods: pl.DataFrame,
    principal_payments: pl.DataFrame,
    rates: RatesTable,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """The pieces of 延滞金 of every receivable, unordered: its row in periods, start, end, year, days, low (the lower rate), thousands (the base) and yen.

    exemption_periods (EXEMPTION_COLUMNS) are keyed by receivable_id; with them every piece also
    has exempted_numerator and exempted_denominator: the share of its 延滞金 taken away, 0/1
    outside every period. Without them the pieces are exactly those of a run before §6.1.
    """
    # A total does not need its pieces in order, so the two kinds of spans are simply stacked.
    spans = pl.concat(_late_fee_spans(periods, principal_payments, rates, exemption_periods))
    if exemption_periods is None:
        return _priced(spans, _late_fee_rate(rates))
    clipped = _clipped_exemptions(periods, exemption_periods)
    return _priced(_spans_with_exemptions(spans, clipped), _late_fee_rate(rates), exempted=True)


def refund_interests(overpayments: pl.DataFrame, rates: RatesTable) -> pl.DataFrame:
    """The rounded 還付加算金 of every overpayment, in the order of overpayments."""
    _refuse_nulls(overpayments, OVERPAYMENT_COLUMNS)
    if (overpayments["amount"] < 0).any():
        raise ValueError("a refund cannot be negative")
    _refuse_overflow(overpayments["amount"].max(), rates)
    running = overpayments.with_row_index("row").filter(pl.col("start") <= pl.col("end"))
    _refuse_missing_rates(running["start"], running["end"], rates)
    spans = _year_spans(running.lazy()).with_columns(pl.col("amount").alias("remaining"))
    pieces = _priced(spans, _rate_units_by_year(rates, "refund_interest_rate"))
    refund_interest = _rounded_totals(pieces, overpayments.height).alias("refund_interest")
    return overpayments.select("candidate_id", refund_interest)


def _late_fee_spans(
    periods: pl.DataFrame, principal_payments: pl.DataFrame, rates: RatesTable, exemption_periods: pl.DataFrame | None
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The spans of receivables whose base never falls, and of the others; each sorted by row and day."""
    receivables = _receivables(periods)
    # Pricing an exempted span multiplies by the fraction's denominator before dividing.
    largest_denominator = 1 if exemption_periods is None else exemption_periods["exempted_denominator"].max() or 1
    _refuse_overflow(receivables["principal"].max(), rates, largest_denominator)
    running = receivables.filter(pl.col("start") <= pl.col("end_date"))
    _refuse_missing_rates(running["start"], running["end_date"], rates)
    changes = _base_changes(_payments_by_row(periods, receivables, principal_payments))
    # Most receivables are paid at once or not at all: their spans are their rate spans, unmerged.
    base_falls = pl.col("row").is_in(changes["row"].unique().implode())
    constant_base_spans = _rate_spans(running.lazy().filter(~base_falls)).rename({"principal": "remaining"})
    return constant_base_spans, _spans_cut_at(_rate_spans(running.lazy().filter(base_falls)), changes.lazy())


def _receivables(periods: pl.DataFrame) -> pl.DataFrame:
    """The row, 本税, first and last day of 延滞金 and one-month day of each receivable, checked."""
    _refuse_nulls(periods, PERIOD_COLUMNS)
    if (periods["principal"] < 0).any():
        raise ValueError("本税 cannot be negative")
    if (periods["low_rate_months"] < 1).any():
        raise ValueError("a low-rate period is at least one month")
    # 延滞金 runs from the day after the effective 納期限 (§4.1).
    start = pl.col("effective_due_date") + ONE_DAY
    months = pl.col("low_rate_months").cast(pl.Int64)
    return (
        periods.lazy()
        .with_row_index("row")
        .select(
            "row",
            "principal",
            start.alias("start"),
            one_month_day_expression(start, months).alias("low_rate_end"),
            "end_date",
        )
        .collect()
    )


def _payments_by_row(
    periods: pl.DataFrame, receivables: pl.DataFrame, principal_payments: pl.DataFrame
) -> pl.DataFrame:
    """The payments made by each receivable's end_date, with the receivable's row and days, checked."""
    _refuse_nulls(principal_payments, PAYMENT_COLUMNS)
    if (principal_payments["amount"] < 0).any():
        raise ValueError("a partial payment cannot be negative")
    rows = periods.lazy().select("receivable_id").with_row_index("row")
    # A payment after end_date comes after 延滞金 stopped running, so it cannot change it.
    payments = (
        principal_payments.lazy()
        .select(PAYMENT_COLUMNS)
        .join(rows, on="receivable_id", how="inner")
        .join(receivables.lazy(), on="row", how="inner")
        .filter(pl.col("paid_on") <= pl.col("end_date"))
        .collect()
    )
    # Int128: no run of absurd amounts can wrap around and slip under the 本税.
    paid = payments.group_by("row").agg(pl.col("amount").cast(pl.Int128).sum(), pl.col("principal").first())
    if (paid["amount"] > paid["principal"]).any():
        raise ValueError("partial payments exceed the 本税 of a receivable")
    return payments


def _base_changes(payments: pl.DataFrame) -> pl.DataFrame:
    """The days a receivable's base falls, with the 本税 paid before them, sorted by row and day."""
    # A payment lowers the base from the day after it (§4.1); one made before 延滞金 starts lowers it
    # from the first day; one made on the last day, or for a receivable paid by its 納期限, changes
    # no day that bears 延滞金.
    lowered_from = pl.max_horizontal(pl.col("paid_on") + ONE_DAY, "start").alias("start")
    receivable = ("principal", "low_rate_end", "end_date")
    return (
        payments.lazy()
        .filter(pl.col("paid_on") < pl.col("end_date"), pl.col("start") <= pl.col("end_date"))
        .group_by("row", lowered_from)
        .agg(pl.col("amount").sum(), *(pl.col(name).first() for name in receivable))
        .sort("row", "start")
        .select(
            "row",
            "start",
            # Until the next event the span may run to the receivable's last day.
            pl.col("end_date").alias("end"),
            (pl.col("start") <= pl.col("low_rate_end")).alias("low"),
            "principal",
            _sum_within("amount", "row").alias("paid_before"),
        )
        .collect()
    )


def _rate_spans(running: pl.LazyFrame) -> pl.LazyFrame:
    """The spans of one year and one rate of each running receivable, with its 本税, sorted."""
    year_spans = _year_spans(running.rename({"end_date": "end"}))
    # The higher rate runs from the day after the one-month day, splitting that year's span in two.
    higher_rate_start = pl.col("low_rate_end") + ONE_DAY
    splits = (higher_rate_start > pl.col("start")) & (higher_rate_start <= pl.col("end"))
    part = pl.col("part")
    parts = pl.int_ranges(0, splits.cast(pl.Int32) + 1, dtype=pl.Int32)
    return (
        year_spans.with_columns(parts.alias("part"))
        .explode("part")
        .select(
            "row",
            pl.when(part == 0).then("start").otherwise(higher_rate_start).alias("start"),
            pl.when((part == 0) & splits).then("low_rate_end").otherwise("end").alias("end"),
            ((part == 0) & (pl.col("start") <= pl.col("low_rate_end"))).alias("low"),
            "principal",
        )
    )


def _spans_cut_at(rate_spans: pl.LazyFrame, changes: pl.LazyFrame) -> pl.LazyFrame:
    """rate_spans cut again on each day the base falls, with the 本税 remaining on each span."""
    boundaries = rate_spans.with_columns(pl.lit(None, pl.Int64).alias("paid_before"))
    # Left-biased: a rate boundary and a change on one day come in that order, the change last.
    events = boundaries.merge_sorted(changes, key=["row", "start"], maintain_order=True)
    first_event = (pl.col("row") != pl.col("row").shift(1)).fill_null(True)
    # A receivable's first event is its first day: nothing is paid yet unless a change on that day
    # follows it. Every later event carries the 本税 paid through the last change before it.
    paid_before = pl.when(first_event & pl.col("paid_before").is_null()).then(0).otherwise("paid_before")
    # Events on one day start a single span, and its last event has seen all that day's payments.
    next_same_row = pl.col("row") == pl.col("row").shift(-1)
    last_of_day = ~(next_same_row & (pl.col("start") == pl.col("start").shift(-1))).fill_null(False)
    day_before_next = pl.col("start").shift(-1) - ONE_DAY
    return (
        events.with_columns(paid_before.forward_fill().alias("paid_before"))
        .filter(last_of_day)
        .select(
            "row",
            "start",
            pl.when(next_same_row).then(day_before_next).otherwise("end").alias("end"),
            "low",
            (pl.col("principal") - pl.col("paid_before")).alias("remaining"),
        )
    )


def _clipped_exemptions(periods: pl.DataFrame, exemption_periods: pl.DataFrame) -> pl.DataFrame:
    """The exemption periods, checked, by receivable row, clipped to the days that bear 延滞金, with the rank of their fraction."""
    _refuse_bad_exemptions(exemption_periods)
    first_day = (pl.col("effective_due_date") + ONE_DAY).alias("first_day")
    rows = periods.lazy().select("receivable_id", first_day, "end_date").with_row_index("row")
    # A period starting before the day after the 納期限, ending after the last day or still in force
    # only counts on the days that bear 延滞金 (§6.1).
    start = pl.max_horizontal("start_on", "first_day").alias("period_start")
    end = pl.min_horizontal(pl.col("end_on").fill_null(pl.col("end_date")), "end_date").alias("period_end")
    clipped = (
        exemption_periods.lazy()
        .select(EXEMPTION_COLUMNS)
        .join(rows, on="receivable_id", how="inner")
        .select("row", start, end, *(pl.col(name).cast(pl.Int64) for name in FRACTION_COLUMNS))
        .filter(pl.col("period_start") <= pl.col("period_end"))
        .collect()
    )
    return clipped.join(_fraction_ranks(clipped), on=FRACTION_COLUMNS, how="left")


def _refuse_bad_exemptions(exemption_periods: pl.DataFrame) -> None:
    """Raise ValueError for an exemption period with a null, that ends before it starts, or that exempts no share or more than all."""
    _refuse_nulls(exemption_periods, EXEMPTION_REQUIRED)
    if (exemption_periods["end_on"] < exemption_periods["start_on"]).any():
        raise ValueError("an exemption period ends before it starts")
    numerator, denominator = pl.col("exempted_numerator"), pl.col("exempted_denominator")
    if exemption_periods.select(((numerator <= 0) | (numerator > denominator)).any()).item():
        raise ValueError("an exempted fraction is more than 0 and at most 1")


def _fraction_ranks(clipped: pl.DataFrame) -> pl.DataFrame:
    """Each distinct exempted fraction of clipped with its rank, from the smallest (1) up, compared exactly."""
    # Overlapping periods: the larger fraction wins (§6.1). There are few distinct fractions, so they
    # are ordered here as exact Fractions, and the frames only compare their integer ranks.
    ordered = sorted(clipped.select(FRACTION_COLUMNS).unique().rows(), key=lambda pair: Fraction(*pair))
    ranks = [(*pair, rank) for rank, pair in enumerate(ordered, start=1)]
    return pl.DataFrame(ranks, schema=[*FRACTION_COLUMNS, "rank"], orient="row", schema_overrides=RANK_SCHEMA)


def _spans_with_exemptions(spans: pl.LazyFrame, clipped: pl.DataFrame) -> pl.LazyFrame:
    """spans cut again at the first day and after the last day of each exemption period, with the fraction exempted on each."""
    exempt_rows = pl.col("row").is_in(clipped["row"].unique().implode())
    plain = spans.filter(~exempt_rows).with_columns(
        pl.lit(0, pl.Int64).alias("exempted_numerator"), pl.lit(1, pl.Int64).alias("exempted_denominator")
    )
    cut = _spans_cut_at_periods(spans.filter(exempt_rows), clipped.lazy())
    # The largest fraction among the periods in force on a span's first day holds for the whole span.
    covering = (pl.col("period_start") <= pl.col("start")) & (pl.col("start") <= pl.col("period_end"))
    largest = cut.join(clipped.lazy(), on="row").filter(covering).group_by("row", "start").agg(pl.col("rank").max())
    ranks = clipped.lazy().select(*FRACTION_COLUMNS, "rank").unique()
    exempted = (
        cut.join(largest, on=["row", "start"], how="left")
        .join(ranks, on="rank", how="left")
        # A span in no period has rank null: nothing exempted, 0/1.
        .with_columns(pl.col("exempted_numerator").fill_null(0), pl.col("exempted_denominator").fill_null(1))
        .drop("rank")
    )
    return pl.concat([plain, exempted])


def _spans_cut_at_periods(spans: pl.LazyFrame, clipped: pl.LazyFrame) -> pl.LazyFrame:
    """spans cut on each exemption period's first day and on the day after its last."""
    first_days = clipped.select("row", pl.col("period_start").alias("cut"))
    days_after = clipped.select("row", (pl.col("period_end") + ONE_DAY).alias("cut"))
    # A span (row, start) begins a piece on its own first day and on each cut inside it; two periods
    # may share a cut, which begins one piece.
    inside = (pl.col("start") < pl.col("cut")) & (pl.col("cut") <= pl.col("end"))
    cuts = spans.join(pl.concat([first_days, days_after]), on="row").filter(inside)
    starts = pl.concat([spans.with_columns(pl.col("start").alias("cut")), cuts]).unique(["row", "start", "cut"])
    same_span = (pl.col("row") == pl.col("row").shift(-1)) & (pl.col("start") == pl.col("start").shift(-1))
    return starts.sort("row", "start", "cut").select(
        "row",
        pl.col("cut").alias("start"),
        pl.when(same_span).then(pl.col("cut").shift(-1) - ONE_DAY).otherwise("end").alias("end"),
        "low",
        "remaining",
    )


def _year_spans(running: pl.LazyFrame) -> pl.LazyFrame:
    """The rows of running split into spans of one calendar year between start and end."""
    years = pl.int_ranges(pl.col("start").dt.year(), pl.col("end").dt.year() + 1, dtype=pl.Int32)
    return (
        running.with_columns(years.alias("year"))
        .explode("year")
        .with_columns(
            pl.max_horizontal("start", _new_years_day(pl.col("year"))).alias("start"),
            pl.min_horizontal("end", _new_years_day(pl.col("year") + 1) - ONE_DAY).alias("end"),
        )
    )


def _priced(spans: pl.LazyFrame, rate: pl.Expr, exempted: bool = False) -> pl.LazyFrame:
    """spans with their days, base in thousands of yen and truncated yen (§20条の4の2), less their exempted share when exempted."""
    days = ((pl.col("end") - pl.col("start")).dt.total_days() + 1).cast(pl.Int64)
    # A base under 2,000 yen bears none; otherwise it is floored to 1,000 yen.
    remaining = pl.col("remaining")
    thousands = pl.when(remaining < SMALLEST_BASE).then(0).otherwise(remaining // BASE_UNIT)
    priced = spans.with_columns(
        pl.col("start").dt.year().alias("year"), days.alias("days"), thousands.alias("thousands")
    )
    product = pl.col("thousands") * rate * pl.col("days")
    if not exempted:
        return priced.with_columns((product // PIECE_DIVISOR).alias("amount"))
    # floor(base × rate × days × (1 − n/d) / 365): multiplied by d − n before the one division, exact.
    numerator, denominator = pl.col("exempted_numerator"), pl.col("exempted_denominator")
    charged = product * (denominator - numerator) // (PIECE_DIVISOR * denominator)
    return priced.with_columns(charged.alias("amount"))


def _rounded_totals(pieces: pl.LazyFrame, height: int) -> pl.Series:
    """The sum of the pieces of each of height rows, 0 under 1,000 yen, otherwise floored to 100 yen."""
    total = pl.col("amount").sum()
    rounded = pl.when(total < SMALLEST_TOTAL).then(0).otherwise(total // TOTAL_UNIT * TOTAL_UNIT)
    totals = pieces.group_by("row").agg(rounded.cast(pl.Int64).alias("total")).collect()
    # A row without pieces has no day that bears interest, so it bears none.
    return pl.zeros(height, pl.Int64, eager=True).scatter(totals["row"], totals["total"])


def _sum_within(values: str, group: str) -> pl.Expr:
    """The running sum of values within each run of equal group values."""
    # One running sum over the frame, minus its value where the group begins; Int128 so that the
    # frame-wide sum cannot overflow even when every receivable holds 10^12 yen.
    running = pl.col(values).cast(pl.Int128).cum_sum()
    group_begins = (pl.col(group) != pl.col(group).shift(1)).fill_null(True)
    return (running - pl.when(group_begins).then(running - pl.col(values)).forward_fill()).cast(pl.Int64)


def _new_years_day(year: pl.Expr) -> pl.Expr:
    """1/1 of year."""
    # Counted in days since 1970-01-01, several times faster than pl.date over millions of spans:
    # 365 a year plus one for each Gregorian leap year (every 4th, not every 100th, every 400th).
    before = year.cast(pl.Int32) - 1
    leap_days = before // 4 - before // 100 + before // 400 - LEAP_YEARS_BEFORE_1970
    return (365 * (year.cast(pl.Int32) - 1970) + leap_days).cast(pl.Date)


def _first_of_month(month_number: pl.Expr) -> pl.Expr:
    """The 1st of the month numbered year × 12 + month − 1."""
    return pl.date(month_number // 12, month_number % 12 + 1, 1)


def _late_fee_rate(rates: RatesTable) -> pl.Expr:
    """The low or the high 延滞金 rate of each span, as its column low says, in hundredths of a percent."""
    low_rate, high_rate = _rate_units_by_year(rates, "late_fee_low_rate"), _rate_units_by_year(rates, "late_fee_high_rate")
    return pl.when(pl.col("low")).then(low_rate).otherwise(high_rate)


def _rate_units_by_year(rates: RatesTable, name: str) -> pl.Expr:
    """The rate name of the year in column year, in hundredths of a percent, looked up in a list indexed by year."""
    # A list lookup is several times faster than replace_strict over millions of spans, and the
    # years were checked against the table already (_refuse_missing_rates), so every index hits.
    by_year = rates.by_year
    years = range(min(by_year, default=0), max(by_year, default=-1) + 1)
    units = [_rate_units(getattr(by_year[year], name)) if year in by_year else None for year in years]
    return pl.lit(pl.Series(units, dtype=pl.Int64)).gather(pl.col("year") - years.start)


def _rate_units(rate: Decimal) -> int:
    """A percent rate in hundredths of a percent, exact: YearRates holds no finer rate."""
    return int(rate * RATE_UNITS_PER_PERCENT)


def _refuse_missing_rates(first_days: pl.Series, last_days: pl.Series, rates: RatesTable) -> None:
    """Raise MissingRateError for the earliest year that some period first..last needs and lacks."""
    if first_days.is_empty():
        return
    first_years, last_years = first_days.dt.year(), last_days.dt.year()
    years = range(first_years.min(), last_years.max() + 1)
    missing = pl.Series([year for year in years if year not in rates.by_year], dtype=pl.Int32)
    if missing.is_empty():
        return
    # A period needs a missing year when the first one on or after its first year is not after its last.
    first_missing_index = missing.search_sorted(first_years).clip(upper_bound=len(missing) - 1)
    first_missing = missing.gather(first_missing_index)
    needed = first_missing.filter((first_missing >= first_years) & (first_missing <= last_years))
    if len(needed):
        raise MissingRateError(needed.min())


def _refuse_overflow(largest_amount: int | None, rates: RatesTable, largest_denominator: int = 1) -> None:
    """Raise ValueError when thousands × rate units × days × the largest fraction denominator could overflow Int64."""
    every_rate = [getattr(year_rates, name) for year_rates in rates.by_year.values() for name in RATE_NAMES]
    largest_rate = max((_rate_units(rate) for rate in every_rate), default=0)
    if (largest_amount or 0) // BASE_UNIT * largest_rate * LONGEST_PIECE_DAYS * largest_denominator > LARGEST_INT64:
        raise ValueError(f"{largest_amount} yen is too large for exact Int64 interest arithmetic")


def _refuse_nulls(frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    """Raise ValueError when a required column has a null, which would give a silent null fee."""
    nulls = [column for column in columns if frame[column].null_count()]
    if nulls:
        raise ValueError(f"null values in {', '.join(nulls)}")
