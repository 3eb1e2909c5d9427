"""The Prefect flows over the sample's nights: nightly per date and backfill give the same database; the run report they publish."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from prefect import flow
from prefect.artifacts import Artifact

from flows.nightly import backfill, nightly, published_report, report_from_database, settlement_dates
from flows.report import DUNNING_TITLE, RunReport
from flows.settlement import RunSummary
from tests.databases import read_only_database
from tests.flows.flow_records import NAMES, markdown_section, prefect_stored_bytes

# The longest of the nightly modules: `make test` starts it first (tests/conftest.py). Alone it took
# 29 s of CPU (61 s wall on 2 busy cores), 11 of them migrating Prefect's database, which `make test`
# does once for every module that serves Prefect's API, and 14 the flow runs of the `runs` fixture.
pytestmark = pytest.mark.long_running(30)

OUTCOME_TABLES = ["payments", "provisional_payments", "applications", "arrears", "refund_candidates", "offsets", "rejected_records", "receivables"]
# The 督促手数料 of the committed shuno.toml, which the runs below read.
DUNNING_FEE = 100


# The tests here run the sample's nights through the flows against Prefect's API, served from the
# test process for the module (tests/conftest.py `prefect_api`) as `shuno run` serves it, and read
# what those flow runs made: the databases and the reports Prefect keeps. The other nightly modules
# (tests/flows/flow_records.py) start from the sample's nights run once per test run without Prefect
# (tests/conftest.py `sample_nights`): running the dates through the flows again would cost more than it saves.


@dataclass(frozen=True)
class Runs:
    """The sample inbox, the dates run (the sample's and one with no files), the two databases and the runs' summaries.

    The nightly flow runs every date into nightly_database; the backfill database is a copy of it
    after the first BACKFILL_FROM dates, then the backfill over the rest (a backfill of every date
    would cost as many flow runs again and prove nothing more).
    """

    inbox: Path
    dates: list[date]
    nightly_database: Path
    backfill_database: Path
    summaries: list[RunSummary]
    backfill_summaries: list[RunSummary]


BACKFILL_FROM = 2


@pytest.fixture(scope="module")
def runs(prefect_api, sample_inbox_folder, committed_sample, tmp_path_factory) -> Runs:
    folder, inbox, sample = tmp_path_factory.mktemp("pipeline"), sample_inbox_folder, committed_sample
    # A day after the sample's last, with no files: it still runs and moves as_of.
    dates = settlement_dates(sample.settlement_dates[0], sample.settlement_dates[-1] + timedelta(days=1))
    nightly_database, backfill_database = folder / "nightly.duckdb", folder / "backfill.duckdb"
    summaries = []
    for day in dates:
        if day == dates[BACKFILL_FROM]:
            shutil.copyfile(nightly_database, backfill_database)
        summaries.append(nightly(day, inbox, nightly_database))
    backfill_summaries = backfill(dates[BACKFILL_FROM], dates[-1], inbox, backfill_database)
    return Runs(inbox, dates, nightly_database, backfill_database, summaries, backfill_summaries)


def _dump(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {table: connection.sql(f'SELECT * FROM "{table}"').pl().sort(pl.all()) for table in OUTCOME_TABLES}


def test_nightly_for_each_date_and_backfill_over_the_range_give_the_same_database(runs):
    expected, found = _dump(runs.nightly_database), _dump(runs.backfill_database)
    assert expected["payments"].height > 100 and expected["applications"].height > 100
    assert [table for table in OUTCOME_TABLES if not found[table].equals(expected[table])] == []
    with read_only_database(runs.backfill_database) as connection:
        completed = connection.sql("SELECT settlement_date FROM runs WHERE status = 'completed' ORDER BY started_at").fetchall()
    assert [row[0] for row in completed] == runs.dates
    assert [summary.settlement_date for summary in runs.backfill_summaries] == runs.dates[BACKFILL_FROM:]
    with read_only_database(runs.backfill_database) as connection:
        assert connection.sql("SELECT DISTINCT command FROM audit_log").fetchall() == [("flow nightly",)]
    assert runs.backfill_summaries[-1].files == []  # the day after the sample's: no file, none unrecognised


def test_each_run_publishes_its_report_with_a_row_per_file(runs):
    last_with_files = runs.backfill_summaries[-2]  # the backfill ran it last: its report is the one under the date's key
    artifact = Artifact.get(f"run-report-{last_with_files.settlement_date.isoformat()}")
    assert artifact is not None and artifact.type == "markdown"
    assert last_with_files.run_id in artifact.data
    with read_only_database(runs.backfill_database) as connection:
        ingested = connection.sql(
            "SELECT file_name, coalesce(kind, ''), record_count, rejected_count, status FROM ingested_files WHERE settlement_date = ?",
            params=[last_with_files.settlement_date],
        ).fetchall()
    rows = markdown_section(artifact.data, "files")
    published = sorted((row[0], row[1], int(row[2].replace(",", "")), int(row[4].replace(",", "")), row[7].split(" ")[0]) for row in rows)
    assert published == sorted(ingested)
    receipts = markdown_section(artifact.data, "収納日計表: receipts first seen on " + last_with_files.settlement_date.isoformat() + " by tax code and channel")
    assert receipts[-1][0] == "total" and int(receipts[-1][2].replace(",", "")) > 0


def test_no_report_names_a_person(runs):
    for day in runs.dates:
        markdown = Artifact.get(f"run-report-{day.isoformat()}").data
        assert NAMES.findall(markdown.encode()) == []


@flow
def publish_in_a_flow(report: RunReport) -> None:
    published_report.fn(report)  # artifacts belong to a flow run


def test_the_report_is_printed_and_names_no_one(runs, capsys):
    report = report_from_database.fn(runs.backfill_database, runs.backfill_summaries[-2], DUNNING_FEE)
    publish_in_a_flow(report)
    printed = capsys.readouterr().out
    assert report.heading in printed and "収納日計表" in printed and report.settlement_date.strftime("%Y%m%d") in printed
    assert NAMES.findall(printed.encode()) == []


def test_the_report_compares_balances_with_the_previous_completed_run(runs):
    report = report_from_database.fn(runs.nightly_database, runs.summaries[1], DUNNING_FEE)
    balances = {table.title: table for table in report.tables}["arrears and refund candidates, and their change since the previous completed run"]
    assert balances.columns[2] == f"previous run ({runs.dates[0]})"
    now, before, change = (int(cell.replace(",", "")) for cell in balances.rows[0][1:])
    assert now - before == change
    first = report_from_database.fn(runs.nightly_database, runs.summaries[0], DUNNING_FEE)
    assert {table.title: table for table in first.tables}[balances.title].columns[2] == "previous run (none)"


def test_the_days_receipts_add_up_to_the_payments_first_seen_that_day(runs):
    day = runs.dates[1]
    report = report_from_database.fn(runs.nightly_database, runs.summaries[1], DUNNING_FEE)
    receipts = next(table for table in report.tables if table.title.startswith("収納日計表"))
    with read_only_database(runs.nightly_database) as connection:
        expected = connection.sql(
            "SELECT count(*), sum(paid_total) FROM payments WHERE first_seen_on = ? AND status IN ('applied', 'pending', 'held')", params=[day]
        ).fetchall()[0]
    assert receipts.rows[-1][2:] == (f"{expected[0]:,}", f"{expected[1]:,}")


def test_the_published_report_shows_what_a_dunning_letter_to_each_receivable_due_one_would_add(runs):
    # The runs read the committed shuno.toml: its 督促手数料 of the ordinance.
    artifact = Artifact.get(f"run-report-{runs.dates[-1].isoformat()}")
    with read_only_database(runs.backfill_database) as connection:
        due = connection.sql("SELECT count(*) FROM arrears WHERE dunning_due").fetchall()[0][0]
    assert due > 0
    assert markdown_section(artifact.data, DUNNING_TITLE) == [[f"{due:,}", f"{DUNNING_FEE:,}", f"{due * DUNNING_FEE:,}"]]


def test_nothing_prefect_stored_names_a_person(runs):
    # Flow and task runs, their parameters, states, logs and artifacts all live in the API's SQLite
    # file (the worker's PREFECT_HOME); this test runs last to see what the others stored.
    found = prefect_stored_bytes()
    assert runs.summaries[0].run_id.encode() in found
    assert NAMES.findall(found) == []
