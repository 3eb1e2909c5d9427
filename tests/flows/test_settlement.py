"""The settlement run on the sample inbox: re-runs and out-of-order runs give the same database, a failed run changes nothing.

These call `run_settlement_date` without Prefect; the `shuno run` command, which runs it through
Prefect's flow, is tested against Prefect's API served as the command serves it, in tests/flows/test_nightly_command.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows import settlement
from flows.refusals import logged_refusals
from flows.settlement import RunDateRefused, RunFailed, RunSummary, run_settlement_date
from schemas.derived import broken_rules
from schemas.settings import Settings
from schemas.tables import derived_tables
from transforms.rebuild import DerivedTables, derived_state
from tests.databases import read_only_database

OUTCOME_TABLES = [
    "payments", "provisional_payments", "applications", "arrears", "refund_candidates", "offsets", "decisions", "work_queue", "rejected_records",
    "receivables", "deliveries", "deposit_reconciliation", "history", "history_days",
]  # fmt: skip


@pytest.fixture(scope="module")
def sample(sample_inbox_folder, committed_sample):
    return sample_inbox_folder, list(committed_sample.settlement_dates)


def _dump(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {table: connection.sql(f'SELECT * FROM "{table}"').pl().sort(pl.all()) for table in OUTCOME_TABLES}


def _run(dates: list[date], inbox: Path, database: Path, settings: Settings | None = None) -> list[RunSummary]:
    return [run_settlement_date(day, inbox, database, settings) for day in dates]


@dataclass(frozen=True)
class OutOfOrder:
    """The sample's dates run again and out of order from a writable copy of its inbox: the database, the inbox's files before the runs, and the runs' summaries."""

    database: Path
    inbox: Path
    files_before: dict[str, bytes]
    summaries: list[RunSummary]


@pytest.fixture(scope="module")
def out_of_order(sample, tmp_path_factory) -> OutOfOrder:
    inbox, dates = sample
    folder = tmp_path_factory.mktemp("out_of_order")
    # Writable, unlike the shared inbox: a run that moved or changed a file could, and would be seen.
    copy = shutil.copytree(inbox, folder / "inbox")
    for path in [copy, *copy.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    files_before = {path.name: path.read_bytes() for path in copy.iterdir()}
    # The last date first, then an earlier one after it, then one date twice.
    summaries = _run([dates[2], dates[0], dates[1], dates[1]], copy, folder / "shuno.duckdb")
    return OutOfOrder(folder / "shuno.duckdb", copy, files_before, summaries)


def test_running_dates_again_or_out_of_order_gives_the_same_database(sample_nights, out_of_order):
    # The sample's dates run once each, in order (the session's sample_nights).
    expected, found = _dump(sample_nights.database_after()), _dump(out_of_order.database)
    assert expected["payments"].height > 100 and expected["applications"].height > 100
    for table in OUTCOME_TABLES:
        assert found[table].equals(expected[table]), table


def test_a_run_that_cannot_complete_leaves_the_database_as_it_was(sample, sample_nights, tmp_path):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[0], tmp_path / "shuno.duckdb")
    before = _dump(database)
    rates = tmp_path / "rates.csv"
    packaged = Path(__file__).resolve().parents[2] / "schemas" / "rates" / "rates.csv"
    rates.write_text("".join(line for line in packaged.read_text().splitlines(keepends=True) if not line.startswith("2026")))
    with pytest.raises(RunFailed, match="2026"):
        run_settlement_date(dates[1], inbox, database, Settings(rates_path=rates))
    assert all(_dump(database)[table].equals(before[table]) for table in OUTCOME_TABLES)
    with read_only_database(database) as connection:
        statuses = connection.sql("SELECT settlement_date, status FROM runs ORDER BY started_at").fetchall()
        files = connection.sql("SELECT count(*) FROM ingested_files WHERE settlement_date = ?", params=[dates[1]]).fetchall()
    assert statuses == [(dates[0], "completed"), (dates[1], "failed")]
    assert files == [(0,)]


