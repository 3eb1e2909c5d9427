"""`shuno purge --before D` (SPEC §8): personal fields of closed records erased, derived tables unchanged but for them, in audit_log, the file rewritten."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from flows.database import rewrite_database
from flows.operation import OperationRefused
from flows.purge import HASH_PREFIX, NAME_FIELDS, NUMBER_FIELDS, purge_before
from schemas.privacy import PERSONAL_FIELDS
from schemas.settings import Settings
from schemas.tables import derived_tables
from tests.databases import read_only_database

# Far enough after the sample's dates that all of them are older than the retention period.
LATER = date(2032, 1, 1)
SECRET = "MARKER-氏名-ヤマダ"


def _derived(database) -> dict[str, pl.DataFrame]:
    """Every derived table, rows sorted, its columns split: (non-personal, personal)."""
    with read_only_database(database) as connection:
        frames = {table.name: connection.sql(f'SELECT * FROM "{table.name}"').pl() for table in derived_tables()}
    return {name: frame for name, frame in frames.items()}


def _without_personal(frame: pl.DataFrame) -> pl.DataFrame:
    kept = [column for column in frame.columns if column not in PERSONAL_FIELDS]
    return frame.select(kept).sort(kept, nulls_last=True)


@pytest.fixture(scope="module")
def purged(sample_nights, tmp_path_factory):
    """A copy of the sample's last database, its derived tables, then purged before the last night as if in 2032 (once for the module)."""
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path_factory.mktemp("purged") / "shuno.duckdb")
    before = _derived(database)
    inode = database.stat().st_ino
    done = purge_before(sample_nights.dates[-1], database, Settings(), LATER)
    return database, before, done, inode


def test_the_derived_tables_are_as_before_but_for_the_erased_personal_fields(purged):
    database, before, done, _ = purged
    after = _derived(database)
    assert sum(done.result.values()) > 0, "the sample has closed records older than its last night"
    assert [name for name in before if not _without_personal(after[name]).equals(_without_personal(before[name]))] == []


def test_erased_records_keep_no_name_and_their_numbers_only_as_keyed_hashes(purged, sample_nights):
    database, _, done, _ = purged
    with read_only_database(database) as connection:
        names = connection.execute(
            "SELECT count(*) FROM payment_records WHERE file_date < ? AND payer_name IS NOT NULL AND sequence_number IS NOT NULL", [sample_nights.dates[-1]]
        ).fetchall()[0][0]
        hashed = connection.execute("SELECT count(*) FROM receivable_snapshots WHERE starts_with(payment_number, ?)", [HASH_PREFIX]).fetchall()[0][0]
        raw = connection.execute("SELECT count(*) FROM rejected_records WHERE file_date < ? AND raw IS NOT NULL", [sample_nights.dates[-1]]).fetchall()
        logged = connection.execute("SELECT parameters FROM audit_log WHERE command = 'shuno purge' AND outcome = 'completed'").fetchall()
    assert done.result.get("payment_records", 0) > 0
    # Names stay only on records of payments still open (pending, held, in arrears...), fewer than those erased.
    assert names < done.result["payment_records"]
    assert raw == [(0,)]
    assert hashed >= 0 and set(NAME_FIELDS) | set(NUMBER_FIELDS) <= PERSONAL_FIELDS
    assert len(logged) == 1 and '"before": "' in logged[0][0]


def test_the_purge_rewrites_the_file(purged):
    database, _, _, inode = purged
    assert database.stat().st_ino != inode


def test_a_date_within_the_retention_period_is_refused_and_changes_nothing(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    before = database.read_bytes()
    with pytest.raises(OperationRefused, match="within the retention period"):
        purge_before(sample_nights.dates[-1], database, Settings(), date(2030, 1, 1))
    assert database.read_bytes() == before


def test_a_rewrite_leaves_no_erased_value_in_freed_blocks(tmp_path):
    # Shown on a plain file, where the bytes can be read: the encrypted one takes the same rewrite.
    source, target = tmp_path / "plain.duckdb", tmp_path / "rewritten.duckdb"
    with duckdb.connect(str(source)) as connection:
        # Stored as they are, so that the bytes are there to look for.
        connection.execute("PRAGMA force_compression = 'uncompressed'")
        connection.execute("CREATE TABLE records AS SELECT range AS id, ? || range AS payer_name FROM range(20000)", [SECRET])
        connection.execute("CHECKPOINT")
        connection.execute("UPDATE records SET payer_name = NULL")
        connection.execute("CHECKPOINT")
    assert SECRET.encode() in source.read_bytes(), "DuckDB leaves the erased values in freed blocks"
    rewrite_database(source, target, None, None)
    assert SECRET.encode() not in target.read_bytes()
    with duckdb.connect(str(target), read_only=True) as connection:
        assert connection.execute("SELECT count(*), count(payer_name) FROM records").fetchall() == [(20000, 0)]
