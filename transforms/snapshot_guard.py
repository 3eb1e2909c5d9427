"""The snapshot guard (issue 11): a receivables snapshot that drops too many of the receivables in force is held, not used.

A snapshot cut in half loads as normal otherwise: every receivable it lacks counts as cancelled,
arrears fall and false refund candidates appear. Held, it is not stored; the snapshot before it
stays in force until an operator accepts it (`shuno decide accept-snapshot`) and its date is run
again.
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl


def snapshot_shrinkage(in_force: pl.Series, delivered: pl.Series, largest_drop: Fraction) -> str | None:
    """Why a snapshot of the receivable ids `delivered` is held against the ids `in_force` before it, or None to use it.

    It is held when more than `largest_drop` of the receivables in force are absent from it. The
    reason gives the numbers: how many dropped, of how many, the share and the limit.
    """
    if in_force.is_empty():
        return None
    dropped = in_force.unique().is_in(delivered.implode()).not_().sum()
    total = in_force.n_unique()
    if Fraction(dropped, total) <= largest_drop:
        return None
    return (
        f"drops {dropped:,} of the {total:,} receivables in force ({float(Fraction(dropped, total)):.1%}), "
        f"more than the {float(largest_drop):.1%} allowed (snapshot_drop_share): held, the snapshot before it stays in force"
    )
