"""What the tests of the rebuild in parts share: a small stored city, and every derived table as a rebuild at N parts writes it.

tests/flows/test_partitioned.py rebuilds it in this process, tests/flows/test_cluster.py on a local
Dask cluster: each module builds its own small city (about a second), and only the latter starts a cluster.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from flows.database import connect, insert_frame
from flows.settlement import load_law_tables, rebuild_derived
from schemas.codes import DecisionKind
from schemas.settings import Settings
from schemas.tables import decision_entries_table, derived_tables, stored_input_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from reconcile import AS_OF, city, city_decisions  # noqa: E402  (the benchmark's city, at a few hundred receivables)

__all__ = ["AS_OF", "assert_same_tables", "rebuilt", "small_city_database"]

TABLES = {table.name: table for table in stored_input_tables()}


def rebuilt(database: Path, as_of: date, partitions: int, history_kept: bool = True, cluster_address: str = "") -> tuple[dict[str, pl.DataFrame], dict]:
    """Every derived table as a rebuild at `partitions` parts writes it (rolled back after), rows sorted, and the outcome counts.

    history_kept: False computes every date's `history` rows again (no fingerprint stored matches).
    cluster_address: the Dask scheduler the parts run on (this process when empty).
    """
    settings = Settings(rebuild_partitions=partitions, cluster_address=cluster_address)
    connection = connect(database)
    connection.begin()
    if not history_kept:
        connection.execute("DELETE FROM history_days")
    derived = rebuild_derived(connection, as_of, load_law_tables(settings), settings)
    tables = {table.name: connection.sql(f'SELECT * FROM "{table.name}"').pl() for table in derived_tables()}
    connection.rollback()
    connection.close()
    return {name: frame.sort(pl.all(), nulls_last=True) for name, frame in tables.items()}, derived.outcome_counts


def assert_same_tables(expected: tuple[dict[str, pl.DataFrame], dict], actual: tuple[dict[str, pl.DataFrame], dict]) -> None:
    """Fails unless `actual` has every table of `expected`, row for row, and the same outcome counts."""
    for name, frame in expected[0].items():
        assert_frame_equal(actual[0][name], frame, check_exact=True)
    assert actual[1] == expected[1]


def small_city_database(database: Path) -> Path:
    """`database`, made: a city of 600 receivables (30 taxpayers of several tax codes), its payments and decisions, a pending and a returned payment."""
    inputs = city(600, seed=7)
    entries = city_decisions(np.random.default_rng(5), inputs, 40)
    # Two payments whose numbers no receivable has: pending (20), and the office returns the second.
    records = inputs["payment_records"]
    unknown = pl.concat([records.head(1)] * 2).with_columns(
        pl.Series("common_tax_id", ["C9999999999999999998", "C9999999999999999999"]), pl.lit("P000000000009999999").alias("payment_number")
    )
    inputs["payment_records"] = pl.concat([records, unknown])
    returned = entries.head(1).with_columns(
        pl.lit("D999999").alias("decision_id"), pl.lit(DecisionKind.RETURN.value).alias("kind"),
        pl.lit("C9999999999999999999-000001").alias("payment_key"), *(pl.lit(None).alias(name) for name in ("receivable_id", "start_on", "end_on", "exemption_kind")),
    )
    entries = pl.concat([entries, returned])
    connection = connect(database)
    for name, frame in inputs.items():
        insert_frame(connection, TABLES[name], frame)
    insert_frame(connection, decision_entries_table(), entries)
    connection.close()
    return database
