"""Arrears (滞納, SPEC §4.1, §4.3, design step 8): what the latest snapshot's receivables still owe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

from schemas.rates import RatesTable
from transforms.application import conformed, late_fees_owed, principal_payments, receivable_totals

SETTLED = ("principal_settled", "dunning_fee_settled", "late_fee_settled")
# §329 and analogues: a 督促状 is due within 20 days after the 納期限.
DUNNING_DAYS = timedelta(days=20)
ESTIMATED, FIXED = "見込", "確定"


def arrears(
    current: pl.DataFrame,
    ledger: pl.DataFrame,
    offsets: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """The `arrears` table: receivables past their effective 納期限 with 本税 or 延滞金 unpaid as of as_of."""
    due = current.filter(pl.col("effective_due_date") < as_of)
    receivables = due.select("receivable_id", "principal", "effective_due_date", "tax_code")
    owed = late_fees_owed(receivables, settled_principal(ledger, offsets), as_of, rates, low_rate_months)
    balances = due.join(settled_amounts(ledger, offsets), on="receivable_id", how="left").join(owed, on="receivable_id", how="left")
    balances = balances.with_columns(pl.col(name).fill_null(0) for name in SETTLED).with_columns(_outstanding(as_of))
    unpaid = balances.filter((pl.col("principal_outstanding") > 0) | (pl.col("late_fee") > 0))
    return conformed(unpaid, "arrears").sort("receivable_id")


def settled_principal(ledger: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """The 本税 settled by payments on their 納付日 and by 充当 on its 充当適状日: receivable_id, paid_on, amount."""
    offset = offsets.select("receivable_id", pl.col("offset_on").alias("paid_on"), pl.col("principal_offset").alias("amount"))
    return pl.concat([principal_payments(ledger), offset.filter(pl.col("amount") > 0)])


def settled_amounts(ledger: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """receivable_id and the 本税, 督促手数料 and 延滞金 settled by its payments and 充当 together."""
    applied = receivable_totals(ledger).select("receivable_id", *(pl.col(name).alias(total) for name, total in zip(("principal_applied", "dunning_fee_applied", "late_fee_applied"), SETTLED)))
    offset = offsets.select("receivable_id", *(pl.col(name).alias(total) for name, total in zip(("principal_offset", "dunning_fee_offset", "late_fee_offset"), SETTLED)))
    return pl.concat([applied, offset]).group_by("receivable_id").agg(pl.col(name).sum() for name in SETTLED)


def _outstanding(as_of: date) -> list[pl.Expr]:
    """What is owed of 本税, 督促手数料 and 延滞金 past what was settled, and how the debt stands."""
    principal_outstanding = pl.col("principal") - pl.col("principal_settled")
    return [
        principal_outstanding.alias("principal_outstanding"),
        (pl.col("dunning_fee").fill_null(0) - pl.col("dunning_fee_settled")).alias("dunning_fee_outstanding"),
        # A 延滞金 part paid against an earlier, larger estimate never makes the debt negative.
        (pl.col("late_fee_owed") - pl.col("late_fee_settled")).clip(lower_bound=0).alias("late_fee"),
        # §4.1: an estimate while 本税 is unpaid, fixed once it is paid in full.
        pl.when(principal_outstanding > 0).then(pl.lit(ESTIMATED)).otherwise(pl.lit(FIXED)).alias("late_fee_status"),
        (pl.lit(as_of) - pl.col("effective_due_date")).dt.total_days().alias("days_overdue"),
        # §4.3: 本税 unpaid past the 納期限 (every row here is) and no 督促状 sent yet.
        ((principal_outstanding > 0) & pl.col("dunning_sent_on").is_null()).alias("dunning_due"),
        (pl.col("effective_due_date") + DUNNING_DAYS).alias("dunning_deadline"),
        pl.lit(as_of).alias("as_of"),
    ]
