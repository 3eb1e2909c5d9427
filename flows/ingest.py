"""Loading one settlement date's inbox files into the stored-input tables.

Inbox files are only read: never moved, modified or deleted. A date's stored rows are replaced
whole, so running a date again reads its files afresh and changes nothing else.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from fractions import Fraction
from pathlib import Path

import duckdb
import polars as pl

from flows.database import insert_frame, query_frame
from flows.files import checked_chunks, inspect_file
from schemas.codes import DecisionKind, FileStatus
from schemas.inbox import FileKind, InboxName, parse_inbox_name
from schemas.layouts import load_layout
from schemas.models import RECORD_NUMBER
from schemas.tables import log_tables, stored_input_tables
from transforms.deposits import bank_credit_rows
from transforms.framing import RejectedFile
from transforms.receivable_snapshot import receivable_snapshot
from transforms.rejected_keys import rejected_keys
from transforms.snapshot_guard import snapshot_shrinkage

TABLES = {table.name: table for table in stored_input_tables()}
TABLE_BY_KIND = {
    FileKind.PAYMENT_BY_DEPOSIT: "payment_records",
    FileKind.PAYMENT_BY_PAYMENT_DATE: "payment_records",
    FileKind.PROVISIONAL_BY_DEPOSIT: "provisional_records",
    FileKind.PROVISIONAL_BY_PAYMENT_DATE: "provisional_records",
    FileKind.MANAGEMENT: "management_records",
    FileKind.LINK_HISTORY: "link_records",
    FileKind.RECEIVABLES: "receivable_snapshots",
    FileKind.BANK_CREDITS: "bank_credits",
}
HASH_BLOCK = 1 << 24


@dataclass
class FileOutcome:
    """What became of one inbox file in a run (a row of `ingested_files`)."""

    file_name: str
    kind: str | None
    settlement_date: date | None
    delivery_number: int | None
    sha256: str | None
    status: str
    reason: str | None = None
    record_count: int = 0
    accepted_count: int = 0
    rejected_count: int = 0
    warning_count: int = 0
    totals: dict[str, int] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class InboxListing:
    """What the inbox holds for a date: its readable files (receivables first), the entries of
    its names that cannot be read (with why), every entry whose name is not recognised, and, in a
    run for one collector, the date's entries named for other collectors (theirs to run)."""

    recognised: list[tuple[Path, InboxName]]
    unreadable: list[tuple[Path, InboxName, str]]
    unrecognised: list[Path]
    other_collectors: list[InboxName] = field(default_factory=list)


def inbox_listing(inbox: Path, settlement_date: date, collector: int | None = None) -> InboxListing:
    """Every entry of the inbox that concerns the date, each in one of four lists: nothing is skipped unsaid.

    collector: the 収納団体コード of the run; the date's entries named for another collector are
    listed apart, unread. None: every collector's files are the run's, as in a city's own inbox.
    """
    listing = InboxListing([], [], [])
    for path in sorted(inbox.iterdir()):
        name = parse_inbox_name(path.name)
        if name is None:
            listing.unrecognised.append(path)
        elif name.settlement_date == settlement_date and collector is not None and name.collector_code != collector:
            listing.other_collectors.append(name)
        elif name.settlement_date == settlement_date:
            reason = unreadable_reason(path)
            if reason is None:
                listing.recognised.append((path, name))
            else:
                listing.unreadable.append((path, name, reason))
    listing.recognised.sort(key=lambda item: (item[1].kind != FileKind.RECEIVABLES, item[0].name))
    return listing


def collectors_of_date(inbox: Path, settlement_date: date) -> Counter[int]:
    """The 収納団体コード of the date's inbox entries with a recognised name, each with how many entries it names."""
    listing = inbox_listing(inbox, settlement_date)
    names = [name for _, name in listing.recognised] + [name for _, name, _ in listing.unreadable]
    return Counter(name.collector_code for name in names)


def other_collectors_files(inbox: Path, settlement_date: date, collector: int | None) -> dict[int, int]:
    """How many of the date's inbox entries each other collector has: none are a run's for one collector, so it counts them."""
    if collector is None:
        return {}
    return dict(sorted(Counter(name.collector_code for name in inbox_listing(inbox, settlement_date, collector).other_collectors).items()))


