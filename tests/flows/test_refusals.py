"""The refusal log: whole lines under concurrent appends; folded into audit_log once, emptied only after commit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from flows.audit import AuditEntry, audit_entry
from flows.database import connect
from flows.refusals import RefusalLogError, append_refusal, clear_refusals, fold_refusals, logged_refusals, refusal_log_path
from tests.databases import read_only_database

REFUSED_ROWS = "SELECT entry_id, outcome, reason FROM audit_log ORDER BY recorded_at"


def refusal(number: int) -> AuditEntry:
    return audit_entry("shuno run", "refused", {"settlement_date": "2026-05-12", "attempt": number}, reason=f"another shuno run holds the lock ({number})")


def folded_and_committed(database: Path) -> int:
    """Folds the refusal log into audit_log in one committed transaction, as a run does; returns the bytes folded."""
    connection = connect(database)
    try:
        connection.begin()
        folded_size = fold_refusals(connection, database)
        connection.commit()
    finally:
        connection.close()
    return folded_size


def audit_rows(database: Path) -> list[tuple]:
    with read_only_database(database) as connection:
        return connection.execute(REFUSED_ROWS).fetchall()


def test_an_entry_reads_back_as_it_was_written_beside_the_resolved_database(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link.duckdb").symlink_to(tmp_path / "real" / "shuno.duckdb")
    entry = refusal(1)
    append_refusal(tmp_path / "link.duckdb", entry)
    assert refusal_log_path(tmp_path / "link.duckdb") == tmp_path / "real" / "shuno.duckdb.refused.jsonl"
    entries, size = logged_refusals(tmp_path / "real" / "shuno.duckdb")
    assert entries == [entry] and AuditEntry.from_json(entry.as_json()) == entry
    assert size == refusal_log_path(tmp_path / "link.duckdb").stat().st_size > 0
    assert logged_refusals(tmp_path / "none.duckdb") == ([], 0)


def test_concurrent_refusals_append_whole_lines(tmp_path):
    database = tmp_path / "shuno.duckdb"
    entries = [refusal(number) for number in range(400)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda entry: append_refusal(database, entry), entries))
    found, _ = logged_refusals(database)
    assert sorted(entry.entry_id for entry in found) == sorted(entry.entry_id for entry in entries)


def test_a_fold_is_committed_once_even_when_the_log_outlives_the_commit(tmp_path):
    database = tmp_path / "shuno.duckdb"
    first, second = refusal(1), refusal(2)
    append_refusal(database, first)
    append_refusal(database, second)
    log = refusal_log_path(database).read_bytes()
    assert folded_and_committed(database) == len(log)
    # A run killed between its commit and the clearing leaves the log as it was.
    assert folded_and_committed(database) == len(log)
    assert audit_rows(database) == [(first.entry_id, "refused", first.reason), (second.entry_id, "refused", second.reason)]
    clear_refusals(database, len(log))
    assert refusal_log_path(database).read_bytes() == b""
    assert folded_and_committed(database) == 0 and len(audit_rows(database)) == 2


def test_a_rolled_back_fold_leaves_the_entries_for_the_next_run(tmp_path):
    database = tmp_path / "shuno.duckdb"
    entry = refusal(1)
    append_refusal(database, entry)
    connection = connect(database)
    try:
        connection.begin()
        fold_refusals(connection, database)
        connection.rollback()
    finally:
        connection.close()
    assert audit_rows(database) == [] and logged_refusals(database)[0] == [entry]
    folded_and_committed(database)
    assert audit_rows(database) == [(entry.entry_id, "refused", entry.reason)]


def test_a_refusal_appended_after_the_fold_read_the_log_is_not_cleared(tmp_path):
    database = tmp_path / "shuno.duckdb"
    early, late = refusal(1), refusal(2)
    append_refusal(database, early)
    folded_size = folded_and_committed(database)
    append_refusal(database, late)
    clear_refusals(database, folded_size)
    assert logged_refusals(database)[0] == [early, late]
    clear_refusals(database, folded_and_committed(database))
    assert [row[0] for row in audit_rows(database)] == [early.entry_id, late.entry_id]
    assert logged_refusals(database) == ([], 0)


def test_a_line_shuno_did_not_write_fails_the_fold_by_its_number_without_quoting_it(tmp_path):
    database = tmp_path / "shuno.duckdb"
    append_refusal(database, refusal(1))
    with refusal_log_path(database).open("ab") as log:
        log.write(b'{"payer_name": "\xe5\xb1\xb1\xe7\x94\xb0"}\n')
    with pytest.raises(RefusalLogError, match=r"^line 2 of the refusal log .*shuno\.duckdb\.refused\.jsonl is no shuno audit entry") as error:
        logged_refusals(database)
    assert "payer_name" not in str(error.value)
