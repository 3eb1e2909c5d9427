"""Nights that fail, warn or are refused: the one line they raise and log, and what the alert webhook hears of them."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from flows.alerts import ALERTED_EVENTS, ALERTED_FLOWS, AUTOMATION_NAME, WEBHOOK_BLOCK_NAME
from flows.cli import PREFECT_DEFAULTS, app
from flows.decide_flow import decide
from flows.lock import acquire_run_lock
from flows.nightly import backfill, nightly, settlement_run
from flows.operation import OperationRefused
from flows.refusals import logged_refusals
from flows.settlement import RunFailed, RunRefused
from schemas.settings import Settings, SettingsError
from tests.databases import read_only_database
from tests.flows.flow_records import NAMES, assert_nothing_personal, flow_run_log, latest_flow_run, personal_strings, prefect_stored_bytes

# Alone it took 27 s of CPU (66 s wall on 2 busy cores), 15 of them migrating Prefect's database and
# running the sample's nights, which `make test` does once for every module: `make test` starts it early.
# Every test runs its flows against the module's Prefect API, whose automations post the alerts.
pytestmark = [pytest.mark.long_running(15), pytest.mark.usefixtures("prefect_api")]

ROOT = Path(__file__).resolve().parents[2]
RATES = ROOT / "schemas" / "rates" / "rates.csv"


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


def test_a_failed_run_raises_its_one_line_reason_without_the_cause(sample_nights, tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("".join(line for line in RATES.read_text().splitlines(keepends=True) if not line.startswith("2026")))
    database = tmp_path / "shuno.duckdb"
    with pytest.raises(RunFailed, match="failed and changed nothing") as failed:
        settlement_run(sample_nights.dates[0], sample_nights.inbox, database, Settings(rates_path=rates), "flow nightly")
    # Prefect logs a failed task's traceback with its causes; a cause may quote record values.
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    settings = tmp_path / "shuno.toml"
    settings.write_text(f'rates_path = "{rates.name}"\n', encoding="utf-8")
    with pytest.raises(RunFailed, match="failed and changed nothing"):
        nightly(sample_nights.dates[0], sample_nights.inbox, database, settings)


def test_a_night_that_fails_for_any_cause_logs_one_line_and_no_traceback_and_the_webhook_hears_it(sample_nights, alert_webhook, tmp_path):
    # A rates file that is not there: before this change, three tracebacks and other words.
    settings, day = tmp_path / "shuno.toml", sample_nights.dates[0]
    settings.write_text('rates_path = "missing.csv"\n', encoding="utf-8")
    with pytest.raises(RunFailed) as failed:
        nightly(day, sample_nights.inbox, tmp_path / "shuno.duckdb", settings)
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


def day_after(sample_nights) -> date:
    """The day after the sample's last night: no file of the sample's is for it."""
    return sample_nights.dates[-1] + timedelta(days=1)


@pytest.fixture(scope="module")
def warned_inbox(sample_nights, tmp_path_factory) -> Path:
    """An inbox whose only entry for the sample's day after its last is a folder named like a 管理 file: unreadable, a warning."""
    inbox = tmp_path_factory.mktemp("warned") / "inbox"
    (inbox / f"KANRI_132071_{day_after(sample_nights):%Y%m%d}_001.dat").mkdir(parents=True)
    return inbox


def test_a_warned_night_ends_warned_exits_0_logs_its_summary_and_the_webhook_hears_it(sample_nights, alert_webhook, warned_inbox, tmp_path, monkeypatch):
    for name, value in PREFECT_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    day, database = day_after(sample_nights), sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
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
    assert_nothing_personal("\n".join(logged) + json.dumps(post, ensure_ascii=False), *personal_strings(sample_nights.database_after()))


def test_a_backfill_is_named_for_its_range_and_ends_warned_when_a_night_did(sample_nights, alert_webhook, warned_inbox, tmp_path):
    day, database = day_after(sample_nights), sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
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


def test_a_wrong_settings_file_is_refused_before_any_run_starts(sample_nights, tmp_path):
    settings, database = tmp_path / "shuno.toml", tmp_path / "shuno.duckdb"
    settings.write_text('offset_order = "newest_due_first"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=f"settings file {re.escape(str(settings))}: offset_order: "):
        nightly(sample_nights.dates[0], sample_nights.inbox, database, settings)
    with pytest.raises(SettingsError, match="offset_order"):
        backfill(sample_nights.dates[0], sample_nights.dates[1], sample_nights.inbox, database, settings)
    assert not database.exists()


def test_backfill_refuses_an_end_before_its_start(sample_nights, tmp_path):
    with pytest.raises(ValueError, match="before its start"):
        backfill(sample_nights.dates[1], sample_nights.dates[0], sample_nights.inbox, tmp_path / "shuno.duckdb")


def test_a_flow_run_refused_by_the_run_lock_is_logged_for_the_next_run(sample_nights, tmp_path):
    database = tmp_path / "shuno.duckdb"
    with acquire_run_lock(database), pytest.raises(RunRefused, match="refused and changed nothing"):
        nightly(sample_nights.dates[0], sample_nights.inbox, database)
    [logged] = logged_refusals(database)[0]
    assert (logged.command, logged.outcome) == ("flow nightly", "refused")
    assert not database.exists()


def test_the_decide_flow_stores_a_decision_from_its_typed_parameters_and_is_refused_while_a_run_holds_the_lock(sample_nights, tmp_path):
    database = tmp_path / "shuno.duckdb"
    sample_nights.copy_after(sample_nights.dates[-1], database)
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


def test_nothing_prefect_stored_names_a_person(sample_nights):
    # Flow and task runs, their parameters, states, logs (a failed run's traceback too) and the
    # alerts' automation, in the API's SQLite file (the worker's PREFECT_HOME); this test runs last to see what the others stored.
    found = prefect_stored_bytes()
    assert f"nightly-{sample_nights.dates[0]}".encode() in found
    assert NAMES.findall(found) == []
