"""Every payment in the 50-field 仮登録 shape (SPEC §3)."""

from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.layouts import LayoutName
from tests.records import COLLECTOR, record_frame
from tests.transforms.test_matching import FILING, FILING_RECEIVABLE, links, matched
from tests.transforms.test_payments import (
    CONFIRMED,
    KEY_1,
    management_file,
    payment_file,
    payments_of,
    provisional_file,
    receivable_versions,
)
from transforms.provisional import provisional_payments, provisional_schema

PAID_ON, DEPOSITED_ON = date(2026, 4, 30), date(2026, 5, 1)
FIRST_SEEN, CONFIRMED_ON = date(2026, 4, 30), date(2026, 5, 7)


def built_row(**changes) -> pl.DataFrame:
    """The row built for KEY_1 with no source but the payment (route 1, no receivable, 速報 and 確報)."""
    row = {name: (0 if dtype == pl.Int64 else None) for name, dtype in provisional_schema().items()} | {
        "payment_key": KEY_1,
        "common_tax_id": "CT0000000000000001",
        "sequence_number": 1,
        "payer_name": "髙橋\u3000太郎",
        "confirmation_number": "123456",
        "payment_number": "1234567890123456",
        "payment_category": "0100120260331000",
        "paid_principal": 10000,
        "fiscal_year": 2026,
        "deposited_on": DEPOSITED_ON,
        "paid_on": PAID_ON,
        "collector_code": COLLECTOR,
        "tax_fee_number": 10,
        "filing_period_code": "0120260331000",
        "payment_class": "01",
        "paid_total": 10000,
        "delete_next_run_flag": "0",
        "created_on": FIRST_SEEN,
        "updated_on": CONFIRMED_ON,
    }
    return pl.DataFrame([row | changes], schema=provisional_schema())


def seen_twice(**columns) -> pl.DataFrame:
    """payments of KEY_1: a 速報 on FIRST_SEEN and a 確報 on CONFIRMED_ON."""
    values = {"filing_period_code": ["0120260331000"], "paid_on": [PAID_ON], "payment_scheme": ["01"]} | columns
    preliminary = payment_file(FIRST_SEEN, **values | {"deposited_on": [None]})
    confirmed = payment_file(CONFIRMED_ON, CONFIRMED, **values | {"deposited_on": [DEPOSITED_ON]})
    return payments_of(preliminary, confirmed)


def test_built_row_fills_fields_from_the_payment_management_record_link_and_receivable():
    management = management_file(
        FIRST_SEEN,
        payment_info_sequence=[77],
        eltax_filing_class=["01"],
        estimated_payment_flag=["0"],
        period_from=[date(2025, 4, 1)],
        filing_received_on=[date(2026, 4, 28)],
        corporate_number=["1234567890123"],
        collector_number=["00100"],
        payer_address=["東京都昭島市田中町１－１７－１"],
        specific_key_1=["KANRI-KEY"],
    )
    receivables = receivable_versions(FILING_RECEIVABLE)
    result = provisional_payments(matched(seen_twice(), receivables, management, links(("T000001", "1", datetime(2026, 4, 1)))), receivables)
    expected = built_row(
        payment_info_sequence=77,
        eltax_taxpayer_id="ELTX00000000001",
        filing_class="01",
        filing_receipt_number=FILING,
        filing_received_on=date(2026, 4, 28),
        eltax_tax_class="01",
        estimated_payment_flag="0",
        period_from=date(2025, 4, 1),
        tax_code="030",
        tax_year=2026,
        notice_number="N000000001",
        installment="00",
        taxpayer_id="T000001",
        corporate_number="1234567890123",
        payer_address="東京都昭島市田中町１－１７－１",
        collector_number="00100",
        specific_key_1="T000001",
        error_class="00",
    )
    assert_frame_equal(result, expected)


def test_built_row_without_a_receivable_is_blank_or_zero_where_nothing_gives_a_value():
    result = provisional_payments(matched(seen_twice(), receivable_versions({})), receivable_versions({}))
    assert_frame_equal(result, built_row(error_class="30"))


