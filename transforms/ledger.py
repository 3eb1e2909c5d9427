"""The application ledger's shared vocabulary: its columns, the §3.1 waterfalls, totals per receivable.

The ledger is the frame the application step builds (transforms/application.py): every applied
payment in application order, with its 本税, 督促手数料 and 延滞金 parts, their running sums per
receivable and what the receivable owes. Every later step reads it through these helpers; this
module imports no step, so the steps can all import it.

The waterfalls are written cumulatively: the payments up to and including one settle min(what
they paid, what is owed), so a payment's share is that minus the same for the payments before it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from schemas.tables import derived_tables

TABLE_SCHEMAS = {table.name: table.polars_schema for table in derived_tables()}
PAYMENT_IDENTITY = ("payment_key", "common_tax_id", "sequence_number", "payment_info_sequence")
PARTS = ("principal_part", "dunning_fee_part", "late_fee_part")
APPLIED_COLUMNS = ("principal_applied", "dunning_fee_applied", "late_fee_applied")
OFFSET_COLUMNS = ("principal_offset", "dunning_fee_offset", "late_fee_offset")
OWED = (pl.col("principal_owed"), pl.col("dunning_fee_owed"), pl.col("late_fee_owed"))
# The low-rate period is one month for taxes; a tax_code setting may lengthen it (SPEC §4.1).
DEFAULT_LOW_RATE_MONTHS = 1

Amounts = tuple[pl.Expr, pl.Expr, pl.Expr]


def paid_through() -> Amounts:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments up to this one included."""
    return tuple(pl.col(f"{part}_through") for part in PARTS)


def paid_before() -> Amounts:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments before this one."""
    return tuple(pl.col(f"{part}_through") - pl.col(part) for part in PARTS)


def waterfall(paid: Amounts, owed: Amounts) -> Amounts:
    """What money paid as 本税, 督促手数料 and 延滞金 parts settles of each debt owed (SPEC §3.1)."""
    principal, dunning_fee, to_late_fee = settled_before_late_fee(paid, owed[:2])
    return principal, dunning_fee, pl.min_horizontal(to_late_fee, owed[2])


def settled_before_late_fee(paid: Amounts, owed: tuple[pl.Expr, pl.Expr]) -> Amounts:
    """The 本税 and 督促手数料 settled, and the money that goes on to 延滞金."""
    # Each part goes to its own debt; what the 本税 part leaves goes to 督促手数料, and what is
    # left of that to 延滞金: the lump-sum order 本税 → 督促手数料 → 延滞金 of 国税通則法62条.
    principal = pl.min_horizontal(paid[0], owed[0])
    to_dunning_fee = paid[1] + paid[0] - principal
    dunning_fee = pl.min_horizontal(to_dunning_fee, owed[1])
    return principal, dunning_fee, paid[2] + to_dunning_fee - dunning_fee


def receivable_totals(ledger: pl.DataFrame) -> pl.DataFrame:
    """receivable_id, the 本税, 督促手数料 and 延滞金 its payments settled in all, and its last 納付日."""
    # The ledger's last row of a receivable has its payments' running totals: no group_by needed.
    last = (pl.col("receivable_number") != pl.col("receivable_number").shift(-1)).fill_null(True)
    totals = (total.alias(name) for total, name in zip(waterfall(paid_through(), OWED), APPLIED_COLUMNS))
    return ledger.filter(last).select("receivable_id", *totals, pl.col("paid_on").alias("last_paid_on"))


def principal_payments(ledger: pl.DataFrame) -> pl.DataFrame:
    """The 本税 each payment settled, as late_fees_owed takes it: receivable_id, paid_on, amount."""
    settled = ledger.select("receivable_id", "paid_on", pl.col("principal_applied").alias("amount"))
    return settled.filter(pl.col("amount") > 0)


def low_rate_months_expression(low_rate_months: Mapping[str, int] | None) -> pl.Expr:
    """The low-rate period of each row's tax_code, in months (1 unless the setting says otherwise)."""
    if not low_rate_months:
        return pl.lit(DEFAULT_LOW_RATE_MONTHS, pl.Int64).alias("low_rate_months")
    months = pl.col("tax_code").replace_strict(
        dict(low_rate_months), default=DEFAULT_LOW_RATE_MONTHS, return_dtype=pl.Int64
    )
    return months.alias("low_rate_months")


def conformed(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """frame's columns of the derived table, in its order and types."""
    schema = TABLE_SCHEMAS[table]
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
