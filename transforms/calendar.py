"""Days a 期限 cannot fall on (地方税法 §20条の5), the due dates they move, and business days."""

from datetime import date, timedelta
from functools import cache

import holidays
import polars as pl

ONE_DAY = timedelta(days=1)

# §20条の5② names 12/29–12/31 itself; 1/1 is a national holiday and 1/2, 1/3 are the customary
# holidays of 民法 §142 that §20条の5① points to.
YEAR_END_HOLIDAYS = frozenset({(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)})


@cache
def _national_holidays(year: int) -> frozenset[date]:
    """祝日, 振替休日 and 国民の休日 of one year, from the maintained `holidays` calendar."""
    # Outside the calendar's range the package silently returns no holidays: refuse instead.
    if not holidays.Japan.start_year <= year <= holidays.Japan.end_year:
        raise ValueError(f"{year} is outside the Japanese holiday calendar")
    return frozenset(holidays.country_holidays("JP", years=year))


def is_closed_day(day: date) -> bool:
    """Whether day is a Saturday, Sunday, national holiday or one of 12/29–1/3."""
    return (
        day.weekday() >= 5
        or (day.month, day.day) in YEAR_END_HOLIDAYS
        or day in _national_holidays(day.year)
    )


def effective_due_date(due: date) -> date:
    """The 納期限 in force: due, or the first following day that is not closed (§20条の5)."""
    while is_closed_day(due):
        due += ONE_DAY
    return due


def add_business_days(start: date, business_days: int) -> date:
    """The business day that is business_days open days after start (start itself not counted)."""
    if business_days < 0:
        raise ValueError(f"business_days must not be negative, got {business_days}")
    day = start
    for _ in range(business_days):
        day += ONE_DAY
        while is_closed_day(day):
            day += ONE_DAY
    return day


def effective_due_dates(due_dates: pl.Series) -> pl.Series:
    """effective_due_date of each date in a Date series, nulls kept."""
    # Millions of receivables share a few hundred 納期限: compute each distinct date once.
    distinct = due_dates.drop_nulls().unique()
    moved = pl.Series([effective_due_date(due) for due in distinct], dtype=pl.Date)
    return due_dates.replace_strict(distinct, moved, return_dtype=pl.Date)

