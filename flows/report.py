"""What a run reports, as a Prefect artifact and in the terminal: counts, keys and yen only.

The report never holds a name, address, kana, 納付番号, 確認番号 or パスワード: its rows come from
the run's file outcomes and from counts and sums over the database, grouped by codes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.settlement import RunSummary
from schemas.codes import CHANNEL_CLASSES, TAX_CODES, DecisionKind, ErrorClass, FileStatus, PaymentStatus, RunStatus, code_labels

ERROR_CLASSES = code_labels(ErrorClass)
TOTAL_LABELS = {
    "principal": "principal",
    "paid_total_sum": "paid",
    "paid_principal_sum": "principal",
    "paid_late_fee_sum": "late fee",
    "paid_consumption_tax_sum": "consumption tax",
    "cancel_count": "cancels",
    "cancel_amount": "cancelled yen",
}
# The balances compared with the previous run: (summary section, key) pairs of outcome_counts.
BALANCES = [
    ("arrears", "receivables"),
    ("arrears", "principal outstanding yen"),
    ("arrears", "late fee yen"),
    ("refund candidates", "candidates"),
    ("refund candidates", "overpaid yen"),
    ("refund candidates", "offset yen"),
    ("refund candidates", "refund yen"),
]


@dataclass(frozen=True)
class ReportTable:
    """One table of a run report: a title, its column names, which columns are numbers, and rows of text."""

    title: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class RunReport:
    """A run's report: a heading line, notes (the analyst copy, the workbook), its tables and pictures (Markdown images)."""

    settlement_date: date
    heading: str
    notes: tuple[str, ...]
    tables: tuple[ReportTable, ...]
    pictures: tuple[str, ...] = ()


def file_table(summary: RunSummary) -> ReportTable:
    """Per inbox file: kind, records, accepted, rejected, warnings, declared totals and verdict."""
    rows = tuple(
        (
            outcome.file_name,
            outcome.kind or "",
            f"{outcome.record_count:,}",
            f"{outcome.accepted_count:,}",
            f"{outcome.rejected_count:,}",
            f"{outcome.warning_count:,}",
            _totals_text(outcome.totals),
            f"{outcome.status} ({outcome.reason})" if outcome.reason else outcome.status,
        )
        for outcome in summary.files
    )
    columns = ("file", "kind", "records", "accepted", "rejected", "warnings", "totals (yen)", "verdict")
    return ReportTable("files", columns, (False, False, True, True, True, True, False, False), rows)


def _totals_text(totals: dict[str, int]) -> str:
    # data_count repeats the records column; zero totals are noise.
    return ", ".join(f"{TOTAL_LABELS.get(name, name)} {value:,}" for name, value in totals.items() if value and name != "data_count")


# Not a status: payments of any status with no 確報 five business days after the 納付日, reported as one more row.
UNCONFIRMED = "unconfirmed"
PAYMENT_OUTCOMES = """
SELECT status, coalesce(error_class, '') AS error_class, count(*) AS payments, coalesce(sum(paid_total), 0)::BIGINT AS yen
FROM payments
GROUP BY ALL
UNION ALL
SELECT ?, '', count(*), coalesce(sum(paid_total), 0)::BIGINT FROM payments WHERE unconfirmed
"""
OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate([*PaymentStatus, UNCONFIRMED])}


def outcome_table(connection: duckdb.DuckDBPyConnection) -> ReportTable:
    """Payments by outcome: applied, pending by error class, held (conflicts), reversed, … and unconfirmed."""
    found = sorted(connection.execute(PAYMENT_OUTCOMES, [UNCONFIRMED]).fetchall(), key=lambda row: (OUTCOME_RANK.get(row[0], len(OUTCOME_RANK)), row[0], row[1]))
    rows = tuple((status, f"{code} {ERROR_CLASSES.get(code, '')}".strip(), f"{count:,}", f"{yen:,}") for status, code, count, yen in found)
    return ReportTable("payments by outcome (every date loaded so far)", ("outcome", "error class", "payments", "yen"), (False, False, True, True), rows)


# 収納日計表: money received on the settlement date. Payments that never moved money
# (not_completed, withdrawn) or were taken back (reversed) are left out; a payment not yet matched
# to a receivable has no tax code yet and is counted under "未消込".
RECEIVED_STATUSES = [PaymentStatus.APPLIED, PaymentStatus.PENDING, PaymentStatus.HELD]
DAILY_RECEIPTS = """
WITH tax_codes AS (
    SELECT receivable_id, arg_max(tax_code, snapshot_date) AS tax_code FROM receivable_snapshots GROUP BY receivable_id
)
SELECT coalesce(tax_codes.tax_code, '') AS code, coalesce(payments.channel_class, '') AS channel,
       count(*) AS payments, coalesce(sum(payments.paid_total), 0)::BIGINT AS yen
FROM payments LEFT JOIN tax_codes USING (receivable_id)
WHERE payments.first_seen_on = ? AND list_contains(?, payments.status)
GROUP BY code, channel
ORDER BY code = '', code, channel
"""


