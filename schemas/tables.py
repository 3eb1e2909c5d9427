"""The DuckDB tables: stored inputs derived from the layouts, and the CONTRACT.md tables.

Every table and column carries a Japanese COMMENT (CONTRACT.md). Tables that mirror a file take
their columns from the layout tables, so a layout change reaches the database with no edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.codes import (
    CandidateStatus,
    DecisionKind,
    DeliveryStatus,
    ErrorClass,
    FileStatus,
    LabelledCode,
    LateFeeStatus,
    MatchedBy,
    OffsetStatus,
    PaymentClass,
    PaymentSource,
    PaymentStatus,
    ReceiptYearClass,
    ReconciliationStatus,
    RefundKind,
    RunStatus,
    SuggestionReason,
    coded_comment,
)
from schemas.layouts import Layout, LayoutName, load_layout
from schemas.privacy import SECRET_FIELDS

DUCKDB_TYPES = {
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Date: "DATE",
    pl.Time: "TIME",
    pl.Datetime: "TIMESTAMP",
    pl.String: "VARCHAR",
    pl.Binary: "BLOB",
    pl.Boolean: "BOOLEAN",
}


@dataclass(frozen=True)
class Contract:
    """What every value of a column keeps before shuno writes it: nulls allowed, a minimum, a code list."""

    nullable: bool = True
    minimum: int | None = None
    codes: type[LabelledCode] | None = None


ANY = Contract()
REQUIRED = Contract(nullable=False)
# Amounts are integer yen, never negative: a 取消 reverses a payment by its status, not by a negative
# amount, and every difference written (overpaid, refund, outstanding) is what is left, never a debt.
AMOUNT = Contract(nullable=False, minimum=0)
NUMBER = Contract(nullable=False, minimum=0)


def one_of(codes: type[LabelledCode]) -> Contract:
    """A column whose every value is a member of `codes`."""
    return Contract(nullable=False, codes=codes)


@dataclass(frozen=True)
class Column:
    """A column: name, DuckDB type, its Japanese description and the contract its values keep."""

    name: str
    type: str
    comment: str
    contract: Contract = ANY


@dataclass(frozen=True)
class Table:
    """A table: name, Japanese description, columns in order."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    # The columns that identify a row (CONTRACT.md "one row per"); a derived table's contract keeps them unique.
    key: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        """Column names in order."""
        return [column.name for column in self.columns]

    @property
    def polars_schema(self) -> pl.Schema:
        """The polars schema of a frame written to this table."""
        by_type = {duckdb_type: dtype for dtype, duckdb_type in DUCKDB_TYPES.items()}
        return pl.Schema({column.name: by_type[column.type]() for column in self.columns})


def _columns(*rows: tuple[str, str, str] | tuple[str, str, str, Contract]) -> tuple[Column, ...]:
    return tuple(_column(*row) for row in rows)


def _column(name: str, type: str, comment: str, contract: Contract = ANY) -> Column:
    # A coded column's COMMENT lists its codes, from the same code list its contract checks (codes
    # that are words, such as 見込 / 確定, describe themselves: their column's comment is empty).
    described = coded_comment(comment, contract.codes) if contract.codes else comment
    return Column(name, type, described, contract)


def layout_columns(layout: Layout, contracts: dict[str, Contract] | None = None) -> tuple[Column, ...]:
    """A layout's fields as columns (secret fields left out: they are never stored), with their contracts if given."""
    contracts = contracts or {}
    return tuple(
        _column(field.name, DUCKDB_TYPES[type(field.polars_dtype)], field.name_ja, contracts.get(field.name, ANY))
        for field in layout.fields
        if field.name not in SECRET_FIELDS
    )


FILE_ORIGIN = _columns(
    ("file_name", "VARCHAR", "ファイル名"),
    ("file_date", "DATE", "処理対象日 (ファイル名の日付)"),
    ("delivery_number", "INTEGER", "配信番号"),
    ("record_number", "BIGINT", "レコード番号 (ファイル内の位置, 1 始まり)"),
)
SIGHTING = _columns(("sighting", "VARCHAR", "速報 (納付日ファイル) / 確報 (入金日ファイル)"))

