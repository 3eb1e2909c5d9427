"""延滞金 and 還付加算金 of one receivable, in exact arithmetic (SPEC §4.1, §4.2, §6.1)."""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import NamedTuple

from schemas.codes import RefundKind
from schemas.rates import RatesTable

ONE_DAY = timedelta(days=1)
# The rates are "年365日当たりの割合": a leap year is still divided by 365 (SPEC §4.1).
DAYS_IN_RATE_YEAR = 365
# 地方税法 §20条の4の2: a 本税 under 2,000 yen bears none; the base is floored to 1,000 yen;
# a total under 1,000 yen is dropped, and the rest floored to 100 yen.
SMALLEST_BASE = 2_000
BASE_UNIT = 1_000
SMALLEST_TOTAL = 1_000
TOTAL_UNIT = 100


@dataclass(frozen=True)
class Piece:
    """Consecutive days at one base and one rate, and the whole yen they bear."""

    start: date
    end: date
    days: int
    base: int
    rate: Decimal
    amount: int
    # The share of this piece's 延滞金 an exemption period takes away (SPEC §6.1); 0 outside every period.
    exempted_fraction: Fraction = Fraction(0)


class PartialPayment(NamedTuple):
    """本税 paid on one day before the receivable was paid in full."""

    paid_on: date
    amount: int


class ExemptionPeriod(NamedTuple):
    """Days from start through end (None: still in force) whose 延滞金 is reduced by fraction (SPEC §6.1)."""

    start: date
    end: date | None
    fraction: Fraction


def one_month_day(start: date, months: int = 1) -> date:
    """The last day of the months-long period that begins on start (民法 §143)."""
    # The day before the same day-number `months` later; when that month has no such day,
    # its last day (SPEC §4.1: 5/31 → 6/1..6/30, 5/1 → 5/2..6/1; 1/31 → ..2/28 or 2/29).
    if months < 1:
        raise ValueError(f"a low-rate period is at least one month, got {months}")
    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    if start.day > last_day:
        return date(year, month_index + 1, last_day)
    return date(year, month_index + 1, start.day) - ONE_DAY


def interest_base(principal: int) -> int:
    """The yen that bears 延滞金 or 還付加算金: floored to 1,000, none under 2,000."""
    if principal < SMALLEST_BASE:
        return 0
    return principal // BASE_UNIT * BASE_UNIT


def rounded_total(pieces: Iterable[Piece]) -> int:
    """The sum of the pieces, 0 under 1,000 yen, otherwise floored to 100 yen."""
    total = sum(piece.amount for piece in pieces)
    if total < SMALLEST_TOTAL:
        return 0
    return total // TOTAL_UNIT * TOTAL_UNIT


@dataclass(frozen=True)
class LateFeeCase:
    """One receivable's 延滞金 period: principal due on the effective due_date, paid in full on paid_on, and what changes it between."""

    principal: int
    due_date: date
    paid_on: date
    partial_payments: Sequence[tuple[date, int]] = ()
    # The 税目's low-rate period (SPEC §4.1): one month, or as the settings give it.
    low_rate_months: int = 1
    exemptions: Sequence[tuple[date, date | None, Fraction]] = ()


def late_fee_pieces(case: LateFeeCase, rates: RatesTable) -> list[Piece]:
    """The pieces of 延滞金 from the day after the case's due_date through its paid_on, exemption periods applied."""
    payments = _checked_payments(case.principal, case.paid_on, case.partial_payments)
    periods = _checked_exemptions(case.exemptions)
    start = case.due_date + ONE_DAY
    low_rate_end = one_month_day(start, case.low_rate_months)
    # A payment changes the base from the day after it, so a piece ends on each payment day; an
    # exemption period changes the share charged from its first day and after its last (§6.1).
    # Cuts outside the days that bear 延滞金 are dropped by _spans: that clips the periods.
    period_cuts = {cut for period in periods for cut in (period.start - ONE_DAY, period.end) if cut is not None}
    cuts = {low_rate_end, *(payment.paid_on for payment in payments), *period_cuts}
    pieces = []
    for piece_start, piece_end in _spans(start, case.paid_on, cuts):
        year_rates = rates.for_year(piece_start.year)
        low_rate = piece_end <= low_rate_end
        rate = year_rates.late_fee_low_rate if low_rate else year_rates.late_fee_high_rate
        remaining = case.principal - sum(p.amount for p in payments if p.paid_on < piece_start)
        exempted = _exempted_fraction(piece_start, periods)
        pieces.append(_piece(piece_start, piece_end, interest_base(remaining), rate, exempted))
    return pieces


def late_fee(case: LateFeeCase, rates: RatesTable) -> int:
    """The 延滞金 in yen on the case's principal, due on the effective due_date and paid in full on paid_on."""
    return rounded_total(late_fee_pieces(case, rates))


