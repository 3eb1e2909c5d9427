"""Arrears (滞納, SPEC §4.1, §4.3, design step 8): what the latest snapshot's receivables still owe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

from schemas.codes import LateFeeStatus, OffsetStatus
from schemas.rates import RatesTable
from transforms.late_fees_owed import late_fees_owed
from transforms.ledger import APPLIED_COLUMNS, OFFSET_COLUMNS, conformed, principal_payments, receivable_totals

SETTLED_COLUMNS = ("principal_settled", "dunning_fee_settled", "late_fee_settled")
# §329 and analogues: a 督促状 is due within 20 days after the 納期限.
DUNNING_DAYS = timedelta(days=20)


def arrears(
    current: pl.DataFrame,
    ledger: pl.DataFrame,
    offsets: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    exemption_periods: pl.DataFrame | None = None,
    incomplete_deliveries: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The `arrears` table: receivables past their effective 納期限 with 本税 or 延滞金 unpaid as of as_of.

    Arrears are net of every 充当, proposed or executed (§17条の2 makes it mandatory); offset_pending
    shows what proposed, not yet executed 充当 covers. Exemption periods (SPEC §6.1) lower 延滞金.
    incomplete_deliveries (settlement_date, reason; `transforms.deliveries.incomplete_deliveries`)
    hold 督促 back (SPEC §7); None: every expected delivery came.
    """
    balances = settled_balances(current.filter(pl.col("effective_due_date") < as_of), ledger, offsets)
    # Only a receivable with 本税 unpaid, or settled after its 納期限, can be in arrears: the millions
    # paid on time are never priced.
    unpaid_principal = pl.col("principal") > pl.col("principal_settled")
    bearing = balances.filter(unpaid_principal | (pl.col("last_settled_on") > pl.col("effective_due_date")))
    receivables = bearing.select("receivable_id", "principal", "effective_due_date", "tax_code")
    paid = settled_principal(ledger, offsets).filter(pl.col("receivable_id").is_in(bearing["receivable_id"].implode()))
    owed = late_fees_owed(receivables, paid, as_of, rates, low_rate_months, exemption_periods)
    rows = bearing.join(owed, on="receivable_id", how="left", maintain_order="left")
    rows = rows.join(_offset_pending(offsets), on="receivable_id", how="left", maintain_order="left").with_columns(_outstanding(as_of))
    unpaid = rows.filter((pl.col("principal_outstanding") > 0) | (pl.col("late_fee") > 0))
    return conformed(dunning_readiness(unpaid, incomplete_deliveries), "arrears").sort("receivable_id")


def dunning_readiness(arrears: pl.DataFrame, incomplete_deliveries: pl.DataFrame | None) -> pl.DataFrame:
    """arrears with dunning_ready and dunning_hold_reason: a receivable due a 督促状 is ready only when no
    expected delivery from its effective 納期限 on is missing or rejected (SPEC §7).

    The reason names the first such delivery and how many more there are: the payment that would
    make the 督促状 wrong may be in any of them.
    """
    incomplete = incomplete_deliveries if incomplete_deliveries is not None else pl.DataFrame(schema={"settlement_date": pl.Date, "reason": pl.String})
    ordered = incomplete.sort("settlement_date").with_row_index("position").select(
        pl.col("settlement_date").alias("hold_from"), "reason", (incomplete.height - 1 - pl.col("position").cast(pl.Int64)).alias("more")
    )
    by_due = arrears.with_row_index("arrears_row").sort("effective_due_date")
    held = by_due.join_asof(ordered, left_on="effective_due_date", right_on="hold_from", strategy="forward").sort("arrears_row")
    hold = pl.col("dunning_due") & pl.col("hold_from").is_not_null()
    reason = pl.when(pl.col("more") > 0).then(pl.format("{} (and {} more)", pl.col("reason"), pl.col("more"))).otherwise(pl.col("reason"))
    return held.with_columns(
        (pl.col("dunning_due") & ~hold).alias("dunning_ready"), pl.when(hold).then(reason).alias("dunning_hold_reason")
    ).drop("arrears_row", "hold_from", "reason", "more")


def settled_balances(receivables: pl.DataFrame, ledger: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """receivables with the 本税, 督促手数料 and 延滞金 their payments and 充当 settled, and the last day of either."""
    offset = offsets.group_by("receivable_id").agg(
        *(pl.col(name).sum() for name in OFFSET_COLUMNS), pl.col("offset_on").max()
    )
    joined = receivables.join(receivable_totals(ledger), on="receivable_id", how="left", maintain_order="left")
    joined = joined.join(offset, on="receivable_id", how="left", maintain_order="left")
    settled = [
        (pl.col(applied).fill_null(0) + pl.col(offset_name).fill_null(0)).alias(name)
        for applied, offset_name, name in zip(APPLIED_COLUMNS, OFFSET_COLUMNS, SETTLED_COLUMNS)
    ]
    return joined.with_columns(*settled, pl.max_horizontal("last_paid_on", "offset_on").alias("last_settled_on"))


def settled_principal(ledger: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """The 本税 settled by payments on their 納付日 and by 充当 on its 充当適状日: receivable_id, paid_on, amount."""
    offset = offsets.select(
        "receivable_id", pl.col("offset_on").alias("paid_on"), pl.col("principal_offset").alias("amount")
    )
    return pl.concat([principal_payments(ledger), offset.filter(pl.col("amount") > 0)])


def _offset_pending(offsets: pl.DataFrame) -> pl.DataFrame:
    """receivable_id and offset_pending: the yen of proposed, not yet executed 充当 to it."""
    proposed = offsets.filter(pl.col("status") == OffsetStatus.PROPOSED)
    return proposed.group_by("receivable_id").agg(pl.sum_horizontal(OFFSET_COLUMNS).sum().alias("offset_pending"))


def _outstanding(as_of: date) -> list[pl.Expr]:
    """What is owed of 本税, 督促手数料 and 延滞金 past what was settled, and how the debt stands."""
    principal_outstanding = pl.col("principal") - pl.col("principal_settled")
    return [
        principal_outstanding.alias("principal_outstanding"),
        (pl.col("dunning_fee").fill_null(0) - pl.col("dunning_fee_settled")).alias("dunning_fee_outstanding"),
        # A 延滞金 part paid against an earlier, larger estimate never makes the debt negative.
        (pl.col("late_fee_owed") - pl.col("late_fee_settled")).clip(lower_bound=0).alias("late_fee"),
        # §4.1: an estimate while 本税 is unpaid, fixed once it is paid in full.
        pl.when(principal_outstanding > 0).then(pl.lit(LateFeeStatus.ESTIMATED)).otherwise(pl.lit(LateFeeStatus.FIXED)).alias("late_fee_status"),
        (pl.lit(as_of) - pl.col("effective_due_date")).dt.total_days().alias("days_overdue"),
        # §4.3: 本税 unpaid past the 納期限 (every row here is) and no 督促状 sent yet.
        ((principal_outstanding > 0) & pl.col("dunning_sent_on").is_null()).alias("dunning_due"),
        (pl.col("effective_due_date") + DUNNING_DAYS).alias("dunning_deadline"),
        pl.col("offset_pending").fill_null(0),
        pl.lit(as_of).alias("as_of"),
    ]
