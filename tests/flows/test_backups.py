"""`shuno restore`: a backup put back under the run lock, in audit_log; a kill during it leaves a database that opens, as before."""

from __future__ import annotations

import os

import pytest

from flows.backups import backups, take_backup
from flows.database import connect
from flows.lock import acquire_run_lock
from flows.operation import OperationRefused
from flows.pause import RESTORE_STAGE
from flows.restore import restore_backup
from tests.databases import read_only_database
from tests.flows.killed_runs import database_state, differing_tables, kill, paused_command
from tests.without_pandas import PYTHON_WITHOUT_PANDAS

RESTORE = "import sys, pathlib; from flows.restore import restore_backup; restore_backup(pathlib.Path(sys.argv[1]), sys.argv[2], 7)"


@pytest.fixture
def two_nights(sample_nights, tmp_path):
    """A copy of the database after the last night, with a backup of the night before it (as the last run took it)."""
    database = sample_nights.copy_after(sample_nights.dates[-2], tmp_path / "shuno.duckdb")
    connection = connect(database)
    backup = take_backup(connection, database, kept=7)
    connection.close()
    database.write_bytes(sample_nights.database_after().read_bytes())
    return database, backup, database_state(sample_nights.database_after(sample_nights.dates[-2]), read_only=True)


def test_a_restore_puts_the_backup_back_keeps_the_operation_log_and_logs_itself(two_nights):
    database, backup, backed_up = two_nights
    with read_only_database(database) as connection:
        entries_before = {entry for (entry,) in connection.execute("SELECT entry_id FROM audit_log").fetchall()}
    restore_backup(database, backup.name, kept=7)
    assert differing_tables(database_state(database), backed_up) == []
    with read_only_database(database) as connection:
        logged = connection.execute("SELECT entry_id, command, outcome, parameters FROM audit_log").fetchall()
    assert entries_before <= {entry for entry, *_ in logged}
    assert [(command, outcome) for _, command, outcome, parameters in logged if backup.name in parameters] == [("shuno restore", "completed")]
    # The database as it was before the restore is a backup too: a restore can be undone.
    assert len(backups(database)) == 2


def test_a_restore_is_refused_for_an_unknown_backup_and_while_a_run_holds_the_lock(two_nights):
    database, backup, _ = two_nights
    before = database.read_bytes()
    with pytest.raises(OperationRefused, match="no backup"):
        restore_backup(database, "shuno-nothing.duckdb", kept=7)
    with acquire_run_lock(database), pytest.raises(OperationRefused, match="another shuno run holds"):
        restore_backup(database, backup.name, kept=7)
    assert database.read_bytes() == before


def test_a_restore_killed_before_its_rename_leaves_the_database_as_it_was_and_a_second_restore_completes(two_nights):
    database, backup, backed_up = two_nights
    before = database_state(database, read_only=True)
    command = [*PYTHON_WITHOUT_PANDAS, "-c", RESTORE, str(database), backup.name]
    with paused_command(dict(os.environ), command, RESTORE_STAGE) as restore:
        kill(restore)
    assert differing_tables(database_state(database), before) == []
    restore_backup(database, backup.name, kept=7)
    assert differing_tables(database_state(database), backed_up) == []
