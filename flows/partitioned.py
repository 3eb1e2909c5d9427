"""The rebuild a part at a time (issue 15, setting `rebuild_partitions`): memory bounded by the part, not by the history.

It makes the same tables as the rebuild in one pass (`transforms.rebuild.derived_state`):

1. the snapshots are read a part of the receivable ids at a time (spilled the same way; each receivable's versions among
   every snapshot delivered), and each taxpayer part's receivables are spilled, as Arrow files, to a
   folder beside the database (removed at the end); the routes' lookups of every receivable are kept;
2. the payment-file, 仮登録 and 管理 records are read a part of the payment keys at a time (one
   DuckDB scan spills each table by a hash of the key: a payment's sightings and its 管理 record
   share it), decided, matched against the lookups of every receivable, and spilled to the part of
   their taxpayer;
3. each taxpayer part is settled (`transforms.rebuild.taxpayer_tables`), its contracts checked and its
   rows written into the derived tables, in the caller's transaction;
4. the decisions and work queue tables are made from the rows the parts left (transforms/partitions.py).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
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
from transforms.decisions import DecisionEffects, decision_effects
from transforms.ledger import TABLE_SCHEMAS
from transforms.matching import ROUTE_KEYS, ReceivableKeys, receivables_by
from transforms.partitions import (
    PART,
    CrossTaxpayerRows,
    cross_taxpayer_rows,
    cross_taxpayer_tables,
    gathered,
    receivable_parts,
    waiting_payments,
    with_taxpayer_part,
)
from transforms.rebuild import STORED_COLUMNS, DerivedTables, ReceivableState, TaxpayerTables, matched_of, outcome_counts, receivable_state, taxpayer_tables

Step = Callable[[str], AbstractContextManager]
TABLES = {table.name: table for table in derived_tables()}
# Which part of the payment keys a stored record belongs to, in DuckDB: the hash of the payment key's
# parts (transforms/payments.py: 共通納税ID and 連番, or a 仮登録 record's 納付情報シーケンス).
CASE_HASH = "CASE WHEN common_tax_id IS NULL THEN 0 ELSE hash(common_tax_id, sequence_number) END"
PART_HASH = {
    "receivable_snapshots": "hash(receivable_id)",
    "payment_records": CASE_HASH,
    "provisional_records": "CASE WHEN common_tax_id IS NULL THEN hash(payment_info_sequence) ELSE hash(common_tax_id, sequence_number) END",
    "management_records": CASE_HASH,
}
RECEIVABLE_FILES = ("versions", "history", "current")
# What DuckDB may hold while the parts are read and written (its reads and the transaction's rows).
DUCKDB_MEMORY_LIMIT = "256MB"
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
    entries = _read(connection, "decision_entries")
    decisions = decision_effects(entries, exemption_kinds)
    for table in derived_tables():
        connection.execute(f'DELETE FROM "{table.name}"')
    with _duckdb_memory_bounded(connection), _spill_folder(connection) as folder:
        spill, partitions = Path(folder), settings.rebuild_partitions
        lookups = _spilled_receivables(connection, spill, partitions, step)
        waiting = _spilled_payments(connection, spill, partitions, lookups, as_of, settings, step, decisions)
        reissued, filing_numbers = lookups.reissued, lookups.filing_numbers
        del lookups  # the routes' lookups and the receivables' parts: hundreds of MB at millions of receivables
        written = [_written_part(connection, spill, part, as_of, rates, settings, step, decisions, entries, waiting) for part in range(partitions)]
    with step("decisions and work queue tables"):
        rows = gathered([part.left for part in written])
        decided, queue = cross_taxpayer_tables(rows, entries, waiting, reissued, filing_numbers, as_of)
        _check({"decisions": decided, "work_queue": queue})
        insert_frame(connection, TABLES["decisions"], decided)
        insert_frame(connection, TABLES["work_queue"], queue)
    counts = outcome_counts(*(pl.concat([part.counted[name] for part in written]) for name in OUTCOME_COLUMNS))
    return DerivedTables(**vars(rows.decided), decisions=decided, work_queue=queue, outcome_counts=counts)


@contextmanager
def _duckdb_memory_bounded(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's memory bounded meanwhile (DUCKDB_MEMORY_LIMIT), then as it was."""
    # Unbounded, DuckDB keeps what it reads and the rows written in the transaction in memory up to
    # 80 % of the machine's; bounded, it writes them out (to the database file or its temporary folder).
    before = connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    try:
        yield
    finally:
        connection.execute(f"SET memory_limit = '{before}'")


@dataclass(frozen=True)
class WrittenPart:
    """What a taxpayer part leaves once its rows are written: the rows the cross-taxpayer tables read, and what is counted."""

    left: CrossTaxpayerRows
    counted: dict[str, pl.DataFrame]