def receipts_table(connection: duckdb.DuckDBPyConnection, settlement_date: date) -> ReportTable:
    """収納日計表: count and yen of the payments first seen on `settlement_date`, by tax code and channel."""
    found = connection.execute(DAILY_RECEIPTS, [settlement_date, RECEIVED_STATUSES]).fetchall()
    rows = [
        (f"{code} {TAX_CODES[code]}" if code in TAX_CODES else code or "未消込", f"{channel} {CHANNEL_CLASSES.get(channel, '')}".strip() or "(none)", f"{count:,}", f"{yen:,}")
        for code, channel, count, yen in found
    ]
    rows.append(("total", "", f"{sum(row[2] for row in found):,}", f"{sum(row[3] for row in found):,}"))
    title = f"収納日計表: receipts first seen on {settlement_date} by tax code and channel"
    return ReportTable(title, ("tax code", "channel", "payments", "yen"), (False, False, True, True), tuple(rows))


PREVIOUS_RUN = """
SELECT settlement_date, summary FROM runs
WHERE status = ? AND started_at < (SELECT started_at FROM runs WHERE run_id = ?)
ORDER BY started_at DESC
LIMIT 1
"""


def balance_table(connection: duckdb.DuckDBPyConnection, summary: RunSummary) -> ReportTable:
    """Arrears and refund-candidate totals now, after the previous completed run, and the change."""
    found = connection.execute(PREVIOUS_RUN, [RunStatus.COMPLETED, summary.run_id]).fetchall()
    previous_date, previous = (found[0][0], json.loads(found[0][1]).get("outcomes", {})) if found else (None, None)
    rows = []
    for section, key in BALANCES:
        now = summary.outcome_counts.get(section, {}).get(key, 0)
        before = previous.get(section, {}).get(key) if previous is not None else None
        change = "" if before is None else f"{now - before:+,}"
        rows.append((f"{section}: {key}", f"{now:,}", "" if before is None else f"{before:,}", change))
    heading = f"previous run ({previous_date})" if previous_date else "previous run (none)"
    title = "arrears and refund candidates, and their change since the previous completed run"
    return ReportTable(title, ("balance", "now", heading, "change"), (False, True, True, True), tuple(rows))


DUNNING_DUE = "SELECT count(*) FROM arrears WHERE dunning_due"
DUNNING_TITLE = "督促: receivables due a 督促状 (dunning_due) and the 督促手数料 of the ordinance a 督促状 to each would add"


def dunning_table(connection: duckdb.DuckDBPyConnection, dunning_fee: int) -> ReportTable:
    """The receivables due a 督促状 and the yen that sending each one now would add at the ordinance's 督促手数料 (SPEC §4.3)."""
    due = connection.execute(DUNNING_DUE).fetchall()[0][0]
    columns = ("dunning_due receivables", "督促手数料 each (yen)", "would add (yen)")
    return ReportTable(DUNNING_TITLE, columns, (True, True, True), ((f"{due:,}", f"{dunning_fee:,}", f"{due * dunning_fee:,}"),))


DECISIONS_BY_KIND = """
SELECT kind, count(*) FILTER (WHERE in_effect), count(*) FILTER (WHERE revoked_by IS NOT NULL),
       count(*) FILTER (WHERE NOT in_effect AND revoked_by IS NULL), coalesce(sum(moved_yen) FILTER (WHERE in_effect), 0)::BIGINT
FROM decisions GROUP BY kind
"""
DECISIONS_TITLE = "decisions of the office (SPEC §6) the tables were rebuilt with, and the yen they moved"


def decisions_table(connection: duckdb.DuckDBPyConnection) -> ReportTable:
    """The office's decisions by kind: in effect, revoked, without effect (their payment or candidate changed since), yen moved."""
    found = {row[0]: row[1:] for row in connection.execute(DECISIONS_BY_KIND).fetchall()}
    rows = tuple((kind.value, *(f"{value:,}" for value in found[kind])) for kind in DecisionKind if kind in found)
    columns = ("kind", "in effect", "revoked", "without effect", "yen moved")
    return ReportTable(DECISIONS_TITLE, columns, (False, True, True, True, True), rows or (("(none)", "0", "0", "0", "0"),))


WORK_QUEUE = """
SELECT status, count(DISTINCT payment_key) AS payments, max(days_waiting) AS oldest
FROM work_queue
GROUP BY status
"""
WORK_QUEUE_TITLE = "work queue: payments waiting for the office (pending, held) and the longest wait since first received"


