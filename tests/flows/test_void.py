"""`shuno void`: a voided date is as if it had never been run, until it is run again."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.operation import OperationRefused
from flows.settlement import run_settlement_date
from flows.void import void_date
from schemas.tables import derived_tables
from tests.databases import read_only_database

STATE_TABLES = [table.name for table in derived_tables()] + ["payment_records", "provisional_records", "receivable_snapshots", "management_records", "link_records"]


def _state(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {name: connection.sql(f'SELECT * FROM "{name}"').pl().sort(pl.all()) for name in STATE_TABLES}


def _same(found: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> list[str]:
    return [name for name in STATE_TABLES if not found[name].equals(expected[name])]


def test_voiding_the_last_night_gives_the_database_of_the_night_before_and_running_it_again_restores_it(sample_nights, tmp_path):
    first, second, last = sample_nights.dates
    database = sample_nights.copy_after(last, tmp_path / "shuno.duckdb")
    result = CliRunner().invoke(app, ["void", "--date", last.isoformat(), "--reason", "WRONG_FILES", "--db", str(database)])
    assert result.exit_code == 0 and f"tables rebuilt as of {second}" in result.stdout
    assert _same(_state(database), _state(sample_nights.database_after(second))) == []
    run_settlement_date(last, sample_nights.inbox, database)
    assert _same(_state(database), _state(sample_nights.database_after(last))) == []


def test_a_date_without_a_standing_run_cannot_be_voided_and_voiding_the_only_run_empties_the_derived_tables(sample_nights, tmp_path):
    first = sample_nights.dates[0]
    database = sample_nights.copy_after(first, tmp_path / "shuno.duckdb")
    with pytest.raises(OperationRefused, match="no completed run of 2026-06-01 stands to void \\(never run\\)"):
        void_date(sample_nights.dates[0].replace(month=6, day=1), database, "TEST")
    assert void_date(first, database, "TEST").result.as_of is None
    assert all(frame.is_empty() for name, frame in _state(database).items())
    refused = CliRunner().invoke(app, ["void", "--date", first.isoformat(), "--reason", "TEST", "--db", str(database)])
    assert refused.exit_code == 1 and "(voided)" in refused.stderr
