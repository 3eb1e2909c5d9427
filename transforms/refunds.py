"""Refunds (還付, SPEC §4.2, §6; docs/reconciliation.md step 7): what is left of each candidate after 充当.

The refund is the overpayment less what was offset; it bears 還付加算金 from the candidate's start
to the refund decision: the 支出決定日 of a `refunded` decision, fixed, or else estimated as of the
run. Each offset bears it to its 充当適状日.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import polars as pl

from schemas.codes import CandidateStatus, OffsetStatus
from schemas.rates import RatesTable
from transforms.late_fee import refund_interest_pieces, rounded_total
from transforms.late_fee_frames import refund_interests
from transforms.ledger import OFFSET_COLUMNS, conformed


def refund_candidates(
    arising: pl.DataFrame, offsets: pl.DataFrame, as_of: date, rates: RatesTable, refunds_paid: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The `refund_candidates` table: each candidate with its 充当, refund, 還付加算金 and status as of as_of.

    refunds_paid (candidate_id, refunded_on): the 支出決定日 of the candidates a decision refunded.
    """
    offset = offsets.group_by("candidate_id").agg(
        pl.sum_horizontal(OFFSET_COLUMNS).sum().alias("offset_amount"),
        (pl.col("status") == OffsetStatus.PROPOSED).any().alias("offset_proposed"),
    )
    candidates = arising.join(offset, on="candidate_id", how="left", maintain_order="left")
    if refunds_paid is not None:
        candidates = candidates.join(refunds_paid, on="candidate_id", how="left", maintain_order="left")
    else:
        candidates = candidates.with_columns(pl.lit(None, pl.Date).alias("refunded_on"))
    candidates = candidates.with_columns(pl.col("offset_amount").fill_null(0), pl.col("offset_proposed").fill_null(False))
    candidates = candidates.with_columns((pl.col("overpaid_amount") - pl.col("offset_amount")).alias("refund_amount"))
    # §4.2: the refund bears 還付加算金 from its start to the refund decision: the 支出決定日 once
    # refunded (fixed from then on), else estimated as of as_of.
    interest_end = pl.coalesce("refunded_on", pl.lit(as_of))
    refunded = candidates.select(
        "candidate_id", pl.col("refund_amount").alias("amount"), pl.col("interest_start").alias("start"), interest_end.alias("end")
    )
    candidates = candidates.with_columns(
        refund_interests(refunded, rates)["refund_interest"],
        _offset_interests(candidates, offsets, rates),
        (pl.lit(as_of) > pl.col("expires_on")).alias("expired"),
        pl.lit(as_of).alias("as_of"),
    )
    return conformed(candidates.with_columns(_status().alias("status")), "refund_candidates").sort("candidate_id")


def _status() -> pl.Expr:
    """refunded once a decision refunded it; offset when its 充当 was executed and nothing is left to refund; expired; else open."""
    offset_done = (pl.col("refund_amount") == 0) & (pl.col("offset_amount") > 0) & ~pl.col("offset_proposed")
    return (
        pl.when(pl.col("refunded_on").is_not_null())
        .then(pl.lit(CandidateStatus.REFUNDED))
        .when(offset_done)
        .then(pl.lit(CandidateStatus.OFFSET))
        .when(pl.col("expired"))
        .then(pl.lit(CandidateStatus.EXPIRED))
        .otherwise(pl.lit(CandidateStatus.OPEN))
    )


def _offset_interests(candidates: pl.DataFrame, offsets: pl.DataFrame, rates: RatesTable) -> pl.Series:
    """Each candidate's 還付加算金 on what it offset, each offset to its 充当適状日, in candidates' order."""
    starts = dict(candidates.select("candidate_id", "interest_start").rows())
    pieces = defaultdict(list)
    amounts = offsets.select("candidate_id", pl.sum_horizontal(OFFSET_COLUMNS).alias("amount"), "offset_on")
    for key, amount, offset_on in amounts.iter_rows():
        pieces[key] += refund_interest_pieces(amount, starts[key], offset_on, rates)
    # The pieces of all a candidate's offsets are summed and rounded once, as one 還付加算金 of the
    # candidate; each offset's base is floored to 1,000 yen on its own.
    return pl.Series("offset_interest", [rounded_total(pieces[key]) for key in candidates["candidate_id"]], pl.Int64)
