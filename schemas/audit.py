"""The operation log (評価書 III-3 システム操作ログ): how a run, re-run, backfill or refusal ended.

Its table, `audit_log`, is declared with the other log tables in `schemas.tables`, which lists it
in `all_tables()`, so `flows.database.connect` creates it with the others. Refused runs reach it
through the refusal log (`flows/refusals.py`).
"""

from __future__ import annotations

from schemas.codes import RunStatus

# A refused run never ran: it has an audit_log entry but no `runs` row.
REFUSED = "refused"
AUDIT_OUTCOMES = (*RunStatus, REFUSED)
