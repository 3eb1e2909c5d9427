"""Where the parts of a rebuild run: in this process one after another, or as Prefect tasks on a Dask cluster.

The setting `cluster_address` (schemas/settings.py, docs/cluster.md) chooses. Empty, the parts
run here, one at a time, and neither Dask nor Prefect's task machinery is imported. `local:N`
starts a Dask cluster of N worker processes on this machine for the run (tests, benchmarks, a
large city on one large machine); `tcp://host:port` or `tls://host:port` connects to the city's
running Dask scheduler. On a cluster each part is one Prefect task (`part-<position>`) submitted
through prefect-dask's `DaskTaskRunner`, so the flow run's page lists the parts with their states.

Dask rather than Ray (measured on 2 cores, docs/cluster.md): a two-worker local cluster starts in
about 3 s against 10 s for Ray (28 s through prefect-ray), a Dask worker holds about 145 MB where
Ray's own processes hold some 800 MB before any work, and shipping a frame costs the same on both.

A part's function must be pure and picklable: it gets the part, returns what the coordinator
writes, and never opens the database or reads the key (workers hold neither). Only `in_flight`
parts are out at once, so the coordinator's memory holds at most that many parts and results.
"""

from __future__ import annotations

from collections import deque
from contextlib import AbstractContextManager, nullcontext
from urllib.parse import urlsplit
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL

from schemas.settings import LOCAL_CLUSTER_PREFIX, Settings

Part = TypeVar("Part")
Result = TypeVar("Result")

# Parts submitted and not yet consumed: two keep two workers busy while the coordinator writes.
DEFAULT_IN_FLIGHT = 2


# Hosts that name this machine: a Prefect API there serves only workers on this machine.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ClusterUnreachable(RuntimeError):
    """A cluster whose workers could not report to Prefect; the message says which setting to change."""


class PartFailed(RuntimeError):
    """A part that did not give its result; the message names the part by its position, never its data."""


def results_of_parts(
    function: Callable[[Part], Result], parts: Iterable[Part], settings: Settings, in_flight: int = DEFAULT_IN_FLIGHT
) -> Iterator[Result]:
    """The results of `function` on each part, in the order of `parts`, with at most `in_flight` parts out at once."""
    if in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, got {in_flight}")
    if not settings.cluster_address:
        return _results_in_process(function, parts)
    return _results_on_cluster(function, parts, settings.cluster_address, in_flight)


def _results_in_process(function: Callable[[Part], Result], parts: Iterable[Part]) -> Iterator[Result]:
    for position, part in enumerate(parts):
        yield result_of_part(function, part, position)


def result_of_part(function: Callable[[Part], Result], part: Part, position: int) -> Result:
    """`function(part)`; a failure becomes a PartFailed naming the part's position and the error's type."""
    try:
        return function(part)
    except Exception as error:  # noqa: BLE001 - any error of a part ends the rebuild the same way
        # The error's own message may quote record values (polars does): only its type travels.
        raise PartFailed(f"part {position} failed: {type(error).__name__} (details withheld: they may quote record values)") from None


@task(name="part", task_run_name="part-{position}", cache_policy=NO_CACHE, persist_result=False)
def settled_part(function: Callable[[Any], Any], part: Any, position: int) -> Any:
    """The result of one part, computed on a worker of the cluster."""
    # No cache and no persisted result: a part holds residents' records, which must not be written to
    # Prefect's storage; not retried: a pure function fails the same way again.
    return result_of_part(function, part, position)


def _results_on_cluster(function: Callable[[Part], Result], parts: Iterable[Part], address: str, in_flight: int) -> Iterator[Result]:
    with prefect_api_for(address), cluster_task_runner(address) as runner:
        remaining, submitted = enumerate(parts), deque()
        while True:
            # A part is taken from `parts` only when a slot is free: the caller may build parts lazily.
            while len(submitted) < in_flight and (next_part := next(remaining, None)) is not None:
                submitted.append(_submitted_part(runner, function, *next_part))
            if not submitted:
                return
            yield _part_result(*submitted.popleft())


def prefect_api_for(address: str) -> AbstractContextManager[None]:
    """The Prefect API the workers report their task runs to: the run's own, or one served from this process for the block."""
    # A worker runs each part through Prefect's task engine, which reports to an API; without one
    # every worker would start a Prefect server of its own (and time out doing so on a busy machine).
    api, workers_here = PREFECT_API_URL.value(), _on_this_machine(address)
    if api is None and workers_here:
        # Imported here: flows.nightly imports the settlement, which runs its parts through this module.
        from flows.nightly import local_prefect_api

        return local_prefect_api()
    if not workers_here and (api is None or urlsplit(api).hostname in LOOPBACK_HOSTS):
        where = f"at {api}" if api else "(PREFECT_API_URL is not set)"
        raise ClusterUnreachable(f"the workers of {address} cannot reach a Prefect API on this machine {where}: set PREFECT_API_URL to the city's Prefect server")
    return nullcontext()


def _on_this_machine(address: str) -> bool:
    return address.startswith(LOCAL_CLUSTER_PREFIX) or urlsplit(address).hostname in LOOPBACK_HOSTS


def cluster_task_runner(address: str):
    """Prefect's Dask task runner for `address`: a local cluster of N worker processes for `local:N`, else the scheduler there."""
    # Imported here: an in-process run never pays for importing Dask (about two seconds).
    from prefect_dask import DaskTaskRunner

    if address.startswith(LOCAL_CLUSTER_PREFIX):
        workers = int(address.removeprefix(LOCAL_CLUSTER_PREFIX))
        # One thread a worker: a part is polars work, which has its own threads; no dashboard, whose port could be taken.
        cluster = {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        return DaskTaskRunner(cluster_kwargs=cluster)
    return DaskTaskRunner(address=address)


def _submitted_part(runner, function: Callable[[Any], Any], position: int, part: Any) -> tuple[int, Any]:
    # Sent to the cluster on its own first: prefect-dask submits with pure=True, and Dask would hash a
    # part given inline (half a second for 500,000 rows); a future is hashed by its key.
    data = runner.client.scatter(part, hash=False)
    return position, runner.submit(settled_part, parameters={"function": function, "part": data, "position": position})


def _part_result(position: int, future) -> Any:
    try:
        return future.result()
    except PartFailed:
        raise
    except Exception as error:  # noqa: BLE001 - a worker lost, a connection closed: the part did not come back
        raise PartFailed(f"part {position} did not come back from the cluster: {type(error).__name__}") from None
