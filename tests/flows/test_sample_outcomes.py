"""Every planted case of the sample, run night by night: what each one leaves in the tables (SPEC §2–§4).

The committed sample's settlement dates are run in order into a DuckDB file (the session's
`sample_nights`); the derived tables are kept as each night left them. Expected yen amounts are
worked out by hand in the comments, with the rates of SPEC §4.1; `transforms.late_fee` only
cross-checks that arithmetic (test_the_hand_arithmetic_agrees_with_the_reference_engine).

Rates used below (SPEC §4.1): 延滞金 2.4% / 8.7% in 2025, 2.8% / 9.1% in 2026 (≤ 1 month / after);
還付加算金 1.3% in 2026. Each piece is floor(base × rate × days / 365); the total is 0 under 1,000
yen, otherwise floored to 100 yen.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows.settlement import run_settlement_date
from schemas.layouts import LayoutName, load_layout
from schemas.rates import load_rates
from sample_data.outcomes import PLANTED_OUTCOMES
from tests.transforms.test_late_fee import refund_interest
from transforms.late_fee import LateFeeCase, late_fee
from tests.databases import read_only_database

FIRST, SECOND, THIRD = date(2026, 5, 11), date(2026, 5, 12), date(2026, 5, 13)
DERIVED = ("receivables", "payments", "provisional_payments", "applications", "arrears", "refund_candidates", "offsets")

# 延滞金 of late_with_late_fee: 本税 352,300 (base 352,000), 納期限 2025-01-31 (Fri), paid 2026-05-08.
#   2025-02-01..02-28   28 days at 2.4% (to the one-month day 2/28): 352,000 × 0.024 ×  28 / 365 =    648.06 →    648
#   2025-03-01..12-31  306 days at 8.7%:                            352,000 × 0.087 × 306 / 365 = 25,673.8  → 25,673
#   2026-01-01..05-08  128 days at 9.1%:                            352,000 × 0.091 × 128 / 365 = 11,233.1  → 11,233
#   648 + 25,673 + 11,233 = 37,554 → 37,500
LATE_WITH_LATE_FEE = 37_500
# 延滞金 of late_without_late_fee: 本税 268,400 (base 268,000), 納期限 2025-07-31 (Thu), paid 2026-05-07.
#   2025-08-01..08-31   31 days at 2.4%: 268,000 × 0.024 ×  31 / 365 =   546.3 →   546
#   2025-09-01..12-31  122 days at 8.7%: 268,000 × 0.087 × 122 / 365 = 7,793.3 → 7,793
#   2026-01-01..05-07  127 days at 9.1%: 268,000 × 0.091 × 127 / 365 = 8,485.7 → 8,485
#   546 + 7,793 + 8,485 = 16,824 → 16,800 (確定: the 本税 was paid in full on 05-07)
LATE_WITHOUT_LATE_FEE = 16_800
# 延滞金 of the offset case's target: 本税 30,500 (base 30,000), 納期限 2025-10-31 (Fri), to 2026-05-11
# (the 充当適状日, and also the first night's as_of, when the estimate runs to the same day).
#   2025-11-01..11-30   30 days at 2.4%: 30,000 × 0.024 ×  30 / 365 =  59.2 →  59
#   2025-12-01..12-31   31 days at 8.7%: 30,000 × 0.087 ×  31 / 365 = 221.7 → 221
#   2026-01-01..05-11  131 days at 9.1%: 30,000 × 0.091 × 131 / 365 = 979.8 → 979
#   59 + 221 + 979 = 1,259 → 1,200
OFFSET_TARGET_LATE_FEE = 1_200
# The offset case: 47,300 paid twice (誤納 47,300) → 本税 30,500 + 督促手数料 100 + 延滞金 1,200 = 31,800
# offset; 47,300 − 31,800 = 15,500 refunded.
OFFSET_AMOUNT, OFFSET_REFUND = 31_800, 15_500
# Estimates under the 1,000-yen floor (SPEC §4.1), as of 2026-05-13 unless said otherwise:
#   partial: 34,000 left after 05-11 (its 納期限, 05-10 being a Sunday): 05-12..05-13 2 days at 2.8%
#     = 34,000 × 0.028 × 2 / 365 = 5.2 → 5 → 0
#   response_code_error: 15,000 due 2026-03-02 (02-28 is a Saturday): 03-03..04-02 31 days at 2.8% = 35.7 → 35,
#     04-03..05-13 41 days at 9.1% = 153.3 → 153; 188 → 0
#   provisional_withdrawn: 31,000 due 2026-02-02 (01-31 is a Saturday): 02-03..03-02 28 days at 2.8% = 66.6 → 66,
#     03-03..05-13 72 days at 9.1% = 556.5 → 556; 622 → 0
#   missing_management: 120,000 due 2026-05-11: 05-12..05-13 2 days at 2.8% = 18.4 → 18 → 0
#   link_released: 66,000 due 2026-05-11: 05-12..05-13 2 days at 2.8% = 10.1 → 10 → 0
#   provisional_blank_id: 22,000 due 2026-03-02, paid 05-11: 03-03..04-02 31 days at 2.8% = 52.3 → 52,
#     04-03..05-11 39 days at 9.1% = 213.9 → 213; 265 → 0 (確定: nothing owed)
#   reduced_receivable (過納 6,000): 還付加算金 from 05-09 to 05-13, 5 days at 1.3% = 6,000 × 0.013 × 5 / 365
#     = 1.07 → 1 → 0


# No repr: a failing test would print the tables, and with them the sample's names.
@dataclass(frozen=True, repr=False)
class SampleRun:
    """The sample's inbox and database after every night, with the derived tables as each night left them."""

    inbox: Path
    database: Path
    dates: tuple[date, ...]
    cases: pl.DataFrame
    after: dict[date, dict[str, pl.DataFrame]]
    # Opened once for the module's hundred queries: opening the encrypted database costs more than most of them.
    reader: duckdb.DuckDBPyConnection

    def case(self, name: str) -> dict:
        """The planted case `name`."""
        return self.cases.filter(pl.col("case") == name).row(0, named=True)

    def tables(self, day: date | None = None) -> dict[str, pl.DataFrame]:
        """The derived tables after the night of `day` (the last night by default)."""
        return self.after[day or self.dates[-1]]

    def query(self, sql: str, parameters: list | None = None) -> pl.DataFrame:
        """A query on the final database, read-only."""
        return self.reader.sql(sql, params=parameters).pl()


