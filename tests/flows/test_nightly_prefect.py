"""The flows' own Prefect side: the night a schedule gives, the API served from the process, the retried listing of the inbox, and PREFECT_HOME."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prefect import flow
from prefect.artifacts import Artifact
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ANALYTICS_ENABLED, get_current_settings, temporary_settings
from prefect.settings import Settings as PrefectSettings

from flows.nightly import local_prefect_api, nightly, readable_date_files, yesterday_in_tokyo
from tests.flows.flow_records import NAMES, prefect_stored_bytes
from tests.prefect_homes import migrated_prefect_home

# The flows here run against the module's Prefect API (tests/conftest.py `prefect_api`), but for the
# first test's, which serves its own: it runs before the module's API starts, as `shuno run` does in a
# process without one (a second server in the process would find Prefect's event stream, a global of
# its server module, running on the other server's event loop).


@pytest.fixture(scope="module")
def first_night(committed_sample) -> date:
    """The sample's first settlement date."""
    return committed_sample.settlement_dates[0]


@pytest.fixture(scope="module")
def night_without_files(committed_sample) -> date:
    """The day after the sample's last night: no file of the sample's is for it."""
    return committed_sample.settlement_dates[-1] + timedelta(days=1)


def test_without_a_prefect_api_the_flow_runs_against_one_served_from_this_process(prefect_home, migrated_prefect_database, sample_inbox_folder, night_without_files, tmp_path):
    # A night without files into a new database: what is tested is where the flow reports, not what it loads.
    day = night_without_files
    migrated_prefect_home(prefect_home, migrated_prefect_database)  # the API's database, as the module's API starts from
    with temporary_settings(updates={PREFECT_SERVER_ANALYTICS_ENABLED: False}, restore_defaults={PREFECT_API_URL}):
        assert PREFECT_API_URL.value() is None
        with local_prefect_api():
            assert PREFECT_API_URL.value().startswith("http://127.0.0.1:")
            summary = nightly(day, sample_inbox_folder, tmp_path / "shuno.duckdb")
            assert Artifact.get(f"run-report-{day.isoformat()}").description == f"run {summary.run_id} of {day} (as of {day})"
        assert PREFECT_API_URL.value() is None


def test_readable_date_files_lists_the_dates_files_and_leaves_a_missing_inbox_to_the_run(sample_inbox_folder, first_night, night_without_files, tmp_path):
    names = readable_date_files.fn(sample_inbox_folder, first_night)
    assert names and all(first_night.strftime("%Y%m%d") in name for name in names)
    assert readable_date_files.fn(sample_inbox_folder, night_without_files) == []
    assert readable_date_files.fn(tmp_path / "none", first_night) == []


def test_a_share_that_fails_once_is_read_again_but_a_missing_file_is_not(prefect_api, sample_inbox_folder, first_night, monkeypatch):
    attempts, real_open = [], Path.open

    def open_failing_first(error: OSError):
        def opened(path, *args, **kwargs):
            attempts.append(path.name)
            if len(attempts) == 1:
                raise error
            return real_open(path, *args, **kwargs)

        return opened

    quick = readable_date_files.with_options(retry_delay_seconds=0)

    @flow
    def listing() -> list[str]:
        return quick(sample_inbox_folder, first_night)

    monkeypatch.setattr(Path, "open", open_failing_first(OSError(5, "Input/output error")))
    assert listing()
    assert attempts.count(attempts[0]) == 2
    attempts.clear()
    monkeypatch.setattr(Path, "open", open_failing_first(FileNotFoundError(2, "No such file")))
    with pytest.raises(FileNotFoundError):
        listing()
    assert len(attempts) == 1


def test_yesterday_is_taken_in_tokyo():
    # 2026-05-12 16:30 UTC is 01:30 on the 13th in Tokyo: the nightly run then processes the 12th.
    assert yesterday_in_tokyo(datetime(2026, 5, 12, 16, 30, tzinfo=UTC)) == date(2026, 5, 12)
    assert yesterday_in_tokyo(datetime(2026, 5, 12, 14, 30, tzinfo=UTC)) == date(2026, 5, 11)


def test_a_nightly_run_without_a_date_processes_yesterday_in_tokyo(prefect_api, sample_inbox_folder, tmp_path):
    # A new database: the night the run takes does not depend on the nights before it, and with no
    # file for yesterday in the inbox it has nothing to rebuild (on a copy of the sample's nights,
    # months before yesterday, it rebuilt them all, confirmed past the date guard: 1.8 s of CPU).
    database = tmp_path / "shuno.duckdb"
    before = yesterday_in_tokyo()
    summary = nightly(inbox=sample_inbox_folder, database=database)
    assert summary.settlement_date in {before, yesterday_in_tokyo()}  # the run may straddle midnight


def test_prefect_keeps_what_the_tests_record_in_the_sessions_temporary_home(prefect_home):
    current = get_current_settings()
    assert current.home == prefect_home and prefect_home != Path("~/.prefect").expanduser()
    assert (current.results.local_storage_path, current.server.memo_store_path) == (prefect_home / "storage", prefect_home / "memo_store.toml")
    # What `shuno run`'s own API, or a child process, would use: a fresh read of the environment.
    fresh = PrefectSettings()
    assert fresh.server.database.connection_url.get_secret_value() == f"sqlite+aiosqlite:///{prefect_home}/prefect.db"
    assert (fresh.api.url, fresh.server.analytics_enabled) == (None, False)


def test_yesterday_in_tokyo_from_prefects_own_datetime_after_midnight_in_tokyo():
    from prefect.types._datetime import DateTime

    # 15:03 UTC on 11/26 is 00:03 on 11/27 in Tokyo: the night to process is 11/26.
    scheduled = DateTime(2026, 11, 26, 15, 3, tzinfo=ZoneInfo("UTC"))
    assert yesterday_in_tokyo(scheduled) == date(2026, 11, 26)
    assert yesterday_in_tokyo(datetime(2026, 11, 26, 14, 59, tzinfo=ZoneInfo("UTC"))) == date(2026, 11, 25)


def test_nothing_prefect_stored_names_a_person(prefect_api):
    # The flow runs, their parameters, states, logs (a failed listing's too) and reports, in the API's
    # SQLite file (the worker's PREFECT_HOME); this test runs last to see what the others stored.
    found = prefect_stored_bytes()
    assert b"listing" in found
    assert NAMES.findall(found) == []