def _written_part(
    connection: duckdb.DuckDBPyConnection,
    spill: Path,
    part: int,
    as_of: date,
    rates: RatesTable,
    settings: Settings,
    step: Step,
    decisions: DecisionEffects,
    entries: pl.DataFrame,
    waiting: pl.DataFrame,
) -> WrittenPart:
    """One taxpayer part settled from what was spilled to it, its contracts checked and its rows written."""
    matched, versions, history, current = (_spilled(spill, name, part) for name in ("matched", *RECEIVABLE_FILES))
    tables = taxpayer_tables(matched, versions, history, current, as_of, rates, settings, step, decisions)
    del matched, versions, history, current
    with step("checking and writing a part's tables"):
        _check(vars(tables))
        for name, frame in vars(tables).items():
            _insert_through_file(connection, spill / f"{name}-{part}.parquet", name, frame)
    counted = {name: _compacted(getattr(tables, name).select(columns)) for name, columns in OUTCOME_COLUMNS.items()}
    left = cross_taxpayer_rows(tables, entries, waiting, as_of)
    decided = TaxpayerTables(**{name: _compacted(frame) for name, frame in vars(left.decided).items()})
    return WrittenPart(CrossTaxpayerRows(_compacted(left.unpaid), decided), counted)


@dataclass(frozen=True)
class ReceivableLookups:
    """What the payments' parts read of every receivable: the routes' lookups and each receivable's part; and what the end reads."""

    keys: ReceivableKeys
    parts: pl.DataFrame
    reissued: pl.DataFrame
    filing_numbers: pl.DataFrame


def _spilled_receivables(connection: duckdb.DuckDBPyConnection, spill: Path, partitions: int, step: Step) -> ReceivableLookups:
    """Each taxpayer part's versions, 本税 history and newest receivables spilled, read a part of the receivable ids at a time."""
    deliveries = query_frame(connection, "SELECT DISTINCT snapshot_date, delivery_number FROM receivable_snapshots")
    with step("receivables: snapshots spilled by part of the receivable ids"):
        _spill_parts(connection, spill, "receivable_snapshots", partitions)
    kept = []
    for receivable_part in range(partitions):
        with step("receivables: read a part, newest versions, 本税 history, spilled by taxpayer"):
            snapshots = _spilled_part(connection, spill, "receivable_snapshots", receivable_part)
            kept.append(_spilled_receivable_part(spill, receivable_part, receivable_state(snapshots, deliveries), partitions))
    with step("receivables: the routes' lookups"):
        gathered_frames = {name: pl.concat([part.pop(name) for part in kept]) for name in list(kept[0])}
        # One route's lookup at a time, each from the receivables that have its key: the rest are dropped anyway.
        keys = ReceivableKeys(*(_compacted(receivables_by(gathered_frames.pop(str(index)), route)) for index, route in enumerate(ROUTE_KEYS)))
    return ReceivableLookups(keys, **gathered_frames)


def _spilled_receivable_part(spill: Path, receivable_part: int, state: ReceivableState, partitions: int) -> dict[str, pl.DataFrame]:
    """One part of the receivable ids spilled to the parts of their taxpayers; returns what the lookups and the end keep of it."""
    parts = receivable_parts(state.versions, partitions)
    for name, frame in {"versions": state.versions, "history": state.history, "current": state.current}.items():
        keyed = frame.join(parts, on="receivable_id", how="left", maintain_order="left")
        for (taxpayer_part,), rows in keyed.partition_by(PART, as_dict=True).items():
            rows.drop(PART).write_ipc(spill / f"{name}-{taxpayer_part}-{receivable_part}.arrow")
        _spill_schema(spill, name, frame)
    return {
        **{str(index): _compacted(state.versions.select("receivable_id", *route).drop_nulls(list(route))) for index, route in enumerate(ROUTE_KEYS)},
        "parts": _compacted(parts),
        "reissued": _compacted(state.reissued),
        "filing_numbers": _compacted(state.versions.select("receivable_id", "filing_receipt_number").drop_nulls()),
    }


