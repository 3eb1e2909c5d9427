"""The run report of a settlement date as the Excel workbook the office files (`shuno report --date D --xlsx FILE`).

The sheets are declared once, in SHEETS: each names the SQL that reads it, the transform that
shapes it, its Japanese headers and which of its columns are yen. A sheet is added with one entry.

What "the report of D" is once later dates have run: the day's figures are those of the run of D,
whatever ran since. 収納日計表 (納付日) counts the payments the run of D received first (the
納付日 files of that night, as the terminal report does), 収納日計表 (入金日) the payments whose
入金日 is D and whose 確報 had arrived by D; a payment reversed by a later 取消 or returned by a later
decision still counts on its day, so later nights do not change a day's totals. Each payment is filed under the 税目 the database gives it
now (one held since has none and moves to 未消込). Arrears, refund candidates and the work queue
exist only as of the latest run standing (CONTRACT: a table is as of the latest date): their sheets
say that 基準日 in their title, and the sheet 実行の要約 gives the totals the run of D itself stored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import polars as pl
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from flows.database import latest_completed_date
from flows.export_command import TEXT_CELL
from flows.charts import report_chart_markdown
from flows.report import RECEIVED_STATUSES, RunReport
from schemas.analyst import ARREARS_AGING
from schemas.codes import CHANNEL_CLASSES, TAX_CODES, CandidateStatus, ErrorClass, PaymentStatus, RunStatus, code_labels
from transforms.daily_totals import (
    NO_CHANNEL,
    TOTAL,
    UNMATCHED,
    coded_rows,
    receipts_by_day_and_channel,
    receipts_by_tax_and_channel,
    run_outcome_rows,
    with_total_row,
)

# The yen columns of a cross table: each channel, headed by its code (or none), and 合計; its 件数 is a count.
CROSS_TABLE_YEN = ("[0-9]*", NO_CHANNEL, TOTAL)
# The sheets the report's chart is drawn from.
PER_DAY_SHEET, AGING_SHEET = "日別収納額", "滞納(経過月数別)"
# A day's receipts: the terminal report's (applied, pending, held) and the payments taken back since,
# by a 取消 or returned by the office's decision, which were received that day all the same (the 取消
# is a line of its own 入金日, SPEC §7): a later night or decision does not change a date's figures.
DAY_RECEIPT_STATUSES = (*RECEIVED_STATUSES, PaymentStatus.REVERSED, PaymentStatus.RETURNED)
# The settlement dates the chart of receipts per day covers, the last of them the report's date.
RECENT_DATES = 30
YEN_FORMAT = '"¥"#,##0;[Red]-"¥"#,##0'
COUNT_FORMAT = "#,##0"
# Row 1 is the sheet's title, row 2 its headers: both stay in view, and so does the first column.
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3
FROZEN_AT = "B3"


@dataclass(frozen=True)
class ReportDay:
    """The date a workbook reports, the 基準日 of the tables, and the settlement dates run up to the date (oldest first)."""

    day: date
    as_of: date | None
    recent_dates: tuple[date, ...]

    def parameters(self) -> dict[str, object]:
        """The values a sheet's SQL may bind by name: $day, $since (the first recent date), $received, $completed."""
        since = self.recent_dates[0] if self.recent_dates else self.day
        return {"day": self.day, "since": since, "received": list(DAY_RECEIPT_STATUSES), "completed": RunStatus.COMPLETED.value}


@dataclass(frozen=True)
class SheetChart:
    """A column chart beside a sheet's table: of the columns `series` (None: every number column but 合計), total row left out."""

    title: str
    y_title: str
    series: tuple[str, ...] | None = None
    stacked: bool = False


def _as_read(frame: pl.DataFrame, report_day: ReportDay) -> pl.DataFrame:
    return frame


@dataclass(frozen=True)
class Sheet:
    """One sheet: its name, title (`{day}`, `{as_of}`, `{since}` filled in), the SQL that reads it (binding any of
    ReportDay.parameters by `$name`), the transform that shapes what it read, the Japanese header of each column
    (frame column → header; a column not named keeps its own name, as the channels of a cross table do), and the
    columns that are yen (shell-style patterns of the frame's column names)."""

    name: str
    title: str
    query: str
    headers: Mapping[str, str]
    yen: tuple[str, ...] = ()
    shape: Callable[[pl.DataFrame, ReportDay], pl.DataFrame] = _as_read
    chart: SheetChart | None = None