def read_tables(database: Path, names: tuple[str, ...] = DERIVED) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {name: connection.sql(f'SELECT * FROM "{name}"').pl() for name in names}


def run_nights(inbox: Path, database: Path, dates: tuple[date, ...]) -> dict[date, dict[str, pl.DataFrame]]:
    after = {}
    for day in dates:
        run_settlement_date(day, inbox, database)
        after[day] = read_tables(database)
    return after


@pytest.fixture(scope="module")
def sample_run(sample_nights, committed_sample) -> Iterator[SampleRun]:
    # The expected amounts below are worked out for these nights.
    assert sample_nights.dates == (FIRST, SECOND, THIRD)
    after = {night: read_tables(sample_nights.database_after(night)) for night in sample_nights.dates}
    with read_only_database(sample_nights.database_after()) as reader:
        yield SampleRun(sample_nights.inbox, sample_nights.database_after(), sample_nights.dates, committed_sample.cases, after, reader)


def payment_of(tables: dict[str, pl.DataFrame], case: dict) -> dict | None:
    """The `payments` row of a case's payment: by (共通納税ID, 連番), or 納付情報シーケンス without an ID."""
    payments = tables["payments"]
    if case["common_tax_id"] is None:
        identity = pl.col("common_tax_id").is_null() & (pl.col("payment_info_sequence") == case["payment_info_sequence"])
    else:
        identity = (pl.col("common_tax_id") == case["common_tax_id"]) & (pl.col("sequence_number") == case["sequence_number"])
    found = payments.filter(identity)
    assert found.height <= 1, case["case"]
    return found.row(0, named=True) if found.height else None


def rows_of(tables: dict[str, pl.DataFrame], table: str, payment: dict) -> pl.DataFrame:
    return tables[table].filter(pl.col("payment_key") == payment["payment_key"])


def arrears_of(tables: dict[str, pl.DataFrame], receivable_id: str) -> dict | None:
    found = tables["arrears"].filter(pl.col("receivable_id") == receivable_id)
    return found.row(0, named=True) if found.height else None


def other_receivable(tables: dict[str, pl.DataFrame], receivable_id: str) -> dict:
    """The one other receivable of the taxpayer of `receivable_id` (the offset cases have two each)."""
    receivables = tables["receivables"]
    [taxpayer] = receivables.filter(pl.col("receivable_id") == receivable_id)["taxpayer_id"].to_list()
    others = receivables.filter((pl.col("taxpayer_id") == taxpayer) & (pl.col("receivable_id") != receivable_id))
    [other] = others.rows(named=True)
    return other


