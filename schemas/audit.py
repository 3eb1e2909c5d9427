"""The operation log (評価書 III-3 システム操作ログ): who ran what, when, on which files, and how it ended.

`schemas.tables.all_tables()` lists it, so `flows.database.connect` creates it with the others.
Refused runs reach it through the refusal log (`flows/refusals.py`).
"""

from __future__ import annotations

from schemas.tables import Column, Table

AUDIT_OUTCOMES = ("completed", "failed", "refused")


def audit_log_table() -> Table:
    """The audit_log table: one row per run, re-run, backfill, failure or refusal."""
    return Table(
        "audit_log",
        "システム操作ログ (評価書 III-3): 実行・再実行・バックフィル・失敗・拒否の記録",
        (
            Column("entry_id", "VARCHAR", "記録 ID"),
            Column("recorded_at", "TIMESTAMP", "記録日時"),
            Column("os_user", "VARCHAR", "操作者 (OS ユーザー)"),
            Column("host", "VARCHAR", "端末 (ホスト名)"),
            Column("process_id", "BIGINT", "プロセス ID"),
            Column("command", "VARCHAR", "操作 (コマンドまたはフロー: run, rerun, backfill など)"),
            Column("parameters", "VARCHAR", "パラメーター (JSON, 個人情報なし)"),
            Column("files", "VARCHAR", "対象ファイル (JSON: ファイル名と SHA-256)"),
            Column("outcome", "VARCHAR", "completed / failed / refused"),
            Column("reason", "VARCHAR", "失敗・拒否の理由 (1行, 個人情報なし)"),
            Column("run_id", "VARCHAR", "実行 ID (runs と対応, 実行に至らなければ空)"),
        ),
    )
