"""The Prefect flows on the sample inbox: nightly per date and backfill give the same database; the run report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest
import yaml
from prefect import flow
from prefect.artifacts import Artifact
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, FlowRunFilterStateName, FlowRunFilterState, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, State
from prefect.client.schemas.sorting import FlowRunSort, LogSort
from prefect.logging.handlers import APILogWorker
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_DATABASE_CONNECTION_URL,
    get_current_settings,
    temporary_settings,
)
from prefect.settings import Settings as PrefectSettings
from typer.testing import CliRunner, Result

import flows.report
from flows.alerts import ALERTED_EVENTS, ALERTED_FLOWS, AUTOMATION_NAME, WEBHOOK_BLOCK_NAME
from flows.cli import PREFECT_DEFAULTS, app
from flows.decide_flow import decide
from flows.lock import acquire_run_lock
from flows.operation import OperationRefused
from flows.sample import write_sample_files
from flows.settlement import RunFailed, RunRefused, RunSummary, run_settlement_date
from flows.refusals import logged_refusals
from flows.nightly import (
    backfill,
    collector_database,
    nightly_all,
    local_prefect_api,
    nightly,
    published_report,
    report_from_database,
    readable_date_files,
    settlement_run,
    settlement_dates,
    yesterday_in_tokyo,
)
from flows.report import DUNNING_TITLE, RunReport
from sample_data.common import inbox_file_name
from sample_data.names import SAMPLE_NAMES
from sample_data.sample_inbox import under_collector
from schemas.inbox import FileKind, InboxName
from schemas.settings import Settings, SettingsError
from schemas.tables import derived_tables
from tests.databases import read_only_database

# One of the longest modules: `make test` starts it first (tests/conftest.py).
pytestmark = pytest.mark.long_running(90)

OUTCOME_TABLES = ["payments", "provisional_payments", "applications", "arrears", "refund_candidates", "offsets", "rejected_records", "receivables"]
ROOT = Path(__file__).resolve().parents[2]
RATES = ROOT / "schemas" / "rates" / "rates.csv"
# The 督促手数料 of the committed shuno.toml, which the runs below read.
DUNNING_FEE = 100
# One pass over megabytes instead of one per name.
NAMES = re.compile("|".join(re.escape(name) for name in SAMPLE_NAMES).encode())


# The tests here test the flows, their tasks, `shuno run` and the local API against Prefect's API,
# served from the test process for the module (tests/conftest.py `prefect_api`) as `shuno run` serves
# it. Other modules call `run_settlement_date` without Prefect (but for one `shuno run` in
# test_atomic_runs, killed in a child process, which serves its own API as the command does). The
# tests here that only read a run's results (the report's tables, the inbox listing, what the
# command printed) read the databases the flows made for the first tests: running the dates again
# without Prefect would cost more than it saves.


@dataclass(frozen=True)
class Runs:
    """The sample inbox, the dates run (the sample's and one with no files), the two databases and the runs' summaries.

    The nightly flow runs every date into nightly_database; the backfill database is a copy of it
    after the first BACKFILL_FROM dates, then the backfill over the rest (a backfill of every date
    would cost as many flow runs again and prove nothing more).
    """

    inbox: Path
    dates: list[date]
    nightly_database: Path
    backfill_database: Path
    summaries: list[RunSummary]
    backfill_summaries: list[RunSummary]


BACKFILL_FROM = 2


@pytest.fixture(scope="module")
def runs(prefect_api, sample_inbox_folder, committed_sample, tmp_path_factory) -> Runs:
    folder, inbox, sample = tmp_path_factory.mktemp("pipeline"), sample_inbox_folder, committed_sample
    # A day after the sample's last, with no files: it still runs and moves as_of.
    dates = settlement_dates(sample.settlement_dates[0], sample.settlement_dates[-1] + timedelta(days=1))
    nightly_database, backfill_database = folder / "nightly.duckdb", folder / "backfill.duckdb"
    summaries = []
    for day in dates:
        if day == dates[BACKFILL_FROM]:
            shutil.copyfile(nightly_database, backfill_database)
        summaries.append(nightly(day, inbox, nightly_database))
    backfill_summaries = backfill(dates[BACKFILL_FROM], dates[-1], inbox, backfill_database)
    return Runs(inbox, dates, nightly_database, backfill_database, summaries, backfill_summaries)


class WebhookReceiver:
    """A webhook on 127.0.0.1 that keeps the JSON bodies posted to it, as the city's receiver would get them."""

    def __init__(self) -> None:
        self.posted: list[dict] = []
        received = self.posted

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *arguments) -> None:
                pass  # the test's output stays quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/shuno"

    def post_for(self, flow_run_name: str, state: str, timeout: float = 60) -> dict:
        """The first post about `flow_run_name` ending in `state`, waited for: Prefect's automations act on events a moment later."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [post for post in self.posted if (post["flow_run"], post["state"]) == (flow_run_name, state)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no post for {flow_run_name} {state} in {timeout} s: {[(post['flow_run'], post['state']) for post in self.posted]}")


@pytest.fixture(scope="module")
def alert_webhook(prefect_api) -> Iterator[WebhookReceiver]:
    """A receiver on 127.0.0.1 and the repository's alert automation applied to the module's Prefect API with its URL, by the command the README gives."""
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, name="webhook", daemon=True)
    thread.start()
    # The API runs Prefect's triggers and actions services (they run in ephemeral servers too).
    result = CliRunner().invoke(app, ["alerts", "apply", "--webhook", receiver.url])
    assert result.exit_code == 0, result.output
    yield receiver
    receiver.server.shutdown()
    thread.join()


def latest_flow_run(name: str, state: str) -> FlowRun:
    """The latest flow run named `name` that ended in the state named `state`."""
    with get_client(sync_client=True) as client:
        flow_run_filter = FlowRunFilter(name=FlowRunFilterName(any_=[name]), state=FlowRunFilterState(name=FlowRunFilterStateName(any_=[state])))
        return client.read_flow_runs(flow_run_filter=flow_run_filter, sort=FlowRunSort.START_TIME_DESC, limit=1)[0]


def flow_run_log(flow_run: FlowRun) -> list[str]:
    """The messages of the flow run's log (its tasks' included), oldest first."""
    APILogWorker.drain_all()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), sort=LogSort.TIMESTAMP_ASC)
    return [log.message for log in logs]


def _dump(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {table: connection.sql(f'SELECT * FROM "{table}"').pl().sort(pl.all()) for table in OUTCOME_TABLES}


def test_nightly_for_each_date_and_backfill_over_the_range_give_the_same_database(runs):
    expected, found = _dump(runs.nightly_database), _dump(runs.backfill_database)
    assert expected["payments"].height > 100 and expected["applications"].height > 100
    assert [table for table in OUTCOME_TABLES if not found[table].equals(expected[table])] == []
    with read_only_database(runs.backfill_database) as connection:
        completed = connection.sql("SELECT settlement_date FROM runs WHERE status = 'completed' ORDER BY started_at").fetchall()
    assert [row[0] for row in completed] == runs.dates
    assert [summary.settlement_date for summary in runs.backfill_summaries] == runs.dates[BACKFILL_FROM:]
    with read_only_database(runs.backfill_database) as connection:
        assert connection.sql("SELECT DISTINCT command FROM audit_log").fetchall() == [("flow nightly",)]
    assert runs.backfill_summaries[-1].files == []  # the day after the sample's: no file, none unrecognised


def _markdown_section(markdown: str, title: str) -> list[list[str]]:
    section = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def test_each_run_publishes_its_report_with_a_row_per_file(runs):
    last_with_files = runs.backfill_summaries[-2]  # the backfill ran it last: its report is the one under the date's key
    artifact = Artifact.get(f"run-report-{last_with_files.settlement_date.isoformat()}")
    assert artifact is not None and artifact.type == "markdown"
    assert last_with_files.run_id in artifact.data
    with read_only_database(runs.backfill_database) as connection:
        ingested = connection.sql(
            "SELECT file_name, coalesce(kind, ''), record_count, rejected_count, status FROM ingested_files WHERE settlement_date = ?",
            params=[last_with_files.settlement_date],
        ).fetchall()
    rows = _markdown_section(artifact.data, "files")
    published = sorted((row[0], row[1], int(row[2].replace(",", "")), int(row[4].replace(",", "")), row[7].split(" ")[0]) for row in rows)
    assert published == sorted(ingested)
    receipts = _markdown_section(artifact.data, "収納日計表: receipts first seen on " + last_with_files.settlement_date.isoformat() + " by tax code and channel")
    assert receipts[-1][0] == "total" and int(receipts[-1][2].replace(",", "")) > 0


def test_no_report_names_a_person(runs):
    for day in runs.dates:
        markdown = Artifact.get(f"run-report-{day.isoformat()}").data
        assert NAMES.findall(markdown.encode()) == []


@flow
def publish_in_a_flow(report: RunReport) -> None:
    published_report.fn(report)  # artifacts belong to a flow run


def test_the_report_is_printed_and_names_no_one(runs, capsys):
    report = report_from_database.fn(runs.backfill_database, runs.backfill_summaries[-2], DUNNING_FEE)
    publish_in_a_flow(report)
    printed = capsys.readouterr().out
    assert report.heading in printed and "収納日計表" in printed and report.settlement_date.strftime("%Y%m%d") in printed
    assert NAMES.findall(printed.encode()) == []


def test_the_report_compares_balances_with_the_previous_completed_run(runs):
    report = report_from_database.fn(runs.nightly_database, runs.summaries[1], DUNNING_FEE)
    balances = {table.title: table for table in report.tables}["arrears and refund candidates, and their change since the previous completed run"]
    assert balances.columns[2] == f"previous run ({runs.dates[0]})"
    now, before, change = (int(cell.replace(",", "")) for cell in balances.rows[0][1:])
    assert now - before == change
    first = report_from_database.fn(runs.nightly_database, runs.summaries[0], DUNNING_FEE)
    assert {table.title: table for table in first.tables}[balances.title].columns[2] == "previous run (none)"


def test_the_days_receipts_add_up_to_the_payments_first_seen_that_day(runs):
    day = runs.dates[1]
    report = report_from_database.fn(runs.nightly_database, runs.summaries[1], DUNNING_FEE)
    receipts = next(table for table in report.tables if table.title.startswith("収納日計表"))
    with read_only_database(runs.nightly_database) as connection:
        expected = connection.sql(
            "SELECT count(*), sum(paid_total) FROM payments WHERE first_seen_on = ? AND status IN ('applied', 'pending', 'held')", params=[day]
        ).fetchall()[0]
    assert receipts.rows[-1][2:] == (f"{expected[0]:,}", f"{expected[1]:,}")


def test_readable_date_files_lists_the_dates_files_and_leaves_a_missing_inbox_to_the_run(runs, tmp_path):
    names = readable_date_files.fn(runs.inbox, runs.dates[0])
    assert names and all(runs.dates[0].strftime("%Y%m%d") in name for name in names)
    assert readable_date_files.fn(runs.inbox, runs.dates[-1]) == []
    assert readable_date_files.fn(tmp_path / "none", runs.dates[0]) == []


def test_a_share_that_fails_once_is_read_again_but_a_missing_file_is_not(runs, monkeypatch):
    attempts, real_open = [], Path.open

    def open_failing_first(error: OSError):
        def opened(path, *args, **kwargs):
            attempts.append(path.name)
            if len(attempts) == 1:
                raise error
            return real_open(path, *args, **kwargs)

        return opened

    quick = readable_date_files.with_options(retry_delay_seconds=0)

    @flow
    def listing() -> list[str]:
        return quick(runs.inbox, runs.dates[0])

    monkeypatch.setattr(Path, "open", open_failing_first(OSError(5, "Input/output error")))
    assert listing()
    assert attempts.count(attempts[0]) == 2
    attempts.clear()
    monkeypatch.setattr(Path, "open", open_failing_first(FileNotFoundError(2, "No such file")))
    with pytest.raises(FileNotFoundError):
        listing()
    assert len(attempts) == 1


def test_a_failed_run_raises_its_one_line_reason_without_the_cause(runs, tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("".join(line for line in RATES.read_text().splitlines(keepends=True) if not line.startswith("2026")))
    database = tmp_path / "shuno.duckdb"
    with pytest.raises(RunFailed, match="failed and changed nothing") as failed:
        settlement_run(runs.dates[0], runs.inbox, database, Settings(rates_path=rates), "flow nightly")
    # Prefect logs a failed task's traceback with its causes; a cause may quote record values.
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    settings = tmp_path / "shuno.toml"
    settings.write_text(f'rates_path = "{rates.name}"\n', encoding="utf-8")
    with pytest.raises(RunFailed, match="failed and changed nothing"):
        nightly(runs.dates[0], runs.inbox, database, settings)


def test_a_night_that_fails_for_any_cause_logs_one_line_and_no_traceback_and_the_webhook_hears_it(runs, alert_webhook, tmp_path):
    # A rates file that is not there: before this change, three tracebacks and other words.
    settings, day = tmp_path / "shuno.toml", runs.dates[0]
    settings.write_text('rates_path = "missing.csv"\n', encoding="utf-8")
    with pytest.raises(RunFailed) as failed:
        nightly(day, runs.inbox, tmp_path / "shuno.duckdb", settings)
    line = f"run of {day} failed and changed nothing: RatesFileError: rates table {tmp_path / 'missing.csv'} cannot be read (FileNotFoundError)"
    assert str(failed.value) == line
    flow_run = latest_flow_run(f"nightly-{day}", "Failed")
    assert flow_run.state.message == line
    logged = flow_run_log(flow_run)
    assert [message for message in logged if "changed nothing" in message] == [f"Finished in state Failed({line!r})"]
    assert not [message for message in logged if "Traceback" in message]
    post = alert_webhook.post_for(f"nightly-{day}", "Failed")
    assert post["message"] == line and post["text"] == f"shuno: nightly-{day} ended Failed: {line}"


# The gap in the committed sample's delivery numbers (SPEC §7), warned every night after its last date.
MISSING_IN_SAMPLE = "NOFU_NYUKIN for 2026-05-13: delivery 002 missing (003 rejected)"


@pytest.fixture(scope="module")
def warned_inbox(runs, tmp_path_factory) -> Path:
    """An inbox whose only entry for the sample's day after its last is a folder named like a 管理 file: unreadable, a warning."""
    inbox = tmp_path_factory.mktemp("warned") / "inbox"
    (inbox / f"KANRI_132071_{runs.dates[-1]:%Y%m%d}_001.dat").mkdir(parents=True)
    return inbox