# The 税目 of each receivable, from its newest snapshot.
TAX_CODE_OF_RECEIVABLE = """
WITH tax_codes AS (
    SELECT receivable_id, arg_max(tax_code, snapshot_date) AS tax_code FROM receivable_snapshots GROUP BY receivable_id
)
"""
# The payments counted as received, with their 税目 and the days they count on: first seen (納付日
# basis), 入金日 and when their 確報 came; from the first of the recent settlement dates to the report's.
RECEIPTS = TAX_CODE_OF_RECEIVABLE + """
SELECT payments.first_seen_on AS day, payments.deposited_on, payments.confirmed_on, tax_codes.tax_code, payments.channel_class,
       count(*)::BIGINT AS payments, sum(payments.paid_total)::BIGINT AS yen
FROM payments LEFT JOIN tax_codes USING (receivable_id)
WHERE payments.first_seen_on <= $day AND payments.first_seen_on >= $since AND list_contains($received, payments.status)
GROUP BY ALL
"""
# The payments of the 入金日 whose 確報 had arrived by that date.
RECEIPTS_OF_DEPOSIT_DAY = TAX_CODE_OF_RECEIVABLE + """
SELECT tax_codes.tax_code, payments.channel_class, count(*)::BIGINT AS payments, sum(payments.paid_total)::BIGINT AS yen
FROM payments LEFT JOIN tax_codes USING (receivable_id)
WHERE payments.deposited_on = $day AND payments.confirmed_on <= $day AND list_contains($received, payments.status)
GROUP BY ALL
"""
# The analyst view's aging (months from the effective 納期限) is the one the office reads: its SQL,
# a constant over `arrears`, is read here as a subquery of the main database, not declared twice.
ARREARS_BY_TAX = f"""
SELECT tax_code, sum(receivable_count)::BIGINT AS receivables, sum(principal_outstanding)::BIGINT AS principal_outstanding,
       sum(dunning_fee_outstanding)::BIGINT AS dunning_fee_outstanding, sum(late_fee)::BIGINT AS late_fee,
       sum(dunning_due_count)::BIGINT AS dunning_due
FROM ({ARREARS_AGING}) GROUP BY tax_code ORDER BY tax_code
"""
ARREARS_BY_AGING = f"""
SELECT aging_bucket, sum(receivable_count)::BIGINT AS receivables, sum(principal_outstanding)::BIGINT AS principal_outstanding,
       sum(late_fee)::BIGINT AS late_fee
FROM ({ARREARS_AGING}) GROUP BY aging_order, aging_bucket ORDER BY aging_order
"""
REFUNDS_BY_KIND = """
SELECT kind, status, count(*)::BIGINT AS candidates, sum(overpaid_amount)::BIGINT AS overpaid_amount,
       sum(offset_amount)::BIGINT AS offset_amount, sum(refund_amount)::BIGINT AS refund_amount,
       sum(refund_interest)::BIGINT AS refund_interest
FROM refund_candidates GROUP BY kind, status ORDER BY kind, status
"""
# A payment with several suggested receivables has a row for each: counted once.
WORK_QUEUE_COUNTS = """
SELECT status, error_class, count(*)::BIGINT AS payments, sum(paid_total)::BIGINT AS yen, max(days_waiting)::BIGINT AS oldest
FROM (SELECT DISTINCT payment_key, status, error_class, paid_total, days_waiting FROM work_queue)
GROUP BY ALL ORDER BY status, error_class
"""
DELIVERIES = "SELECT settlement_date, kind, status, delivery_numbers, reason FROM deliveries WHERE settlement_date <= $day ORDER BY ALL"
# Every day the bank credited, and the recent days without a credit: the 仮登録 records migrated
# from before shuno carry 入金日 of years past, each `no_credit`, which are no news in a day's report.
RECONCILIATION = """
SELECT deposited_on, credited_amount, delivered_amount, difference, status FROM deposit_reconciliation
WHERE deposited_on <= $day AND (credited_amount IS NOT NULL OR deposited_on >= $since) ORDER BY deposited_on
"""
RUN_SUMMARY = "SELECT summary FROM runs WHERE settlement_date = $day AND status = $completed ORDER BY started_at DESC LIMIT 1"


