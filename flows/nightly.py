"""The Prefect flows of the nightly batch: `nightly` for one settlement date, `backfill` for a range,
`nightly-all` for one date of every collector (収納団体) of a shared centre's inbox.

A run is one DuckDB transaction on one connection (`flows.settlement.run_settlement_date`), which
the flow runs itself: splitting it would mean sharing a connection between tasks for nothing, and
a task around it would log its failure a second time, with a traceback. The tasks around it touch
the outside world: reading the inbox before the run (retried, since a network share can hiccup),
reading the report back from the database, and publishing it. The run has committed before its
report is read, so a report that cannot be shown is a warning, not a failure.

How a night ends (README, "Operations with Prefect"): `Completed`; `Completed` named `Warned` with
its warnings as the message when an operator must look (a file held, turned away or unreadable);
`Failed` with one line, "run of D failed and changed nothing: …", whatever the cause. The flow
returns these states rather than raising, so Prefect logs the line once and no traceback; a caller
of the flow function still gets the RunSummary, or the RunFailed raised.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from uuid import UUID

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, TaskRun
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.runtime import deployment, flow_run, task_run
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from rich.console import Console

from flows.database import DEFAULT_DATABASE, connect_read_only
from flows.ingest import collectors_of_date, inbox_listing
from flows.night_summary import WARNED, night_warnings, summary_lines, warned_message, warned_nights_message
from flows.settlement import RunFailed, RunSummary, failure_reason, run_settlement_date
from flows.report import RunReport, print_report, report_markdown, run_report, stage_progress, unshown_report_warning
from flows.runtime import prepare_process
from flows.workbook import with_workbook
from schemas.models import is_collector_code
from schemas.settings import CITY_TIME_ZONE, DEFAULT_SETTINGS_FILE, Settings, SettingsError, load_settings

# CONTRACT's defaults of `shuno run`; a deployment passes its own.
DEFAULT_INBOX = Path("sample_data/inbox")


def yesterday_in_tokyo(moment: datetime | None = None) -> date:
    """The day before `moment` (default: now) in Asia/Tokyo: the settlement date a 02:00 nightly run processes."""
    # Prefect's scheduled_start_time is its own DateTime, whose arithmetic after astimezone() does
    # not stay in Tokyo (15:03 UTC on 11/26 gave 11/25); a plain datetime from the instant does.
    instant = datetime.fromtimestamp((moment or datetime.now(CITY_TIME_ZONE)).timestamp(), CITY_TIME_ZONE)
    return instant.date() - timedelta(days=1)


def settlement_dates(start: date, end: date) -> list[date]:
    """Every date from `start` to `end`, both included, in order."""
    if end < start:
        raise ValueError(f"backfill end {end} is before its start {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _passing_read_error(task, task_run: TaskRun, state: State) -> bool:
    # A missing folder or file will not appear by waiting; an I/O error on a share may pass.
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError) and not isinstance(error, (FileNotFoundError, NotADirectoryError))


@task(retries=3, retry_delay_seconds=20, retry_condition_fn=_passing_read_error, cache_policy=NO_CACHE)
def readable_date_files(inbox: Path, settlement_date: date, collector: int | None = None) -> list[str]:
    """The names of the date's inbox files (of `collector` alone when given), each opened and read once so a failing share fails here, before the run."""
    if not inbox.is_dir():
        return []  # the run refuses a missing inbox itself, in CONTRACT's words
    recognised = inbox_listing(inbox, settlement_date, collector).recognised
    for path, _ in recognised:
        with path.open("rb") as stream:
            stream.read(1)
    return [path.name for path, _ in recognised]


def settlement_run(
    settlement_date: date, inbox: Path, database: Path, settings: Settings, command: str, confirm_gap: bool = False, collector: int | None = None
) -> RunSummary:
    """The run of one settlement date in one transaction; never retried: a failed run is for an operator to look at."""
    try:
        return run_settlement_date(settlement_date, inbox, database, settings, command, stage_progress(Console()), confirm_gap, collector=collector)
    except RunFailed as failure:
        # A traceback's causes may quote record values; the flow's state says the failure in one line.
        raise failure from None


def _database_busy(task, task_run: TaskRun, state: State) -> bool:
    # Another process opened the file for writing just after this run released it.
    return isinstance(state.result(raise_on_failure=False), duckdb.IOException)


