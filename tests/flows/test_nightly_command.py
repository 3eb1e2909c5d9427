"""`shuno run` against the module's Prefect API: what it prints and publishes, and the runs it refuses, warns or fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from prefect.artifacts import Artifact
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner, Result

import flows.report
from flows.cli import PREFECT_DEFAULTS, app
from flows.nightly import backfill, yesterday_in_tokyo
from tests.databases import read_only_database
from tests.flows.flow_records import NAMES, assert_nothing_personal, latest_flow_run, personal_strings, prefect_stored_bytes

# Alone it took 31 s of CPU (74 s wall on 2 busy cores), 16 of them migrating Prefect's database and
# running the sample's nights, which `make test` does once for every module: `make test` starts it early.
# Every test reports to the module's Prefect API, as `shuno run` does to the city's server.
pytestmark = [pytest.mark.long_running(20), pytest.mark.usefixtures("prefect_api")]

ROOT = Path(__file__).resolve().parents[2]


# The command runs in this process (typer's CliRunner) and reports to the module's Prefect API
# (tests/conftest.py `prefect_api`), as it would to the city's server. The runs that need a database
# of earlier nights start from a copy of the sample's nights, run once per test run (`sample_nights`).


@dataclass(frozen=True)
class CommandRun:
    """`shuno run` of the sample's last night alone into a new database: what it printed, the database, and the report it published."""

    settlement_date: date
    result: Result
    database: Path
    report: str | None


@pytest.fixture(scope="module")
def command_run(sample_nights, tmp_path_factory) -> CommandRun:
    day, database = sample_nights.dates[-1], tmp_path_factory.mktemp("command") / "shuno.duckdb"  # the last date with files
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in PREFECT_DEFAULTS.items():
            monkeypatch.setenv(name, value)  # what the command would set, undone after the run
        result = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(sample_nights.inbox), "--db", str(database)])
    # Read now: a later run of the same date publishes its own report under the same key.
    artifact = Artifact.get(f"run-report-{day.isoformat()}")
    return CommandRun(day, result, database, artifact and artifact.data)


def test_the_run_command_reports_to_the_prefect_api_it_is_given(command_run):
    result = command_run.result
    assert result.exit_code == 0, result.output
    run_id = re.search(r"run ([0-9a-f]{32}) of", result.output).group(1)
    assert run_id in command_run.report
    with read_only_database(command_run.database) as connection:
        assert connection.sql("SELECT command, run_id FROM audit_log").fetchall() == [("shuno run", run_id)]


def test_the_run_command_prints_a_summary_and_refuses_bad_input(sample_nights, command_run, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    database = tmp_path / "shuno.duckdb"
    runner = CliRunner()
    result, day = command_run.result, command_run.settlement_date
    assert result.exit_code == 0, result.output
    assert f"of {day} (as of {day})" in result.output
    snapshot = f"CHOTEI_132071_{day:%Y%m%d}_001.csv"
    assert any(snapshot in line and "loaded" in line for line in result.output.splitlines())
    bad_date = runner.invoke(app, ["run", "--date", "2026-02-30", "--inbox", str(sample_nights.inbox), "--db", str(database)])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    missing = runner.invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(tmp_path / "none"), "--db", str(database)])
    assert missing.exit_code == 1 and "is not a folder" in missing.output
    assert "Traceback" not in missing.output + bad_date.output


def test_the_run_summary_and_the_check_report_name_no_one(sample_nights, command_run):
    # Every number of the sample: the database after its last night holds every night's files.
    payment_numbers, confirmation_numbers = personal_strings(sample_nights.database_after())
    assert len(payment_numbers) > 300 and len(confirmation_numbers) > 300
    run = command_run.result
    assert run.exit_code == 0, run.output
    # The run report's files table: file, kind, records, accepted, rejected, … (eight columns).
    files_rows = [cells for cells in (line.split("│") for line in run.output.splitlines()) if len(cells) == 10]
    assert "3" in [cells[5].strip() for cells in files_rows]
    check = CliRunner().invoke(app, ["check", *sorted(str(path) for path in sample_nights.inbox.iterdir())])
    assert check.exit_code == 1
    assert "has rejected records" in check.output and "rejected record" in check.output
    with read_only_database(sample_nights.database_after()) as connection:
        summaries = "\n".join(summary for (summary,) in connection.sql("SELECT summary FROM runs").fetchall())
    for text in (run.output, check.output, summaries):
        assert_nothing_personal(text, payment_numbers, confirmation_numbers)