def test_a_warned_night_ends_warned_exits_0_logs_its_summary_and_the_webhook_hears_it(runs, alert_webhook, warned_inbox, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    day, database = runs.dates[-1], shutil.copyfile(runs.nightly_database, tmp_path / "shuno.duckdb")
    result = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(warned_inbox), "--db", str(database)])
    assert result.exit_code == 0, result.output
    warning = f"ATTENTION: KANRI_132071_{day:%Y%m%d}_001.dat unreadable: a folder, not a file"
    # SPEC §7: the sample's gap (delivery 002 of the last date's 入金日 file) and this day's payment files, which never came, warn first.
    missing = [f"ATTENTION: {MISSING_IN_SAMPLE}", f"ATTENTION: no NOFU_NOFUBI for {day}", f"ATTENTION: no NOFU_NYUKIN for {day}"]
    flow_run = latest_flow_run(f"nightly-{day}", "Warned")
    assert (flow_run.state.type.value, flow_run.state.message) == ("COMPLETED", f"run of {day} completed with 4 warnings: " + "; ".join([*missing, warning]))
    logged = flow_run_log(flow_run)
    assert warning in logged and "files: 1 unreadable" in logged
    with read_only_database(database) as connection:
        receivables, late_fee = connection.sql("SELECT count(*), sum(late_fee) FROM arrears").fetchall()[0]
    assert any(line.startswith(f"arrears: receivables {receivables:,}, ") and f"late fee yen {late_fee:,}" in line for line in logged), logged
    post = alert_webhook.post_for(f"nightly-{day}", "Warned")
    assert post["message"] == flow_run.state.message
    assert_nothing_personal("\n".join(logged) + json.dumps(post, ensure_ascii=False), *personal_strings(runs.backfill_database))


