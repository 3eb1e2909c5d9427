"""Set-up shared by every test: what Prefect records of the tests' flow runs stays in a temporary home.

`shuno run` serves Prefect's API from its own process, and that API keeps flow runs, task runs,
logs and artifacts in `PREFECT_HOME/prefect.db`; Prefect also writes results under
`PREFECT_HOME/storage` and a memo under `PREFECT_HOME/memo_store.toml`. `PREFECT_HOME` is
`~/.prefect` unless set, so without this the tests would fill the developer's own Prefect database.

Prefect reads its settings from the environment once, when `prefect` is first imported
(`prefect.context` builds its root settings then), and the test modules import it while they are
collected, before any fixture runs: a fixture setting the environment would come too late, so the
environment is set in `pytest_configure`, before collection.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, settings

from tests.without_pandas import hide_pandas

# Every test process imports shuno as it runs where pandas is not installed (no shuno module uses it;
# pandera imports it when it is there): half a second of CPU saved in each of `make test`'s processes.
hide_pandas()

import flows.database  # noqa: E402 (after hide_pandas, as every shuno import below)
from flows.keys import KEY_BYTES, KEY_FILE_VARIABLE, write_key
from flows.settlement import run_settlement_date
from sample_data import COMMITTED_INBOX, COMMITTED_PAYMENTS, COMMITTED_SEED
from sample_data.sample_inbox import SampleInbox, sample_inbox
from schemas.rates import load_rates
from tests.prefect_homes import PREFECT_DATABASE, migrate_prefect_database, migrated_prefect_home

# The Prefect settings every test process and its children get. Analytics would call home and
# write to the SQLite file at start-up, as `shuno run` knows (flows.cli.PREFECT_DEFAULTS).
PREFECT_TEST_SETTINGS = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# A developer's own server must not receive the tests' flow runs either: tests that want one set it themselves.
PREFECT_UNSET = ("PREFECT_API_URL",)
# The tests' key: fixed, so that every worker of a run opens the databases the others wrote.
TEST_KEY = hashlib.sha256(b"shuno tests").hexdigest()[: 2 * KEY_BYTES]
PREFECT_HOME_KEY = pytest.StashKey[Path]()
SAVED_ENVIRONMENT_KEY = pytest.StashKey[dict[str, str | None]]()


def pytest_configure(config: pytest.Config) -> None:
    """Points PREFECT_HOME at a new temporary folder, before any test module imports prefect; one key opens every test database."""
    home = Path(tempfile.mkdtemp(prefix="shuno-tests-prefect-home-"))
    # One key for the session, as production names one (SHUNO_KEY_FILE): the tests copy databases
    # from folder to folder, and a key beside each would have to travel with it. The same key in
    # every xdist worker, which open the one run of the sample's nights the first worker made.
    key = home / "shuno-tests.key"
    write_key(key, TEST_KEY)
    settings = PREFECT_TEST_SETTINGS | {"PREFECT_HOME": str(home), KEY_FILE_VARIABLE: str(key)}
    config.stash[PREFECT_HOME_KEY] = home
    config.stash[SAVED_ENVIRONMENT_KEY] = {name: os.environ.get(name) for name in [*settings, *PREFECT_UNSET]}
    os.environ.update(settings)
    for name in PREFECT_UNSET:
        os.environ.pop(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restores the Prefect environment of the session's caller and removes the temporary home."""
    for name, value in config.stash[SAVED_ENVIRONMENT_KEY].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(config.stash[PREFECT_HOME_KEY], ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Puts the modules marked `long_running` first, the longest first, keeping the order of the tests within each module."""
    # `make test` hands whole modules to its workers in this order, the next to the first worker with
    # two tests or fewer left: a long module started last would leave the other workers idle while it
    # runs alone, and the longest queued behind another long one would end the run alone.
    items.sort(key=_longest_first)


def _longest_first(item: pytest.Item) -> float:
    """The sort key of `item`: minus its module's `long_running` seconds, -1 for a mark without them, 0 unmarked."""
    marker = item.get_closest_marker("long_running")
    if marker is None:
        return 0.0
    return -float(marker.args[0]) if marker.args else -1.0


@pytest.fixture(autouse=True, scope="session")
def one_duckdb_thread():
    """Every database the test processes open runs its queries on one thread."""
    # DuckDB starts a thread a core for each connection; `make test` runs a worker a core and one
    # more, so the threads of the workers' small queries wait on each other: one thread each took
    # a fifth less CPU, and the results are the same. The child processes the tests start (the
    # killed runs, `shuno run`) keep DuckDB's default, as production does.
    crypto_connection = flows.database.crypto_connection

    def one_thread(database: Path) -> duckdb.DuckDBPyConnection:
        connection = crypto_connection(database)
        connection.execute("SET threads = 1")
        return connection

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(flows.database, "crypto_connection", one_thread)
        yield


@pytest.fixture(scope="session")
def prefect_home(pytestconfig: pytest.Config) -> Path:
    """The temporary PREFECT_HOME of this test session."""
    return pytestconfig.stash[PREFECT_HOME_KEY]


@pytest.fixture(scope="session")
def migrated_prefect_database(tmp_path_factory) -> Path:
    """A Prefect database migrated once per test run (by the first worker to ask), which each new PREFECT_HOME of the tests starts from."""
    return _built_once(tmp_path_factory, "prefect_home", migrate_prefect_database) / PREFECT_DATABASE


@pytest.fixture(scope="module")
def prefect_api(prefect_home, migrated_prefect_database) -> Iterator[None]:
    """Prefect's API served from this test process while the module runs, as `shuno run` serves it, over the session's PREFECT_HOME."""
    # For the modules that run flows against a server (their runs, logs, artifacts). A thread of the
    # test process, as in production: Prefect's test harness starts a second interpreter and migrates
    # a new database (11 s of CPU), this costs about one; test_nightly took 62 s of CPU against 66
    # with the harness even given a migrated copy (one run each, on a busy machine). It stops with
    # the module, whose settings (PREFECT_API_URL) it leaves to no other module.
    # Imported here: Prefect's server takes seconds to import, and most test processes never serve it.
    from flows.nightly import local_prefect_api

    migrated_prefect_home(prefect_home, migrated_prefect_database)
    with local_prefect_api():
        yield


@pytest.fixture(scope="session")
def committed_sample() -> SampleInbox:
    """The sample the committed inbox is written from, generated once per test run: its dates, files and planted cases."""
    return sample_inbox(COMMITTED_PAYMENTS, COMMITTED_SEED, load_rates())


@pytest.fixture(scope="session")
def sample_inbox_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only copy of the committed inbox, shared by every test that runs the sample."""
    folder = tmp_path_factory.mktemp("committed_sample") / "inbox"
    _read_only_copy(COMMITTED_INBOX, folder)
    return folder


@dataclass(frozen=True)
class SampleNights:
    """The committed inbox, its settlement dates, and the database as each night's run left it (read-only files)."""

    inbox: Path
    dates: tuple[date, ...]
    databases: dict[date, Path]

    def database_after(self, night: date | None = None) -> Path:
        """The read-only database after the run of `night` (the last night by default)."""
        return self.databases[night or self.dates[-1]]

    def copy_after(self, night: date, target: Path) -> Path:
        """A writable copy, at `target`, of the database after the run of `night`."""
        return shutil.copyfile(self.database_after(night), target)  # copyfile: without the original's read-only mode


@pytest.fixture(scope="session")
def sample_nights(committed_sample, tmp_path_factory) -> SampleNights:
    """The committed sample's dates run in order once per test run, for the tests that only read or start from the result."""
    folder = _built_once(tmp_path_factory, "sample_nights", lambda folder: _run_sample_nights(committed_sample.settlement_dates, folder))
    databases = {night: folder / f"after-{night.isoformat()}.duckdb" for night in committed_sample.settlement_dates}
    return SampleNights(folder / "inbox", committed_sample.settlement_dates, databases)


def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name` that `build` filled, built by the first process of the test run to ask for it."""
    # `make test`'s workers (pytest-xdist) share it: the first to get here builds it under a lock in the
    # folder common to the run's workers (pytest-xdist's documented recipe), the others wait for it and
    # read the same files. A run without workers keeps it in its own folder.
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else tmp_path_factory.getbasetemp()
    folder = shared / name
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if folder.exists() and not (folder / "complete").exists():
            pytest.fail(f"{name} failed in another worker of this test run: its error says why")
        if not folder.exists():
            folder.mkdir()
            build(folder)
            (folder / "complete").touch()
    return folder


def _run_sample_nights(nights: tuple[date, ...], folder: Path) -> None:
    inbox = folder / "inbox"
    _read_only_copy(COMMITTED_INBOX, inbox)
    database = folder / "shuno.duckdb"
    for night in nights:
        run_settlement_date(night, inbox, database)
        # The run closed its connection, which checkpoints DuckDB's log into the file: the file is the whole database.
        after = shutil.copyfile(database, folder / f"after-{night.isoformat()}.duckdb")
        after.chmod(0o444)  # a test that wrongly wrote to it would fail, not change what the others read


def _read_only_copy(source: Path, folder: Path) -> None:
    # A copy, so that a run that wrongly wrote into its inbox could not change the repository's.
    shutil.copytree(source, folder)
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


# Hypothesis's deadline (200 ms an example) and its too-slow health check time the examples by the
# wall clock: on a busy machine a fast example can take longer and fail a correct test. No test here
# asserts speed through them. Example counts stay Hypothesis's (100) or each test's own.
settings.register_profile("shuno", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shuno")


@pytest.fixture(scope="session")
def declared_database(tmp_path_factory) -> Path:
    """A new database with every table as declared, made once per test process: tests that start from an empty one copy it."""
    # Declaring the tables in a new file costs a fifth of a second of CPU (twice that on a busy machine), copying it almost nothing.
    path = tmp_path_factory.mktemp("declared") / "shuno.duckdb"
    flows.database.connect(path).close()
    return path