def _first_seen_on_day(receipts: pl.DataFrame, report_day: ReportDay) -> pl.DataFrame:
    return receipts_by_tax_and_channel(receipts.filter(pl.col("day") == report_day.day), TAX_CODES, CHANNEL_CLASSES)


def _per_recent_date(receipts: pl.DataFrame, report_day: ReportDay) -> pl.DataFrame:
    return receipts_by_day_and_channel(receipts, report_day.recent_dates, CHANNEL_CLASSES)


SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "収納日計表(納付日)",
        "収納日計表 (納付日基準): 処理対象日 {day} の実行で初めて受信した納付 (消込済・未消込・保留, 後に取消・返還したものを含む), 税目 × チャネル, 円",
        RECEIPTS,
        {},
        yen=CROSS_TABLE_YEN,
        shape=_first_seen_on_day,
    ),
    Sheet(
        "収納日計表(入金日)",
        "収納日計表 (入金日基準): 入金日 {day} の納付 ({day} までに確報を受信, 消込済・未消込・保留, 後に取消・返還したものを含む), 税目 × チャネル, 円",
        RECEIPTS_OF_DEPOSIT_DAY,
        {},
        yen=CROSS_TABLE_YEN,
        shape=lambda receipts, report_day: receipts_by_tax_and_channel(receipts, TAX_CODES, CHANNEL_CLASSES),
    ),
    Sheet(
        PER_DAY_SHEET,
        "日別収納額: 直近 30 の処理対象日 ({since}〜{day}) に初めて受信した納付, チャネル別, 円",
        RECEIPTS,
        {},
        yen=CROSS_TABLE_YEN,
        shape=_per_recent_date,
        chart=SheetChart("処理対象日別・チャネル別 収納額 (円)", "円", stacked=True),
    ),
    Sheet(
        "滞納(税目別)",
        "滞納 (税目別), 基準日 {as_of}",
        ARREARS_BY_TAX,
        {
            "tax_code": "税目",
            "receivables": "件数",
            "principal_outstanding": "本税未納額",
            "dunning_fee_outstanding": "督促手数料未納額",
            "late_fee": "延滞金未納額",
            "dunning_due": "督促対象件数",
        },
        yen=("principal_outstanding", "dunning_fee_outstanding", "late_fee"),
        shape=lambda arrears, report_day: with_total_row(coded_rows(arrears, "tax_code", TAX_CODES, UNMATCHED), "tax_code"),
    ),
    Sheet(
        AGING_SHEET,
        "滞納 (納期限からの経過月数別: 1か月未満, 1〜3か月, 3〜12か月, 12か月以上), 基準日 {as_of}",
        ARREARS_BY_AGING,
        {"aging_bucket": "納期限からの経過月数", "receivables": "件数", "principal_outstanding": "本税未納額", "late_fee": "延滞金未納額"},
        yen=("principal_outstanding", "late_fee"),
        shape=lambda arrears, report_day: with_total_row(arrears, "aging_bucket"),
        chart=SheetChart("経過月数別 滞納額 (円)", "円", series=("principal_outstanding", "late_fee"), stacked=True),
    ),
    Sheet(
        "還付充当候補",
        "還付・充当候補 (種別・状態別), 基準日 {as_of}",
        REFUNDS_BY_KIND,
        {
            "kind": "種別",
            "status": "状態",
            "candidates": "件数",
            "overpaid_amount": "過誤納額",
            "offset_amount": "充当額",
            "refund_amount": "還付額",
            "refund_interest": "還付加算金",
        },
        yen=("overpaid_amount", "offset_amount", "refund_amount", "refund_interest"),
        shape=lambda refunds, report_day: with_total_row(coded_rows(refunds, "status", code_labels(CandidateStatus)), "kind"),
    ),
    Sheet(
        "作業待ち",
        "作業待ち (未消込・保留の納付, 状態・エラー区分別), 基準日 {as_of}",
        WORK_QUEUE_COUNTS,
        {"status": "状態", "error_class": "エラー区分", "payments": "件数", "yen": "金額", "oldest": "最長待ち日数"},
        yen=("yen",),
        shape=lambda queue, report_day: with_total_row(
            coded_rows(coded_rows(queue, "status", code_labels(PaymentStatus)), "error_class", code_labels(ErrorClass), ""), "status", largest=("oldest",)
        ),
    ),
    Sheet(
        "配信状況",
        "納付データの配信 (営業日・種別ごと, {day} まで)",
        DELIVERIES,
        {"settlement_date": "処理対象日", "kind": "種別", "status": "状態", "delivery_numbers": "配信番号", "reason": "理由"},
    ),
    Sheet(
        "入金照合",
        "指定金融機関の入金と納付データの照合 (入金日ごと, {day} まで: 入金報告のあった日と {since} 以降の日)",
        RECONCILIATION,
        {"deposited_on": "入金日", "credited_amount": "入金額", "delivered_amount": "納付データの額", "difference": "差額", "status": "状態"},
        yen=("credited_amount", "delivered_amount", "difference"),
    ),
    Sheet(
        "実行の要約",
        "処理対象日 {day} の実行が記録した件数と金額 (その実行の時点)",
        RUN_SUMMARY,
        {"section": "区分", "item": "項目", "value": "値"},
        shape=lambda summary, report_day: run_outcome_rows(summary),
    ),
)


