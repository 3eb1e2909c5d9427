"""Overpayments as refund candidates (過誤納金, SPEC §4.2; docs/reconciliation.md step 5): 過納 or 誤納.

A payment's overpayment is 過納 for what it lawfully settled under the receivable as assessed on
its 納付日 but no longer settles under the latest snapshot (a 減額 or a cancellation since), and
誤納 for the rest: money that was never owed when it was paid. Each candidate arises on its day,
from which its 還付加算金 start and its expiry follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from hashlib import sha256

import polars as pl

from schemas.codes import PaymentStatus, RefundKind
from schemas.rates import RatesTable
from transforms.late_fee import expires_on, refund_interest_start
from transforms.late_fees_owed import late_fees_owed
from transforms.ledger import PAYMENT_IDENTITY, paid_before, paid_through, waterfall

# The first assessment has no effective_from: it is in force from the beginning.
FIRST_ASSESSMENT = date.min
CANDIDATE_ID_DIGITS = 16
CANDIDATE_SOURCE = (*PAYMENT_IDENTITY, "taxpayer_id", "receivable_id", "paid_on")


def arising_candidates(
    ledger: pl.DataFrame,
    history: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One refund candidate per kind of overpayment of each payment, before any 充当, by candidate_id."""
    shares = overpayment_shares(ledger, history, as_of, rates, low_rate_months, exemption_periods)
    # 過納 arises on the 減額 day, 誤納 on the 納付日 (§4.2).
    excess = shares.select(
        *CANDIDATE_SOURCE,
        pl.lit(RefundKind.EXCESS).alias("kind"),
        pl.col("excess_amount").alias("overpaid_amount"),
        pl.col("reduced_on").alias("arose_on"),
    )
    erroneous = shares.select(
        *CANDIDATE_SOURCE,
        pl.lit(RefundKind.ERRONEOUS).alias("kind"),
        (pl.col("overpaid_amount") - pl.col("excess_amount")).alias("overpaid_amount"),
        pl.col("paid_on").alias("arose_on"),
    )
    candidates = pl.concat([excess, erroneous]).filter(pl.col("overpaid_amount") > 0)
    return _with_ids_and_dates(candidates).sort("candidate_id")


def returned_candidates(payments: pl.DataFrame) -> pl.DataFrame:
    """One 誤納 candidate per payment the office returned (SPEC §6 `return`): its whole amount, arising on its 納付日.

    It belongs to no receivable and no known taxpayer, so nothing of it can be offset (充当).
    """
    returned = payments.filter(pl.col("status") == PaymentStatus.RETURNED).select(
        *PAYMENT_IDENTITY,
        pl.lit(None, pl.String).alias("taxpayer_id"),
        pl.lit(None, pl.String).alias("receivable_id"),
        "paid_on",
        pl.lit(RefundKind.ERRONEOUS).alias("kind"),
        pl.col("paid_total").alias("overpaid_amount"),
        pl.col("paid_on").alias("arose_on"),
    )
    return _with_ids_and_dates(returned).sort("candidate_id")


