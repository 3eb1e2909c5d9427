"""The 延滞金 and 還付加算金 rates table of SPEC §4.1, as data the city updates each December."""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from types import MappingProxyType

RATES_COLUMNS = ("year", "late_fee_low_rate", "late_fee_high_rate", "refund_interest_rate")


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


def parse_rates(text: str) -> RatesTable:
    """The rates table held in CSV text with the header RATES_COLUMNS."""
    reader = csv.reader(io.StringIO(text))
    if tuple(next(reader, ())) != RATES_COLUMNS:
        raise RatesFileError(f"rates table header must be {','.join(RATES_COLUMNS)}")
    by_year: dict[int, YearRates] = {}
    for line_number, row in enumerate(reader, start=2):
        year_rates = _year_rates(row, line_number)
        if year_rates.year in by_year:
            raise RatesFileError(f"rates table line {line_number}: year {year_rates.year} appears twice")
        by_year[year_rates.year] = year_rates
    return RatesTable(MappingProxyType(by_year))


def load_rates(path: Path | None = None) -> RatesTable:
    """The rates table in path, or the one packaged with shuno."""
    if path is None:
        return parse_rates(resources.files("schemas").joinpath("rates/rates.csv").read_text("utf-8"))
    return parse_rates(path.read_text("utf-8"))


def _year_rates(row: list[str], line_number: int) -> YearRates:
    """One row of the rates table, checked."""
    if len(row) != len(RATES_COLUMNS) or not row[0].isdigit():
        raise RatesFileError(f"rates table line {line_number}: expected a year and three rates, got {row}")
    return YearRates(int(row[0]), *(_percent(text, line_number) for text in row[1:]))


def _percent(text: str, line_number: int) -> Decimal:
    """A rate in percent, exact, from its decimal text."""
    try:
        rate = Decimal(text)
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate < 0:
        raise RatesFileError(f"rates table line {line_number}: {text!r} is not a percent rate")
    return rate