def work_queue_table(connection: duckdb.DuckDBPyConnection) -> ReportTable:
    """The payments waiting in the work queue by status (SPEC §6.2), with the oldest wait in days, and their total."""
    found = sorted(connection.execute(WORK_QUEUE).fetchall(), key=lambda row: OUTCOME_RANK.get(row[0], len(OUTCOME_RANK)))
    rows = [(status, f"{count:,}", f"{oldest:,}") for status, count, oldest in found]
    oldest = max((row[2] for row in found), default=None)
    rows.append(("total", f"{sum(row[1] for row in found):,}", "" if oldest is None else f"{oldest:,}"))
    return ReportTable(WORK_QUEUE_TITLE, ("status", "payments", "oldest wait (days)"), (False, True, True), tuple(rows))


def run_report(connection: duckdb.DuckDBPyConnection, summary: RunSummary, dunning_fee: int) -> RunReport:
    """The report of a completed run, reading the day's receipts, the arrears and the previous run from `connection`."""
    heading = f"run {summary.run_id} of {summary.settlement_date} (as of {summary.as_of})"
    tables = (
        file_table(summary),
        outcome_table(connection),
        receipts_table(connection, summary.settlement_date),
        balance_table(connection, summary),
        dunning_table(connection, dunning_fee),
        decisions_table(connection),
        work_queue_table(connection),
    )
    notes = (*attention_notes(summary), *collector_notes(summary), f"analyst copy: {summary.analyst_copy}")
    return RunReport(summary.settlement_date, heading, notes, tables)


# The deliveries and files a night cannot be trusted without: said first, before any table.
ATTENTION_STATUSES = (FileStatus.HELD, FileStatus.REJECTED, FileStatus.UNREADABLE)


def attention_notes(summary: RunSummary) -> tuple[str, ...]:
    """One line per expected delivery missing or rejected (SPEC §7), then per file held, turned away or unreadable, with its reason (names and counts only)."""
    deliveries = tuple(f"ATTENTION: {warning}" for warning in summary.delivery_warnings)
    return deliveries + tuple(
        f"ATTENTION: {outcome.file_name} {outcome.status}: {outcome.reason}" for outcome in summary.files if outcome.status in ATTENTION_STATUSES
    )


def collector_notes(summary: RunSummary) -> tuple[str, ...]:
    """In a run for one 収納団体: one line naming it and counting the date's files of other collectors, left for their own runs."""
    if summary.collector is None:
        return ()
    count = sum(summary.other_collectors.values())
    by_collector = ", ".join(f"{code:06d}: {files}" for code, files in summary.other_collectors.items())
    others = f"{count} ({by_collector}), left for their own runs" if count else "none"
    return (f"collector {summary.collector:06d}; files of other collectors: {others}",)


def unshown_report_warning(summary: RunSummary, database: Path, reason: str) -> str:
    """The one-line warning for a committed run whose report could not be shown, saying where its outcome is."""
    return (
        f"shuno: warning: run {summary.run_id} of {summary.settlement_date} completed and is committed to {database}, "
        f"but its report could not be shown ({reason}); the run need not be repeated: its outcome is in that database, "
        f"SELECT status, summary FROM runs WHERE run_id = '{summary.run_id}', and its audit_log entry"
    )


def report_markdown(report: RunReport) -> str:
    """The report as Markdown: a heading and one table per section."""
    lines = [f"# shuno nightly run {report.settlement_date}", "", report.heading, ""]
    lines += [f"- {note}" for note in report.notes]
    lines += [line for picture in report.pictures for line in ("", picture)]
    for table in report.tables:
        lines += ["", f"## {table.title}", "", _markdown_row(table.columns)]
        lines.append(_markdown_row(tuple("---:" if numeric else "---" for numeric in table.numeric)))
        lines += [_markdown_row(row) for row in table.rows]
    return "\n".join(lines) + "\n"


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


# A pipe or a log file has no width; rich would assume 80 columns and fold every file name.
UNBOUNDED_WIDTH = 400


def print_report(report: RunReport, console: Console) -> None:
    """Prints the report's tables with rich."""
    if not console.is_terminal:
        console.width = UNBOUNDED_WIDTH
    console.print(Text(report.heading))
    for note in report.notes:
        console.print(Text(note))
    for table in report.tables:
        shown = Table(title=table.title, title_justify="left")
        for name, numeric in zip(table.columns, table.numeric, strict=True):
            shown.add_column(name, justify="right" if numeric else "left", no_wrap=numeric or name == "file")
        for row in table.rows:
            shown.add_row(*(Text(cell) for cell in row))
        console.print(shown)


SHOWN_AFTER_SECONDS = 2.0


def stage_progress(console: Console) -> Callable[[str], AbstractContextManager]:
    """A `step` hook for `run_settlement_date`: a spinner while each stage runs, and a line with
    its time for the stages that took more than a couple of seconds (stage names only, no data)."""

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        with console.status(f"{name}…"):
            yield
        seconds = time.perf_counter() - started
        if seconds >= SHOWN_AFTER_SECONDS:
            console.print(f"  {name}: {seconds:.1f} s")

    return step
