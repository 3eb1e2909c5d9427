"""延滞金 and 還付加算金 (SPEC §4.1, §4.2) and 延滞金 exemption periods (§6.1), checked against hand arithmetic.

Most cases use a base of 3,650,000 yen, so that a piece is base × rate% × days / 365
= 100 × rate × days yen exactly and can be checked by eye; one case checks the truncation.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codes import RefundKind
from schemas.exemptions import load_exemption_kinds
from schemas.rates import MissingRateError, load_rates
from transforms.calendar import effective_due_date
from transforms.late_fee import (
    ExemptionPeriod,
    LateFeeCase,
    Piece,
    expires_on,
    interest_base,
    late_fee,
    late_fee_exempted,
    late_fee_pieces,
    one_month_day,
    refund_interest_pieces,
    refund_interest_start,
    rounded_total,
)

RATES = load_rates()
EASY_BASE = 3_650_000


def refund_interest(amount: int, start: date, end: date, rates) -> int:
    """The reference engine's 還付加算金 in yen on amount from start through end, rounded as 延滞金 is (the tests' oracle)."""
    return rounded_total(refund_interest_pieces(amount, start, end, rates))


def overpayment_arose_on(kind: str, paid_on: date, reduced_on: date | None = None) -> date:
    """The day an overpayment arose as SPEC §4.2 states it: the 減額 day for 過納, the 納付日 for 誤納
    (transforms/refunds.py applies it to frames; tests/transforms/test_refunds.py checks that)."""
    if RefundKind(kind) is RefundKind.ERRONEOUS:
        return paid_on
    if reduced_on is None:
        raise ValueError("a 過納 arises on its 減額 day: reduced_on is required")
    return reduced_on


def piece(start: date, end: date, base: int, rate: str, amount: int, exempted: Fraction = Fraction(0)) -> Piece:
    """A Piece with its days counted, for writing expectations briefly."""
    return Piece(start, end, (end - start).days + 1, base, Decimal(rate), amount, exempted)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 6, 1), 1, date(2025, 6, 30)),  # SPEC: 納期限 5/31 → 6/1..6/30
        (date(2025, 5, 2), 1, date(2025, 6, 1)),  # SPEC: 納期限 5/1 → 5/2..6/1
        (date(2025, 2, 1), 1, date(2025, 2, 28)),  # 納期限 1/31: day before 3/1
        (date(2024, 2, 1), 1, date(2024, 2, 29)),  # the same in a leap year
        (date(2025, 1, 31), 1, date(2025, 2, 28)),  # 2/31 does not exist → February's last day
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 1, 30), 1, date(2024, 2, 29)),  # 2/30 does not exist even in a leap year
        (date(2024, 1, 29), 1, date(2024, 2, 28)),  # 2/29/2024 exists: the day before it
        (date(2025, 1, 29), 1, date(2025, 2, 28)),  # 2/29/2025 does not exist → 2/28
        (date(2024, 2, 29), 1, date(2024, 3, 28)),  # 納期限 2/28 in a leap year
        (date(2024, 3, 1), 1, date(2024, 3, 31)),  # 納期限 2/29
        (date(2025, 3, 31), 1, date(2025, 4, 30)),  # 4/31 does not exist → 4/30
        (date(2025, 12, 16), 1, date(2026, 1, 15)),  # across New Year
        (date(2025, 11, 30), 3, date(2026, 2, 28)),  # 保険料, 3 months: 2/30 does not exist
        (date(2025, 12, 1), 3, date(2026, 2, 28)),  # day before 3/1
    ],
)
def test_one_month_day(start, months, expected):
    assert one_month_day(start, months) == expected


def test_one_month_day_refuses_a_period_under_one_month():
    with pytest.raises(ValueError, match="at least one month"):
        one_month_day(date(2025, 6, 1), 0)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [(0, 0), (1_999, 0), (2_000, 2_000), (2_999, 2_000), (123_456, 123_000)],
)
def test_interest_base(principal, expected):
    assert interest_base(principal) == expected


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [([], 0), ([999], 0), ([500, 499], 0), ([1_000], 1_000), ([1_099], 1_000), ([36_000, 610], 36_600)],
)
def test_rounded_total(amounts, expected):
    pieces = [Piece(date(2025, 1, 1), date(2025, 1, 1), 1, 0, Decimal(0), amount) for amount in amounts]
    assert rounded_total(pieces) == expected


# Every row of the rates table. Due 3/31 of the year, paid 5/31: low rate 4/1–4/30 (30 days),
# high rate 5/1–5/31 (31 days). Base 3,650,000 → low 100 × low × 30, high 100 × high × 31.
# 還付加算金 on 3,650,000 from 4/1 through 5/31 (61 days): 100 × refund × 61.
YEARLY_CASES = [
    # year, low, high, refund, low piece, high piece, 延滞金 total, 還付加算金
    *[(year, "4.3", "14.6", "4.3", 12_900, 45_260, 58_100, 26_200) for year in range(2010, 2014)],
    # 12,900 + 45,260 = 58,160 → 58,100; 4.3 × 6,100 = 26,230 → 26,200
    (2014, "2.9", "9.2", "1.9", 8_700, 28_520, 37_200, 11_500),
    # 8,700 + 28,520 = 37,220 → 37,200; 1.9 × 6,100 = 11,590 → 11,500
    *[(year, "2.8", "9.1", "1.8", 8_400, 28_210, 36_600, 10_900) for year in (2015, 2016)],
    # 8,400 + 28,210 = 36,610 → 36,600; 1.8 × 6,100 = 10,980 → 10,900
    (2017, "2.7", "9.0", "1.7", 8_100, 27_900, 36_000, 10_300),
    # 8,100 + 27,900 = 36,000; 1.7 × 6,100 = 10,370 → 10,300
    *[(year, "2.6", "8.9", "1.6", 7_800, 27_590, 35_300, 9_700) for year in (2018, 2019, 2020)],
    # 7,800 + 27,590 = 35,390 → 35,300; 1.6 × 6,100 = 9,760 → 9,700
    (2021, "2.5", "8.8", "1.0", 7_500, 27_280, 34_700, 6_100),
    # 7,500 + 27,280 = 34,780 → 34,700; 1.0 × 6,100 = 6,100
    *[(year, "2.4", "8.7", "0.9", 7_200, 26_970, 34_100, 5_400) for year in range(2022, 2026)],
    # 7,200 + 26,970 = 34,170 → 34,100; 0.9 × 6,100 = 5,490 → 5,400
    (2026, "2.8", "9.1", "1.3", 8_400, 28_210, 36_600, 7_900),
    # 8,400 + 28,210 = 36,610 → 36,600; 1.3 × 6,100 = 7,930 → 7,900
]


@pytest.mark.parametrize(("year", "low", "high", "refund", "low_piece", "high_piece", "total", "interest"), YEARLY_CASES)
def test_every_year_of_the_rates_table(year, low, high, refund, low_piece, high_piece, total, interest):
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(year, 3, 31), date(year, 5, 31)), RATES)
    assert pieces == [
        piece(date(year, 4, 1), date(year, 4, 30), EASY_BASE, low, low_piece),
        piece(date(year, 5, 1), date(year, 5, 31), EASY_BASE, high, high_piece),
    ]
    assert rounded_total(pieces) == total
    assert refund_interest(EASY_BASE, date(year, 4, 1), date(year, 5, 31), RATES) == interest


def test_yearly_cases_cover_every_year_of_the_table():
    assert sorted(case[0] for case in YEARLY_CASES) == sorted(RATES.by_year)


@pytest.mark.parametrize(
    ("due", "paid", "expected_pieces", "expected_total"),
    [
        # 納期限 1/31/2025: low 2/1–2/28 = 100 × 2.4 × 28 = 6,720; high 3/1–3/10 = 100 × 8.7 × 10
        # = 8,700; 15,420 → 15,400
        (date(2025, 1, 31), date(2025, 3, 10), [(2, 1), (2, 28), "2.4", 6_720, (3, 1), (3, 10), 8_700], 15_400),
        # leap year: low 2/1–2/29 = 100 × 2.4 × 29 = 6,960 (still / 365); high 8,700; 15,660 → 15,600
        (date(2024, 1, 31), date(2024, 3, 10), [(2, 1), (2, 29), "2.4", 6_960, (3, 1), (3, 10), 8_700], 15_600),
        # 納期限 2/28/2024: low 2/29–3/28 (29 days) = 6,960; high 3/29–4/5 (8 days) = 6,960; → 13,900
        (date(2024, 2, 28), date(2024, 4, 5), [(2, 29), (3, 28), "2.4", 6_960, (3, 29), (4, 5), 6_960], 13_900),
        # 納期限 2/29/2024: low 3/1–3/31 = 100 × 2.4 × 31 = 7,440; high 4/1–4/5 = 4,350; 11,790 → 11,700
        (date(2024, 2, 29), date(2024, 4, 5), [(3, 1), (3, 31), "2.4", 7_440, (4, 1), (4, 5), 4_350], 11_700),
        # 納期限 5/31: low 6/1–6/30 = 7,200; high 7/1–7/10 = 8,700; 15,900
        (date(2025, 5, 31), date(2025, 7, 10), [(6, 1), (6, 30), "2.4", 7_200, (7, 1), (7, 10), 8_700], 15_900),
        # 納期限 5/1: low 5/2–6/1 (31 days) = 7,440; high 6/2–6/5 (4 days) = 3,480; 10,920 → 10,900
        (date(2025, 5, 1), date(2025, 6, 5), [(5, 2), (6, 1), "2.4", 7_440, (6, 2), (6, 5), 3_480], 10_900),
    ],
)
def test_one_month_boundary_at_month_ends(due, paid, expected_pieces, expected_total):
    low_start, low_end, low_rate, low_amount, high_start, high_end, high_amount = expected_pieces
    year = due.year
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, due, paid), RATES)
    assert pieces == [
        piece(date(year, *low_start), date(year, *low_end), EASY_BASE, low_rate, low_amount),
        piece(date(year, *high_start), date(year, *high_end), EASY_BASE, "8.7", high_amount),
    ]
    assert late_fee(LateFeeCase(EASY_BASE, due, paid), RATES) == expected_total


def test_period_crossing_new_year_changes_rate():
    # 12/16–12/31/2025 low 2.4: 100 × 2.4 × 16 = 3,840; 1/1–1/15/2026 low 2.8: 100 × 2.8 × 15 = 4,200;
    # 1/16–2/11/2026 high 9.1, 27 days: 100 × 9.1 × 27 = 24,570. 32,610 → 32,600.
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 12, 15), date(2026, 2, 11)), RATES)
    assert pieces == [
        piece(date(2025, 12, 16), date(2025, 12, 31), EASY_BASE, "2.4", 3_840),
        piece(date(2026, 1, 1), date(2026, 1, 15), EASY_BASE, "2.8", 4_200),
        piece(date(2026, 1, 16), date(2026, 2, 11), EASY_BASE, "9.1", 24_570),
    ]
    assert rounded_total(pieces) == 32_600


def test_piece_amounts_are_truncated():
    # 本税 123,456 → base 123,000. Low 6/1–6/30/2024: 123,000 × 2.4 × 30 / 36,500 = 8,856,000 / 36,500
    # = 242.6 → 242. High 7/1–8/15 (46 days): 123,000 × 8.7 × 46 / 36,500 = 49,224,600 / 36,500
    # = 1,348.6 → 1,348. 242 + 1,348 = 1,590 → 1,500.
    pieces = late_fee_pieces(LateFeeCase(123_456, date(2024, 5, 31), date(2024, 8, 15)), RATES)
    assert [(p.base, p.amount) for p in pieces] == [(123_000, 242), (123_000, 1_348)]
    assert rounded_total(pieces) == 1_500


def test_total_under_one_thousand_is_zero():
    # 100,000 × 2.4 × 30 / 36,500 = 197.3 → 197; 7/1–7/15: 100,000 × 8.7 × 15 / 36,500 = 357.5 → 357.
    # 197 + 357 = 554 < 1,000 → 0.
    pieces = late_fee_pieces(LateFeeCase(100_000, date(2024, 5, 31), date(2024, 7, 15)), RATES)
    assert [p.amount for p in pieces] == [197, 357]
    assert rounded_total(pieces) == 0


def test_principal_under_two_thousand_bears_nothing():
    pieces = late_fee_pieces(LateFeeCase(1_999, date(2025, 3, 31), date(2025, 12, 31)), RATES)
    assert {p.base for p in pieces} == {0}
    assert late_fee(LateFeeCase(1_999, date(2025, 3, 31), date(2025, 12, 31)), RATES) == 0


@pytest.mark.parametrize(
    ("due", "paid", "expected"),
    [
        # Saturday 5/31/2025 → Monday 6/2: low 6/3–7/2 (30 days) = 100 × 2.4 × 30 = 7,200
        (date(2025, 5, 31), date(2025, 7, 2), 7_200),
        # 12/31/2025 → 1/5/2026: low 1/6–2/5 (31 days) = 100 × 2.8 × 31 = 8,680 → 8,600
        (date(2025, 12, 31), date(2026, 2, 5), 8_600),
        # Saturday 5/3/2025 (憲法記念日) → 5/7: low 5/8–6/7 (31 days) = 100 × 2.4 × 31 = 7,440 → 7,400
        (date(2025, 5, 3), date(2025, 6, 7), 7_400),
    ],
)
def test_moved_due_date(due, paid, expected):
    assert late_fee(LateFeeCase(EASY_BASE, effective_due_date(due), paid), RATES) == expected


def test_unmoved_saturday_due_date_would_cost_more():
    # Had 5/31 not moved: 6/1–6/30 = 7,200 + 7/1–7/2 = 100 × 8.7 × 2 = 1,740; 8,940 → 8,900
    assert late_fee(LateFeeCase(EASY_BASE, date(2025, 5, 31), date(2025, 7, 2)), RATES) == 8_900


@pytest.mark.parametrize("paid", [date(2025, 3, 20), date(2025, 3, 31)])
def test_paid_by_the_due_date_bears_nothing(paid):
    assert late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), paid), RATES) == []
    assert late_fee(LateFeeCase(EASY_BASE, date(2025, 3, 31), paid), RATES) == 0


def test_partial_payment_lowers_the_base_from_the_next_day():
    # 1,824,001 paid on 5/10 leaves 1,825,999 → base 1,825,000 from 5/11.
    # 4/1–4/30 low: 7,200; 5/1–5/10 high: 100 × 8.7 × 10 = 8,700 (the payment day bears the old base);
    # 5/11–6/30 (51 days): 1,825,000 × 8.7 × 51 / 36,500 = 50 × 8.7 × 51 = 22,185. 38,085 → 38,000.
    payments = [(date(2025, 5, 10), 1_824_001)]
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), payments), RATES)
    assert pieces == [
        piece(date(2025, 4, 1), date(2025, 4, 30), EASY_BASE, "2.4", 7_200),
        piece(date(2025, 5, 1), date(2025, 5, 10), EASY_BASE, "8.7", 8_700),
        piece(date(2025, 5, 11), date(2025, 6, 30), 1_825_000, "8.7", 22_185),
    ]
    assert rounded_total(pieces) == 38_000


def test_partial_payment_leaving_under_two_thousand_stops_the_fee():
    # 3,648,500 paid on 4/20 leaves 1,500 < 2,000: only 4/1–4/20 bears, 100 × 2.4 × 20 = 4,800.
    payments = [(date(2025, 4, 20), 3_648_500)]
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), payments), RATES)
    assert pieces == [
        piece(date(2025, 4, 1), date(2025, 4, 20), EASY_BASE, "2.4", 4_800),
        piece(date(2025, 4, 21), date(2025, 4, 30), 0, "2.4", 0),
        piece(date(2025, 5, 1), date(2025, 6, 30), 0, "8.7", 0),
    ]
    assert rounded_total(pieces) == 4_800


def test_payments_on_or_before_the_due_date_lower_the_base_from_the_start():
    # 1,000,000 on 3/20 and 825,000 on 3/31 leave 1,825,000: 4/1–4/30 = 50 × 2.4 × 30 = 3,600.
    payments = [(date(2025, 3, 20), 1_000_000), (date(2025, 3, 31), 825_000)]
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 4, 30), payments), RATES)
    assert pieces == [piece(date(2025, 4, 1), date(2025, 4, 30), 1_825_000, "2.4", 3_600)]


def test_two_payments_on_one_day_count_together():
    # 1,000,000 + 825,000 on 4/10 leave 1,825,000: 4/1–4/10 = 100 × 2.4 × 10 = 2,400;
    # 4/11–4/30 = 50 × 2.4 × 20 = 2,400. 4,800.
    payments = [(date(2025, 4, 10), 1_000_000), (date(2025, 4, 10), 825_000)]
    assert late_fee(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 4, 30), payments), RATES) == 4_800


def test_low_rate_period_of_three_months():
    # 保険料: low 4/1–6/30 (91 days) = 100 × 2.4 × 91 = 21,840; high 7/1–7/31 = 100 × 8.7 × 31 = 26,970.
    # 48,810 → 48,800.
    assert late_fee(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 7, 31), low_rate_months=3), RATES) == 48_800


@pytest.mark.parametrize(
    ("principal", "payments", "reason"),
    [
        (-1, [], "negative"),
        (EASY_BASE, [(date(2025, 4, 10), -5)], "negative"),
        (EASY_BASE, [(date(2025, 7, 1), 1_000)], "after the full payment"),
        (EASY_BASE, [(date(2025, 4, 10), EASY_BASE), (date(2025, 4, 11), 1)], "exceed"),
    ],
)
def test_inconsistent_payments_are_refused(principal, payments, reason):
    with pytest.raises(ValueError, match=reason):
        late_fee_pieces(LateFeeCase(principal, date(2025, 3, 31), date(2025, 6, 30), payments), RATES)


def test_missing_rate_year_is_a_clear_error():
    with pytest.raises(MissingRateError, match="2027"):
        late_fee(LateFeeCase(EASY_BASE, date(2026, 12, 15), date(2027, 1, 10)), RATES)
    with pytest.raises(MissingRateError, match="2009"):
        refund_interest(EASY_BASE, date(2009, 12, 1), date(2010, 1, 31), RATES)


def test_refund_interest_of_an_excess_payment():
    # 過納: paid 4/30/2025, reduced later (on 7/1, say) → from 5/1 all the same. Through 7/31:
    # 31 + 30 + 31 = 92 days, 100 × 0.9 × 92 = 8,280 → 8,200.
    start = refund_interest_start("過納", date(2025, 4, 30))
    assert start == date(2025, 5, 1)
    assert refund_interest(EASY_BASE, start, date(2025, 7, 31), RATES) == 8_200


def test_refund_interest_of_an_erroneous_payment():
    # 誤納 paid 4/30: one-month day from 5/1 is 5/31, so it starts 6/1 (SPEC §4.2). Through 7/31:
    # 61 days, 100 × 0.9 × 61 = 5,490 → 5,400.
    start = refund_interest_start("誤納", date(2025, 4, 30))
    assert start == date(2025, 6, 1)
    assert refund_interest(EASY_BASE, start, date(2025, 7, 31), RATES) == 5_400


def test_refund_interest_across_new_year():
    # 誤納 paid 11/20/2025: one-month day from 11/21 is 12/20, starts 12/21. 12/21–12/31: 100 × 0.9 × 11
    # = 990; 1/1–1/31/2026: 100 × 1.3 × 31 = 4,030. 5,020 → 5,000.
    start = refund_interest_start("誤納", date(2025, 11, 20))
    pieces = refund_interest_pieces(EASY_BASE, start, date(2026, 1, 31), RATES)
    assert pieces == [
        piece(date(2025, 12, 21), date(2025, 12, 31), EASY_BASE, "0.9", 990),
        piece(date(2026, 1, 1), date(2026, 1, 31), EASY_BASE, "1.3", 4_030),
    ]
    assert rounded_total(pieces) == 5_000


def test_erroneous_payment_in_january_of_a_leap_year():
    # paid 1/30/2024: counted from 1/31, 2/31 does not exist → 2/29; starts 3/1.
    assert refund_interest_start("誤納", date(2024, 1, 30)) == date(2024, 3, 1)


@pytest.mark.parametrize(
    ("amount", "end", "expected"),
    [
        (1_999, date(2025, 12, 31), 0),  # under 2,000: none
        (100_000, date(2025, 7, 31), 0),  # 100,000 × 0.9 × 61 / 36,500 = 150.4 → 150 < 1,000 → 0
        (EASY_BASE, date(2025, 5, 31), 0),  # ends before it starts
    ],
)
def test_small_refund_interest_is_zero(amount, end, expected):
    assert refund_interest(amount, date(2025, 6, 1), end, RATES) == expected


def test_unknown_overpayment_kind_is_refused():
    with pytest.raises(ValueError, match="還付"):
        refund_interest_start("還付", date(2025, 4, 30))


def test_overpayment_arose_on():
    assert overpayment_arose_on("過納", date(2025, 4, 30), date(2025, 7, 1)) == date(2025, 7, 1)
    assert overpayment_arose_on("誤納", date(2025, 4, 30)) == date(2025, 4, 30)
    with pytest.raises(ValueError, match="reduced_on"):
        overpayment_arose_on("過納", date(2025, 4, 30))


@pytest.mark.parametrize(
    ("arose_on", "expected"),
    [
        (date(2024, 2, 29), date(2029, 2, 28)),  # 2029 has no 2/29
        (date(2023, 2, 28), date(2028, 2, 28)),
        (date(2025, 3, 15), date(2030, 3, 15)),
    ],
)
def test_expires_on(arose_on, expected):
    assert expires_on(arose_on) == expected


days_with_rates = st.dates(min_value=date(2010, 1, 1), max_value=date(2026, 12, 31))


@given(st.integers(0, 10**9), days_with_rates, days_with_rates)
def test_pieces_cover_the_period_one_year_and_one_rate_each(principal, due, paid):
    pieces = late_fee_pieces(LateFeeCase(principal, due, paid), RATES)
    assert sum(p.days for p in pieces) == max((paid - due).days, 0)
    if pieces:
        assert (pieces[0].start, pieces[-1].end) == (due + timedelta(days=1), paid)
    for before, after in zip(pieces, pieces[1:]):
        assert after.start == before.end + timedelta(days=1)
    assert all(p.start.year == p.end.year and p.days == (p.end - p.start).days + 1 for p in pieces)


@given(st.integers(0, 10**9), days_with_rates, days_with_rates, days_with_rates)
def test_late_fee_grows_with_the_payment_day_and_is_rounded(principal, due, paid, later):
    earlier, later = sorted((paid, later))
    fee = late_fee(LateFeeCase(principal, due, earlier), RATES)
    assert fee <= late_fee(LateFeeCase(principal, due, later), RATES)
    assert fee % 100 == 0 and (fee == 0 or fee >= 1_000)


@st.composite
def receivables_with_payments(draw):
    """A 本税, a due date, a full payment day, and partial payments that fit them."""
    due = draw(st.dates(min_value=date(2010, 1, 1), max_value=date(2025, 12, 31)))
    paid = draw(st.dates(min_value=due, max_value=min(due + timedelta(days=800), date(2026, 12, 31))))
    principal = draw(st.integers(0, 10**8))
    payment_days = draw(st.lists(st.dates(min_value=due - timedelta(days=30), max_value=paid), max_size=3))
    payments, left = [], principal
    for day in payment_days:
        amount = draw(st.integers(0, left))
        payments.append((day, amount))
        left -= amount
    return principal, due, paid, payments


@given(receivables_with_payments())
def test_pieces_agree_with_a_day_by_day_sum(receivable):
    # Unrounded, the pieces must carry exactly what each day bears on its own.
    principal, due, paid, payments = receivable
    low_rate_end = one_month_day(due + timedelta(days=1))
    expected = Fraction(0)
    for offset in range(1, (paid - due).days + 1):
        day = due + timedelta(days=offset)
        year_rates = RATES.for_year(day.year)
        rate = year_rates.late_fee_low_rate if day <= low_rate_end else year_rates.late_fee_high_rate
        remaining = principal - sum(amount for paid_on, amount in payments if paid_on < day)
        expected += interest_base(remaining) * Fraction(rate)
    pieces = late_fee_pieces(LateFeeCase(principal, due, paid, payments), RATES)
    assert sum(p.base * Fraction(p.rate) * p.days for p in pieces) == expected
    assert all(p.amount == p.base * Fraction(p.rate) * p.days // 36_500 for p in pieces)


@given(receivables_with_payments())
def test_partial_payments_never_raise_the_fee(receivable):
    principal, due, paid, payments = receivable
    assert late_fee(LateFeeCase(principal, due, paid, payments), RATES) <= late_fee(LateFeeCase(principal, due, paid), RATES)


# 延滞金 exemption periods (SPEC §6.1). Unless a case says otherwise: 納期限 12/15/2025, paid 2/11/2026,
# base 3,650,000 (a piece = 100 × rate × days × (1 − fraction)). Without any period (as
# test_period_crossing_new_year_changes_rate): 3,840 + 4,200 + 24,570 = 32,610 → 32,600.
NEW_YEAR_DUE, NEW_YEAR_PAID = date(2025, 12, 15), date(2026, 2, 11)
HALF, WHOLE = Fraction(1, 2), Fraction(1)


def new_year_pieces(*exemptions: tuple) -> list[Piece]:
    """The pieces of the New Year case with the given exemption periods."""
    return late_fee_pieces(LateFeeCase(EASY_BASE, NEW_YEAR_DUE, NEW_YEAR_PAID, exemptions=exemptions), RATES)


# A period 12/20/2025–1/20/2026 crosses New Year (2.4 → 2.8), the one-month day 1/15 and so the
# 2026 high rate 9.1:
# 12/16–12/19 (4 days, 2.4) = 960, outside the period;
# 12/20–12/31 (12 days, 2.4) = 2,880 × (1 − f); 1/1–1/15 (15 days, 2.8) = 4,200 × (1 − f);
# 1/16–1/20 (5 days, 9.1) = 4,550 × (1 − f); 1/21–2/11 (22 days, 9.1) = 20,020, outside.
# Whole: 960 + 0 + 0 + 0 + 20,020 = 20,980 → 20,900; exempted 32,600 − 20,900 = 11,700.
# Half: 960 + 1,440 + 2,100 + 2,275 + 20,020 = 26,795 → 26,700; exempted 32,600 − 26,700 = 5,900.
ACROSS_NEW_YEAR = (date(2025, 12, 20), date(2026, 1, 20))
WHOLE_ACROSS_NEW_YEAR = (20_900, 11_700)
HALF_ACROSS_NEW_YEAR = (26_700, 5_900)


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("disaster", None, WHOLE_ACROSS_NEW_YEAR),
        ("suspension", None, WHOLE_ACROSS_NEW_YEAR),
        ("deferral", None, HALF_ACROSS_NEW_YEAR),
        ("realisation", None, HALF_ACROSS_NEW_YEAR),
        ("reduction", WHOLE, WHOLE_ACROSS_NEW_YEAR),
        ("reduction", HALF, HALF_ACROSS_NEW_YEAR),
    ],
)
def test_each_exemption_kind_across_new_year_and_a_rate_change(kind, given, expected):
    fraction = load_exemption_kinds().fraction_of(kind, given)
    period = [(*ACROSS_NEW_YEAR, fraction)]
    charged = late_fee(LateFeeCase(EASY_BASE, NEW_YEAR_DUE, NEW_YEAR_PAID, exemptions=period), RATES)
    exempted = late_fee_exempted(LateFeeCase(EASY_BASE, NEW_YEAR_DUE, NEW_YEAR_PAID, exemptions=period), RATES)
    assert (charged, exempted) == expected


def test_a_whole_exemption_across_new_year_cuts_the_pieces_at_its_ends():
    assert new_year_pieces((*ACROSS_NEW_YEAR, WHOLE)) == [
        piece(date(2025, 12, 16), date(2025, 12, 19), EASY_BASE, "2.4", 960),
        piece(date(2025, 12, 20), date(2025, 12, 31), EASY_BASE, "2.4", 0, WHOLE),
        piece(date(2026, 1, 1), date(2026, 1, 15), EASY_BASE, "2.8", 0, WHOLE),
        piece(date(2026, 1, 16), date(2026, 1, 20), EASY_BASE, "9.1", 0, WHOLE),
        piece(date(2026, 1, 21), date(2026, 2, 11), EASY_BASE, "9.1", 20_020),
    ]


def test_a_half_exemption_across_new_year_halves_each_piece_inside_it():
    pieces = new_year_pieces((*ACROSS_NEW_YEAR, HALF))
    assert pieces == [
        piece(date(2025, 12, 16), date(2025, 12, 19), EASY_BASE, "2.4", 960),
        piece(date(2025, 12, 20), date(2025, 12, 31), EASY_BASE, "2.4", 1_440, HALF),
        piece(date(2026, 1, 1), date(2026, 1, 15), EASY_BASE, "2.8", 2_100, HALF),
        piece(date(2026, 1, 16), date(2026, 1, 20), EASY_BASE, "9.1", 2_275, HALF),
        piece(date(2026, 1, 21), date(2026, 2, 11), EASY_BASE, "9.1", 20_020),
    ]
    # The 100-yen floor applies to the total, not to each piece: 26,795 → 26,700.
    assert sum(p.amount for p in pieces) == 26_795 and rounded_total(pieces) == 26_700


def test_overlapping_periods_the_larger_fraction_wins():
    # Half 12/20–1/20 and whole 1/10–1/31: 12/16–12/19 960; 12/20–12/31 half 1,440; 1/1–1/9 half
    # 100 × 2.8 × 9 / 2 = 1,260; 1/10–1/15, 1/16–1/20 and 1/21–1/31 whole 0; 2/1–2/11 (11 days)
    # 100 × 9.1 × 11 = 10,010. 13,670 → 13,600, exempted 32,600 − 13,600 = 19,000.
    half, whole = (*ACROSS_NEW_YEAR, HALF), (date(2026, 1, 10), date(2026, 1, 31), WHOLE)
    expected = [
        piece(date(2025, 12, 16), date(2025, 12, 19), EASY_BASE, "2.4", 960),
        piece(date(2025, 12, 20), date(2025, 12, 31), EASY_BASE, "2.4", 1_440, HALF),
        piece(date(2026, 1, 1), date(2026, 1, 9), EASY_BASE, "2.8", 1_260, HALF),
        piece(date(2026, 1, 10), date(2026, 1, 15), EASY_BASE, "2.8", 0, WHOLE),
        piece(date(2026, 1, 16), date(2026, 1, 20), EASY_BASE, "9.1", 0, WHOLE),
        piece(date(2026, 1, 21), date(2026, 1, 31), EASY_BASE, "9.1", 0, WHOLE),
        piece(date(2026, 2, 1), date(2026, 2, 11), EASY_BASE, "9.1", 10_010),
    ]
    assert new_year_pieces(half, whole) == new_year_pieces(whole, half) == expected
    assert late_fee_exempted(LateFeeCase(EASY_BASE, NEW_YEAR_DUE, NEW_YEAR_PAID, exemptions=[half, whole]), RATES) == 19_000


def test_a_half_period_inside_a_whole_one_changes_nothing():
    whole, half = (*ACROSS_NEW_YEAR, WHOLE), (date(2025, 12, 25), date(2026, 1, 5), HALF)
    fees = [rounded_total(new_year_pieces(*periods)) for periods in ([whole], [whole, half], [half, whole])]
    assert fees == [20_900] * 3


def test_an_open_ended_period_runs_to_the_payment():
    # Half from 1/16/2026, still in force: 12/16–12/31 3,840; 1/1–1/15 4,200; 1/16–2/11 (27 days)
    # 100 × 9.1 × 27 / 2 = 12,285. 20,325 → 20,300, exempted 32,600 − 20,300 = 12,300.
    open_ended = (date(2026, 1, 16), None, HALF)
    assert new_year_pieces(open_ended) == [
        piece(date(2025, 12, 16), date(2025, 12, 31), EASY_BASE, "2.4", 3_840),
        piece(date(2026, 1, 1), date(2026, 1, 15), EASY_BASE, "2.8", 4_200),
        piece(date(2026, 1, 16), date(2026, 2, 11), EASY_BASE, "9.1", 12_285, HALF),
    ]
    assert late_fee_exempted(LateFeeCase(EASY_BASE, NEW_YEAR_DUE, NEW_YEAR_PAID, exemptions=[open_ended]), RATES) == 12_300


# 納期限 3/31/2025, paid 5/31/2025; without a period 4/1–4/30 7,200 + 5/1–5/31 26,970 = 34,170 → 34,100.
@pytest.mark.parametrize(
    ("period", "expected_pieces", "expected_fee"),
    [
        # Whole 3/1–4/10 starts before the 納期限: clipped to 4/1–4/10 (0); 4/11–4/30 (20 days)
        # 100 × 2.4 × 20 = 4,800; 5/1–5/31 26,970. 31,770 → 31,700.
        (
            (date(2025, 3, 1), date(2025, 4, 10), WHOLE),
            [((4, 1), (4, 10), "2.4", 0, WHOLE), ((4, 11), (4, 30), "2.4", 4_800, 0), ((5, 1), (5, 31), "8.7", 26_970, 0)],
            31_700,
        ),
        # Half 5/20–12/31 ends after the 納付日: 4/1–4/30 7,200; 5/1–5/19 (19 days) 100 × 8.7 × 19
        # = 16,530; 5/20–5/31 (12 days) 100 × 8.7 × 12 / 2 = 5,220. 28,950 → 28,900.
        (
            (date(2025, 5, 20), date(2025, 12, 31), HALF),
            [((4, 1), (4, 30), "2.4", 7_200, 0), ((5, 1), (5, 19), "8.7", 16_530, 0), ((5, 20), (5, 31), "8.7", 5_220, HALF)],
            28_900,
        ),
        # Whole through the 納期限 itself, and whole from the day after the 納付日: no day bears it.
        ((date(2025, 1, 1), date(2025, 3, 31), WHOLE), [((4, 1), (4, 30), "2.4", 7_200, 0), ((5, 1), (5, 31), "8.7", 26_970, 0)], 34_100),
        ((date(2025, 6, 1), None, WHOLE), [((4, 1), (4, 30), "2.4", 7_200, 0), ((5, 1), (5, 31), "8.7", 26_970, 0)], 34_100),
    ],
)
def test_periods_before_the_due_date_or_after_the_payment_are_clipped(period, expected_pieces, expected_fee):
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 5, 31), exemptions=[period]), RATES)
    assert pieces == [
        piece(date(2025, *start), date(2025, *end), EASY_BASE, rate, amount, Fraction(exempted))
        for start, end, rate, amount, exempted in expected_pieces
    ]
    assert rounded_total(pieces) == expected_fee
    assert late_fee_exempted(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 5, 31), exemptions=[period]), RATES) == 34_100 - expected_fee


def test_the_thousand_yen_floor_applies_to_the_exempted_total():
    # 本税 123,456 → base 123,000 (as test_piece_amounts_are_truncated: 242 + 1,348 = 1,590 → 1,500).
    # Half from 7/1/2024: 6/1–6/30 242; 7/1–8/15 (46 days) 123,000 × 8.7 × 46 / 2 / 36,500
    # = 49,224,600 / 73,000 = 674.3 → 674. 916 < 1,000 → 0: the whole 1,500 is exempted.
    period = [(date(2024, 7, 1), None, HALF)]
    pieces = late_fee_pieces(LateFeeCase(123_456, date(2024, 5, 31), date(2024, 8, 15), exemptions=period), RATES)
    assert [(p.amount, p.exempted_fraction) for p in pieces] == [(242, 0), (674, HALF)]
    assert rounded_total(pieces) == 0
    assert late_fee_exempted(LateFeeCase(123_456, date(2024, 5, 31), date(2024, 8, 15), exemptions=period), RATES) == 1_500


def test_an_exemption_with_a_partial_payment():
    # As test_partial_payment_lowers_the_base_from_the_next_day (38,085 → 38,000), with a half period
    # 5/6–5/20 cutting the high-rate piece around the payment of 5/10: 4/1–4/30 7,200; 5/1–5/5 (5 days)
    # 100 × 8.7 × 5 = 4,350; 5/6–5/10 half 100 × 8.7 × 5 / 2 = 2,175; 5/11–5/20 on 1,825,000 half
    # 50 × 8.7 × 10 / 2 = 2,175; 5/21–6/30 (41 days) 50 × 8.7 × 41 = 17,835. 33,735 → 33,700.
    payments = [(date(2025, 5, 10), 1_824_001)]
    period = [ExemptionPeriod(date(2025, 5, 6), date(2025, 5, 20), HALF)]
    pieces = late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), payments, exemptions=period), RATES)
    assert [p.amount for p in pieces] == [7_200, 4_350, 2_175, 2_175, 17_835]
    assert rounded_total(pieces) == 33_700
    assert late_fee_exempted(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), payments, exemptions=period), RATES) == 4_300


@pytest.mark.parametrize(
    ("period", "reason"),
    [
        ((date(2025, 5, 1), date(2025, 4, 30), WHOLE), "starts after it"),
        ((date(2025, 5, 1), None, Fraction(0)), "more than 0 and at most 1"),
        ((date(2025, 5, 1), None, Fraction(3, 2)), "more than 0 and at most 1"),
    ],
)
def test_inconsistent_exemption_periods_are_refused(period, reason):
    with pytest.raises(ValueError, match=reason):
        late_fee_pieces(LateFeeCase(EASY_BASE, date(2025, 3, 31), date(2025, 6, 30), exemptions=[period]), RATES)


fractions = st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(2, 3), Fraction(1, 3)])


@st.composite
def exemption_periods(draw, due: date, paid: date, edges: Sequence[date] = ()) -> list[ExemptionPeriod]:
    """Up to three periods around due..paid: overlapping, open-ended, before the due date or after the payment.

    Some start or end on one of edges or the day after one, where an off-by-one would show.
    """
    near = [day + timedelta(days=shift) for day in (*edges, due, paid) for shift in (0, 1)]
    start_days = st.one_of(st.dates(min_value=due - timedelta(days=60), max_value=paid + timedelta(days=30)), st.sampled_from(near))
    periods = []
    for start in draw(st.lists(start_days, max_size=3)):
        later = [day for day in near if day >= start]
        any_end = st.dates(min_value=start, max_value=start + timedelta(days=400))
        end = draw(st.one_of(st.none(), any_end, st.sampled_from(later) if later else any_end))
        periods.append(ExemptionPeriod(start, end, draw(fractions)))
    return periods


@settings(max_examples=60)
@given(receivables_with_payments(), st.data())
def test_exempted_pieces_agree_with_a_day_by_day_sum(receivable, data):
    # Each day bears its share after the largest fraction in force on it; pieces carry it exactly.
    principal, due, paid, payments = receivable
    periods = data.draw(exemption_periods(due, paid))
    low_rate_end = one_month_day(due + timedelta(days=1))
    expected = Fraction(0)
    for offset in range(1, (paid - due).days + 1):
        day = due + timedelta(days=offset)
        year_rates = RATES.for_year(day.year)
        rate = year_rates.late_fee_low_rate if day <= low_rate_end else year_rates.late_fee_high_rate
        remaining = principal - sum(amount for paid_on, amount in payments if paid_on < day)
        in_force = [p.fraction for p in periods if p.start <= day and (p.end is None or day <= p.end)]
        expected += interest_base(remaining) * Fraction(rate) * (1 - max(in_force, default=0))
    pieces = late_fee_pieces(LateFeeCase(principal, due, paid, payments, exemptions=periods), RATES)
    assert sum(p.base * Fraction(p.rate) * p.days * (1 - p.exempted_fraction) for p in pieces) == expected
    assert all(p.amount == p.base * Fraction(p.rate) * p.days * (1 - p.exempted_fraction) // 36_500 for p in pieces)
    exempted = late_fee_exempted(LateFeeCase(principal, due, paid, payments, exemptions=periods), RATES)
    assert 0 <= exempted == late_fee(LateFeeCase(principal, due, paid, payments), RATES) - rounded_total(pieces)