def late_fee_exempted(case: LateFeeCase, rates: RatesTable) -> int:
    """The 延滞金 in yen not charged because of the exemption periods: the total without them minus the total with them.

    Both totals are rounded as the law rounds a total (under 1,000 yen none, else floored to 100), so
    the 延滞金 charged plus the 延滞金 exempted is exactly what would be charged without any period:
    the figure a taxpayer's notice and the city's 減免 ledger reconcile with. The sum of the exempted
    parts of the pieces would not be: the pieces are floored one by one, and the total to 100 yen.
    The difference is never negative: cutting a piece and exempting part of it only lowers the sum.
    """
    return late_fee(replace(case, exemptions=()), rates) - late_fee(case, rates)


def refund_interest_pieces(amount: int, start: date, end: date, rates: RatesTable) -> list[Piece]:
    """The pieces of 還付加算金 on amount from start through end, both included."""
    if amount < 0:
        raise ValueError(f"a refund cannot be negative, got {amount} yen")
    base = interest_base(amount)
    return [
        _piece(piece_start, piece_end, base, rates.for_year(piece_start.year).refund_interest_rate)
        for piece_start, piece_end in _spans(start, end, ())
    ]


def refund_interest_start(kind: str, paid_on: date) -> date:
    """The first day that bears 還付加算金 on an overpayment paid on paid_on (SPEC §4.2)."""
    # 過納 by 減額: the day after the 納付日, whenever the 減額 came (SPEC §4.2, §17条の4①); the
    # 減額 day only decides when the overpayment arose (transforms/refunds.py).
    if RefundKind(kind) is RefundKind.EXCESS:
        return paid_on + ONE_DAY
    # 誤納: the day after the one-month day counted from the day after the 納付日 (4/30 → 6/1).
    return one_month_day(paid_on + ONE_DAY) + ONE_DAY


def expires_on(arose_on: date) -> date:
    """The day a refund claim expires: arose_on plus 5 years, 2/29 becoming 2/28."""
    if (arose_on.month, arose_on.day) == (2, 29):
        return date(arose_on.year + 5, 2, 28)
    return arose_on.replace(year=arose_on.year + 5)


def _checked_payments(
    principal: int, paid_on: date, partial_payments: Sequence[tuple[date, int]]
) -> tuple[PartialPayment, ...]:
    """The partial payments as PartialPayment, after checking they fit the receivable."""
    if principal < 0:
        raise ValueError(f"本税 cannot be negative, got {principal} yen")
    payments = tuple(PartialPayment(*payment) for payment in partial_payments)
    for payment in payments:
        if payment.amount < 0:
            raise ValueError(f"a partial payment cannot be negative, got {payment.amount} yen")
        if payment.paid_on > paid_on:
            raise ValueError(f"partial payment on {payment.paid_on} is after the full payment on {paid_on}")
    if sum(payment.amount for payment in payments) > principal:
        raise ValueError(f"partial payments exceed the 本税 of {principal} yen")
    return payments


def _checked_exemptions(exemptions: Sequence[tuple[date, date | None, Fraction]]) -> tuple[ExemptionPeriod, ...]:
    """The exemption periods as ExemptionPeriod, after checking each ends after it starts and exempts a share of at most all."""
    periods = tuple(ExemptionPeriod(*period) for period in exemptions)
    for period in periods:
        if period.end is not None and period.end < period.start:
            raise ValueError(f"an exemption period ending on {period.end} starts after it, on {period.start}")
        if not 0 < period.fraction <= 1:
            raise ValueError(f"an exempted fraction is more than 0 and at most 1, got {period.fraction}")
    return periods


def _exempted_fraction(day: date, periods: Sequence[ExemptionPeriod]) -> Fraction:
    """The largest fraction exempted on day by the periods in force then; 0 when none is (§6.1)."""
    in_force = (p.fraction for p in periods if p.start <= day and (p.end is None or day <= p.end))
    return max(in_force, default=Fraction(0))


def _spans(first: date, last: date, cuts: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive (start, end) spans covering first..last, ending on each cut and each 12/31."""
    # Rates are per calendar year, so a span never crosses New Year.
    if last < first:
        return []
    year_ends = {date(year, 12, 31) for year in range(first.year, last.year)}
    ends = sorted({cut for cut in cuts if first <= cut < last} | year_ends | {last})
    starts = [first] + [end + ONE_DAY for end in ends[:-1]]
    return list(zip(starts, ends))


def _piece(start: date, end: date, base: int, rate: Decimal, exempted: Fraction = Fraction(0)) -> Piece:
    """The piece from start through end: floor(base × rate × days × (1 − exempted) / 365) yen."""
    days = (end - start).days + 1
    amount = floor(Fraction(base * days) * Fraction(rate) * (1 - exempted) / (100 * DAYS_IN_RATE_YEAR))
    return Piece(start, end, days, base, rate, amount, exempted)