def test_a_backfill_is_named_for_its_range_and_ends_warned_when_a_night_did(runs, alert_webhook, warned_inbox, tmp_path):
    day, database = runs.dates[-1], shutil.copyfile(runs.nightly_database, tmp_path / "shuno.duckdb")
    state = backfill(day, day, warned_inbox, database, return_state=True)
    assert (state.type.value, state.name, state.message) == ("COMPLETED", "Warned", f"backfill of {day} to {day} completed; nights with warnings: {day} (4 warnings)")
    assert [summary.settlement_date for summary in state.result()] == [day]
    assert latest_flow_run(f"backfill-{day}-{day}", "Warned").state.message == state.message
    alert_webhook.post_for(f"backfill-{day}-{day}", "Warned")


def test_alerts_apply_declares_one_automation_for_failed_crashed_and_warned_nights_and_replaces_it_when_applied_again(alert_webhook):
    again = CliRunner().invoke(app, ["alerts", "apply", "--webhook", alert_webhook.url])
    assert again.exit_code == 0, again.output
    with get_client(sync_client=True) as client:
        [automation] = client.read_automations_by_name(AUTOMATION_NAME)
    trigger, [action] = automation.trigger, automation.actions
    assert trigger.expect == ALERTED_EVENTS == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.Warned"}
    assert (trigger.posture.value, trigger.threshold) == ("Reactive", 1)
    assert trigger.match_related.model_dump() == {"prefect.resource.role": "flow", "prefect.resource.name": ALERTED_FLOWS}
    assert action.type == "call-webhook" and Webhook.load(WEBHOOK_BLOCK_NAME).url.get_secret_value() == alert_webhook.url
    refused = CliRunner().invoke(app, ["alerts", "apply", "--webhook", "hooks.example.org/shuno"])
    assert refused.exit_code == 2 and "not an http(s) URL" in refused.output
    # Without a server the automation would go to a temporary API and vanish with it.
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        serverless = CliRunner().invoke(app, ["alerts", "apply", "--webhook", alert_webhook.url])
    assert serverless.exit_code == 2 and "PREFECT_API_URL is not set" in serverless.output