@task(retries=3, retry_delay_seconds=10, retry_condition_fn=_database_busy, cache_policy=NO_CACHE)
def report_from_database(database: Path, summary: RunSummary, dunning_fee: int) -> RunReport:
    """The run's report, with the day's receipts, the arrears and the previous run's balances read from the database,
    and its workbook written beside the database."""
    with connect_read_only(database) as connection:
        return with_workbook(run_report(connection, summary, dunning_fee), connection, database)


@task(cache_policy=NO_CACHE)
def published_report(report: RunReport, collector: int | None = None) -> UUID:
    """Publishes the report as a Prefect Markdown artifact (keyed by the collector too in a run for one), prints it with rich, and returns the artifact's id."""
    # Every collector of a shared centre has a report each night: one key per collector keeps each one's history apart.
    of_collector = f"{collector:06d}-" if collector is not None else ""
    artifact = create_markdown_artifact(
        report_markdown(report), key=f"run-report-{of_collector}{report.settlement_date.isoformat()}", description=report.heading
    )
    print_report(report, Console())
    return artifact


def _run_name() -> str:
    collector = flow_run.parameters.get("collector")
    of_collector = f"{int(collector):06d}-" if collector is not None else ""
    return f"nightly-{of_collector}{flow_run.parameters.get('settlement_date') or yesterday_in_tokyo(flow_run.scheduled_start_time)}"


# The tag `shuno run` gives its flow runs: the operation log and the UI tell them from deployment runs.
COMMAND_TAG = "shuno-run"


def started_by() -> str:
    """How the current flow run was started, for the operation log: its deployment, `shuno run`, or a Python call."""
    if deployment.name:
        return f"deployment {deployment.name}"
    return "shuno run" if COMMAND_TAG in flow_run.tags else f"flow {flow_run.flow_name}"


@flow(name="nightly", flow_run_name=_run_name)
def nightly(
    settlement_date: date | None = None,
    inbox: Path = DEFAULT_INBOX,
    database: Path = DEFAULT_DATABASE,
    settings_file: Path = DEFAULT_SETTINGS_FILE,
    confirm_gap: bool = False,
    collector: int | None = None,
) -> State:
    """Loads one settlement date's inbox files and rebuilds every derived table, then reports the run.

    Running a date again gives the same database, so an operator re-runs a failed date with the
    same flow.

    Args:
        settlement_date: 処理対象日 (YYYY-MM-DD); empty means the day before the run was scheduled
            to start, in Asia/Tokyo, so a scheduled run that starts late still processes its night.
        inbox: folder of the delivered files, only ever read.
        database: the DuckDB file the run writes.
        settings_file: the settings file (TOML: rates table, low-rate months per tax code, 充当 order,
            督促手数料, days to confirm), relative to the checkout; the defaults when shuno.toml is absent.
        confirm_gap: run a date more than the setting gap_days_to_confirm after the latest run
            (otherwise refused: a mistyped date would move "as of" for good).
        collector: 収納団体コード (six digits) of a shared centre's inbox: only the files named for
            it are loaded, into `database`, that collector's own; the other collectors' files are
            counted in one line of the report and left for their own runs. Empty: every file.
    """
    settlement_date = settlement_date or yesterday_in_tokyo(flow_run.scheduled_start_time)
    try:
        settings = load_settings(settings_file)
        prepare_process()
        readable_date_files(inbox, settlement_date, collector)
        summary = settlement_run(settlement_date, inbox, database, settings, started_by(), confirm_gap, collector)
    except Exception as error:  # noqa: BLE001 - every failure of a night ends the same way: one line, no traceback
        return failed_night(settlement_date, error)
    log_summary(summary)
    report_committed_run(database, summary, settings.dunning_fee)
    return night_state(summary)


def night_failure(settlement_date: date, error: Exception) -> Exception:
    """The error a failed night raises to its caller, its message in the form "run of D … changed nothing: …"."""
    if isinstance(error, RunFailed) and str(error).startswith(f"run of {settlement_date} "):
        return error
    failure = RunFailed(f"run of {settlement_date} failed and changed nothing: {shuno_reason(error)}")
    # A wrong settings file stays a SettingsError for a Python caller; its message says the same.
    return SettingsError(str(failure)) if isinstance(error, SettingsError) else failure


def shuno_reason(error: Exception) -> str:
    """The one-line reason of a failure: shuno's own message (a run's, a settings file's), any other error's type alone."""
    return str(error) if isinstance(error, (RunFailed, SettingsError)) else failure_reason(error)


