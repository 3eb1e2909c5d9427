"""Loading a date's inbox files into DuckDB: every file accounted for, a re-run replaces, copies are found."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.database import connect, query_frame
from flows.ingest import collectors_of_date, load_date, other_collectors_files
from flows.settlement import run_settlement_date
from schemas.layouts import load_layout
from tests.records import patched, payment_file_bytes_for, record_frame
from transforms.fixed_width import records_bytes

DAY = date(2026, 5, 1)
PAYMENT = load_layout("payment")
RECEIVABLES_CSV = (
    "receivable_id,taxpayer_id,tax_code,fiscal_year,tax_year,installment,notice_number,payment_number,"
    "confirmation_number,filing_receipt_number,due_date,principal,dunning_fee,dunning_sent_on,changed_on\n"
    "R1,T1,010,2026,2026,01,N1,1234567890123456,123456,,2026-04-30,10000,0,,\n"
    "R2,T1,010,2026,2026,02,N2,,,,2026-02-30,10000,0,,\n"
)


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    data = patched(payment_file_bytes_for(record_frame("payment", 3)), 3, PAYMENT.field("paid_on").offset, b"20260231")
    (folder / "NOFU_NYUKIN_132071_20260501_001.dat").write_bytes(data)
    (folder / "NOFU_NYUKIN_132071_20260501_002.dat").write_bytes(data)
    (folder / "NOFU_NOFUBI_132071_20260501_001.dat").write_bytes(data[:-700])
    (folder / "CHOTEI_132071_20260501_001.csv").write_text(RECEIVABLES_CSV, encoding="utf-8")
    links = records_bytes(record_frame("link_history", 2), load_layout("link_history"), crlf=False)
    (folder / "HIMOZUKE_132071_20260501_001.dat").write_bytes(links)
    (folder / "HIMOZUKE_132071_20260502_001.dat").write_bytes(links)
    (folder / "README.txt").write_text("not a delivery")
    return folder


@pytest.fixture
def new_database(declared_database, tmp_path):
    """A connection to a new database at a name in the test's folder (shuno.duckdb by default), a copy of the session's declared one."""
    return lambda name="shuno.duckdb": connect(shutil.copyfile(declared_database, tmp_path / name))


def _load(connection, inbox, day=DAY):
    return {outcome.file_name: outcome for outcome in load_date(connection, inbox, day, "run")}


def test_every_file_of_the_date_is_loaded_rejected_duplicate_or_unrecognised(new_database, inbox):
    connection = new_database()
    outcomes = _load(connection, inbox)
    assert {name: outcome.status for name, outcome in outcomes.items()} == {
        "CHOTEI_132071_20260501_001.csv": "loaded",
        "HIMOZUKE_132071_20260501_001.dat": "loaded",
        "NOFU_NOFUBI_132071_20260501_001.dat": "rejected",
        "NOFU_NYUKIN_132071_20260501_001.dat": "loaded",
        "NOFU_NYUKIN_132071_20260501_002.dat": "duplicate",
        "README.txt": "unrecognised",
    }
    payment = outcomes["NOFU_NYUKIN_132071_20260501_001.dat"]
    assert (payment.record_count, payment.accepted_count, payment.rejected_count) == (3, 2, 1)
    stored = query_frame(connection, "SELECT file_name, record_number FROM payment_records ORDER BY record_number")
    assert stored.rows() == [("NOFU_NYUKIN_132071_20260501_001.dat", 2), ("NOFU_NYUKIN_132071_20260501_001.dat", 4)]
    rejected = query_frame(connection, "SELECT file_name, record_number, field, octet_length(raw) AS bytes FROM rejected_records ORDER BY file_name")
    assert rejected.rows() == [
        ("CHOTEI_132071_20260501_001.csv", 3, "due_date", len(b"R2,T1,010,2026,2026,02,N2,,,,2026-02-30,10000,0,,")),
        ("NOFU_NYUKIN_132071_20260501_001.dat", 3, "paid_on", 700),
    ]
    assert query_frame(connection, "SELECT receivable_id FROM receivable_snapshots")["receivable_id"].to_list() == ["R1"]
    # Stuck yen is visible: what each rejected record holds and is about (its broken 納付日 reads as null) …
    keys = "SELECT amount, common_tax_id, sequence_number, paid_on, receivable_id FROM rejected_records ORDER BY file_name"
    assert query_frame(connection, keys).rows() == [(10000, None, None, None, "R2"), (10000, "CT0000000000000001", 2, None, None)]
    # … and each payment file's trailer totals, those of a file whose records were not all loaded too.
    trailers = "SELECT file_name, trailer_count, trailer_amount, trailer_cancel_count, trailer_cancel_amount FROM ingested_files WHERE kind LIKE 'NOFU%' ORDER BY 1"
    assert query_frame(connection, trailers).rows() == [
        ("NOFU_NOFUBI_132071_20260501_001.dat", None, None, None, None),  # no end record: its control records cannot be trusted
        ("NOFU_NYUKIN_132071_20260501_001.dat", 3, 30000, 0, 0),
        ("NOFU_NYUKIN_132071_20260501_002.dat", None, None, None, None),  # a duplicate: counted once, under the first
    ]


def test_an_entry_with_a_delivery_name_that_is_no_readable_file_is_listed_unreadable_with_its_reason(tmp_path, inbox, new_database):
    (inbox / "KANRI_132071_20260501_001.dat").mkdir()
    (inbox / "KARI_NYUKIN_132071_20260501_001.dat").symlink_to(tmp_path / "unmounted" / "share.dat")
    (inbox / "archive").mkdir()
    connection = new_database()
    outcomes = _load(connection, inbox)
    unreadable = {name: (outcome.status, outcome.kind, outcome.reason) for name, outcome in outcomes.items() if outcome.status == "unreadable"}
    assert unreadable == {
        "KANRI_132071_20260501_001.dat": ("unreadable", "KANRI", "a folder, not a file"),
        "KARI_NYUKIN_132071_20260501_001.dat": ("unreadable", "KARI_NYUKIN", "a link to nothing (is the share mounted?)"),
    }
    assert (outcomes["archive"].status, outcomes["archive"].reason.endswith("(not a regular file)")) == ("unrecognised", True)
    stored = query_frame(connection, "SELECT file_name, status FROM ingested_files WHERE status = 'unreadable' ORDER BY 1")
    assert stored.rows() == [("KANRI_132071_20260501_001.dat", "unreadable"), ("KARI_NYUKIN_132071_20260501_001.dat", "unreadable")]


def test_a_rerun_replaces_the_dates_rows_and_nothing_else(new_database, inbox):
    connection = new_database()
    _load(connection, inbox, date(2026, 5, 2))
    _load(connection, inbox)
    before = query_frame(connection, "SELECT * FROM payment_records ORDER BY file_name, record_number")
    _load(connection, inbox)
    after = query_frame(connection, "SELECT * FROM payment_records ORDER BY file_name, record_number")
    assert before.equals(after)
    assert query_frame(connection, "SELECT count(*) AS n FROM ingested_files")["n"][0] == 7


def test_the_earliest_copy_of_identical_files_is_the_one_loaded_whatever_the_run_order(new_database, inbox):
    connection = new_database()
    later = _load(connection, inbox, date(2026, 5, 2))
    assert later["HIMOZUKE_132071_20260502_001.dat"].status == "loaded"
    earlier = _load(connection, inbox)
    assert earlier["HIMOZUKE_132071_20260501_001.dat"].status == "loaded"
    again = _load(connection, inbox, date(2026, 5, 2))
    assert again["HIMOZUKE_132071_20260502_001.dat"].status == "duplicate"
    assert "byte-identical to HIMOZUKE_132071_20260501_001.dat" in again["HIMOZUKE_132071_20260502_001.dat"].reason
    stored = query_frame(connection, "SELECT DISTINCT file_name FROM link_records")
    assert stored["file_name"].to_list() == ["HIMOZUKE_132071_20260501_001.dat"]


def test_a_snapshot_cut_in_half_is_held_until_accepted_and_its_date_run_again(sample_nights, tmp_path):
    first, second, last = sample_nights.dates
    inbox = shutil.copytree(sample_nights.inbox, tmp_path / "inbox")
    for path in [inbox, *inbox.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    snapshot = inbox / f"CHOTEI_132071_{last:%Y%m%d}_001.csv"
    lines = snapshot.read_text(encoding="utf-8").splitlines()
    snapshot.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    database = sample_nights.copy_after(second, tmp_path / "shuno.duckdb")
    receivables_before = query_frame(connect(database), "SELECT * FROM receivables ORDER BY receivable_id")
    summary = run_settlement_date(last, inbox, database)
    [held] = [outcome for outcome in summary.files if outcome.file_name == snapshot.name]
    assert held.status == "held" and "drops" in held.reason and "more than the 2.0% allowed" in held.reason
    connection = connect(database)
    # The snapshot before it stays in force: the receivables are those of the night before.
    assert query_frame(connection, "SELECT * FROM receivables ORDER BY receivable_id").equals(receivables_before)
    assert query_frame(connection, "SELECT status FROM ingested_files WHERE file_name = ?", [snapshot.name]).item() == "held"
    connection.close()
    accepted = CliRunner().invoke(app, ["decide", "accept-snapshot", "--file", snapshot.name, "--on", last.isoformat(), "--reason", "CONFIRMED", "--db", str(database)])
    assert accepted.exit_code == 0, accepted.output
    summary = run_settlement_date(last, inbox, database)
    assert [outcome.status for outcome in summary.files if outcome.file_name == snapshot.name] == ["loaded"]
    connection = connect(database)
    assert query_frame(connection, "SELECT count(*) FROM receivables").item() == len(lines) // 2 - 1  # the header line is no receivable
    connection.close()


def test_a_run_for_one_collector_loads_its_files_counts_the_others_and_still_checks_the_header_against_the_name(inbox, new_database):
    # Another collector's files of the date, and one named for it whose header says 132071 (a misdelivery).
    other = 132012
    (inbox / f"CHOTEI_{other}_20260501_001.csv").write_text(RECEIVABLES_CSV, encoding="utf-8")
    (inbox / f"NOFU_NYUKIN_{other}_20260501_001.dat").write_bytes(payment_file_bytes_for(record_frame("payment", 2)))
    connection = new_database()
    mine = _load_for(connection, inbox, 132071)
    assert sorted(mine) == ["CHOTEI_132071_20260501_001.csv", "HIMOZUKE_132071_20260501_001.dat", "NOFU_NOFUBI_132071_20260501_001.dat",
                            "NOFU_NYUKIN_132071_20260501_001.dat", "NOFU_NYUKIN_132071_20260501_002.dat", "README.txt"]
    assert other_collectors_files(inbox, DAY, 132071) == {other: 2}
    assert other_collectors_files(inbox, DAY, None) == {} and collectors_of_date(inbox, DAY) == {132071: 5, other: 2}
    theirs = _load_for(new_database("theirs.duckdb"), inbox, other)
    misdelivered = theirs[f"NOFU_NYUKIN_{other}_20260501_001.dat"]
    assert misdelivered.status == "rejected" and "収納団体コード" in misdelivered.reason
    assert theirs[f"CHOTEI_{other}_20260501_001.csv"].status == "loaded" and theirs["README.txt"].status == "unrecognised"


def _load_for(connection, inbox, collector: int) -> dict:
    return {outcome.file_name: outcome for outcome in load_date(connection, inbox, DAY, "run", collector=collector)}