def test_inbox_files_are_never_moved_or_modified(out_of_order):
    assert {path.name: path.read_bytes() for path in out_of_order.inbox.iterdir()} == out_of_order.files_before


def test_each_completed_run_publishes_the_analyst_copy_without_personal_columns(out_of_order):
    # The runs out of order, the first from no database: the copy the last left is its database's.
    database = out_of_order.database
    copy = database.parent / "analyst.duckdb"
    assert [summary.analyst_copy for summary in out_of_order.summaries] == [f"published to {copy}"] * 4
    with read_only_database(copy) as connection:
        payments = connection.sql("SELECT count(*) FROM payments").fetchall()[0][0]
        personal = connection.sql(
            "SELECT count(*) FROM duckdb_columns() WHERE column_name IN ('payer_name', 'payer_name_kana', 'payer_address', 'payment_number', 'confirmation_number', 'raw')"
        ).fetchall()[0][0]
    assert payments == _dump(database)["payments"].height > 0
    assert personal == 0


def test_a_first_run_with_an_empty_inbox_completes_without_warnings(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = run_settlement_date(date(2026, 5, 11), inbox, tmp_path / "shuno.duckdb")
    assert summary.files == [] and summary.outcome_counts["arrears"]["receivables"] == 0


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ('offset_order = "newest_due_first"\n', "offset_order: Input should be 'oldest_due_first' (got 'newest_due_first')"),
        ("low_rate_month = 3\n", "low_rate_month: Extra inputs are not permitted (got 3)"),
    ],
)
def test_the_run_command_refuses_a_wrong_settings_file_in_one_line_before_the_run_starts(sample, tmp_path, settings, reason):
    inbox, dates = sample
    path, database = tmp_path / "city.toml", tmp_path / "shuno.duckdb"
    path.write_text(settings, encoding="utf-8")
    arguments = ["run", "--date", dates[0].isoformat(), "--inbox", str(inbox), "--db", str(database)]
    result = CliRunner().invoke(app, [*arguments, "--settings", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"shuno run: settings file {path}: {reason}\n"
    missing = CliRunner().invoke(app, arguments, env={"SHUNO_SETTINGS": str(tmp_path / "none.toml")})
    assert missing.exit_code == 2 and missing.stderr == f"shuno run: settings file {tmp_path / 'none.toml'} does not exist\n"
    assert list(tmp_path.glob("shuno.duckdb*")) == []


def test_a_run_for_a_code_that_is_no_collector_is_refused_as_bad_input_and_opens_nothing(sample, tmp_path):
    inbox, dates = sample
    database = tmp_path / "shuno.duckdb"
    arguments = ["run", "--date", dates[0].isoformat(), "--inbox", str(inbox), "--db", str(database), "--collector", "132070"]
    result = CliRunner().invoke(app, arguments)
    assert (result.exit_code, result.stderr) == (2, "shuno run: --collector 132070 is not a 収納団体コード (six digits, the last its check digit)\n")
    with pytest.raises(RunFailed, match="132070 is not a 収納団体コード"):
        run_settlement_date(dates[0], inbox, database, collector=132070)
    assert [path.name for path in tmp_path.glob("shuno.duckdb*")] == ["shuno.duckdb.refused.jsonl"]  # the refusal is logged, no database made


def test_a_run_for_one_collector_is_refused_on_a_database_that_holds_another_collectors_files(sample, sample_nights, tmp_path):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[0], tmp_path / "shuno.duckdb")
    before = _dump(database)
    with pytest.raises(RunFailed, match="the database holds the files of collector 132071, not 132012: run each collector into its own database"):
        run_settlement_date(dates[0], inbox, database, collector=132012)
    after = _dump(database)  # a re-run of the date would have withdrawn 132071's records of it
    assert all(after[table].equals(before[table]) for table in OUTCOME_TABLES)
    assert run_settlement_date(dates[0], inbox, database, collector=132071).collector == 132071


def test_a_run_whose_derived_tables_break_their_contract_fails_in_one_line_and_changes_nothing(sample, sample_nights, tmp_path, monkeypatch):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[0], tmp_path / "shuno.duckdb")
    before = _dump(database)
    assert broken_rules({table.name: before[table.name] for table in derived_tables()}) == []

    def overstated(*arguments, **keywords) -> DerivedTables:
        derived = derived_state(*arguments, **keywords)
        one_more = pl.when(pl.int_range(pl.len()) == 0).then(pl.col("principal_applied") + 1).otherwise(pl.col("principal_applied"))
        return replace(derived, applications=derived.applications.with_columns(one_more))

    monkeypatch.setattr("flows.settlement.derived_state", overstated)
    with pytest.raises(RunFailed) as raised:
        run_settlement_date(dates[1], inbox, database)
    message = str(raised.value)
    assert "\n" not in message
    assert f"run of {dates[1]} failed and changed nothing: ContractBroken: payments: paid_total ≠ Σ applications + overpaid_amount (1 row: " in message
    assert all(_dump(database)[table].equals(before[table]) for table in OUTCOME_TABLES)
    with read_only_database(database) as connection:
        reasons = connection.sql("SELECT outcome, reason FROM audit_log WHERE outcome = 'failed'").fetchall()
    assert len(reasons) == 1 and reasons[0][1].startswith("ContractBroken: payments: paid_total ≠ Σ applications")