def test_the_hand_arithmetic_agrees_with_the_reference_engine():
    rates = load_rates()
    assert late_fee(LateFeeCase(352_300, date(2025, 1, 31), date(2026, 5, 8)), rates) == LATE_WITH_LATE_FEE
    assert late_fee(LateFeeCase(268_400, date(2025, 7, 31), date(2026, 5, 7)), rates) == LATE_WITHOUT_LATE_FEE
    assert late_fee(LateFeeCase(30_500, date(2025, 10, 31), date(2026, 5, 11)), rates) == OFFSET_TARGET_LATE_FEE
    assert late_fee(LateFeeCase(84_000, date(2026, 5, 11), THIRD, [(date(2026, 5, 11), 50_000)]), rates) == 0
    assert late_fee(LateFeeCase(15_000, date(2026, 3, 2), THIRD), rates) == 0
    assert late_fee(LateFeeCase(31_000, date(2026, 2, 2), THIRD), rates) == 0
    assert late_fee(LateFeeCase(120_000, date(2026, 5, 11), THIRD), rates) == 0
    assert late_fee(LateFeeCase(66_000, date(2026, 5, 11), THIRD), rates) == 0
    assert late_fee(LateFeeCase(22_000, date(2026, 3, 2), date(2026, 5, 11)), rates) == 0
    assert refund_interest(6_000, date(2026, 5, 9), THIRD, rates) == 0


# case, 本税 / 督促手数料 / 延滞金 applied to the case's receivable, overpaid_amount.
APPLIED_CASES = [
    ("qr_full", 10_800, 0, 0, 0),
    ("ibm_extension_kanji", 10_800, 0, 0, 0),
    ("filing_full", 180_000, 0, 0, 0),
    ("link_redelivered", 180_000, 0, 0, 0),
    ("management_redelivered", 180_000, 0, 0, 0),
    ("partial", 50_000, 0, 0, 0),
    ("late_with_late_fee", 352_300, 100, LATE_WITH_LATE_FEE, 0),
    ("dunning_fee_paid", 352_300, 100, LATE_WITH_LATE_FEE, 0),
    # 支払納付額 268,500 = 本税 268,400 + 督促手数料 100; no 延滞金 paid with it.
    ("late_without_late_fee", 268_400, 100, 0, 0),
    ("late_fee_only", 0, 0, LATE_WITHOUT_LATE_FEE, 0),
    ("double_payment_first", 41_200, 0, 0, 0),
    ("double_payment", 0, 0, 0, 41_200),
    # 50,000 paid for 45,000 owed.
    ("overpayment", 45_000, 0, 0, 5_000),
    ("cancelled_receivable_payment", 0, 0, 0, 6_900),
    # 58,000 paid, then reduced to 52,000: the application shrinks (SPEC §3.1).
    ("reduced_receivable", 52_000, 0, 0, 6_000),
    ("unknown_channel", 7_200, 0, 0, 0),
    ("unconfirmed", 12_900, 0, 0, 0),
    ("estimated_payment", 300_000, 0, 0, 0),
    ("late_link", 38_000, 0, 0, 0),
    # 納付額 22,000 and 納付督促手数料 100 of the 仮登録 record.
    ("provisional_blank_id", 22_000, 100, 0, 0),
    ("nec_selected_kanji", 22_000, 100, 0, 0),
    ("provisional_by_notice_number", 44_000, 0, 0, 0),
    ("historical_provisional", 27_000, 0, 0, 0),
    ("offset_first_payment", 47_300, 0, 0, 0),
    ("offset", 0, 0, 0, 47_300),
    ("offset_not_yet_due", 0, 0, 0, 25_000),
]


@pytest.mark.parametrize(("name", "principal", "dunning_fee", "late_fee_paid", "overpaid"), APPLIED_CASES)
def test_an_applied_payment_settles_its_receivable(sample_run, name, principal, dunning_fee, late_fee_paid, overpaid):
    case, tables = sample_run.case(name), sample_run.tables()
    payment = payment_of(tables, case)
    assert (payment["status"], payment["error_class"], payment["receivable_id"]) == ("applied", "00", case["receivable_id"])
    [provisional] = rows_of(tables, "provisional_payments", payment)["error_class"].to_list()
    assert provisional == "00"
    applied = rows_of(tables, "applications", payment)
    assert applied.select("receivable_id", "principal_applied", "dunning_fee_applied", "late_fee_applied").rows() == [
        (case["receivable_id"], principal, dunning_fee, late_fee_paid)
    ]
    assert payment["overpaid_amount"] == overpaid


# case, status, エラー区分 (SPEC §3: 10 not linked, 20 no receivable, 30 管理 missing, 40 conflict, 90 other).
UNAPPLIED_CASES = [
    ("reversal_original", "reversed", "90"),
    ("reversal", "reversed", "90"),
    ("conflict", "held", "40"),
    ("response_code_error", "not_completed", "90"),
    ("unknown_payment", "pending", "20"),
    ("missing_management", "pending", "30"),
    ("unlinked_taxpayer", "pending", "10"),
    ("link_released", "pending", "10"),
    ("provisional_withdrawn", "withdrawn", "90"),
]