def overpayment_shares(
    ledger: pl.DataFrame,
    history: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every overpaid payment with excess_amount, the 過納 part of it, and reduced_on, the 減額 day."""
    overpaid = ledger.filter(pl.col("overpaid_amount") > 0)
    history = history.filter(pl.col("receivable_id").is_in(overpaid["receivable_id"].implode()))
    overpaid = _in_force_on_payment_day(overpaid, history)
    changed = overpaid.filter(
        (pl.col("principal_then") != pl.col("principal_owed")) | (pl.col("dunning_fee_then") != pl.col("dunning_fee_owed"))
    )
    then = _late_fees_owed_then(changed, ledger, as_of, rates, low_rate_months, exemption_periods)
    changed = changed.join(then, on="then_id", how="left")
    excess = pl.when(pl.col("reduced_on").is_not_null()).then(_settled_then() - _settled_now())
    changed = changed.select("payment_key", excess.clip(0, pl.col("overpaid_amount")).fill_null(0).alias("excess_amount"))
    shares = overpaid.join(changed, on="payment_key", how="left", maintain_order="left")
    return shares.with_columns(pl.col("excess_amount").fill_null(0))


def candidate_id(payment_key: str, kind: str, arose_on: date) -> str:
    """The id of the candidate of one payment, kind and day: stable across re-runs (CONTRACT.md)."""
    return sha256(f"{payment_key}|{kind}|{arose_on.isoformat()}".encode()).hexdigest()[:CANDIDATE_ID_DIGITS]


def _settled_now() -> pl.Expr:
    """What the payment settles under the latest snapshot."""
    return pl.col("paid_total") - pl.col("overpaid_amount")


def _settled_then() -> pl.Expr:
    """What the payment settled under the receivable as it stood on its 納付日, by the same waterfalls."""
    owed_then = (pl.col("principal_then"), pl.col("dunning_fee_then"), pl.col("late_fee_then"))
    return pl.sum_horizontal(waterfall(paid_through(), owed_then)) - pl.sum_horizontal(waterfall(paid_before(), owed_then))


def _in_force_on_payment_day(overpaid: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """overpaid with the 本税 and 督促手数料 in force on each 納付日 and the 減額 day since, if any."""
    with_then = overpaid.join(_principal_in_force(overpaid, history), on="payment_key", how="left", maintain_order="left")
    with_then = with_then.join(_reduced_on(overpaid, history), on="payment_key", how="left", maintain_order="left")
    # A cancelled receivable owed no 督促手数料 from its cancellation on.
    dunning_fee_then = pl.when(pl.col("cancelled_on") <= pl.col("paid_on")).then(0).otherwise("dunning_fee_charged")
    with_then = with_then.with_columns(
        pl.col("principal_then").fill_null(pl.col("principal_owed")), dunning_fee_then.alias("dunning_fee_then")
    )
    # The receivable as it stood, one per 本税 value, so that its 延滞金 is priced apart.
    return with_then.with_columns(pl.format("{}|{}", "receivable_id", "principal_then").alias("then_id"))


def _principal_in_force(overpaid: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """payment_key and principal_then: the 本税 whose effective_from is the latest on or before the 納付日."""
    assessments = overpaid.select("payment_key", "receivable_id", "paid_on").join(
        history.with_columns(pl.col("effective_from").fill_null(FIRST_ASSESSMENT)), on="receivable_id"
    )
    in_force = assessments.filter(pl.col("effective_from") <= pl.col("paid_on"))
    # Two changes on one day: the lower 本税 is taken, so that the order of delivery cannot matter.
    in_force = in_force.sort("payment_key", "effective_from", "principal", descending=[False, False, True])
    return in_force.group_by("payment_key").agg(pl.col("principal").last().alias("principal_then"))


def _reduced_on(overpaid: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """payment_key and reduced_on: the latest day after its 納付日 that its receivable's 本税 was lowered."""
    # Of several 減額 after a payment the latest is taken: one day per payment and kind (design step 5).
    ordered = history.sort("receivable_id", pl.col("effective_from").fill_null(FIRST_ASSESSMENT))
    lowered = pl.col("principal") < pl.col("principal").shift(1).over("receivable_id")
    reductions = ordered.filter(lowered & pl.col("effective_from").is_not_null())
    after = overpaid.select("payment_key", "receivable_id", "paid_on").join(
        reductions.select("receivable_id", pl.col("effective_from").alias("reduced_on")), on="receivable_id"
    )
    return after.filter(pl.col("reduced_on") > pl.col("paid_on")).group_by("payment_key").agg(pl.col("reduced_on").max())


def _late_fees_owed_then(
    changed: pl.DataFrame,
    ledger: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """then_id and late_fee_then: the 延滞金 owed had the 本税 in force on a 納付日 stayed (its exemption periods too)."""
    pairs = changed.select("receivable_id", "principal_then", "then_id", "effective_due_date", "tax_code").unique()
    payments = ledger.join(pairs.select("receivable_id", "principal_then", "then_id"), on="receivable_id")
    # The receivable's payments settle 本税 in the same order, only against the earlier 本税.
    through, before = (pl.min_horizontal(paid[0], pl.col("principal_then")) for paid in (paid_through(), paid_before()))
    principal_payments = payments.select(pl.col("then_id").alias("receivable_id"), "paid_on", (through - before).alias("amount"))
    receivables = pairs.select(
        pl.col("then_id").alias("receivable_id"), pl.col("principal_then").alias("principal"), "effective_due_date", "tax_code"
    )
    exemptions = None
    if exemption_periods is not None:
        # Each version of the receivable is priced under its then_id: its periods go with it.
        by_version = exemption_periods.join(pairs.select("receivable_id", "then_id"), on="receivable_id")
        exemptions = by_version.with_columns(pl.col("then_id").alias("receivable_id")).drop("then_id")
    owed = late_fees_owed(receivables, principal_payments, as_of, rates, low_rate_months, exemptions)
    return owed.select(pl.col("receivable_id").alias("then_id"), pl.col("late_fee_owed").alias("late_fee_then"))


def _with_ids_and_dates(candidates: pl.DataFrame) -> pl.DataFrame:
    """candidates with candidate_id, interest_start and expires_on (few rows: plain Python per row)."""
    rows = candidates.select("payment_key", "kind", "paid_on", "arose_on").rows()
    return candidates.with_columns(
        pl.Series("candidate_id", [candidate_id(key, kind, arose_on) for key, kind, _, arose_on in rows], pl.String),
        pl.Series("interest_start", [refund_interest_start(kind, paid_on) for _, kind, paid_on, _ in rows], pl.Date),
        pl.Series("expires_on", [expires_on(arose_on) for *_, arose_on in rows], pl.Date),
    )