def failed_night(settlement_date: date, error: Exception) -> State:
    """The Failed state of a night that did not complete: its one-line reason as the message, the error raised to a caller."""
    failure = night_failure(settlement_date, error)
    return Failed(message=str(failure), data=failure)


def night_state(summary: RunSummary) -> State:
    """The final state of a completed night: `Warned` (a Completed state) with its warnings when it has any."""
    if night_warnings(summary):
        return Completed(data=summary, name=WARNED, message=warned_message(summary))
    return Completed(data=summary)


def log_summary(summary: RunSummary) -> None:
    """Writes the run's summary lines to the flow-run log, its warnings at WARNING (counts, yen and file names only)."""
    logger, warnings = get_run_logger(), set(night_warnings(summary))
    for line in summary_lines(summary):
        logger.log(logging.WARNING if line in warnings else logging.INFO, line)


def report_committed_run(database: Path, summary: RunSummary, dunning_fee: int) -> None:
    """Reads the committed run's report back and publishes it; when it cannot, warns on stderr and in the flow's log instead."""
    try:
        published_report(report_from_database(database, summary, dunning_fee), summary.collector)
    except Exception as error:  # noqa: BLE001 - the run has committed: failing now would tell the operator it did not
        warning = unshown_report_warning(summary, database, failure_reason(error))
        get_run_logger().warning(warning)
        print(warning, file=sys.stderr, flush=True)


def _backfill_run_name() -> str:
    return f"backfill-{flow_run.parameters['start']}-{flow_run.parameters['end']}"


@flow(name="backfill", flow_run_name=_backfill_run_name)
def backfill(
    start: date,
    end: date,
    inbox: Path = DEFAULT_INBOX,
    database: Path = DEFAULT_DATABASE,
    settings_file: Path = DEFAULT_SETTINGS_FILE,
    confirm_gap: bool = False,
) -> State:
    """Runs `nightly` for every date from `start` to `end` in order, stopping at the first that fails.

    A date with no files still runs: it moves `as_of`, so arrears and 延滞金 grow by a day. The
    backfill ends `Warned` when any of its nights did, and `Failed` with the failed night's line.

    Args:
        start: first settlement date (YYYY-MM-DD).
        end: last settlement date, included.
        inbox: folder of the delivered files, only ever read.
        database: the DuckDB file the runs write.
        settings_file: the settings file every run reads (see `nightly`).
        confirm_gap: `start` may be more than gap_days_to_confirm after the latest run (see `nightly`).
    """
    days = settlement_dates(start, end)
    load_settings(settings_file)  # a wrong file is refused before the first date runs, not at it
    summaries: list[RunSummary] = []
    for day in days:
        try:
            summaries.append(nightly(day, inbox, database, settings_file, confirm_gap))
        except RunFailed as failure:
            return Failed(message=f"backfill of {start} to {end} stopped at {day}, {len(summaries)} nights before it completed: {failure}", data=failure)
    if any(night_warnings(summary) for summary in summaries):
        return Completed(data=summaries, name=WARNED, message=warned_nights_message(start, end, summaries))
    return Completed(data=summaries)


# nightly-all (issue 15): a shared centre's inbox holds several collectors' files. Each collector's
# night goes into its own folder under the root, `<root>/<collector>/shuno.duckdb`, where its key
# (unless SHUNO_KEY_FILE names one), lock, backups, analyst copy and workbook are kept beside it.
DEFAULT_COLLECTORS_ROOT = Path("data/collectors")
COLLECTOR_DATABASE = "shuno.duckdb"


class NightOutcome(StrEnum):
    """How a collector's night ended, as the nightly-all run's log and state say it."""

    DONE = "done"
    WARNED = "warned"
    FAILED = "failed"


@dataclass(frozen=True)
class CollectorNight:
    """How one collector's night of a nightly-all run ended: done, warned or failed, and its night's one-line message."""

    collector: int
    outcome: NightOutcome
    message: str | None
    database: Path


class CollectorsFailed(RunFailed):
    """A nightly-all run in which a collector's night failed; `nights` says how every collector's night ended."""

    def __init__(self, message: str, nights: tuple[CollectorNight, ...]) -> None:
        super().__init__(message, nights)
        self.nights = nights

    def __str__(self) -> str:
        return self.args[0]


def collector_database(root: Path, collector: int) -> Path:
    """The database of one collector under the nightly-all root: `<root>/<collector>/shuno.duckdb`."""
    return root / f"{collector:06d}" / COLLECTOR_DATABASE


