"""The operation log: who ran what, when, on which files (SHA-256), how it ended; nothing personal."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.audit import FileDigest, audit_entry, file_digest, write_audit_entry
from flows.cli import app
from flows.database import connect, open_database
from flows.lock import acquire_run_lock
from flows.settlement import RunFailed, RunRefused, failure_reason, run_settlement_date
from flows.refusals import logged_refusals, refusal_log_path
from sample_data.names import SAMPLE_NAMES
from schemas.rates import RatesFileError
from schemas.settings import Settings
from tests.databases import read_only_database

RUN_FILES = "SELECT file_name, sha256 FROM ingested_files WHERE run_id = ? AND settlement_date = ?"
AUDIT_COMMENTS = "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'audit_log'"
AUDIT_ROWS = "SELECT os_user, host, process_id, command, parameters, files, outcome, reason, run_id, recorded_at FROM audit_log ORDER BY recorded_at"


@pytest.fixture(scope="module")
def sample(sample_inbox_folder, committed_sample):
    return sample_inbox_folder, list(committed_sample.settlement_dates)


def _date_files(inbox: Path, database: Path, settlement_date) -> list[Path]:
    with read_only_database(database) as connection:
        names = connection.execute("SELECT file_name FROM ingested_files WHERE settlement_date = ? ORDER BY file_name", [settlement_date]).fetchall()
    return [inbox / name for (name,) in names]


def _audit_rows(database: Path) -> list[dict]:
    with read_only_database(database) as connection:
        result = connection.execute(AUDIT_ROWS)
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _rates_without_2026(folder: Path) -> Path:
    rates = folder / "rates.csv"
    packaged = Path(__file__).resolve().parents[2] / "schemas" / "rates" / "rates.csv"
    rates.write_text("".join(line for line in packaged.read_text().splitlines(keepends=True) if not line.startswith("2026")))
    return rates


def test_a_completed_run_is_logged_with_the_os_user_and_the_sha256_of_its_files(sample, declared_database, tmp_path):
    inbox, dates = sample
    database = shutil.copyfile(declared_database, tmp_path / "shuno.duckdb")  # a new database, its tables declared
    summary = run_settlement_date(dates[0], inbox, database)
    files = _date_files(inbox, database, dates[0])
    with read_only_database(database) as connection:
        sha256 = dict(connection.execute(RUN_FILES, [summary.run_id, dates[0]]).fetchall())
        comments = connection.execute(AUDIT_COMMENTS).fetchall()
    [entry] = _audit_rows(database)
    who = (entry["os_user"], entry["process_id"], entry["command"], entry["outcome"], entry["run_id"])
    assert who == (getpass.getuser(), os.getpid(), "shuno run", "completed", summary.run_id)
    assert datetime.now() - entry["recorded_at"] < timedelta(minutes=1)
    assert json.loads(entry["parameters"]) == {"settlement_date": dates[0].isoformat(), "inbox": str(inbox), "database": str(database)}
    logged = {file["file_name"]: file["sha256"] for file in json.loads(entry["files"]) if file["sha256"] is not None}
    assert len(logged) == len(files) > 5
    assert logged == {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files} == sha256
    assert len(comments) == 11 and all(comment for _, comment in comments)


def test_a_failed_run_is_logged_after_its_rollback_and_nothing_personal_is(sample, declared_database, tmp_path):
    inbox, dates = sample
    database = shutil.copyfile(declared_database, tmp_path / "shuno.duckdb")  # a new database, its tables declared
    with pytest.raises(RunFailed):
        run_settlement_date(dates[0], inbox, database, Settings(rates_path=_rates_without_2026(tmp_path)))
    connection = connect(database)
    try:
        write_audit_entry(connection, audit_entry("shuno run", "refused", {"settlement_date": dates[0]}, reason="another run holds the lock"))
    finally:
        connection.close()
    failed, refused = _audit_rows(database)
    assert (failed["command"], failed["outcome"], refused["outcome"]) == ("shuno run", "failed", "refused")
    assert "2026" in failed["reason"] and json.loads(refused["files"]) == []
    text = json.dumps([failed, refused], default=str, ensure_ascii=False)
    assert [name for name in SAMPLE_NAMES if name in text] == []


def test_personal_parameters_unknown_outcomes_and_odd_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="payer_name"):
        audit_entry("run", "completed", {"payer_name": "x"})
    with pytest.raises(ValueError, match="payment_number"):
        audit_entry("run", "completed", {"filters": [{"payment_number": "x"}]})
    with pytest.raises(ValueError, match="outcome"):
        audit_entry("run", "ok")
    with pytest.raises(TypeError, match="object"):
        audit_entry("run", "completed", {"what": object()})
    database = tmp_path / "audit.duckdb"
    with open_database(database) as connection:
        with pytest.raises(ValueError):
            write_audit_entry(connection, audit_entry("run", "completed", {"password": "x"}))
        assert connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'audit_log'").fetchone()[0] == 0


def test_a_file_that_cannot_be_read_is_named_without_a_digest_and_an_entry_serialises_to_one_json_line(tmp_path):
    present = tmp_path / "PAYMENT.dat"
    present.write_bytes(b"abc")
    assert file_digest(tmp_path / "gone.dat") == FileDigest("gone.dat", None)
    entry = audit_entry("backfill", "refused", {"start": "2026-05-11"}, [present, tmp_path / "gone.dat", FileDigest("given.dat", "00" * 32)])
    line = json.loads(entry.as_json())
    assert line["files"] == [
        {"file_name": "PAYMENT.dat", "sha256": hashlib.sha256(b"abc").hexdigest()},
        {"file_name": "gone.dat", "sha256": None},
        {"file_name": "given.dat", "sha256": "00" * 32},
    ]
    assert (line["os_user"], line["command"], line["parameters"]) == (getpass.getuser(), "backfill", {"start": "2026-05-11"})
    assert "\n" not in entry.as_json()


def test_a_run_the_cli_refuses_is_logged_beside_the_database_and_folded_once_by_the_next_runs(sample, tmp_path):
    inbox, dates = sample
    database = tmp_path / "shuno.duckdb"
    with acquire_run_lock(database) as lock:
        result = CliRunner().invoke(app, ["run", "--date", dates[0].isoformat(), "--inbox", str(inbox), "--db", str(database)])
    assert result.exit_code == 1 and not database.exists()
    [logged] = logged_refusals(database)[0]
    assert result.stderr == f"shuno run: run of {dates[0]} refused and changed nothing: {logged.reason}\n"
    assert re.fullmatch(rf"another shuno run holds {re.escape(str(lock.path))} since \S+ \(pid {os.getpid()}\)", logged.reason)
    assert (logged.command, logged.outcome, logged.process_id, logged.run_id, logged.files) == ("shuno run", "refused", os.getpid(), None, ())
    assert json.loads(logged.parameters) == {"settlement_date": dates[0].isoformat(), "inbox": str(inbox), "database": str(database)}
    for _ in range(2):  # the next run folds the refusal in; a repeated run does not fold it again
        run_settlement_date(dates[0], inbox, database)
    refused = [row for row in _audit_rows(database) if row["outcome"] == "refused"]
    assert [(row["os_user"], row["process_id"], row["reason"], row["recorded_at"]) for row in refused] == [
        (logged.os_user, os.getpid(), logged.reason, logged.recorded_at)
    ]
    assert [row["outcome"] for row in _audit_rows(database)] == ["refused", "completed", "completed"]
    assert logged_refusals(database) == ([], 0) and refusal_log_path(database).exists()


def test_a_refused_run_stays_in_the_log_through_a_failed_run_and_is_folded_by_the_next_completed_one(sample, sample_nights, tmp_path):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[0], tmp_path / "shuno.duckdb")  # as a completed run of the first date left it
    with acquire_run_lock(database), pytest.raises(RunRefused, match="refused and changed nothing"):
        run_settlement_date(dates[1], inbox, database, command="flow nightly")
    logged = logged_refusals(database)[0]
    with pytest.raises(RunFailed, match="failed and changed nothing"):
        run_settlement_date(dates[1], inbox, database, Settings(rates_path=_rates_without_2026(tmp_path)))
    assert [row["outcome"] for row in _audit_rows(database)] == ["completed", "failed"]
    assert logged_refusals(database)[0] == logged and [entry.command for entry in logged] == ["flow nightly"]
    run_settlement_date(dates[1], inbox, database)
    outcomes = [(row["outcome"], row["command"]) for row in _audit_rows(database)]
    assert outcomes == [("completed", "shuno run"), ("refused", "flow nightly"), ("failed", "shuno run"), ("completed", "shuno run")]
    assert logged_refusals(database) == ([], 0)


def test_a_refusal_that_cannot_be_logged_says_so_in_its_one_line(sample, tmp_path):
    inbox, dates = sample
    database = tmp_path / "shuno.duckdb"
    refusal_log_path(database).mkdir()  # a folder where the log should be: opening it for writing fails
    with acquire_run_lock(database), pytest.raises(RunRefused) as refused:
        run_settlement_date(dates[0], inbox, database)
    assert "refused and changed nothing" in str(refused.value) and "; the refusal could not be logged (IsADirectoryError" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_runs_that_fail_before_opening_the_database_reach_audit_log_with_the_next_completed_run(sample, tmp_path):
    inbox, dates = sample
    database = tmp_path / "data" / "shuno.duckdb"  # its folder does not exist yet
    with pytest.raises(RunFailed, match="is not a folder"):
        run_settlement_date(dates[0], tmp_path / "no-inbox", database, command="deployment nightly")
    unreadable_rates = tmp_path / "rates.csv"
    unreadable_rates.write_text("not a rates table\n")
    with pytest.raises(RatesFileError, match="header") as rates_failure:
        run_settlement_date(dates[0], inbox, database, Settings(rates_path=unreadable_rates))
    assert not database.exists()
    [missing_inbox, bad_rates] = logged_refusals(database)[0]
    assert (missing_inbox.command, missing_inbox.outcome, missing_inbox.reason) == ("deployment nightly", "failed", f"inbox {tmp_path / 'no-inbox'} is not a folder")
    assert (bad_rates.outcome, bad_rates.reason) == ("failed", failure_reason(rates_failure.value))
    run_settlement_date(dates[0], inbox, database)
    assert [(row["outcome"], row["reason"]) for row in _audit_rows(database)] == [
        ("failed", missing_inbox.reason), ("failed", bad_rates.reason), ("completed", None)
    ]