def unreadable_reason(path: Path) -> str | None:
    """Why an inbox entry with a recognised name cannot be read as a delivery, or None when it can."""
    # A folder, a link to a share that is not mounted, a device: never a delivery, and never worth
    # a retry. A file shuno may not read is the city's to fix. Other errors (a share that fails
    # mid-read) are left to the run, whose reading is retried (flows/nightly.py).
    if path.is_symlink() and not path.exists():
        return "a link to nothing (is the share mounted?)"
    if path.is_dir():
        return "a folder, not a file"
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "shuno may not read it (permissions)"
    return None


DELETE_DATE_ROWS = 'DELETE FROM "{table}" WHERE file_date = ?'
DELETE_SNAPSHOTS = "DELETE FROM receivable_snapshots WHERE snapshot_date = ?"


def forget_date(connection: duckdb.DuckDBPyConnection, settlement_date: date) -> None:
    """Removes every stored row that came from a file of `settlement_date`."""
    for table in TABLES.values():
        if table.name == "receivable_snapshots":
            connection.execute(DELETE_SNAPSHOTS, [settlement_date])
        else:
            connection.execute(DELETE_DATE_ROWS.format(table=table.name), [settlement_date])


EARLIER_IDENTICAL = """
SELECT file_name FROM ingested_files
WHERE sha256 = ? AND file_name <> ? AND list_contains(?, status)
  AND (settlement_date, file_name) < (?, ?)
ORDER BY settlement_date, file_name
LIMIT 1
"""


def earlier_identical_file(connection: duckdb.DuckDBPyConnection, sha256: str, name: InboxName, file_name: str) -> str | None:
    """The canonical copy of a byte-identical file seen before this one, if any."""
    found = connection.execute(EARLIER_IDENTICAL, [sha256, file_name, [FileStatus.LOADED, FileStatus.DUPLICATE], name.settlement_date, file_name]).fetchall()
    return found[0][0] if found else None


def load_data_file(connection: duckdb.DuckDBPyConnection, path: Path, name: InboxName, sha256: str) -> FileOutcome:
    """Reads one fixed-width file and stores its accepted records, rejects and warnings."""
    outcome = FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, sha256, FileStatus.LOADED)
    verdict = inspect_file(path, name)
    if verdict.rejection is None:
        try:
            _store_chunks(connection, verdict, path.name, outcome)
        except RejectedFile as rejection:
            verdict = replace(verdict, rejection=str(rejection))
            for table in TABLES.values():
                connection.execute(DELETE_FILE_ROWS.format(table=table.name), [path.name])
    if verdict.rejection is not None:
        rejected = FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, sha256, FileStatus.REJECTED)
        # The trailer's totals, when it could be read, say how much money the rejected file holds.
        totals = verdict.declared_totals.as_dict() if verdict.declared_totals else {}
        return replace(rejected, reason=verdict.rejection, record_count=verdict.data_count, totals=totals)
    outcome.record_count = verdict.data_count
    outcome.totals = verdict.declared_totals.as_dict() if verdict.declared_totals else {}
    return outcome


def _store_chunks(connection: duckdb.DuckDBPyConnection, verdict, file_name: str, outcome: FileOutcome) -> None:
    name = verdict.name
    table = TABLES[TABLE_BY_KIND[name.kind]]
    origin = _origin_columns(file_name, name)
    stored_origin = [column for column in origin if column.meta.output_name() in table.column_names]
    layout = load_layout(name.kind.layout)
    for chunk in checked_chunks(verdict):
        insert_frame(connection, table, chunk.records.with_columns(stored_origin))
        if not chunk.rejects.is_empty():  # most chunks reject nothing: reading no keys back costs nothing
            rejects = rejected_keys(chunk.rejects, layout).with_columns(*origin[:2], pl.lit(name.kind.value).alias("kind"))
            insert_frame(connection, TABLES["rejected_records"], rejects)
        insert_frame(connection, TABLES["record_warnings"], chunk.warnings.with_columns(*origin[:2]))
        outcome.accepted_count += chunk.records.height
        outcome.rejected_count += chunk.rejects.height
        outcome.warning_count += chunk.warnings.height


def _origin_columns(file_name: str, name: InboxName) -> list[pl.Expr]:
    sighting = "確報" if name.kind.is_confirmation else "速報"
    return [
        pl.lit(file_name).alias("file_name"),
        pl.lit(name.settlement_date).alias("file_date"),
        pl.lit(name.delivery_number, dtype=pl.Int32).alias("delivery_number"),
        pl.lit(sighting).alias("sighting"),
    ]


@dataclass(frozen=True)
class SnapshotGuard:
    """The snapshot guard of a run: the largest share of the receivables in force a snapshot may drop, and the snapshots accepted anyway."""

    largest_drop: Fraction = Fraction(1)
    accepted: frozenset[str] = frozenset()


