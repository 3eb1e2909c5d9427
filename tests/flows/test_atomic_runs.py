"""`shuno run` killed with SIGKILL at a stage leaves the database as before or as after the run; a second run is refused at once.

The killed runs are the bare `run_settlement_date` in a process of its own (tests/flows/killed_runs.py).
One kill, after the commit, goes through the real `shuno run`, so the command's path (its flow, its
tasks, its local Prefect API) is proven to keep the same guarantee; the refused second run is the
command too, in the same module so that the two serve their API from one Prefect home, migrated once.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from flows.lock import lock_path
from flows.refusals import logged_refusals
from flows.settlement import PAUSE_STAGES, run_settlement_date
from tests.flows.killed_runs import (
    AT_ONCE_SECONDS,
    COMMAND_KILL_STAGE,
    PATIENCE_SECONDS,
    ROOT,
    database_state,
    differing_tables,
    file_stamps,
    kill,
    paused_run,
    refused_reasons,
    shuno_run,
    states,  # noqa: F401 (the module fixture the tests here request)
    wal_path,
)

# One of the longest modules: `make test` starts it first (tests/conftest.py).
pytestmark = pytest.mark.long_running(60)


@pytest.mark.parametrize("stage", PAUSE_STAGES)
def test_a_run_killed_at_a_stage_leaves_the_database_as_before_or_after_and_a_rerun_completes_it(states, tmp_path, stage):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    with paused_run(states, database, stage, through_command=stage == COMMAND_KILL_STAGE) as run:
        kill(run)
    # A kill after the commit leaves DuckDB's write-ahead log behind, whose committed part opening the
    # file replays; before it the run may have written nothing outside memory at all.
    assert wal_path(database).exists() or stage != "committed"
    expected = states.after if stage == "committed" else states.before
    assert differing_tables(database_state(database, read_only=True), expected) == []
    assert differing_tables(database_state(database), expected) == []
    assert not wal_path(database).exists(), "a read-write open checkpoints the log"
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []


# Here commit takes about 10 ms and the checkpoint on close 30 ms: the kills land before the commit,
# after it with the log not yet checkpointed, or inside the checkpoint, depending on the machine.
def test_a_second_run_is_refused_at_once_while_one_is_in_progress(states, tmp_path):
    database = tmp_path / "shuno.duckdb"
    shutil.copy(states.before_path, database)
    # The first run only holds the lock (taken in run_settlement_date, under `shuno run` too); the refused one is the command.
    with paused_run(states, database, "loaded") as first:
        files_before = file_stamps(database)
        started = time.monotonic()
        second = subprocess.run(shuno_run(states, database), cwd=ROOT, env=states.environment, capture_output=True, text=True, timeout=PATIENCE_SECONDS)
        assert time.monotonic() - started < AT_ONCE_SECONDS
        assert second.returncode == 1 and second.stdout == ""
        assert re.fullmatch(
            rf"shuno run: run of {states.settlement_date} refused and changed nothing: "
            rf"another shuno run holds {re.escape(str(lock_path(database)))} since \S+ \(pid {first.pid}\)\n",
            second.stderr,
        ), second.stderr
        assert file_stamps(database) == files_before
        first.stdin.write(b"\n")
        _, errors = first.communicate(timeout=PATIENCE_SECONDS)
        assert first.returncode == 0, errors.decode(errors="replace")[-500:]
    assert differing_tables(database_state(database), states.after) == []
    # The refused run logged itself beside the database; the first run folded it into audit_log before its commit.
    assert refused_reasons(database) == [second.stderr.split("changed nothing: ")[1].strip()]
    assert logged_refusals(database) == ([], 0)
    run_settlement_date(states.settlement_date, states.inbox, database)
    assert differing_tables(database_state(database), states.after) == []
