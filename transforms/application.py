"""Payments applied to their receivables (消込, SPEC §3.1), and what each overpaid.

Every applied payment's money is split into a 本税 part, a 督促手数料 part and a 延滞金 part, and
the payments of one receivable are taken in 納付日 order. The waterfalls are written cumulatively:
the payments up to and including one settle min(what they paid, what is owed), so a payment's
share is that minus the same for the payments before it. That needs three running sums per
receivable and no loop, and it makes a 減額 shrink the latest payment's application first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from schemas.rates import RatesTable
from schemas.tables import derived_tables
from transforms.late_fee_frames import late_fees

TABLE_SCHEMAS = {table.name: table.polars_schema for table in derived_tables()}
PAYMENT_IDENTITY = ("payment_key", "common_tax_id", "sequence_number", "payment_info_sequence")
# SPEC §3.1, then payment_key so that two payments alike in every other key still have one order.
APPLICATION_ORDER = ("paid_on", "mpn_processed_on", "mpn_processed_at", "mpn_serial", "payment_key")
APPLIED = "applied"
LATE_FEE_ONLY, DUNNING_FEE_ONLY = "02", "03"
PARTS = ("principal_part", "dunning_fee_part", "late_fee_part")
APPLIED_COLUMNS = ("principal_applied", "dunning_fee_applied", "late_fee_applied")
OWED = (pl.col("principal_owed"), pl.col("dunning_fee_owed"), pl.col("late_fee_owed"))
# The low-rate period is one month for taxes; a tax_code setting may lengthen it (SPEC §4.1).
DEFAULT_LOW_RATE_MONTHS = 1


@dataclass(frozen=True)
class Settlement:
    """What the applied payments settle, as the derived tables and the payments' overpayments."""

    applications: pl.DataFrame
    overpaid_amounts: pl.DataFrame
    refund_candidates: pl.DataFrame
    offsets: pl.DataFrame
    arrears: pl.DataFrame


def settled_accounts(
    payments: pl.DataFrame,
    versions: pl.DataFrame,
    history: pl.DataFrame,
    current: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    offset_order: str = "oldest_due_first",
) -> Settlement:
    """Applications, overpayments, refund candidates, 充当 and arrears as of as_of (design steps 4–8)."""
    # The later steps build on this module's ledger, so they are imported here, not at the top.
    from transforms.arrears import arrears
    from transforms.offsets import offsets
    from transforms.refunds import arising_candidates, refund_candidates

    ledger = application_ledger(payments, versions, as_of, rates, low_rate_months)
    arising = arising_candidates(ledger, history, as_of, rates, low_rate_months)
    offset_rows = offsets(arising, current, ledger, as_of, rates, low_rate_months, offset_order)
    return Settlement(
        applications=applications(ledger),
        overpaid_amounts=overpaid_amounts(ledger),
        refund_candidates=refund_candidates(arising, offset_rows, as_of, rates),
        offsets=offset_rows,
        arrears=arrears(current, ledger, offset_rows, as_of, rates, low_rate_months),
    )


def applications(ledger: pl.DataFrame) -> pl.DataFrame:
    """The `applications` table: what each applied payment settled of its receivable."""
    return conformed(ledger, "applications")


def overpaid_amounts(ledger: pl.DataFrame) -> pl.DataFrame:
    """payment_key and overpaid_amount of every applied payment, for the `payments` table."""
    return ledger.select("payment_key", "overpaid_amount").sort("payment_key")


