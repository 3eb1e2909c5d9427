"""The parts of a rebuild in bounded memory (issue 15): which part each receivable and payment goes to, and what each part leaves for the end.

Everything after matching (`transforms.rebuild.taxpayer_tables`: application, 延滞金, overpayments,
充当, refunds, arrears) depends only on one taxpayer's receivables and payments, so it runs a part
of the taxpayers at a time: a receivable goes to the part of its taxpayer, an applied payment to its
receivable's, and a payment applied to none (pending, held, returned, …) to the part of its own key,
where it meets nothing else. Two tables look across taxpayers: the work queue (its suggestions are
any taxpayer's receivables) and the decisions table. Each part leaves the few rows they read
(`CrossTaxpayerRows`), and they are made once at the end from those, the same rows as in one pass.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, fields
from datetime import date

import polars as pl

from schemas.rates import RatesTable
from schemas.settings import Settings
from transforms.decisions import DecisionEffects, decisions_table
from transforms.history import Pricing, SettledState, arrears_receipt_years, dated_hashes, dated_rows
from transforms.payments import KEY
from transforms.rebuild import COUNTED_COLUMNS, ReceivableState, TaxpayerTables, taxpayer_tables
from transforms.work_queue import WAITING, unpaid_principals, work_queue_of_unpaid

PART = "part"
# What a rebuild holds per stored row (receivable snapshots, payment-file and 仮登録 records), measured
# with benchmarks/reconcile.py at 1M and 5M: in one pass, everything; in parts, the process and its
# libraries, what is kept of every row throughout (the routes' lookups), and a part's share.
ONE_PASS_BYTES_PER_ROW = 1400
BASE_BYTES = 1 << 30
KEPT_BYTES_PER_ROW = 112
PART_BYTES_PER_ROW = 1380
# The least memory left for a part: below it the parts would be too many to be worth it.
LEAST_PART_BYTES = 1 << 28
# Any fixed seed: a part only has to be the same for a key throughout one rebuild.
SEED = 15


def partition_count(stored_rows: int, memory_gb: float) -> int:
    """How many parts a rebuild of stored_rows rows needs to stay within memory_gb: 1 when one pass fits."""
    budget = memory_gb * (1 << 30)
    if stored_rows * ONE_PASS_BYTES_PER_ROW <= budget:
        return 1
    left = max(budget - BASE_BYTES - stored_rows * KEPT_BYTES_PER_ROW, LEAST_PART_BYTES)
    return max(2, -(-stored_rows * PART_BYTES_PER_ROW // int(left)))


def part_of(column: str, partitions: int) -> pl.Expr:
    """The part (0 … partitions − 1) of each value of column."""
    return (pl.col(column).hash(SEED) % partitions).cast(pl.Int64).alias(PART)


def receivable_parts(versions: pl.DataFrame, partitions: int) -> pl.DataFrame:
    """receivable_id and part of every receivable ever delivered: its taxpayer's part."""
    return versions.select("receivable_id", part_of("taxpayer_id", partitions))


def with_taxpayer_part(matched: pl.DataFrame, receivable_parts: pl.DataFrame, partitions: int) -> pl.DataFrame:
    """matched with the part each payment is settled in: its receivable's, or its own key's when it is applied to none."""
    joined = matched.join(receivable_parts, on="receivable_id", how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(PART, part_of(KEY, partitions)))


def waiting_payments(matched: pl.DataFrame) -> pl.DataFrame:
    """The matched payments that wait for the office (the work queue's rows)."""
    return matched.filter(pl.col("status").is_in(WAITING))


@dataclass(frozen=True)
class CrossTaxpayerRows:
    """What the work queue and the decisions table read of some taxpayers' tables.

    unpaid: `unpaid_principals` whose outstanding 本税 some waiting payment paid (the only ones a
    suggestion can name); decided: the tables' rows that some decision entry names.
    """

    unpaid: pl.DataFrame
    decided: TaxpayerTables


