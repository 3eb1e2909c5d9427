"""The bank's credits and their reconciliation with the 入金日 deliveries (SPEC §7), by hand."""

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.deposits import bank_credit_rows, deposit_reconciliation
from transforms.framing import RejectedFile
from transforms.ledger import TABLE_SCHEMAS

MAY_1, MAY_7, MAY_8 = date(2026, 5, 1), date(2026, 5, 7), date(2026, 5, 8)


def sighting(key: str, deposited_on: date | None, paid_total: int, **values) -> dict:
    """A 確報 領収 sighting of payment `key`, completed (0000), first delivered in file F1 of 5/8, unless overridden."""
    defaults = {
        "payment_key": key,
        "sighting": "確報",
        "response_code": "0000",
        "receipt_class": "1",
        "history_number": 0,
        "deposited_on": deposited_on,
        "paid_total": paid_total,
        "file_date": MAY_8,
        "delivery_number": 1,
        "file_name": "F1",
        "record_number": 2,
    }
    return defaults | values


def sightings(*rows: dict) -> pl.DataFrame:
    schema = {
        "payment_key": pl.String, "sighting": pl.String, "response_code": pl.String, "receipt_class": pl.String, "history_number": pl.Int64,
        "deposited_on": pl.Date, "paid_total": pl.Int64, "file_date": pl.Date, "delivery_number": pl.Int32, "file_name": pl.String,
        "record_number": pl.Int64,
    }  # fmt: skip
    return pl.DataFrame(list(rows), schema=schema)


def credits(*rows: tuple[date, int], file_date: date = MAY_8, delivery_number: int = 1) -> pl.DataFrame:
    """Stored bank_credits rows of one GINKO file: (入金日, yen)."""
    return pl.DataFrame(
        [
            {"file_date": file_date, "delivery_number": delivery_number, "record_number": number, "deposited_on": day, "amount": amount}
            for number, (day, amount) in enumerate(rows, 2)
        ],
        schema={"file_date": pl.Date, "delivery_number": pl.Int32, "record_number": pl.Int64, "deposited_on": pl.Date, "amount": pl.Int64},
    )


def reconciliation(rows: list[tuple]) -> pl.DataFrame:
    columns = ["deposited_on", "credited_amount", "delivered_amount", "difference", "status"]
    return pl.DataFrame(rows, schema=TABLE_SCHEMAS["deposit_reconciliation"], orient="row").select(columns)


def test_each_status_with_its_difference_in_yen():
    delivered = sightings(sighting("A", MAY_1, 10_000), sighting("B", MAY_7, 20_000), sighting("C", MAY_8, 5_000))
    found = deposit_reconciliation(delivered, credits((MAY_1, 10_000), (MAY_7, 21_000), (date(2026, 5, 11), 3_000)))
    expected = reconciliation(
        [
            (MAY_1, 10_000, 10_000, 0, "matched"),
            (MAY_7, 21_000, 20_000, 1_000, "differs"),
            (MAY_8, None, 5_000, None, "no_credit"),
            (date(2026, 5, 11), 3_000, 0, 3_000, "no_delivery"),
        ]
    )
    assert_frame_equal(found, expected)


def test_a_cancellation_subtracts_on_its_own_deposit_day():
    receipt, cancellation = sighting("A", MAY_1, 10_000), sighting("A", MAY_7, 10_000, receipt_class="2", history_number=1)
    found = deposit_reconciliation(sightings(receipt, cancellation), credits((MAY_1, 10_000)))
    assert found.select("deposited_on", "delivered_amount", "status").rows() == [(MAY_1, 10_000, "matched"), (MAY_7, -10_000, "no_credit")]


def test_each_payment_counts_once_and_only_completed_confirmed_records_count():
    rows = sightings(
        sighting("A", MAY_1, 10_000),
        sighting("A", MAY_1, 10_000, delivery_number=2, file_name="F2"),  # re-delivered
        sighting("A", MAY_1, 10_000, file_date=MAY_7, file_name="F0"),  # its first delivery, a night earlier
        sighting("B", MAY_1, 3_000),  # held: its 速報 said 30,000
        sighting("B", None, 30_000, sighting="速報", file_name="Q1"),
        sighting("C", MAY_1, 7_000, response_code="1001"),  # not a completed payment
    )
    assert deposit_reconciliation(rows, credits((MAY_1, 13_000))).select("delivered_amount", "status").rows() == [(13_000, "matched")]


def test_a_later_report_of_the_same_deposit_day_restates_it():
    restated = pl.concat([credits((MAY_1, 9_000)), credits((MAY_1, 10_000), delivery_number=2)])
    assert deposit_reconciliation(sightings(sighting("A", MAY_1, 10_000)), restated)["status"].to_list() == ["matched"]


HEADER = "deposited_on,amount,count"


def test_bank_credit_rows_keep_the_good_rows_and_reject_the_bad_with_reasons_and_bytes():
    data = "\n".join([HEADER, "2026-05-01,10000,3", "2026-05-32,5000,", "2026-05-07,-1,", "2026-05-01,2000,", "2026-05-08,7000,", ""]).encode()
    rows = bank_credit_rows(data)
    assert rows.row_count == 5
    assert rows.accepted.select("record_number", "deposited_on", "amount", "count").rows() == [(2, MAY_1, 10_000, 3), (6, MAY_8, 7_000, None)]
    assert rows.rejects.select("record_number", "field", "raw").rows() == [
        (3, "deposited_on", b"2026-05-32,5000,"),
        (4, "amount", b"2026-05-07,-1,"),
        (5, "deposited_on", b"2026-05-01,2000,"),
    ]


def test_bank_credits_without_the_contract_columns_are_rejected_whole():
    with pytest.raises(RejectedFile, match="columns are not CONTRACT's"):
        bank_credit_rows(b"date,amount\n2026-05-01,100\n")
