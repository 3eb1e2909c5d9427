"""Closed days, effective 納期限 (地方税法 §20条の5) and business days."""

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_series_equal

from transforms.calendar import (
    add_business_days,
    effective_due_date,
    effective_due_dates,
    is_closed_day,
)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (date(2025, 6, 30), date(2025, 6, 30)),  # Monday, a working day: unchanged
        (date(2025, 5, 31), date(2025, 6, 2)),  # Saturday → Monday
        (date(2025, 6, 1), date(2025, 6, 2)),  # Sunday → Monday
        (date(2025, 3, 20), date(2025, 3, 21)),  # 春分の日 (Thursday) → Friday
        (date(2024, 2, 12), date(2024, 2, 13)),  # 振替休日 for 建国記念の日 on a Sunday
        # Golden Week 2025: 5/3 Sat 憲法記念日, 5/4 Sun, 5/5 Mon こどもの日, 5/6 Tue 振替休日 → 5/7
        (date(2025, 5, 3), date(2025, 5, 7)),
        # 2026-09-19 Sat, 20 Sun, 21 敬老の日, 22 国民の休日 (between two holidays), 23 秋分の日 → 24
        (date(2026, 9, 19), date(2026, 9, 24)),
        # 12/31 Wed, 1/1 元日, 1/2 Fri, 1/3 Sat, 1/4 Sun → 2026-01-05 Mon
        (date(2025, 12, 31), date(2026, 1, 5)),
        # 12/29 Fri of 2023: 12/29–1/3 are closed even on weekdays → 2024-01-04 Thu
        (date(2023, 12, 29), date(2024, 1, 4)),
    ],
)
def test_effective_due_date(due, expected):
    assert effective_due_date(due) == expected


def test_closed_days():
    assert is_closed_day(date(2025, 12, 29))  # Monday, but 年末
    assert is_closed_day(date(2026, 1, 2))  # Friday, but 年始
    assert not is_closed_day(date(2025, 12, 26))  # Friday, a working day
    assert not is_closed_day(date(2026, 1, 5))  # Monday after 年始


def test_year_outside_the_holiday_calendar_is_refused():
    with pytest.raises(ValueError, match="2100"):
        effective_due_date(date(2100, 3, 1))


@pytest.mark.parametrize(
    ("start", "business_days", "expected"),
    [
        (date(2025, 6, 2), 0, date(2025, 6, 2)),
        # Fri 12/26 + 5: 12/29–1/4 closed; 1/5 Mon (1), 1/6 (2), 1/7 (3), 1/8 (4), 1/9 Fri (5)
        (date(2025, 12, 26), 5, date(2026, 1, 9)),
        # Mon 4/28 + 5: 4/29 昭和の日; 4/30 (1), 5/1 (2), 5/2 (3); 5/3–5/6 closed; 5/7 (4), 5/8 (5)
        (date(2025, 4, 28), 5, date(2025, 5, 8)),
        # Sat 5/31 + 1: Sun 6/1 closed → Mon 6/2
        (date(2025, 5, 31), 1, date(2025, 6, 2)),
    ],
)
def test_add_business_days(start, business_days, expected):
    assert add_business_days(start, business_days) == expected


def test_add_business_days_refuses_a_negative_count():
    with pytest.raises(ValueError, match="negative"):
        add_business_days(date(2025, 6, 2), -1)


def test_effective_due_dates_of_a_series_keeps_order_and_nulls():
    due = pl.Series("due_date", [date(2025, 5, 31), None, date(2025, 6, 30), date(2025, 5, 31)])
    expected = pl.Series("due_date", [date(2025, 6, 2), None, date(2025, 6, 30), date(2025, 6, 2)])
    assert_series_equal(effective_due_dates(due), expected)


def test_effective_due_dates_of_an_empty_or_null_series():
    empty = pl.Series("due_date", [], dtype=pl.Date)
    assert_series_equal(effective_due_dates(empty), empty)
    nulls = pl.Series("due_date", [None, None], dtype=pl.Date)
    assert_series_equal(effective_due_dates(nulls), nulls)