def test_built_row_of_an_unlinked_eltax_payment_still_names_its_tax_from_the_management_record():
    receivables = receivable_versions(FILING_RECEIVABLE)
    result = provisional_payments(matched(seen_twice(), receivables, management_file(FIRST_SEEN)), receivables)
    assert result.select("tax_code", "taxpayer_id", "eltax_taxpayer_id", "error_class").row(0) == ("030", None, "ELTX00000000001", "10")


@pytest.mark.parametrize(("paid_on", "fiscal_year"), [(date(2026, 3, 31), 2025), (date(2026, 4, 1), 2026)])
def test_built_row_of_a_payment_applied_to_nothing_takes_the_fiscal_year_of_its_payment_day(paid_on, fiscal_year):
    unconfirmed = payments_of(payment_file(paid_on, paid_on=[paid_on], deposited_on=[None]))
    result = provisional_payments(matched(unconfirmed, receivable_versions({})), receivable_versions({}))
    assert result.select("deposited_on", "fiscal_year").row(0) == (None, fiscal_year)


# A receivable of 調定年度 2025 (現年 until 出納閉鎖 on 2026-05-31) and one of 2023 (滞繰): the
# built row's 会計年度 is the one `applications` gives the receipt (transforms/fiscal_year.py).
@pytest.mark.parametrize(
    ("paid_on", "assessed_year", "fiscal_year"),
    [
        (date(2026, 3, 31), 2025, 2025),
        (date(2026, 4, 1), 2025, 2025),
        (date(2026, 5, 31), 2025, 2025),
        (date(2026, 6, 1), 2025, 2026),
        (date(2026, 3, 31), 2023, 2025),
        (date(2026, 4, 1), 2023, 2025),
        (date(2026, 5, 31), 2023, 2025),
        (date(2026, 6, 1), 2023, 2026),
    ],
)
def test_built_row_fiscal_year_is_the_receipts_around_the_closing_period(paid_on, assessed_year, fiscal_year):
    numbers = {"payment_number": "1234567890123456", "confirmation_number": "123456"}
    receivables = receivable_versions(numbers | {"fiscal_year": assessed_year, "due_date": date(2026, 2, 28)})
    applied = matched(payments_of(payment_file(paid_on, paid_on=[paid_on], deposited_on=[paid_on])), receivables)
    result = provisional_payments(applied, receivables)
    assert result.select("error_class", "fiscal_year").row(0) == ("00", fiscal_year)


def test_delivered_row_keeps_what_its_sender_said_except_the_error_class():
    delivered = {"common_tax_id": [None], "payment_info_sequence": [5], "notice_number": ["N404"], "error_class": ["00"]}
    preliminary = provisional_file(FIRST_SEEN, **delivered | {"deposited_on": [None], "updated_on": [FIRST_SEEN]})
    confirmed = provisional_file(CONFIRMED_ON, CONFIRMED, **delivered | {"deposited_on": [DEPOSITED_ON], "updated_on": [CONFIRMED_ON]})
    payments = payments_of(provisional=(preliminary, confirmed))
    result = provisional_payments(matched(payments, receivable_versions({})), receivable_versions({}))
    # The sender's latest word (the 確報) with shuno's エラー区分: no receivable has notice N404.
    latest_word = {"deposited_on": [DEPOSITED_ON], "updated_on": [CONFIRMED_ON], "error_class": ["20"]}
    sender = record_frame(LayoutName.PROVISIONAL, **delivered | latest_word)
    expected = sender.select(pl.lit("SEQ-0000000005").alias("payment_key"), pl.all())
    assert_frame_equal(result, expected)


def test_reversed_payment_row_carries_error_class_90():
    cancelled = payments_of(payment_file(FIRST_SEEN), payment_file(CONFIRMED_ON, history_number=[1], receipt_class=["2"]))
    receivables = receivable_versions({"payment_number": "1234567890123456", "confirmation_number": "123456"})
    result = provisional_payments(matched(cancelled, receivables), receivables)
    assert result.select("payment_key", "error_class", "taxpayer_id").row(0) == (KEY_1, "90", None)


def test_provisional_payments_need_the_receivable_columns():
    payments = matched(seen_twice(), receivable_versions({}))
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        provisional_payments(payments, receivable_versions({}).drop("tax_year"))