def test_the_published_report_shows_what_a_dunning_letter_to_each_receivable_due_one_would_add(runs):
    # The runs read the committed shuno.toml: its 督促手数料 of the ordinance.
    artifact = Artifact.get(f"run-report-{runs.dates[-1].isoformat()}")
    with read_only_database(runs.backfill_database) as connection:
        due = connection.sql("SELECT count(*) FROM arrears WHERE dunning_due").fetchall()[0][0]
    assert due > 0
    assert _markdown_section(artifact.data, DUNNING_TITLE) == [[f"{due:,}", f"{DUNNING_FEE:,}", f"{due * DUNNING_FEE:,}"]]


def _deployment_parameters(name: str) -> dict:
    """The parameters prefect.yaml gives the deployment `name`."""
    found = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    return next(deployment["parameters"] for deployment in found if deployment["name"] == name)


def test_a_deployments_settings_file_and_shuno_run_settings_give_the_same_late_fees(runs, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    # Every tax code 3 months at the lower rate, and another 督促手数料: both paths read them from one file.
    settings = tmp_path / "city.toml"
    settings.write_text("dunning_fee = 250\n[low_rate_months]\n" + "".join(f'"0{code}0" = 3\n' for code in range(1, 8)), encoding="utf-8")
    # Every run rebuilds the derived tables from all the stored inputs (test_settlement: re-runs and
    # out-of-order runs give the same database), so the last night's run decides them: each path runs
    # that night with the file, on a copy of a database the defaults made of the earlier nights.
    deployment = shutil.copyfile(runs.nightly_database, tmp_path / "deployment.duckdb")
    command = shutil.copyfile(runs.backfill_database, tmp_path / "command.duckdb")
    last = runs.dates[-1].isoformat()
    # The backfill deployment's parameters, run through the flow function itself (no deployment server).
    given = {"start": last, "end": last, "inbox": str(runs.inbox), "database": str(deployment), "settings_file": str(settings)}
    backfill(**backfill.validate_parameters(_deployment_parameters("backfill") | given))
    result = CliRunner().invoke(app, ["run", "--date", last, "--inbox", str(runs.inbox), "--db", str(command), "--settings", str(settings)])
    assert result.exit_code == 0, result.output
    arrears = {database: _dump(database)["arrears"] for database in (deployment, command, runs.backfill_database)}
    assert arrears[deployment].height > 100 and arrears[deployment].equals(arrears[command])
    # The defaults (the committed shuno.toml, which runs.backfill_database read) give more 延滞金: the
    # same receivables have 本税 unpaid, and one paid late can owe under 1,000 yen of 延滞金 (none) at the lower rate.
    unpaid = {database: set(frame.filter(pl.col("principal_outstanding") > 0)["receivable_id"]) for database, frame in arrears.items()}
    assert unpaid[deployment] == unpaid[runs.backfill_database]
    assert set(arrears[deployment]["receivable_id"]) <= set(arrears[runs.backfill_database]["receivable_id"])
    assert arrears[deployment]["late_fee"].sum() < arrears[runs.backfill_database]["late_fee"].sum()
    # The last run's report shows the file's 督促手数料.
    due = arrears[command]["dunning_due"].sum()
    assert re.search(rf"│\s*{due:,}\s*│\s*250\s*│\s*{due * 250:,}\s*│", result.output), result.output


def test_a_wrong_settings_file_is_refused_before_any_run_starts(runs, tmp_path):
    settings, database = tmp_path / "shuno.toml", tmp_path / "shuno.duckdb"
    settings.write_text('offset_order = "newest_due_first"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=f"settings file {re.escape(str(settings))}: offset_order: "):
        nightly(runs.dates[0], runs.inbox, database, settings)
    with pytest.raises(SettingsError, match="offset_order"):
        backfill(runs.dates[0], runs.dates[1], runs.inbox, database, settings)
    assert not database.exists()


def test_backfill_refuses_an_end_before_its_start(runs):
    with pytest.raises(ValueError, match="before its start"):
        backfill(runs.dates[1], runs.dates[0], runs.inbox, runs.backfill_database)


def test_yesterday_is_taken_in_tokyo():
    # 2026-05-12 16:30 UTC is 01:30 on the 13th in Tokyo: the nightly run then processes the 12th.
    assert yesterday_in_tokyo(datetime(2026, 5, 12, 16, 30, tzinfo=UTC)) == date(2026, 5, 12)
    assert yesterday_in_tokyo(datetime(2026, 5, 12, 14, 30, tzinfo=UTC)) == date(2026, 5, 11)


def test_a_nightly_run_without_a_date_processes_yesterday_in_tokyo(runs, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(runs.nightly_database, database)
    before = yesterday_in_tokyo()
    # Yesterday is months after the sample's nights: the date guard wants that confirmed.
    summary = nightly(inbox=runs.inbox, database=database, confirm_gap=True)
    assert summary.settlement_date in {before, yesterday_in_tokyo()}  # the run may straddle midnight


@dataclass(frozen=True)
class CommandRun:
    """`shuno run` of the sample's last night alone into a new database: what it printed, the database, and the report it published."""

    settlement_date: date
    result: Result
    database: Path
    report: str | None


@pytest.fixture(scope="module")
def command_run(runs, tmp_path_factory) -> CommandRun:
    day, database = runs.dates[-2], tmp_path_factory.mktemp("command") / "shuno.duckdb"  # the last date with files
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in PREFECT_DEFAULTS.items():
            monkeypatch.setenv(name, value)  # what the command would set, undone after the run
        result = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(runs.inbox), "--db", str(database)])
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


def test_the_run_command_prints_a_summary_and_refuses_bad_input(runs, command_run, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    database = tmp_path / "shuno.duckdb"
    runner = CliRunner()
    result, day = command_run.result, command_run.settlement_date
    assert result.exit_code == 0, result.output
    assert f"of {day} (as of {day})" in result.output
    snapshot = f"CHOTEI_132071_{day:%Y%m%d}_001.csv"
    assert any(snapshot in line and "loaded" in line for line in result.output.splitlines())
    bad_date = runner.invoke(app, ["run", "--date", "2026-02-30", "--inbox", str(runs.inbox), "--db", str(database)])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    missing = runner.invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(tmp_path / "none"), "--db", str(database)])
    assert missing.exit_code == 1 and "is not a folder" in missing.output
    assert "Traceback" not in missing.output + bad_date.output


