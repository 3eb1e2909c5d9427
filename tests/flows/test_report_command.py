"""`shuno report --date D --xlsx FILE`: the workbook read back, its totals equal to the database's, and exit 1 for a date never run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from flows.cli import app
from flows.workbook import COUNT_FORMAT, DAY_RECEIPT_STATUSES, FROZEN_AT, SHEETS, YEN_FORMAT
from tests.databases import read_only_database

runner = CliRunner()


def _report(database: Path, day, out: Path):
    return runner.invoke(app, ["report", "--date", day.isoformat(), "--xlsx", str(out), "--db", str(database)])


@pytest.fixture(scope="module")
def workbook(sample_nights, tmp_path_factory):
    """The workbook of the sample's last date, written by the command and read back."""
    out = tmp_path_factory.mktemp("report") / "day.xlsx"
    result = _report(sample_nights.database_after(), sample_nights.dates[-1], out)
    assert result.exit_code == 0, result.output
    return load_workbook(out)


def _scalar(database: Path, sql: str, parameters: list | None = None) -> int:
    with read_only_database(database) as connection:
        return connection.execute(sql, parameters or []).fetchone()[0]


def _total_row(sheet) -> tuple:
    """The cells of the sheet's 合計 row (its last)."""
    return next(sheet.iter_rows(min_row=sheet.max_row, values_only=True))


def test_the_workbook_has_the_declared_sheets_with_japanese_headers_and_frozen_header_rows(workbook):
    assert workbook.sheetnames == [sheet.name for sheet in SHEETS]
    arrears = workbook["滞納(税目別)"]
    assert [cell.value for cell in arrears[2]] == ["税目", "件数", "本税未納額", "督促手数料未納額", "延滞金未納額", "督促対象件数"]
    assert all(workbook[name].freeze_panes == FROZEN_AT for name in workbook.sheetnames)


RECEIVED_FIRST_SEEN = "SELECT coalesce(sum(paid_total), 0) FROM payments WHERE first_seen_on = ? AND list_contains(?, status)"
COUNTED_FIRST_SEEN = "SELECT count(*) FROM payments WHERE first_seen_on = ? AND list_contains(?, status)"
RECEIVED_DEPOSITED = "SELECT coalesce(sum(paid_total), 0) FROM payments WHERE deposited_on = ? AND confirmed_on <= ? AND list_contains(?, status)"


def test_the_days_receipts_total_what_the_database_holds_in_the_total_row_and_column(workbook, sample_nights):
    database, day, received = sample_nights.database_after(), sample_nights.dates[-1], list(DAY_RECEIPT_STATUSES)
    by_paid_day, by_deposit_day = workbook["収納日計表(納付日)"], workbook["収納日計表(入金日)"]
    assert _total_row(by_paid_day)[-1] == _scalar(database, RECEIVED_FIRST_SEEN, [day, received]) > 0
    assert _total_row(by_deposit_day)[-1] == _scalar(database, RECEIVED_DEPOSITED, [day, day, received]) > 0
    # The 合計 column of each row adds its channels (after 税目 and 件数); the 合計 row adds the rows.
    assert [cell.value for cell in by_paid_day[2]][:2] == ["税目", "件数"]
    for row in by_paid_day.iter_rows(min_row=3, values_only=True):
        assert row[-1] == sum(row[2:-1])
    assert _total_row(by_paid_day)[1] == _scalar(database, COUNTED_FIRST_SEEN, [day, received])
    assert by_paid_day.cell(by_paid_day.max_row, 1).value == "合計"


def test_the_balances_total_the_tables(workbook, sample_nights):
    database = sample_nights.database_after()
    assert _total_row(workbook["滞納(税目別)"])[1:5] == tuple(
        _scalar(database, f"SELECT {column} FROM arrears")
        for column in ("count(*)", "sum(principal_outstanding)", "sum(dunning_fee_outstanding)", "sum(late_fee)")
    )
    assert _total_row(workbook["滞納(経過月数別)"])[2] == _scalar(database, "SELECT sum(principal_outstanding) FROM arrears")
    assert _total_row(workbook["還付充当候補"])[5] == _scalar(database, "SELECT sum(refund_amount) FROM refund_candidates")
    assert _total_row(workbook["作業待ち"])[2] == _scalar(database, "SELECT count(DISTINCT payment_key) FROM work_queue")


def test_yen_cells_are_formatted_as_yen_and_counts_as_numbers(workbook):
    arrears = workbook["滞納(税目別)"]
    assert arrears.cell(3, 2).number_format == COUNT_FORMAT
    assert {arrears.cell(3, column).number_format for column in (3, 4, 5)} == {YEN_FORMAT}
    receipts = workbook["収納日計表(納付日)"]
    assert all(cell.number_format == COUNT_FORMAT for (cell,) in receipts.iter_rows(min_row=3, min_col=2, max_col=2))
    assert all(cell.number_format == YEN_FORMAT for row in receipts.iter_rows(min_row=3, min_col=3) for cell in row)


def test_the_workbook_charts_receipts_per_day_and_arrears_by_age(workbook):
    assert len(workbook["日別収納額"]._charts) == 1
    assert len(workbook["滞納(経過月数別)"]._charts) == 1


def test_an_earlier_dates_receipts_total_what_its_own_run_received_after_later_dates_ran(sample_nights, tmp_path):
    first = sample_nights.dates[0]
    later, then = tmp_path / "later.xlsx", tmp_path / "then.xlsx"
    assert _report(sample_nights.database_after(), first, later).exit_code == 0
    assert _report(sample_nights.database_after(first), first, then).exit_code == 0
    later, then = load_workbook(later), load_workbook(then)
    # The rows may move (a payment held since has no 税目 any more); the day's total does not.
    for name in ("収納日計表(納付日)", "収納日計表(入金日)"):
        assert _total_row(later[name])[-1] == _total_row(then[name])[-1]
    assert list(later["実行の要約"].values) == list(then["実行の要約"].values)


def test_a_date_never_run_is_exit_1_and_no_file(sample_nights, tmp_path):
    out = tmp_path / "never.xlsx"
    result = _report(sample_nights.database_after(), sample_nights.dates[-1] + timedelta(days=1), out)
    assert result.exit_code == 1
    assert "never run" in result.output
    assert not out.exists()
