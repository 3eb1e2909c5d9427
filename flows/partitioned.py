"""The rebuild a part at a time (issue 15, setting `rebuild_partitions`): memory bounded by the part, not by the history.

It makes the same tables as the rebuild in one pass (`transforms.rebuild.derived_state`):

1. the snapshots are read once and each taxpayer part's receivables are spilled to a folder beside
   the database (removed at the end);
2. the payment-file, 仮登録 and 管理 records are read a part of the payment keys at a time (DuckDB
   picks them by a hash of the key: a payment's sightings and its 管理 record share it), decided,
   matched against the lookups of every receivable, and spilled to the part of their taxpayer;
3. each taxpayer part is settled (`transforms.rebuild.taxpayer_tables`), its contracts checked and its
   rows written into the derived tables, in the caller's transaction;
4. the decisions and work queue tables are made from the rows the parts left (transforms/partitions.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flows.database import insert_frame, query_frame
from schemas.derived import check_contracts
from schemas.exemptions import ExemptionKinds
from schemas.rates import RatesTable
from schemas.settings import Settings
from schemas.tables import derived_tables
from transforms.decisions import decision_effects
from transforms.ledger import TABLE_SCHEMAS
from transforms.matching import receivable_keys
from transforms.partitions import (
    PART,
    cross_taxpayer_rows,
    cross_taxpayer_tables,
    gathered,
    part_of,
    receivable_parts,
    waiting_payments,
    with_taxpayer_part,
)
from transforms.rebuild import STORED_COLUMNS, DerivedTables, ReceivableState, matched_of, outcome_counts, receivable_state, taxpayer_tables

Step = Callable[[str], AbstractContextManager]
TABLES = {table.name: table for table in derived_tables()}
# Which part of the payment keys a stored record belongs to, in DuckDB: the hash of the payment key's
# parts (transforms/payments.py: 共通納税ID and 連番, or a 仮登録 record's 納付情報シーケンス).
CASE_HASH = "CASE WHEN common_tax_id IS NULL THEN 0 ELSE hash(common_tax_id, sequence_number) END"
PAYMENT_KEY_HASH = {
    "payment_records": CASE_HASH,
    "provisional_records": "CASE WHEN common_tax_id IS NULL THEN hash(payment_info_sequence) ELSE hash(common_tax_id, sequence_number) END",
    "management_records": CASE_HASH,
}
RECEIVABLE_FILES = ("versions", "history", "current")
DUCKDB_MEMORY_LIMIT = "1GB"
OUTCOME_COLUMNS = {
    "payments": ["status", "error_class", "paid_total", "unconfirmed"],
    "arrears": ["principal_outstanding", "late_fee"],
    "refund_candidates": ["overpaid_amount", "offset_amount", "refund_amount"],
}


def partitioned_rebuild(
    connection: duckdb.DuckDBPyConnection,
    as_of: date,
    rates: RatesTable,
    exemption_kinds: ExemptionKinds,
    settings: Settings,
    step: Step = lambda name: nullcontext(),
) -> DerivedTables:
    """Rebuilds and writes every derived table a part at a time; returns the decisions, work queue and outcome counts.

    Of the large tables the result holds only the rows the decisions name (enough for `shuno
    decide` to check a decision's effect); the database holds them all.
    """
    partitions = settings.rebuild_partitions
    # DuckDB would keep the rows written in the transaction in memory up to 80 % of the machine's:
    # bounded, it writes them out (to the database file, or to its temporary folder) instead.
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    entries = _read(connection, "decision_entries")
    decisions = decision_effects(entries, exemption_kinds)
    for table in derived_tables():
        connection.execute(f'DELETE FROM "{table.name}"')
    with tempfile.TemporaryDirectory(prefix=".rebuild-", dir=_spill_folder(connection)) as folder:
        spill = Path(folder)
        with step("receivables: read, newest versions, 本税 history, spilled by taxpayer"):
            state = receivable_state(_read(connection, "receivable_snapshots"))
            parts = receivable_parts(state.versions, partitions)
            _spill_receivables(spill, state, parts, partitions)
            keys, reissued = receivable_keys(state.versions), state.reissued
            filing_numbers = state.versions.select("receivable_id", "filing_receipt_number").drop_nulls()
            del state
        links = _read(connection, "link_records")
        waiting, matched_schema = [], None
        for payment_part in range(partitions):
            with step("payments: read a part of the payment keys"):
                records = {name: _read(connection, name, partitions, payment_part) for name in ("payment_records", "provisional_records")}
                management = _read(connection, "management_records", partitions, payment_part)
            matched = matched_of(records, management, links, keys, as_of, settings, step, decisions)
            with step("payments: spilled by taxpayer"):
                matched = with_taxpayer_part(matched, parts, partitions)
                waiting.append(waiting_payments(matched).drop(PART))
                for (taxpayer_part,), rows in matched.partition_by(PART, as_dict=True).items():
                    rows.drop(PART).write_parquet(spill / f"matched-{taxpayer_part}-{payment_part}.parquet")
                matched_schema = matched.drop(PART).schema
            del matched, records, management
        del keys, parts, links
        waiting = pl.concat(waiting)
        left, counted = [], {table: [] for table in OUTCOME_COLUMNS}
        for taxpayer_part in range(partitions):
            matched = _spilled_matched(spill, taxpayer_part, matched_schema)
            versions, history, current = (pl.read_parquet(spill / f"{name}-{taxpayer_part}.parquet") for name in RECEIVABLE_FILES)
            tables = taxpayer_tables(matched, versions, history, current, as_of, rates, settings, step, decisions)
            del matched, versions, history, current
            with step("checking and writing a part's tables"):
                _check(vars(tables))
                for name, frame in vars(tables).items():
                    insert_frame(connection, TABLES[name], frame.select(TABLES[name].column_names))
            left.append(cross_taxpayer_rows(tables, entries, waiting, as_of))
            for name, columns in OUTCOME_COLUMNS.items():
                counted[name].append(getattr(tables, name).select(columns))
            del tables
    with step("decisions and work queue tables"):
        rows = gathered(left)
        decided, queue = cross_taxpayer_tables(rows, entries, waiting, reissued, filing_numbers, as_of)
        _check({"decisions": decided, "work_queue": queue})
        insert_frame(connection, TABLES["decisions"], decided)
        insert_frame(connection, TABLES["work_queue"], queue)
    counts = outcome_counts(*(pl.concat(counted[name]) for name in OUTCOME_COLUMNS))
    return DerivedTables(**vars(rows.decided), decisions=decided, work_queue=queue, outcome_counts=counts)


def _read(connection: duckdb.DuckDBPyConnection, table: str, partitions: int = 1, part: int = 0) -> pl.DataFrame:
    """The columns the rebuild reads of a stored table: all its rows, or one part of the payment keys'."""
    # Identifiers and the hash expression come from the table definitions, never from input.
    quoted = ", ".join(f'"{name}"' for name in STORED_COLUMNS[table])
    if partitions == 1 or table not in PAYMENT_KEY_HASH:
        return query_frame(connection, f'SELECT {quoted} FROM "{table}"')
    return query_frame(connection, f'SELECT {quoted} FROM "{table}" WHERE ({PAYMENT_KEY_HASH[table]}) % ? = ?', [partitions, part])


def _spill_folder(connection: duckdb.DuckDBPyConnection) -> Path | None:
    """The folder of the database file (the spilled parts hold what it holds), or None (the system's) for one in memory."""
    found = connection.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(found[0][0]).parent if found and found[0][0] else None


def _spill_receivables(spill: Path, state: ReceivableState, parts: pl.DataFrame, partitions: int) -> None:
    """Each taxpayer part's versions, 本税 history and newest receivables, one file each."""
    frames = {"versions": state.versions, "history": state.history, "current": state.current}
    for name, frame in frames.items():
        keyed = frame.join(parts, on="receivable_id", how="left", maintain_order="left")
        by_part = keyed.partition_by(PART, as_dict=True, include_key=False)
        for part in range(partitions):
            by_part.get((part,), frame.clear()).write_parquet(spill / f"{name}-{part}.parquet")


def _spilled_matched(spill: Path, part: int, schema: pl.Schema | None) -> pl.DataFrame:
    """The matched payments spilled to a taxpayer part (none: an empty frame)."""
    files = sorted(spill.glob(f"matched-{part}-*.parquet"))
    return pl.concat([pl.read_parquet(file) for file in files]) if files else pl.DataFrame(schema=schema)


def _check(tables: dict[str, pl.DataFrame]) -> None:
    """The contracts of some derived tables (the rest stand in empty): keys and identities stay within a part."""
    check_contracts({name: tables.get(name, pl.DataFrame(schema=TABLE_SCHEMAS[name])) for name in TABLE_SCHEMAS})