def cross_taxpayer_rows(tables: TaxpayerTables, entries: pl.DataFrame, waiting: pl.DataFrame, as_of: date) -> CrossTaxpayerRows:
    """The rows of one part's tables that the work queue (of the `waiting` payments) and the decisions (`entries`) read."""
    unpaid = unpaid_principals(tables.receivables, tables.applications, tables.offsets, tables.arrears, as_of)
    paid_amounts = waiting.filter(pl.col("paid_principal") > 0)["paid_principal"].implode()
    named = {column: entries[column].drop_nulls().implode() for column in ("payment_key", "candidate_id", "receivable_id")}
    by_table = {
        "receivables": "receivable_id",
        "payments": "payment_key",
        "arrears": "receivable_id",
        "refund_candidates": "candidate_id",
        "offsets": "candidate_id",
    }
    decided = {
        table.name: getattr(tables, table.name).filter(pl.col(by_table[table.name]).is_in(named[by_table[table.name]]))
        if table.name in by_table
        else getattr(tables, table.name).clear()
        for table in fields(TaxpayerTables)
    }
    return CrossTaxpayerRows(unpaid.filter(pl.col("principal_outstanding").is_in(paid_amounts)), TaxpayerTables(**decided))


def gathered(parts: list[CrossTaxpayerRows]) -> CrossTaxpayerRows:
    """The rows every part left, as one."""
    decided = {table.name: pl.concat([getattr(part.decided, table.name) for part in parts]) for table in fields(TaxpayerTables)}
    return CrossTaxpayerRows(pl.concat([part.unpaid for part in parts]), TaxpayerTables(**decided))


def cross_taxpayer_tables(
    rows: CrossTaxpayerRows, entries: pl.DataFrame, waiting: pl.DataFrame, reissued: pl.DataFrame, filing_numbers: pl.DataFrame, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The `decisions` and `work_queue` tables from the rows the parts left, as one pass makes them.

    filing_numbers: receivable_id and filing_receipt_number of every receivable ever delivered that has one.
    """
    decided = rows.decided
    decisions = decisions_table(entries, decided.receivables, decided.payments, decided.refund_candidates, decided.offsets, decided.arrears)
    return decisions, work_queue_of_unpaid(waiting, reissued, filing_numbers, rows.unpaid, as_of)


@dataclass(frozen=True)
class PartInputs:
    """What one part of the taxpayers is settled from: its matched payments and its receivables (transforms.rebuild.ReceivableState but re-issued numbers)."""

    matched: pl.DataFrame
    versions: pl.DataFrame
    principals: pl.DataFrame
    current: pl.DataFrame
    first_delivered: pl.DataFrame


@dataclass(frozen=True)
class PartContext:
    """What every part is settled with: the date, the law tables, the settings, the decisions, the deliveries missing, and what the cross-taxpayer tables read."""

    as_of: date
    rates: RatesTable
    settings: Settings
    decisions: DecisionEffects
    incomplete: pl.DataFrame
    entries: pl.DataFrame
    waiting: pl.DataFrame


@dataclass(frozen=True)
class SettledPart:
    """One part's tables and ledger; the rows the cross-taxpayer tables, the counts and `history` read of it."""

    tables: TaxpayerTables
    ledger: pl.DataFrame
    left: CrossTaxpayerRows
    counted: dict[str, pl.DataFrame]
    # transforms.history.dated_hashes and arrears_receipt_years of the part's state.
    hashes: pl.DataFrame
    arrears_years: pl.DataFrame


def settled_part(context: PartContext, inputs: PartInputs) -> SettledPart:
    """The tables of one part of the taxpayers, and what the end of the rebuild reads of it (a pure function: a part may run anywhere)."""
    no_reissued = pl.DataFrame()  # taxpayer_tables does not read them: the work queue is made at the end
    receivables = ReceivableState(inputs.current, inputs.versions, inputs.principals, no_reissued, inputs.first_delivered)
    settings, decisions = context.settings, context.decisions
    settled = taxpayer_tables(inputs.matched, receivables, context.as_of, context.rates, settings, lambda name: nullcontext(), decisions, context.incomplete)
    tables, state = settled.tables, settled.state
    counted = {name: getattr(tables, name).select(columns) for name, columns in COUNTED_COLUMNS.items() if hasattr(tables, name)}
    left = cross_taxpayer_rows(tables, context.entries, context.waiting, context.as_of)
    return SettledPart(tables, state.ledger, left, counted, dated_hashes(state), arrears_receipt_years(state))


@dataclass(frozen=True)
class HistoryContext:
    """What every part's `history` rows are made with: the days to compute, the pricing, the 滞繰 receipts' years of every part."""

    as_of: date
    days: list[date]
    pricing: Pricing
    arrears_years: pl.DataFrame


def history_of_part(context: HistoryContext, state: SettledState) -> pl.DataFrame:
    """The `history` figures of one part of the taxpayers on each day to compute, summed per key (the parts' are summed again)."""
    return dated_rows(context.days, state, context.pricing, context.arrears_years)
