"""The office's decisions (SPEC §6) as the rebuild reads them: which are in force, and what each asks of a step.

A decision is a stored input like a file (table `decision_entries`, never changed): a `revoke`
voids the decision it names, and the tables are then as if that decision had never been taken.
Each step that a kind of decision changes gets a small frame from here: matching the payments
decided (`match`, `return`), deciding a held payment by its chosen sighting (`resolve`), 延滞金 the
exemption periods (`exempt`), refunds the 支出決定日 (`refunded`) and 充当 the day it was executed
(`offset`). `decisions_table` is the `decisions` table: every entry, what voided it, whether it
took effect in this rebuild and the yen it moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from schemas.codes import CandidateStatus, DecisionKind, MatchedBy, OffsetStatus, PaymentStatus
from schemas.exemptions import ExemptionKinds, parsed_fraction
from schemas.tables import decision_entries_table
from transforms.late_fee import ExemptionPeriod
from transforms.ledger import OFFSET_COLUMNS, conformed

KIND = pl.col("kind")
EXEMPTION_SCHEMA = {
    "receivable_id": pl.String,
    "start_on": pl.Date,
    "end_on": pl.Date,
    "exempted_numerator": pl.Int64,
    "exempted_denominator": pl.Int64,
}


@dataclass(frozen=True)
class DecisionEffects:
    """What the decisions in force ask of the steps of the rebuild, one frame per kind of effect."""

    payments_decided: pl.DataFrame
    sightings_chosen: pl.DataFrame
    exemption_periods: pl.DataFrame
    refunds_paid: pl.DataFrame
    offsets_executed: pl.DataFrame


def decision_effects(entries: pl.DataFrame, kinds: ExemptionKinds) -> DecisionEffects:
    """The effects of the decisions in force among entries (the `decision_entries` table)."""
    in_force = decisions_in_force(entries)
    return DecisionEffects(
        payments_decided=payments_decided(in_force),
        sightings_chosen=sightings_chosen(in_force),
        exemption_periods=exemption_periods(in_force, kinds),
        refunds_paid=refunds_paid(in_force),
        offsets_executed=offsets_executed(in_force),
    )


def no_entries() -> pl.DataFrame:
    """An empty `decision_entries` frame: a database where no decision was ever taken."""
    return pl.DataFrame(schema=decision_entries_table().polars_schema)


def no_decisions() -> DecisionEffects:
    """The effects of no decision at all: every step as the files alone decide it."""
    # With no entry there is no exemption to look up a kind for.
    return decision_effects(no_entries(), ExemptionKinds({}))


def decisions_in_force(entries: pl.DataFrame) -> pl.DataFrame:
    """The decisions that act: every entry but the revokes and the decisions a revoke voided.

    Should two decisions of one kind ever act on one payment or candidate (entry refuses it), the
    later one (by decision_id) acts, so that the tables never depend on the order rows were read.
    """
    voided = entries.filter(KIND == DecisionKind.REVOKE)["revokes"]
    acting = entries.filter((KIND != DecisionKind.REVOKE) & ~pl.col("decision_id").is_in(voided.implode()))
    return acting.sort("decision_id")


def payments_decided(in_force: pl.DataFrame) -> pl.DataFrame:
    """payment_key, kind and receivable_id of the payments a `match` or `return` decides, one decision each."""
    decided = in_force.filter(KIND.is_in([DecisionKind.MATCH, DecisionKind.RETURN]))
    return decided.unique("payment_key", keep="last", maintain_order=True).select("payment_key", "kind", "receivable_id")


def sightings_chosen(in_force: pl.DataFrame) -> pl.DataFrame:
    """payment_key, file_name and record_number of the sighting a `resolve` chose for each held payment."""
    chosen = in_force.filter(KIND == DecisionKind.RESOLVE)
    return chosen.unique("payment_key", keep="last", maintain_order=True).select("payment_key", "file_name", "record_number")


def exemption_periods(in_force: pl.DataFrame, kinds: ExemptionKinds) -> pl.DataFrame:
    """The exemption periods of the `exempt` decisions (SPEC §6.1), with their fractions exact, as late_fee_frames takes them."""
    exempt = in_force.filter(KIND == DecisionKind.EXEMPT)
    # Few rows: the fraction of each is the kinds table's, or the one the decision gave (`reduction`).
    rows = [
        (receivable_id, start_on, end_on, *_numerator_and_denominator(kinds.fraction_of(kind, _given(fraction))))
        for receivable_id, start_on, end_on, kind, fraction in exempt.select(
            "receivable_id", "start_on", "end_on", "exemption_kind", "fraction"
        ).iter_rows()
    ]
    return pl.DataFrame(rows, schema=EXEMPTION_SCHEMA, orient="row")


def periods_by_receivable(exemption_periods: pl.DataFrame) -> dict[str, list[ExemptionPeriod]]:
    """The exemption periods (EXEMPTION_SCHEMA) by receivable, as the reference engine takes them (few rows: plain Python)."""
    periods: dict[str, list[ExemptionPeriod]] = {}
    for receivable_id, start_on, end_on, numerator, denominator in exemption_periods.select(*EXEMPTION_SCHEMA).iter_rows():
        periods.setdefault(receivable_id, []).append(ExemptionPeriod(start_on, end_on, Fraction(numerator, denominator)))
    return periods


def _given(fraction: str | None) -> Fraction | None:
    return None if fraction is None else parsed_fraction(fraction)


def _numerator_and_denominator(fraction: Fraction) -> tuple[int, int]:
    return fraction.numerator, fraction.denominator


def refunds_paid(in_force: pl.DataFrame) -> pl.DataFrame:
    """candidate_id and refunded_on (the 支出決定日) of every candidate a `refunded` decision closed."""
    paid = in_force.filter(KIND == DecisionKind.REFUNDED).unique("candidate_id", keep="last", maintain_order=True)
    return paid.select("candidate_id", pl.col("decided_on").alias("refunded_on"))


def offsets_executed(in_force: pl.DataFrame) -> pl.DataFrame:
    """candidate_id and executed_on (the 充当日) of every candidate whose proposed 充当 an `offset` decision executed."""
    executed = in_force.filter(KIND == DecisionKind.OFFSET).unique("candidate_id", keep="last", maintain_order=True)
    return executed.select("candidate_id", pl.col("decided_on").alias("executed_on"))


def decisions_table(
    entries: pl.DataFrame,
    receivables: pl.DataFrame,
    payments: pl.DataFrame,
    refund_candidates: pl.DataFrame,
    offsets: pl.DataFrame,
    arrears: pl.DataFrame,
) -> pl.DataFrame:
    """The `decisions` table: every entry, the revoke that voided it, whether it took effect and the yen it moved."""
    revoked_by = entries.filter(KIND == DecisionKind.REVOKE).select(
        pl.col("revokes").alias("decision_id"), pl.col("decision_id").alias("revoked_by")
    )
    table = entries.join(revoked_by, on="decision_id", how="left", maintain_order="left")
    moved = pl.concat(
        [
            _payments_moved(payments),
            _refunds_moved(refund_candidates),
            _offsets_moved(offsets),
            _exemptions_moved(receivables, arrears),
        ]
    )
    return conformed(_with_moved(table, moved), "decisions").sort("decision_id")


def _with_moved(table: pl.DataFrame, moved: pl.DataFrame) -> pl.DataFrame:
    """table with in_effect and moved_yen: what its kind did to its target in this rebuild (a revoked decision did nothing)."""
    target = pl.coalesce("payment_key", "candidate_id", "receivable_id")
    keyed = table.with_columns(target.alias("target"))
    joined = keyed.join(moved, on=["kind", "target"], how="left", maintain_order="left")
    acting = pl.col("revoked_by").is_null()
    # A revoke acts on a decision and an accepted snapshot on the next run of its date, not on money here.
    on_no_money = KIND.is_in([DecisionKind.REVOKE, DecisionKind.ACCEPT_SNAPSHOT])
    took_effect = acting & (pl.col("moved_yen").is_not_null() | on_no_money)
    return joined.with_columns(
        took_effect.alias("in_effect"), pl.when(took_effect).then(pl.col("moved_yen").fill_null(0)).otherwise(0).alias("moved_yen")
    )


def _moved(frame: pl.DataFrame, kind: DecisionKind, target: str, yen: pl.Expr) -> pl.DataFrame:
    return frame.select(pl.lit(kind.value).alias("kind"), pl.col(target).alias("target"), yen.cast(pl.Int64).alias("moved_yen"))


def _payments_moved(payments: pl.DataFrame) -> pl.DataFrame:
    status = pl.col("status")
    matched = payments.filter(pl.col("matched_by") == MatchedBy.DECISION)
    returned = payments.filter(status == PaymentStatus.RETURNED)
    # A resolve takes effect on a payment that is no longer held: its whole amount now counts.
    resolved = payments.filter(status != PaymentStatus.HELD)
    return pl.concat(
        [
            _moved(matched, DecisionKind.MATCH, "payment_key", pl.col("paid_total")),
            _moved(returned, DecisionKind.RETURN, "payment_key", pl.col("paid_total")),
            _moved(resolved, DecisionKind.RESOLVE, "payment_key", pl.col("paid_total")),
        ]
    )


def _refunds_moved(refund_candidates: pl.DataFrame) -> pl.DataFrame:
    refunded = refund_candidates.filter(pl.col("status") == CandidateStatus.REFUNDED)
    return _moved(refunded, DecisionKind.REFUNDED, "candidate_id", pl.col("refund_amount") + pl.col("refund_interest"))


def _offsets_moved(offsets: pl.DataFrame) -> pl.DataFrame:
    executed = offsets.filter(pl.col("status") == OffsetStatus.EXECUTED)
    by_candidate = executed.group_by("candidate_id").agg(pl.sum_horizontal(OFFSET_COLUMNS).sum().alias("yen"))
    return _moved(by_candidate, DecisionKind.OFFSET, "candidate_id", pl.col("yen"))


def _exemptions_moved(receivables: pl.DataFrame, arrears: pl.DataFrame) -> pl.DataFrame:
    # An exemption acts on any receivable of the latest snapshot; the yen it spared show while the
    # receivable is in arrears (one paid off owes no 延滞金 any more, exempted or not).
    exempted = receivables.select("receivable_id").join(
        arrears.select("receivable_id", "late_fee_exempted"), on="receivable_id", how="left"
    )
    return _moved(exempted, DecisionKind.EXEMPT, "receivable_id", pl.col("late_fee_exempted").fill_null(0))