IN_FORCE_BEFORE = """
SELECT receivable_id FROM receivable_snapshots
WHERE (snapshot_date, delivery_number) = (
    SELECT (snapshot_date, delivery_number) FROM receivable_snapshots
    WHERE (snapshot_date, delivery_number) < (?, ?)
    ORDER BY snapshot_date DESC, delivery_number DESC LIMIT 1
)
"""


def load_receivables_file(
    connection: duckdb.DuckDBPyConnection, path: Path, name: InboxName, sha256: str, guard: SnapshotGuard = SnapshotGuard()
) -> FileOutcome:
    """Reads one receivables snapshot and stores its valid rows; bad rows become rejects; a snapshot the guard holds stores nothing."""
    outcome = FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, sha256, FileStatus.LOADED)
    try:
        snapshot = receivable_snapshot(path.read_bytes())
    except RejectedFile as rejection:
        return replace(outcome, status=FileStatus.REJECTED, reason=str(rejection))
    if path.name not in guard.accepted:
        in_force = query_frame(connection, IN_FORCE_BEFORE, [name.settlement_date, name.delivery_number])["receivable_id"]
        held = snapshot_shrinkage(in_force, snapshot.accepted["receivable_id"], guard.largest_drop)
        if held is not None:
            reason = f"{held}; accept it with `shuno decide accept-snapshot --file {path.name}` and run {name.settlement_date} again"
            return replace(outcome, status=FileStatus.HELD, reason=reason, record_count=snapshot.row_count)
    origin = [
        pl.lit(path.name).alias("file_name"),
        pl.lit(name.settlement_date).alias("snapshot_date"),
        pl.lit(name.delivery_number, dtype=pl.Int32).alias("delivery_number"),
    ]
    insert_frame(connection, TABLES["receivable_snapshots"], snapshot.accepted.with_columns(origin))
    rejects = snapshot.rejects.with_columns(*_origin_columns(path.name, name)[:2], pl.lit(name.kind.value).alias("kind"))
    insert_frame(connection, TABLES["rejected_records"], rejects)
    counts = {"accepted_count": snapshot.accepted.height, "rejected_count": snapshot.rejects.height}
    return replace(outcome, record_count=snapshot.row_count, totals=snapshot.totals, **counts)


def load_bank_credits_file(connection: duckdb.DuckDBPyConnection, path: Path, name: InboxName, sha256: str) -> FileOutcome:
    """Reads one file of the bank's credits (GINKO CSV) and stores its valid rows; bad rows become rejects, as a snapshot's do."""
    outcome = FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, sha256, FileStatus.LOADED)
    try:
        rows = bank_credit_rows(path.read_bytes())
    except RejectedFile as rejection:
        return replace(outcome, status=FileStatus.REJECTED, reason=str(rejection))
    origin = _origin_columns(path.name, name)
    insert_frame(connection, TABLES["bank_credits"], rows.accepted.with_columns(origin[:3]))
    # What a rejected row is about: its 入金額 (issue 13), as far as it reads.
    about = rows.text.select(RECORD_NUMBER, pl.col("amount").cast(pl.Int64, strict=False))
    rejects = rows.rejects.join(about, on=RECORD_NUMBER, how="left", maintain_order="left")
    insert_frame(connection, TABLES["rejected_records"], rejects.with_columns(*origin[:2], pl.lit(name.kind.value).alias("kind")))
    counts = {"accepted_count": rows.accepted.height, "rejected_count": rows.rejects.height}
    return replace(outcome, record_count=rows.row_count, totals={"credited": int(rows.accepted["amount"].sum())}, **counts)


def load_file(connection: duckdb.DuckDBPyConnection, path: Path, name: InboxName, guard: SnapshotGuard = SnapshotGuard()) -> FileOutcome:
    """Loads one of the date's files, unless it is a byte-identical copy of an earlier one."""
    sha256 = file_sha256(path)
    canonical = earlier_identical_file(connection, sha256, name, path.name)
    if canonical is not None:
        return FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, sha256, FileStatus.DUPLICATE, f"byte-identical to {canonical}")
    if name.kind == FileKind.RECEIVABLES:
        return load_receivables_file(connection, path, name, sha256, guard)
    if name.kind == FileKind.BANK_CREDITS:
        return load_bank_credits_file(connection, path, name, sha256)
    return load_data_file(connection, path, name, sha256)


