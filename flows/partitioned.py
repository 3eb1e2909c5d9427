"""The rebuild a part at a time (issue 15, setting `rebuild_partitions`): memory bounded by the part, not by the history.

It makes the same tables as the rebuild in one pass (`transforms.rebuild.derived_state`):

1. the snapshots are read a part of the receivable ids at a time (spilled the same way; each receivable's versions among
   every snapshot delivered), and each taxpayer part's receivables are spilled to a folder beside
   the database (removed at the end); the routes' lookups of every receivable are kept;
2. the payment-file, 仮登録 and 管理 records are read a part of the payment keys at a time (one
   DuckDB scan spills each table by a hash of the key: a payment's sightings and its 管理 record
   share it), decided, matched against the lookups of every receivable, and spilled to the part of
   their taxpayer; what each part's records delivered per 入金日 is summed for the bank reconciliation;
3. each taxpayer part is settled by one pure function of its inputs (`transforms.partitions.settled_part`,
   through `results_of_parts`, so that the parts may run elsewhere), its contracts checked and its
   rows written into the derived tables, in the caller's transaction;
4. `history`: each date's fingerprint is the sum of the parts' row hashes; the dates whose rows
   must be computed again are computed a part at a time from what the parts left spilled, and summed;
5. the decisions and work queue tables are made from the rows the parts left (transforms/partitions.py),
   deliveries and the bank reconciliation from what every part read.

Every spilled file is encrypted under keys made for this rebuild and never written down: Parquet
encrypted by DuckDB (AES-GCM) for the rows DuckDB inserts, Arrow IPC sealed with AES-GCM for the rest (SPEC §8: nothing personal in clear on disk); DuckDB's own
spill files are encrypted too (flows/database.py). The key dies with the process, so a folder a
killed run left behind is unreadable, and is removed by the next rebuild.
"""

from __future__ import annotations

import functools
import io
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from flows.cluster import results_of_parts
from flows.database import crypto_connection, crypto_extension, insert_frame, query_frame
from schemas.derived import check_contracts
from schemas.exemptions import ExemptionKinds
from schemas.rates import RatesTable
from schemas.settings import Settings
from schemas.tables import derived_tables, sql_literal
from transforms.decisions import DecisionEffects, decision_effects
from transforms.deliveries import deliveries, incomplete_deliveries
from transforms.deposits import reconciliation
from transforms.history import DatedHistory, Pricing, SettledState, combined_arrears_years, dated_history, day_fingerprints, unchanged_days
from transforms.ledger import TABLE_SCHEMAS
from transforms.matching import ROUTE_KEYS, ReceivableKeys, receivables_by
from transforms.partitions import (
    PART,
    CrossTaxpayerRows,
    HistoryContext,
    PartContext,
    PartInputs,
    SettledPart,
    cross_taxpayer_tables,
    gathered,
    history_of_part,
    partition_count,
    receivable_parts,
    settled_part,
    waiting_payments,
    with_taxpayer_part,
)
from transforms.rebuild import HISTORY_STEP, STORED_COLUMNS, CountedRows, DerivedTables, ReceivableState, TaxpayerTables, matched_of, outcome_counts, receivable_state

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
RECEIVABLE_KINDS = ("versions", "principals", "current", "first_delivered")
# What a part's `history` rows are cut from, besides its receivables: its ledger and four of its tables.
SETTLED_KINDS = ("ledger", "applications", "offsets", "refund_candidates", "arrears")
# What DuckDB may hold while the parts are read and written (its reads and the transaction's rows).
DUCKDB_MEMORY_LIMIT = "256MB"
# Rows a DuckDB thread holds of a table being split by part before it writes them, and the row groups of
# the split's files (split_table). With DuckDB's defaults (524,288 and 122,880) the stored table alone
# split in 80 s, with this in 42 s (20M payment records in 33 parts, 550 MB RSS).
PARTITIONED_WRITE_ROWS = 65_536
# And what DuckDB may hold meanwhile: a file open per part, each buffering a row group of
# PARTITIONED_WRITE_ROWS, outgrew DUCKDB_MEMORY_LIMIT in the run's transaction at 20M in 33 parts.
SPLIT_MEMORY_LIMIT = "1GB"
# The name the spill's key is registered under (PRAGMA add_parquet_key); the key itself is random.
SPILL_KEY = "shuno_rebuild_spill"
ENCRYPTED = f"ENCRYPTION_CONFIG {{footer_key: '{SPILL_KEY}'}}"
# The spilled Parquet files bound as the one parameter (a list of paths), read under the spill's key.
SPILLED_PARQUET = f"read_parquet(?, encryption_config = {{footer_key: '{SPILL_KEY}'}})"
# AES-GCM's nonce: 96 bits, random per file (a key of this rebuild seals a few hundred files).
NONCE_BYTES = 12


