"""The database brought to the declared tables: created when new, columns added to an older one, nothing done when as declared."""

from __future__ import annotations

from flows.database import connect, open_database, stored_tables
from schemas.tables import all_tables, schema_statements

COMMENTS = "SELECT comment FROM duckdb_columns() WHERE table_name = ? AND column_name = ?"


def test_a_new_database_has_every_table_and_then_needs_no_statement(tmp_path):
    connection = connect(tmp_path / "shuno.duckdb")
    stored = stored_tables(connection)
    assert {table.name for table in all_tables()} <= set(stored)
    assert [statement for table in all_tables() for statement in schema_statements(table, stored[table.name])] == []
    connection.close()


def test_an_older_database_gains_the_new_columns_with_their_comments_and_keeps_its_rows(tmp_path):
    database = tmp_path / "shuno.duckdb"
    connect(database).close()
    with open_database(database) as older:
        older.execute('ALTER TABLE arrears DROP COLUMN late_fee_exempted')
        older.execute("INSERT INTO runs (run_id, status) VALUES ('R1', 'completed')")
        older.execute("COMMENT ON COLUMN payments.status IS 'old words'")
    connection = connect(database)
    assert connection.execute(COMMENTS, ["arrears", "late_fee_exempted"]).fetchall() == [("減免期間により課さない延滞金",)]
    assert connection.execute(COMMENTS, ["payments", "status"]).fetchall() != [("old words",)]
    assert connection.execute("SELECT run_id FROM runs").fetchall() == [("R1",)]
    connection.close()
