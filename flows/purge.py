"""`shuno purge --before D` (SPEC §8): the personal fields of stored records older than the retention period erased.

A record is erased when it was received before D, D is at least the retention period (setting
retention_years) before today, and nothing about its payment is open: the payment is neither
pending nor held nor in the work queue, its receivable is not in arrears nor the target of a
proposed 充当, and no refund candidate of it is open. A receivables snapshot row is erased when it
was taken before D and its receivable is so closed.

Names, kana and addresses are set to null. 納付番号, 確認番号 and 総括納付情報確認番号 are join
keys (消込 matches on them), so a value is replaced by a keyed hash instead, everywhere at once, and
only when every row that holds it is erased: rows that were equal stay equal, so every match, and
so every derived table but its erased personal columns, is as before. Rejected records received
before D lose their raw bytes. The derived tables are rebuilt in the same transaction, and the
file is then rewritten whole (flows.database.rewrite_database), so the erased bytes are not left
in freed blocks. Backups taken before the purge keep the values until they are rotated out
(setting backups_kept).
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import duckdb

from flows.backups import flush_folder, hidden_copy
from flows.database import RewriteError, checkpoint, latest_completed_date, rewrite_database
from flows.keys import DatabaseKeyError, database_key
from flows.lock import RunLockHeld, acquire_run_lock
from flows.operation import Done, OperationFailed, OperationRefused, locked_operation
from flows.settlement import failure_reason, load_law_tables, rebuild_derived
from schemas.codes import CandidateStatus, OffsetStatus, PaymentStatus
from schemas.settings import Settings
from transforms.retention import retention_cutoff

COMMAND = "shuno purge"
NAME_FIELDS = ("payer_name", "payer_name_kana", "payer_address")
NUMBER_FIELDS = ("payment_number", "confirmation_number", "summary_confirmation_number")
# The stored tables whose records belong to a payment, found by its 共通納税ID and 連番 (or 納付情報シーケンス).
PAYMENT_RECORD_TABLES = ("payment_records", "provisional_records", "management_records")
OPEN_PAYMENT_STATUSES = (PaymentStatus.PENDING, PaymentStatus.HELD)
# A hashed value says so: "H" and 31 hexadecimal digits of sha256(purge key ‖ value), never a digit string a file could hold.
HASH_PREFIX = "H"

OPEN_RECEIVABLES = """
CREATE OR REPLACE TEMP TABLE open_receivables AS
SELECT receivable_id FROM arrears
UNION SELECT receivable_id FROM refund_candidates WHERE status = ? AND receivable_id IS NOT NULL
UNION SELECT receivable_id FROM offsets WHERE status = ?
"""
CLOSED_PAYMENTS = """
CREATE OR REPLACE TEMP TABLE closed_payments AS
SELECT common_tax_id, sequence_number, payment_info_sequence FROM payments
WHERE status NOT IN (SELECT unnest(?))
  AND (receivable_id IS NULL OR receivable_id NOT IN (SELECT receivable_id FROM open_receivables))
  AND payment_key NOT IN (SELECT payment_key FROM refund_candidates WHERE status = ? AND payment_key IS NOT NULL)
  AND payment_key NOT IN (SELECT payment_key FROM work_queue)
"""
# A record of a closed payment received before the cutoff: by 共通納税ID and 連番, or by 納付情報シーケンス without them.
ERASED_PAYMENT_RECORDS = """
INSERT INTO erased_rows SELECT '{table}', record.rowid FROM "{table}" AS record
WHERE record.file_date < ? AND EXISTS (
    SELECT 1 FROM closed_payments AS closed
    WHERE (record.common_tax_id IS NOT NULL AND closed.common_tax_id = record.common_tax_id AND closed.sequence_number = record.sequence_number){by_sequence}
)
"""
BY_SEQUENCE = "\n       OR (record.common_tax_id IS NULL AND closed.payment_info_sequence = record.payment_info_sequence)"
# Only 仮登録 and 管理 records may lack a 共通納税ID; payment-file records have no 納付情報シーケンス.
SEQUENCED_TABLES = ("provisional_records", "management_records")
ERASED_SNAPSHOT_ROWS = """
INSERT INTO erased_rows SELECT 'receivable_snapshots', rowid FROM receivable_snapshots
WHERE snapshot_date < ? AND receivable_id NOT IN (SELECT receivable_id FROM open_receivables)
"""
NUMBER_VALUES = """SELECT "{column}" AS value, rowid IN (SELECT row_id FROM erased_rows WHERE table_name = '{table}') AS erased FROM "{table}" WHERE "{column}" IS NOT NULL"""
# Values held by erased rows only: replaced everywhere, so equal rows stay equal.
HASHED_VALUES = """
CREATE OR REPLACE TEMP TABLE hashed_values AS
SELECT value, ? || left(sha256(? || value), 31) AS hashed FROM ({numbers}) GROUP BY value HAVING bool_and(erased)
"""
HASH_NUMBERS = """UPDATE "{table}" SET "{column}" = hashed_values.hashed FROM hashed_values WHERE "{table}"."{column}" = hashed_values.value"""
ERASE_NAMES = """UPDATE "{table}" SET {assignments} WHERE rowid IN (SELECT row_id FROM erased_rows WHERE table_name = '{table}')"""
ERASE_RAW = "UPDATE rejected_records SET raw = NULL WHERE file_date < ? AND raw IS NOT NULL"


def purge_before(before: date, database: Path, settings: Settings, today: date) -> Done[dict]:
    """Erases the personal fields of closed records received before `before`, then rewrites the file; the counts erased by table."""
    cutoff = retention_cutoff(today, settings.retention_years)
    if before > cutoff:
        raise OperationRefused(f"--before {before} is within the retention period ({settings.retention_years} years): the latest allowed is {cutoff}")
    try:
        law = load_law_tables(settings)
        purge_key = _purge_key(database)
    except Exception as error:
        raise OperationFailed(f"the purge changed nothing: {failure_reason(error)}") from error

    def erase(connection: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
        counts = erase_personal_fields(connection, before, purge_key)
        as_of = latest_completed_date(connection)
        if as_of is not None:
            rebuild_derived(connection, as_of, law, settings)
        return counts, {"erased": counts}

    done = locked_operation(database, COMMAND, {"before": before, "database": database}, erase, f"the purge before {before}")
    compact(database)
    return done


def _purge_key(database: Path) -> str:
    """The key of the keyed hash: derived from the database's key, never the key itself."""
    return hashlib.sha256(b"shuno purge\n" + database_key(database, create=False).encode("ascii")).hexdigest()