# The stored rows a rebuild's memory grows with (transforms.partitions.partition_count).
COUNTED_TABLES = ("receivable_snapshots", "payment_records", "provisional_records")


def partitions_for(connection: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """The parts a rebuild of the stored inputs runs in: the setting rebuild_partitions, or when 0 as many as rebuild_memory_gb needs."""
    if settings.rebuild_partitions:
        return settings.rebuild_partitions
    counts = connection.execute(" UNION ALL ".join(f'SELECT count(*) FROM "{table}"' for table in COUNTED_TABLES)).fetchall()
    return partition_count(sum(count for (count,) in counts), settings.rebuild_memory_gb)


def partitioned_rebuild(
    connection: duckdb.DuckDBPyConnection,
    as_of: date,
    rates: RatesTable,
    exemption_kinds: ExemptionKinds,
    settings: Settings,
    step: Step = lambda name: nullcontext(),
    history_dates: list[date] | None = None,
    kept_history: DatedHistory | None = None,
) -> DerivedTables:
    """Rebuilds and writes every derived table a part at a time; returns the small tables whole and the outcome counts.

    Of the large tables the result holds only the rows the decisions name (enough for `shuno
    decide` to check a decision's effect); the database holds them all. history_dates and
    kept_history: as `transforms.rebuild.derived_state` takes them.
    """
    entries = _read(connection, "decision_entries")
    decisions = decision_effects(entries, exemption_kinds)
    with step("expected deliveries"):
        files, runs = _read(connection, "ingested_files"), _read(connection, "runs")
        expected = deliveries(files, as_of, [kind.value for kind in settings.expected_kinds], runs)
    credits = _read(connection, "bank_credits")
    for table in derived_tables():
        connection.execute(f'DELETE FROM "{table.name}"')
    with _duckdb_memory_bounded(connection), _spill_folder(connection) as folder, _opened_spill(connection, Path(folder)) as spill:
        partitions = settings.rebuild_partitions
        lookups = _spilled_receivables(spill, partitions, step)
        paid = _spilled_payments(spill, partitions, lookups, as_of, settings, step, decisions)
        reissued, filing_numbers = lookups.reissued, lookups.filing_numbers
        del lookups  # the routes' lookups and the receivables' parts: hundreds of MB at millions of receivables
        context = PartContext(as_of, rates, settings, decisions, incomplete_deliveries(expected), entries, paid.waiting)
        written = _written_parts(spill, context, step)
        pricing = Pricing(rates, settings.low_rate_months, decisions.exemption_periods)
        dated = _partitioned_history(spill, written, [*(history_dates or []), as_of], context, pricing, kept_history, step)
    with step("decisions, work queue, history, deliveries and bank reconciliation tables"):
        rows = gathered([part.left for part in written])
        decided, queue = cross_taxpayer_tables(rows, entries, paid.waiting, reissued, filing_numbers, as_of)
        reconciled = reconciliation(paid.delivered, credits)
        small = {"decisions": decided, "work_queue": queue, "history": dated.rows, "history_days": dated.days, "deliveries": expected, "deposit_reconciliation": reconciled}
        _check(small)
        for name, frame in small.items():
            insert_frame(connection, TABLES[name], frame.select(TABLES[name].column_names))
    counted = {name: pl.concat([part.counted[name] for part in written]) for name in ("payments", "arrears", "refund_candidates")}
    counts = outcome_counts(CountedRows(**counted, deliveries=expected, deposit_reconciliation=reconciled))
    return DerivedTables(**vars(rows.decided), **small, outcome_counts=counts)


@contextmanager
def _duckdb_memory_bounded(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's memory bounded meanwhile (DUCKDB_MEMORY_LIMIT), then as it was."""
    # Unbounded, DuckDB keeps what it reads and the rows written in the transaction in memory up to
    # 80 % of the machine's; bounded, it writes them out (to the database file or its encrypted temporary folder).
    before = connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    try:
        yield
    finally:
        connection.execute(f"SET memory_limit = '{before}'")


class Spill:
    """The folder the parts are spilled to, every file encrypted under this rebuild's key, and the connections that write and read it.

    `connection` is the run's (its transaction reads the stored tables and writes the derived ones);
    `scratch`, a connection of its own, writes frames to files: a frame a connection reads is kept
    alive by it until its transaction ends, which for the run's is the commit.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, folder: Path) -> None:
        self.connection, self.folder = connection, folder
        self.scratch = crypto_connection(folder / "scratch")
        self.scratch.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        # 32 hex digits: an AES-256 key. PRAGMA takes no bound parameter; the text is hex digits only.
        key = secrets.token_hex(16)
        for each in (connection, self.scratch):
            each.execute(f"LOAD {sql_literal(crypto_extension())}")
            each.execute(f"PRAGMA add_parquet_key('{SPILL_KEY}', '{key}')")
        self.sealer = AESGCM(AESGCM.generate_key(bit_length=256))
        self.schemas: dict[str, pl.Schema] = {}

    def close(self) -> None:
        self.scratch.close()

    def write(self, frame: pl.DataFrame, kind: str, name: str) -> Path:
        """Writes frame, of a kind (matched, versions, …), to the file `name`; returns its path.

        A derived table's rows go to Parquet, which the run's connection inserts; the other kinds,
        which only polars reads back, to Arrow IPC sealed with AES-GCM (half the CPU of DuckDB's Parquet).
        """
        self.schemas.setdefault(kind, frame.schema)
        if kind not in TABLES:
            return self._sealed(frame, self.folder / f"{name}.arrow")
        file = self.folder / f"{name}.parquet"
        self.scratch.register("spilled_frame", frame)
        try:
            self.scratch.execute(f"COPY (SELECT * FROM spilled_frame) TO {sql_literal(file)} (FORMAT parquet, COMPRESSION uncompressed, {ENCRYPTED})")
        finally:
            self.scratch.unregister("spilled_frame")
        return file

    def _sealed(self, frame: pl.DataFrame, file: Path) -> Path:
        """frame written to file as Arrow IPC, encrypted and authenticated (AES-GCM, a fresh nonce before the ciphertext)."""
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="lz4")
        nonce = secrets.token_bytes(NONCE_BYTES)
        file.write_bytes(nonce + self.sealer.encrypt(nonce, buffer.getbuffer(), None))
        return file

    def _opened(self, file: Path) -> pl.DataFrame:
        """The frame `_sealed` wrote to file (an altered file fails: AES-GCM authenticates it)."""
        sealed = file.read_bytes()
        return pl.read_ipc(io.BytesIO(self.sealer.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None)))

    def read(self, kind: str, files: list[Path]) -> pl.DataFrame:
        """The rows of the files of a kind, as the frames written (an empty frame when there is none)."""
        schema = self.schemas[kind]
        if not files:
            return pl.DataFrame(schema=schema)
        if kind not in TABLES:
            return pl.concat([self._opened(file) for file in files]).cast(dict(schema))
        found = query_frame(self.scratch, f"SELECT * FROM {SPILLED_PARQUET}", [[str(file) for file in files]])
        return found.cast(dict(schema))

    def part_files(self, kind: str, part: int) -> list[Path]:
        """The files of a kind spilled to a taxpayer part (`{kind}-{part}-{source part}.parquet` or `.arrow`)."""
        return sorted(self.folder.glob(f"{kind}-{part}-*.{'parquet' if kind in TABLES else 'arrow'}"))

    def split_table(self, table: str, partitions: int) -> None:
        """The columns the rebuild reads of a stored table, spilled by part (of the receivable ids or the payment keys) in one scan."""
        # One COPY, not a query per part: each would scan the whole table again. DuckDB writes a folder
        # per part (part=N); a part without a row has none.
        select = f'SELECT {_columns(table)}, ({PART_HASH[table]}) % {partitions} AS {PART} FROM "{table}"'
        self.connection.execute(f"SET partitioned_write_flush_threshold = {PARTITIONED_WRITE_ROWS}")
        self.connection.execute(f"SET memory_limit = '{SPLIT_MEMORY_LIMIT}'")
        try:
            self.connection.execute(
                f"COPY ({select}) TO {sql_literal(self.folder / table)} "
                f"(FORMAT parquet, COMPRESSION uncompressed, PARTITION_BY ({PART}), ROW_GROUP_SIZE {PARTITIONED_WRITE_ROWS}, {ENCRYPTED})"
            )
        finally:
            self.connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            self.connection.execute("RESET partitioned_write_flush_threshold")

    def table_part(self, table: str, part: int) -> pl.DataFrame:
        """The rows of a stored table spilled to one part by `split_table`."""
        files = sorted((self.folder / table / f"{PART}={part}").glob("*.parquet"))
        if not files:
            return query_frame(self.connection, f'SELECT {_columns(table)} FROM "{table}" LIMIT 0')
        found = query_frame(self.scratch, f"SELECT {_columns(table)} FROM {SPILLED_PARQUET}", [[str(file) for file in files]])
        return found

    def insert(self, table: str, files: list[Path]) -> None:
        """Appends the rows of spilled files to a derived table, in the run's transaction, in one statement."""
        if not files:
            return
        # In no order: a derived table has none, and DuckDB's threads then write compressed row groups as they insert.
        self.connection.execute("SET preserve_insertion_order = false")
        try:
            self.connection.execute(
                f'INSERT INTO "{table}" BY NAME SELECT * FROM {SPILLED_PARQUET}', [[str(file) for file in files]]
            )
        finally:
            self.connection.execute("RESET preserve_insertion_order")


@contextmanager
def _opened_spill(connection: duckdb.DuckDBPyConnection, folder: Path) -> Iterator[Spill]:
    spill = Spill(connection, folder)
    try:
        yield spill
    finally:
        spill.close()


@dataclass(frozen=True)
class PartLeft:
    """What a written part leaves for the end: the rows the cross-taxpayer tables read, the counted columns, what `history` sums."""

    left: CrossTaxpayerRows
    counted: dict[str, pl.DataFrame]
    hashes: pl.DataFrame
    arrears_years: pl.DataFrame


def _written_parts(spill: Spill, context: PartContext, step: Step) -> list[PartLeft]:
    """Every taxpayer part settled (`settled_part`), its contracts checked, its rows written; returns what each leaves."""
    written = []
    parts = (_part_inputs(spill, part) for part in range(context.settings.rebuild_partitions))
    results = results_of_parts(functools.partial(settled_part, context), parts, context.settings)
    for part in range(context.settings.rebuild_partitions):
        with step("a part read and settled"):
            settled = next(results)
        with step("a part's contracts checked"):
            _check(vars(settled.tables))
        with step("a part's tables and ledger spilled"):
            for name, frame in vars(settled.tables).items():
                spill.write(frame.select(TABLES[name].column_names), name, f"{name}-{part}-0")
            spill.write(settled.ledger, "ledger", f"ledger-{part}-0")
        written.append(_left_of(settled))
        del settled
    with step("the parts' tables written"):
        for table in fields(TaxpayerTables):
            spill.insert(table.name, [file for part in range(len(written)) for file in spill.part_files(table.name, part)])
    return written


def _left_of(settled: SettledPart) -> PartLeft:
    """What the end keeps of a settled part, each frame holding its own bytes only."""
    decided = TaxpayerTables(**{name: _compacted(frame) for name, frame in vars(settled.left.decided).items()})
    counted = {name: _compacted(frame) for name, frame in settled.counted.items()}
    return PartLeft(CrossTaxpayerRows(_compacted(settled.left.unpaid), decided), counted, settled.hashes, settled.arrears_years)


def _part_inputs(spill: Spill, part: int) -> PartInputs:
    """What was spilled to one taxpayer part."""
    return PartInputs(*(spill.read(kind, spill.part_files(kind, part)) for kind in ("matched", *RECEIVABLE_KINDS)))


def _partitioned_history(
    spill: Spill, written: list[PartLeft], dates: list[date], parts: PartContext, pricing: Pricing, kept: DatedHistory | None, step: Step
) -> DatedHistory:
    """`history` and `history_days` of every part: the fingerprints of the summed hashes, the rows of the changed dates computed a part at a time and summed."""
    with step(HISTORY_STEP):
        days = sorted(set(dates))
        fingerprints = day_fingerprints(days, pl.concat([part.hashes for part in written]), pricing)
        as_of = parts.as_of
        unchanged = unchanged_days(fingerprints, kept, as_of)
        context = HistoryContext(as_of, [day for day in days if day not in unchanged], pricing, combined_arrears_years([part.arrears_years for part in written]))
        states = (_settled_state(spill, part, as_of) for part in range(len(written)))
        rows = pl.concat(list(results_of_parts(functools.partial(history_of_part, context), states, parts.settings)))
        return dated_history(rows, fingerprints, kept, unchanged)


def _settled_state(spill: Spill, part: int, as_of: date) -> SettledState:
    """The state a part was settled to, read back from what it spilled."""
    receivables = {kind: spill.read(kind, spill.part_files(kind, part)) for kind in RECEIVABLE_KINDS}
    settled = {kind: spill.read(kind, spill.part_files(kind, part)) for kind in SETTLED_KINDS}
    return SettledState(
        receivables["versions"], receivables["principals"], receivables["first_delivered"], settled["ledger"],
        settled["applications"], settled["offsets"], settled["refund_candidates"], settled["arrears"], as_of,
    )


@dataclass(frozen=True)
class ReceivableLookups:
    """What the payments' parts read of every receivable: the routes' lookups and each receivable's part; and what the end reads."""

    keys: ReceivableKeys
    parts: pl.DataFrame
    reissued: pl.DataFrame
    filing_numbers: pl.DataFrame


def _spilled_receivables(spill: Spill, partitions: int, step: Step) -> ReceivableLookups:
    """Each taxpayer part's receivables (versions, 本税 history, newest, first deliveries) spilled, read a part of the receivable ids at a time."""
    deliveries_seen = query_frame(spill.connection, "SELECT DISTINCT snapshot_date, delivery_number FROM receivable_snapshots")
    with step("receivables: snapshots spilled by part of the receivable ids"):
        spill.split_table("receivable_snapshots", partitions)
    kept = []
    for receivable_part in range(partitions):
        with step("receivables: read a part, newest versions, 本税 history, spilled by taxpayer"):
            snapshots = spill.table_part("receivable_snapshots", receivable_part)
            kept.append(_spilled_receivable_part(spill, receivable_part, receivable_state(snapshots, deliveries_seen), partitions))
    with step("receivables: the routes' lookups"):
        gathered_frames = {name: pl.concat([part.pop(name) for part in kept]) for name in list(kept[0])}
        # One route's lookup at a time, each from the receivables that have its key: the rest are dropped anyway.
        keys = ReceivableKeys(*(_compacted(receivables_by(gathered_frames.pop(str(index)), route)) for index, route in enumerate(ROUTE_KEYS)))
    return ReceivableLookups(keys, **gathered_frames)


def _spilled_receivable_part(spill: Spill, receivable_part: int, state: ReceivableState, partitions: int) -> dict[str, pl.DataFrame]:
    """One part of the receivable ids spilled to the parts of their taxpayers; returns what the lookups and the end keep of it."""
    parts = receivable_parts(state.versions, partitions)
    for kind in RECEIVABLE_KINDS:
        _spill_by_part(spill, getattr(state, kind).join(parts, on="receivable_id", how="left", maintain_order="left"), kind, receivable_part)
    return {
        **{str(index): _compacted(state.versions.select("receivable_id", *route).drop_nulls(list(route))) for index, route in enumerate(ROUTE_KEYS)},
        "parts": _compacted(parts),
        "reissued": _compacted(state.reissued),
        "filing_numbers": _compacted(state.versions.select("receivable_id", "filing_receipt_number").drop_nulls()),
    }


def _spill_by_part(spill: Spill, keyed: pl.DataFrame, kind: str, source_part: int) -> None:
    """The rows of a kind, each with its taxpayer part (column PART), spilled to their parts."""
    spill.schemas.setdefault(kind, keyed.drop(PART).schema)
    for (taxpayer_part,), rows in keyed.partition_by(PART, as_dict=True).items():
        spill.write(rows.drop(PART), kind, f"{kind}-{taxpayer_part}-{source_part}")


@dataclass(frozen=True)
class SpilledPayments:
    """What the end reads of the payments once they are spilled: the waiting ones, and what every record delivered per 入金日 (summed per part)."""

    waiting: pl.DataFrame
    delivered: pl.DataFrame


def _spilled_payments(
    spill: Spill,
    partitions: int,
    lookups: ReceivableLookups,
    as_of: date,
    settings: Settings,
    step: Step,
    decisions: DecisionEffects,
) -> SpilledPayments:
    """Each taxpayer part's matched payments spilled, decided and matched a part of the payment keys at a time."""
    links, waiting, delivered = _read(spill.connection, "link_records"), [], []
    with step("payments: records spilled by part of the payment keys"):
        for table in ("payment_records", "provisional_records", "management_records"):
            spill.split_table(table, partitions)
    for payment_part in range(partitions):
        with step("payments: a part of the payment keys read"):
            records = {name: spill.table_part(name, payment_part) for name in ("payment_records", "provisional_records")}
            management = spill.table_part("management_records", payment_part)
        matched = matched_of(records, management, links, lookups.keys, as_of, settings, step, decisions)
        del management
        with step("payments: spilled by taxpayer"):
            delivered.append(matched.delivered)
            keyed = with_taxpayer_part(matched.payments, lookups.parts, partitions)
            del matched
            waiting.append(_compacted(waiting_payments(keyed).drop(PART)))
            _spill_by_part(spill, keyed, "matched", payment_part)
            del keyed
    return SpilledPayments(pl.concat(waiting), pl.concat(delivered))


def _read(connection: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """The columns the rebuild reads of a stored table, all its rows."""
    return query_frame(connection, f"SELECT {_columns(table)} FROM \"{table}\"")


def _columns(table: str) -> str:
    # Identifiers come from the table definitions, never from input.
    return ", ".join(f'"{name}"' for name in STORED_COLUMNS[table])


def _compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of frame that holds its own rows' bytes only, for a frame kept while the next parts run.

    A filter's, a select's or a join's result shares the text buffers of the frame it came from,
    whole: kept, a few rows would keep the part's millions. Written and read back (in memory), they are its own.
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _spill_folder(connection: duckdb.DuckDBPyConnection) -> tempfile.TemporaryDirectory:
    """A new folder for the parts, beside the database file (in its owner-only folder); the system's for one in memory.

    A run killed meanwhile leaves its folder behind (unreadable: its key died with it); the next
    rebuild of the same database (they hold its run lock, one at a time) removes it first.
    """
    found = connection.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if not (found and found[0][0]):
        return tempfile.TemporaryDirectory(prefix=".shuno-rebuild-")
    database = Path(found[0][0])
    prefix = f".{database.name}.rebuild-"
    for stale in database.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=database.parent)


def _check(tables: dict[str, pl.DataFrame]) -> None:
    """The contracts of some derived tables (the rest stand in empty): keys and identities stay within a part."""
    check_contracts({name: tables.get(name, pl.DataFrame(schema=TABLE_SCHEMAS[name])) for name in TABLE_SCHEMAS})
