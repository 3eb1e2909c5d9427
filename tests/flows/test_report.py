"""The run report's 督促 table (the receivables due a 督促状 and what the ordinance's 督促手数料 would add) and its work-queue table."""

from datetime import date, datetime

import duckdb
import pytest

from flows.database import connect
from flows.report import DUNNING_TITLE, WORK_QUEUE_TITLE, decisions_table, dunning_table, work_queue_table


@pytest.fixture
def connection():
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE arrears (receivable_id VARCHAR, dunning_due BOOLEAN)")
        connection.execute("INSERT INTO arrears VALUES ('R1', true), ('R2', false), ('R3', true), ('R4', true)")
        yield connection


def test_the_dunning_table_counts_the_receivables_due_a_letter_and_the_fees_they_would_add(connection):
    table = dunning_table(connection, 100)
    assert table.title == DUNNING_TITLE
    assert table.rows == (("3", "100", "300"),)


def test_the_fee_is_the_settings_and_none_due_adds_nothing(connection):
    assert dunning_table(connection, 1_250).rows == (("3", "1,250", "3,750"),)
    connection.execute("UPDATE arrears SET dunning_due = false")
    assert dunning_table(connection, 1_250).rows == (("0", "1,250", "0"),)


def test_the_decisions_table_counts_each_kind_in_effect_revoked_and_without_effect_and_the_yen_moved(tmp_path):
    connection = connect(tmp_path / "shuno.duckdb")
    rows = [
        ("D000001", "match", True, None, 40_000),
        ("D000002", "match", False, "D000003", 0),
        ("D000003", "revoke", True, None, 0),
        ("D000004", "refunded", False, None, 0),
    ]
    for decision_id, kind, in_effect, revoked_by, moved in rows:
        connection.execute(
            "INSERT INTO decisions (decision_id, kind, decided_on, reason_code, entered_by, entered_at, in_effect, revoked_by, moved_yen) "
            "VALUES (?, ?, ?, 'X', 'tester', ?, ?, ?, ?)",
            [decision_id, kind, date(2026, 5, 13), datetime(2026, 5, 13, 9), in_effect, revoked_by, moved],
        )
    assert decisions_table(connection).rows == (("match", "1", "1", "0", "40,000"), ("refunded", "0", "0", "1", "0"), ("revoke", "1", "0", "0", "0"))
    connection.execute("DELETE FROM decisions")
    assert decisions_table(connection).rows == (("(none)", "0", "0", "0", "0"),)
    connection.close()


def test_the_work_queue_table_counts_waiting_payments_by_status_with_the_oldest_wait():
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE work_queue (payment_key VARCHAR, status VARCHAR, days_waiting BIGINT, suggestion_rank BIGINT)")
        # P1 has two suggestions: it is one payment waiting.
        connection.execute("INSERT INTO work_queue VALUES ('P1', 'pending', 3, 1), ('P1', 'pending', 3, 2), ('P2', 'held', 12, NULL), ('P3', 'pending', 1, NULL)")
        table = work_queue_table(connection)
    assert table.title == WORK_QUEUE_TITLE
    assert table.rows == (("pending", "2", "3"), ("held", "1", "12"), ("total", "3", "12"))


def test_an_empty_work_queue_is_a_total_of_none():
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE work_queue (payment_key VARCHAR, status VARCHAR, days_waiting BIGINT)")
        assert work_queue_table(connection).rows == (("total", "0", ""),)
