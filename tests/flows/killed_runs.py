"""What the killed-run tests share: the sample's database before and after one night, and `shuno run` or the bare run paused at a stage in a child process.

The kills are deterministic: the SHUNO_PAUSE_AT hook of `flows.settlement` stops the run at a named
stage and waits for a line on stdin, and the test kills the process there (or lets it go on and
kills it a few milliseconds later, inside DuckDB's commit or checkpoint). What is tested is the
database's atomicity, which lives in `run_settlement_date`'s one transaction, so the killed runs
are the bare `run_settlement_date` in a process of its own: each `shuno run` starts Prefect (7 s of
CPU). The bare runs are forked from one server per module that imported shuno once
(tests/flows/forked_runs.py): about a second of CPU saved on each.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.database import open_database
from flows.pause import PAUSE_VARIABLE
from schemas.tables import all_tables
from tests.databases import read_only_database
from tests.flows.forked_runs import ForkedRun, RunForks
from tests.prefect_homes import migrated_prefect_home
from tests.without_pandas import PYTHON_WITHOUT_PANDAS

ROOT = Path(__file__).resolve().parents[2]
SHUNO = [*PYTHON_WITHOUT_PANDAS, "-m", "flows.cli"]
# Ids and clock times differ between two runs that did the same thing.
VOLATILE_COLUMNS = {"run_id", "started_at", "finished_at"}
PATIENCE_SECONDS = 60
# A refusal takes no time of its own (the lock is taken without waiting): a run that waited for
# the paused holder would wait until PATIENCE_SECONDS. The bound leaves a busy machine room to
# start an interpreter and import shuno, which took two seconds here alone.
AT_ONCE_SECONDS = 20
# The one stage killed through `shuno run`: the run has done all its work, through Prefect.
COMMAND_KILL_STAGE = "committed"
OPERATION_LOGS = {"audit_log"}


@dataclass(frozen=True)
class States:
    """The sample inbox, the date under test, and the database before and after an uninterrupted run of it."""

    inbox: Path
    settlement_date: date
    environment: dict[str, str]
    before_path: Path
    before: dict[str, pl.DataFrame]
    after: dict[str, pl.DataFrame]
    forks: RunForks


def database_state(database: Path, read_only: bool = False) -> dict[str, pl.DataFrame]:
    """Every table's rows, sorted, without the volatile columns."""
    # audit_log records every attempt (who, when, which process): a killed run and its re-run are two.
    tables = [table for table in all_tables() if table.name not in OPERATION_LOGS]
    with (read_only_database(database) if read_only else open_database(database)) as connection:
        return {table.name: connection.sql(_select_stable(table)).pl().sort(pl.all()) for table in tables}


def _select_stable(table) -> str:
    # Identifiers come from the table definitions, never from input. Re-running a completed date logs
    # a second, identical `runs` row, so the log is compared as distinct rows.
    distinct = "DISTINCT " if table.name == "runs" else ""
    return f"SELECT {distinct}" + ", ".join(f'"{name}"' for name in table.column_names if name not in VOLATILE_COLUMNS) + f' FROM "{table.name}"'


def differing_tables(found: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> list[str]:
    """The tables whose rows differ; names only, since a frame diff would print the sample's personal data."""
    return [table for table in expected if not found[table].equals(expected[table])]


@pytest.fixture(scope="module")
def states(sample_nights, migrated_prefect_database, tmp_path_factory) -> Iterator[States]:
    folder = tmp_path_factory.mktemp("atomic")
    first, second = sample_nights.dates[:2]
    # The database after the first night's run, and after the second's on top of it.
    before_path = sample_nights.copy_after(first, folder / "before.duckdb")
    before, after = database_state(before_path), database_state(sample_nights.database_after(second), read_only=True)
    assert differing_tables(after, before), "the date under test must change the database"
    # The runs keep their Prefect state in the test's own folder, never in the developer's server or
    # ~/.prefect; its database migrated already, as after a first `shuno run` (7 s of CPU saved).
    environment = {name: value for name, value in os.environ.items() if name not in ("PREFECT_API_URL", PAUSE_VARIABLE)}
    home = migrated_prefect_home(folder / "prefect", migrated_prefect_database)
    environment |= {"PREFECT_HOME": str(home)}
    forks = RunForks(environment, PATIENCE_SECONDS)
    yield States(sample_nights.inbox, second, environment, before_path, before, after, forks)
    forks.stop()


def shuno_run(states: States, database: Path) -> list[str]:
    return [*SHUNO, "run", "--date", states.settlement_date.isoformat(), "--inbox", str(states.inbox), "--db", str(database)]


def paused_run(states: States, database: Path, stage: str, through_command: bool = False) -> AbstractContextManager[subprocess.Popen | ForkedRun]:
    """The run of the date under test on `database` stopped at `stage`: `shuno run` if through_command, else the bare run forked; killed on the way out if still alive."""
    if through_command:
        return paused_command(states.environment, shuno_run(states, database), stage)
    arguments = [states.settlement_date.isoformat(), str(states.inbox), str(database)]
    return _paused(states.forks.start(arguments, {PAUSE_VARIABLE: stage}), stage)


def paused_command(environment: dict[str, str], command: list[str], stage: str) -> AbstractContextManager[subprocess.Popen]:
    """`command` (a run, a restore, a rekey) run with `environment`, stopped at `stage` by the pause hook; killed on the way out if still alive."""
    environment = environment | {PAUSE_VARIABLE: stage}
    run = subprocess.Popen(command, cwd=ROOT, env=environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=0)
    return _paused(run, stage)


@contextmanager
def _paused(run: subprocess.Popen | ForkedRun, stage: str) -> Iterator[subprocess.Popen | ForkedRun]:
    try:
        _await_marker(run, f"paused at {stage}")
        yield run
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate(timeout=PATIENCE_SECONDS)


def _await_marker(run: subprocess.Popen, marker: str) -> None:
    seen, deadline = b"", time.monotonic() + PATIENCE_SECONDS
    while marker.encode() not in seen:
        ready, _, _ = select.select([run.stderr], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(run.stderr.fileno(), 4096) if ready else b""
        if not chunk:
            pytest.fail(f"shuno run never reached {marker!r} (exit {run.poll()}): {seen.decode(errors='replace')[-500:]}")
        seen += chunk


def kill(run: subprocess.Popen) -> None:
    run.send_signal(signal.SIGKILL)
    assert run.wait(timeout=PATIENCE_SECONDS) == -signal.SIGKILL


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def refused_reasons(database: Path) -> list[str]:
    with read_only_database(database) as connection:
        return [reason for (reason,) in connection.execute("SELECT reason FROM audit_log WHERE outcome = 'refused'").fetchall()]


def file_stamps(database: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in [database, wal_path(database)] if path.exists()}

