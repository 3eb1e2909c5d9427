"""Where the parts of a rebuild run: in this process one after another, or as Prefect tasks on a Dask cluster.

The setting `cluster_address` (schemas/settings.py, docs/cluster.md) chooses. Empty, the parts
run here, one at a time, and neither Dask nor Prefect's task engine is imported. `local:N` starts a
Dask cluster of N worker processes on this machine for the call (tests, benchmarks, a large city on
one large machine); `tcp://host:port` or `tls://host:port` connects to the city's running Dask
scheduler. On a cluster each part is one Prefect task (`part-<position>`) submitted through
prefect-dask's `DaskTaskRunner`: inside a flow run (the nightly's) the parts are task runs of that
flow run, and the workers report them to the Prefect API the caller has (`shuno run` serves one
on 127.0.0.1, which only workers on this machine reach; a remote cluster needs PREFECT_API_URL
naming the city's Prefect server).

Dask rather than Ray (measured on 2 cores, docs/cluster.md): a two-worker local cluster starts in
about 3 s against 10 s for Ray (28 s through prefect-ray), a Dask worker holds about 145 MB where
Ray's own processes hold some 800 MB before any work, and shipping a frame costs the same on both.

A part's function must be pure and picklable: it gets the part, returns what the coordinator
writes, and never opens the database or reads the key (workers hold neither). Only `in_flight`
parts are out at once, so the coordinator's memory holds at most that many parts and results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

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


def _results_on_cluster(function: Callable[[Part], Result], parts: Iterable[Part], address: str, in_flight: int) -> Iterator[Result]:
    # Imported here: Prefect's task engine and Dask take seconds to import, and an in-process run needs neither.
    from prefect import task
    from prefect.cache_policies import NO_CACHE
    from prefect.settings import PREFECT_API_URL
    from prefect_dask import DaskTaskRunner

    check_prefect_api(address, PREFECT_API_URL.value())
    # No cache and no persisted result: a part holds residents' records, which must not be written to
    # Prefect's storage; no retries: a pure function fails the same way again.
    part_task = task(result_of_part, name="part", task_run_name="part-{position}", cache_policy=NO_CACHE, persist_result=False)
    with DaskTaskRunner(**dask_runner_options(address)) as runner:
        remaining, submitted = enumerate(parts), deque()
        while True:
            # A part is taken from `parts` only when a slot is free: the caller may build parts lazily.
            while len(submitted) < in_flight and (next_part := next(remaining, None)) is not None:
                position, part = next_part
                submitted.append((position, _submitted_part(runner, part_task, function, part, position)))
            if not submitted:
                return
            yield _part_result(*submitted.popleft())


def check_prefect_api(address: str, api: str | None) -> None:
    """Raises ClusterUnreachable unless the workers of `address` can report their task runs to the Prefect API `api`."""
    # A worker runs each part through Prefect's task engine, which reports to an API; with none set,
    # every worker would start a Prefect server of its own (and time out doing so on a busy machine).
    if api is None:
        raise ClusterUnreachable(f"the parts on {address} run as Prefect tasks and need a Prefect API: PREFECT_API_URL is not set")
    if not _on_this_machine(address) and urlsplit(api).hostname in LOOPBACK_HOSTS:
        raise ClusterUnreachable(f"the workers of {address} cannot reach the Prefect API at {api}: set PREFECT_API_URL to the city's Prefect server")


def _on_this_machine(address: str) -> bool:
    return address.startswith(LOCAL_CLUSTER_PREFIX) or urlsplit(address).hostname in LOOPBACK_HOSTS


def dask_runner_options(address: str) -> dict[str, Any]:
    """The options of prefect-dask's DaskTaskRunner for `address`: a local cluster of N worker processes for `local:N`, else the scheduler there."""
    if not address.startswith(LOCAL_CLUSTER_PREFIX):
        return {"address": address}
    workers = int(address.removeprefix(LOCAL_CLUSTER_PREFIX))
    # One thread a worker: a part is polars work, which has its own threads. No dashboard (None); the
    # scheduler still serves its HTTP routes (health, metrics), on port 8787 unless told, and warns in
    # the run's log when another process holds that port: a free port, on the loopback only.
    scheduler = {"dashboard_address": "127.0.0.1:0"}
    return {"cluster_kwargs": {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None, "scheduler_kwargs": scheduler}}


def _submitted_part(runner, part_task, function: Callable[[Any], Any], part: Any, position: int):
    # Sent to the cluster on its own first: prefect-dask submits with pure=True, and Dask would hash a
    # part given inline (half a second for 500,000 rows); a future is hashed by its key.
    data = runner.client.scatter(part, hash=False)
    return runner.submit(part_task, parameters={"function": function, "part": data, "position": position})


def _part_result(position: int, future) -> Any:
    try:
        return future.result()
    except PartFailed:
        raise
    except Exception as error:  # noqa: BLE001 - a worker lost, a connection closed: the part did not come back
        raise PartFailed(f"part {position} did not come back from the cluster: {type(error).__name__}") from None