def test_a_run_whose_report_cannot_be_read_back_has_committed_and_exits_0_with_a_warning(sample_nights, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)

    def missing_table(connection, settlement_date):
        raise duckdb.CatalogException("Table with name payments does not exist!")

    monkeypatch.setattr(flows.report, "receipts_table", missing_table)
    database = tmp_path / "shuno.duckdb"
    result = CliRunner().invoke(app, ["run", "--date", sample_nights.dates[0].isoformat(), "--inbox", str(sample_nights.inbox), "--db", str(database)])
    assert result.exit_code == 0, result.output
    with read_only_database(database) as connection:
        [(run_id, status)] = connection.sql("SELECT run_id, status FROM runs").fetchall()
        audit = connection.sql("SELECT outcome, run_id FROM audit_log").fetchall()
        payments = connection.sql("SELECT count(*) FROM payments").fetchall()[0][0]
    assert (status, audit, payments > 100) == ("completed", [("completed", run_id)], True)
    assert result.stderr == (
        f"shuno: warning: run {run_id} of {sample_nights.dates[0]} completed and is committed to {database}, but its report could not be shown "
        "(CatalogException (details withheld: they may quote record values)); the run need not be repeated: its outcome is in that "
        f"database, SELECT status, summary FROM runs WHERE run_id = '{run_id}', and its audit_log entry\n"
    )
    assert "収納日計表" not in result.stdout


def test_the_run_command_refuses_a_prefect_api_that_does_not_answer_in_one_line(sample_nights, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    arguments = ["run", "--date", sample_nights.dates[0].isoformat(), "--inbox", str(sample_nights.inbox), "--db", str(tmp_path / "shuno.duckdb")]
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert result.output == "shuno run: the Prefect API at http://127.0.0.1:9/api does not answer (ConnectError); unset PREFECT_API_URL to run without a server\n"
    assert not (tmp_path / "shuno.duckdb").exists()


def test_shuno_run_of_a_snapshot_cut_in_half_ends_warned_with_the_snapshot_held(sample_nights, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    day = sample_nights.dates[-1]  # the sample's last night
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in sample_nights.inbox.glob(f"*_{day:%Y%m%d}_*"):
        shutil.copyfile(path, inbox / path.name)
    snapshot = inbox / f"CHOTEI_132071_{day:%Y%m%d}_001.csv"
    lines = snapshot.read_text(encoding="utf-8").splitlines()
    snapshot.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    database = sample_nights.copy_after(day, tmp_path / "shuno.duckdb")
    result = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(inbox), "--db", str(database)])
    assert result.exit_code == 0, result.output
    assert f"ATTENTION: {snapshot.name} held: drops" in result.output
    assert "held" in latest_flow_run(f"nightly-{day}", "Warned").state.message


