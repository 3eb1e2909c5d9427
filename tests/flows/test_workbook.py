"""The nightly report's workbook and chart: written beside the database, named in the notes, the PNG inside the Markdown."""

from __future__ import annotations

import base64
from datetime import date

import duckdb
import pytest
from openpyxl import load_workbook

from flows.report import RunReport, report_markdown
from flows.workbook import DATE_FORMAT, SHEETS, YEN_FORMAT, ReportDay, display_width, sheet_frame, with_workbook, workbook_path, write_workbook
from tests.databases import read_only_database

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(sample_nights, tmp_path_factory) -> tuple[RunReport, object]:
    """The report of the sample's last night with its workbook, written beside a database in a folder of its own."""
    database = tmp_path_factory.mktemp("nightly") / "shuno.duckdb"
    bare = RunReport(sample_nights.dates[-1], "heading", ("analyst copy: x",), ())
    with read_only_database(sample_nights.database_after()) as connection:
        return with_workbook(bare, connection, database), database


def test_the_workbook_is_written_beside_the_database_and_named_in_the_notes(report):
    found, database = report
    out = workbook_path(database, found.settlement_date)
    assert out.is_file() and out.parent == database.parent / "reports"
    assert found.notes[-1] == f"workbook: {out}"


def test_the_artifact_carries_the_chart_as_a_png_inside_its_text_linking_nowhere(report):
    found, _ = report
    markdown = report_markdown(found)
    image = next(line for line in markdown.splitlines() if line.startswith("!["))
    assert base64.b64decode(image.split("base64,", 1)[1].rstrip(")")).startswith(PNG_SIGNATURE)
    assert "http" not in markdown


def test_a_report_without_a_completed_run_notes_the_workbook_was_not_written(sample_nights, tmp_path):
    bare = RunReport(sample_nights.dates[-1].replace(year=2000), "heading", (), ())
    with read_only_database(sample_nights.database_after()) as connection:
        found = with_workbook(bare, connection, tmp_path / "shuno.duckdb")
    assert found.notes[0].startswith("workbook not written") and found.pictures == ()


def test_a_japanese_character_takes_two_columns():
    assert display_width("01 ATM") == 6
    assert display_width("滞納") == 4


ADDED_SHEETS = tuple(sheet for sheet in SHEETS if sheet.name in ('配信状況', '入金照合'))


def test_a_sheet_is_one_entry_of_sql_headers_and_yen_columns(tmp_path):
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE deliveries (settlement_date DATE, kind VARCHAR, status VARCHAR, delivery_numbers INTEGER[], reason VARCHAR)")
        connection.execute(
            "INSERT INTO deliveries VALUES ('2026-06-04', 'NOFU_NYUKIN', 'missing', [], '=no file'), "
            "('2026-06-05', 'NOFU_NYUKIN', 'received', [1, 2], NULL), ('2026-06-08', 'NOFU_NYUKIN', 'received', [1], NULL)"
        )
        connection.execute("CREATE TABLE deposit_reconciliation (deposited_on DATE, credited_amount BIGINT, delivered_amount BIGINT, difference BIGINT, status VARCHAR)")
        connection.execute("INSERT INTO deposit_reconciliation VALUES ('2026-06-05', 101000, 100000, 1000, 'differs')")
        day = ReportDay(date(2026, 6, 5), date(2026, 6, 5), (date(2026, 6, 5),))
        frames = {sheet.name: sheet_frame(connection, sheet, day) for sheet in ADDED_SHEETS}
    workbook = load_workbook(write_workbook(day, frames, tmp_path / "added.xlsx", ADDED_SHEETS))
    deliveries, reconciliation = workbook["配信状況"], workbook["入金照合"]
    assert [cell.value for cell in deliveries[2]] == ["処理対象日", "種別", "状態", "配信番号", "理由"]
    assert [row[1:] for row in deliveries.iter_rows(min_row=3, values_only=True)] == [
        ("NOFU_NYUKIN", "missing", None, "=no file"),  # an empty list is an empty cell
        ("NOFU_NYUKIN", "received", "1, 2", None),
    ]
    assert deliveries["A3"].number_format == DATE_FORMAT and deliveries["E3"].data_type == "s"
    assert reconciliation["D3"].value == 1000 and reconciliation["D3"].number_format == YEN_FORMAT
