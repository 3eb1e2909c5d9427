"""Every derived table, rebuilt from the stored inputs (docs/reconciliation.md).

The tables depend only on what is stored and on `as_of`, never on the order in which files or
dates were processed, so a re-run gives the same database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from schemas.rates import RatesTable
from schemas.tables import derived_tables, stored_input_tables
from transforms.application import settled_accounts
from transforms.matching import matched_payments
from transforms.payments import payments, sighting_schema, sightings
from transforms.provisional import provisional_payments
from transforms.receivables import current_receivables, principal_history, receivable_versions

TABLES = {table.name: table for table in stored_input_tables()}
TABLE_SCHEMAS = {table.name: table.polars_schema for table in derived_tables()}
# What the rebuild reads of each stored table: payment_records' opaque system areas stay on disk.
STORED_COLUMNS = {
    "payment_records": [name for name in sighting_schema() if name in TABLES["payment_records"].column_names],
    "provisional_records": TABLES["provisional_records"].column_names,
    "management_records": TABLES["management_records"].column_names,
    "link_records": TABLES["link_records"].column_names,
    "receivable_snapshots": TABLES["receivable_snapshots"].column_names,
}


@dataclass(frozen=True)
class DerivedTables:
    """The rebuilt contents of every derived table, and counts for the run's report."""

    receivables: pl.DataFrame
    payments: pl.DataFrame
    provisional_payments: pl.DataFrame
    applications: pl.DataFrame
    arrears: pl.DataFrame
    refund_candidates: pl.DataFrame
    offsets: pl.DataFrame
    outcome_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def derived_state(
    inputs: dict[str, pl.DataFrame],
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    offset_order: str = "oldest_due_first",
    business_days_to_confirm: int = 5,
    step: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
) -> DerivedTables:
    """All derived tables from the stored inputs (payment, 仮登録, 管理, 紐付 records, snapshots).

    `inputs` is consumed: each input frame is dropped once read, so memory holds one stage at a
    time. `step(name)` wraps each stage (the benchmark times them with it).
    """
    with step("receivables: newest versions, 本税 history, effective 納期限"):
        snapshots = inputs.pop("receivable_snapshots")
        current, versions = current_receivables(snapshots), receivable_versions(snapshots)
        history = principal_history(snapshots, versions)
        del snapshots
    with step("payments: sightings decided"):
        decided = payments(sightings(inputs.pop("payment_records"), inputs.pop("provisional_records")), as_of, business_days_to_confirm)
    with step("matching (routes 1–3)"):
        matched = matched_payments(decided, inputs.pop("management_records"), inputs.pop("link_records"), versions)
        del decided
    with step("application, 延滞金, overpayments, 充当, arrears"):
        settlement = settled_accounts(matched, versions, history, current, as_of, rates, low_rate_months, offset_order)
    with step("payments and 仮登録 tables"):
        tables = DerivedTables(
            receivables=_conformed(current, "receivables"),
            payments=payments_table(matched, settlement.overpaid_amounts),
            provisional_payments=_conformed(provisional_payments(matched, versions), "provisional_payments"),
            applications=settlement.applications,
            arrears=settlement.arrears,
            refund_candidates=settlement.refund_candidates,
            offsets=settlement.offsets,
        )
    return DerivedTables(**{**vars(tables), "outcome_counts": outcome_counts(tables)})


def payments_table(matched: pl.DataFrame, overpaid_amounts: pl.DataFrame) -> pl.DataFrame:
    """The `payments` table: the matched payments with their overpayments."""
    merged = matched.drop("overpaid_amount", strict=False).join(overpaid_amounts, on="payment_key", how="left", maintain_order="left")
    return _conformed(merged, "payments").sort("payment_key")


def _conformed(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    schema = TABLE_SCHEMAS[table]
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def outcome_counts(tables: DerivedTables) -> dict[str, dict[str, int]]:
    """Counts and yen totals per outcome: payments by status and error class, arrears, refunds."""
    payments_by_status = tables.payments.group_by("status").agg(pl.len(), pl.col("paid_total").sum()).sort("status")
    pending = tables.payments.filter(pl.col("status") == "pending").group_by("error_class").agg(pl.len()).sort("error_class")
    return {
        "payments": {f"{row['status']} count": row["len"] for row in payments_by_status.iter_rows(named=True)}
        | {f"{row['status']} yen": int(row["paid_total"] or 0) for row in payments_by_status.iter_rows(named=True)},
        "pending by error class": {row["error_class"]: row["len"] for row in pending.iter_rows(named=True)},
        "unconfirmed (no 確報 five business days after 納付日)": {"payments": int(tables.payments["unconfirmed"].sum())},
        "arrears": {
            "receivables": tables.arrears.height,
            "principal outstanding yen": int(tables.arrears["principal_outstanding"].sum()),
            "late fee yen": int(tables.arrears["late_fee"].sum()),
        },
        "refund candidates": {
            "candidates": tables.refund_candidates.height,
            "overpaid yen": int(tables.refund_candidates["overpaid_amount"].sum()),
            "offset yen": int(tables.refund_candidates["offset_amount"].sum()),
            "refund yen": int(tables.refund_candidates["refund_amount"].sum()),
        },
    }