def collector_settings_file(root: Path, collector: int, settings_file: Path) -> Path:
    """The collector's own settings file, `<root>/<collector>/shuno.toml`, when it has one (its city's ordinance); else `settings_file`."""
    own = collector_database(root, collector).with_name(DEFAULT_SETTINGS_FILE.name)
    return own if own.exists() else settings_file


@task(retries=3, retry_delay_seconds=20, retry_condition_fn=_passing_read_error, cache_policy=NO_CACHE)
def collectors_to_run(inbox: Path, settlement_date: date, root: Path) -> list[int]:
    """The collectors whose files of the date are in the inbox, and those with a database under the root, in code order."""
    found = set(collectors_of_date(inbox, settlement_date))
    # A collector whose files did not come still runs: its night reports the missing deliveries (SPEC §7).
    folders = root.glob("[0-9]" * 6) if root.is_dir() else []
    return sorted(found | {int(folder.name) for folder in folders if (folder / COLLECTOR_DATABASE).is_file()})


def _night_name() -> str:
    return f"night-{int(task_run.parameters['collector']):06d}"


@task(cache_policy=NO_CACHE, task_run_name=_night_name)
def collector_night(settlement_date: date, inbox: Path, root: Path, collector: int, settings_file: Path, confirm_gap: bool) -> CollectorNight:
    """One collector's night: the `nightly` subflow into its own database. Never raises, so one collector's failure stops no other."""
    database = collector_database(root, collector)
    if not is_collector_code(collector):
        return CollectorNight(collector, NightOutcome.FAILED, f"{collector:06d} is not a 収納団体コード (its check digit is wrong): its files were not run", database)
    try:
        state = nightly(settlement_date, inbox, database, collector_settings_file(root, collector, settings_file), confirm_gap, collector, return_state=True)
    except Exception as error:  # noqa: BLE001 - Prefect's own failure to start the subflow is this collector's failure alone
        return CollectorNight(collector, NightOutcome.FAILED, f"run of {settlement_date} stopped: {failure_reason(error)}", database)
    if not state.is_completed():
        return CollectorNight(collector, NightOutcome.FAILED, state.message or state.name, database)
    return CollectorNight(collector, NightOutcome.WARNED if state.name == WARNED else NightOutcome.DONE, state.message, database)


def _all_run_name() -> str:
    return f"nightly-all-{flow_run.parameters.get('settlement_date') or yesterday_in_tokyo(flow_run.scheduled_start_time)}"


@flow(name="nightly-all", flow_run_name=_all_run_name)
def nightly_all(
    settlement_date: date | None = None,
    inbox: Path = DEFAULT_INBOX,
    root: Path = DEFAULT_COLLECTORS_ROOT,
    settings_file: Path = DEFAULT_SETTINGS_FILE,
    confirm_gap: bool = False,
) -> State:
    """Runs one `nightly` subflow per collector (収納団体) of a shared centre's inbox, each into its own database, a few at a time.

    The collectors are those whose files of the date are in the inbox and those with a database
    under `root` already. At most the setting collectors_at_once run at the same time. One
    collector's failure stops no other: the run ends Failed naming every collector that failed,
    with its night's one-line reason; Warned when none failed and some warned.

    Args:
        settlement_date: 処理対象日 (YYYY-MM-DD); empty means the day before the run was scheduled
            to start, in Asia/Tokyo, as for `nightly`.
        inbox: the shared folder of the delivered files, only ever read.
        root: the folder of the collectors' folders: `<root>/<collector>/shuno.duckdb` is one
            collector's database, created at its first night.
        settings_file: the settings file (collectors_at_once is read from it) and every
            collector's, except a collector that has its own `<root>/<collector>/shuno.toml`.
        confirm_gap: as for `nightly`, for every collector's night.
    """
    settlement_date = settlement_date or yesterday_in_tokyo(flow_run.scheduled_start_time)
    try:
        at_once = load_settings(settings_file).collectors_at_once
        if not inbox.is_dir():
            raise RunFailed(f"inbox {inbox} is not a folder")
        collectors = collectors_to_run(inbox, settlement_date, root)
    except Exception as error:  # noqa: BLE001 - no collector's night started: one line, as a night's
        failure = RunFailed(f"nightly-all of {settlement_date} ran no collector: {shuno_reason(error)}")
        return Failed(message=str(failure), data=failure)
    parameters = {"settlement_date": settlement_date, "inbox": inbox, "root": root, "settings_file": settings_file, "confirm_gap": confirm_gap}
    # Prefect's thread pool runner, bounded by the setting: each collector's night is a task running its subflow.
    with ThreadPoolTaskRunner(max_workers=at_once) as runner:
        futures = [runner.submit(collector_night, parameters | {"collector": collector}) for collector in collectors]
        nights = tuple(future.result() for future in futures)
    log_collector_nights(nights)
    return collectors_state(settlement_date, inbox, root, nights)


