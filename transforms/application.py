"""Payments applied to their receivables (消込, SPEC §3.1), and what each overpaid.

Every applied payment's money is split into a 本税 part, a 督促手数料 part and a 延滞金 part, and
the payments of one receivable are taken in 納付日 order. The waterfalls are written cumulatively:
the payments up to and including one settle min(what they paid, what is owed), so a payment's
share is that minus the same for the payments before it. That needs three running sums per
receivable and no loop, and it makes a 減額 shrink the latest payment's application first.
"""

from __future__ import annotations

from collections.abc import Mapping
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
LATE_FEE_PERIOD = ("receivable_id", "principal", "effective_due_date", "end_date", "low_rate_months")
# The low-rate period is one month for taxes; a tax_code setting may lengthen it (SPEC §4.1).
DEFAULT_LOW_RATE_MONTHS = 1

Amounts = tuple[pl.Expr, pl.Expr, pl.Expr]


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
    return ledger.select("payment_key", "overpaid_amount")


def application_ledger(
    payments: pl.DataFrame,
    versions: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Every applied payment, in application order, with what it settled and what it overpaid."""
    ledger = with_running_parts(in_application_order(with_owed(payment_parts(payments), versions)))
    # 延滞金 owed depends on the 本税 settled and when, so the 本税 waterfall runs first.
    ledger = ledger.with_columns(_applied(0))
    owed = _late_fees_owed_by_ledger(ledger, as_of, rates, low_rate_months)
    ledger = ledger.join(owed, on="receivable_id", how="left", maintain_order="left")
    ledger = ledger.with_columns(pl.col("late_fee_owed").fill_null(0)).with_columns(_applied(1), _applied(2))
    overpaid = pl.col("paid_total") - pl.sum_horizontal(APPLIED_COLUMNS)
    return ledger.with_columns(overpaid.alias("overpaid_amount"))


def payment_parts(payments: pl.DataFrame) -> pl.DataFrame:
    """The applied payments with their 本税, 督促手数料 and 延滞金 parts (SPEC §3.1)."""
    applied = payments.filter(pl.col("status") == APPLIED)
    payment_class, total = pl.col("payment_class"), pl.col("paid_total").fill_null(0)
    dunning_fee = pl.when(payment_class == DUNNING_FEE_ONLY).then(total).when(payment_class == LATE_FEE_ONLY).then(0)
    late_fee = pl.when(payment_class == LATE_FEE_ONLY).then(total).when(payment_class == DUNNING_FEE_ONLY).then(0)
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
    """parts with their receivable's taxpayer, 納期限 and the 本税 and 督促手数料 it owes now."""
    dunning_fee = pl.col("dunning_fee").fill_null(0)
    owed = versions.select(
        "receivable_id",
        # The receivable's place in receivable_id order: an integer, which sorts fast.
        pl.col("receivable_id").rank("ordinal").alias("receivable_number"),
        "taxpayer_id",
        "tax_code",
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


def paid_through() -> Amounts:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments up to this one included."""
    return tuple(pl.col(f"{part}_through") for part in PARTS)


def paid_before() -> Amounts:
    """The 本税, 督促手数料 and 延滞金 parts paid by the receivable's payments before this one."""
    return tuple(pl.col(f"{part}_through") - pl.col(part) for part in PARTS)


def waterfall(paid: Amounts, owed: Amounts) -> Amounts:
    """What money paid as 本税, 督促手数料 and 延滞金 parts settles of each debt owed (SPEC §3.1)."""
    principal, dunning_fee, to_late_fee = _before_late_fee(paid, owed[:2])
    return principal, dunning_fee, pl.min_horizontal(to_late_fee, owed[2])


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
    paid = paying.group_by("receivable_id").agg(
        pl.col("amount").sum().alias("principal_paid"), pl.col("paid_on").max().alias("last_paid_on")
    )
    periods = receivables.join(paid, on="receivable_id", how="left", maintain_order="left")
    periods = periods.with_columns(*_end_of_late_fee(as_of), low_rate_months_expression(low_rate_months))
    # Only a period that runs past the 納期限 can bear 延滞金: the others need no pricing at all.
    running = periods.filter(pl.col("end_date") > pl.col("effective_due_date"))
    priced = late_fees(running.select(*LATE_FEE_PERIOD), paying, rates).rename({"late_fee": "late_fee_owed"})
    owed = periods.join(priced, on="receivable_id", how="left", maintain_order="left")
    return owed.select("receivable_id", "principal_paid", "paid_in_full", pl.col("late_fee_owed").fill_null(0))


def low_rate_months_expression(low_rate_months: Mapping[str, int] | None) -> pl.Expr:
    """The low-rate period of each row's tax_code, in months (1 unless the setting says otherwise)."""
    if not low_rate_months:
        return pl.lit(DEFAULT_LOW_RATE_MONTHS, pl.Int64).alias("low_rate_months")
    months = pl.col("tax_code").replace_strict(
        dict(low_rate_months), default=DEFAULT_LOW_RATE_MONTHS, return_dtype=pl.Int64
    )
    return months.alias("low_rate_months")


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


def conformed(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """frame's columns of the derived table, in its order and types."""
    schema = TABLE_SCHEMAS[table]
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _applied(stage: int) -> pl.Expr:
    """What this payment settled of 本税 (stage 0), 督促手数料 (1) or 延滞金 (2)."""
    through, before = waterfall(paid_through(), OWED)[stage], waterfall(paid_before(), OWED)[stage]
    return (through - before).alias(APPLIED_COLUMNS[stage])


def _before_late_fee(paid: Amounts, owed: tuple[pl.Expr, pl.Expr]) -> Amounts:
    """The 本税 and 督促手数料 settled, and the money that goes on to 延滞金."""
    # Each part goes to its own debt; what the 本税 part leaves goes to 督促手数料, and what is
    # left of that to 延滞金: the lump-sum order 本税 → 督促手数料 → 延滞金 of 国税通則法62条.
    principal = pl.min_horizontal(paid[0], owed[0])
    to_dunning_fee = paid[1] + paid[0] - principal
    dunning_fee = pl.min_horizontal(to_dunning_fee, owed[1])
    return principal, dunning_fee, paid[2] + to_dunning_fee - dunning_fee


def _end_of_late_fee(as_of: date) -> list[pl.Expr]:
    """principal_paid, paid_in_full and end_date: the last day that bears 延滞金 (§4.1)."""
    paid_in_full = (pl.col("principal_paid").fill_null(0) >= pl.col("principal")) & (pl.col("principal") > 0)
    # To the 納付日 of the payment that completed the 本税 (確定), else as if paid on as_of (見込).
    end_date = pl.when(pl.col("principal") == 0).then("effective_due_date").when(paid_in_full).then("last_paid_on")
    return [
        pl.col("principal_paid").fill_null(0),
        paid_in_full.alias("paid_in_full"),
        end_date.otherwise(pl.lit(as_of)).alias("end_date"),
    ]


def _late_fees_owed_by_ledger(
    ledger: pl.DataFrame, as_of: date, rates: RatesTable, low_rate_months: Mapping[str, int] | None
) -> pl.DataFrame:
    """receivable_id and late_fee_owed of the receivables whose payments bring anything to 延滞金."""
    # Only money left after 本税 and 督促手数料 (or a 延滞金 part) reaches 延滞金; the 延滞金 of the
    # other receivables does not change their applications, and arrears prices it apart.
    reaching_ids = ledger.filter(_before_late_fee(paid_through(), OWED[:2])[2] > 0)["receivable_id"]
    reaching = ledger.filter(pl.col("receivable_id").is_in(reaching_ids.implode()))
    receivables = reaching.unique("receivable_id").select(
        "receivable_id", pl.col("principal_owed").alias("principal"), "effective_due_date", "tax_code"
    )
    owed = late_fees_owed(receivables, principal_payments(reaching), as_of, rates, low_rate_months)
    return owed.select("receivable_id", "late_fee_owed")


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
