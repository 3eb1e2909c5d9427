"""The whole sample: the committed inbox is what the generator writes; another seed, another city, the same cases."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sample_data import COMMITTED_INBOX, COMMITTED_PAYMENTS, COMMITTED_SEED
from sample_data.files import sample_file_bytes
from sample_data.sample_inbox import sample_inbox
from schemas.inbox import FileKind
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
