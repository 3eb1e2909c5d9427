"""`shuno run` killed with SIGKILL at any point leaves the database as before or as after the run; a second run is refused at once.

The kills are deterministic: the SHUNO_PAUSE_AT hook of `flows.settlement` stops the run at a named
stage and waits for a line on stdin, and the test kills the process there (or lets it go on and
kills it a few milliseconds later, inside DuckDB's commit or checkpoint). What is tested is the
database's atomicity, which lives in `run_settlement_date`'s one transaction, so the killed runs
are the bare `run_settlement_date` in a child process: each `shuno run` starts Prefect (several
seconds). One kill, after the commit, goes through the real `shuno run`, so the command's path
(its flow, its tasks, its local Prefect API) is proven to keep the same guarantee.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.audit import audit_entry
from flows.lock import acquire_run_lock, lock_path
from flows.settlement import PAUSE_STAGES, PAUSE_VARIABLE, RunFailed, RunRefused, run_settlement_date
from flows.refusals import append_refusal, logged_refusals
from schemas.tables import all_tables

# One of the longest modules: `make test` starts it first (tests/conftest.py).
pytestmark = pytest.mark.long_running

ROOT = Path(__file__).resolve().parents[2]
SHUNO = [sys.executable, "-m", "flows.cli"]
BARE_RUN = (
    "import sys, datetime, pathlib; from flows.settlement import run_settlement_date; "
    "run_settlement_date(datetime.date.fromisoformat(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]))"
)
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


def database_state(database: Path, read_only: bool = False) -> dict[str, pl.DataFrame]:
    """Every table's rows, sorted, without the volatile columns."""
    # audit_log records every attempt (who, when, which process): a killed run and its re-run are two.
    tables = [table for table in all_tables() if table.name not in OPERATION_LOGS]
    with duckdb.connect(str(database), read_only=read_only) as connection:
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
def states(sample_nights, tmp_path_factory) -> States:
    folder = tmp_path_factory.mktemp("atomic")
    first, second = sample_nights.dates[:2]
    # The database after the first night's run, and after the second's on top of it.
    before_path = sample_nights.copy_after(first, folder / "before.duckdb")
    before, after = database_state(before_path), database_state(sample_nights.database_after(second), read_only=True)
    assert differing_tables(after, before), "the date under test must change the database"
    # The runs keep their Prefect state in the test's own folder, never in the developer's server or ~/.prefect.
    environment = {name: value for name, value in os.environ.items() if name not in ("PREFECT_API_URL", PAUSE_VARIABLE)}
    return States(sample_nights.inbox, second, environment | {"PREFECT_HOME": str(folder / "prefect")}, before_path, before, after)


def shuno_run(states: States, database: Path) -> list[str]:
    return [*SHUNO, "run", "--date", states.settlement_date.isoformat(), "--inbox", str(states.inbox), "--db", str(database)]


def bare_run(states: States, database: Path) -> list[str]:
    return [sys.executable, "-c", BARE_RUN, states.settlement_date.isoformat(), str(states.inbox), str(database)]


@contextmanager
def paused_run(states: States, command: list[str], stage: str) -> Iterator[subprocess.Popen]:
    """`command` stopped at `stage` by the pause hook; killed on the way out if still alive."""
    environment = states.environment | {PAUSE_VARIABLE: stage}
    run = subprocess.Popen(command, cwd=ROOT, env=environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=0)
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


@pytest.mark.parametrize("stage", PAUSE_STAGES)
def test_a_run_killed_at_a_stage_leaves_the_database_as_before_or_after_and_a_rerun_completes_it(states, tmp_path, stage):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    command = shuno_run(states, database) if stage == COMMAND_KILL_STAGE else bare_run(states, database)
    with paused_run(states, command, stage) as run:
        kill(run)
    # The kill leaves DuckDB's write-ahead log behind; opening the file replays its committed part.
    assert wal_path(database).exists()
    expected = states.after if stage == "committed" else states.before
    assert differing_tables(database_state(database, read_only=True), expected) == []
    assert differing_tables(database_state(database), expected) == []
    assert not wal_path(database).exists(), "a read-write open checkpoints the log"
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []


# Here commit takes about 10 ms and the checkpoint on close 30 ms: the kills land before the commit,
# after it with the log not yet checkpointed, or inside the checkpoint, depending on the machine.
@pytest.mark.parametrize("delay", [0.0, 0.008, 0.015, 0.03])
def test_a_run_killed_inside_commit_or_checkpoint_leaves_the_database_as_before_or_after(states, tmp_path, delay):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    with paused_run(states, bare_run(states, database), "before-commit") as run:
        run.stdin.write(b"\n")
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=PATIENCE_SECONDS)
    found = database_state(database)
    assert differing_tables(found, states.before) == [] or differing_tables(found, states.after) == []
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []


def test_a_second_run_is_refused_at_once_while_one_is_in_progress(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    # The first run only holds the lock (taken in run_settlement_date, under `shuno run` too); the refused one is the command.
    with paused_run(states, bare_run(states, database), "loaded") as first:
        files_before = _file_stamps(database)
        started = time.monotonic()
        second = subprocess.run(shuno_run(states, database), cwd=ROOT, env=states.environment, capture_output=True, text=True, timeout=PATIENCE_SECONDS)
        assert time.monotonic() - started < AT_ONCE_SECONDS
        assert second.returncode == 1 and second.stdout == ""
        assert re.fullmatch(
            rf"shuno run: run of {states.settlement_date} refused and changed nothing: "
            rf"another shuno run holds {re.escape(str(lock_path(database)))} since \S+ \(pid {first.pid}\)\n",
            second.stderr,
        ), second.stderr
        assert _file_stamps(database) == files_before
        first.stdin.write(b"\n")
        _, errors = first.communicate(timeout=PATIENCE_SECONDS)
        assert first.returncode == 0, errors.decode(errors="replace")[-500:]
    assert differing_tables(database_state(database), states.after) == []
    # The refused run logged itself beside the database; the first run folded it into audit_log before its commit.
    assert _refused_reasons(database) == [second.stderr.split("changed nothing: ")[1].strip()]
    assert logged_refusals(database) == ([], 0)
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []


def _refused_reasons(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return [reason for (reason,) in connection.execute("SELECT reason FROM audit_log WHERE outcome = 'refused'").fetchall()]


def test_a_run_killed_after_folding_the_refusal_log_leaves_the_refusals_for_the_next_run(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    refusal = audit_entry("shuno run", "refused", {"settlement_date": states.settlement_date}, reason="another shuno run holds the lock")
    append_refusal(database, refusal)
    with paused_run(states, bare_run(states, database), "before-commit") as run:
        kill(run)
    assert _refused_reasons(database) == [] and logged_refusals(database)[0] == [refusal]
    run_settlement_date(states.settlement_date, states.inbox, database)
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert _refused_reasons(database) == [refusal.reason] and logged_refusals(database) == ([], 0)


def _file_stamps(database: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in [database, wal_path(database)] if path.exists()}


def test_a_refused_run_names_the_holder_and_never_opens_the_database(states, tmp_path):
    database = tmp_path / "new" / "shuno.duckdb"
    with acquire_run_lock(database):
        started = time.monotonic()
        with pytest.raises(RunRefused) as refused:
            run_settlement_date(states.settlement_date, states.inbox, database)
        assert time.monotonic() - started < AT_ONCE_SECONDS
    assert refused.value.holder.pid == os.getpid() and refused.value.holder.lock_path == lock_path(database)
    assert "\n" not in str(refused.value) and f"(pid {os.getpid()})" in str(refused.value)
    assert not database.exists()
    run_settlement_date(states.settlement_date, states.inbox, database)


def test_a_database_another_program_holds_fails_the_run_at_once(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    holder = "import duckdb, sys; connection = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); sys.stdin.readline()"
    with subprocess.Popen([sys.executable, "-c", holder, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as analyst:
        assert analyst.stdout.readline() == "open\n"
        with pytest.raises(RunFailed, match="could not open .* Conflicting lock"):
            run_settlement_date(states.settlement_date, states.inbox, database)
        analyst.stdin.write("\n")
        analyst.stdin.flush()
    assert differing_tables(database_state(database), states.before) == []


def test_an_unknown_pause_stage_fails_the_run_before_it_starts(states, tmp_path, monkeypatch):
    monkeypatch.setenv(PAUSE_VARIABLE, "halfway")
    with pytest.raises(RunFailed, match="none of the stages"):
        run_settlement_date(states.settlement_date, states.inbox, tmp_path / "shuno.duckdb")
    assert not (tmp_path / "shuno.duckdb").exists()