def personal_strings(database: Path) -> tuple[set[str], set[str]]:
    """Every 納付番号 and every 確認番号 the database holds, in its snapshots and records."""
    sources = ("receivable_snapshots", "payment_records", "provisional_records", "management_records")
    with read_only_database(database) as connection:
        numbers = pl.concat([connection.sql(f'SELECT payment_number, confirmation_number FROM "{source}"').pl() for source in sources])
    payment_numbers = set(numbers["payment_number"].drop_nulls().str.strip_chars()) - {""}
    confirmation_numbers = set(numbers["confirmation_number"].drop_nulls().str.strip_chars()) - {""}
    return payment_numbers, confirmation_numbers


def assert_nothing_personal(text: str, payment_numbers: set[str], confirmation_numbers: set[str]) -> None:
    assert [name for name in SAMPLE_NAMES if name in text] == []
    # A run id is 32 random hex digits: it could hold any digits, so it is left out.
    text = re.sub(r"\b[0-9a-f]{32}\b", "<run>", text)
    assert [number for number in payment_numbers if number in text] == []
    # A 確認番号 is six digits: compared with whole numbers only, not with parts of longer ones.
    assert set(re.findall(r"\d+", text)) & confirmation_numbers == set()


def test_the_run_summary_and_the_check_report_name_no_one(runs, command_run):
    # Every number of the sample: the backfill's database holds every night's files.
    payment_numbers, confirmation_numbers = personal_strings(runs.backfill_database)
    assert len(payment_numbers) > 300 and len(confirmation_numbers) > 300
    run = command_run.result
    assert run.exit_code == 0, run.output
    # The run report's files table: file, kind, records, accepted, rejected, … (eight columns).
    files_rows = [cells for cells in (line.split("│") for line in run.output.splitlines()) if len(cells) == 10]
    assert "3" in [cells[5].strip() for cells in files_rows]
    check = CliRunner().invoke(app, ["check", *sorted(str(path) for path in runs.inbox.iterdir())])
    assert check.exit_code == 1
    assert "has rejected records" in check.output and "rejected record" in check.output
    with read_only_database(runs.backfill_database) as connection:
        summaries = "\n".join(summary for (summary,) in connection.sql("SELECT summary FROM runs").fetchall())
    for text in (run.output, check.output, summaries):
        assert_nothing_personal(text, payment_numbers, confirmation_numbers)