RECEIVABLE_COLUMNS = _columns(
    ("receivable_id", "VARCHAR", "調定番号", REQUIRED),
    ("taxpayer_id", "VARCHAR", "義務者住民コード", REQUIRED),
    # An unknown 税目コード only warns (schemas/models.py): no code list here.
    ("tax_code", "VARCHAR", "税目コード", REQUIRED),
    ("fiscal_year", "INTEGER", "調定年度"),
    ("tax_year", "INTEGER", "課税年度"),
    ("installment", "VARCHAR", "期別", REQUIRED),
    ("notice_number", "VARCHAR", "通知書番号"),
    ("payment_number", "VARCHAR", "納付番号"),
    ("confirmation_number", "VARCHAR", "確認番号"),
    ("filing_receipt_number", "VARCHAR", "申告受付番号"),
    ("due_date", "DATE", "納期限 (条例)", REQUIRED),
    ("principal", "BIGINT", "本税 (円)", AMOUNT),
    ("dunning_fee", "BIGINT", "督促手数料 (円)", AMOUNT),
    ("dunning_sent_on", "DATE", "督促状発付日"),
    ("changed_on", "DATE", "更正日"),
)
# The bank's credits file (GINKO CSV, CONTRACT v2): one row per 入金日.
BANK_CREDIT_COLUMNS = _columns(
    ("deposited_on", "DATE", "入金日", REQUIRED),
    ("amount", "BIGINT", "入金額 (円)", AMOUNT),
    ("count", "BIGINT", "件数 (空は不明)", Contract(minimum=0)),
)
SNAPSHOT_ORIGIN = _columns(
    ("file_name", "VARCHAR", "ファイル名"),
    ("snapshot_date", "DATE", "調定抽出日 (ファイル名の日付)"),
    ("delivery_number", "INTEGER", "配信番号"),
)


def _stored_records(name: str, comment: str, layout_name: LayoutName, sighting: bool) -> Table:
    columns = FILE_ORIGIN + (SIGHTING if sighting else ()) + layout_columns(load_layout(layout_name))
    return Table(name, comment, columns)


DECISION_COLUMNS = _columns(
    ("decision_id", "VARCHAR", "決定 ID (D と 6 桁の通番)", REQUIRED),
    ("kind", "VARCHAR", "決定の種類", one_of(DecisionKind)),
    ("payment_key", "VARCHAR", "対象の納付 (共通納税ID-連番 または SEQ-納付情報シーケンス)"),
    ("receivable_id", "VARCHAR", "対象・消込先の調定番号"),
    ("candidate_id", "VARCHAR", "対象の還付・充当候補 ID"),
    ("file_name", "VARCHAR", "採用する受信記録のファイル名 (resolve)"),
    ("record_number", "BIGINT", "採用する受信記録のレコード番号 (resolve)"),
    ("exemption_kind", "VARCHAR", "延滞金減免の種類 (exempt: disaster, suspension, deferral, realisation, reduction)"),
    ("start_on", "DATE", "減免期間の初日 (exempt)"),
    ("end_on", "DATE", "減免期間の末日 (exempt, 空は継続中)"),
    ("fraction", "VARCHAR", "減免の割合 (1 または 1/2)"),
    ("amount", "BIGINT", "還付額 (refunded, 任意の照合値)"),
    ("decided_on", "DATE", "決定の効力日 (職員が入力, 支出決定日・充当日など)", REQUIRED),
    ("reason_code", "VARCHAR", "理由コード", REQUIRED),
    ("note", "VARCHAR", "備考 (分析用コピーには含めない)"),
    ("entered_by", "VARCHAR", "入力者 (OS ユーザー)", REQUIRED),
    ("entered_at", "TIMESTAMP", "入力日時", REQUIRED),
    ("revokes", "VARCHAR", "取り消す決定の ID (revoke)"),
)


def decision_entries_table() -> Table:
    """The office's decisions as entered (SPEC §6): a stored input like a file, never updated or deleted."""
    return Table("decision_entries", "職員の決定 (入力のまま, 変更・削除しない)", DECISION_COLUMNS, key=("decision_id",))


