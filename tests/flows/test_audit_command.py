"""`shuno audit`: the operation log read without a lasting connection, refusal-log entries included, a held database named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.settlement import RunDateRefused, run_settlement_date


def test_the_log_lists_runs_and_refusals_waiting_in_the_refusal_log_and_since_filters_it(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    with pytest.raises(RunDateRefused):
        run_settlement_date(date(2027, 1, 1), sample_nights.inbox, database, today=date(2026, 12, 3))
    result = CliRunner().invoke(app, ["audit", "--db", str(database), "--json"])
    assert result.exit_code == 0
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(entry["command"], entry["outcome"]) for entry in entries].count(("shuno run", "completed")) == len(sample_nights.dates)
    assert entries[-1]["outcome"] == "refused" and "2027-01-01 is after today" in entries[-1]["reason"]
    printed = CliRunner().invoke(app, ["audit", "--db", str(database)])
    assert "refused (refusal log)" in printed.stdout
    assert CliRunner().invoke(app, ["audit", "--db", str(database), "--since", "2999-01-01", "--json"]).stdout == ""
    assert CliRunner().invoke(app, ["audit", "--db", str(database), "--since", "yesterday"]).exit_code == 2


def test_a_database_a_run_holds_is_named_with_the_holders_pid_and_the_refusal_log_still_shown(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    holder = "import sys, pathlib; from flows.database import open_database; connection = open_database(pathlib.Path(sys.argv[1])); print('open', flush=True); sys.stdin.readline()"
    with subprocess.Popen([sys.executable, "-c", holder, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout.readline() == "open\n"
        result = CliRunner().invoke(app, ["audit", "--db", str(database)])
        run.stdin.write("\n")
        run.stdin.flush()
    assert result.exit_code == 1
    assert f"a run holds {database} (pid {run.pid}) now" in result.stderr and "Traceback" not in result.output