def test_a_run_whose_report_cannot_be_read_back_has_committed_and_exits_0_with_a_warning(runs, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)

    def missing_table(connection, settlement_date):
        raise duckdb.CatalogException("Table with name payments does not exist!")

    monkeypatch.setattr(flows.report, "receipts_table", missing_table)
    database = tmp_path / "shuno.duckdb"
    result = CliRunner().invoke(app, ["run", "--date", runs.dates[0].isoformat(), "--inbox", str(runs.inbox), "--db", str(database)])
    assert result.exit_code == 0, result.output
    with read_only_database(database) as connection:
        [(run_id, status)] = connection.sql("SELECT run_id, status FROM runs").fetchall()
        audit = connection.sql("SELECT outcome, run_id FROM audit_log").fetchall()
        payments = connection.sql("SELECT count(*) FROM payments").fetchall()[0][0]
    assert (status, audit, payments > 100) == ("completed", [("completed", run_id)], True)
    assert result.stderr == (
        f"shuno: warning: run {run_id} of {runs.dates[0]} completed and is committed to {database}, but its report could not be shown "
        "(CatalogException (details withheld: they may quote record values)); the run need not be repeated: its outcome is in that "
        f"database, SELECT status, summary FROM runs WHERE run_id = '{run_id}', and its audit_log entry\n"
    )
    assert "収納日計表" not in result.stdout


def test_a_flow_run_refused_by_the_run_lock_is_logged_for_the_next_run(runs, tmp_path):
    database = tmp_path / "shuno.duckdb"
    with acquire_run_lock(database), pytest.raises(RunRefused, match="refused and changed nothing"):
        nightly(runs.dates[0], runs.inbox, database)
    [logged] = logged_refusals(database)[0]
    assert (logged.command, logged.outcome) == ("flow nightly", "refused")
    assert not database.exists()


def test_prefect_keeps_what_the_tests_record_in_the_sessions_temporary_home(prefect_home):
    current = get_current_settings()
    assert current.home == prefect_home and prefect_home != Path("~/.prefect").expanduser()
    assert (current.results.local_storage_path, current.server.memo_store_path) == (prefect_home / "storage", prefect_home / "memo_store.toml")
    # What `shuno run`'s own API, or a child process, would use: a fresh read of the environment.
    fresh = PrefectSettings()
    assert fresh.server.database.connection_url.get_secret_value() == f"sqlite+aiosqlite:///{prefect_home}/prefect.db"
    assert (fresh.api.url, fresh.server.analytics_enabled) == (None, False)