def erase_personal_fields(connection: duckdb.DuckDBPyConnection, before: date, purge_key: str) -> dict[str, int]:
    """Erases, in the caller's transaction, the personal fields of the closed records received before `before`; the rows erased by table."""
    connection.execute(OPEN_RECEIVABLES, [CandidateStatus.OPEN, OffsetStatus.PROPOSED])
    connection.execute(CLOSED_PAYMENTS, [list(OPEN_PAYMENT_STATUSES), CandidateStatus.OPEN])
    connection.execute("CREATE OR REPLACE TEMP TABLE erased_rows (table_name VARCHAR, row_id BIGINT)")
    for table in PAYMENT_RECORD_TABLES:
        by_sequence = BY_SEQUENCE if table in SEQUENCED_TABLES else ""
        connection.execute(ERASED_PAYMENT_RECORDS.format(table=table, by_sequence=by_sequence), [before])
    connection.execute(ERASED_SNAPSHOT_ROWS, [before])
    columns = _personal_columns(connection)
    numbers = " UNION ALL ".join(
        NUMBER_VALUES.format(table=table, column=column) for table, names in columns.items() for column in names if column in NUMBER_FIELDS
    )
    connection.execute(HASHED_VALUES.format(numbers=numbers), [HASH_PREFIX, purge_key])
    for table, names in columns.items():
        for column in (name for name in names if name in NUMBER_FIELDS):
            connection.execute(HASH_NUMBERS.format(table=table, column=column))
        erased_names = [name for name in names if name in NAME_FIELDS]
        if erased_names:
            connection.execute(ERASE_NAMES.format(table=table, assignments=", ".join(f'"{name}" = NULL' for name in erased_names)))
    raw = connection.execute(ERASE_RAW, [before]).fetchall()[0][0]
    erased = dict(connection.execute("SELECT table_name, count(*) FROM erased_rows GROUP BY ALL ORDER BY ALL").fetchall())
    return erased | {"rejected_records": raw}


def _personal_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The personal columns of each stored table that has any (from the catalog: the declarations may grow)."""
    wanted = list(NAME_FIELDS + NUMBER_FIELDS)
    rows = connection.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() AND list_contains(?, column_name) AND list_contains(?, table_name) GROUP BY ALL",
        [wanted, [*PAYMENT_RECORD_TABLES, "receivable_snapshots"]],
    ).fetchall()
    return dict(rows)


def compact(database: Path) -> None:
    """Rewrites the database file whole under the run lock, so erased values do not linger in freed blocks; a run holding the lock defers it."""
    try:
        lock = acquire_run_lock(database)
    except RunLockHeld as held:
        raise OperationFailed(f"the purge is committed, but the file was not yet rewritten ({held.holder.description()}): run shuno purge again") from None
    with lock:
        key = database_key(database, create=False)
        try:
            # The copy must hold all: a write-ahead log left beside the new file would be replayed onto it.
            checkpoint(database, key)
            rewrite_database(database, hidden_copy(database), key, key)
        except (RewriteError, DatabaseKeyError, duckdb.Error) as error:
            raise OperationFailed(f"the purge is committed, but the file could not be rewritten ({type(error).__name__}): run shuno purge again") from None
        os.replace(hidden_copy(database), database)
        flush_folder(database.parent)
