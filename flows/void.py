"""`shuno void --date D --reason CODE` (CONTRACT v2): the run of a date made void, as if the date had never been run.

Its stored inputs are withdrawn (the rows of its files; its ingested_files rows stay, saying what
its last run saw), a `voided` row in `runs` takes the date out of "as of", and the derived tables
are rebuilt as of the latest date whose run stands. Running the date again restores it. The
decisions stay: a decision on a payment of the voided date shows as without effect until then.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from flows.database import latest_completed_date
from flows.ingest import forget_date
from flows.operation import Done, OperationFailed, OperationRefused, locked_operation
from flows.settlement import INSERT_RUN, failure_reason, load_law_tables, rebuild_derived, replace_derived_with_nothing
from schemas.codes import RunStatus
from schemas.settings import Settings

STANDING = """
SELECT arg_max(status, started_at) FROM runs WHERE settlement_date = ? AND status IN (?, ?)
"""


@dataclass(frozen=True)
class Voided:
    """A void done: the date, the run row that records it, and the "as of" the tables are rebuilt to (None: no run stands)."""

    settlement_date: date
    run_id: str
    as_of: date | None


def void_date(settlement_date: date, database: Path, reason_code: str, settings: Settings | None = None, command: str = "shuno void") -> Done[Voided]:
    """Voids the run of settlement_date in one transaction under the run lock; OperationRefused when no run of it stands."""
    settings = settings or Settings()
    try:
        law = load_law_tables(settings)
    except Exception as error:
        raise OperationFailed(f"the void of {settlement_date} changed nothing: {failure_reason(error)}") from error

    def withdraw(connection: duckdb.DuckDBPyConnection) -> tuple[Voided, dict]:
        standing = connection.execute(STANDING, [settlement_date, RunStatus.COMPLETED, RunStatus.VOIDED]).fetchall()[0][0]
        if standing != RunStatus.COMPLETED:
            raise OperationRefused(f"no completed run of {settlement_date} stands to void ({standing or 'never run'})")
        forget_date(connection, settlement_date)
        run_id, now = uuid.uuid4().hex, datetime.now()
        connection.execute(INSERT_RUN, [run_id, settlement_date, now, now, RunStatus.VOIDED, json.dumps({"reason_code": reason_code})])
        as_of = latest_completed_date(connection)
        if as_of is None:
            replace_derived_with_nothing(connection)
        else:
            rebuild_derived(connection, as_of, law, settings)
        return Voided(settlement_date, run_id, as_of), {"run_id": run_id, "as_of": as_of}

    parameters = {"settlement_date": settlement_date, "reason_code": reason_code, "database": database}
    return locked_operation(database, command, parameters, withdraw, f"the void of {settlement_date}")