def test_the_run_command_refuses_a_prefect_api_that_does_not_answer_in_one_line(runs, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    arguments = ["run", "--date", runs.dates[0].isoformat(), "--inbox", str(runs.inbox), "--db", str(tmp_path / "shuno.duckdb")]
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert result.output == "shuno run: the Prefect API at http://127.0.0.1:9/api does not answer (ConnectError); unset PREFECT_API_URL to run without a server\n"
    assert not (tmp_path / "shuno.duckdb").exists()


def test_without_a_prefect_api_the_flow_runs_against_one_served_from_this_process(runs, tmp_path):
    with temporary_settings(updates={PREFECT_SERVER_ANALYTICS_ENABLED: False}, restore_defaults={PREFECT_API_URL}):
        assert PREFECT_API_URL.value() is None
        with local_prefect_api():
            assert PREFECT_API_URL.value().startswith("http://127.0.0.1:")
            summary = nightly(runs.dates[0], runs.inbox, tmp_path / "shuno.duckdb")
            assert Artifact.get(f"run-report-{runs.dates[0].isoformat()}").description == f"run {summary.run_id} of {runs.dates[0]} (as of {runs.dates[0]})"
        assert PREFECT_API_URL.value() is None


def test_nothing_prefect_stored_names_a_person(runs):
    # Flow and task runs, their parameters, states, logs (a failed run's traceback too) and artifacts
    # all live in the API's SQLite file (the session's PREFECT_HOME); this test runs last to see what the others stored.
    stored = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
    found = b"".join(path.read_bytes() for path in stored.parent.glob(stored.name + "*"))
    assert runs.summaries[0].run_id.encode() in found
    assert NAMES.findall(found) == []


def test_yesterday_in_tokyo_from_prefects_own_datetime_after_midnight_in_tokyo():
    from prefect.types._datetime import DateTime

    # 15:03 UTC on 11/26 is 00:03 on 11/27 in Tokyo: the night to process is 11/26.
    scheduled = DateTime(2026, 11, 26, 15, 3, tzinfo=ZoneInfo("UTC"))
    assert yesterday_in_tokyo(scheduled) == date(2026, 11, 26)
    assert yesterday_in_tokyo(datetime(2026, 11, 26, 14, 59, tzinfo=ZoneInfo("UTC"))) == date(2026, 11, 25)


def test_the_decide_flow_stores_a_decision_from_its_typed_parameters_and_is_refused_while_a_run_holds_the_lock(runs, tmp_path):
    database = tmp_path / "shuno.duckdb"
    database.write_bytes(runs.nightly_database.read_bytes())
    with read_only_database(database) as connection:
        receivable_id = connection.execute("SELECT receivable_id FROM arrears WHERE late_fee > 0 ORDER BY 1 LIMIT 1").fetchall()[0][0]
    taken = decide(kind="exempt", reason_code="STOP", receivable_id=receivable_id, exemption_kind="suspension", start_on=date(2020, 1, 1), database=database)
    assert taken.decision_ids == ["D000001"]
    with read_only_database(database) as connection:
        charged = connection.execute("SELECT late_fee FROM arrears WHERE receivable_id = ?", [receivable_id]).fetchall()
        logged = connection.execute("SELECT command, outcome FROM audit_log WHERE command = 'deployment decide'").fetchall()
    # Exempted on every day: no 延滞金 is owed any more (the receivable leaves arrears unless 本税 is unpaid).
    assert charged in ([], [(0,)]) and logged == [("deployment decide", "completed")]
    with acquire_run_lock(database), pytest.raises(OperationRefused, match="another shuno run holds"):
        decide(kind="revoke", reason_code="UNDO", decided_on=date(2026, 5, 14), decision_id="D000001", database=database)
    assert [(entry.command, entry.outcome) for entry in logged_refusals(database)[0]] == [("deployment decide", "refused")]


def test_shuno_run_of_a_snapshot_cut_in_half_ends_warned_with_the_snapshot_held(runs, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    day = runs.dates[-2]  # the sample's last night with files
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in runs.inbox.glob(f"*_{day:%Y%m%d}_*"):
        shutil.copyfile(path, inbox / path.name)
    snapshot = inbox / f"CHOTEI_132071_{day:%Y%m%d}_001.csv"
    lines = snapshot.read_text(encoding="utf-8").splitlines()
    snapshot.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    database = shutil.copyfile(runs.nightly_database, tmp_path / "shuno.duckdb")
    result = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(inbox), "--db", str(database)])
    assert result.exit_code == 0, result.output
    assert f"ATTENTION: {snapshot.name} held: drops" in result.output
    assert "held" in latest_flow_run(f"nightly-{day}", "Warned").state.message