class DateNeverRun(LookupError):
    """The report of a date that has no completed run standing."""


# The date's run stands: its last completed-or-voided run completed.
DATE_STANDS = """
SELECT arg_max(status, started_at) = $completed FROM runs WHERE settlement_date = $day AND status IN ($completed, $voided)
"""
RECENT_SETTLEMENT_DATES = """
SELECT DISTINCT settlement_date FROM runs WHERE status = $completed AND settlement_date <= $day ORDER BY settlement_date DESC LIMIT $count
"""


def report_day(connection: duckdb.DuckDBPyConnection, day: date) -> ReportDay:
    """The date to report with the tables' 基準日 and the recent settlement dates; DateNeverRun when no run of it stands."""
    completed, voided = RunStatus.COMPLETED.value, RunStatus.VOIDED.value
    stands = connection.execute(DATE_STANDS, {"day": day, "completed": completed, "voided": voided}).fetchone()[0]
    if not stands:
        raise DateNeverRun(f"no completed run of {day} stands in the database (never run, failed or voided)")
    recent = connection.execute(RECENT_SETTLEMENT_DATES, {"day": day, "completed": completed, "count": RECENT_DATES}).fetchall()
    return ReportDay(day, latest_completed_date(connection), tuple(sorted(row[0] for row in recent)))


def sheet_frame(connection: duckdb.DuckDBPyConnection, sheet: Sheet, report_day: ReportDay) -> pl.DataFrame:
    """The rows of one sheet: its SQL run with the parameters it names, shaped by its transform."""
    bound = {name: value for name, value in report_day.parameters().items() if f"${name}" in sheet.query}
    return sheet.shape(connection.sql(sheet.query, params=bound).pl(), report_day)


def workbook_frames(connection: duckdb.DuckDBPyConnection, day: date) -> tuple[ReportDay, dict[str, pl.DataFrame]]:
    """The report's date and every sheet's rows, by sheet name; DateNeverRun when no run of `day` stands."""
    found = report_day(connection, day)
    return found, {sheet.name: sheet_frame(connection, sheet, found) for sheet in SHEETS}


