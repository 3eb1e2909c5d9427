"""The rebuild alone, on a stored city, in a fresh process: CPU and wall seconds of each phase.

    python benchmarks/rebuild_alone.py store CITY.duckdb [--size 1000000] [--plain]
    cp CITY.duckdb COPY.duckdb; cp CITY.duckdb.key COPY.duckdb.key
    /usr/bin/time -v python benchmarks/rebuild_alone.py rebuild COPY.duckdb [--plain]

`store` writes the city of benchmarks/reconcile.py into a new database, encrypted as shuno opens
it (its key created beside it), and closes it. `rebuild` opens the database, rebuilds every
derived table as a run does (read the stored inputs, derive, check the contracts, write them in
one transaction and commit) and prints one line of JSON: each phase's CPU seconds
(`time.process_time`, the figure to trust on a shared machine) and wall seconds. It replaces the
derived tables, so run it on a fresh copy each time. `--plain` opens a plain file with
`duckdb.connect`, as shuno did before encryption (docs/encryption.md compares the two); DuckDB 2
has no `.pl()` on a connection, so there `flows.database.query_frame` needs its line from before
the move to DuckDB 1.4 (`connection.sql(sql, params=…).pl()`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reconcile  # noqa: E402

from flows.database import connect, insert_frame, stored_tables  # noqa: E402
from flows.settlement import check_derived, stored_inputs, write_derived  # noqa: E402
from schemas.rates import load_rates  # noqa: E402
from schemas.tables import all_tables, schema_statements  # noqa: E402
from transforms.rebuild import derived_state  # noqa: E402

# Phases that are not the rebuild: opening and closing the database.
NOT_REBUILD = ("open", "close")


def plain_connection(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection to the plain file `path`, its tables brought to their declarations (shuno's open before encryption)."""
    connection = duckdb.connect(str(path))
    stored = stored_tables(connection)
    for table in all_tables():
        for statement in schema_statements(table, stored.get(table.name)):
            connection.execute(statement)
    return connection


def store(connection: duckdb.DuckDBPyConnection, inputs: dict[str, pl.DataFrame]) -> None:
    """Stores the city's stored input tables."""
    for name, frame in inputs.items():
        insert_frame(connection, reconcile.TABLES[name], frame)


def rebuild(connection: duckdb.DuckDBPyConnection, step) -> None:
    """Rebuilds and writes every derived table in one transaction, as a run does."""
    derived = derived_state(stored_inputs(connection, step), reconcile.AS_OF, load_rates(), step=step)
    with step("checking the derived tables' contracts"):
        check_derived(derived)
    with step("writing the derived tables (commit included)"):
        connection.begin()
        write_derived(connection, derived)
        connection.commit()


def main() -> None:
    """Store the city, or rebuild on it, and print the phases' CPU and wall seconds."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["store", "rebuild"])
    parser.add_argument("database", type=Path)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--plain", action="store_true")
    arguments = parser.parse_args()
    seconds: dict[str, tuple[float, float]] = {}

    @contextmanager
    def step(phase: str):
        cpu, wall = time.process_time(), time.perf_counter()
        yield
        seconds[phase] = (round(time.process_time() - cpu, 2), round(time.perf_counter() - wall, 2))

    with step("open"):
        connection = plain_connection(arguments.database) if arguments.plain else connect(arguments.database)
    if arguments.action == "store":
        # Generating the city is not shuno's work: outside the timed phase.
        inputs = reconcile.city(arguments.size)
        with step("store the inputs"):
            store(connection, inputs)
    else:
        rebuild(connection, step)
    with step("close"):
        connection.close()
    total = [round(sum(pair[index] for phase, pair in seconds.items() if phase not in NOT_REBUILD), 2) for index in (0, 1)]
    print(json.dumps({"duckdb": duckdb.__version__, "action": arguments.action, "cpu_and_wall": total, "phases": seconds, "load_average": os.getloadavg()[0]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
