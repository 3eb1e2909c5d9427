"""The analyst copy: the CONTRACT tables without personal data, their comments, views that reconcile, atomic replacement."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows.analyst import AnalystCopyError, publish_analyst_copy
from flows.database import connect, open_database
from flows.decide import take_decisions
from schemas.analyst import ABOUT_COLUMNS, ANALYST_TABLES, ANALYST_VIEWS, CODE_LISTS, CODES_COLUMNS, EXCLUDED_COLUMNS
from sample_data.names import SAMPLE_NAMES
from schemas.decisions import Decision
from tests.databases import read_only_database

README = Path(__file__).resolve().parents[2] / "README.md"
HERE = "WHERE database_name = current_database() AND schema_name = 'main'"
COLUMNS = f"SELECT table_name, column_name, data_type, comment FROM duckdb_columns() {HERE}"
TABLE_COMMENTS = f"SELECT table_name, comment FROM duckdb_tables() {HERE}"
VIEW_COMMENTS = "SELECT view_name, comment FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"


@dataclass(frozen=True)
class Published:
    dates: list[date]
    database: Path
    copy: Path
    counts: dict[str, int]


NOTE = "電話で本人確認済み"


# The module's databases the tests only read, each opened once while its fixture lasts: opening one
# costs more than most of the queries on it, and the tests make about a hundred on the copy.
READERS: dict[Path, duckdb.DuckDBPyConnection] = {}


@contextmanager
def _reading(*paths: Path) -> Iterator[None]:
    """`_rows` reads `paths` through one read-only connection each until the block ends."""
    for path in paths:
        READERS[path] = read_only_database(path)
    try:
        yield
    finally:
        for path in paths:
            READERS.pop(path).close()


@pytest.fixture(scope="module")
def published(sample_nights, tmp_path_factory) -> Iterator[Published]:
    folder = tmp_path_factory.mktemp("analyst")
    database, copy = sample_nights.copy_after(sample_nights.dates[-1], folder / "shuno.duckdb"), folder / "data" / "analyst.duckdb"
    # One decision with a note, which the copy's `decisions` leaves out with who entered it.
    receivable_id = _rows(database, "SELECT receivable_id FROM arrears WHERE late_fee > 0 ORDER BY 1 LIMIT 1")[0][0]
    exempt = Decision(kind="exempt", receivable_id=receivable_id, exemption_kind="disaster", start_on=date(2026, 1, 1), reason_code="FLOOD", note=NOTE)
    take_decisions([exempt], database, today=sample_nights.dates[-1])
    counts = publish_analyst_copy(database, copy)
    with _reading(database, copy):
        yield Published(list(sample_nights.dates), database, copy, counts)


def _rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    if path in READERS:
        return READERS[path].execute(sql, params or []).fetchall()
    with read_only_database(path) as connection:
        return connection.execute(sql, params or []).fetchall()


def _count(path: Path, table: str) -> int:
    return _rows(path, f'SELECT count(*) FROM "{table}"')[0][0]


def test_the_copy_holds_every_contract_table_with_its_rows_and_no_personal_column(published):
    for table in ANALYST_TABLES:
        assert _count(published.copy, table) == _count(published.database, table) == published.counts[table], table
    assert _count(published.copy, "payments") > 100 and _count(published.copy, "rejected_records") > 0
    source_columns = {(table, column) for table, column, _, _ in _rows(published.database, COLUMNS)}
    copy_columns = {(table, column) for table, column, _, _ in _rows(published.copy, COLUMNS)}
    assert {("receivables", "payment_number"), ("provisional_payments", "payer_name"), ("rejected_records", "raw")} <= source_columns
    assert [pair for pair in copy_columns if pair[1] in EXCLUDED_COLUMNS] == []
    # Every other column of the CONTRACT tables is kept.
    views = {(view.name, name) for view in ANALYST_VIEWS for name, _ in view.column_comments}
    own = {("about", name) for name, _, _ in ABOUT_COLUMNS} | {("codes", name) for name, _, _ in CODES_COLUMNS}
    assert copy_columns - views - own == {
        pair for pair in source_columns if pair[0] in ANALYST_TABLES and pair[1] not in EXCLUDED_COLUMNS
    }
    assert "BLOB" not in {data_type for _, _, data_type, _ in _rows(published.copy, COLUMNS)}
    assert {("decisions", "note"), ("decisions", "entered_by")} <= source_columns
    assert NOTE not in str(_rows(published.copy, "SELECT * FROM decisions"))


def _text_values(path: Path) -> list[str]:
    values: list[str] = []
    with read_only_database(path) as connection:
        for table, column, data_type, _ in connection.execute(COLUMNS).fetchall():
            if data_type == "VARCHAR":
                distinct = f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
                values += [value for (value,) in connection.execute(distinct).fetchall()]
    return values


NUMBERS = "SELECT payment_number, confirmation_number FROM receivables UNION SELECT payment_number, confirmation_number FROM provisional_payments"


def test_no_name_address_or_payment_number_of_the_sample_reaches_the_copy(published):
    source_text, copy_values = "\n".join(_text_values(published.database)), _text_values(published.copy)
    copy_text = "\n".join(copy_values)
    # The scan reads every text column of every table and view of the copy, the v2 ones included.
    scanned = {table for table, _, data_type, _ in _rows(published.copy, COLUMNS) if data_type == "VARCHAR"}
    assert {"history", "codes", "collection_rate", "double_payments", "tax_certificate", "offsets_pending"} <= scanned
    assert len([name for name in SAMPLE_NAMES if name in source_text]) > 10  # the scan sees what is there
    assert [name for name in SAMPLE_NAMES if name in copy_text] == []
    numbers = _rows(published.database, NUMBERS)
    payment_numbers = {payment.strip() for payment, _ in numbers if payment and payment.strip()}
    confirmation_numbers = {confirmation.strip() for _, confirmation in numbers if confirmation and confirmation.strip()}
    assert payment_numbers and confirmation_numbers
    assert [number for number in payment_numbers if number in copy_text] == []
    # A 確認番号 is six digits: compared with whole values, not with parts of longer ones.
    assert {value.strip() for value in copy_values} & confirmation_numbers == set()


def test_comments_survive_on_tables_columns_and_views(published):
    source_tables, copy_tables = dict(_rows(published.database, TABLE_COMMENTS)), dict(_rows(published.copy, TABLE_COMMENTS))
    assert {table: copy_tables[table] for table in ANALYST_TABLES} == {table: source_tables[table] for table in ANALYST_TABLES}
    source_columns = {(table, column): comment for table, column, _, comment in _rows(published.database, COLUMNS)}
    copy_columns = {(table, column): comment for table, column, _, comment in _rows(published.copy, COLUMNS)}
    assert all(comment for comment in copy_columns.values())
    assert all(copy_columns[key] == source_columns[key] for key in copy_columns if key[0] in ANALYST_TABLES)
    assert copy_columns[("arrears", "late_fee_status")] == "見込 (本税未納) / 確定 (本税完納)"
    assert dict(_rows(published.copy, VIEW_COMMENTS)) == {view.name: view.comment for view in ANALYST_VIEWS}


# Each view against the base tables it summarises: the same rows.
RECONCILIATIONS = {
    "arrears_by_tax_code_and_aging": (
        "SELECT sum(receivable_count), sum(principal_outstanding), sum(dunning_fee_outstanding), sum(late_fee)"
        " FROM arrears_by_tax_code_and_aging",
        "SELECT count(*), sum(principal_outstanding), sum(dunning_fee_outstanding), sum(late_fee) FROM arrears",
    ),
    "receipts_by_day_and_channel": (
        "SELECT sum(payment_count), sum(paid_total), sum(principal_applied + dunning_fee_applied + late_fee_applied),"
        " sum(overpaid_amount) FROM receipts_by_day_and_channel",
        "SELECT count(*), sum(paid_total), (SELECT sum(principal_applied + dunning_fee_applied + late_fee_applied)"
        " FROM applications), sum(overpaid_amount) FROM payments WHERE status = 'applied'",
    ),
    "refund_candidates_by_kind": (
        "SELECT kind, candidate_count, overpaid_amount, refund_amount, refund_interest FROM refund_candidates_by_kind ORDER BY kind",
        "SELECT kind, count(*), sum(overpaid_amount), sum(refund_amount), sum(refund_interest) FROM refund_candidates GROUP BY kind ORDER BY kind",
    ),
    "offsets_pending": (
        "SELECT candidate_id, receivable_id, offset_total FROM offsets_pending ORDER BY ALL",
        "SELECT candidate_id, receivable_id, principal_offset + dunning_fee_offset + late_fee_offset FROM offsets"
        " WHERE status = 'proposed' ORDER BY ALL",
    ),
    "collection_rate": (
        "SELECT sum(assessed), sum(collected), max(as_of) FROM collection_rate",
        "SELECT sum(assessed), sum(collected), max(as_of) FROM history"
        " WHERE as_of = (SELECT max(as_of) FROM history) AND current_or_arrears IS NOT NULL",
    ),
    "double_payments": (
        "SELECT receivable_id, payments, overpaid_amount FROM double_payments ORDER BY ALL",
        "SELECT receivable_id, count(*), sum(overpaid_amount) FROM payments WHERE status = 'applied'"
        " GROUP BY receivable_id HAVING count(*) > 1 AND sum(overpaid_amount) > 0 ORDER BY ALL",
    ),
    "tax_certificate": (
        "SELECT sum(assessed), sum(paid + unpaid), count(*) FILTER (WHERE fully_paid) FROM tax_certificate",
        "SELECT sum(principal), sum(principal), (SELECT count(*) FROM tax_certificate WHERE unpaid = 0) FROM receivables"
        " WHERE fiscal_year BETWEEN 2024 AND 2026",
    ),
    "decisions_by_kind": (
        "SELECT kind, decision_count, moved_yen FROM decisions_by_kind ORDER BY ALL",
        "SELECT kind, count(*), sum(moved_yen) FROM decisions GROUP BY kind ORDER BY ALL",
    ),
    "pending_payments_by_error_class": (
        "SELECT status, error_class, payment_count, paid_total FROM pending_payments_by_error_class ORDER BY ALL",
        "SELECT status, error_class, count(*), sum(paid_total) FROM payments WHERE status IN ('pending', 'held') GROUP BY ALL ORDER BY ALL",
    ),
}
# Whole calendar months since the effective 納期限: 28 to 31 days make one.
AGING_DAYS = {"<1": (0, 31), "1-3": (28, 92), "3-12": (89, 365), "12+": (365, None)}
AGING = "SELECT aging_bucket, min(min_days_overdue), max(max_days_overdue) FROM arrears_by_tax_code_and_aging GROUP BY ALL"
UNBALANCED_RECEIPTS = (
    "SELECT count(*) FROM receipts_by_day_and_channel"
    " WHERE paid_total <> principal_applied + dunning_fee_applied + late_fee_applied + overpaid_amount"
)


def test_the_views_reconcile_with_the_base_tables(published):
    copy = published.copy
    assert set(RECONCILIATIONS) == {view.name for view in ANALYST_VIEWS}
    for view, (summarised, base) in RECONCILIATIONS.items():
        assert _count(copy, view) > 0, view
        assert _rows(copy, summarised) == _rows(copy, base), view
    buckets = _rows(copy, AGING)
    assert {bucket for bucket, _, _ in buckets} == set(AGING_DAYS)
    for bucket, shortest, longest in buckets:
        low, high = AGING_DAYS[bucket]
        assert shortest >= low and (high is None or longest <= high), bucket
    assert _rows(copy, UNBALANCED_RECEIPTS) == [(0,)]
    # Amounts stay BIGINT yen (a bare sum() would be HUGEINT, a float in pandas); 収納率 is a
    # two-decimal percentage and 完納 a yes or no.
    view_types = {data_type for table, _, data_type, _ in _rows(copy, COLUMNS) if table in RECONCILIATIONS}
    assert view_types <= {"VARCHAR", "BIGINT", "INTEGER", "DATE", "DECIMAL(7,2)", "BOOLEAN"}


# 個人市民税 普通徴収 of 2025, 現年, on 2026-05-13 (the sample's last date): its receivables' 本税
# and the 本税 its receipts of the 2025 会計年度 paid them (April–May receipts included), from
# the base tables; 1,459,200 / 2,331,100 = 62.597…% → 62.60.
HAND_ASSESSED = "SELECT sum(principal) FROM receivables WHERE tax_code = '010' AND fiscal_year = 2025"
HAND_COLLECTED = (
    "SELECT sum(principal_applied) FROM applications JOIN receivables USING (receivable_id)"
    " WHERE receivables.tax_code = '010' AND receivables.fiscal_year = 2025 AND applications.fiscal_year = 2025"
)
RATE_OF_010_2025 = "SELECT assessed, collected, rate FROM collection_rate WHERE tax_code = '010' AND fiscal_year = 2025 AND current_or_arrears = '現年'"


def test_the_collection_rate_of_one_tax_and_year_by_hand(published):
    assessed, collected = _rows(published.copy, HAND_ASSESSED)[0][0], _rows(published.copy, HAND_COLLECTED)[0][0]
    assert (assessed, collected) == (2_331_100, 1_459_200)
    assert _rows(published.copy, RATE_OF_010_2025) == [(2_331_100, 1_459_200, Decimal("62.60"))]


# history's rows of the latest date are the derived tables' figures: 現年 調定額 the receivables'
# 本税, 滞納 the arrears table, 収入額 the 本税 applied.
LATEST_HISTORY = (
    "SELECT sum(assessed) FILTER (WHERE current_or_arrears = '現年'), sum(collected), sum(arrears_principal), sum(arrears_late_fee)"
    " FROM history WHERE as_of = (SELECT max(as_of) FROM history)"
)
LATEST_TABLES = (
    "SELECT (SELECT sum(principal) FROM receivables WHERE fiscal_year IS NOT NULL), (SELECT sum(principal_applied) FROM applications),"
    " (SELECT sum(principal_outstanding) FROM arrears), (SELECT sum(late_fee) FROM arrears)"
)


def test_the_latest_history_rows_are_the_derived_tables_figures(published):
    assert _rows(published.copy, "SELECT DISTINCT as_of FROM history ORDER BY 1") == [(day,) for day in published.dates]
    assert _rows(published.copy, LATEST_HISTORY) == _rows(published.copy, LATEST_TABLES)


def _readme_examples() -> list[tuple[str, str]]:
    """The analyst section's examples: each SQL block and the output block printed after it."""
    section = README.read_text().split("## Analyst copy", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```\n\n```text\n(.*?)```", section, flags=re.DOTALL)


def rendered(connection: duckdb.DuckDBPyConnection, query: str) -> str:
    """A query's result as the README prints it: the column names, then one line per row, ` | ` between values."""
    result = connection.execute(query)
    lines = [[column for column, *_ in result.description]] + [[_shown(value) for value in row] for row in result.fetchall()]
    return "".join(" | ".join(line) + "\n" for line in lines)


def _shown(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.fixture(scope="module")
def plain_copy(sample_nights, tmp_path_factory) -> Path:
    """The analyst copy of the sample as `make run` leaves it (no decision taken)."""
    target = tmp_path_factory.mktemp("plain") / "analyst.duckdb"
    publish_analyst_copy(sample_nights.database_after(), target)
    return target


def test_every_readme_query_prints_what_the_readme_says_on_the_sample(plain_copy):
    examples = _readme_examples()
    assert len(examples) == 10
    with duckdb.connect(str(plain_copy), read_only=True) as connection:
        for query, output in examples:
            assert rendered(connection, query) == output, query


def test_the_copy_opens_read_only_and_refuses_writes(published):
    with read_only_database(published.copy) as connection:
        assert connection.execute("SELECT count(*) FROM arrears").fetchone()[0] > 0
        with pytest.raises(duckdb.Error, match="read-only"):
            connection.execute("DELETE FROM arrears")


READER = """
import duckdb, sys
connection = duckdb.connect(sys.argv[1], read_only=True)
print(connection.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
sys.stdin.readline()
print(connection.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
"""


def test_publishing_again_replaces_the_copy_while_readers_keep_the_one_they_opened(sample_nights, published, tmp_path):
    database, target = tmp_path / "shuno.duckdb", tmp_path / "data" / "analyst.duckdb"
    sample_nights.copy_after(published.dates[0], database)
    publish_analyst_copy(database, target)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    in_process = read_only_database(target)
    try:
        assert reader.stdout.readline().strip() == "1"
        sample_nights.copy_after(published.dates[1], database)  # the database after the next night's run
        (target.parent / ".analyst.duckdb.0123abcd.tmp").write_bytes(b"left by a publish killed mid-way")
        publish_analyst_copy(database, target)  # neither reader blocks it
        assert in_process.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        # DuckDB shares one open database per path within a process: a second connection made
        # while the first is open still reads the old copy.
        with read_only_database(target) as second:
            assert second.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        assert reader.communicate("next\n", timeout=30)[0].strip() == "1"
    finally:
        in_process.close()
        reader.kill()
    assert _count(target, "runs") == 2
    fresh = subprocess.run([sys.executable, "-c", READER, str(target)], input="\n", capture_output=True, text=True, check=True)
    assert fresh.stdout.split() == ["2", "2"]
    assert sorted(path.name for path in target.parent.iterdir()) == ["analyst.duckdb"]


def test_publishing_from_an_open_connection_leaves_it_as_it_was(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[0], tmp_path / "shuno.duckdb")
    connection = connect(database)
    attached = "SELECT database_name FROM duckdb_databases() WHERE NOT internal ORDER BY ALL"
    try:
        # The encrypted database is attached to an in-memory one (flows/database.py): both are there before, and only they after.
        assert [name for (name,) in connection.execute(attached).fetchall()] == ["memory", "shuno"]
        counts = publish_analyst_copy(connection, tmp_path / "analyst.duckdb")
        assert [name for (name,) in connection.execute(attached).fetchall()] == ["memory", "shuno"]
        assert counts["payments"] == connection.execute("SELECT count(*) FROM payments").fetchone()[0] > 0
    finally:
        connection.close()


def test_a_publish_that_fails_leaves_the_published_copy_untouched(published, tmp_path):
    target = tmp_path / "data" / "analyst.duckdb"
    publish_analyst_copy(published.database, target)
    before = target.read_bytes()
    empty = tmp_path / "empty.duckdb"
    open_database(empty).close()
    with pytest.raises(AnalystCopyError, match="no table receivables"):
        publish_analyst_copy(empty, target)
    # A failure half-way: the tables are copied, then a view cannot be created.
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(published.database.read_bytes())
    with open_database(broken) as connection:
        connection.execute("ALTER TABLE refund_candidates DROP COLUMN kind")
    with pytest.raises(duckdb.BinderException, match="kind"):
        publish_analyst_copy(broken, target)
    assert target.read_bytes() == before
    assert sorted(path.name for path in target.parent.iterdir()) == ["analyst.duckdb"]


def test_the_copy_is_read_only_and_says_what_it_is_as_of(published, sample_nights):
    assert published.copy.stat().st_mode & 0o777 == 0o444
    with read_only_database(published.database) as connection:
        last_run = connection.execute("SELECT run_id FROM runs WHERE status = 'completed' ORDER BY started_at DESC LIMIT 1").fetchall()[0][0]
    [(as_of, published_at, run_id, version)] = _rows(published.copy, "SELECT as_of, published_at, run_id, shuno_version FROM about")
    assert (as_of, run_id) == (sample_nights.dates[-1], last_run)
    assert published_at is not None and version
    assert dict(_rows(published.copy, "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'about'"))["as_of"].startswith("基準日")


def test_the_codes_table_names_every_listed_code_and_every_unknown_one_met(published):
    codes = _rows(published.copy, "SELECT code_list, code, name_ja FROM codes")
    assert len(codes) == len(set((code_list, code) for code_list, code, _ in codes))
    names = {(code_list, code): name for code_list, code, name in codes}
    for code_list in CODE_LISTS:
        assert {code: names[(code_list.name, code)] for code in code_list.names} == dict(code_list.names), code_list.name
    assert {"tax_code", "channel_class", "payment_scheme", "payment_class", "receipt_class", "error_class", "status"} <= {
        code_list for code_list, _, _ in codes
    }
    assert names[("tax_code", "010")] == "個人市民税・都民税 普通徴収"
    # The sample plants チャネル区分 09, in no list (sample_data/README.md: unknown_channel).
    assert names[("channel_class", "09")] == "不明 (09)"
    assert [row for row in codes if row[2].startswith("不明 (")] == [("channel_class", "09", "不明 (09)")]
    # Every code of every declared column has a name.
    for code_list in CODE_LISTS:
        for table, column in code_list.columns:
            met = _rows(published.copy, f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
            assert {(code_list.name, code) for (code,) in met} <= set(names), (table, column)


def test_an_unknown_code_inserted_before_publishing_is_named_unknown(published, tmp_path):
    source, copy = tmp_path / "shuno.duckdb", tmp_path / "analyst.duckdb"
    source.write_bytes(published.database.read_bytes())
    with open_database(source) as connection:
        connection.execute("UPDATE payments SET channel_class = '10' WHERE channel_class = '01'")
        connection.execute("UPDATE receivables SET tax_code = '999' WHERE receivable_id = (SELECT min(receivable_id) FROM receivables)")
    publish_analyst_copy(source, copy)
    unknown = _rows(copy, "SELECT code_list, code, name_ja FROM codes WHERE name_ja LIKE '不明 (%' ORDER BY ALL")
    assert unknown == [("channel_class", "09", "不明 (09)"), ("channel_class", "10", "不明 (10)"), ("tax_code", "999", "不明 (999)")]
    assert _rows(copy, "SELECT count(*) FROM codes WHERE code_list = 'channel_class' AND code = '01'") == [(1,)]
