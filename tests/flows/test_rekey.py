"""`shuno rekey`: the database and its backups under a new key without losing a row; a kill at either stage loses nothing."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from flows.backups import backups, take_backup
from flows.database import connect, connect_read_only, open_database
from flows.keys import KEY_FILE_VARIABLE, DatabaseKeyError, new_key, read_key, write_key
from flows.pause import REKEY_STAGES
from flows.rekey import rekey_database
from tests.flows.killed_runs import database_state, differing_tables, kill, paused_command
from tests.without_pandas import PYTHON_WITHOUT_PANDAS

REKEY = "import sys, pathlib; from flows.rekey import rekey_database; rekey_database(pathlib.Path(sys.argv[1]))"


@pytest.fixture
def keyed(sample_nights, tmp_path, monkeypatch):
    """A copy of the sample's last database with one backup, under a key of its own (SHUNO_KEY_FILE), and its state."""
    key = tmp_path / "city.key"
    shutil.copyfile(os.environ[KEY_FILE_VARIABLE], key)
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(key))
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    connection = connect(database)
    take_backup(connection, database, kept=7)
    connection.close()
    return database, key, database_state(database, read_only=True)


def _opens_under(path, key_text) -> bool:
    try:
        open_database(path, read_only=True, key=key_text).close()
    except DatabaseKeyError:
        return False
    return True


def test_a_rekey_keeps_every_row_and_only_the_new_key_opens_the_database_and_its_backups(keyed):
    database, key, state = keyed
    old = read_key(key)
    assert rekey_database(database) == 2
    new = read_key(key)
    assert new != old and (key.stat().st_mode & 0o777) == 0o600
    assert differing_tables(database_state(database, read_only=True), state) == []
    for path in [database, backups(database)[0].path]:
        assert _opens_under(path, new) and not _opens_under(path, old)
    with connect_read_only(database) as connection:
        assert connection.execute("SELECT count(*) FROM audit_log WHERE command = 'shuno rekey'").fetchall() == [(1,)]


@pytest.mark.parametrize("stage", REKEY_STAGES)
def test_a_rekey_killed_at_a_stage_loses_no_row_and_the_database_opens(keyed, stage):
    database, key, state = keyed
    old = read_key(key)
    with paused_command(dict(os.environ), [*PYTHON_WITHOUT_PANDAS, "-c", REKEY, str(database)], stage) as rekey:
        kill(rekey)
    # Before its commit point the old key still opens the file; after it, the first open finishes the rekey.
    assert differing_tables(database_state(database, read_only=True), state) == []
    assert (read_key(key) == old) == (stage == REKEY_STAGES[0])
    assert _opens_under(backups(database)[0].path, read_key(key))
    rekey_database(database)
    assert differing_tables(database_state(database, read_only=True), state) == []


def test_a_plain_database_from_before_encryption_is_encrypted_by_a_rekey(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(tmp_path / "city.key"))
    database = tmp_path / "shuno.duckdb"
    with duckdb.connect(str(database)) as plain:
        plain.execute("CREATE TABLE runs AS SELECT 'MARKER-RUN-0123456789' AS run_id")
    with pytest.raises(DatabaseKeyError, match="not encrypted"):
        write_key(tmp_path / "city.key", new_key())
        connect_read_only(database)
    rekey_database(database)
    with connect_read_only(database) as connection:
        assert connection.execute("SELECT run_id FROM runs").fetchall() == [("MARKER-RUN-0123456789",)]
    assert b"MARKER-RUN-0123456789" not in database.read_bytes()
