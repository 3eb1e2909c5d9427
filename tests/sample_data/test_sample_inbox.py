"""The whole sample: the committed inbox is what the generator writes; another seed, another city, the same cases."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sample_data import COMMITTED_INBOX, COMMITTED_PAYMENTS, COMMITTED_SEED
from sample_data.files import sample_file_bytes
from flows.files import checked_chunks, inspect_file
from sample_data.sample_inbox import sample_inbox, under_collector
from schemas.inbox import FileKind, parse_inbox_name
from schemas.rates import load_rates


def first_snapshot(inbox) -> pl.DataFrame:
    return next(file.records for file in inbox.files if file.kind == FileKind.RECEIVABLES)


def test_the_committed_inbox_is_exactly_what_the_generator_writes_for_its_parameters(committed_sample):
    committed = {path.name: path.read_bytes() for path in COMMITTED_INBOX.iterdir()}
    # Names first: a differing file is then named without printing its bytes.
    assert sorted(committed) == sorted(file.name for file in committed_sample.files)
    differing = [file.name for file in committed_sample.files if sample_file_bytes(file) != committed[file.name]]
    assert differing == [], f"regenerate with: shuno sample --out sample_data/inbox --payments {COMMITTED_PAYMENTS} --seed {COMMITTED_SEED}"
    assert sum(len(content) for content in committed.values()) < 1_000_000


def test_another_seed_draws_another_city_but_plants_the_same_cases(committed_sample):
    other = sample_inbox(COMMITTED_PAYMENTS, seed=COMMITTED_SEED + 1, rates=load_rates())
    assert not first_snapshot(other).equals(first_snapshot(committed_sample))
    assert_frame_equal(other.cases.drop("record_number"), committed_sample.cases.drop("record_number"))


def test_a_sample_needs_three_settlement_days():
    with pytest.raises(ValueError, match="settlement days"):
        sample_inbox(10, seed=1, rates=load_rates(), settlement_days=2)


def test_the_readmes_name_the_parameters_the_committed_inbox_is_written_with():
    root = COMMITTED_INBOX.parents[1]
    parameters = f"--payments {COMMITTED_PAYMENTS} --seed {COMMITTED_SEED}"
    assert parameters in (root / "sample_data" / "README.md").read_text(encoding="utf-8")
    assert parameters in (root / "README.md").read_text(encoding="utf-8")


def test_the_sample_under_another_collector_is_the_same_city_written_with_that_code(committed_sample, tmp_path):
    other = under_collector(committed_sample, 132012)
    assert [file.name.replace("_132012_", "_132071_") for file in other.files] == [file.name for file in committed_sample.files]
    assert all("_132012_" in name for name in other.cases["file_name"].drop_nulls())  # the planted cases point into the renamed files
    day = f"{committed_sample.settlement_dates[0]:%Y%m%d}"
    for original, moved in zip(committed_sample.files, other.files):
        if day not in original.name:
            continue
        if original.kind.is_csv:
            assert sample_file_bytes(moved) == sample_file_bytes(original), moved.name  # no collector in a CSV
            continue
        before, after = _read_back(tmp_path, original), _read_back(tmp_path, moved)
        carried = [column for column in ("collector_code", "local_government_code", "collector_number") if column in after.columns]
        assert carried and all(set(after[column].cast(pl.String)) <= {"132012", "13201"} for column in carried), moved.name
        assert_frame_equal(after.drop(carried), before.drop(carried))
    with pytest.raises(ValueError, match="収納団体コード"):
        under_collector(committed_sample, 132013)


def _read_back(folder, file) -> pl.DataFrame:
    """The accepted records of a sample file written through the writer and read back through the reader (its header checked against its name)."""
    path = folder / file.name
    path.write_bytes(sample_file_bytes(file))
    verdict = inspect_file(path, parse_inbox_name(path.name))
    assert verdict.rejection is None, verdict.rejection
    return pl.concat([chunk.records for chunk in checked_chunks(verdict)])
