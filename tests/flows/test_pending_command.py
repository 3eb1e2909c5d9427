"""`shuno pending` (CONTRACT v2, SPEC §6.2) on the committed sample as its last night left it, read-only."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.database import open_database
from flows.cli import app
from flows.pending_command import stored_work_queue
from flows.settlement import stored_inputs
from schemas.codes import PaymentStatus, SuggestionReason
from schemas.rates import load_rates
from transforms.rebuild import derived_state
from tests.databases import read_only_database

WAITING_CASES = ("conflict", "unknown_payment", "missing_management", "unlinked_taxpayer", "link_released")
# Each planted case the queue must point at its own receivable, and why (SPEC §6.2).
SUGGESTED = [
    # 申告 payments whose taxpayer's link never came (10): their 管理 record's 申告受付番号.
    ("unlinked_taxpayer", SuggestionReason.FILING_NUMBER),
    ("link_released", SuggestionReason.FILING_NUMBER),
    # No 管理 record (30), so no 申告受付番号: its 120,000 yen is the only receivable owing that.
    ("missing_management", SuggestionReason.SAME_PRINCIPAL),
]


def payment_key(case: dict) -> str:
    return f"{case['common_tax_id']}-{case['sequence_number']:06}"


def case_of(committed_sample, name: str) -> dict:
    return committed_sample.cases.filter(pl.col("case") == name).row(0, named=True)


@pytest.fixture(scope="module")
def database(sample_nights) -> Path:
    return sample_nights.database_after()


@pytest.fixture(scope="module")
def queue(database) -> pl.DataFrame:
    return stored_work_queue(database)


def test_every_pending_and_held_payment_is_in_the_queue_oldest_first(queue, database, committed_sample):
    with read_only_database(database) as connection:
        waiting = connection.sql("SELECT payment_key FROM payments WHERE status IN ('pending', 'held')").pl()
    assert set(queue["payment_key"]) == set(waiting["payment_key"])
    assert {payment_key(case_of(committed_sample, name)) for name in WAITING_CASES} <= set(queue["payment_key"])
    assert queue["paid_on"].is_sorted()


@pytest.mark.parametrize(("name", "reason"), SUGGESTED)
def test_a_planted_waiting_payment_is_suggested_its_own_receivable_with_the_reason(queue, committed_sample, name, reason):
    case = case_of(committed_sample, name)
    rows = queue.filter(pl.col("payment_key") == payment_key(case))
    found = rows.filter(pl.col("suggested_receivable_id") == case["receivable_id"])
    assert found.select("suggestion_rank", "suggestion_reason").rows() == [(1, reason.value)]


def test_a_bill_reissued_with_new_numbers_after_it_was_paid_is_suggested_for_its_payment(database, committed_sample):
    # The sample plants no re-issued bill: re-issue qr_full's (paid by 納付番号 and 確認番号) in a
    # second delivery of the last snapshot, and rebuild from what is stored.
    case = case_of(committed_sample, "qr_full")
    with read_only_database(database) as connection:
        inputs = stored_inputs(connection)
    snapshots = inputs["receivable_snapshots"]
    last = snapshots.filter(pl.col("snapshot_date") == pl.col("snapshot_date").max())
    reissued = pl.col("receivable_id") == case["receivable_id"]
    second_delivery = last.with_columns(
        pl.lit(2, dtype=pl.Int32).alias("delivery_number"),
        pl.when(reissued).then(pl.lit("REISSUED-PN")).otherwise(pl.col("payment_number")).alias("payment_number"),
        pl.when(reissued).then(pl.lit("REISSUED-CN")).otherwise(pl.col("confirmation_number")).alias("confirmation_number"),
    )
    inputs["receivable_snapshots"] = pl.concat([snapshots, second_delivery.cast(snapshots.schema)])
    as_of = committed_sample.settlement_dates[-1]
    queue = derived_state(inputs, as_of, load_rates()).work_queue
    rows = queue.filter(pl.col("payment_key") == payment_key(case))
    assert rows.select("status", "suggestion_rank", "suggested_receivable_id", "suggestion_reason").row(0) == (
        PaymentStatus.PENDING.value,
        1,
        case["receivable_id"],
        SuggestionReason.REISSUED_NUMBERS.value,
    )


def test_shuno_pending_prints_the_queue_and_a_count_line_without_personal_data(database, queue):
    result = CliRunner().invoke(app, ["pending", "--db", str(database)])
    assert result.exit_code == 0, result.output
    waiting = queue["payment_key"].unique(maintain_order=True).to_list()
    assert [line.split("│")[3].strip() for line in result.output.splitlines() if any(key in line for key in waiting)] == waiting
    assert f"{len(waiting)} payments waiting" in result.output
    assert "未紐付の納税者の申告受付番号" in result.output
    with read_only_database(database) as connection:
        personal = connection.sql(
            "SELECT payer_name, payment_number, confirmation_number FROM provisional_payments WHERE payment_key IN ?", params=[waiting]
        ).fetchall()
    assert not [value for row in personal for value in row if value and value.strip() in result.output]


def test_shuno_pending_csv_is_utf8_with_bom_one_row_per_queue_row_codes_as_text(database, queue):
    result = CliRunner().invoke(app, ["pending", "--db", str(database), "--csv"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert len(rows) == queue.height
    assert [row["payment_key"] for row in rows] == queue["payment_key"].to_list()
    assert {row["error_class"] for row in rows} <= {"10", "20", "30", "40"}
    assert {row["error_class_label"] for row in rows if row["error_class"] == "10"} == {"未紐付"}


def test_a_missing_database_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["pending", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no database" in result.output and "Traceback" not in result.output


def test_a_database_from_before_the_work_queue_is_one_line_and_exit_1(tmp_path):
    older = tmp_path / "older.duckdb"
    with open_database(older) as connection:
        connection.execute("CREATE TABLE payments (payment_key VARCHAR)")
    result = CliRunner().invoke(app, ["pending", "--db", str(older)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "no work queue yet" in result.output


def test_a_database_another_process_is_writing_is_one_line_and_exit_1(sample_nights, tmp_path):
    busy = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "busy.duckdb")
    holder = "import sys, time, pathlib; from flows.database import open_database; connection = open_database(pathlib.Path(sys.argv[1])); print('open', flush=True); time.sleep(60)"
    writer = subprocess.Popen([sys.executable, "-c", holder, str(busy)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        result = CliRunner().invoke(app, ["pending", "--db", str(busy)])
    finally:
        writer.kill()
        writer.wait()
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "cannot read" in result.output and "Traceback" not in result.output