def stored_input_tables() -> list[Table]:
    """The tables that hold what the files and snapshots said."""
    return [
        _stored_records("payment_records", "納付情報ファイル (入金日・納付日) の受付済みデータレコード", LayoutName.PAYMENT, True),
        _stored_records("provisional_records", "納付情報仮登録データ (受信分) の受付済みレコード", LayoutName.PROVISIONAL, True),
        _stored_records("management_records", "納付情報管理ファイルの受付済みレコード", LayoutName.MANAGEMENT, False),
        _stored_records("link_records", "納付情報紐付履歴の受付済みレコード", LayoutName.LINK_HISTORY, False),
        Table("receivable_snapshots", "調定スナップショット (全世代を保持)", SNAPSHOT_ORIGIN + RECEIVABLE_COLUMNS),
        Table("bank_credits", "指定金融機関の入金報告 (GINKO, 入金日ごとの入金額) の受付済み行", FILE_ORIGIN + BANK_CREDIT_COLUMNS),
        Table(
            "record_warnings",
            "未知のコード値の警告 (レコードは受付済み)",
            _columns(
                ("file_name", "VARCHAR", "ファイル名"),
                ("file_date", "DATE", "処理対象日 (ファイル名の日付)"),
                ("record_number", "BIGINT", "レコード番号"),
                ("field", "VARCHAR", "項目"),
                ("value", "VARCHAR", "コード値"),
                ("reason", "VARCHAR", "理由"),
            ),
        ),
        Table(
            "rejected_records",
            "検証で不合格となったレコード (生バイト付き, パスワードは空白化)",
            _columns(
                ("file_name", "VARCHAR", "ファイル名"),
                ("file_date", "DATE", "処理対象日 (ファイル名の日付)"),
                ("kind", "VARCHAR", "ファイル種別"),
                ("record_number", "BIGINT", "レコード番号 (ファイル内の位置, 1 始まり)"),
                ("field", "VARCHAR", "不合格の項目"),
                ("reason", "VARCHAR", "理由"),
                ("raw", "BLOB", "レコードの生バイト (CP932, パスワードは空白)"),
                # Read back from the bytes (transforms/rejected_keys.py): the money a rejected record holds and what it is.
                ("amount", "BIGINT", "金額 (今回支払金額合計; 調定は本税; 読めなければ空)"),
                ("common_tax_id", "VARCHAR", "共通納税ID"),
                ("sequence_number", "BIGINT", "連番"),
                ("payment_info_sequence", "BIGINT", "納付情報シーケンス (仮登録)"),
                ("paid_on", "DATE", "納付年月日"),
                ("receivable_id", "VARCHAR", "調定番号 (調定スナップショット)"),
            ),
        ),
    ]


def log_tables() -> list[Table]:
    """The tables that log what each run saw and did."""
    return [
        Table(
            "ingested_files",
            "受信箱で見たファイル",
            _columns(
                ("file_name", "VARCHAR", "ファイル名"),
                ("sha256", "VARCHAR", "SHA-256"),
                ("kind", "VARCHAR", "ファイル種別 (ファイル名の接頭辞)"),
                ("settlement_date", "DATE", "処理対象日 (ファイル名の日付)"),
                ("delivery_number", "INTEGER", "配信番号"),
                ("status", "VARCHAR", " / ".join(FileStatus)),
                ("reason", "VARCHAR", "不受理・重複の理由"),
                ("record_count", "BIGINT", "データレコード件数"),
                ("accepted_count", "BIGINT", "受付レコード件数"),
                ("rejected_count", "BIGINT", "不合格レコード件数"),
                ("warning_count", "BIGINT", "警告件数"),
                ("run_id", "VARCHAR", "最後に読んだ実行の ID"),
                ("trailer_count", "BIGINT", "トレーラのデータ件数 (納付情報ファイル; 不受理でもトレーラが読めれば)"),
                ("trailer_amount", "BIGINT", "トレーラの今回支払金額合計_合計 (円)"),
                ("trailer_cancel_count", "BIGINT", "トレーラの取消件数"),
                ("trailer_cancel_amount", "BIGINT", "トレーラの取消金額 (円)"),
            ),
        ),
        Table(
            "runs",
            "夜間処理の実行記録",
            _columns(
                ("run_id", "VARCHAR", "実行 ID"),
                ("settlement_date", "DATE", "処理対象日"),
                ("started_at", "TIMESTAMP", "開始日時"),
                ("finished_at", "TIMESTAMP", "終了日時"),
                ("status", "VARCHAR", " / ".join(RunStatus)),
                ("summary", "VARCHAR", "件数と金額の要約 (JSON, 個人情報なし)"),
            ),
        ),
    ]