def test_a_date_after_today_is_refused_before_anything_is_opened_and_logged(sample, tmp_path):
    inbox, dates = sample
    database = tmp_path / "shuno.duckdb"
    with pytest.raises(RunDateRefused, match=r"run of 2026-05-14 refused and changed nothing: 2026-05-14 is after today \(2026-05-13, Asia/Tokyo\)"):
        run_settlement_date(date(2026, 5, 14), inbox, database, today=date(2026, 5, 13))
    assert not database.exists()
    assert [(entry.command, entry.outcome) for entry in logged_refusals(database)[0]] == [("shuno run", "refused")]


def test_a_date_far_after_the_latest_run_needs_confirming_and_then_runs(sample, sample_nights, tmp_path):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[-1], tmp_path / "shuno.duckdb")
    before = _dump(database)
    months_later = date(2026, 9, 1)  # 111 days after the last night: a mistyped month, say
    with pytest.raises(RunDateRefused, match=r"2026-09-01 is 111 days after the latest run \(2026-05-13\), more than 7: .*--confirm-gap"):
        run_settlement_date(months_later, inbox, database, today=date(2026, 12, 3))
    after = _dump(database)
    assert all(after[table].equals(before[table]) for table in OUTCOME_TABLES)
    run_settlement_date(date(2026, 5, 20), inbox, database, today=date(2026, 12, 3))  # 7 days: no confirmation needed
    summary = run_settlement_date(months_later, inbox, database, confirm_gap=True, today=date(2026, 12, 3))
    assert summary.as_of == months_later


def test_a_run_waits_for_a_reader_to_let_go_then_fails_naming_its_pid(sample, sample_nights, tmp_path):
    inbox, dates = sample
    database = sample_nights.copy_after(dates[0], tmp_path / "shuno.duckdb")
    reader = "import sys, time, pathlib; from flows.database import connect_read_only; connection = connect_read_only(pathlib.Path(sys.argv[1])); print('open', flush=True); time.sleep(float(sys.argv[2])); connection.close(); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", reader, str(database), "60"], stdout=subprocess.PIPE, text=True) as holding:
        assert holding.stdout.readline() == "open\n"
        started = time.monotonic()
        with pytest.raises(RunFailed, match=rf"another process \(pid {holding.pid}\) holds it and did not let go within 1 s"):
            run_settlement_date(dates[1], inbox, database, Settings(reader_wait_seconds=1))
        assert time.monotonic() - started >= 1
        holding.kill()
    # A reader that lets go within the wait: the run goes on.
    with subprocess.Popen([sys.executable, "-c", reader, str(database), "0.3"], stdout=subprocess.PIPE, text=True) as letting_go:
        assert letting_go.stdout.readline() == "open\n"
        assert run_settlement_date(dates[1], inbox, database, Settings(reader_wait_seconds=30)).settlement_date == dates[1]
        letting_go.kill()


