"""Expected deliveries (SPEC §7), by hand: the business-day calendar, gaps in delivery numbers, rejected files, a late file.

2026-05-01 is a Friday; 5/2–5/6 are a weekend and the Golden Week holidays (憲法記念日 5/3 falls on
a Sunday, so 5/6 is its 振替休日); 5/7 is the next business day.
"""

from datetime import date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from transforms.deliveries import deliveries, delivery_warnings, incomplete_deliveries
from transforms.ledger import TABLE_SCHEMAS

KINDS = ["NOFU_NYUKIN", "NOFU_NOFUBI"]
FRIDAY, THURSDAY = date(2026, 5, 1), date(2026, 5, 7)


def ingested(*files: tuple[str, date, int, str]) -> pl.DataFrame:
    """ingested_files rows: (kind, settlement date, delivery number, status)."""
    schema = {"kind": pl.String, "settlement_date": pl.Date, "delivery_number": pl.Int32, "status": pl.String}
    return pl.DataFrame(list(files), schema=schema, orient="row")


def both_loaded(day: date) -> list[tuple[str, date, int, str]]:
    return [(kind, day, 1, "loaded") for kind in KINDS]


def test_every_business_day_from_the_first_file_to_the_latest_date_is_expected_and_holidays_are_not():
    found = deliveries(ingested(*both_loaded(FRIDAY), ("CHOTEI", THURSDAY, 1, "loaded")), THURSDAY, KINDS)
    expected = pl.DataFrame(
        {
            "settlement_date": [FRIDAY, FRIDAY, THURSDAY, THURSDAY],
            "kind": ["NOFU_NOFUBI", "NOFU_NYUKIN"] * 2,
            "status": ["received", "received", "missing", "missing"],
            "delivery_numbers": ["001", "001", None, None],
            "reason": [None, None, "no NOFU_NOFUBI for 2026-05-07", "no NOFU_NYUKIN for 2026-05-07"],
        },
        schema=TABLE_SCHEMAS["deliveries"],
    )
    assert_frame_equal(found, expected)


def test_a_gap_in_delivery_numbers_is_missing_naming_the_number():
    files = ingested(*both_loaded(FRIDAY), ("NOFU_NYUKIN", FRIDAY, 3, "loaded"), ("NOFU_NYUKIN", FRIDAY, 4, "duplicate"))
    found = deliveries(files, FRIDAY, KINDS).filter(pl.col("kind") == "NOFU_NYUKIN")
    assert found.select("status", "delivery_numbers", "reason").row(0) == (
        "missing",
        "001,003,004",
        "NOFU_NYUKIN for 2026-05-01: delivery 002 missing",
    )


def test_files_that_came_and_none_loaded_are_rejected_and_one_rejected_beside_a_loaded_one_is_said():
    files = ingested(("NOFU_NYUKIN", FRIDAY, 1, "rejected"), ("NOFU_NOFUBI", FRIDAY, 1, "loaded"), ("NOFU_NOFUBI", FRIDAY, 2, "unreadable"))
    found = deliveries(files, FRIDAY, KINDS).select("kind", "status", "reason").rows()
    assert found == [
        ("NOFU_NOFUBI", "received", "NOFU_NOFUBI for 2026-05-01: received (002 rejected)"),
        ("NOFU_NYUKIN", "rejected", "NOFU_NYUKIN for 2026-05-01: every file rejected (001)"),
    ]


def test_a_late_file_named_for_its_date_is_received_once_that_date_is_run_again():
    # The night of 5/7 runs with no 入金日 file of 5/1; it comes on 5/8, and 5/1 is run again.
    first_night = ingested(("NOFU_NOFUBI", FRIDAY, 1, "loaded"), *both_loaded(THURSDAY))
    assert delivery_warnings(deliveries(first_night, THURSDAY, KINDS)) == ("no NOFU_NYUKIN for 2026-05-01",)
    rerun = pl.concat([first_night, ingested(("NOFU_NYUKIN", FRIDAY, 1, "loaded"))])
    assert deliveries(rerun, THURSDAY, KINDS)["status"].to_list() == ["received"] * 4


def test_a_file_of_a_closed_day_is_listed_without_expecting_the_other_kinds_and_later_dates_are_not():
    saturday = date(2026, 5, 2)
    files = ingested(*both_loaded(FRIDAY), ("NOFU_NOFUBI", saturday, 1, "rejected"), ("NOFU_NOFUBI", THURSDAY, 1, "loaded"))
    found = deliveries(files, saturday, KINDS)
    assert found.select("settlement_date", "kind", "status").rows() == [
        (FRIDAY, "NOFU_NOFUBI", "received"),
        (FRIDAY, "NOFU_NYUKIN", "received"),
        (saturday, "NOFU_NOFUBI", "rejected"),
    ]


def test_no_file_seen_or_no_run_means_no_expected_delivery():
    assert deliveries(ingested(), THURSDAY, KINDS).is_empty()
    assert deliveries(ingested(*both_loaded(FRIDAY)), None, KINDS).is_empty()


def test_incomplete_deliveries_are_the_missing_and_rejected_ones_oldest_first():
    files = ingested(("NOFU_NYUKIN", FRIDAY, 1, "rejected"), ("NOFU_NOFUBI", FRIDAY, 1, "loaded"))
    incomplete = incomplete_deliveries(deliveries(files, THURSDAY, KINDS))
    assert incomplete.rows() == [
        (FRIDAY, "NOFU_NYUKIN for 2026-05-01: every file rejected (001)"),
        (THURSDAY, "no NOFU_NOFUBI for 2026-05-07"),
        (THURSDAY, "no NOFU_NYUKIN for 2026-05-07"),
    ]


def test_a_voided_date_has_its_deliveries_missing_until_it_is_run_again():
    read_by = pl.Series("run_id", ["friday", "friday", "thursday", "thursday"])
    files = ingested(*both_loaded(FRIDAY), *both_loaded(THURSDAY)).with_columns(read_by)
    runs = pl.DataFrame(
        {
            "run_id": ["friday", "thursday", "void", "failed"],
            "settlement_date": [FRIDAY, THURSDAY, FRIDAY, FRIDAY],
            "started_at": [datetime(2026, 5, 1, 23), datetime(2026, 5, 7, 23), datetime(2026, 5, 8, 9), datetime(2026, 5, 8, 10)],
            "status": ["completed", "completed", "voided", "failed"],
        }
    )
    assert delivery_warnings(deliveries(files, THURSDAY, KINDS, runs)) == ("no NOFU_NOFUBI for 2026-05-01", "no NOFU_NYUKIN for 2026-05-01")
    # Friday run again: its files are read by the run under way, not yet in runs.
    read_again = files.with_columns(pl.when(pl.col("settlement_date") == FRIDAY).then(pl.lit("rerun")).otherwise("run_id").alias("run_id"))
    assert delivery_warnings(deliveries(read_again, THURSDAY, KINDS, runs)) == ()
