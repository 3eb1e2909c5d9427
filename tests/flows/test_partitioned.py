"""The rebuild a part at a time (issue 15) makes the same tables as the rebuild in one pass (1 part), at 2, 3 and 5 parts.

On a local Dask cluster, tests/flows/test_cluster.py: it starts the cluster its other tests use.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.database import connect, latest_completed_date
from flows.partitioned import partitions_for
from schemas.codes import PaymentStatus
from schemas.settings import Settings
from tests.flows.small_city import AS_OF, assert_same_tables, rebuilt, small_city_database
from transforms.partitions import partition_count

# The sample rebuilt three times and the small city five: among the longer modules.
pytestmark = pytest.mark.long_running


@pytest.fixture(scope="module")
def small_city(tmp_path_factory) -> Path:
    """A stored city of 600 receivables (tests/flows/small_city.py)."""
    return small_city_database(tmp_path_factory.mktemp("small_city") / "shuno.duckdb")


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


@pytest.fixture(scope="module")
def sample_after_its_nights(sample_nights, tmp_path_factory) -> tuple[Path, date]:
    """A writable copy of the sample's database after its last night (each rebuild rolls back), and that night."""
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path_factory.mktemp("sample") / "shuno.duckdb")
    with connect(database) as connection:
        return database, latest_completed_date(connection)


@pytest.fixture(scope="module")
def sample_in_one_pass(sample_after_its_nights) -> tuple[dict[str, pl.DataFrame], dict]:
    """The sample's derived tables rebuilt in one pass, its `history` rows kept: what every rebuild in parts must give."""
    return rebuilt(*sample_after_its_nights, 1)


@pytest.mark.parametrize("history_kept", [True, False])
def test_the_sample_rebuilt_in_three_parts_has_the_tables_of_one_pass(sample_after_its_nights, sample_in_one_pass, history_kept):
    database, as_of = sample_after_its_nights
    with connect(database) as connection:
        dates = connection.execute("SELECT count(DISTINCT as_of) FROM history").fetchall()[0][0]
    assert dates >= 3  # every date run has its rows: kept, or computed again in each part
    # Against the one pass that kept them: the rows the parts compute again are those stored.
    assert_same_tables(sample_in_one_pass, rebuilt(database, as_of, 3, history_kept))


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