def application_ledger(
    payments: pl.DataFrame,
    versions: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Every applied payment, in application order, with what it settled and what it overpaid."""
    ledger = with_running_parts(with_owed(payment_parts(payments), versions))
    principal_applied = _share(lambda paid: pl.min_horizontal(paid[0], pl.col("principal_owed")))
    ledger = ledger.with_columns(principal_applied.alias("principal_applied"))
    ledger = ledger.join(_late_fees_owed_by_ledger(ledger, as_of, rates, low_rate_months), on="receivable_id", how="left")
    ledger = ledger.with_columns(pl.col("late_fee_owed").fill_null(0))
    applied = [_share(lambda paid, stage=stage: waterfall(paid, OWED)[stage]) for stage in range(3)]
    ledger = ledger.with_columns(*(share.alias(name) for share, name in zip(applied, APPLIED_COLUMNS)))
    return ledger.with_columns((pl.col("paid_total") - pl.sum_horizontal(APPLIED_COLUMNS)).alias("overpaid_amount"))


def payment_parts(payments: pl.DataFrame) -> pl.DataFrame:
    """The applied payments in application order, with their 本税, 督促手数料 and 延滞金 parts."""
    applied = payments.filter((pl.col("status") == APPLIED) & pl.col("receivable_id").is_not_null())
    payment_class, total = pl.col("payment_class"), pl.col("paid_total").fill_null(0)
    dunning_fee = pl.when(payment_class == DUNNING_FEE_ONLY).then(total).when(payment_class == LATE_FEE_ONLY).then(0)
    late_fee = pl.when(payment_class == LATE_FEE_ONLY).then(total).when(payment_class == DUNNING_FEE_ONLY).then(0)
    parts = applied.with_columns(
        total.alias("paid_total"),
        dunning_fee.otherwise(pl.col("paid_dunning_fee").fill_null(0)).alias("dunning_fee_part"),
        late_fee.otherwise(pl.col("paid_late_fee").fill_null(0)).alias("late_fee_part"),
    )
    # The 本税 part is the rest: 本税等 (or 納付額) and 加算金, and any sum no field names (支払消費税,
    # none on a city tax) as lump-sum money, so that paid_total is always wholly accounted for.
    parts = parts.with_columns((pl.col("paid_total") - pl.col("dunning_fee_part") - pl.col("late_fee_part")).alias("principal_part"))
    _refuse_negative_parts(parts)
    return parts.sort("receivable_id", *APPLICATION_ORDER, nulls_last=True)


def with_owed(parts: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """parts with their receivable's taxpayer, 納期限 and the 本税 and 督促手数料 it owes now."""
    # A receivable absent from the newest snapshot was cancelled whole: neither 本税 (0 in
    # versions) nor its 督促手数料 is owed any more, so all paid to it is an overpayment.
    owed = versions.select(
        "receivable_id",
        "taxpayer_id",
        "tax_code",
        "effective_due_date",
        "cancelled_on",
        pl.col("principal").alias("principal_owed"),
        pl.col("dunning_fee").fill_null(0).alias("dunning_fee_charged"),
        pl.when("cancelled").then(0).otherwise(pl.col("dunning_fee").fill_null(0)).alias("dunning_fee_owed"),
    )
    joined = parts.join(owed, on="receivable_id", how="left", maintain_order="left")
    unknown = joined.filter(pl.col("principal_owed").is_null())["receivable_id"].unique().sort()
    if len(unknown):
        raise ValueError(f"payments applied to receivables never delivered: {', '.join(unknown.head(5))}")
    return joined


def with_running_parts(ledger: pl.DataFrame) -> pl.DataFrame:
    """ledger with each part summed over the receivable's payments up to and including this one."""
    return ledger.with_columns(pl.col(part).cum_sum().over("receivable_id").alias(f"{part}_through") for part in PARTS)


def paid_through() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments up to and including this one."""
    return tuple(pl.col(f"{part}_through") for part in PARTS)


def paid_before() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments before this one."""
    return tuple(pl.col(f"{part}_through") - pl.col(part) for part in PARTS)


def waterfall(
    paid: tuple[pl.Expr, pl.Expr, pl.Expr], owed: tuple[pl.Expr, pl.Expr, pl.Expr]
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """What money paid as 本税, 督促手数料 and 延滞金 parts settles of each debt owed (SPEC §3.1)."""
    principal, dunning_fee, to_late_fee = _before_late_fee(paid, owed[:2])
    return principal, dunning_fee, pl.min_horizontal(to_late_fee, owed[2])


def _before_late_fee(
    paid: tuple[pl.Expr, pl.Expr, pl.Expr], owed: tuple[pl.Expr, pl.Expr]
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The 本税 and 督促手数料 settled, and the money that goes on to 延滞金."""
    # Each part goes to its own debt; what the 本税 part leaves goes to 督促手数料, and what is
    # left of that to 延滞金: the lump-sum order 本税 → 督促手数料 → 延滞金 of 国税通則法62条.
    principal = pl.min_horizontal(paid[0], owed[0])
    to_dunning_fee = paid[1] + paid[0] - principal
    dunning_fee = pl.min_horizontal(to_dunning_fee, owed[1])
    return principal, dunning_fee, paid[2] + to_dunning_fee - dunning_fee


def _share(settled: Callable[[tuple[pl.Expr, pl.Expr, pl.Expr]], pl.Expr]) -> pl.Expr:
    """This payment's share of what settled(paid so far) settles: through it minus before it."""
    return settled(paid_through()) - settled(paid_before())


def late_fees_owed(
    receivables: pl.DataFrame,
    principal_payments: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Each receivable's 延滞金 owed: 確定 to the day its 本税 was paid in full, else 見込 as of as_of.

    receivables: receivable_id (unique), principal, effective_due_date, tax_code; principal_payments:
    receivable_id, paid_on, amount. Returns receivable_id, principal_paid, paid_in_full, late_fee_owed.
    """
    paying = principal_payments.filter(pl.col("amount") > 0)
    paid = paying.group_by("receivable_id").agg(pl.col("amount").sum().alias("principal_paid"), pl.col("paid_on").max().alias("last_paid_on"))
    periods = receivables.join(paid, on="receivable_id", how="left", maintain_order="left").with_columns(pl.col("principal_paid").fill_null(0))
    paid_in_full = (pl.col("principal_paid") >= pl.col("principal")) & (pl.col("principal") > 0)
    # §4.1: to the 納付日 of the payment that completed the 本税 (確定), else as if paid on as_of (見込).
    end_date = pl.when(pl.col("principal") == 0).then("effective_due_date").when(paid_in_full).then("last_paid_on").otherwise(pl.lit(as_of))
    periods = periods.with_columns(paid_in_full.alias("paid_in_full"), end_date.alias("end_date"), low_rate_months_expression(low_rate_months))
    # Only a period that runs past the 納期限 can bear 延滞金: the others need no pricing at all.
    running = periods.filter(pl.col("end_date") > pl.col("effective_due_date"))
    priced = late_fees(running.select("receivable_id", "principal", "effective_due_date", "end_date", "low_rate_months"), paying, rates)
    owed = periods.join(priced.rename({"late_fee": "late_fee_owed"}), on="receivable_id", how="left", maintain_order="left")
    return owed.select("receivable_id", "principal_paid", "paid_in_full", pl.col("late_fee_owed").fill_null(0))


def low_rate_months_expression(low_rate_months: Mapping[str, int] | None) -> pl.Expr:
    """The low-rate period of each row's tax_code, in months (1 unless the setting says otherwise)."""
    if not low_rate_months:
        return pl.lit(DEFAULT_LOW_RATE_MONTHS, pl.Int64).alias("low_rate_months")
    months = pl.col("tax_code").replace_strict(dict(low_rate_months), default=DEFAULT_LOW_RATE_MONTHS, return_dtype=pl.Int64)
    return months.alias("low_rate_months")


def receivable_totals(ledger: pl.DataFrame) -> pl.DataFrame:
    """receivable_id and the 本税, 督促手数料 and 延滞金 its payments settled in all."""
    return ledger.group_by("receivable_id").agg(pl.col(name).sum() for name in APPLIED_COLUMNS)


def principal_payments(ledger: pl.DataFrame) -> pl.DataFrame:
    """The 本税 each payment settled, as late_fees_owed takes it: receivable_id, paid_on, amount."""
    return ledger.select("receivable_id", "paid_on", pl.col("principal_applied").alias("amount")).filter(pl.col("amount") > 0)


def conformed(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """frame's columns of the derived table, in its order and types."""
    schema = TABLE_SCHEMAS[table]
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _late_fees_owed_by_ledger(
    ledger: pl.DataFrame, as_of: date, rates: RatesTable, low_rate_months: Mapping[str, int] | None
) -> pl.DataFrame:
    """receivable_id and late_fee_owed of the receivables whose payments bring anything to 延滞金."""
    # Only money left after 本税 and 督促手数料 (or a 延滞金 part) reaches 延滞金; the 延滞金 of the
    # other receivables does not change their applications, and arrears prices it apart.
    to_late_fee = _before_late_fee(paid_through(), OWED[:2])[2]
    reaching = ledger.filter((to_late_fee > 0).any().over("receivable_id"))
    receivables = reaching.unique("receivable_id").select("receivable_id", pl.col("principal_owed").alias("principal"), "effective_due_date", "tax_code")
    owed = late_fees_owed(receivables, principal_payments(reaching), as_of, rates, low_rate_months)
    return owed.select("receivable_id", "late_fee_owed")


def _refuse_negative_parts(parts: pl.DataFrame) -> None:
    """Raise ValueError when a payment's named parts exceed its paid_total or one is negative."""
    negative = parts.filter(pl.any_horizontal(pl.col(part) < 0 for part in PARTS))
    if negative.height:
        raise ValueError(f"payment parts exceed paid_total or are negative: {', '.join(negative['payment_key'].head(5))}")