@pytest.mark.parametrize(("name", "status", "error_class"), UNAPPLIED_CASES)
def test_a_payment_not_applied_keeps_its_status_and_is_applied_to_nothing(sample_run, name, status, error_class):
    case, tables = sample_run.case(name), sample_run.tables()
    payment = payment_of(tables, case)
    assert (payment["status"], payment["error_class"]) == (status, error_class)
    assert rows_of(tables, "provisional_payments", payment)["error_class"].to_list() == [error_class]
    assert rows_of(tables, "applications", payment).height == 0
    assert rows_of(tables, "refund_candidates", payment).height == 0


# case, night, status and エラー区分 after that night: payments waiting for a link or a receivable, and
# later sightings that take an application back.
NIGHTLY_CASES = [
    ("late_link", FIRST, "pending", "10"),  # its 紐付履歴 comes on the second night
    ("late_link", SECOND, "applied", "00"),
    ("estimated_payment", SECOND, "pending", "20"),  # 見込納付: its receivable is in the third snapshot
    ("estimated_payment", THIRD, "applied", "00"),
    ("reversal_original", FIRST, "applied", "00"),  # the 取消 comes on the second night
    ("reversal_original", SECOND, "reversed", "90"),
    ("conflict", FIRST, "applied", "00"),  # 速報 30,000 alone
    ("conflict", SECOND, "held", "40"),  # 確報 3,000 disagrees
]


@pytest.mark.parametrize(("name", "night", "status", "error_class"), NIGHTLY_CASES)
def test_a_payment_is_matched_again_every_night(sample_run, name, night, status, error_class):
    case, tables = sample_run.case(name), sample_run.tables(night)
    payment = payment_of(tables, case)
    assert (payment["status"], payment["error_class"]) == (status, error_class)
    assert rows_of(tables, "provisional_payments", payment)["error_class"].to_list() == [error_class]
    applied = rows_of(tables, "applications", payment)
    assert applied.height == (1 if status == "applied" else 0)
    assert applied["receivable_id"].to_list() == ([case["receivable_id"]] if status == "applied" else [])


def test_the_reduction_turns_part_of_a_lawful_payment_into_an_overpayment_from_its_night(sample_run):
    case = sample_run.case("reduced_receivable")
    before, after = (payment_of(sample_run.tables(night), case) for night in (FIRST, SECOND))
    assert (before["overpaid_amount"], after["overpaid_amount"]) == (0, 6_000)
    assert rows_of(sample_run.tables(FIRST), "applications", before)["principal_applied"].to_list() == [58_000]
    assert rows_of(sample_run.tables(FIRST), "refund_candidates", before).height == 0


def test_a_payment_seen_in_both_files_and_a_redelivery_is_one_payment(sample_run):
    payment = payment_of(sample_run.tables(), sample_run.case("filing_full"))
    # 速報 on 05-12, the same 速報 re-delivered (002) on 05-12, 確報 on 05-13.
    assert (payment["first_seen_on"], payment["confirmed_on"], payment["deposited_on"]) == (SECOND, THIRD, THIRD)
    assert (payment["sighting_count"], payment["unconfirmed"]) == (3, False)
    assert sample_run.tables()["payments"].filter(pl.col("common_tax_id") == payment["common_tax_id"]).height == 1


def test_a_payment_without_confirmation_five_business_days_after_its_payment_date_is_reported(sample_run):
    case = sample_run.case("unconfirmed")
    payment = payment_of(sample_run.tables(), case)
    # Paid 04-30; the fifth business day after it (05-01, then 05-07 after Golden Week, 05-08, 05-11, 05-12)
    # is 05-12: reported on 05-13, not yet on 05-11. Whether the night of 05-12 itself reports it, SPEC §2
    # ("still unconfirmed five business days after its 納付日") reads either way, so it is not asserted.
    assert (payment["paid_on"], payment["deposited_on"], payment["confirmed_on"]) == (date(2026, 4, 30), None, None)
    assert payment["unconfirmed"] is True
    assert payment_of(sample_run.tables(FIRST), case)["unconfirmed"] is False
    assert payment_of(sample_run.tables(), sample_run.case("qr_full"))["unconfirmed"] is False


def test_the_historical_payment_keeps_its_dates(sample_run):
    payment = payment_of(sample_run.tables(), sample_run.case("historical_provisional"))
    # Paid Wednesday 2023-08-30, deposited two business days later.
    assert (payment["paid_on"], payment["deposited_on"], payment["first_seen_on"]) == (date(2023, 8, 30), date(2023, 9, 1), FIRST)


