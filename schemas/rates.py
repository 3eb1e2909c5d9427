"""The 延滞金 and 還付加算金 rates table of SPEC §4.1, as data the city updates each December."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from pathlib import Path

from schemas.keyed_table import KeyedCsvTable

RATES_COLUMNS = ("year", "late_fee_low_rate", "late_fee_high_rate", "refund_interest_rate")
PACKAGED_RATES = "rates/rates.csv"
# Rates are published to a tenth of a percent at most; the vectorised engine
# (transforms/late_fee_frames.py) counts them exactly in Int64 hundredths of a percent, so a rate
# finer than that, or larger than Int64 holds, is refused when the table loads, never mid-run.
RATE_UNITS_PER_PERCENT = 100
LARGEST_RATE_UNITS = 2**63 - 1


class MissingRateError(LookupError):
    """A calendar year the rates table has no row for."""

    def __init__(self, year: int) -> None:
        # SPEC §4.1: a year with no rate is an error, never a guess from a neighbouring year.
        super().__init__(
            f"no 延滞金/還付加算金 rate for {year} in the rates table "
            "(the city adds each year's rates in December)"
        )
        self.year = year


class RatesFileError(ValueError):
    """A rates table that cannot be read as one row per year of percent rates."""


@dataclass(frozen=True)
class YearRates:
    """One calendar year's rates, in percent a year."""

    year: int
    late_fee_low_rate: Decimal
    late_fee_high_rate: Decimal
    refund_interest_rate: Decimal

    def __post_init__(self) -> None:
        for column in RATES_COLUMNS[1:]:
            _check_rate(column, getattr(self, column))


@dataclass(frozen=True)
class RatesTable:
    """The rates of every year the city has published, by calendar year."""

    by_year: Mapping[int, YearRates]

    def for_year(self, year: int) -> YearRates:
        """The rates of one calendar year; MissingRateError when the table lacks it."""
        try:
            return self.by_year[year]
        except KeyError:
            raise MissingRateError(year) from None


def parse_rates(text: str, source: str = "rates table") -> RatesTable:
    """The rates table held in CSV text with the header RATES_COLUMNS; errors name `source`, the line and the column."""
    return RatesTable(RATES_CSV.parsed_rows(text, source))


def load_rates(path: Path | None = None) -> RatesTable:
    """The rates table in path, or the one packaged with shuno."""
    return RatesTable(RATES_CSV.loaded_rows(path))


def _year_rates(row: list[str]) -> YearRates:
    """One row of the rates table, checked; an error names the column."""
    if len(row) != len(RATES_COLUMNS) or not row[0].isdigit():
        raise RatesFileError(f"expected a year and three rates, got {row}")
    return YearRates(int(row[0]), *(_percent(column, text) for column, text in zip(RATES_COLUMNS[1:], row[1:])))


def _percent(column: str, text: str) -> Decimal:
    """A rate in percent, exact, from its decimal text."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise RatesFileError(f"column {column}: {text!r} is not a percent rate") from None


def _check_rate(column: str, rate: Decimal) -> None:
    """Raise RatesFileError, naming the column, for a rate that is no percent or that the engines cannot count exactly."""
    if not rate.is_finite() or rate < 0:
        raise RatesFileError(f"column {column}: '{rate}' is not a percent rate")
    units = rate * RATE_UNITS_PER_PERCENT
    if units != units.to_integral_value():
        raise RatesFileError(f"column {column}: rate {rate}% has more than two decimals, finer than shuno counts")
    if units > LARGEST_RATE_UNITS:
        raise RatesFileError(f"column {column}: rate {rate}% is too large to count exactly")


RATES_CSV = KeyedCsvTable(
    "rates table", RATES_COLUMNS, PACKAGED_RATES, RatesFileError,
    parsed_row=_year_rates, key_of=attrgetter("year"), repeated_key="year {} appears twice",
)
