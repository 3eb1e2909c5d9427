"""延滞金 and 還付加算金 over frames, checked against the per-receivable reference (SPEC §4.1–§4.2, §6.1).

The hand-checked numbers are those of tests/transforms/test_late_fee.py; the property tests
compare whole random batches with transforms/late_fee.py, receivable by receivable.
"""

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from random import Random
from types import MappingProxyType
from typing import NamedTuple

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from schemas.rates import MissingRateError, RatesTable, YearRates, load_rates
from tests.transforms.test_late_fee import exemption_periods, refund_interest
from transforms.late_fee import ExemptionPeriod, LateFeeCase, late_fee, late_fee_exempted, late_fee_pieces, one_month_day
from transforms.late_fee_frames import (
    late_fee_pieces_by_row,
    late_fees,
    late_fees_exempted,
    one_month_day_expression,
    refund_interests,
)

RATES = load_rates()
EASY_BASE = 3_650_000
ONE_DAY = timedelta(days=1)
PERIODS_SCHEMA = {
    "receivable_id": pl.String,
    "principal": pl.Int64,
    "effective_due_date": pl.Date,
    "end_date": pl.Date,
    "low_rate_months": pl.Int32,
}
PAYMENTS_SCHEMA = {"receivable_id": pl.String, "paid_on": pl.Date, "amount": pl.Int64}
OVERPAYMENTS_SCHEMA = {"candidate_id": pl.String, "amount": pl.Int64, "start": pl.Date, "end": pl.Date}
PIECES_SCHEMA = {
    "receivable_id": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "days": pl.Int64,
    "base": pl.Int64,
    "rate": pl.String,
    "amount": pl.Int64,
}
EXEMPTIONS_SCHEMA = {
    "receivable_id": pl.String,
    "start_on": pl.Date,
    "end_on": pl.Date,
    "exempted_numerator": pl.Int64,
    "exempted_denominator": pl.Int64,
}
EXEMPTED_PIECES_SCHEMA = PIECES_SCHEMA | {"exempted_fraction": pl.String}
HALF, WHOLE = Fraction(1, 2), Fraction(1)


def periods_frame(*rows: tuple) -> pl.DataFrame:
    """periods from (receivable_id, principal, due, end, low_rate_months) tuples."""
    return pl.DataFrame(list(rows), schema=PERIODS_SCHEMA, orient="row")


def payments_frame(*rows: tuple) -> pl.DataFrame:
    """principal_payments from (receivable_id, paid_on, amount) tuples."""
    return pl.DataFrame(list(rows), schema=PAYMENTS_SCHEMA, orient="row")


def fees_frame(*rows: tuple) -> pl.DataFrame:
    """The expected late_fees from (receivable_id, late_fee) tuples."""
    return pl.DataFrame(list(rows), schema={"receivable_id": pl.String, "late_fee": pl.Int64}, orient="row")


def overpayments_frame(*rows: tuple) -> pl.DataFrame:
    """overpayments from (candidate_id, amount, start, end) tuples."""
    return pl.DataFrame(list(rows), schema=OVERPAYMENTS_SCHEMA, orient="row")


def exemptions_frame(*rows: tuple) -> pl.DataFrame:
    """exemption_periods from (receivable_id, start_on, end_on, fraction) tuples."""
    rows_with_parts = [(*row[:3], row[3].numerator, row[3].denominator) for row in rows]
    return pl.DataFrame(rows_with_parts, schema=EXEMPTIONS_SCHEMA, orient="row")