def test_a_provisional_record_without_common_tax_id_is_keyed_by_its_sequence(sample_run):
    case = sample_run.case("provisional_blank_id")
    payment = payment_of(sample_run.tables(), case)
    assert payment["common_tax_id"] is None and payment["payment_info_sequence"] == case["payment_info_sequence"]
    # 納付額 22,000 + 納付督促手数料 100.
    assert (payment["paid_total"], payment["paid_principal"], payment["paid_dunning_fee"]) == (22_100, 22_000, 100)
    # Paid after its 納期限, but its 延滞金 (265 yen) is under 1,000: nothing owed, nothing in arrears.
    assert arrears_of(sample_run.tables(), case["receivable_id"]) is None


@pytest.mark.parametrize(("name", "payer_name"), [("ibm_extension_kanji", "髙橋　太郎"), ("nec_selected_kanji", "川﨑　千尋")])
def test_both_encodings_of_the_same_kanji_decode_to_it(sample_run, name, payer_name):
    payment = payment_of(sample_run.tables(), sample_run.case(name))
    assert rows_of(sample_run.tables(), "provisional_payments", payment)["payer_name"].to_list() == [payer_name]


def test_the_unknown_channel_is_kept_with_a_warning(sample_run):
    case = sample_run.case("unknown_channel")
    assert payment_of(sample_run.tables(), case)["channel_class"] == "09"
    warnings = sample_run.query(
        "SELECT field, value FROM record_warnings WHERE file_name = ? AND record_number = ?", [case["file_name"], case["record_number"]]
    )
    assert warnings.rows() == [("channel_class", "09")]


def test_the_redelivered_management_record_and_link_change_nothing(sample_run):
    case = sample_run.case("management_redelivered")
    management = sample_run.query(
        "SELECT file_name FROM management_records WHERE common_tax_id = ? ORDER BY file_name", [case["common_tax_id"]]
    )
    assert management.height == 2 and management["file_name"][-1] == case["file_name"]
    links = sample_run.query("SELECT count(*) AS n FROM link_records WHERE file_name = ?", [sample_run.case("link_redelivered")["file_name"]])
    assert links["n"].to_list() == [1]
    assert rows_of(sample_run.tables(), "applications", payment_of(sample_run.tables(), case)).height == 1


def test_a_partial_payment_leaves_the_rest_in_arrears_with_an_estimated_late_fee(sample_run):
    case = sample_run.case("partial")
    arrears = arrears_of(sample_run.tables(), case["receivable_id"])
    # 84,000 − 50,000; the 見込 延滞金 is 5 yen, under the 1,000-yen floor. 納期限 05-10 is a Sunday: 05-11.
    assert arrears == arrears | {
        "principal": 84_000,
        "principal_outstanding": 34_000,
        "dunning_fee_outstanding": 0,
        "late_fee": 0,
        "late_fee_status": "見込",
        "effective_due_date": FIRST,
        "days_overdue": 2,
        "dunning_due": True,
        "dunning_deadline": date(2026, 5, 31),
        "as_of": THIRD,
    }


@pytest.mark.parametrize("night", [FIRST, SECOND])
def test_a_late_payment_without_its_late_fee_leaves_the_fixed_late_fee_in_arrears(sample_run, night):
    case = sample_run.case("late_without_late_fee")
    arrears = arrears_of(sample_run.tables(night), case["receivable_id"])
    assert arrears == arrears | {
        "principal_outstanding": 0,
        "dunning_fee_outstanding": 0,
        "late_fee": LATE_WITHOUT_LATE_FEE,
        "late_fee_status": "確定",
        "effective_due_date": date(2025, 7, 31),
        "dunning_due": False,
        "dunning_sent_on": date(2025, 8, 15),
        "as_of": night,
    }


def test_the_late_fee_paid_alone_clears_the_arrears(sample_run):
    receivable_id = sample_run.case("late_fee_only")["receivable_id"]
    assert receivable_id == sample_run.case("late_without_late_fee")["receivable_id"]
    assert arrears_of(sample_run.tables(), receivable_id) is None
    assert arrears_of(sample_run.tables(), sample_run.case("late_with_late_fee")["receivable_id"]) is None


# case, principal outstanding, effective 納期限, days overdue as of 05-13 (見込 延滞金 under 1,000: 0, see the top).
UNPAID_CASES = [
    ("response_code_error", 15_000, date(2026, 3, 2), 72),
    ("provisional_withdrawn", 31_000, date(2026, 2, 2), 100),
    ("missing_management", 120_000, FIRST, 2),
    ("link_released", 66_000, FIRST, 2),
]


@pytest.mark.parametrize(("name", "outstanding", "due", "days"), UNPAID_CASES)
def test_a_receivable_whose_payment_was_not_applied_stays_in_arrears(sample_run, name, outstanding, due, days):
    arrears = arrears_of(sample_run.tables(), sample_run.case(name)["receivable_id"])
    assert arrears == arrears | {
        "principal_outstanding": outstanding,
        "late_fee": 0,
        "late_fee_status": "見込",
        "effective_due_date": due,
        "days_overdue": days,
        "dunning_due": True,
        "as_of": THIRD,
    }