def unrecognised_outcome(path: Path) -> FileOutcome:
    """The `ingested_files` row of an inbox entry whose name shuno does not know."""
    reason = "file name is not one of SPEC §1 or CONTRACT's inbox" + ("" if path.is_file() else " (not a regular file)")
    return FileOutcome(path.name, None, None, None, None, FileStatus.UNRECOGNISED, reason)


def unreadable_outcome(path: Path, name: InboxName, reason: str) -> FileOutcome:
    """The `ingested_files` row of an entry with a recognised name that cannot be read."""
    return FileOutcome(path.name, name.kind.value, name.settlement_date, name.delivery_number, None, FileStatus.UNREADABLE, reason)


ACCEPTED_SNAPSHOTS = """
SELECT file_name FROM decision_entries AS accepted
WHERE kind = ? AND decision_id NOT IN (SELECT revokes FROM decision_entries WHERE revokes IS NOT NULL)
"""


def accepted_snapshots(connection: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The names of the held snapshots an `accept-snapshot` decision in force accepted."""
    return frozenset(query_frame(connection, ACCEPTED_SNAPSHOTS, [DecisionKind.ACCEPT_SNAPSHOT])["file_name"])


DELETE_FILE = "DELETE FROM ingested_files WHERE file_name = ?"
INGESTED_FILES = {table.name: table for table in log_tables()}["ingested_files"]
# ingested_files column → the trailer field it holds (payment files only; SPEC §1.1).
TRAILER_COLUMNS = {
    "trailer_count": "data_count",
    "trailer_amount": "paid_total_sum",
    "trailer_cancel_count": "cancel_count",
    "trailer_cancel_amount": "cancel_amount",
}


def record_outcome(connection: duckdb.DuckDBPyConnection, outcome: FileOutcome, run_id: str) -> None:
    """Writes the file's `ingested_files` row, replacing what an earlier run said of it."""
    connection.execute(DELETE_FILE, [outcome.file_name])
    trailer = {column: outcome.totals.get(field) for column, field in TRAILER_COLUMNS.items()}
    row = {key: value for key, value in vars(outcome).items() if key != "totals"} | trailer | {"run_id": run_id}
    insert_frame(connection, INGESTED_FILES, pl.DataFrame([row], schema=INGESTED_FILES.polars_schema))


LATER_COPIES = "SELECT file_name FROM ingested_files WHERE sha256 = ? AND file_name <> ? AND status = ?"
DELETE_FILE_ROWS = 'DELETE FROM "{table}" WHERE file_name = ?'
MARK_DUPLICATE = "UPDATE ingested_files SET status = ?, reason = ? WHERE file_name = ?"


def demote_later_copies(connection: duckdb.DuckDBPyConnection, outcome: FileOutcome) -> None:
    """Files stored earlier that this newly loaded file precedes become duplicates of it."""
    if outcome.status != FileStatus.LOADED:
        return
    later = query_frame(connection, LATER_COPIES, [outcome.sha256, outcome.file_name, FileStatus.LOADED])["file_name"]
    for file_name in later:
        for table in TABLES.values():
            connection.execute(DELETE_FILE_ROWS.format(table=table.name), [file_name])
        connection.execute(MARK_DUPLICATE, [FileStatus.DUPLICATE, f"byte-identical to {outcome.file_name}", file_name])


def load_date(
    connection: duckdb.DuckDBPyConnection,
    inbox: Path,
    settlement_date: date,
    run_id: str,
    largest_drop: Fraction = Fraction(1),
    collector: int | None = None,
) -> list[FileOutcome]:
    """Replaces the stored inputs of `settlement_date` with what its inbox files say now.

    largest_drop: the share of the receivables in force a snapshot may drop before it is held
    (the setting snapshot_drop_share); snapshots accepted by a decision are never held.
    collector: only the files named for this 収納団体コード are the date's (None: every file).
    """
    forget_date(connection, settlement_date)
    listing = inbox_listing(inbox, settlement_date, collector)
    guard = SnapshotGuard(largest_drop, accepted_snapshots(connection))
    outcomes = []
    for path, name in listing.recognised:
        outcomes.append(load_file(connection, path, name, guard))
        record_outcome(connection, outcomes[-1], run_id)
        demote_later_copies(connection, outcomes[-1])
    others = [unreadable_outcome(*entry) for entry in listing.unreadable] + [unrecognised_outcome(path) for path in listing.unrecognised]
    for outcome in others:
        outcomes.append(outcome)
        record_outcome(connection, outcome, run_id)
    return outcomes
