"""The rebuild a part at a time (issue 15) makes the same tables as the rebuild in one pass (1 part), at 2, 3 and 5 parts."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows.database import connect, insert_frame, latest_completed_date
from flows.nightly import local_prefect_api
from flows.partitioned import partitions_for
from flows.settlement import load_law_tables, rebuild_derived
from schemas.codes import DecisionKind, PaymentStatus
from schemas.settings import Settings
from schemas.tables import decision_entries_table, derived_tables, stored_input_tables
from transforms.partitions import partition_count

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from reconcile import AS_OF, city, city_decisions  # noqa: E402  (the benchmark's city, at a few hundred receivables)

TABLES = {table.name: table for table in stored_input_tables()}
# The sample rebuilt four times and a Dask cluster started: among the longest modules.
pytestmark = pytest.mark.long_running


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
    for name, frame in expected[0].items():
        assert_frame_equal(actual[0][name], frame, check_exact=True)
    assert actual[1] == expected[1]


@pytest.fixture(scope="module")
def small_city(tmp_path_factory) -> Path:
    """A stored city of 600 receivables (30 taxpayers of several tax codes), its payments and decisions, a pending and a returned payment."""
    database = tmp_path_factory.mktemp("small_city") / "shuno.duckdb"
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


@pytest.fixture(scope="module")
def small_city_in_one_pass(small_city) -> tuple[dict[str, pl.DataFrame], dict]:
    return rebuilt(small_city, AS_OF, 1)


def test_the_small_city_has_what_the_parts_must_keep_together(small_city_in_one_pass):
    tables = small_city_in_one_pass[0]
    statuses = set(tables["payments"]["status"])
    assert {PaymentStatus.APPLIED, PaymentStatus.PENDING, PaymentStatus.RETURNED} <= statuses
    # 充当 across tax codes: a candidate of one tax code offset to a receivable of another.
    receivables = tables["receivables"].select("receivable_id", "tax_code")
    candidates = tables["refund_candidates"].join(receivables, on="receivable_id").select("candidate_id", pl.col("tax_code").alias("from_code"))
    offsets = tables["offsets"].join(receivables, on="receivable_id").join(candidates, on="candidate_id")
    assert (offsets["tax_code"] != offsets["from_code"]).any()
    assert tables["work_queue"].height > 0 and tables["decisions"]["in_effect"].any()


@pytest.mark.parametrize("partitions", [2, 5])
def test_a_small_city_rebuilt_in_parts_has_the_tables_of_one_pass(small_city, small_city_in_one_pass, partitions):
    assert_same_tables(small_city_in_one_pass, rebuilt(small_city, AS_OF, partitions))


def test_a_small_city_rebuilt_in_parts_on_a_local_dask_cluster_has_the_tables_of_one_pass(small_city, small_city_in_one_pass):
    # Imported here: only this test starts a cluster, and Dask takes seconds to import.
    from distributed import LocalCluster

    with local_prefect_api(), LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert_same_tables(small_city_in_one_pass, rebuilt(small_city, AS_OF, 2, cluster_address=cluster.scheduler_address))


@pytest.mark.parametrize("history_kept", [True, False])
def test_the_sample_rebuilt_in_three_parts_has_the_tables_of_one_pass(sample_nights, tmp_path, history_kept):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    with connect(database) as connection:
        as_of = latest_completed_date(connection)
        dates = connection.execute("SELECT count(DISTINCT as_of) FROM history").fetchall()[0][0]
    assert dates >= 3  # every date run has its rows: kept, or computed again in each part
    assert_same_tables(rebuilt(database, as_of, 1, history_kept), rebuilt(database, as_of, 3, history_kept))


def test_the_parts_spilled_beside_the_database_are_removed_and_so_is_a_killed_runs(small_city):
    stale = small_city.parent / f".{small_city.name}.rebuild-killed"
    stale.mkdir()
    (stale / "matched-0-0.arrow").write_bytes(b"")
    rebuilt(small_city, AS_OF, 2)
    assert list(small_city.parent.glob(f".{small_city.name}.rebuild-*")) == []


def test_the_parts_are_counted_from_the_memory_budget_when_not_set(small_city):
    with connect(small_city) as connection:
        assert partitions_for(connection, Settings()) == 1  # a small city fits in one pass
        assert partitions_for(connection, Settings(rebuild_partitions=3)) == 3
    # 5M receivables and payments (11.3M stored rows) in 4 GB: parts; in 8 GB fewer; a few rows: one pass.
    assert partition_count(11_300_000, 4.0) > partition_count(11_300_000, 8.0) > 1 == partition_count(100_000, 4.0)
