"""A run killed with SIGKILL inside DuckDB's commit or checkpoint, or after folding the refusal log, leaves the database as before or after; runs refused or failed at once.

The killed runs are the bare `run_settlement_date` in a process of its own (tests/flows/killed_runs.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from flows.audit import audit_entry
from flows.lock import acquire_run_lock, lock_path
from flows.refusals import append_refusal, logged_refusals
from flows.settlement import PAUSE_VARIABLE, RunFailed, RunRefused, run_settlement_date
from schemas.settings import Settings
from tests.flows.killed_runs import (
    AT_ONCE_SECONDS,
    PATIENCE_SECONDS,
    database_state,
    differing_tables,
    kill,
    paused_run,
    refused_reasons,
    states,  # noqa: F401 (the module fixture the tests here request)
)

# One of the longest modules: `make test` starts it first (tests/conftest.py).
pytestmark = pytest.mark.long_running(45)


@pytest.mark.parametrize("delay", [0.0, 0.008, 0.015, 0.03])
def test_a_run_killed_inside_commit_or_checkpoint_leaves_the_database_as_before_or_after(states, tmp_path, delay):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    with paused_run(states, database, "before-commit") as run:
        run.stdin.write(b"\n")
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=PATIENCE_SECONDS)
    found = database_state(database)
    assert differing_tables(found, states.before) == [] or differing_tables(found, states.after) == []
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []


def test_a_run_killed_after_folding_the_refusal_log_leaves_the_refusals_for_the_next_run(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    refusal = audit_entry("shuno run", "refused", {"settlement_date": states.settlement_date}, reason="another shuno run holds the lock")
    append_refusal(database, refusal)
    with paused_run(states, database, "before-commit") as run:
        kill(run)
    assert refused_reasons(database) == [] and logged_refusals(database)[0] == [refusal]
    run_settlement_date(states.settlement_date, states.inbox, database)
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert refused_reasons(database) == [refusal.reason] and logged_refusals(database) == ([], 0)


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


def test_a_database_another_program_holds_fails_the_run_naming_it_and_changes_nothing(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    holder = "import sys, pathlib; from flows.database import connect_read_only; connection = connect_read_only(pathlib.Path(sys.argv[1])); print('open', flush=True); sys.stdin.readline()"
    with subprocess.Popen([sys.executable, "-c", holder, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as analyst:
        assert analyst.stdout.readline() == "open\n"
        # Not waiting (the wait itself is tested in test_settlement.py): the failure is shuno's line, not DuckDB's.
        with pytest.raises(RunFailed, match=rf"could not open .* another process \(pid {analyst.pid}\) holds it and did not let go within 0 s"):
            run_settlement_date(states.settlement_date, states.inbox, database, Settings(reader_wait_seconds=0))
        analyst.stdin.write("\n")
        analyst.stdin.flush()
    assert differing_tables(database_state(database), states.before) == []


def test_an_unknown_pause_stage_fails_the_run_before_it_starts(states, tmp_path, monkeypatch):
    monkeypatch.setenv(PAUSE_VARIABLE, "halfway")
    with pytest.raises(RunFailed, match="none of the stages"):
        run_settlement_date(states.settlement_date, states.inbox, tmp_path / "shuno.duckdb")
    assert not (tmp_path / "shuno.duckdb").exists()
