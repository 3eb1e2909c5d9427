"""`shuno status` on the sample: completed, failed (with its reason), refused and never-run dates, warnings, the latest as of."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.settlement import RunDateRefused, RunFailed, run_settlement_date


def test_status_shows_completed_failed_refused_and_never_run_dates(sample_nights, tmp_path, monkeypatch):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    first, _, last = sample_nights.dates
    with pytest.raises(RunFailed):
        run_settlement_date(date(2026, 5, 15), tmp_path / "no-inbox", database)  # fails: no inbox
    with pytest.raises(RunDateRefused):
        run_settlement_date(date(2026, 6, 30), sample_nights.inbox, database, today=date(2026, 12, 3))  # refused: the gap
    result = CliRunner().invoke(app, ["status", "--db", str(database), "--json"])
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    by_day = {row["settlement_date"]: row for row in found["dates"]}
    assert found["as_of"] == last.isoformat() and found["dates"][0]["settlement_date"] == first.isoformat()
    assert [by_day[day.isoformat()]["state"] for day in sample_nights.dates] == ["completed"] * 3
    assert by_day[last.isoformat()]["warnings"].count("rejected") == 2  # a file turned away, a file with rejected records
    assert (by_day["2026-05-15"]["state"], "is not a folder" in by_day["2026-05-15"]["reason"]) == ("failed", True)
    assert by_day["2026-05-14"]["state"] == "never run"
    assert by_day["2026-06-30"]["state"] == "refused" and "days after the latest run" in by_day["2026-06-30"]["reason"]
    assert found["dates"][-1]["settlement_date"] == found["today"]
    printed = CliRunner().invoke(app, ["status", "--db", str(database)]).stdout
    assert "2026-05-16 … 2026-06-29 (45 days)" in printed and "never run" in printed