def late_fee_pieces_frame(
    periods: pl.DataFrame, principal_payments: pl.DataFrame, rates: RatesTable, exemptions: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The vectorised pieces of 延滞金 of every receivable as late_fee_pieces lists them, in periods' order, rates as the table writes them; with exemptions, each piece's exempted fraction too."""
    pieces = late_fee_pieces_by_row(periods, principal_payments, rates, exemptions).sort("row", "start").collect()
    rate_names = ["late_fee_low_rate" if low else "late_fee_high_rate" for low in pieces["low"]]
    rates_text = [str(getattr(rates.for_year(year), name)) for year, name in zip(pieces["year"], rate_names)]
    fractions = []
    if exemptions is not None:
        parts = zip(pieces["exempted_numerator"], pieces["exempted_denominator"])
        fractions = [pl.Series("exempted_fraction", [str(Fraction(*part)) for part in parts], pl.String)]
    return pieces.select(
        periods["receivable_id"].gather(pieces["row"]),
        "start",
        "end",
        "days",
        (pl.col("thousands") * 1_000).cast(pl.Int64).alias("base"),
        pl.Series("rate", rates_text, pl.String),
        "amount",
        *fractions,
    )


@pytest.mark.parametrize("months", [1, 2, 3, 12])
def test_one_month_day_expression_agrees_with_one_month_day_on_every_day(months):
    days = pl.date_range(date(2023, 1, 1), date(2025, 12, 31), eager=True)
    expected = pl.Series([one_month_day(day, months) for day in days], dtype=pl.Date)
    computed = days.to_frame("start").select(one_month_day_expression(pl.col("start"), months)).to_series()
    assert_series_equal(computed, expected, check_names=False)


def test_one_month_day_expression_at_month_ends():
    # 1/29, 1/30, 1/31 in a leap and a common year, and 2/29 itself, as test_late_fee pins them.
    starts = [date(2024, 1, 29), date(2024, 1, 30), date(2024, 1, 31), date(2025, 1, 29), date(2024, 2, 29)]
    expected = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 2, 29), date(2025, 2, 28), date(2024, 3, 28)]
    computed = pl.DataFrame({"start": starts}).select(one_month_day_expression(pl.col("start"))).to_series()
    assert computed.to_list() == expected


def test_late_fees_of_hand_checked_receivables():
    periods = periods_frame(
        # 4/1–4/30 low 7,200; 5/1–5/10 high 8,700; 5/11–6/30 on 1,825,000: 22,185. 38,085 → 38,000.
        ("partial", EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), 1),
        # 123,000 × 2.4 × 30 / 36,500 → 242; 123,000 × 8.7 × 46 / 36,500 → 1,348. 1,590 → 1,500.
        ("truncated", 123_456, date(2024, 5, 31), date(2024, 8, 15), 1),
        # 3,840 (2025, 2.4) + 4,200 (2026, 2.8) + 24,570 (2026, 9.1) = 32,610 → 32,600.
        ("new year", EASY_BASE, date(2025, 12, 15), date(2026, 2, 11), 1),
        # 1,000,000 + 825,000 on 4/10: 2,400 + 2,400.
        ("same day", EASY_BASE, date(2025, 3, 31), date(2025, 4, 30), 1),
        # 保険料: low 4/1–6/30 21,840 + high 7/1–7/31 26,970 = 48,810 → 48,800.
        ("three months", EASY_BASE, date(2025, 3, 31), date(2025, 7, 31), 3),
        # 197 + 357 = 554 < 1,000 → 0.
        ("small", 100_000, date(2024, 5, 31), date(2024, 7, 15), 1),
        ("paid by due date", EASY_BASE, date(2025, 3, 31), date(2025, 3, 20), 1),
    )
    payments = payments_frame(
        ("same day", date(2025, 4, 10), 825_000),
        ("partial", date(2025, 5, 10), 1_824_001),
        ("same day", date(2025, 4, 10), 1_000_000),
        ("partial", date(2025, 7, 1), 10**9),  # after end_date: ignored
    )
    expected = fees_frame(
        ("partial", 38_000),
        ("truncated", 1_500),
        ("new year", 32_600),
        ("same day", 4_800),
        ("three months", 48_800),
        ("small", 0),
        ("paid by due date", 0),
    )
    assert_frame_equal(late_fees(periods, payments, RATES), expected)


def test_late_fee_pieces_frame_of_a_partial_payment_and_new_year():
    periods = periods_frame(
        ("partial", EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), 1),
        ("new year", EASY_BASE, date(2025, 12, 15), date(2026, 2, 11), 1),
    )
    payments = payments_frame(("partial", date(2025, 5, 10), 1_824_001))
    expected = pl.DataFrame(
        [
            ("partial", date(2025, 4, 1), date(2025, 4, 30), 30, EASY_BASE, "2.4", 7_200),
            ("partial", date(2025, 5, 1), date(2025, 5, 10), 10, EASY_BASE, "8.7", 8_700),
            ("partial", date(2025, 5, 11), date(2025, 6, 30), 51, 1_825_000, "8.7", 22_185),
            ("new year", date(2025, 12, 16), date(2025, 12, 31), 16, EASY_BASE, "2.4", 3_840),
            ("new year", date(2026, 1, 1), date(2026, 1, 15), 15, EASY_BASE, "2.8", 4_200),
            ("new year", date(2026, 1, 16), date(2026, 2, 11), 27, EASY_BASE, "9.1", 24_570),
        ],
        schema=PIECES_SCHEMA,
        orient="row",
    )
    assert_frame_equal(late_fee_pieces_frame(periods, payments, RATES), expected)


def test_a_principal_of_a_trillion_yen_is_exact():
    # 10^12 yen for 800 days at 14.6%: far past float precision, still exact in Int64.
    periods = periods_frame(("huge", 10**12, date(2011, 3, 31), date(2013, 6, 8), 1))
    expected = late_fee(LateFeeCase(10**12, date(2011, 3, 31), date(2013, 6, 8)), RATES)
    assert late_fees(periods, payments_frame(), RATES)["late_fee"].to_list() == [expected]


def test_refund_interests_of_hand_checked_overpayments():
    overpayments = overpayments_frame(
        ("過納", EASY_BASE, date(2025, 5, 1), date(2025, 7, 31)),  # 100 × 0.9 × 92 = 8,280 → 8,200
        ("誤納", EASY_BASE, date(2025, 6, 1), date(2025, 7, 31)),  # 100 × 0.9 × 61 = 5,490 → 5,400
        ("new year", EASY_BASE, date(2025, 12, 21), date(2026, 1, 31)),  # 990 + 4,030 → 5,000
        ("small", 100_000, date(2025, 6, 1), date(2025, 7, 31)),  # 150 < 1,000 → 0
        ("under 2,000", 1_999, date(2025, 6, 1), date(2025, 12, 31)),
        ("ends before it starts", EASY_BASE, date(2025, 6, 1), date(2025, 5, 31)),
    )
    expected = pl.DataFrame(
        {"candidate_id": overpayments["candidate_id"], "refund_interest": [8_200, 5_400, 5_000, 0, 0, 0]}
    )
    assert_frame_equal(refund_interests(overpayments, RATES), expected)


def test_a_year_without_rates_is_a_clear_error():
    periods = periods_frame(("into 2027", EASY_BASE, date(2026, 12, 15), date(2027, 1, 10), 1))
    with pytest.raises(MissingRateError, match="2027"):
        late_fees(periods, payments_frame(), RATES)
    overpayments = overpayments_frame(("from 2009", EASY_BASE, date(2009, 12, 1), date(2010, 1, 31)))
    with pytest.raises(MissingRateError, match="2009"):
        refund_interests(overpayments, RATES)


def test_a_gap_in_the_rates_table_is_an_error_only_when_a_period_reaches_it():
    gap = RatesTable(MappingProxyType({year: RATES.for_year(year) for year in RATES.by_year if year != 2020}))
    around = periods_frame(("2019", EASY_BASE, date(2019, 3, 31), date(2019, 5, 31), 1))
    # 2019 alone needs no 2020 rate: 7,800 + 27,590 = 35,390 → 35,300 as in test_late_fee.
    assert late_fees(around, payments_frame(), gap)["late_fee"].to_list() == [35_300]
    across = periods_frame(("2019–2021", EASY_BASE, date(2019, 3, 31), date(2021, 5, 31), 1))
    with pytest.raises(MissingRateError, match="2020"):
        late_fees(pl.concat([around, across]), payments_frame(), gap)


def test_century_years_agree_with_the_reference():
    # New Year is counted in days, not looked up: check it where the Gregorian rule bites, with
    # rates that differ every year so that a misplaced 1/1 shows in the pieces.
    rates = RatesTable(
        MappingProxyType(
            {year: YearRates(year, Decimal(year % 5 + 2), Decimal(year % 7 + 8), Decimal(year % 3 + 1)) for year in range(1896, 2106)}
        )
    )
    dues = [date(year, 2, 27) for year in (1899, 1900, 1999, 2000, 2099, 2100)]
    periods = periods_frame(*((f"{due.year}", EASY_BASE, due, date(due.year + 1, 3, 5), 1) for due in dues))
    expected = pl.DataFrame(
        [
            (f"{due.year}", piece.start, piece.end, piece.days, piece.base, str(piece.rate), piece.amount)
            for due in dues
            for piece in late_fee_pieces(LateFeeCase(EASY_BASE, due, date(due.year + 1, 3, 5)), rates)
        ],
        schema=PIECES_SCHEMA,
        orient="row",
    )
    assert_frame_equal(late_fee_pieces_frame(periods, payments_frame(), rates), expected)
    overpayments = overpayments_frame(*((f"{due.year}", EASY_BASE, due, date(due.year + 2, 3, 1)) for due in dues))
    refunds = [refund_interest(EASY_BASE, due, date(due.year + 2, 3, 1), rates) for due in dues]
    assert refund_interests(overpayments, rates)["refund_interest"].to_list() == refunds


def test_rates_in_hundredths_of_a_percent_agree_with_the_reference():
    # The finest rates the table accepts (schemas/rates.py refuses finer ones when it loads).
    fine = RatesTable(MappingProxyType({2025: YearRates(2025, Decimal("2.45"), Decimal("8.75"), Decimal("0.95"))}))
    due, paid = date(2025, 3, 31), date(2025, 7, 31)
    periods = periods_frame(("a", EASY_BASE, due, paid, 1))
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, due, paid), fine)
    # 4/1–4/30 at 2.45: 100 × 2.45 × 30 = 7,350; 5/1–7/31 at 8.75: 100 × 8.75 × 92 = 80,500.
    assert [piece.amount for piece in pieces] == [7_350, 80_500]
    assert late_fees(periods, payments_frame(), fine)["late_fee"].to_list() == [late_fee(LateFeeCase(EASY_BASE, due, paid), fine)] == [87_800]
    assert late_fee_pieces_frame(periods, payments_frame(), fine)["rate"].to_list() == ["2.45", "8.75"]
    overpayments = overpayments_frame(("c", EASY_BASE, date(2025, 4, 1), date(2025, 5, 31)))
    assert refund_interests(overpayments, fine)["refund_interest"].to_list() == [refund_interest(EASY_BASE, date(2025, 4, 1), date(2025, 5, 31), fine)]


@pytest.mark.parametrize(
    ("principal", "payments", "months", "reason"),
    [
        (-1, [], 1, "negative"),
        (EASY_BASE, [("a", date(2025, 4, 10), -5)], 1, "negative"),
        (EASY_BASE, [("a", date(2025, 4, 10), EASY_BASE), ("a", date(2025, 6, 30), 1)], 1, "exceed"),
        (EASY_BASE, [], 0, "at least one month"),
    ],
)
def test_inconsistent_receivables_are_refused(principal, payments, months, reason):
    periods = periods_frame(("a", principal, date(2025, 3, 31), date(2025, 6, 30), months))
    with pytest.raises(ValueError, match=reason):
        late_fees(periods, payments_frame(*payments), RATES)


def test_nulls_are_refused():
    periods = periods_frame(("a", None, date(2025, 3, 31), date(2025, 6, 30), 1))
    with pytest.raises(ValueError, match="principal"):
        late_fees(periods, payments_frame(), RATES)


def test_empty_inputs_give_empty_frames():
    assert_frame_equal(late_fees(periods_frame(), payments_frame(), RATES), fees_frame())
    assert_frame_equal(
        late_fee_pieces_frame(periods_frame(), payments_frame(), RATES), pl.DataFrame(schema=PIECES_SCHEMA)
    )
    refunds = refund_interests(overpayments_frame(), RATES)
    assert_frame_equal(refunds, pl.DataFrame(schema={"candidate_id": pl.String, "refund_interest": pl.Int64}))


def test_late_fees_with_hand_checked_exemption_periods():
    # The numbers of tests/transforms/test_late_fee.py (SPEC §6.1): 納期限 12/15/2025, paid 2/11/2026,
    # 32,600 without a period.
    new_year = (EASY_BASE, date(2025, 12, 15), date(2026, 2, 11), 1)
    periods = periods_frame(
        ("whole across New Year", *new_year),  # 960 + 20,020 = 20,980 → 20,900
        ("half across New Year", *new_year),  # 960 + 1,440 + 2,100 + 2,275 + 20,020 = 26,795 → 26,700
        ("overlapping", *new_year),  # 960 + 1,440 + 1,260 + 10,010 = 13,670 → 13,600
        ("open-ended", *new_year),  # 3,840 + 4,200 + 12,285 = 20,325 → 20,300
        ("without", *new_year),  # 32,600
        # 納期限 3/31/2025, paid 5/31/2025: 4,800 + 26,970 = 31,770 → 31,700 (whole 3/1–4/10 clipped)
        ("before the due date", EASY_BASE, date(2025, 3, 31), date(2025, 5, 31), 1),
        # 7,200 + 16,530 + 5,220 = 28,950 → 28,900 (half 5/20–12/31 clipped at the payment)
        ("after the payment", EASY_BASE, date(2025, 3, 31), date(2025, 5, 31), 1),
        # 242 + 674 = 916 < 1,000 → 0 (half from 7/1/2024 on base 123,000)
        ("under 1,000", 123_456, date(2024, 5, 31), date(2024, 8, 15), 1),
    )
    exemptions = exemptions_frame(
        ("whole across New Year", date(2025, 12, 20), date(2026, 1, 20), WHOLE),
        ("half across New Year", date(2025, 12, 20), date(2026, 1, 20), HALF),
        ("overlapping", date(2026, 1, 10), date(2026, 1, 31), WHOLE),
        ("overlapping", date(2025, 12, 20), date(2026, 1, 20), HALF),
        ("open-ended", date(2026, 1, 16), None, HALF),
        ("before the due date", date(2025, 3, 1), date(2025, 4, 10), WHOLE),
        ("after the payment", date(2025, 5, 20), date(2025, 12, 31), HALF),
        ("under 1,000", date(2024, 7, 1), None, HALF),
        ("not in periods", date(2024, 7, 1), None, HALF),  # ignored
    )
    charged = [20_900, 26_700, 13_600, 20_300, 32_600, 31_700, 28_900, 0]
    full = [32_600] * 5 + [34_100, 34_100, 1_500]
    assert_frame_equal(late_fees(periods, payments_frame(), RATES, exemptions), fees_frame(*zip(periods["receivable_id"], charged)))
    exempted = pl.DataFrame({"receivable_id": periods["receivable_id"], "late_fee_exempted": [f - c for f, c in zip(full, charged)]})
    assert_frame_equal(late_fees_exempted(periods, payments_frame(), RATES, exemptions), exempted)


def test_late_fee_pieces_frame_of_overlapping_exemption_periods():
    periods = periods_frame(("overlapping", EASY_BASE, date(2025, 12, 15), date(2026, 2, 11), 1))
    exemptions = exemptions_frame(
        ("overlapping", date(2025, 12, 20), date(2026, 1, 20), HALF),
        ("overlapping", date(2026, 1, 10), date(2026, 1, 31), WHOLE),
    )
    expected = pl.DataFrame(
        [
            ("overlapping", date(2025, 12, 16), date(2025, 12, 19), 4, EASY_BASE, "2.4", 960, "0"),
            ("overlapping", date(2025, 12, 20), date(2025, 12, 31), 12, EASY_BASE, "2.4", 1_440, "1/2"),
            ("overlapping", date(2026, 1, 1), date(2026, 1, 9), 9, EASY_BASE, "2.8", 1_260, "1/2"),
            ("overlapping", date(2026, 1, 10), date(2026, 1, 15), 6, EASY_BASE, "2.8", 0, "1"),
            ("overlapping", date(2026, 1, 16), date(2026, 1, 20), 5, EASY_BASE, "9.1", 0, "1"),
            ("overlapping", date(2026, 1, 21), date(2026, 1, 31), 11, EASY_BASE, "9.1", 0, "1"),
            ("overlapping", date(2026, 2, 1), date(2026, 2, 11), 11, EASY_BASE, "9.1", 10_010, "0"),
        ],
        schema=EXEMPTED_PIECES_SCHEMA,
        orient="row",
    )
    assert_frame_equal(late_fee_pieces_frame(periods, payments_frame(), RATES, exemptions), expected)


def test_no_exemption_periods_change_nothing():
    periods = periods_frame(("a", EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), 1))
    payments = payments_frame(("a", date(2025, 5, 10), 1_824_001))
    without = late_fees(periods, payments, RATES)
    assert_frame_equal(late_fees(periods, payments, RATES, exemptions_frame()), without)
    assert without["late_fee"].to_list() == [38_000]
    expected = pl.DataFrame({"receivable_id": ["a"], "late_fee_exempted": [0]})
    assert_frame_equal(late_fees_exempted(periods, payments, RATES, exemptions_frame()), expected)


@pytest.mark.parametrize(
    ("exemption", "reason"),
    [
        (("a", date(2025, 5, 1), date(2025, 4, 30), 1, 1), "ends before it starts"),
        (("a", date(2025, 5, 1), None, 0, 1), "more than 0 and at most 1"),
        (("a", date(2025, 5, 1), None, 3, 2), "more than 0 and at most 1"),
        (("a", date(2025, 5, 1), None, 1, None), "exempted_denominator"),
        (("a", None, None, 1, 2), "start_on"),
    ],
)
def test_inconsistent_exemption_periods_are_refused(exemption, reason):
    periods = periods_frame(("a", EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), 1))
    exemptions = pl.DataFrame([exemption], schema=EXEMPTIONS_SCHEMA, orient="row")
    with pytest.raises(ValueError, match=reason):
        late_fees(periods, payments_frame(), RATES, exemptions)


def test_a_denominator_that_could_overflow_is_refused():
    periods = periods_frame(("huge", 10**12, date(2011, 3, 31), date(2013, 6, 8), 1))
    exemptions = pl.DataFrame([("huge", date(2012, 1, 1), None, 1, 2**40)], schema=EXEMPTIONS_SCHEMA, orient="row")
    with pytest.raises(ValueError, match="too large"):
        late_fees(periods, payments_frame(), RATES, exemptions)


FIRST_DAY_WITH_RATES = date(2010, 1, 1)
LAST_DAY_WITH_RATES = date(2026, 12, 31)
principals = st.one_of(st.integers(0, 10**9), st.integers(0, 20_000))
days_with_rates = st.dates(min_value=FIRST_DAY_WITH_RATES, max_value=LAST_DAY_WITH_RATES)


class Receivable(NamedTuple):
    """One drawn receivable: what the reference is given, and payments after end it never sees."""

    principal: int
    due: date
    end: date
    months: int
    payments: list[tuple[date, int]]
    later_payments: list[tuple[date, int]]
    exemptions: list[ExemptionPeriod] = []

    @property
    def case(self) -> LateFeeCase:
        """What the reference engine is given."""
        return LateFeeCase(self.principal, self.due, self.end, self.payments, self.months, self.exemptions)


@st.composite
def receivables(draw, with_exemptions: bool = False) -> Receivable:
    """A receivable with up to 4 partial payments by its end, and maybe one after it; with_exemptions, up to 3 exemption periods."""
    due, principal, months = draw(days_with_rates), draw(principals), draw(st.sampled_from([1, 3]))
    # An off-by-one hides where the pieces split: aim some ends and payments at those days.
    low_rate_end = one_month_day(due + ONE_DAY, months)
    edges = [due, due + ONE_DAY, low_rate_end, low_rate_end + ONE_DAY, date(due.year, 12, 31), date(due.year + 1, 1, 1)]
    last_end = min(due + timedelta(days=1_500), LAST_DAY_WITH_RATES)
    any_end = st.dates(min_value=max(due - timedelta(days=40), FIRST_DAY_WITH_RATES), max_value=last_end)
    end = draw(st.one_of(any_end, st.sampled_from([edge for edge in edges if edge <= last_end])))
    any_day = st.dates(min_value=due - timedelta(days=60), max_value=end)
    day = st.one_of(any_day, st.sampled_from([edge for edge in [*edges, end] if edge <= end]))
    payments, left = [], principal
    for paid_on in draw(st.lists(day, max_size=4)):
        payments.append((paid_on, draw(st.integers(0, left))))
        left -= payments[-1][1]
    later_day = st.dates(min_value=end + ONE_DAY, max_value=end + timedelta(days=400))
    later_payments = draw(st.lists(st.tuples(later_day, st.integers(0, 10**9)), max_size=1))
    # Periods, too, start and end on the days where pieces split (as in test_late_fee, plus these edges).
    exemptions = draw(exemption_periods(due, end, edges)) if with_exemptions else []
    return Receivable(principal, due, end, months, payments, later_payments, exemptions)


def batch_frames(batch: list[Receivable], random: Random) -> tuple[pl.DataFrame, pl.DataFrame]:
    """periods and principal_payments of a batch, the payments in a random order."""
    periods = periods_frame(*((f"R{index}", r.principal, r.due, r.end, r.months) for index, r in enumerate(batch)))
    payments = [(f"R{index}", *paid) for index, r in enumerate(batch) for paid in r.payments + r.later_payments]
    random.shuffle(payments)
    return periods, payments_frame(*payments)


def batch_exemptions(batch: list[Receivable], random: Random) -> pl.DataFrame:
    """exemption_periods of a batch, in a random order."""
    exemptions = [(f"R{index}", *period) for index, r in enumerate(batch) for period in r.exemptions]
    random.shuffle(exemptions)
    return exemptions_frame(*exemptions)


# Each example is a batch of up to eight receivables, each checked against the reference, its
# 延滞金 and its pieces: 150 examples check about six hundred receivables, drawn anew every run, at
# half make test's cost of 300. One test for both: the batch, drawn once, costs as much as either check.
@settings(max_examples=150, deadline=None)
@given(st.lists(receivables(), max_size=8), st.randoms(use_true_random=False))
def test_late_fees_and_their_pieces_agree_with_the_reference(batch, random):
    periods, payments = batch_frames(batch, random)
    expected = [late_fee(r.case, RATES) for r in batch]
    assert_frame_equal(late_fees(periods, payments, RATES), fees_frame(*zip(periods["receivable_id"], expected)))
    expected_pieces = pl.DataFrame(
        [
            (f"R{index}", piece.start, piece.end, piece.days, piece.base, str(piece.rate), piece.amount)
            for index, r in enumerate(batch)
            for piece in late_fee_pieces(r.case, RATES)
        ],
        schema=PIECES_SCHEMA,
        orient="row",
    )
    assert_frame_equal(late_fee_pieces_frame(periods, payments, RATES), expected_pieces)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(principals, days_with_rates, days_with_rates), max_size=8))
def test_refund_interests_agree_with_the_reference(batch):
    overpayments = overpayments_frame(*((f"C{index}", *overpayment) for index, overpayment in enumerate(batch)))
    expected = [(f"C{index}", refund_interest(*overpayment, RATES)) for index, overpayment in enumerate(batch)]
    computed = refund_interests(overpayments, RATES)
    assert_frame_equal(computed, pl.DataFrame(expected, schema=computed.schema, orient="row"))


# Batches of up to six receivables with exemption periods: their 延滞金, what was exempted, and the pieces.
@settings(max_examples=60, deadline=None)
@given(st.lists(receivables(with_exemptions=True), max_size=6), st.randoms(use_true_random=False))
def test_late_fees_and_their_pieces_with_exemption_periods_agree_with_the_reference(batch, random):
    periods, payments = batch_frames(batch, random)
    exemptions = batch_exemptions(batch, random)
    expected = fees_frame(*zip(periods["receivable_id"], [late_fee(r.case, RATES) for r in batch]))
    assert_frame_equal(late_fees(periods, payments, RATES, exemptions), expected)
    exempted = pl.DataFrame(
        {"receivable_id": periods["receivable_id"], "late_fee_exempted": [late_fee_exempted(r.case, RATES) for r in batch]},
        schema={"receivable_id": pl.String, "late_fee_exempted": pl.Int64},
    )
    assert_frame_equal(late_fees_exempted(periods, payments, RATES, exemptions), exempted)
    expected_pieces = pl.DataFrame(
        [
            (f"R{index}", piece.start, piece.end, piece.days, piece.base, str(piece.rate), piece.amount, str(piece.exempted_fraction))
            for index, r in enumerate(batch)
            for piece in late_fee_pieces(r.case, RATES)
        ],
        schema=EXEMPTED_PIECES_SCHEMA,
        orient="row",
    )
    # The exemption periods in a second random order: the pieces must not depend on it either.
    assert_frame_equal(late_fee_pieces_frame(periods, payments, RATES, batch_exemptions(batch, random)), expected_pieces)
