"""The parts of a large frame in this process against a local Dask cluster, each engine in a fresh process.

    python benchmarks/cluster.py [--rows 4000000] [--parts 8] [--workers 2] [--rounds 3]

Until the partitioned rebuild is merged, the work is a stand-in for it: a pure, CPU-bound polars
function over the rows of one part's taxpayers (running balances per taxpayer, then totals),
through `flows.cluster.results_of_parts`, as the rebuild will call it. Each engine runs in its own
fresh process (`--engine`), under a Prefect API served from that process as `shuno run` serves
it; the API's start is not counted. Prints each engine's wall seconds (the engine's start
included, and apart), the CPU seconds of the process and its workers, and the ratio of the two
walls. On a shared machine the walls are noisy: compare the two of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.cluster import results_of_parts  # noqa: E402
from schemas.settings import Settings  # noqa: E402

IN_PROCESS = "in-process"


def city_rows(rows: int, seed: int = 1) -> pl.DataFrame:
    """`rows` payments of rows // 8 taxpayers: taxpayer, day, amount and seven more columns, ten in all."""
    rng = np.random.default_rng(seed)
    columns = {"taxpayer": rng.integers(0, max(rows // 8, 1), rows), "day": rng.integers(0, 1826, rows), "amount": rng.integers(1, 500_000, rows)}
    columns |= {f"code_{index}": rng.integers(0, 1000, rows) for index in range(7)}
    return pl.DataFrame(columns)


def parts_of(frame: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    """The rows split into `parts` frames by taxpayer, every taxpayer's rows in one part."""
    return frame.with_columns(part=pl.col("taxpayer") % parts).partition_by("part", include_key=False, maintain_order=True)


def balances_of_part(part: pl.DataFrame) -> pl.DataFrame:
    """Each taxpayer's running balance, its lowest point and the days it stayed negative: sorts, window sums, a group-by."""
    running = part.sort("taxpayer", "day").with_columns(
        balance=(pl.col("amount") - pl.col("code_0") * 300).cum_sum().over("taxpayer"),
        next_day=pl.col("day").shift(-1).over("taxpayer"),
    )
    negative_days = pl.when(pl.col("balance") < 0).then(pl.col("next_day").fill_null(1826) - pl.col("day")).otherwise(0)
    return (
        running.group_by("taxpayer")
        .agg(lowest=pl.col("balance").min(), closing=pl.col("balance").last(), negative_days=negative_days.sum(), payments=pl.len())
        .sort("taxpayer")
    )


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(engine: str, rows: int, parts: int) -> dict:
    """One engine's wall and CPU seconds over the parts, in this process (a fresh one)."""
    from flows.nightly import local_prefect_api  # imported here: only a measuring child serves Prefect's API

    frames = parts_of(city_rows(rows), parts)
    settings = Settings(cluster_address="" if engine == IN_PROCESS else engine)
    with local_prefect_api():
        cpu, start = _cpu_seconds(), time.perf_counter()
        results = results_of_parts(balances_of_part, frames, settings)
        first = next(results)
        first_seconds = time.perf_counter() - start
        taxpayers = first.height + sum(result.height for result in results)
        wall = time.perf_counter() - start
    # Dask's workers are children of this process, waited for when the cluster closed: their CPU is counted.
    return {"engine": engine, "wall": wall, "first_result": first_seconds, "cpu": _cpu_seconds() - cpu, "taxpayers": taxpayers}


def run_child(engine: str, rows: int, parts: int, environment: dict[str, str]) -> dict:
    """`measure` of one engine in a fresh Python process."""
    command = [sys.executable, __file__, "--engine", engine, "--rows", str(rows), "--parts", str(parts)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, in alternation")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.engine:
        print(json.dumps(measure(arguments.engine, arguments.rows, arguments.parts)))
        return
    cluster = f"local:{arguments.workers}"
    with tempfile.TemporaryDirectory(prefix="shuno-cluster-bench-") as home:
        # A Prefect home of the benchmark's own: the developer's Prefect database keeps none of its runs.
        environment = os.environ | {"PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        environment.pop("PREFECT_API_URL", None)
        run_child(IN_PROCESS, 1000, 1, environment)  # Prefect's database created and migrated, outside the figures
        for _ in range(arguments.rounds):
            here, there = (run_child(engine, arguments.rows, arguments.parts, environment) for engine in (IN_PROCESS, cluster))
            assert here["taxpayers"] == there["taxpayers"]
            for figures in (here, there):
                print(f"{figures['engine']:>10}  {arguments.rows} rows  {arguments.parts} parts  wall {figures['wall']:.2f}s  "
                      f"first result {figures['first_result']:.2f}s  cpu {figures['cpu']:.2f}s")
            print(f"ratio (cluster / in-process wall)  {there['wall'] / here['wall']:.2f}")


if __name__ == "__main__":
    main()