def _spilled_payments(
    connection: duckdb.DuckDBPyConnection,
    spill: Path,
    partitions: int,
    lookups: ReceivableLookups,
    as_of: date,
    settings: Settings,
    step: Step,
    decisions: DecisionEffects,
) -> pl.DataFrame:
    """Each taxpayer part's matched payments spilled, decided and matched a part of the payment keys at a time; returns the waiting ones."""
    links, waiting = _read(connection, "link_records"), []
    with step("payments: records spilled by part of the payment keys"):
        for table in ("payment_records", "provisional_records", "management_records"):
            _spill_parts(connection, spill, table, partitions)
    for payment_part in range(partitions):
        with step("payments: a part of the payment keys read"):
            records = {name: _spilled_part(connection, spill, name, payment_part) for name in ("payment_records", "provisional_records")}
            management = _spilled_part(connection, spill, "management_records", payment_part)
        matched = matched_of(records, management, links, lookups.keys, as_of, settings, step, decisions)
        del management
        with step("payments: spilled by taxpayer"):
            matched = with_taxpayer_part(matched, lookups.parts, partitions)
            waiting.append(_compacted(waiting_payments(matched).drop(PART)))
            for (taxpayer_part,), rows in matched.partition_by(PART, as_dict=True).items():
                rows.drop(PART).write_ipc(spill / f"matched-{taxpayer_part}-{payment_part}.arrow")
            _spill_schema(spill, "matched", matched.drop(PART))
            del matched
    return pl.concat(waiting)


def _read(connection: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """The columns the rebuild reads of a stored table, all its rows."""
    return query_frame(connection, f"SELECT {_columns(table)} FROM \"{table}\"")


def _columns(table: str) -> str:
    # Identifiers come from the table definitions, never from input.
    return ", ".join(f'"{name}"' for name in STORED_COLUMNS[table])


def _spill_parts(connection: duckdb.DuckDBPyConnection, spill: Path, table: str, partitions: int) -> None:
    """The columns the rebuild reads of a stored table, spilled by part (of the receivable ids or the payment keys) in one scan."""
    # One COPY, not a query per part: each would scan the whole table again. DuckDB writes a folder
    # per part (part=N); a part without a row has none.
    select = f'SELECT {_columns(table)}, ({PART_HASH[table]}) % {partitions} AS {PART} FROM "{table}"'
    target = str(spill / table).replace("'", "''")
    connection.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet, PARTITION_BY ({PART}))")


def _spilled_part(connection: duckdb.DuckDBPyConnection, spill: Path, table: str, part: int) -> pl.DataFrame:
    """The rows of a stored table spilled to one part by `_spill_parts`."""
    files = sorted((spill / table / f"{PART}={part}").glob("*.parquet"))
    if not files:
        return query_frame(connection, f'SELECT {_columns(table)} FROM "{table}" LIMIT 0')
    return pl.read_parquet(files).select(STORED_COLUMNS[table])


def _compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of frame that holds its own rows' bytes only, for a frame kept while the next parts run.

    A filter's, a select's or a join's result shares the text buffers of the frame it came from,
    whole: kept, a few rows would keep the part's millions. Written and read back, they are its own.
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _spill_folder(connection: duckdb.DuckDBPyConnection) -> tempfile.TemporaryDirectory:
    """A new folder for the parts, beside the database file (they hold what it holds); the system's for one in memory.

    A run killed meanwhile leaves its folder behind: the next rebuild of the same database (they
    hold its run lock, one at a time) removes it first.
    """
    found = connection.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if not (found and found[0][0]):
        return tempfile.TemporaryDirectory(prefix=".shuno-rebuild-")
    database = Path(found[0][0])
    prefix = f".{database.name}.rebuild-"
    for stale in database.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=database.parent)


def _insert_through_file(connection: duckdb.DuckDBPyConnection, file: Path, table: str, frame: pl.DataFrame) -> None:
    """Appends frame's rows to a derived table through a Parquet file, which is then removed."""
    # Not from the frame itself: DuckDB keeps every Python object a transaction read from alive
    # until it ends, so the parts written from frames would all stay in memory until the commit.
    frame.select(TABLES[table].column_names).write_parquet(file, compression="uncompressed")
    connection.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM read_parquet(?)', [str(file)])
    file.unlink()


def _spill_schema(spill: Path, name: str, frame: pl.DataFrame) -> None:
    """An empty file of frame's columns, read with the parts': a part may have no rows of a kind."""
    frame.clear().write_ipc(spill / f"{name}-schema.arrow")


def _spilled(spill: Path, name: str, part: int) -> pl.DataFrame:
    """The rows of a kind (matched, versions, history, current) spilled to a taxpayer part."""
    files = [spill / f"{name}-schema.arrow", *sorted(spill.glob(f"{name}-{part}-*.arrow"))]
    return pl.concat([pl.read_ipc(file) for file in files])


def _check(tables: dict[str, pl.DataFrame]) -> None:
    """The contracts of some derived tables (the rest stand in empty): keys and identities stay within a part."""
    check_contracts({name: tables.get(name, pl.DataFrame(schema=TABLE_SCHEMAS[name])) for name in TABLE_SCHEMAS})