def test_shuno_run_refuses_a_date_after_today_at_once_and_waits_then_names_a_reader(sample_nights, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    tomorrow = yesterday_in_tokyo() + timedelta(days=2)
    future = CliRunner().invoke(app, ["run", "--date", tomorrow.isoformat(), "--inbox", str(sample_nights.inbox), "--db", str(database)])
    assert future.exit_code == 1 and f"{tomorrow} is after today" in future.stderr
    settings = tmp_path / "shuno.toml"
    settings.write_text("reader_wait_seconds = 1\n", encoding="utf-8")
    reader = "import sys, pathlib; from flows.database import connect_read_only; connection = connect_read_only(pathlib.Path(sys.argv[1])); print('open', flush=True); sys.stdin.readline()"
    with subprocess.Popen([sys.executable, "-c", reader, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holding:
        assert holding.stdout.readline() == "open\n"
        day = sample_nights.dates[-1] + timedelta(days=1)  # the night after the sample's last
        held = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(sample_nights.inbox), "--db", str(database), "--settings", str(settings)])
        holding.stdin.write("\n")
        holding.stdin.flush()
    assert held.exit_code == 1 and f"another process (pid {holding.pid}) holds it and did not let go within 1 s" in held.stderr
    assert "Traceback" not in held.output


def _arrears(database: Path) -> pl.DataFrame:
    with read_only_database(database) as connection:
        return connection.sql("SELECT * FROM arrears").pl().sort(pl.all())


def _deployment_parameters(name: str) -> dict:
    """The parameters prefect.yaml gives the deployment `name`."""
    found = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    return next(deployment["parameters"] for deployment in found if deployment["name"] == name)


def test_a_deployments_settings_file_and_shuno_run_settings_give_the_same_late_fees(sample_nights, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    # Every tax code 3 months at the lower rate, and another 督促手数料: both paths read them from one file.
    settings = tmp_path / "city.toml"
    settings.write_text("dunning_fee = 250\n[low_rate_months]\n" + "".join(f'"0{code}0" = 3\n' for code in range(1, 8)), encoding="utf-8")
    # Every run rebuilds the derived tables from all the stored inputs (test_settlement: re-runs and
    # out-of-order runs give the same database), so the last night's run decides them: each path runs
    # that night with the file, on a copy of a database the defaults made of the earlier nights.
    before, last, defaults = sample_nights.dates[-2], sample_nights.dates[-1].isoformat(), sample_nights.database_after()
    deployment = sample_nights.copy_after(before, tmp_path / "deployment.duckdb")
    command = sample_nights.copy_after(before, tmp_path / "command.duckdb")
    # The backfill deployment's parameters, run through the flow function itself (no deployment server).
    given = {"start": last, "end": last, "inbox": str(sample_nights.inbox), "database": str(deployment), "settings_file": str(settings)}
    backfill(**backfill.validate_parameters(_deployment_parameters("backfill") | given))
    result = CliRunner().invoke(app, ["run", "--date", last, "--inbox", str(sample_nights.inbox), "--db", str(command), "--settings", str(settings)])
    assert result.exit_code == 0, result.output
    arrears = {database: _arrears(database) for database in (deployment, command, defaults)}
    assert arrears[deployment].height > 100 and arrears[deployment].equals(arrears[command])
    # The defaults (those of the committed shuno.toml, which the sample's nights ran with) give more 延滞金: the
    # same receivables have 本税 unpaid, and one paid late can owe under 1,000 yen of 延滞金 (none) at the lower rate.
    unpaid = {database: set(frame.filter(pl.col("principal_outstanding") > 0)["receivable_id"]) for database, frame in arrears.items()}
    assert unpaid[deployment] == unpaid[defaults]
    assert set(arrears[deployment]["receivable_id"]) <= set(arrears[defaults]["receivable_id"])
    assert arrears[deployment]["late_fee"].sum() < arrears[defaults]["late_fee"].sum()
    # The last run's report shows the file's 督促手数料.
    due = arrears[command]["dunning_due"].sum()
    assert re.search(rf"│\s*{due:,}\s*│\s*250\s*│\s*{due * 250:,}\s*│", result.output), result.output


def test_nothing_prefect_stored_names_a_person(command_run):
    # The command's flow runs, their parameters, states, logs and reports, in the API's SQLite file
    # (the worker's PREFECT_HOME); this test runs last to see what the others stored.
    found = prefect_stored_bytes()
    assert re.search(r"run ([0-9a-f]{32}) of", command_run.result.output).group(1).encode() in found
    assert NAMES.findall(found) == []
