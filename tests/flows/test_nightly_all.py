"""nightly-all (issue 15) over a shared centre's inbox: each collector gets the tables of a run of its files alone, and one's failure stops no other."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from prefect.artifacts import Artifact
from prefect.client.schemas.objects import State

from flows.nightly import collector_database, nightly_all
from flows.sample import write_sample_files
from flows.settlement import run_settlement_date
from sample_data.common import inbox_file_name
from sample_data.sample_inbox import under_collector
from schemas.inbox import FileKind, InboxName
from schemas.tables import derived_tables
from tests.databases import read_only_database
from tests.flows.flow_records import NAMES, flow_run_log, latest_flow_run, markdown_section, prefect_stored_bytes

# Alone it took 24 s of CPU (55 s wall on 2 busy cores), 15 of them migrating Prefect's database and
# running the sample's nights, which `make test` does once for every module: `make test` starts it early.
pytestmark = pytest.mark.long_running(15)

ROOT = Path(__file__).resolve().parents[2]

# nightly-all (issue 15): the committed sample's first date under two collector codes in one inbox,
# beside two collectors that fail at once: one whose own settings file is wrong, one whose code has
# a wrong check digit. One fan-out proves both that each collector gets the tables of a run of its
# files alone and that a failure stops no other (a third failing one, its database held by another
# run, would cost one more subflow to prove the same: any failed night is a Failed state).
THE_CITY, OTHER_COLLECTOR = 132071, 132012
BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR = 132039, 132040


@dataclass(frozen=True)
class SharedCentre:
    """A shared centre's inbox, the root of its collectors' folders, the date run, the nightly-all state, and an inbox of the other collector's files alone."""

    inbox: Path
    root: Path
    day: date
    state: State
    other_inbox: Path


@pytest.fixture(scope="module")
def shared_centre(prefect_api, committed_sample, sample_inbox_folder, tmp_path_factory) -> SharedCentre:
    folder = tmp_path_factory.mktemp("shared_centre")
    inbox, root, other_inbox, day = folder / "inbox", folder / "root", folder / "other", committed_sample.settlement_dates[0]
    write_sample_files(under_collector(committed_sample, OTHER_COLLECTOR), other_inbox)
    inbox.mkdir()
    for path in [*sample_inbox_folder.iterdir(), *other_inbox.iterdir()]:
        shutil.copyfile(path, inbox / path.name)
    snapshot = inbox / inbox_file_name(FileKind.RECEIVABLES, day)
    for collector in (BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR):
        shutil.copyfile(snapshot, inbox / InboxName(FileKind.RECEIVABLES, collector, day, 1).file_name())
    (root / str(BAD_SETTINGS_COLLECTOR)).mkdir(parents=True)
    (root / str(BAD_SETTINGS_COLLECTOR) / "shuno.toml").write_text("dunning_fee = -1\n", encoding="utf-8")
    state = nightly_all(day, inbox, root, ROOT / "shuno.toml", return_state=True)
    return SharedCentre(inbox, root, day, state, other_inbox)


def _derived(database: Path) -> dict[str, pl.DataFrame]:
    with read_only_database(database) as connection:
        return {table.name: connection.sql(f'SELECT * FROM "{table.name}"').pl().sort(pl.all()) for table in derived_tables()}


def test_nightly_all_gives_each_collector_the_tables_of_a_run_of_its_files_alone(shared_centre, sample_nights, tmp_path):
    day, root = shared_centre.day, shared_centre.root
    the_city, alone = _derived(collector_database(root, THE_CITY)), _derived(sample_nights.database_after(day))
    assert the_city["payments"].height > 50
    assert [name for name, table in the_city.items() if not table.equals(alone[name])] == []
    run_settlement_date(day, shared_centre.other_inbox, tmp_path / "alone.duckdb")
    other, other_alone = _derived(collector_database(root, OTHER_COLLECTOR)), _derived(tmp_path / "alone.duckdb")
    assert [name for name, table in other.items() if not table.equals(other_alone[name])] == []
    # The same city: its tables but for the collector its 仮登録 records carry.
    carried = ["collector_code", "collector_number"]
    assert set(other["provisional_payments"]["collector_code"]) == {OTHER_COLLECTOR}
    other["provisional_payments"], the_city["provisional_payments"] = (frame["provisional_payments"].drop(carried).sort(pl.all()) for frame in (other, the_city))
    assert [name for name, table in other.items() if not table.equals(the_city[name])] == []
    # Each collector's database has its own analyst copy and workbook beside it.
    for collector in (THE_CITY, OTHER_COLLECTOR):
        folder = collector_database(root, collector).parent
        assert (folder / "analyst.duckdb").is_file() and list((folder / "reports").glob("*.xlsx"))


def test_one_collectors_failure_stops_no_other_and_the_nightly_all_run_names_each_failed_one(shared_centre):
    state, day, root = shared_centre.state, shared_centre.day, shared_centre.root
    assert state.is_failed() and state.message.startswith(f"nightly-all of {day}: 2 of 4 collectors failed: ")
    nights = {night.collector: night for night in state.result(raise_on_failure=False).nights}
    outcomes = {"done": [THE_CITY, OTHER_COLLECTOR], "failed": [BAD_SETTINGS_COLLECTOR, NOT_A_COLLECTOR]}
    assert {collector: night.outcome for collector, night in nights.items()} == {collector: outcome for outcome, codes in outcomes.items() for collector in codes}
    reasons = {
        BAD_SETTINGS_COLLECTOR: f"run of {day} failed and changed nothing: settings file {root / str(BAD_SETTINGS_COLLECTOR) / 'shuno.toml'}: dunning_fee",
        NOT_A_COLLECTOR: f"{NOT_A_COLLECTOR} is not a 収納団体コード (its check digit is wrong)",
    }
    assert all(f"{collector}: {reason}" in state.message and nights[collector].message.startswith(reason) for collector, reason in reasons.items())
    logged = flow_run_log(latest_flow_run(f"nightly-all-{day}", "Failed"))
    assert {f"{THE_CITY}: done", f"{OTHER_COLLECTOR}: done"} <= set(logged)
    assert all(any(line.startswith(f"{collector}: failed: {reason}") for line in logged) for collector, reason in reasons.items())
    assert not collector_database(root, NOT_A_COLLECTOR).parent.exists()  # no subflow, no folder for a code that is none


def test_a_collectors_report_lists_its_own_files_and_counts_the_other_collectors_in_one_line(shared_centre):
    day = shared_centre.day
    artifact = Artifact.get(f"run-report-{THE_CITY}-{day.isoformat()}")
    others = f"{OTHER_COLLECTOR}: 8, {BAD_SETTINGS_COLLECTOR}: 1, {NOT_A_COLLECTOR}: 1"
    assert f"- collector {THE_CITY}; files of other collectors: 10 ({others}), left for their own runs" in artifact.data
    listed = [row[0] for row in markdown_section(artifact.data, "files")]
    assert len(listed) == 8 and all(f"_{THE_CITY}_" in name for name in listed)
    with read_only_database(collector_database(shared_centre.root, THE_CITY)) as connection:
        assert connection.sql("SELECT DISTINCT status FROM ingested_files").fetchall() == [("loaded",)]


def test_nothing_prefect_stored_names_a_person(shared_centre):
    # The subflows' runs, parameters, states, logs (the failed collectors' too) and reports, in the
    # API's SQLite file (the worker's PREFECT_HOME); this test runs last to see what the others stored.
    found = prefect_stored_bytes()
    assert f"nightly-all-{shared_centre.day}".encode() in found
    assert NAMES.findall(found) == []
