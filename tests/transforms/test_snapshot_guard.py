"""The snapshot guard: the share of the receivables in force a snapshot drops, against the setting."""

from fractions import Fraction

import polars as pl

from transforms.snapshot_guard import snapshot_shrinkage

IN_FORCE = pl.Series([f"R{number:03d}" for number in range(100)])


def test_a_snapshot_dropping_up_to_the_share_is_used_and_one_dropping_more_is_held_with_the_numbers():
    two_dropped = IN_FORCE.head(98)
    assert snapshot_shrinkage(IN_FORCE, two_dropped, Fraction(2, 100)) is None
    held = snapshot_shrinkage(IN_FORCE, IN_FORCE.head(97), Fraction(2, 100))
    assert held.startswith("drops 3 of the 100 receivables in force (3.0%), more than the 2.0% allowed")


def test_new_receivables_do_not_hide_dropped_ones_and_a_first_snapshot_is_never_held():
    half_and_new = pl.concat([IN_FORCE.head(50), pl.Series([f"N{number:03d}" for number in range(500)])])
    assert "drops 50 of the 100" in snapshot_shrinkage(IN_FORCE, half_and_new, Fraction(2, 100))
    assert snapshot_shrinkage(pl.Series([], dtype=pl.String), IN_FORCE.head(1), Fraction(0)) is None