# case, kind, overpaid, offset, refund, arose_on, 還付加算金 start, expires_on. 誤納 interest starts the day
# after the one-month day counted from the day after the 納付日 (05-08 → 05-09..06-08 → 06-09); 過納
# interest the day after the 納付日. No interest is due yet on 05-13 (reduced_receivable: 1 yen → 0).
REFUND_CASES = [
    ("overpayment", "誤納", 5_000, 0, 5_000, date(2026, 5, 8), date(2026, 6, 9), date(2031, 5, 8)),
    ("double_payment", "誤納", 41_200, 0, 41_200, FIRST, date(2026, 6, 12), date(2031, 5, 11)),
    ("cancelled_receivable_payment", "誤納", 6_900, 0, 6_900, SECOND, date(2026, 6, 13), date(2031, 5, 12)),
    ("reduced_receivable", "過納", 6_000, 0, 6_000, SECOND, date(2026, 5, 9), date(2031, 5, 12)),
    ("offset", "誤納", 47_300, OFFSET_AMOUNT, OFFSET_REFUND, FIRST, date(2026, 6, 12), date(2031, 5, 11)),
    ("offset_not_yet_due", "誤納", 25_000, 0, 25_000, SECOND, date(2026, 6, 13), date(2031, 5, 12)),
]


@pytest.mark.parametrize(("name", "kind", "overpaid", "offset", "refund", "arose_on", "start", "expires_on"), REFUND_CASES)
def test_an_overpayment_is_a_refund_candidate(sample_run, name, kind, overpaid, offset, refund, arose_on, start, expires_on):
    case, tables = sample_run.case(name), sample_run.tables()
    [candidate] = rows_of(tables, "refund_candidates", payment_of(tables, case)).rows(named=True)
    assert candidate == candidate | {
        "receivable_id": case["receivable_id"],
        "kind": kind,
        "overpaid_amount": overpaid,
        "offset_amount": offset,
        "refund_amount": refund,
        "arose_on": arose_on,
        "interest_start": start,
        "refund_interest": 0,
        "offset_interest": 0,
        "expires_on": expires_on,
        "expired": False,
        "as_of": THIRD,
    }


def test_the_overpayment_is_offset_against_the_older_unpaid_receivable_first(sample_run):
    case, tables = sample_run.case("offset"), sample_run.tables()
    target = other_receivable(tables, case["receivable_id"])
    [candidate_id] = rows_of(tables, "refund_candidates", payment_of(tables, case))["candidate_id"].to_list()
    offsets = tables["offsets"].filter(pl.col("candidate_id") == candidate_id)
    # 本税, then 督促手数料, then the 延滞金 to the 充当適状日 = later of the target's 納期限 (2025-10-31)
    # and the day the 誤納 arose (2026-05-11).
    assert offsets.drop("candidate_id").rows(named=True) == [
        {
            "receivable_id": target["receivable_id"],
            "principal_offset": 30_500,
            "dunning_fee_offset": 100,
            "late_fee_offset": OFFSET_TARGET_LATE_FEE,
            "offset_on": FIRST,
            # No decision executed it: proposed (SPEC §6).
            "status": "proposed",
        }
    ]
    assert arrears_of(tables, target["receivable_id"]) is None


def test_before_the_second_payment_the_offset_target_is_in_arrears(sample_run):
    case, tables = sample_run.case("offset"), sample_run.tables(FIRST)
    target = other_receivable(tables, case["receivable_id"])
    assert payment_of(tables, case) is None
    arrears = arrears_of(tables, target["receivable_id"])
    # 2025-10-31 → 2026-05-11: 30 + 31 + 31 + 28 + 31 + 30 + 11 = 192 days; a 督促状 went out on 2025-11-15.
    assert arrears == arrears | {
        "principal_outstanding": 30_500,
        "dunning_fee_outstanding": 100,
        "late_fee": OFFSET_TARGET_LATE_FEE,
        "late_fee_status": "見込",
        "days_overdue": 192,
        "dunning_due": False,
        "as_of": FIRST,
    }
    assert tables["offsets"].height == 0


def test_a_receivable_not_yet_due_is_no_offset_target(sample_run):
    case, tables = sample_run.case("offset_not_yet_due"), sample_run.tables()
    not_due = other_receivable(tables, case["receivable_id"])
    assert not_due["effective_due_date"] == date(2026, 12, 25)
    assert tables["offsets"].filter(pl.col("receivable_id") == not_due["receivable_id"]).height == 0
    assert arrears_of(tables, not_due["receivable_id"]) is None


