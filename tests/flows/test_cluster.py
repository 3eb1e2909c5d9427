"""The parts of a rebuild on a local Dask cluster of two workers: the results of the process, in order, a bounded number out at once.

A failing part fails its flow in one line naming its position; a remote cluster needs a Prefect API its workers reach.
A small city rebuilt in parts on the cluster has the tables of one pass (the rebuild in parts in
this process: tests/flows/test_partitioned.py). One cluster serves the module: starting one costs
seconds of wall time and each worker process imports Prefect and the rebuild.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from prefect import flow

from flows.cluster import ClusterUnreachable, PartFailed, check_prefect_api, dask_runner_options, results_of_parts
from schemas.settings import Settings
from tests.flows.small_city import AS_OF, assert_same_tables, rebuilt, small_city_database

pytestmark = pytest.mark.long_running

# Functions from libraries, not this module: the workers unpickle them by reference, and a test
# module imported by pytest (--import-mode=importlib) is not importable there by its name.
WITH_TWICE = operator.methodcaller("with_columns", (pl.col("amount") * 2).alias("twice"))
AMOUNTS_AS_NUMBERS = operator.methodcaller("cast", {"name": pl.Int64})
# A name a test would see leak into an error: it must never.
RESIDENT = "山田太郎"


def _parts() -> list[pl.DataFrame]:
    return [pl.DataFrame({"taxpayer": [f"T{part}{row}" for row in range(part + 1)], "amount": list(range(part + 1))}) for part in range(5)]


@pytest.fixture(scope="module")
def cluster_settings(prefect_api) -> Iterator[Settings]:
    """Settings naming a Dask scheduler of two worker processes on this machine, started once for the module, and a Prefect API (tests/conftest.py)."""
    # Imported here: only this fixture starts a cluster, and Dask takes seconds to import.
    from distributed import LocalCluster

    # The cluster `local:2` starts for a run, started here once and named by its address.
    with LocalCluster(**dask_runner_options("local:2")["cluster_kwargs"]) as cluster:
        yield Settings(cluster_address=cluster.scheduler_address)


def _counted(parts: list[pl.DataFrame], taken: list[int]) -> Iterator[pl.DataFrame]:
    for part in parts:
        taken.append(len(taken))
        yield part


def _results_and_most_out(settings: Settings, in_flight: int = 2) -> tuple[list[pl.DataFrame], int]:
    """The results over the parts, and the most parts ever taken and not yet consumed (the one being consumed included)."""
    taken: list[int] = []
    results, most_out = [], 0
    for result in results_of_parts(WITH_TWICE, _counted(_parts(), taken), settings, in_flight):
        results.append(result)
        most_out = max(most_out, len(taken) - (len(results) - 1))
    return results, most_out


def test_in_process_the_results_come_in_order_one_part_at_a_time_without_importing_dask(monkeypatch):
    # Importing prefect_dask now would fail: the in-process path never does.
    monkeypatch.setitem(sys.modules, "prefect_dask", None)
    results, most_out = _results_and_most_out(Settings())
    assert most_out == 1
    for part, result in zip(_parts(), results, strict=True):
        assert_frame_equal(result, WITH_TWICE(part))


def test_on_two_workers_the_results_are_those_of_the_process_in_order_with_at_most_in_flight_parts_out(cluster_settings):
    in_process, _ = _results_and_most_out(Settings())
    on_cluster, most_out = _results_and_most_out(cluster_settings, in_flight=2)
    assert most_out == 2
    for expected, result in zip(in_process, on_cluster, strict=True):
        assert_frame_equal(result, expected)


def _parts_with_a_resident_in_part_two() -> list[pl.DataFrame]:
    return [pl.DataFrame({"name": ["1"]}), pl.DataFrame({"name": ["2"]}), pl.DataFrame({"name": [RESIDENT]})]


def test_a_failing_part_on_the_cluster_fails_the_flow_in_one_line_naming_the_part_and_no_record(cluster_settings):
    @flow(name="parts")
    def parts_flow(settings: Settings) -> int:
        return len(list(results_of_parts(AMOUNTS_AS_NUMBERS, _parts_with_a_resident_in_part_two(), settings)))

    state = parts_flow(cluster_settings, return_state=True)
    assert state.is_failed()
    with pytest.raises(PartFailed) as failed:
        state.result()
    message = str(failed.value)
    assert message == "part 2 failed: InvalidOperationError (details withheld: they may quote record values)"
    assert RESIDENT not in state.message and "\n" not in message


@pytest.fixture(scope="module")
def small_city(tmp_path_factory) -> Path:
    """A stored city of 600 receivables (tests/flows/small_city.py)."""
    return small_city_database(tmp_path_factory.mktemp("small_city") / "shuno.duckdb")


def test_a_small_city_rebuilt_in_parts_on_a_local_dask_cluster_has_the_tables_of_one_pass(small_city, cluster_settings):
    assert_same_tables(rebuilt(small_city, AS_OF, 1), rebuilt(small_city, AS_OF, 2, cluster_address=cluster_settings.cluster_address))


def test_a_failing_part_in_process_raises_the_same_line():
    with pytest.raises(PartFailed, match=r"^part 2 failed: InvalidOperationError \(details withheld") as failed:
        list(results_of_parts(AMOUNTS_AS_NUMBERS, _parts_with_a_resident_in_part_two(), Settings()))
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_in_flight_below_one_is_refused():
    with pytest.raises(ValueError, match="in_flight must be at least 1, got 0"):
        results_of_parts(WITH_TWICE, _parts(), Settings(), in_flight=0)


def test_a_remote_cluster_needs_a_prefect_api_its_workers_reach():
    check_prefect_api("local:2", "http://127.0.0.1:4200/api")
    check_prefect_api("tls://scheduler.city.example:8786", "https://prefect.city.example/api")
    with pytest.raises(ClusterUnreachable, match=r"^the workers of tcp://10.0.0.5:8786 cannot reach the Prefect API at http://127.0.0.1:4200/api: set PREFECT_API_URL"):
        check_prefect_api("tcp://10.0.0.5:8786", "http://127.0.0.1:4200/api")
    with pytest.raises(ClusterUnreachable, match="need a Prefect API: PREFECT_API_URL is not set"):
        check_prefect_api("local:2", None)


def test_local_n_is_a_cluster_of_n_single_threaded_worker_processes_and_an_address_is_connected_to():
    # No dashboard, and the scheduler's HTTP routes on a free port of this machine: 8787 may be taken.
    local = {"n_workers": 3, "threads_per_worker": 1, "processes": True, "dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
    assert dask_runner_options("local:3") == {"cluster_kwargs": local}
    assert dask_runner_options("tls://scheduler.city.example:8786") == {"address": "tls://scheduler.city.example:8786"}