def audit_log_table() -> Table:
    """The audit_log table (評価書 III-3 システム操作ログ): one row per run, re-run, backfill, failure or refusal."""
    return Table(
        "audit_log",
        "システム操作ログ (評価書 III-3): 実行・再実行・バックフィル・失敗・拒否の記録",
        _columns(
            ("entry_id", "VARCHAR", "記録 ID"),
            ("recorded_at", "TIMESTAMP", "記録日時"),
            ("os_user", "VARCHAR", "操作者 (OS ユーザー)"),
            ("host", "VARCHAR", "端末 (ホスト名)"),
            ("process_id", "BIGINT", "プロセス ID"),
            ("command", "VARCHAR", "操作 (コマンドまたはフロー: run, rerun, backfill など)"),
            ("parameters", "VARCHAR", "パラメーター (JSON, 個人情報なし)"),
            ("files", "VARCHAR", "対象ファイル (JSON: ファイル名と SHA-256)"),
            ("outcome", "VARCHAR", "completed / failed / refused"),
            ("reason", "VARCHAR", "失敗・拒否の理由 (1行, 個人情報なし)"),
            ("run_id", "VARCHAR", "実行 ID (runs と対応, 実行に至らなければ空)"),
        ),
    )


def create_statements(table: Table) -> list[str]:
    """CREATE TABLE and COMMENT ON statements for one table (names and comments are constants)."""
    columns = ", ".join(f'"{column.name}" {column.type}' for column in table.columns)
    statements = [f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns})']
    statements.append(f'COMMENT ON TABLE "{table.name}" IS {sql_literal(table.comment)}')
    statements += [
        f'COMMENT ON COLUMN "{table.name}"."{column.name}" IS {sql_literal(column.comment)}' for column in table.columns
    ]
    return statements


@dataclass(frozen=True)
class StoredTable:
    """What a database holds of a table now: the table's COMMENT and each column's (None where none is set)."""

    comment: str | None
    column_comments: Mapping[str, str | None]