def test_every_applied_payment_is_accounted_for_in_full(sample_run):
    tables = sample_run.tables()
    applied = tables["applications"].group_by("payment_key").agg(
        pl.len().alias("rows"),
        pl.col("receivable_id").first().alias("applied_to"),
        pl.sum_horizontal("principal_applied", "dunning_fee_applied", "late_fee_applied").sum().alias("settled"),
    )
    payments = tables["payments"].join(applied, on="payment_key", how="left")
    assert payments.filter(pl.col("status") == "applied").height > 250
    in_full = payments.filter(pl.col("status") == "applied").select(
        (pl.col("rows") == 1).all(),
        (pl.col("applied_to") == pl.col("receivable_id")).all(),
        (pl.col("paid_total") == pl.col("settled") + pl.col("overpaid_amount")).all(),
    )
    assert in_full.rows() == [(True, True, True)]
    assert payments.filter((pl.col("status") != "applied") & pl.col("rows").is_not_null()).height == 0
    # Every payment has its one 仮登録 row (SPEC §3).
    assert sorted(tables["provisional_payments"]["payment_key"]) == sorted(tables["payments"]["payment_key"])


INVALID_CASES = [
    ("invalid_impossible_date", "paid_on", "impossible date"),
    ("invalid_half_width_in_k", "payer_name", "half-width byte"),
    ("invalid_split_double_byte", "payer_name_kana", "split double-byte"),
]


@pytest.mark.parametrize(("name", "field", "reason"), INVALID_CASES)
def test_an_invalid_record_is_set_aside_with_its_field_and_reason(sample_run, name, field, reason):
    case = sample_run.case(name)
    rejected = sample_run.query(
        "SELECT field, reason FROM rejected_records WHERE file_name = ? AND record_number = ?", [case["file_name"], case["record_number"]]
    )
    [(found_field, found_reason)] = rejected.rows()
    assert found_field == field and reason in found_reason
    assert payment_of(sample_run.tables(), case) is None


def ingested(sample_run: SampleRun, file_name: str) -> dict:
    [row] = sample_run.query("SELECT * FROM ingested_files WHERE file_name = ?", [file_name]).rows(named=True)
    return row


def test_the_redelivered_file_is_loaded(sample_run):
    redelivered = ingested(sample_run, sample_run.case("redelivery")["file_name"])
    original = ingested(sample_run, sample_run.case("redelivery")["file_name"].replace("_002.", "_001."))
    assert (redelivered["status"], redelivered["delivery_number"], redelivered["rejected_count"]) == ("loaded", 2, 0)
    assert redelivered["record_count"] == redelivered["accepted_count"] == original["record_count"] > 0


def test_the_redelivered_file_changes_nothing_but_the_sighting_counts(sample_run, sample_nights, tmp_path):
    redelivered = sample_run.case("redelivery")["file_name"]
    inbox = tmp_path / "inbox"
    shutil.copytree(sample_run.inbox, inbox, ignore=shutil.ignore_patterns(redelivered))
    # The first night did not read the file (it comes on a later date): the inbox without it runs on from that night's database.
    database = sample_nights.copy_after(FIRST, tmp_path / "shuno.duckdb")
    with read_only_database(database) as connection:
        assert connection.execute("SELECT count(*) FROM ingested_files WHERE file_name = ?", [redelivered]).fetchone() == (0,)
    without, with_it = run_nights(inbox, database, (SECOND, THIRD))[THIRD], sample_run.tables()
    for table in DERIVED:
        columns = pl.exclude("sighting_count")
        assert_frame_equal(with_it[table].select(columns), without[table].select(columns), check_row_order=False)
    # Each payment of the re-delivered file was sighted once more, and no other.
    in_file = sample_run.query(
        "SELECT DISTINCT common_tax_id, sequence_number, true AS in_file FROM payment_records WHERE file_name = ?", [redelivered]
    )
    counts = with_it["payments"].join(without["payments"].select("payment_key", without="sighting_count"), on="payment_key")
    extra = counts.join(in_file, on=["common_tax_id", "sequence_number"], how="left").select(
        pl.col("in_file").fill_null(False), (pl.col("sighting_count") - pl.col("without")).alias("extra")
    )
    assert in_file.height > 10
    assert extra.group_by("in_file").agg(pl.col("extra").unique()).sort("in_file").rows() == [(False, [0]), (True, [1])]


def test_the_file_whose_trailer_miscounts_is_rejected_whole(sample_run):
    file_name = sample_run.case("rejected_file")["file_name"]
    rejected = ingested(sample_run, file_name)
    assert rejected["status"] == "rejected" and "data_count" in rejected["reason"]
    assert sample_run.query("SELECT count(*) AS n FROM payment_records WHERE file_name = ?", [file_name])["n"].to_list() == [0]
    assert (sample_run.inbox / file_name).is_file()


