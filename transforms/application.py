"""Payments applied to their receivables (消込, SPEC §3.1), and what each overpaid.

Every applied payment's money is split into a 本税 part, a 督促手数料 part and a 延滞金 part, and
the payments of one receivable are taken in 納付日 order. The waterfalls (transforms/ledger.py)
need three running sums per receivable and no loop, and they make a 減額 shrink the latest
payment's application first. 延滞金 owed depends on the 本税 settled and when, so the step runs in
two halves: `principal_ledger` settles 本税, the rebuild prices the 延滞金 owed
(transforms/late_fees_owed.py), and `application_ledger` settles the rest.
"""

from __future__ import annotations

import polars as pl

from schemas.codes import PaymentClass, PaymentStatus
from transforms.fiscal_year import receipt_fiscal_year
from transforms.ledger import APPLIED_COLUMNS, OWED, PARTS, PAYMENT_IDENTITY, conformed, paid_before, paid_through, waterfall

# SPEC §3.1, then payment_key so that two payments alike in every other key still have one order.
APPLICATION_ORDER = ("paid_on", "mpn_processed_on", "mpn_processed_at", "mpn_serial", "payment_key")


def principal_ledger(payments: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """Every applied payment, in application order, with its parts, what is owed and the 本税 it settled."""
    ledger = with_running_parts(in_application_order(with_owed(payment_parts(payments), versions)))
    return ledger.with_columns(_applied(0))


def application_ledger(principal_ledger: pl.DataFrame, late_fees: pl.DataFrame) -> pl.DataFrame:
    """principal_ledger with the 督促手数料 and 延滞金 each payment settled, and what it overpaid.

    late_fees: receivable_id and late_fee_owed of the receivables whose money reaches 延滞金.
    """
    ledger = principal_ledger.join(late_fees, on="receivable_id", how="left", maintain_order="left")
    ledger = ledger.with_columns(pl.col("late_fee_owed").fill_null(0)).with_columns(_applied(1), _applied(2))
    overpaid = pl.col("paid_total") - pl.sum_horizontal(APPLIED_COLUMNS)
    return ledger.with_columns(overpaid.alias("overpaid_amount"))


def applications(ledger: pl.DataFrame) -> pl.DataFrame:
    """The `applications` table: what each applied payment settled of its receivable, and the 会計年度 of the receipt."""
    years = receipt_fiscal_year(pl.col("paid_on"), pl.col("assessed_fiscal_year"))
    return conformed(ledger.with_columns(years), "applications")


def overpaid_amounts(ledger: pl.DataFrame) -> pl.DataFrame:
    """payment_key and overpaid_amount of every applied payment, for the `payments` table."""
    return ledger.select("payment_key", "overpaid_amount")


def payment_parts(payments: pl.DataFrame) -> pl.DataFrame:
    """The applied payments with their 本税, 督促手数料 and 延滞金 parts (SPEC §3.1)."""
    applied = payments.filter(pl.col("status") == PaymentStatus.APPLIED)
    payment_class, total = pl.col("payment_class"), pl.col("paid_total").fill_null(0)
    dunning_fee_only, late_fee_only = payment_class == PaymentClass.DUNNING_FEE_ONLY, payment_class == PaymentClass.LATE_FEE_ONLY
    dunning_fee = pl.when(dunning_fee_only).then(total).when(late_fee_only).then(0)
    late_fee = pl.when(late_fee_only).then(total).when(dunning_fee_only).then(0)
    parts = applied.select(
        *PAYMENT_IDENTITY,
        "receivable_id",
        *APPLICATION_ORDER[:-1],
        total.alias("paid_total"),
        dunning_fee.otherwise(pl.col("paid_dunning_fee").fill_null(0)).alias("dunning_fee_part"),
        late_fee.otherwise(pl.col("paid_late_fee").fill_null(0)).alias("late_fee_part"),
    )
    # The 本税 part is the rest: 本税等 (or 納付額) and 加算金, and any sum no field names (支払消費税,
    # none on a city tax) as lump-sum money, so that paid_total is always wholly accounted for.
    principal = pl.col("paid_total") - pl.col("dunning_fee_part") - pl.col("late_fee_part")
    parts = parts.with_columns(principal.alias("principal_part"))
    _refuse_broken_payments(parts)
    return parts


def with_owed(parts: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """parts with their receivable's taxpayer, 調定年度, 納期限 and the 本税 and 督促手数料 it owes now."""
    dunning_fee = pl.col("dunning_fee").fill_null(0)
    owed = versions.select(
        "receivable_id",
        # The receivable's place in receivable_id order: an integer, which sorts fast.
        pl.col("receivable_id").rank("ordinal").alias("receivable_number"),
        "taxpayer_id",
        "tax_code",
        # Named apart from the receipt's own 会計年度, which `applications` calls fiscal_year.
        pl.col("fiscal_year").alias("assessed_fiscal_year"),
        "effective_due_date",
        "cancelled_on",
        pl.col("principal").alias("principal_owed"),
        dunning_fee.alias("dunning_fee_charged"),
        # A receivable absent from the newest snapshot was cancelled whole: neither its 本税 (0 in
        # versions) nor its 督促手数料 is owed any more, so all paid to it is an overpayment.
        pl.when("cancelled").then(0).otherwise(dunning_fee).alias("dunning_fee_owed"),
    )
    joined = parts.join(owed, on="receivable_id", how="left")
    unknown = joined.filter(pl.col("principal_owed").is_null())["receivable_id"].unique().sort()
    if len(unknown):
        raise ValueError(f"payments applied to receivables never delivered: {', '.join(unknown.head(5))}")
    return joined


def in_application_order(ledger: pl.DataFrame) -> pl.DataFrame:
    """ledger by receivable_id, each receivable's payments in the order of SPEC §3.1, then payment_key."""
    # Sorting millions of rows on strings takes seconds, on integers a fraction of one: sort on the
    # receivable's number and one integer packing the dates and time, then sort again, on every
    # key, only the rare runs of one receivable that tie on all of those.
    keys = ledger.select("receivable_number", _packed_order().alias("order_key"), *APPLICATION_ORDER[2:])
    ordered = keys.with_row_index("row").sort("receivable_number", "order_key")
    same = (pl.col("receivable_number") == pl.col("receivable_number").shift(1)) & (
        pl.col("order_key") == pl.col("order_key").shift(1)
    )
    tied = ordered.with_row_index("position").filter(same.fill_null(False) | same.shift(-1).fill_null(False))
    retied = tied.sort("receivable_number", "order_key", *APPLICATION_ORDER[2:], nulls_last=True)
    return ledger[ordered["row"].clone().scatter(tied["position"], retied["row"])]


def with_running_parts(ledger: pl.DataFrame) -> pl.DataFrame:
    """ledger, in application order, with each part summed over the receivable's payments so far."""
    # A receivable's payments are contiguous: one running sum over the frame, minus its value where
    # the receivable begins (in Int128, so that the frame-wide sum cannot overflow).
    begins = (pl.col("receivable_number") != pl.col("receivable_number").shift(1)).fill_null(True)

    def running(part: str) -> pl.Expr:
        total = pl.col(part).cast(pl.Int128).cum_sum()
        before_receivable = pl.when(begins).then(total - pl.col(part)).forward_fill()
        return (total - before_receivable).cast(pl.Int64).alias(f"{part}_through")

    return ledger.with_columns(running(part) for part in PARTS)


def _applied(stage: int) -> pl.Expr:
    """What this payment settled of 本税 (stage 0), 督促手数料 (1) or 延滞金 (2)."""
    through, before = waterfall(paid_through(), OWED)[stage], waterfall(paid_before(), OWED)[stage]
    return (through - before).alias(APPLIED_COLUMNS[stage])


def _packed_order() -> pl.Expr:
    """納付日, MPN処理年月日 and MPN処理時刻 (to the second) in one Int64 that sorts as they do, nulls last."""
    # Days since 1970 plus 2**19 fill 20 bits for the years 535–3405; a null MPN処理年月日 sorts after
    # every date (21 bits) and a null MPN処理時刻 after every second of a day (17 bits): 58 in all.
    paid_on = pl.col("paid_on").cast(pl.Int64) + 2**19
    processed_on = (pl.col("mpn_processed_on").cast(pl.Int64) + 2**19).fill_null(2**20)
    processed_at = (pl.col("mpn_processed_at").cast(pl.Int64) // 10**9).fill_null(2**17 - 1)
    return (paid_on * 2**21 + processed_on) * 2**17 + processed_at


def _refuse_broken_payments(parts: pl.DataFrame) -> None:
    """Raise ValueError for an applied payment with no receivable or 納付日, or parts over paid_total."""
    # Dropping one would break paid_total = Σ applications + overpayment without a word.
    missing = pl.col("receivable_id").is_null() | pl.col("paid_on").is_null()
    broken = parts.filter(missing | pl.any_horizontal(pl.col(part) < 0 for part in PARTS))["payment_key"]
    if len(broken):
        raise ValueError(
            f"applied payments without receivable or 納付日, or with parts over paid_total: {', '.join(broken.head(5))}"
        )