def schema_statements(table: Table, stored: StoredTable | None) -> list[str]:
    """The statements that bring a database's table to its declaration: every create statement for a table it lacks;
    for one it has, ADD COLUMN for the columns it lacks and the COMMENTs that differ, so a database as declared needs none.

    Columns are only ever added (CONTRACT.md renames and removes nothing): a derived table's new
    columns are filled by the next rebuild, a stored table's stay null for what was stored before.
    """
    if stored is None:
        return create_statements(table)
    added = [f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {column.type}' for column in table.columns if column.name not in stored.column_comments]
    table_comment = [] if stored.comment == table.comment else [f'COMMENT ON TABLE "{table.name}" IS {sql_literal(table.comment)}']
    column_comments = [
        f'COMMENT ON COLUMN "{table.name}"."{column.name}" IS {sql_literal(column.comment)}'
        for column in table.columns
        if stored.column_comments.get(column.name) != column.comment
    ]
    return added + table_comment + column_comments


def sql_literal(text: str | Path) -> str:
    """`text` as a quoted SQL string literal, for statements that take no bound parameter (COMMENT, LOAD, SET, ATTACH, COPY)."""
    # Only shuno's own texts go through here: comments, paths and code prefixes, never record values.
    return "'" + str(text).replace("'", "''") + "'"


PAYMENT_IDENTITY = _columns(
    ("payment_key", "VARCHAR", "納付の識別子 (共通納税ID-連番, または SEQ-納付情報シーケンス)", REQUIRED),
    ("common_tax_id", "VARCHAR", "共通納税ID"),
    ("sequence_number", "BIGINT", "連番", NUMBER),
    ("payment_info_sequence", "BIGINT", "納付情報シーケンス (共通納税ID のない仮登録)"),
)


def _payments() -> Table:
    return Table(
        "payments",
        "納付 (共通納税ID・連番ごと, 速報・確報を一件として)",
        PAYMENT_IDENTITY
        + _columns(
            ("source", "VARCHAR", "", one_of(PaymentSource)),
            ("paid_on", "DATE", "納付年月日 (延滞金の終期)", REQUIRED),
            ("deposited_on", "DATE", "入金年月日 (確報)"),
            ("paid_total", "BIGINT", "今回支払金額合計", AMOUNT),
            ("paid_principal", "BIGINT", "支払納付額 (納付情報ファイルでは本税等) / 納付額", AMOUNT),
            ("paid_late_fee", "BIGINT", "支払延滞金額 / 納付延滞金", AMOUNT),
            ("paid_dunning_fee", "BIGINT", "納付督促手数料 (仮登録)", AMOUNT),
            ("paid_additional_charge", "BIGINT", "納付加算金 (仮登録)", AMOUNT),
            ("payment_class", "VARCHAR", "納付金区分", one_of(PaymentClass)),
            # Unknown チャネル区分 and 納付方式 only warn (SPEC §1: money is never turned away): no code list.
            ("channel_class", "VARCHAR", "チャネル区分"),
            ("payment_scheme", "VARCHAR", "納付方式"),
            ("payment_method", "VARCHAR", "支払方法"),
            ("bank_code", "VARCHAR", "金融機関コード"),
            ("interbank_settlement_date", "DATE", "決済単位年月日"),
            ("history_number", "BIGINT", "決定した履歴番号", NUMBER),
            ("response_code", "VARCHAR", "レスポンスコード", REQUIRED),
            ("mpn_processed_on", "DATE", "MPN処理年月日"),
            ("mpn_processed_at", "TIME", "MPN処理時刻"),
            ("mpn_serial", "VARCHAR", "MPN処理通番"),
            ("status", "VARCHAR", "", one_of(PaymentStatus)),
            ("error_class", "VARCHAR", "エラー区分", one_of(ErrorClass)),
            # Null unless applied: schemas/derived.py checks that an applied payment has both.
            ("receivable_id", "VARCHAR", "消込先の調定番号"),
            ("matched_by", "VARCHAR", "消込の経路", Contract(codes=MatchedBy)),
            ("overpaid_amount", "BIGINT", "過誤納額 (充当・還付の対象)", Contract(minimum=0)),
            ("first_seen_on", "DATE", "初めて受信した処理対象日", REQUIRED),
            ("confirmed_on", "DATE", "確報を受信した処理対象日"),
            ("unconfirmed", "BOOLEAN", "納付日から5営業日を過ぎても確報なし", REQUIRED),
            ("sighting_count", "BIGINT", "受信回数 (速報・確報・再配信)", Contract(nullable=False, minimum=1)),
        ),
        key=("payment_key",),
    )


def _provisional_payments() -> Table:
    layout = load_layout(LayoutName.PROVISIONAL)
    # A delivered record's amounts are digits (a broken one is rejected) and a built row's are zero
    # when nothing gives them; its other fields are the sender's, whose codes only warn.
    amounts = {field.name: AMOUNT for field in layout.fields if field.format == "amount"}
    contracts = amounts | {"payment_class": one_of(PaymentClass), "error_class": one_of(ErrorClass), "paid_on": REQUIRED}
    return Table(
        "provisional_payments",
        "全納付の仮登録 (50項目) 形式: 受信分と経路1・2で作成した分",
        _columns(("payment_key", "VARCHAR", "納付の識別子", REQUIRED)) + layout_columns(layout, contracts),
        key=("payment_key",),
    )


def _applications() -> Table:
    return Table(
        "applications",
        "納付の調定への充当額 (消込)",
        PAYMENT_IDENTITY
        + _columns(
            ("receivable_id", "VARCHAR", "調定番号", REQUIRED),
            ("paid_on", "DATE", "納付年月日", REQUIRED),
            ("principal_applied", "BIGINT", "本税への充当額", AMOUNT),
            ("dunning_fee_applied", "BIGINT", "督促手数料への充当額", AMOUNT),
            ("late_fee_applied", "BIGINT", "延滞金への充当額", AMOUNT),
            ("fiscal_year", "INTEGER", "会計年度 (納付の属する年度, 出納整理期間の前年度以前の調定分は前年度)", REQUIRED),
            # Null only for a receivable without 調定年度: neither 現年 nor 滞繰 can be said.
            ("current_or_arrears", "VARCHAR", "", Contract(codes=ReceiptYearClass)),
        ),
        # A payment is applied to its one receivable (payments.receivable_id): one row per payment.
        key=("payment_key",),
    )


def _arrears() -> Table:
    return Table(
        "arrears",
        "滞納 (納期限後に本税または延滞金が未納の調定)",
        _columns(
            ("receivable_id", "VARCHAR", "調定番号", REQUIRED),
            ("taxpayer_id", "VARCHAR", "義務者住民コード", REQUIRED),
            ("tax_code", "VARCHAR", "税目コード", REQUIRED),
            ("fiscal_year", "INTEGER", "調定年度"),
            ("installment", "VARCHAR", "期別", REQUIRED),
            ("effective_due_date", "DATE", "納期限 (地方税法第20条の5 適用後)", REQUIRED),
            ("principal", "BIGINT", "本税 (最新の調定)", AMOUNT),
            ("principal_outstanding", "BIGINT", "本税未納額", AMOUNT),
            ("dunning_fee_outstanding", "BIGINT", "督促手数料未納額", AMOUNT),
            ("late_fee", "BIGINT", "延滞金未納額", AMOUNT),
            ("late_fee_status", "VARCHAR", "", one_of(LateFeeStatus)),
            ("late_fee_exempted", "BIGINT", "減免期間により課さない延滞金", AMOUNT),
            ("offset_pending", "BIGINT", "未執行の充当案で充てられる額 (本税・督促手数料・延滞金)", AMOUNT),
            # Only a receivable past its 納期限 is in arrears: at least one day.
            ("days_overdue", "BIGINT", "経過日数 (as_of − 納期限)", Contract(nullable=False, minimum=1)),
            ("dunning_due", "BOOLEAN", "督促状の発付が必要 (本税未納・未発付・納期限経過)", REQUIRED),
            ("dunning_deadline", "DATE", "督促状の発付期限 (納期限後20日)", REQUIRED),
            ("dunning_ready", "BOOLEAN", "督促状を発付してよい (督促が必要で, 納期限から基準日までの納付データに未着・不受理がない)", REQUIRED),
            ("dunning_hold_reason", "VARCHAR", "督促を保留する理由 (未着・不受理の納付データ)"),
            ("dunning_sent_on", "DATE", "督促状発付日"),
            ("as_of", "DATE", "基準日 (処理済みの最新処理対象日)", REQUIRED),
        ),
        key=("receivable_id",),
    )


def _refund_candidates() -> Table:
    return Table(
        "refund_candidates",
        "還付・充当候補 (過誤納金)",
        _columns(
            ("candidate_id", "VARCHAR", "候補 ID (納付・種別・発生日から導出)", REQUIRED),
            # A returned payment (SPEC §6 `return`) belongs to no receivable and no known taxpayer.
            ("taxpayer_id", "VARCHAR", "義務者住民コード (返還は空)"),
        )
        + PAYMENT_IDENTITY
        + _columns(
            ("receivable_id", "VARCHAR", "過誤納の生じた調定番号 (返還は空)"),
            ("kind", "VARCHAR", "", one_of(RefundKind)),
            ("paid_on", "DATE", "納付年月日", REQUIRED),
            ("overpaid_amount", "BIGINT", "過誤納額", AMOUNT),
            ("offset_amount", "BIGINT", "充当額", AMOUNT),
            ("refund_amount", "BIGINT", "還付額", AMOUNT),
            ("interest_start", "DATE", "還付加算金の起算日", REQUIRED),
            ("refund_interest", "BIGINT", "還付額の還付加算金 (as_of まで)", AMOUNT),
            ("offset_interest", "BIGINT", "充当額の還付加算金 (充当適状日まで)", AMOUNT),
            ("arose_on", "DATE", "過誤納の発生日", REQUIRED),
            ("expires_on", "DATE", "還付請求権の時効 (発生日から5年)", REQUIRED),
            ("expired", "BOOLEAN", "時効経過", REQUIRED),
            ("status", "VARCHAR", "", one_of(CandidateStatus)),
            ("refunded_on", "DATE", "支出決定日 (還付済)"),
            ("as_of", "DATE", "基準日", REQUIRED),
        ),
        key=("candidate_id",),
    )


def _offsets() -> Table:
    return Table(
        "offsets",
        "充当 (過誤納金の未納調定への充当)",
        _columns(
            ("candidate_id", "VARCHAR", "候補 ID", REQUIRED),
            ("receivable_id", "VARCHAR", "充当先の調定番号", REQUIRED),
            ("principal_offset", "BIGINT", "本税への充当額", AMOUNT),
            ("dunning_fee_offset", "BIGINT", "督促手数料への充当額", AMOUNT),
            ("late_fee_offset", "BIGINT", "延滞金への充当額", AMOUNT),
            ("offset_on", "DATE", "充当適状日", REQUIRED),
            ("status", "VARCHAR", "", one_of(OffsetStatus)),
        ),
        key=("candidate_id", "receivable_id"),
    )


def _receivables() -> Table:
    return Table(
        "receivables",
        "調定 (最新のスナップショット)",
        RECEIVABLE_COLUMNS
        + _columns(
            ("effective_due_date", "DATE", "納期限 (地方税法第20条の5 適用後)", REQUIRED),
            ("snapshot_date", "DATE", "スナップショットの日付", REQUIRED),
            ("delivery_number", "INTEGER", "スナップショットの配信番号", REQUIRED),
        ),
        key=("receivable_id",),
    )


def _decisions() -> Table:
    return Table(
        "decisions",
        "職員の決定 (取消の有無と動かした金額つき)",
        DECISION_COLUMNS
        + _columns(
            ("revoked_by", "VARCHAR", "この決定を取り消した決定の ID (有効なら空)"),
            ("in_effect", "BOOLEAN", "今回の再計算で効力を持った (取消済・対象の状態が変わったものは偽)", REQUIRED),
            ("moved_yen", "BIGINT", "決定が動かした金額 (消込・返還: 納付額, 還付: 還付額, 充当: 執行額, 減免: 減免額)", AMOUNT),
        ),
        key=("decision_id",),
    )


def _work_queue() -> Table:
    return Table(
        "work_queue",
        "作業待ち (未消込・保留の納付と消込先の候補, 納付日の古い順; 候補は自動では消し込まない)",
        _columns(
            ("payment_key", "VARCHAR", "納付の識別子", REQUIRED),
            ("status", "VARCHAR", "", one_of(PaymentStatus)),
            ("error_class", "VARCHAR", "エラー区分", one_of(ErrorClass)),
            ("paid_on", "DATE", "納付年月日", REQUIRED),
            ("paid_total", "BIGINT", "今回支払金額合計", AMOUNT),
            ("first_seen_on", "DATE", "初めて受信した処理対象日", REQUIRED),
            # Counted from the first delivery, not the 納付日: the office could not act on a payment
            # before it arrived, and a payment delivered late (a migrated or re-sent one) has not
            # waited on anyone for the months between.
            ("days_waiting", "BIGINT", "待ち日数 (as_of − 初めて受信した処理対象日)", Contract(nullable=False, minimum=0)),
            # Null on the one row of a payment with no suggestion: every waiting payment is listed.
            ("suggestion_rank", "BIGINT", "候補の順位 (1–3, 候補なしは空)", Contract(minimum=1)),
            ("suggested_receivable_id", "VARCHAR", "候補の調定番号"),
            ("suggestion_reason", "VARCHAR", "候補の理由", Contract(codes=SuggestionReason)),
            ("as_of", "DATE", "基準日", REQUIRED),
        ),
        key=("payment_key", "suggestion_rank"),
    )


def _history() -> Table:
    # CONTRACT v2: one row per settlement date run × 税目 × 会計年度 × 現年/滞繰 (transforms/history.py).
    return Table(
        "history",
        "推移 (処理対象日ごと・税目・会計年度・現年/滞繰別の調定額・収入額・還付額・滞納額; 現在の記録をその日で切った額)",
        _columns(
            ("as_of", "DATE", "基準日 (実行した処理対象日)", REQUIRED),
            ("tax_code", "VARCHAR", "税目コード", REQUIRED),
            ("fiscal_year", "INTEGER", "会計年度", REQUIRED),
            # Null only for receipts to a receivable without 調定年度.
            ("current_or_arrears", "VARCHAR", "", Contract(codes=ReceiptYearClass)),
            ("assessed", "BIGINT", "調定額 (現年: その年度の調定の本税, 滞繰: 前年度以前の調定のうち前年度までに収入されなかった本税; 基準日時点)", AMOUNT),
            ("collected", "BIGINT", "収入額 (基準日までに納付日のある納付の本税への充当額; 過誤納金の充当は含まない)", AMOUNT),
            ("refunded", "BIGINT", "還付額 (基準日までの支出決定日の還付, 支出決定日の年度)", AMOUNT),
            ("arrears_principal", "BIGINT", "滞納 本税未納額 (基準日時点)", AMOUNT),
            ("arrears_late_fee", "BIGINT", "滞納 延滞金未納額 (基準日時点, 見込と確定の合計)", AMOUNT),
            ("refund_candidates_open", "BIGINT", "未還付の還付・充当候補の還付額 (基準日時点, 返還分を除く)", AMOUNT),
        ),
        key=("as_of", "tax_code", "fiscal_year", "current_or_arrears"),
    )


def _history_days() -> Table:
    # Not in the analyst copy: which dates of `history` must be computed again (transforms/history.py).
    return Table(
        "history_days",
        "推移の各基準日の指紋 (その日までの記録と計算規則の要約; 変わった日だけ推移を計算し直す)",
        _columns(
            ("as_of", "DATE", "基準日 (実行した処理対象日)", REQUIRED),
            ("fingerprint", "VARCHAR", "その日で切った記録の行ハッシュの和と計算規則の要約", REQUIRED),
        ),
        key=("as_of",),
    )


def _deliveries() -> Table:
    return Table(
        "deliveries",
        "予定された納付データの受信状況 (営業日・ファイル種別ごと)",
        _columns(
            ("settlement_date", "DATE", "処理対象日 (営業日)", REQUIRED),
            ("kind", "VARCHAR", "ファイル種別 (ファイル名の接頭辞)", REQUIRED),
            ("status", "VARCHAR", "", one_of(DeliveryStatus)),
            ("delivery_numbers", "VARCHAR", "届いた配信番号 (カンマ区切り)"),
            ("reason", "VARCHAR", "未着・不受理の理由 (欠番・不受理の配信番号)"),
        ),
        key=("settlement_date", "kind"),
    )


def _deposit_reconciliation() -> Table:
    return Table(
        "deposit_reconciliation",
        "入金日ごとの指定金融機関の入金額と納付データの照合",
        _columns(
            ("deposited_on", "DATE", "入金日", REQUIRED),
            ("credited_amount", "BIGINT", "金融機関の入金額 (円, 入金報告なしは空)", Contract(minimum=0)),
            # Unlike the other amounts, a day's deliveries can be negative: a 取消 subtracts on its own 入金日 (SPEC §7).
            ("delivered_amount", "BIGINT", "納付データの金額 (円: 入金日ファイルの領収 − 取消)", Contract(nullable=False)),
            ("difference", "BIGINT", "差額 (入金額 − 納付データの金額, 円)"),
            ("status", "VARCHAR", "", one_of(ReconciliationStatus)),
        ),
        key=("deposited_on",),
    )


def derived_tables() -> list[Table]:
    """The tables rebuilt from the stored inputs at every run (CONTRACT.md)."""
    return [
        _receivables(),
        _payments(),
        _provisional_payments(),
        _applications(),
        _arrears(),
        _refund_candidates(),
        _offsets(),
        _decisions(),
        _work_queue(),
        _history(),
        _history_days(),
        _deliveries(),
        _deposit_reconciliation(),
    ]


def all_tables() -> list[Table]:
    """Every table of the database."""
    return stored_input_tables() + [decision_entries_table()] + log_tables() + [audit_log_table()] + derived_tables()
