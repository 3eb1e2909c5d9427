"""The nightly report's workbook and chart: written beside the database, named in the notes, the PNG inside the Markdown."""

from __future__ import annotations

import base64

import duckdb
import pytest

from flows.report import RunReport, report_markdown
from flows.workbook import display_width, with_workbook, workbook_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(sample_nights, tmp_path_factory) -> tuple[RunReport, object]:
    """The report of the sample's last night with its workbook, written beside a database in a folder of its own."""
    database = tmp_path_factory.mktemp("nightly") / "shuno.duckdb"
    bare = RunReport(sample_nights.dates[-1], "heading", ("analyst copy: x",), ())
    with duckdb.connect(str(sample_nights.database_after()), read_only=True) as connection:
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
    with duckdb.connect(str(sample_nights.database_after()), read_only=True) as connection:
        found = with_workbook(bare, connection, tmp_path / "shuno.duckdb")
    assert found.notes[0].startswith("workbook not written") and found.pictures == ()


def test_a_japanese_character_takes_two_columns():
    assert display_width("01 ATM") == 6
    assert display_width("滞納") == 4
