"""The nightly run for one settlement date: load the date's files, rebuild everything derived.

The whole run is one DuckDB transaction: a run that cannot complete, or is killed, leaves the
database as it was before it. A run holds the database's run lock (`flows/lock.py`) throughout, so
a second run on the same file is refused at once; the refused run logs itself in the refusal log
(`flows/refusals.py`), which the next run folds into audit_log in its transaction. Derived tables
are a function of the stored inputs, so the order in which dates are run does not matter.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import duckdb
import polars as pl
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from flows.analyst import publish_analyst_copy
from flows.audit import FileDigest, audit_entry, write_audit_entry
from flows.backups import take_backup
from flows.cluster import ClusterUnreachable, PartFailed
from flows.database import connect, holder_pid, latest_completed_date, query_frame, replace_rows
from flows.ingest import FileOutcome, inbox_listing, load_date, other_collectors_files
from flows.lock import LockHolder, RunLock, RunLockHeld, acquire_run_lock
from flows.partitioned import partitioned_rebuild, partitions_for
from flows.pause import PAUSE_STAGES, PAUSE_VARIABLE, pause_point
from flows.refusals import RefusalLogError, append_refusal, clear_refusals, fold_refusals
from schemas.audit import REFUSED
from schemas.codes import RunStatus
from schemas.derived import ContractBroken, check_contracts
from schemas.exemptions import ExemptionKinds, ExemptionsFileError, load_exemption_kinds
from schemas.inbox import parse_inbox_name
from schemas.layouts import LayoutError
from schemas.models import is_collector_code
from schemas.rates import MissingRateError, RatesFileError, RatesTable, load_rates
from schemas.settings import CITY_TIME_ZONE, Settings
from schemas.tables import derived_tables
from transforms.deliveries import delivery_warnings
from transforms.history import DatedHistory
from transforms.rebuild import STORED_COLUMNS, DerivedTables, derived_state


class RunFailed(RuntimeError):
    """A run that could not complete; the message is the one-line reason."""


@dataclass(frozen=True)
class RunSummary:
    """What a run did: its id, date, the files it saw, and counts and yen totals per outcome."""

    run_id: str
    settlement_date: date
    as_of: date
    files: list[FileOutcome]
    outcome_counts: dict[str, dict[str, int]]
    analyst_copy: str = "not published"
    # SPEC §7: one line per expected delivery missing or rejected ("no NOFU_NYUKIN for 2026-06-04").
    delivery_warnings: tuple[str, ...] = ()
    # A run for one 収納団体 (a shared centre's inbox): its code, and the date's files of each other
    # collector, left unread for their own runs (counted, so none goes unsaid).
    collector: int | None = None
    other_collectors: dict[int, int] = field(default_factory=dict)


def as_of_date(connection: duckdb.DuckDBPyConnection, settlement_date: date) -> date:
    """The latest settlement date processed so far, this one included."""
    latest = latest_completed_date(connection)
    return max(settlement_date, latest) if latest else settlement_date


def stored_inputs(
    connection: duckdb.DuckDBPyConnection, step: Callable[[str], AbstractContextManager] = lambda name: nullcontext()
) -> dict[str, pl.DataFrame]:
    """The stored input tables, each with the columns the rebuild reads."""
    with step("reading the stored inputs"):
        return {table: query_frame(connection, _select(table, columns)) for table, columns in STORED_COLUMNS.items()}


def _select(table: str, columns: list[str]) -> str:
    # Identifiers come from the table definitions, never from input.
    quoted = ", ".join(f'"{name}"' for name in columns)
    return f'SELECT {quoted} FROM "{table}"'


def check_derived(derived: DerivedTables) -> None:
    """Fails the run with ContractBroken when a rebuilt table breaks its contract (schemas/derived.py)."""
    check_contracts({table.name: getattr(derived, table.name) for table in derived_tables()})


def write_derived(connection: duckdb.DuckDBPyConnection, derived: DerivedTables) -> None:
    """Replaces every derived table with its rebuilt rows."""
    for table in derived_tables():
        replace_rows(connection, table, getattr(derived, table.name))


def replace_derived_with_nothing(connection: duckdb.DuckDBPyConnection) -> None:
    """Empties every derived table: no run stands (the only one was voided), so nothing is derived."""
    for table in derived_tables():
        connection.execute(f'DELETE FROM "{table.name}"')


@dataclass(frozen=True)
class LawTables:
    """The tables of law a rebuild prices with: the rates (SPEC §4.1) and the exemption kinds (§6.1)."""

    rates: RatesTable
    exemption_kinds: ExemptionKinds


def load_law_tables(settings: Settings) -> LawTables:
    """The rates and exemption kinds tables the settings name (the packaged ones when they name none)."""
    return LawTables(load_rates(settings.rates_path), load_exemption_kinds(settings.exemptions_path))


# The settlement dates whose last completed-or-voided run completed: the dates `history` has rows for.
STANDING_DATES = """
SELECT settlement_date FROM runs WHERE status IN (?, ?)
GROUP BY settlement_date HAVING arg_max(status, started_at) = ? ORDER BY settlement_date
"""


def standing_dates(connection: duckdb.DuckDBPyConnection) -> list[date]:
    """Every settlement date whose run stands (completed and not voided since)."""
    found = connection.execute(STANDING_DATES, [RunStatus.COMPLETED, RunStatus.VOIDED, RunStatus.COMPLETED]).fetchall()
    return [day for (day,) in found]


def rebuild_derived(
    connection: duckdb.DuckDBPyConnection,
    as_of: date,
    law: LawTables,
    settings: Settings,
    step: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
    settlement_date: date | None = None,
) -> DerivedTables:
    """Rebuilds every derived table from the stored inputs as of as_of, checks their contracts and writes them (in the caller's transaction).

    settlement_date: the date being run, which joins the standing dates in `history`. In more than one
    part (the setting rebuild_partitions, or rebuild_memory_gb's count when it is 0) the rebuild runs
    a part at a time (flows/partitioned.py): the same tables, and a result that holds, of the large
    ones, only the rows the decisions name.
    """
    dates = standing_dates(connection) + ([settlement_date] if settlement_date else [])
    kept = DatedHistory(query_frame(connection, 'SELECT * FROM "history"'), query_frame(connection, 'SELECT * FROM "history_days"'))
    partitions = partitions_for(connection, settings)
    if partitions > 1:
        parted = settings.model_copy(update={"rebuild_partitions": partitions})
        return partitioned_rebuild(connection, as_of, law.rates, law.exemption_kinds, parted, step, dates, kept)
    # Handed over, not kept here: derived_state lets each stored frame go once its step is done.
    derived = derived_state(stored_inputs(connection, step), as_of, law.rates, settings, step, law.exemption_kinds, dates, kept)
    pause_point("derived")
    with step("checking the derived tables' contracts"):
        check_derived(derived)
    with step("writing the derived tables"):
        write_derived(connection, derived)
    return derived


INSERT_RUN = "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)"


def run_settlement_date(
    settlement_date: date,
    inbox: Path,
    database: Path,
    settings: Settings | None = None,
    command: str = "shuno run",
    step: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
    confirm_gap: bool = False,
    today: date | None = None,
    collector: int | None = None,
) -> RunSummary:
    """The nightly run of one settlement date, in one transaction, holding the database's run lock.

    A date after today (Asia/Tokyo unless `today` is given) is refused; so is one more than the
    setting gap_days_to_confirm after the latest completed run, unless confirm_gap. With a
    collector (収納団体コード), only the files named for it are the date's: the database is that
    collector's own; the other collectors' files are counted in the summary and left unread.
    """
    settings = settings or Settings()
    refuse_future_date(settlement_date, inbox, database, command, today)
    with logged_outside_database(settlement_date, inbox, database, command):
        if not inbox.is_dir():
            raise RunFailed(f"inbox {inbox} is not a folder")
        if collector is not None and not is_collector_code(collector):
            raise RunFailed(f"{collector} is not a 収納団体コード (six digits, the last its check digit)")
        check_pause_stage()
        law = load_law_tables(settings)
    # The lock comes before DuckDB opens the file, so a second run hears shuno's reason, not DuckDB's.
    with run_lock(settlement_date, inbox, database, command):
        with logged_outside_database(settlement_date, inbox, database, command):
            connection = open_database(settlement_date, database, settings.reader_wait_seconds)
        run_id, started_at = uuid.uuid4().hex, datetime.now()
        gap = _unconfirmed_gap(connection, settlement_date, settings.gap_days_to_confirm) if not confirm_gap else None
        refusal = gap or _another_collectors_database(connection, collector)
        if refusal is not None:
            connection.close()
            _refuse_date(settlement_date, inbox, database, command, refusal)
        one_thread_when_small(connection, inbox, settlement_date, collector)
        with logged_outside_database(settlement_date, inbox, database, command):
            take_backup(connection, database, settings.backups_kept)
        try:
            connection.begin()
            with step("loading the date's files"):
                outcomes = load_date(connection, inbox, settlement_date, run_id, Fraction(settings.snapshot_drop_share), collector)
            pause_point("loaded")
            as_of = as_of_date(connection, settlement_date)
            derived = rebuild_derived(connection, as_of, law, settings, step, settlement_date)
            pause_point("written")
            others = other_collectors_files(inbox, settlement_date, collector)
            summary = RunSummary(
                run_id, settlement_date, as_of, outcomes, derived.outcome_counts,
                delivery_warnings=delivery_warnings(derived.deliveries), collector=collector, other_collectors=others,
            )
            connection.execute(INSERT_RUN, [run_id, settlement_date, started_at, datetime.now(), RunStatus.COMPLETED, _summary_json(summary)])
            folded_size = fold_refusals(connection, database)
            pause_point("before-commit")
            connection.commit()
            pause_point("committed")
        except Exception as error:
            connection.rollback()
            connection.execute(INSERT_RUN, [run_id, settlement_date, started_at, datetime.now(), RunStatus.FAILED, json.dumps({"error": type(error).__name__})])
            _audit(connection, command, RunStatus.FAILED, settlement_date, inbox, database, [], run_id, failure_reason(error))
            connection.close()
            raise RunFailed(f"run of {settlement_date} failed and changed nothing: {failure_reason(error)}") from error
        _clear_refusals(database, folded_size)
        _audit(connection, command, RunStatus.COMPLETED, settlement_date, inbox, database, outcomes, run_id)
        copy = published_analyst_copy(connection, database)
        connection.close()
        return replace(summary, analyst_copy=copy)



# DuckDB shares its work among its threads a row group (122,880 rows) at a time: with no table
# larger than one, and a date's files of fewer records than one, its worker threads only wake and
# wait (a sixth of the CPU of a small run).
ROW_GROUP_ROWS = 122_880
ONE_THREAD_FILES_BYTES = 16 << 20
LARGEST_TABLE = "SELECT coalesce(max(estimated_size), 0) FROM duckdb_tables() WHERE database_name = current_database()"


def one_thread_when_small(connection: duckdb.DuckDBPyConnection, inbox: Path, settlement_date: date, collector: int | None) -> None:
    """Has DuckDB run the connection's work on one thread when no table and no date's files reach a row group."""
    try:
        files_bytes = sum(path.stat().st_size for path, _ in inbox_listing(inbox, settlement_date, collector).recognised)
    except OSError:
        return  # the run itself says what it cannot read; its threads stay as they are
    if files_bytes < ONE_THREAD_FILES_BYTES and connection.execute(LARGEST_TABLE).fetchone()[0] < ROW_GROUP_ROWS:
        connection.execute("SET threads = 1")


class RunDateRefused(RunFailed):
    """A run refused before it started because of its settlement date (after today, or far after the latest run)."""


def refuse_future_date(settlement_date: date, inbox: Path, database: Path, command: str, today: date | None = None) -> None:
    """Refuses (RunDateRefused, logged) a settlement date after today in Asia/Tokyo: its files cannot have come."""
    today = today or datetime.now(CITY_TIME_ZONE).date()
    if settlement_date > today:
        _refuse_date(settlement_date, inbox, database, command, f"{settlement_date} is after today ({today}, Asia/Tokyo)")


def _unconfirmed_gap(connection: duckdb.DuckDBPyConnection, settlement_date: date, gap_days: int) -> str | None:
    """Why the date is too far after the latest completed run to run unconfirmed, or None."""
    latest = latest_completed_date(connection)
    if latest is None or (settlement_date - latest).days <= gap_days:
        return None
    return (
        f"{settlement_date} is {(settlement_date - latest).days} days after the latest run ({latest}), more than {gap_days}: "
        "\"as of\" would move there for good; confirm it (--confirm-gap) if that is meant"
    )


def _another_collectors_database(connection: duckdb.DuckDBPyConnection, collector: int | None) -> str | None:
    """Why a run for `collector` must not write this database (it holds another collector's files), or None."""
    # Re-running a date replaces every stored row of that date: a run for one collector on another's
    # database would withdraw the other's records of the date.
    if collector is None:
        return None
    names = connection.execute("SELECT DISTINCT file_name FROM ingested_files").fetchall()
    others = sorted({name.collector_code for (file_name,) in names if (name := parse_inbox_name(file_name)) and name.collector_code != collector})
    if not others:
        return None
    return (
        f"the database holds the files of collector {', '.join(f'{code:06d}' for code in others)}, not {collector:06d}: "
        "run each collector into its own database (nightly-all does)"
    )


def _refuse_date(settlement_date: date, inbox: Path, database: Path, command: str, reason: str) -> None:
    """Refuses the run for its date, logged in the refusal log (the next run folds it into audit_log)."""
    unlogged = _log_outside_database(command, REFUSED, settlement_date, inbox, database, reason)
    suffix = f"; the refusal could not be logged ({unlogged})" if unlogged else ""
    raise RunDateRefused(f"run of {settlement_date} refused and changed nothing: {reason}{suffix}")


def _audit(connection, command, outcome, settlement_date, inbox, database, files, run_id, reason=None) -> None:
    """The operation log entry of a run (評価書 III-3), written after its commit or rollback."""
    digests = [FileDigest(outcome.file_name, outcome.sha256) for outcome in files]
    write_audit_entry(connection, audit_entry(command, outcome, _run_parameters(settlement_date, inbox, database), digests, reason, run_id))


def _run_parameters(settlement_date: date, inbox: Path, database: Path) -> dict[str, str]:
    return {"settlement_date": settlement_date.isoformat(), "inbox": str(inbox), "database": str(database)}


def _clear_refusals(database: Path, folded_size: int) -> None:
    # The run has committed: a refusal log that cannot be emptied now only holds entries audit_log
    # has, which the next run's fold skips before it empties the log again.
    with suppress(OSError):
        clear_refusals(database, folded_size)


def analyst_copy_path(database: Path) -> Path:
    """Where the analyst copy of `database` is published: beside it, as analyst.duckdb."""
    return database.with_name("analyst.duckdb")


def published_analyst_copy(connection: duckdb.DuckDBPyConnection, database: Path) -> str:
    """Publishes the analyst copy after a commit; says where, or why not, in one line."""
    # The run has committed: a copy that cannot be written leaves the analysts on the previous
    # one, and the run is still complete; the summary says so.
    try:
        publish_analyst_copy(connection, analyst_copy_path(database))
    except Exception as error:  # noqa: BLE001 - reported, never hides the completed run
        return f"not published ({failure_reason(error)})"
    return f"published to {analyst_copy_path(database)}"


class RunRefused(RunFailed):
    """A run refused at once because another run holds the database; `holder` is the reason, for the audit log.

    `not_logged` is why the refusal could not be written to the refusal log, None when it was.
    """

    def __init__(self, settlement_date: date, holder: LockHolder, not_logged: str | None = None) -> None:
        unlogged = f"; the refusal could not be logged ({not_logged})" if not_logged else ""
        super().__init__(f"run of {settlement_date} refused and changed nothing: {holder.description()}{unlogged}")
        self.holder = holder


def run_lock(settlement_date: date, inbox: Path, database: Path, command: str) -> RunLock:
    """The database's run lock, taken at once; a run that finds it held is logged in the refusal log and refused with `RunRefused`."""
    try:
        return acquire_run_lock(database)
    except RunLockHeld as held:
        raise RunRefused(settlement_date, held.holder, _log_refusal(command, settlement_date, inbox, database, held.holder)) from None
    except OSError as error:
        failure = RunFailed(f"run of {settlement_date} could not take its lock and changed nothing: {failure_reason(error)}")
        _log_outside_database(command, RunStatus.FAILED, settlement_date, inbox, database, str(failure))
        raise failure from error


@contextmanager
def logged_outside_database(settlement_date: date, inbox: Path, database: Path, command: str) -> Iterator[None]:
    """Logs a run that fails before it has the database open (no inbox, an unreadable rates table,
    a file another program holds) in the refusal log, which the next completed run folds into
    audit_log; the failure itself goes on."""
    try:
        yield
    except Exception as error:
        reason = str(error) if isinstance(error, RunFailed) else failure_reason(error)
        _log_outside_database(command, RunStatus.FAILED, settlement_date, inbox, database, reason)
        raise


def _log_refusal(command: str, settlement_date: date, inbox: Path, database: Path, holder: LockHolder) -> str | None:
    """Appends the refusal's operation log entry to the refusal log; returns why it could not, or None."""
    return _log_outside_database(command, REFUSED, settlement_date, inbox, database, holder.description())


def _log_outside_database(command: str, outcome: str, settlement_date: date, inbox: Path, database: Path, reason: str) -> str | None:
    """Appends the operation log entry of a run that cannot write audit_log to the refusal log; returns why it could not, or None."""
    entry = audit_entry(command, outcome, _run_parameters(settlement_date, inbox, database), reason=reason)
    try:
        append_refusal(database, entry)
    except OSError as error:
        return failure_reason(error)
    return None


def open_database(settlement_date: date, database: Path, wait_seconds: int = 0) -> duckdb.DuckDBPyConnection:
    """A connection to the database, waiting up to wait_seconds for another process that holds the file to let go.

    Fails the run with shuno's own line naming the holder's pid; DuckDB's message would suggest
    opening the database read-only, which is not what a run can do.
    """
    waiting = Retrying(
        retry=retry_if_exception(lambda error: isinstance(error, duckdb.IOException) and holder_pid(error) is not None),
        stop=stop_after_delay(wait_seconds),
        wait=wait_fixed(1),
        reraise=True,
    )
    try:
        return waiting(connect, database)
    except duckdb.IOException as error:
        pid = holder_pid(error)
        if pid is None:
            raise RunFailed(f"run of {settlement_date} could not open {database} and changed nothing: {failure_reason(error)}") from error
        raise RunFailed(
            f"run of {settlement_date} could not open {database} and changed nothing: another process (pid {pid}) "
            f"holds it and did not let go within {wait_seconds} s; analysts read the analyst copy, operators use shuno audit and shuno status"
        ) from None


def check_pause_stage() -> None:
    """Fails the run before it starts when SHUNO_PAUSE_AT is set to a name that is no stage (a typo would never pause)."""
    stage = os.environ.get(PAUSE_VARIABLE)
    if stage and stage not in PAUSE_STAGES:
        raise RunFailed(f"{PAUSE_VARIABLE}={stage!r} is none of the stages {', '.join(PAUSE_STAGES)}")



# Errors whose messages shuno writes itself from keys, dates and paths; any other error's message
# may quote record values (polars and pandera do), so only its type is shown.
SAFE_MESSAGES = (
    MissingRateError, RatesFileError, ExemptionsFileError, LayoutError, RefusalLogError, ContractBroken, OSError, duckdb.IOException,
    PartFailed, ClusterUnreachable,
)


def failure_reason(error: Exception) -> str:
    """A one-line reason for a failed run that names no personal data."""
    if isinstance(error, SAFE_MESSAGES):
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return f"{type(error).__name__} (details withheld: they may quote record values)"


def _summary_json(summary: RunSummary) -> str:
    files = [{"file": outcome.file_name, "status": outcome.status, "records": outcome.record_count, "rejected": outcome.rejected_count} for outcome in summary.files]
    collector = {} if summary.collector is None else {"collector": summary.collector, "other_collectors": summary.other_collectors}
    return json.dumps({"as_of": summary.as_of.isoformat(), "files": files, "outcomes": summary.outcome_counts} | collector, ensure_ascii=False)
