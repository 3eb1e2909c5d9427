"""Sightings and payments (SPEC §2; docs/reconciliation.md steps 1–2).

The helpers at the top build stored input frames (the columns of schemas/tables.py) from the
layouts' valid records; test_matching.py and test_provisional.py use them too.
"""

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.layouts import LayoutName
from schemas.tables import RECEIVABLE_COLUMNS, Table, stored_input_tables
from tests.records import record_frame
from transforms.payments import CONFIRMED, PRELIMINARY, payments, sighting_schema, sightings

TABLES = {table.name: table for table in stored_input_tables()}
FILE_KIND = {PRELIMINARY: "NOFUBI", CONFIRMED: "NYUKIN"}
AS_OF = date(2026, 5, 1)


def _count(columns: dict) -> int:
    return len(next(iter(columns.values()))) if columns else 1


def _stored(table: str, records: pl.DataFrame, file_name: str, file_date: date, delivery: int, first_record: int, **origin) -> pl.DataFrame:
    schema = TABLES[table].polars_schema
    numbers = pl.int_range(first_record, first_record + records.height, dtype=pl.Int64)
    framed = records.with_columns(
        pl.lit(file_name).alias("file_name"),
        pl.lit(file_date).alias("file_date"),
        pl.lit(delivery).alias("delivery_number"),
        numbers.alias("record_number"),
        *[pl.lit(value).alias(name) for name, value in origin.items()],
    )
    return framed.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def payment_file(file_date: date, sighting: str = PRELIMINARY, delivery: int = 1, **columns) -> pl.DataFrame:
    """Stored payment_records of one NOFU file (the header is record 1)."""
    records = record_frame(LayoutName.PAYMENT, _count(columns), **columns)
    name = f"NOFU_{FILE_KIND[sighting]}_132071_{file_date:%Y%m%d}_{delivery:03d}.dat"
    return _stored("payment_records", records, name, file_date, delivery, 2, sighting=sighting)


def provisional_file(file_date: date, sighting: str = PRELIMINARY, delivery: int = 1, **columns) -> pl.DataFrame:
    """Stored provisional_records of one KARI file."""
    records = record_frame(LayoutName.PROVISIONAL, _count(columns), **columns)
    name = f"KARI_{FILE_KIND[sighting]}_132071_{file_date:%Y%m%d}_{delivery:03d}.dat"
    return _stored("provisional_records", records, name, file_date, delivery, 1, sighting=sighting)


def management_file(file_date: date, delivery: int = 1, **columns) -> pl.DataFrame:
    """Stored management_records of one KANRI file."""
    records = record_frame(LayoutName.MANAGEMENT, _count(columns), **columns)
    return _stored("management_records", records, f"KANRI_132071_{file_date:%Y%m%d}_{delivery:03d}.dat", file_date, delivery, 1)


def link_file(file_date: date, delivery: int = 1, **columns) -> pl.DataFrame:
    """Stored link_records of one HIMOZUKE file."""
    records = record_frame(LayoutName.LINK_HISTORY, _count(columns), **columns)
    return _stored("link_records", records, f"HIMOZUKE_132071_{file_date:%Y%m%d}_{delivery:03d}.dat", file_date, delivery, 1)


def no_payment_records() -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES["payment_records"].polars_schema)


def no_provisional_records() -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES["provisional_records"].polars_schema)


RECEIVABLE = {
    "receivable_id": "R1",
    "taxpayer_id": "T000001",
    "tax_code": "010",
    "fiscal_year": 2026,
    "tax_year": 2026,
    "installment": "01",
    "notice_number": "N000000001",
    "payment_number": None,
    "confirmation_number": None,
    "filing_receipt_number": None,
    "due_date": date(2026, 6, 30),
    "principal": 10000,
    "dunning_fee": 0,
    "dunning_sent_on": None,
    "changed_on": None,
    "effective_due_date": date(2026, 6, 30),
    "cancelled": False,
}
RECEIVABLE_SCHEMA = pl.Schema(
    {**Table("receivables", "", RECEIVABLE_COLUMNS).polars_schema, "effective_due_date": pl.Date(), "cancelled": pl.Boolean()}
)


def receivable_versions(*changes: dict) -> pl.DataFrame:
    """receivable_versions rows: RECEIVABLE with each dict's changes."""
    return pl.DataFrame([RECEIVABLE | change for change in changes], schema=RECEIVABLE_SCHEMA)


def payments_of(*payment_files: pl.DataFrame, provisional: tuple[pl.DataFrame, ...] = (), as_of: date = AS_OF) -> pl.DataFrame:
    """payments() of the stored records of these files."""
    records = pl.concat([no_payment_records(), *payment_files])
    provisional_records = pl.concat([no_provisional_records(), *provisional])
    return payments(sightings(records, provisional_records), as_of)


STATE = ["payment_key", "status", "error_class", "history_number", "paid_total", "sighting_count"]