def log_collector_nights(nights: tuple[CollectorNight, ...]) -> None:
    """One line per collector in the flow-run log: done, warned or failed, with its night's message."""
    logger = get_run_logger()
    levels = {NightOutcome.DONE: logging.INFO, NightOutcome.WARNED: logging.WARNING, NightOutcome.FAILED: logging.ERROR}
    for night in nights:
        said = f": {night.message}" if night.message and night.outcome != NightOutcome.DONE else ""
        logger.log(levels[night.outcome], f"{night.collector:06d}: {night.outcome}{said}")


def collectors_state(settlement_date: date, inbox: Path, root: Path, nights: tuple[CollectorNight, ...]) -> State:
    """The final state of a nightly-all run: Failed naming each failed collector with its reason; else Warned or Completed."""
    failed = [night for night in nights if night.outcome == NightOutcome.FAILED]
    warned = [night for night in nights if night.outcome == NightOutcome.WARNED]
    if failed:
        reasons = "; ".join(f"{night.collector:06d}: {night.message}" for night in failed)
        failure = CollectorsFailed(f"nightly-all of {settlement_date}: {len(failed)} of {len(nights)} collectors failed: {reasons}", nights)
        return Failed(message=str(failure), data=failure)
    if not nights:
        message = f"nightly-all of {settlement_date}: no collector has files of the date in {inbox} or a database under {root}; nothing ran"
        return Completed(data=nights, name=WARNED, message=message)
    if warned:
        codes = ", ".join(f"{night.collector:06d}" for night in warned)
        return Completed(data=nights, name=WARNED, message=f"nightly-all of {settlement_date} completed; collectors with warnings: {codes}")
    return Completed(data=nights)


API_START_SECONDS = 60


@contextmanager
def local_prefect_api() -> Iterator[None]:
    """Prefect's API served from a thread of this process while the block runs, unless PREFECT_API_URL names a server that answers.

    Prefect's own ephemeral mode serves the API from a child process, which costs a second
    interpreter's start-up and outlives a `kill -9` of the run (re-parented, keeping its port and
    Prefect's SQLite file); a thread dies with the run.
    """
    if PREFECT_API_URL.value():
        _check_answers(PREFECT_API_URL.value())
        yield
        return
    # The server app takes seconds to import: only a run that serves its own API pays for it.
    import uvicorn
    from prefect.server.api.server import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    # log_config=None: uvicorn's own logging config would close Prefect's log handlers (waiting on their queues).
    config = uvicorn.Config(create_app(ephemeral=True, ignore_cache=True), log_config=None, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    # The server sees the caller's Prefect settings (its database, analytics), as a copied context.
    serve = contextvars.copy_context().run
    thread = threading.Thread(target=serve, args=(server.run,), kwargs={"sockets": [listener]}, name="prefect-api", daemon=True)
    thread.start()
    try:
        _await_start(server, thread)
        # Heartbeats let a server mark a vanished run as crashed; this API vanishes with the run, and
        # the heartbeat thread would hold the flow's end for up to a second.
        local = {PREFECT_API_URL: f"http://127.0.0.1:{listener.getsockname()[1]}/api", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        with temporary_settings(updates=local):
            try:
                yield
            finally:
                # Logs and events are sent in batches: send the last ones while the API still listens.
                APILogWorker.drain_all()
                EventsWorker.drain_all()
    finally:
        server.should_exit = True
        thread.join(timeout=API_START_SECONDS)
        listener.close()


def _check_answers(url: str) -> None:
    # Prefect's own failure is a bare RuntimeError, whose message `shuno run` would withhold.
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise RunFailed(f"the Prefect API at {url} does not answer ({type(error).__name__}); unset PREFECT_API_URL to run without a server")


def _await_start(server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + API_START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RunFailed("Prefect's local API did not start (set PREFECT_API_URL to use a running Prefect server)")
        time.sleep(0.02)