def write_workbook(report_day: ReportDay, frames: Mapping[str, pl.DataFrame], out: Path, sheets: Sequence[Sheet] = SHEETS) -> Path:
    """Writes the sheets to `out` (xlsx) and returns it."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        _fill_sheet(workbook.create_sheet(sheet.name), sheet, frames[sheet.name], report_day)
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return out


HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
DATE_FORMAT = "yyyy-mm-dd"


def _fill_sheet(worksheet: Worksheet, sheet: Sheet, frame: pl.DataFrame, report_day: ReportDay) -> None:
    since = report_day.recent_dates[0] if report_day.recent_dates else report_day.day
    worksheet.cell(TITLE_ROW, 1, sheet.title.format(day=report_day.day, as_of=report_day.as_of, since=since)).font = Font(bold=True)
    for index, name in enumerate(frame.columns, start=1):
        cell = worksheet.cell(HEADER_ROW, index, sheet.headers.get(name, name))
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    shown = _cell_values(frame)
    _write_rows(worksheet, shown)
    for index, (name, dtype) in enumerate(frame.schema.items(), start=1):
        for (cell,) in worksheet.iter_rows(min_row=FIRST_DATA_ROW, min_col=index, max_col=index):
            cell.number_format = _number_format(sheet, name, dtype)
    worksheet.freeze_panes = FROZEN_AT
    _fit_widths(worksheet, shown, sheet)
    if sheet.chart is not None and frame.height > 1:
        worksheet.add_chart(_column_chart(worksheet, sheet.chart, frame), f"{get_column_letter(frame.width + 2)}{FIRST_DATA_ROW}")


def _cell_values(frame: pl.DataFrame) -> pl.DataFrame:
    # A cell holds one value: a list (delivery numbers) is shown as its items joined.
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(pl.col(name).cast(pl.List(pl.String)).list.join(", ") for name in lists)


def _write_rows(worksheet: Worksheet, frame: pl.DataFrame) -> None:
    for row_index, row in enumerate(frame.iter_rows(), start=FIRST_DATA_ROW):
        for index, value in enumerate(row, start=1):
            cell = worksheet.cell(row_index, index, value)
            if isinstance(value, str):
                cell.data_type = TEXT_CELL


def _number_format(sheet: Sheet, name: str, dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return YEN_FORMAT if any(fnmatch(name, pattern) for pattern in sheet.yen) else COUNT_FORMAT
    return DATE_FORMAT if dtype == pl.Date else "General"


def display_width(text: str) -> int:
    """Columns `text` takes in a fixed-width font: two for a full-width (Japanese) character."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


# Excel's column width is in characters of its default font; the yen sign, separators and a margin need room too.
MARGIN = 3
WIDEST = 60


def _fit_widths(worksheet: Worksheet, frame: pl.DataFrame, sheet: Sheet) -> None:
    for index, name in enumerate(frame.columns, start=1):
        texts = [sheet.headers.get(name, name)] + [f"{value:,}" if isinstance(value, int) else str(value) for value in frame[name] if value is not None]
        worksheet.column_dimensions[get_column_letter(index)].width = min(WIDEST, max(map(display_width, texts)) + MARGIN)


def _column_chart(worksheet: Worksheet, spec: SheetChart, frame: pl.DataFrame) -> BarChart:
    chart = BarChart()
    chart.type, chart.title, chart.y_axis.title = "col", spec.title, spec.y_title
    if spec.stacked:
        chart.grouping, chart.overlap = "stacked", 100
    numbers = [name for name, dtype in frame.schema.items() if dtype.is_integer() and name != TOTAL]
    last_row = FIRST_DATA_ROW + frame.height - 2  # the 合計 row is not a category
    for name in spec.series or numbers:
        column = frame.columns.index(name) + 1
        chart.add_data(Reference(worksheet, min_col=column, min_row=HEADER_ROW, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(worksheet, min_col=1, min_row=FIRST_DATA_ROW, max_row=last_row))
    chart.width, chart.height = 24, 12
    return chart


def workbook_path(database: Path, day: date) -> Path:
    """Where a run writes the workbook of its date: the folder `reports` beside the database (sums only, no personal data)."""
    return database.parent / "reports" / f"shuno-report-{day.isoformat()}.xlsx"


def with_workbook(report: RunReport, connection: duckdb.DuckDBPyConnection, database: Path) -> RunReport:
    """The run's report with its workbook written beside the database, the workbook's path among its notes and the chart."""
    out = workbook_path(database, report.settlement_date)
    try:
        day, frames = workbook_frames(connection, report.settlement_date)
        write_workbook(day, frames, out)
        picture = report_chart_markdown(frames[PER_DAY_SHEET], frames[AGING_SHEET])
    except (OSError, DateNeverRun, ValueError) as error:
        # The run has committed and its report must still show: the workbook is the lesser part of it.
        return replace(report, notes=(*report.notes, f"workbook not written ({type(error).__name__}: {error})"))
    return replace(report, notes=(*report.notes, f"workbook: {out}"), pictures=(*report.pictures, picture))
