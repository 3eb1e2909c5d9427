"""`shuno export`: a table or view of the analyst copy as CSV (BOM, Japanese headers), Parquet or xlsx, codes kept as text."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from flows.analyst import publish_analyst_copy
from flows.cli import app
from flows.export_command import header_names, write_xlsx
from flows.settlement import analyst_copy_path
from tests.databases import read_only_database

runner = CliRunner()
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def database(sample_nights, tmp_path_factory) -> Path:
    """The sample's last database, with its analyst copy published beside it."""
    database = sample_nights.database_after()
    folder = tmp_path_factory.mktemp("export")
    publish_analyst_copy(database, analyst_copy_path(folder / "shuno.duckdb"))
    return folder / "shuno.duckdb"


def _export(database: Path, *arguments: str):
    return runner.invoke(app, ["export", *arguments, "--db", str(database)])


def _copy_rows(database: Path, sql: str) -> list[tuple]:
    with read_only_database(analyst_copy_path(database)) as connection:
        return connection.execute(sql).fetchall()


def test_csv_has_a_bom_japanese_headers_and_codes_with_their_zeros(database, tmp_path):
    out = tmp_path / "receivables.csv"
    result = _export(database, "receivables", "--format", "csv", "--out", str(out), "--headers", "ja")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(BOM)
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == _copy_rows(database, "SELECT count(*) FROM receivables")[0][0]
    assert "税目コード" in rows[0] and "tax_code" not in rows[0]
    assert "010" in {row["税目コード"] for row in rows}


def test_csv_of_codes_names_the_unknown_channel(database, tmp_path):
    out = tmp_path / "codes.csv"
    assert _export(database, "codes", "--format", "csv", "--out", str(out)).exit_code == 0
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = {(row["code_list"], row["code"]): row["name_ja"] for row in csv.DictReader(file)}
    assert rows[("channel_class", "09")] == "不明 (09)" and rows[("channel_class", "01")] == "ATM"


def test_parquet_reads_back_equal_to_the_table_its_rows_sorted(database, tmp_path):
    out = tmp_path / "payments.parquet"
    assert _export(database, "payments", "--format", "parquet", "--out", str(out)).exit_code == 0
    with read_only_database(analyst_copy_path(database)) as connection:
        expected = connection.sql("SELECT * FROM payments ORDER BY ALL").arrow().read_all()
        stored_in_another_order = connection.sql("SELECT * FROM payments ORDER BY paid_total DESC").arrow().read_all()
    exported = pq.read_table(out)
    assert exported.equals(expected) and not exported.equals(stored_in_another_order)


def test_a_view_exports_too_with_japanese_headers(database, tmp_path):
    out = tmp_path / "aging.parquet"
    assert _export(database, "arrears_by_tax_code_and_aging", "--format", "parquet", "--out", str(out), "--headers", "ja").exit_code == 0
    table = pq.read_table(out)
    assert table.column_names[0] == "税目コード" and "本税未納額 (円)" in table.column_names
    assert table.num_rows == _copy_rows(database, "SELECT count(*) FROM arrears_by_tax_code_and_aging")[0][0]


def test_xlsx_holds_codes_as_text_cells(database, tmp_path):
    out = tmp_path / "receivables.xlsx"
    assert _export(database, "receivables", "--format", "xlsx", "--out", str(out), "--headers", "ja").exit_code == 0
    sheet = load_workbook(out, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    column = header.index("税目コード")
    assert len(body) == _copy_rows(database, "SELECT count(*) FROM receivables")[0][0]
    assert {row[column] for row in body} >= {"010", "040"}
    assert all(isinstance(row[column], str) for row in body)
    # Amounts stay numbers.
    assert isinstance(body[0][header.index("本税 (円)")], int)


def test_an_unknown_name_is_one_line_and_exit_1(database, tmp_path):
    out = tmp_path / "x.csv"
    result = _export(database, "no_such_table", "--format", "csv", "--out", str(out))
    assert result.exit_code == 1
    assert result.output.strip() == "shuno export: the analyst copy has no table or view 'no_such_table'"
    assert not out.exists()


def test_no_copy_is_exit_1_and_bad_usage_exit_2(database, tmp_path):
    result = runner.invoke(app, ["export", "codes", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--db", str(tmp_path / "shuno.duckdb")])
    assert result.exit_code == 1 and result.output.startswith("shuno export: no analyst copy")
    assert _export(database, "codes", "--format", "doc", "--out", str(tmp_path / "x.doc")).exit_code == 2
    assert _export(database, "codes", "--format", "csv").exit_code == 2


def test_headers_fall_back_to_the_name_and_tell_shared_comments_apart():
    assert header_names([("a", "税目"), ("b", None), ("c", ""), ("d", "金額"), ("e", "金額")]) == ["税目", "b", "c", "金額 (d)", "金額 (e)"]


def test_xlsx_writes_a_string_like_a_formula_as_text(tmp_path):
    out = tmp_path / "formula.xlsx"
    write_xlsx(pa.table({"code": ["=1+1", "007"], "yen": [1, 2]}), out)
    cells = list(load_workbook(out).active.iter_rows(min_row=2))
    assert [(cell.value, cell.data_type) for cell, _ in cells] == [("=1+1", "s"), ("007", "s")]


def test_an_unwritable_out_is_one_line_and_exit_1(database, tmp_path):
    result = _export(database, "codes", "--format", "csv", "--out", str(tmp_path / "missing" / "codes.csv"))
    assert result.exit_code == 1 and result.output.startswith("shuno export: cannot write") and len(result.output.splitlines()) == 1
