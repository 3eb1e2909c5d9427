"""The key of the database (SPEC §8): made beside it on a fresh checkout, a missing or wrong one a line that changes nothing; owner-only files whatever the umask."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flows.audit import audit_entry
from flows.backups import backup_folder, backups, take_backup
from flows.database import connect, connect_read_only, open_database
from flows.keys import KEY_FILE_VARIABLE, DatabaseKeyError, key_path, new_key, write_key
from flows.lock import acquire_run_lock, lock_path
from flows.refusals import append_refusal, refusal_log_path
from tests.flows.killed_runs import ROOT
from tests.without_pandas import PYTHON_WITHOUT_PANDAS

LOOSEST_UMASK = 0o000


@pytest.fixture
def fresh_checkout(monkeypatch, tmp_path) -> Path:
    """A database path in a folder that does not exist yet, no SHUNO_KEY_FILE, and the loosest umask."""
    monkeypatch.delenv(KEY_FILE_VARIABLE)
    previous = os.umask(LOOSEST_UMASK)
    yield tmp_path / "data" / "shuno.duckdb"
    os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_fresh_checkout_makes_an_owner_only_key_beside_the_database_with_one_warning(fresh_checkout, capsys):
    connect(fresh_checkout).close()
    key = key_path(fresh_checkout)
    assert key == fresh_checkout.with_name("shuno.duckdb.key")
    assert (_mode(key), _mode(fresh_checkout), _mode(fresh_checkout.parent)) == (0o600, 0o600, 0o700)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "production keeps its key elsewhere" in warning[0] and KEY_FILE_VARIABLE in warning[0]
    connect(fresh_checkout).close()
    assert capsys.readouterr().err == ""  # made once


def test_the_lock_refusal_log_and_backups_are_owner_only_whatever_the_umask(fresh_checkout):
    connection = connect(fresh_checkout)
    connection.execute("INSERT INTO runs (run_id, status) VALUES ('R1', 'completed')")
    backup = take_backup(connection, fresh_checkout, kept=2)
    connection.close()
    with acquire_run_lock(fresh_checkout):
        pass
    append_refusal(fresh_checkout, audit_entry("shuno run", "refused", {"settlement_date": "2026-05-13"}, reason="held"))
    modes = {path.name: _mode(path) for path in (lock_path(fresh_checkout), refusal_log_path(fresh_checkout), backup.path)}
    assert set(modes.values()) == {0o600}, modes
    assert _mode(backup_folder(fresh_checkout)) == 0o700
    # Nothing shuno left beside the database (its write-ahead log, spill folder) is readable by others.
    assert [path.name for path in fresh_checkout.parent.rglob("*") if path.stat().st_mode & 0o077] == []


def test_a_missing_key_is_one_line_and_changes_nothing(sample_nights, tmp_path, monkeypatch):
    database = sample_nights.copy_after(sample_nights.dates[0], tmp_path / "shuno.duckdb")
    before = database.read_bytes()
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(tmp_path / "nowhere.key"))
    for opening in (connect, connect_read_only):
        with pytest.raises(DatabaseKeyError, match="does not exist") as refused:
            opening(database)
        assert "\n" not in str(refused.value)
    assert database.read_bytes() == before and not (tmp_path / "nowhere.key").exists()


def test_a_wrong_key_is_one_line_that_names_no_key_and_changes_nothing(sample_nights, tmp_path, monkeypatch):
    database = sample_nights.copy_after(sample_nights.dates[0], tmp_path / "shuno.duckdb")
    before = database.read_bytes()
    wrong = new_key()
    write_key(tmp_path / "wrong.key", wrong)
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(tmp_path / "wrong.key"))
    with pytest.raises(DatabaseKeyError, match="does not open") as refused:
        open_database(database)
    assert wrong not in str(refused.value) and "\n" not in str(refused.value)
    (tmp_path / "junk.key").write_text("not a key\n")
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(tmp_path / "junk.key"))
    with pytest.raises(DatabaseKeyError, match="not a shuno key"):
        open_database(database)
    assert database.read_bytes() == before


def test_the_command_line_says_a_wrong_key_in_one_line(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[0], tmp_path / "shuno.duckdb")
    write_key(tmp_path / "wrong.key", new_key())
    environment = os.environ | {KEY_FILE_VARIABLE: str(tmp_path / "wrong.key")}
    done = subprocess.run([*PYTHON_WITHOUT_PANDAS, "-m", "flows.cli", "pending", "--db", str(database)], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "does not open" in done.stderr, done.stderr[-300:]


def test_a_backup_is_consistent_the_oldest_go_and_half_written_copies_are_not_backups(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    connection = connect(database)
    taken = [take_backup(connection, database, kept=2) for _ in range(3)]
    runs = connection.execute("SELECT count(*) FROM runs").fetchall()
    connection.close()
    (backup_folder(database) / f".{taken[-1].name}.partial").write_bytes(b"half")
    assert [backup.name for backup in backups(database)] == [backup.name for backup in taken[1:]]
    # The session's key is SHUNO_KEY_FILE: the backup opens under the database's key.
    with connect_read_only(taken[-1].path) as copy:
        assert copy.execute("SELECT count(*) FROM runs").fetchall() == runs
