"""How long personal fields are kept (SPEC §8; 評価書 II-3: 過去5年間)."""

from __future__ import annotations

from datetime import date


def retention_cutoff(today: date, years: int) -> date:
    """The latest `--before` date a purge may take on `today`: the same day `years` years earlier (29 February: the 28th)."""
    year = today.year - years
    if today.month == 2 and today.day == 29:
        return date(year, 2, 28)
    return today.replace(year=year)