def test_the_rejected_file_still_counts_its_data_records(sample_run):
    assert ingested(sample_run, sample_run.case("rejected_file")["file_name"])["record_count"] == 3


def test_the_cr_lf_file_loads_every_record(sample_run):
    file_name = sample_run.case("crlf_file")["file_name"]
    loaded = ingested(sample_run, file_name)
    assert loaded["status"] == "loaded" and loaded["rejected_count"] == 0
    stored = sample_run.query("SELECT count(*) AS n FROM payment_records WHERE file_name = ?", [file_name])["n"].to_list()
    assert stored == [loaded["record_count"]] and loaded["record_count"] == loaded["accepted_count"] > 0


# Privacy (SPEC §2: パスワード is never stored; CONTRACT: no personal data in what shuno prints).


def test_the_raw_bytes_of_a_rejected_record_carry_no_password(sample_run):
    password = load_layout(LayoutName.PAYMENT).field("password")
    rejected = sample_run.query("SELECT file_name, record_number, raw FROM rejected_records")
    assert rejected.height == len(INVALID_CASES)
    for file_name, record_number, raw in rejected.rows():
        content = (sample_run.inbox / file_name).read_bytes()
        stride = len(raw) + (2 if content[len(raw) : len(raw) + 2] == b"\r\n" else 0)
        record = content[(record_number - 1) * stride : (record_number - 1) * stride + len(raw)]
        secret = record[password.offset : password.end].strip()
        assert len(secret) >= 8
        assert secret not in raw
        assert raw == record[: password.offset] + b" " * password.width + record[password.end :]


def test_a_reversal_of_a_payment_never_received_is_pending(sample_run, declared_database, tmp_path):
    # The last night's files hold the 取消's 確報, not the 領収 it reverses (SPEC §3: 50): run alone into a new database.
    database = shutil.copyfile(declared_database, tmp_path / "shuno.duckdb")
    run_settlement_date(THIRD, sample_run.inbox, database)
    tables = read_tables(database, ("payments", "provisional_payments", "applications"))
    payment = payment_of(tables, sample_run.case("reversal"))
    assert (payment["status"], payment["error_class"]) == ("pending", "50")
    assert rows_of(tables, "provisional_payments", payment)["error_class"].to_list() == ["50"]
    assert rows_of(tables, "applications", payment).height == 0


FILE_CASES = ("redelivery", "rejected_file", "crlf_file")


def test_every_planted_case_has_its_outcome_tested(sample_run):
    tested = {name for name, *_ in APPLIED_CASES + UNAPPLIED_CASES + INVALID_CASES} | set(FILE_CASES)
    assert set(sample_run.cases["case"]) == tested


def produced(sample_run: SampleRun, case: dict) -> dict:
    """What a planted case left after the last night, in the terms of its declared outcome (sample_data.outcomes)."""
    tables = sample_run.tables()
    # A case that is a file has no payment of its own: neither a 共通納税ID nor a 納付情報シーケンス.
    is_file = case["common_tax_id"] is None and case["payment_info_sequence"] is None
    payment = None if is_file else payment_of(tables, case)
    applied = None if payment is None else rows_of(tables, "applications", payment)
    parts = ("principal_applied", "dunning_fee_applied", "late_fee_applied")
    candidates = [] if payment is None else rows_of(tables, "refund_candidates", payment).rows(named=True)
    arrears = arrears_of(tables, case["receivable_id"]) if case["receivable_id"] else None
    rejected = sample_run.query(
        "SELECT field FROM rejected_records WHERE file_name = ? AND record_number = ?", [case["file_name"], case["record_number"]]
    )
    files = sample_run.query("SELECT status FROM ingested_files WHERE file_name = ?", [case["file_name"]])
    return {
        "status": payment and payment["status"],
        "error_class": payment and payment["error_class"],
        "applied": tuple(applied.select(parts).row(0)) if applied is not None and applied.height else None,
        "arrears": arrears and (arrears["principal_outstanding"], arrears["late_fee"]),
        "refund": tuple((row["kind"], row["offset_amount"], row["refund_amount"]) for row in candidates) or None,
        "rejected_field": rejected["field"][0] if rejected.height else None,
        "file_status": files["status"][0] if is_file else None,
    }


@pytest.mark.parametrize("name", sorted(PLANTED_OUTCOMES))
def test_every_planted_case_produces_what_sample_data_declares(sample_run, name):
    outcome = PLANTED_OUTCOMES[name]
    # A payment has at most one refund candidate: produced lists them all.
    declared = asdict(outcome) | {"refund": outcome.refund and (outcome.refund,)}
    assert produced(sample_run, sample_run.case(name)) == declared

