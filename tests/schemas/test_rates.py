"""The rates table of SPEC §4.1 as packaged data."""

from decimal import Decimal
from pathlib import Path

import pytest

from schemas.rates import MissingRateError, RatesFileError, YearRates, load_rates, parse_rates

# SPEC §4.1, row by row: (first year, last year, ≤ 1 month, > 1 month, 還付加算金).
SPEC_TABLE = [
    (2010, 2013, "4.3", "14.6", "4.3"),
    (2014, 2014, "2.9", "9.2", "1.9"),
    (2015, 2016, "2.8", "9.1", "1.8"),
    (2017, 2017, "2.7", "9.0", "1.7"),
    (2018, 2020, "2.6", "8.9", "1.6"),
    (2021, 2021, "2.5", "8.8", "1.0"),
    (2022, 2025, "2.4", "8.7", "0.9"),
    (2026, 2026, "2.8", "9.1", "1.3"),
]
EXPECTED_YEARS = {
    year: YearRates(year, Decimal(low), Decimal(high), Decimal(refund))
    for first, last, low, high, refund in SPEC_TABLE
    for year in range(first, last + 1)
}
HEADER = "year,late_fee_low_rate,late_fee_high_rate,refund_interest_rate\n"


def test_packaged_table_is_the_spec_table_row_by_row():
    rates = load_rates()
    assert dict(rates.by_year) == EXPECTED_YEARS
    assert sorted(rates.by_year) == list(range(2010, 2027))


@pytest.mark.parametrize("year", range(2010, 2027))
def test_rates_of_each_year(year):
    assert load_rates().for_year(year) == EXPECTED_YEARS[year]


def test_rates_are_exact_decimals_not_floats():
    rates = load_rates().for_year(2015)
    assert rates.late_fee_low_rate == Decimal("2.8")
    assert isinstance(rates.late_fee_low_rate, Decimal)
    assert str(rates.late_fee_high_rate) == "9.1"


def test_table_from_a_given_path(tmp_path: Path):
    path = tmp_path / "rates.csv"
    path.write_text(HEADER + "2027,3.0,9.3,1.5\n", encoding="utf-8")
    assert load_rates(path).for_year(2027) == YearRates(2027, Decimal("3.0"), Decimal("9.3"), Decimal("1.5"))


def test_missing_year_is_an_error_naming_the_year():
    with pytest.raises(MissingRateError, match="2027") as raised:
        load_rates().for_year(2027)
    assert raised.value.year == 2027
    with pytest.raises(MissingRateError, match="2009"):
        load_rates().for_year(2009)


def test_table_cannot_be_changed():
    rates = load_rates()
    with pytest.raises(TypeError):
        rates.by_year[2027] = rates.by_year[2026]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("year,low,high,refund\n2026,2.8,9.1,1.3\n", "header"),
        (HEADER + "2026,2.8,9.1\n", "line 2"),
        (HEADER + "2026,2.8,abc,1.3\n", "'abc'"),
        (HEADER + "2026,2.8,-9.1,1.3\n", "'-9.1'"),
        (HEADER + "2026,2.8,NaN,1.3\n", "'NaN'"),
        (HEADER + "2026,2.8,9.1,1.3\n2026,2.8,9.1,1.3\n", "twice"),
    ],
)
def test_malformed_table_is_rejected(text, reason):
    with pytest.raises(RatesFileError, match=reason):
        parse_rates(text)


def test_a_rate_finer_than_hundredths_of_a_percent_is_refused_when_the_file_loads(tmp_path: Path):
    # The vectorised engine counts rates exactly in hundredths of a percent; the reference engine
    # would take 2.405, so the table refuses it for both, naming the file, line and column.
    path = tmp_path / "rates.csv"
    path.write_text(HEADER + "2025,2.4,8.7,0.9\n2026,2.8,9.105,1.3\n", encoding="utf-8")
    with pytest.raises(RatesFileError) as refused:
        load_rates(path)
    assert str(refused.value) == f"rates table {path} line 3: column late_fee_high_rate: rate 9.105% has more than two decimals, finer than shuno counts"
    with pytest.raises(RatesFileError, match="2.405"):
        YearRates(2025, Decimal("2.405"), Decimal("8.7"), Decimal("0.9"))
    assert YearRates(2025, Decimal("2.45"), Decimal("8.75"), Decimal("0.95")).late_fee_low_rate == Decimal("2.45")


def test_a_rate_too_large_to_count_exactly_is_refused():
    with pytest.raises(RatesFileError, match="refund_interest_rate: rate 1E\\+20% is too large"):
        parse_rates(HEADER + "2026,2.8,9.1,1E+20\n")


def test_a_rates_file_that_cannot_be_read_is_a_one_line_error_naming_it(tmp_path: Path):
    missing = tmp_path / "none.csv"
    with pytest.raises(RatesFileError) as refused:
        load_rates(missing)
    assert str(refused.value) == f"rates table {missing} cannot be read (FileNotFoundError)"