def state(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(STATE)


def expected_state(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={name: payments_of()[name].dtype for name in STATE}, orient="row")


KEY_1 = "CT0000000000000001-000001"
DAY_1, DAY_2, DAY_3, DAY_4 = date(2026, 4, 30), date(2026, 5, 1), date(2026, 5, 7), date(2026, 5, 8)


def test_sightings_put_payment_files_and_provisional_records_in_one_shape():
    records = payment_file(DAY_1, payment_scheme=["01"], deposited_on=[None])
    provisional_records = provisional_file(
        DAY_1, CONFIRMED, common_tax_id=[None, "CT0000000000000009"], payment_info_sequence=[42, 43], delete_next_run_flag=["0", "1"]
    )
    result = sightings(records, provisional_records)
    assert result.schema == sighting_schema()
    expected = pl.DataFrame(
        {
            "payment_key": [KEY_1, "SEQ-0000000042", "CT0000000000000009-000000"],
            "source": ["payment_file", "provisional", "provisional"],
            "sighting": ["速報", "確報", "確報"],
            "record_number": [2, 1, 2],
            "payment_info_sequence": [None, 42, 43],
            "history_number": [0, 0, 0],
            "receipt_class": ["1", "1", "1"],
            "response_code": ["0000", "0000", "0000"],
            "withdrawn": [False, False, True],
            "paid_principal": [10000, 5000, 5000],
            "paid_dunning_fee": [0, 0, 0],
            "deposited_on": [None, date(2026, 4, 30), date(2026, 4, 30)],
            "payment_scheme": ["01", None, None],
            "notice_number": [None, "N000000001", "N000000001"],
            "installment": [None, "01", "01"],
            "tax_code": [None, "010", "010"],
        },
        schema_overrides={"record_number": pl.Int64, "payment_info_sequence": pl.Int64, "history_number": pl.Int64},
    )
    assert_frame_equal(result.select(expected.columns), expected)
    assert result["delivered_record"].list.first().struct.field("payment_info_sequence").to_list() == [None, 42, 43]


def test_sightings_need_every_stored_column():
    records = payment_file(DAY_1).drop("paid_on")
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        sightings(records, no_provisional_records())


def test_preliminary_then_confirmed_sighting_is_one_payment():
    preliminary = payment_file(DAY_1, deposited_on=[None], channel_class=["02"])
    confirmed = payment_file(DAY_3, CONFIRMED, deposited_on=[date(2026, 5, 1)], channel_class=["02"])
    result = payments_of(preliminary, confirmed)
    expected = pl.DataFrame(
        {
            "payment_key": [KEY_1],
            "status": ["to_match"],
            "error_class": [None],
            "paid_on": [date(2026, 4, 30)],
            "deposited_on": [date(2026, 5, 1)],
            "paid_total": [10000],
            "first_seen_on": [DAY_1],
            "confirmed_on": [DAY_3],
            "unconfirmed": [False],
            "sighting_count": [2],
            "last_seen_on": [DAY_3],
        },
        schema_overrides={"error_class": pl.String},
    )
    assert_frame_equal(result.select(expected.columns), expected)


def test_values_come_from_the_first_sighting_and_the_deposit_from_the_first_confirmation():
    preliminary = payment_file(DAY_1, sequence_number=[1], channel_class=["01"], deposited_on=[None])
    deposits = [date(2026, 5, 1), date(2026, 5, 7)]
    confirmed = payment_file(DAY_3, CONFIRMED, sequence_number=[1, 2], channel_class=["02", "08"], deposited_on=deposits)
    later = payment_file(DAY_4, CONFIRMED, sequence_number=[1], channel_class=["02"], deposited_on=[date(2026, 5, 2)])
    result = payments_of(later, confirmed, preliminary)
    expected = pl.DataFrame(
        {
            "payment_key": [KEY_1, "CT0000000000000001-000002"],
            "channel_class": ["01", "08"],
            "deposited_on": [date(2026, 5, 1), date(2026, 5, 7)],
            "first_seen_on": [DAY_1, DAY_3],
            "confirmed_on": [DAY_3, DAY_3],
            "last_seen_on": [DAY_4, DAY_3],
            "sighting_count": [3, 1],
        }
    )
    assert_frame_equal(result.select(expected.columns), expected)


def test_redelivered_file_changes_nothing_but_the_sighting_count():
    preliminary = payment_file(DAY_1, deposited_on=[None])
    confirmed = payment_file(DAY_3, CONFIRMED)
    redelivered = payment_file(DAY_3, CONFIRMED, delivery=2)
    once, twice = payments_of(preliminary, confirmed), payments_of(preliminary, confirmed, redelivered)
    assert_frame_equal(twice.drop("sighting_count"), once.drop("sighting_count"))
    assert (once["sighting_count"].item(), twice["sighting_count"].item()) == (2, 3)


def test_cancellation_reverses_the_payment():
    receipt = payment_file(DAY_1)
    cancellation = payment_file(DAY_2, history_number=[1], receipt_class=["2"])
    assert_frame_equal(state(payments_of(receipt, cancellation)), expected_state((KEY_1, "reversed", "90", 1, 10000, 2)))


def test_receipt_with_history_number_2_after_a_cancellation_revives_the_payment():
    receipt = payment_file(DAY_1)
    cancellation = payment_file(DAY_2, history_number=[1], receipt_class=["2"])
    revival = payment_file(DAY_3, history_number=[2], receipt_class=["1"])
    result = payments_of(receipt, cancellation, revival)
    assert_frame_equal(state(result), expected_state((KEY_1, "to_match", None, 2, 10000, 3)))


def test_cancellation_of_an_unknown_payment_is_pending_50():
    cancellation = payment_file(DAY_2, history_number=[1], receipt_class=["2"])
    assert_frame_equal(state(payments_of(cancellation)), expected_state((KEY_1, "pending", "50", 1, 10000, 1)))


def test_sightings_that_disagree_on_an_amount_are_held_40():
    preliminary = payment_file(DAY_1, paid_total=[10000], paid_principal=[10000])
    confirmed = payment_file(DAY_3, CONFIRMED, paid_total=[9000], paid_principal=[9000])
    result = payments_of(preliminary, confirmed)
    assert_frame_equal(state(result), expected_state((KEY_1, "held", "40", 0, 10000, 2)))


def test_conflict_resolves_when_a_later_delivery_repeats_one_side():
    preliminary = payment_file(DAY_1, paid_total=[10000], paid_principal=[10000])
    confirmed = payment_file(DAY_3, CONFIRMED, paid_total=[9000], paid_principal=[9000])
    corrected = payment_file(DAY_4, CONFIRMED, paid_total=[9000], paid_principal=[9000])
    result = payments_of(preliminary, confirmed, corrected)
    assert_frame_equal(state(result), expected_state((KEY_1, "to_match", None, 0, 9000, 3)))
    assert result["confirmed_on"].item() == DAY_3


def test_redelivered_file_does_not_settle_a_conflict_by_repeating_itself():
    preliminary = payment_file(DAY_1, paid_total=[10000], paid_principal=[10000])
    confirmed = payment_file(DAY_3, CONFIRMED, paid_total=[9000], paid_principal=[9000])
    redelivered = payment_file(DAY_3, CONFIRMED, delivery=2, paid_total=[9000], paid_principal=[9000])
    result = payments_of(preliminary, confirmed, redelivered)
    assert_frame_equal(state(result), expected_state((KEY_1, "held", "40", 0, 10000, 3)))


def test_response_code_other_than_0000_is_not_completed():
    result = payments_of(payment_file(DAY_1, response_code=["9999"]))
    assert_frame_equal(state(result), expected_state((KEY_1, "not_completed", "90", 0, 10000, 1)))


def test_provisional_record_withdrawn_by_its_sender_is_kept_and_withdrawn():
    withdrawn = provisional_file(DAY_1, common_tax_id=[None], payment_info_sequence=[7], delete_next_run_flag=["1"])
    result = payments_of(provisional=(withdrawn,))
    assert_frame_equal(state(result), expected_state(("SEQ-0000000007", "withdrawn", "90", 0, 5000, 1)))


@pytest.mark.parametrize(("as_of", "unconfirmed"), [(date(2026, 5, 7), False), (date(2026, 5, 8), True)])
def test_payment_without_confirmation_five_business_days_after_its_payment_day_is_unconfirmed(as_of, unconfirmed):
    # Paid Monday 4/27: 4/29 (昭和の日) and 5/2–5/6 (weekend, 憲法記念日, みどりの日, こどもの日, 振替休日)
    # are closed, so the fifth business day is Friday 5/8: still no 確報 that night, so it is reported.
    preliminary = payment_file(date(2026, 4, 27), paid_on=[date(2026, 4, 27)], deposited_on=[None])
    assert payments_of(preliminary, as_of=as_of)["unconfirmed"].to_list() == [unconfirmed]


def test_confirmed_payment_is_never_unconfirmed():
    preliminary = payment_file(date(2026, 4, 27), paid_on=[date(2026, 4, 27)], deposited_on=[None])
    confirmed = payment_file(date(2026, 5, 20), CONFIRMED, paid_on=[date(2026, 4, 27)])
    assert payments_of(preliminary, confirmed, as_of=date(2026, 6, 1))["unconfirmed"].to_list() == [False]


def test_payments_refuse_a_payment_day_outside_the_holiday_calendar():
    ancient = payment_file(DAY_1, paid_on=[date(1900, 1, 4)])
    with pytest.raises(ValueError, match="outside the Japanese holiday calendar"):
        payments_of(ancient)


def test_payments_have_the_payments_table_columns_first():
    from schemas.tables import derived_tables

    table = next(table for table in derived_tables() if table.name == "payments")
    result = payments_of(payment_file(DAY_1))
    assert result.columns[: len(table.columns)] == table.column_names
    assert result.select(table.column_names).schema == table.polars_schema
    assert not set(result.columns) & {"password", "sighting_order"}


def test_no_sightings_make_no_payments():
    result = payments_of()
    assert result.height == 0
    assert result.columns[:4] == ["payment_key", "common_tax_id", "sequence_number", "payment_info_sequence"]