def test_the_sample_shows_every_delivery_and_reconciliation_status_and_holds_dunning_until_its_deliveries_are_complete(sample, sample_nights, tmp_path):
    inbox, dates = sample
    with read_only_database(sample_nights.database_after()) as connection:
        incomplete = connection.sql("SELECT settlement_date, kind, status, reason FROM deliveries WHERE status <> 'received'").fetchall()
        reconciled = connection.sql("SELECT * FROM deposit_reconciliation WHERE deposited_on >= DATE '2026-05-07'").fetchall()
        holds = connection.sql("SELECT DISTINCT dunning_ready, dunning_hold_reason FROM arrears WHERE dunning_due").fetchall()
        [(due,)] = connection.sql("SELECT count(*) FROM arrears WHERE dunning_due").fetchall()
    # The rejected 入金日 file of the last date is numbered 003: delivery 002 never came.
    gap = "NOFU_NYUKIN for 2026-05-13: delivery 002 missing (003 rejected)"
    assert incomplete == [(dates[2], "NOFU_NYUKIN", "missing", gap)]
    assert reconciled == [
        (date(2026, 5, 7), 483_200, 0, 483_200, "no_delivery"),
        (date(2026, 5, 8), 685_500, 685_500, 0, "matched"),
        (dates[0], 1_094_800, 1_093_800, 1_000, "differs"),
        (dates[1], 2_675_900, 2_675_900, 0, "matched"),
        (dates[2], None, 1_298_900, None, "no_credit"),
    ]
    assert holds == [(False, gap)]
    # The business day before the first date brought only a 納付日 file, rejected whole: run it late.
    summary = run_settlement_date(date(2026, 5, 8), inbox, sample_nights.copy_after(dates[-1], tmp_path / "shuno.duckdb"))
    assert summary.as_of == dates[-1]
    assert summary.delivery_warnings == ("NOFU_NOFUBI for 2026-05-08: every file rejected (001)", "no NOFU_NYUKIN for 2026-05-08", gap)
    with read_only_database(tmp_path / "shuno.duckdb") as connection:
        held = dict(connection.sql("SELECT dunning_hold_reason, count(*) FROM arrears WHERE dunning_due AND NOT dunning_ready GROUP BY ALL").fetchall())
    assert due > 10 and sum(held.values()) == due
    assert set(held) <= {"NOFU_NOFUBI for 2026-05-08: every file rejected (001) (and 2 more)", gap}
    assert held["NOFU_NOFUBI for 2026-05-08: every file rejected (001) (and 2 more)"] > 0


def test_duckdb_works_on_one_thread_only_while_no_table_and_no_dates_files_reach_a_row_group(sample, tmp_path, monkeypatch):
    inbox, dates = sample
    connection = duckdb.connect(config={"threads": 2})
    connection.execute("CREATE TABLE small AS SELECT range AS id FROM range(1000)")
    threads = "SELECT current_setting('threads')"
    monkeypatch.setattr(settlement, "ONE_THREAD_FILES_BYTES", 1)
    settlement.one_thread_when_small(connection, inbox, dates[0], None)
    assert connection.execute(threads).fetchone() == (2,)
    monkeypatch.undo()
    connection.execute(f"CREATE TABLE large AS SELECT range AS id FROM range({settlement.ROW_GROUP_ROWS})")
    settlement.one_thread_when_small(connection, inbox, dates[0], None)
    assert connection.execute(threads).fetchone() == (2,)
    connection.execute("DROP TABLE large")
    settlement.one_thread_when_small(connection, inbox, dates[0], None)
    assert connection.execute(threads).fetchone() == (1,)
