"""延滞金 owed per receivable (SPEC §4.1; docs/reconciliation.md step 4): 確定 or 見込 as of a day.

The application step needs it between its 本税 waterfall and the others (`ledger_late_fees`);
the overpayment and arrears steps price it again against other 本税 histories (`late_fees_owed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from schemas.rates import RatesTable
from transforms.late_fee_frames import late_fees, late_fees_exempted
from transforms.ledger import OWED, low_rate_months_expression, paid_through, principal_payments, settled_before_late_fee

PRICED = ("late_fee_owed", "late_fee_exempted")
LATE_FEE_PERIOD = ("receivable_id", "principal", "effective_due_date", "end_date", "low_rate_months")


def ledger_late_fees(
    ledger: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """receivable_id and late_fee_owed of the receivables whose payments bring anything to 延滞金."""
    # Only money left after 本税 and 督促手数料 (or a 延滞金 part) reaches 延滞金; the 延滞金 of the
    # other receivables does not change their applications, and arrears prices it apart.
    reaching_ids = ledger.filter(settled_before_late_fee(paid_through(), OWED[:2])[2] > 0)["receivable_id"]
    reaching = ledger.filter(pl.col("receivable_id").is_in(reaching_ids.implode()))
    receivables = reaching.unique("receivable_id").select(
        "receivable_id", pl.col("principal_owed").alias("principal"), "effective_due_date", "tax_code"
    )
    owed = late_fees_owed(receivables, principal_payments(reaching), as_of, rates, low_rate_months, exemption_periods)
    return owed.select("receivable_id", "late_fee_owed")


def late_fees_owed(
    receivables: pl.DataFrame,
    principal_payments: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    exemption_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Each receivable's 延滞金 owed: 確定 to the day its 本税 was paid in full, else 見込 as of as_of.

    receivables: receivable_id (unique), principal, effective_due_date, tax_code; principal_payments:
    receivable_id, paid_on, amount; exemption_periods: late_fee_frames.EXEMPTION_COLUMNS (SPEC §6.1).
    Returns receivable_id, principal_paid, paid_in_full, late_fee_owed and late_fee_exempted (the
    延滞金 the exemption periods took away).
    """
    # Without a period the pricing is exactly that of a run before §6.1.
    exemptions = None if exemption_periods is None or exemption_periods.is_empty() else exemption_periods
    paying = principal_payments.filter(pl.col("amount") > 0)
    paid = paying.group_by("receivable_id").agg(
        pl.col("amount").sum().alias("principal_paid"), pl.col("paid_on").max().alias("last_paid_on")
    )
    periods = receivables.join(paid, on="receivable_id", how="left", maintain_order="left")
    periods = periods.with_columns(*_end_of_late_fee(as_of), low_rate_months_expression(low_rate_months))
    # Only a period that runs past the 納期限 can bear 延滞金: the others need no pricing at all.
    running = periods.filter(pl.col("end_date") > pl.col("effective_due_date"))
    running = running.select(*LATE_FEE_PERIOD)
    priced = late_fees(running, paying, rates, exemptions).rename({"late_fee": "late_fee_owed"})
    exempted = pl.lit(0, pl.Int64) if exemptions is None else late_fees_exempted(running, paying, rates, exemptions)["late_fee_exempted"]
    priced = priced.with_columns(exempted.alias("late_fee_exempted"))
    owed = periods.join(priced, on="receivable_id", how="left", maintain_order="left")
    return owed.select("receivable_id", "principal_paid", "paid_in_full", *(pl.col(name).fill_null(0) for name in PRICED))


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
