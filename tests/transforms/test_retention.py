"""The retention cutoff: the same day `years` years earlier."""

from datetime import date

from transforms.retention import retention_cutoff


def test_the_cutoff_is_the_same_day_five_years_earlier():
    assert retention_cutoff(date(2026, 12, 3), 5) == date(2021, 12, 3)


def test_a_29_february_falls_back_to_the_28th_of_a_common_year():
    assert retention_cutoff(date(2028, 2, 29), 5) == date(2023, 2, 28)