def test_shuno_run_refuses_a_date_after_today_at_once_and_waits_then_names_a_reader(runs, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    database = shutil.copyfile(runs.nightly_database, tmp_path / "shuno.duckdb")
    tomorrow = yesterday_in_tokyo() + timedelta(days=2)
    future = CliRunner().invoke(app, ["run", "--date", tomorrow.isoformat(), "--inbox", str(runs.inbox), "--db", str(database)])
    assert future.exit_code == 1 and f"{tomorrow} is after today" in future.stderr
    settings = tmp_path / "shuno.toml"
    settings.write_text("reader_wait_seconds = 1\n", encoding="utf-8")
    reader = "import sys, pathlib; from flows.database import connect_read_only; connection = connect_read_only(pathlib.Path(sys.argv[1])); print('open', flush=True); sys.stdin.readline()"
    with subprocess.Popen([sys.executable, "-c", reader, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holding:
        assert holding.stdout.readline() == "open\n"
        day = runs.dates[-1]
        held = CliRunner().invoke(app, ["run", "--date", day.isoformat(), "--inbox", str(runs.inbox), "--db", str(database), "--settings", str(settings)])
        holding.stdin.write("\n")
        holding.stdin.flush()
    assert held.exit_code == 1 and f"another process (pid {holding.pid}) holds it and did not let go within 1 s" in held.stderr
    assert "Traceback" not in held.output


# nightly-all (issue 15): the committed sample's first date under two collector codes in one inbox,
# beside two collectors that fail at once: one whose own settings file is wrong, one whose code has
# a wrong check digit. One fan-out proves both that each collector gets the tables of a run of its
# files alone and that a failure stops no other (a third failing one, its database held by another
# run, would cost one more subflow to prove the same: any failed night is a Failed state).
THE_CITY, OTHER_COLLECTOR = 132071, 132012
BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR = 132039, 132040


@dataclass(frozen=True)
class SharedCentre:
    """A shared centre's inbox, the root of its collectors' folders, the date run, the nightly-all state, and an inbox of the other collector's files alone."""

    inbox: Path
    root: Path
    day: date
    state: State
    other_inbox: Path


@pytest.fixture(scope="module")
def shared_centre(prefect_api, committed_sample, sample_inbox_folder, tmp_path_factory) -> SharedCentre:
    folder = tmp_path_factory.mktemp("shared_centre")
    inbox, root, other_inbox, day = folder / "inbox", folder / "root", folder / "other", committed_sample.settlement_dates[0]
    write_sample_files(under_collector(committed_sample, OTHER_COLLECTOR), other_inbox)
    inbox.mkdir()
    for path in [*sample_inbox_folder.iterdir(), *other_inbox.iterdir()]:
        shutil.copyfile(path, inbox / path.name)
    snapshot = inbox / inbox_file_name(FileKind.RECEIVABLES, day)
    for collector in (BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR):
        shutil.copyfile(snapshot, inbox / InboxName(FileKind.RECEIVABLES, collector, day, 1).file_name())
    (root / str(BAD_SETTINGS_COLLECTOR)).mkdir(parents=True)
    (root / str(BAD_SETTINGS_COLLECTOR) / "shuno.toml").write_text("dunning_fee = -1\n", encoding="utf-8")
    state = nightly_all(day, inbox, root, ROOT / "shuno.toml", return_state=True)
    return SharedCentre(inbox, root, day, state, other_inbox)


def _derived(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {table.name: connection.sql(f'SELECT * FROM "{table.name}"').pl().sort(pl.all()) for table in derived_tables()}


def test_nightly_all_gives_each_collector_the_tables_of_a_run_of_its_files_alone(shared_centre, sample_nights, tmp_path):
    day, root = shared_centre.day, shared_centre.root
    the_city, alone = _derived(collector_database(root, THE_CITY)), _derived(sample_nights.database_after(day))
    assert the_city["payments"].height > 50
    assert [name for name, table in the_city.items() if not table.equals(alone[name])] == []
    run_settlement_date(day, shared_centre.other_inbox, tmp_path / "alone.duckdb")
    other, other_alone = _derived(collector_database(root, OTHER_COLLECTOR)), _derived(tmp_path / "alone.duckdb")
    assert [name for name, table in other.items() if not table.equals(other_alone[name])] == []
    # The same city: its tables but for the collector its 仮登録 records carry.
    carried = ["collector_code", "collector_number"]
    assert set(other["provisional_payments"]["collector_code"]) == {OTHER_COLLECTOR}
    other["provisional_payments"], the_city["provisional_payments"] = (frame["provisional_payments"].drop(carried).sort(pl.all()) for frame in (other, the_city))
    assert [name for name, table in other.items() if not table.equals(the_city[name])] == []
    # Each collector's database has its own analyst copy and workbook beside it.
    for collector in (THE_CITY, OTHER_COLLECTOR):
        folder = collector_database(root, collector).parent
        assert (folder / "analyst.duckdb").is_file() and list((folder / "reports").glob("*.xlsx"))


def test_one_collectors_failure_stops_no_other_and_the_nightly_all_run_names_each_failed_one(shared_centre):
    state, day, root = shared_centre.state, shared_centre.day, shared_centre.root
    assert state.is_failed() and state.message.startswith(f"nightly-all of {day}: 2 of 4 collectors failed: ")
    nights = {night.collector: night for night in state.result(raise_on_failure=False).nights}
    outcomes = {"done": [THE_CITY, OTHER_COLLECTOR], "failed": [BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR]}
    assert {collector: night.outcome for collector, night in nights.items()} == {collector: outcome for outcome, codes in outcomes.items() for collector in codes}
    reasons = {
        BAD_SETTINGS_COLLECTOR: f"run of {day} failed and changed nothing: settings file {root / str(BAD_SETTINGS_COLLECTOR) / 'shuno.toml'}: dunning_fee",
        NOT_A_COLLECTOR: f"{NOT_A_COLLECTOR} is not a 収納団体コード (its check digit is wrong)",
    }
    assert all(f"{collector}: {reason}" in state.message and nights[collector].message.startswith(reason) for collector, reason in reasons.items())
    logged = flow_run_log(latest_flow_run(f"nightly-all-{day}", "Failed"))
    assert {f"{THE_CITY}: done", f"{OTHER_COLLECTOR}: done"} <= set(logged)
    assert all(any(line.startswith(f"{collector}: failed: {reason}") for line in logged) for collector, reason in reasons.items())
    assert not collector_database(root, NOT_A_COLLECTOR).parent.exists()  # no subflow, no folder for a code that is none


def test_a_collectors_report_lists_its_own_files_and_counts_the_other_collectors_in_one_line(shared_centre):
    day = shared_centre.day
    artifact = Artifact.get(f"run-report-{THE_CITY}-{day.isoformat()}")
    others = f"{OTHER_COLLECTOR}: 8, {BAD_SETTINGS_COLLECTOR}: 1, {NOT_A_COLLECTOR}: 1"
    assert f"- collector {THE_CITY}; files of other collectors: 10 ({others}), left for their own runs" in artifact.data
    listed = [row[0] for row in _markdown_section(artifact.data, "files")]
    assert len(listed) == 8 and all(f"_{THE_CITY}_" in name for name in listed)
    with read_only_database(collector_database(shared_centre.root, THE_CITY)) as connection:
        assert connection.sql("SELECT DISTINCT status FROM ingested_files").fetchall() == [("loaded",)]
