"""The analyst copy (data/analyst.duckdb): the CONTRACT tables it holds, the columns it leaves out, its views.

Analysts never open the nightly's database: DuckDB blocks readers of a file while another process
writes it. They query a copy published after each run, stripped of personal data (評価書 III).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.codes import (
    CHANNEL_CLASSES,
    PAYMENT_CLASSES,
    PAYMENT_METHODS,
    PAYMENT_SCHEMES,
    RECEIPT_CLASSES,
    TAX_CODES,
    CandidateStatus,
    DecisionKind,
    DeliveryStatus,
    ErrorClass,
    FileStatus,
    LateFeeStatus,
    MatchedBy,
    OffsetStatus,
    PaymentSource,
    PaymentStatus,
    ReceiptYearClass,
    ReconciliationStatus,
    RefundKind,
    RunStatus,
    SuggestionReason,
    code_labels,
    coded_comment,
)
from schemas.privacy import PERSONAL_FIELDS, SECRET_FIELDS

# The tables of CONTRACT.md, in its order. Stored inputs (payment_records, …) stay out: they are
# the files' records, personal fields and all, and the derived tables already say what they meant.
ANALYST_TABLES = (
    "receivables",
    "payments",
    "provisional_payments",
    "applications",
    "arrears",
    "refund_candidates",
    "offsets",
    "decisions",
    "work_queue",
    "history",
    "deliveries",
    "deposit_reconciliation",
    "rejected_records",
    "ingested_files",
    "runs",
)

# The copy's own table `about` (CONTRACT v2): name, DuckDB type, Japanese COMMENT.
ABOUT_COMMENT = "この分析用コピーについて (基準日・公開日時・作成した実行・shuno の版)"
ABOUT_COLUMNS = (
    ("as_of", "DATE", "基準日 (取消されていない最新の処理対象日)"),
    ("published_at", "TIMESTAMP", "公開日時"),
    ("run_id", "VARCHAR", "基準日の実行 ID (runs)"),
    ("shuno_version", "VARCHAR", "shuno の版"),
)



@dataclass(frozen=True)
class CodeList:
    """A code list of the copy's table `codes`: its name, code → Japanese name, and the (table, column) pairs holding its codes."""

    name: str
    names: Mapping[str, str]
    columns: tuple[tuple[str, str], ...]


# The copy's table `codes` (CONTRACT v2): one row per code of these lists, in this order, then
# the codes met in the listed columns but absent from their list, named `不明 (<code>)`, so an
# unknown チャネル区分 (which only warns, SPEC §1) shows up instead of joining to nothing.
# 領収区分 is no column of the copy (a 取消 is a payment's status): listed for reference.
CODE_LISTS = (
    CodeList(
        "tax_code",
        TAX_CODES,
        (("receivables", "tax_code"), ("arrears", "tax_code"), ("provisional_payments", "tax_code"), ("history", "tax_code")),
    ),
    CodeList("channel_class", CHANNEL_CLASSES, (("payments", "channel_class"),)),
    CodeList("payment_scheme", PAYMENT_SCHEMES, (("payments", "payment_scheme"),)),
    CodeList("payment_class", PAYMENT_CLASSES, (("payments", "payment_class"), ("provisional_payments", "payment_class"))),
    CodeList("receipt_class", RECEIPT_CLASSES, ()),
    CodeList("payment_method", PAYMENT_METHODS, (("payments", "payment_method"),)),
    CodeList(
        "error_class",
        code_labels(ErrorClass),
        (("payments", "error_class"), ("provisional_payments", "error_class"), ("work_queue", "error_class")),
    ),
    CodeList("status", code_labels(PaymentStatus), (("payments", "status"), ("work_queue", "status"))),
    CodeList("late_fee_status", code_labels(LateFeeStatus), (("arrears", "late_fee_status"),)),
    CodeList("refund_kind", code_labels(RefundKind), (("refund_candidates", "kind"),)),
    CodeList("candidate_status", code_labels(CandidateStatus), (("refund_candidates", "status"),)),
    CodeList("offset_status", code_labels(OffsetStatus), (("offsets", "status"),)),
    CodeList("decision_kind", code_labels(DecisionKind), (("decisions", "kind"),)),
    CodeList("file_status", code_labels(FileStatus), (("ingested_files", "status"),)),
    CodeList("run_status", code_labels(RunStatus), (("runs", "status"),)),
    CodeList("matched_by", code_labels(MatchedBy), (("payments", "matched_by"),)),
    CodeList("payment_source", code_labels(PaymentSource), (("payments", "source"),)),
    CodeList("suggestion_reason", code_labels(SuggestionReason), (("work_queue", "suggestion_reason"),)),
    CodeList("current_or_arrears", code_labels(ReceiptYearClass), (("applications", "current_or_arrears"), ("history", "current_or_arrears"))),
    CodeList("delivery_status", code_labels(DeliveryStatus), (("deliveries", "status"),)),
    CodeList("reconciliation_status", code_labels(ReconciliationStatus), (("deposit_reconciliation", "status"),)),
)
CODES_COMMENT = "コード表 (税目・チャネル区分・納付方式・エラー区分・状態などのコードと名称; 一覧にないコードは 不明 (コード))"
CODES_COLUMNS = (
    ("code_list", "VARCHAR", "コード一覧の名前 (tax_code, channel_class, status (納付の状態), refund_kind など)"),
    ("code", "VARCHAR", "コード (文字列: 先頭の 0 を保つ)"),
    ("name_ja", "VARCHAR", "名称 (一覧にないコードは 不明 (コード))"),
)
UNKNOWN_CODE_NAME = "不明 ({code})"
LISTED_CODES = tuple((code_list.name, code, name) for code_list in CODE_LISTS for code, name in code_list.names.items())

# rejected_records.raw is a whole record's bytes: the names, addresses and 納付番号 it holds are
# personal even though パスワード is blanked in it.
# A decision's note is free text and entered_by names a member of staff (CONTRACT v2: the copy's
# `decisions` is without both).
EXCLUDED_COLUMNS = PERSONAL_FIELDS | SECRET_FIELDS | {"raw", "note", "entered_by"}


@dataclass(frozen=True)
class AnalystView:
    """A view of the analyst copy: name, Japanese description, its SELECT and a description per column."""

    name: str
    comment: str
    select: str
    column_comments: tuple[tuple[str, str], ...]


# A CREATE VIEW takes no bound parameters in DuckDB, so the status codes a view filters on are
# written into its SQL here, once, at import, from the PaymentStatus members: declarations of this
# code base, never input.
def _sql_codes(*statuses: PaymentStatus) -> str:
    """The statuses as a list of SQL string literals: `'pending', 'held'`."""
    return ", ".join(f"'{status.value}'" for status in statuses)


# `held` (error 40, sightings that disagree) waits for the staff like `pending` does.
AWAITING_STAFF = (PaymentStatus.PENDING, PaymentStatus.HELD)

def _named(code_list: str, column: str) -> str:
    """A scalar subquery: the `codes` name of `column`'s code in `code_list` (every code met has one, 不明 (…) included)."""
    return f"(SELECT name_ja FROM codes WHERE code_list = '{code_list}' AND code = {column})"


# A 仮登録 payment has no チャネル区分 (its layout has no such field, SPEC §1): its file tells only
# that it came outside eLTAX (口座振替, 窓口, コンビニ …), and that is what its channel says.
PROVISIONAL_CHANNEL = "仮登録"
PROVISIONAL_CHANNEL_NAME = "仮登録 (eLTAX 外: 口座振替・窓口・コンビニなど)"

# Sums are cast back to BIGINT yen, like every amount of the database: DuckDB widens sum(BIGINT)
# to HUGEINT, which reaches pandas as float.

# Age in whole calendar months since the effective 納期限 (days_overdue = as_of − effective_due_date,
# CONTRACT.md): months, not 30-day blocks, because 地方税法 counts the 延滞金 lower-rate period
# ("納期限の翌日から1月を経過する日まで") in calendar months too.
ARREARS_AGING = """
WITH aged AS (
    SELECT
        *,
        CASE
            WHEN date_sub('month', effective_due_date, as_of) < 1 THEN 1
            WHEN date_sub('month', effective_due_date, as_of) < 3 THEN 2
            WHEN date_sub('month', effective_due_date, as_of) < 12 THEN 3
            ELSE 4
        END AS aging_order
    FROM arrears
)
SELECT
    tax_code,
    aging_order,
    ['<1', '1-3', '3-12', '12+'][aging_order] AS aging_bucket,
    count(*) AS receivable_count,
    count(DISTINCT taxpayer_id) AS taxpayer_count,
    sum(principal_outstanding)::BIGINT AS principal_outstanding,
    sum(dunning_fee_outstanding)::BIGINT AS dunning_fee_outstanding,
    sum(late_fee)::BIGINT AS late_fee,
    count(*) FILTER (WHERE dunning_due) AS dunning_due_count,
    min(days_overdue) AS min_days_overdue,
    max(days_overdue) AS max_days_overdue,
    max(as_of) AS as_of
FROM aged
GROUP BY tax_code, aging_order
"""
# The view names the 税目 from `codes`, a table of the analyst copy only; the run report reads ARREARS_AGING.
ARREARS_BY_TAX_CODE_AND_AGING = f"""
SELECT tax_code, {_named("tax_code", "aging.tax_code")} AS tax_name, * EXCLUDE (tax_code) FROM ({ARREARS_AGING}) AS aging
"""

# For an applied payment 今回支払金額合計 = Σ applications + overpayment (docs/reconciliation.md),
# so the split columns add up to paid_total.
RECEIPTS_BY_DAY_AND_CHANNEL = f"""
WITH applied AS (
    SELECT
        payment_key,
        any_value(fiscal_year) AS fiscal_year,
        sum(principal_applied)::BIGINT AS principal_applied,
        sum(dunning_fee_applied)::BIGINT AS dunning_fee_applied,
        sum(late_fee_applied)::BIGINT AS late_fee_applied
    FROM applications
    GROUP BY payment_key
)
SELECT
    payments.paid_on,
    payments.deposited_on,
    applied.fiscal_year,
    payments.channel_class,
    coalesce({_named("channel_class", "payments.channel_class")}, '{PROVISIONAL_CHANNEL_NAME}') AS channel_name,
    count(*) AS payment_count,
    sum(payments.paid_total)::BIGINT AS paid_total,
    sum(coalesce(applied.principal_applied, 0))::BIGINT AS principal_applied,
    sum(coalesce(applied.dunning_fee_applied, 0))::BIGINT AS dunning_fee_applied,
    sum(coalesce(applied.late_fee_applied, 0))::BIGINT AS late_fee_applied,
    sum(coalesce(payments.overpaid_amount, 0))::BIGINT AS overpaid_amount
FROM payments
LEFT JOIN applied USING (payment_key)
WHERE payments.status = {_sql_codes(PaymentStatus.APPLIED)}
GROUP BY payments.paid_on, payments.deposited_on, applied.fiscal_year, payments.channel_class, channel_name
"""

REFUND_CANDIDATES_BY_KIND = """
SELECT
    kind,
    count(*) AS candidate_count,
    count(DISTINCT taxpayer_id) AS taxpayer_count,
    sum(overpaid_amount)::BIGINT AS overpaid_amount,
    sum(offset_amount)::BIGINT AS offset_amount,
    sum(refund_amount)::BIGINT AS refund_amount,
    sum(refund_interest)::BIGINT AS refund_interest,
    sum(offset_interest)::BIGINT AS offset_interest,
    count(*) FILTER (WHERE expired) AS expired_count,
    min(expires_on) FILTER (WHERE NOT expired) AS next_expires_on,
    max(as_of) AS as_of
FROM refund_candidates
GROUP BY kind
"""

PENDING_PAYMENTS_BY_ERROR_CLASS = f"""
SELECT
    status,
    error_class,
    count(*) AS payment_count,
    sum(paid_total)::BIGINT AS paid_total,
    min(paid_on) AS oldest_paid_on,
    min(first_seen_on) AS first_seen_on,
    count(*) FILTER (WHERE unconfirmed) AS unconfirmed_count
FROM payments
WHERE status IN ({_sql_codes(*AWAITING_STAFF)})
GROUP BY status, error_class
"""

# CONTRACT v2: every proposed 充当 not yet executed, with its target, so that nothing leaves 滞納
# unseen (arrears are net of proposed 充当, which §17条の2 makes mandatory).
OFFSETS_PENDING = f"""
SELECT
    offsets.candidate_id,
    offsets.receivable_id,
    receivables.taxpayer_id,
    receivables.tax_code,
    {_named("tax_code", "receivables.tax_code")} AS tax_name,
    receivables.fiscal_year,
    offsets.principal_offset,
    offsets.dunning_fee_offset,
    offsets.late_fee_offset,
    (offsets.principal_offset + offsets.dunning_fee_offset + offsets.late_fee_offset)::BIGINT AS offset_total,
    offsets.offset_on
FROM offsets
LEFT JOIN receivables USING (receivable_id)
WHERE offsets.status = '{OffsetStatus.PROPOSED.value}'
"""

# CONTRACT v2: 収納率 (収入額 / 調定額) of the latest date run, from `history` (transforms/history.py
# says what its 調定額 and 収入額 are). Two decimals, as 決算 tables give it.
COLLECTION_RATE = f"""
SELECT
    fiscal_year,
    tax_code,
    {_named("tax_code", "history.tax_code")} AS tax_name,
    current_or_arrears,
    assessed,
    collected,
    CASE WHEN assessed > 0 THEN round(collected * 100.0 / assessed, 2)::DECIMAL(7, 2) END AS rate,
    as_of
FROM history
WHERE as_of = (SELECT max(as_of) FROM history) AND current_or_arrears IS NOT NULL
"""

# 二重納付: a receivable with two or more applied payments that together paid more than it owed
# (instalments that add up to the 本税 are not double payments).
DOUBLE_PAYMENTS = f"""
WITH applied AS (
    SELECT
        receivable_id,
        paid_total,
        coalesce(overpaid_amount, 0) AS overpaid_amount,
        coalesce(channel_class, '{PROVISIONAL_CHANNEL}') AS channel,
        coalesce({_named("channel_class", "payments.channel_class")}, '{PROVISIONAL_CHANNEL_NAME}') AS channel_name
    FROM payments
    WHERE status = {_sql_codes(PaymentStatus.APPLIED)}
)
SELECT
    applied.receivable_id,
    receivables.tax_code,
    {_named("tax_code", "receivables.tax_code")} AS tax_name,
    receivables.fiscal_year,
    count(*) AS payments,
    sum(applied.paid_total)::BIGINT AS paid_total,
    sum(applied.overpaid_amount)::BIGINT AS overpaid_amount,
    string_agg(DISTINCT applied.channel, ', ' ORDER BY applied.channel) AS channels,
    string_agg(DISTINCT applied.channel_name, ', ' ORDER BY applied.channel_name) AS channel_names
FROM applied
LEFT JOIN receivables USING (receivable_id)
GROUP BY applied.receivable_id, receivables.tax_code, receivables.fiscal_year
HAVING count(*) > 1 AND sum(applied.overpaid_amount) > 0
"""

# 納税証明 (評価書 I-2 機能3): the 調定年度 of the date the copy is as of and the two before it. Paid
# counts the 本税 of payments and of executed 充当; a proposed one is not yet a payment to certify.
TAX_CERTIFICATE = f"""
WITH as_of AS (
    SELECT as_of, year(as_of) - CASE WHEN month(as_of) < 4 THEN 1 ELSE 0 END AS fiscal_year FROM about
),
paid AS (
    SELECT receivable_id, sum(principal_applied) AS paid FROM applications GROUP BY receivable_id
    UNION ALL
    SELECT receivable_id, sum(principal_offset) FROM offsets WHERE status = '{OffsetStatus.EXECUTED.value}' GROUP BY receivable_id
),
owed AS (
    SELECT
        receivables.taxpayer_id,
        receivables.tax_code,
        receivables.fiscal_year,
        receivables.principal,
        coalesce((SELECT sum(paid.paid) FROM paid WHERE paid.receivable_id = receivables.receivable_id), 0) AS paid
    FROM receivables, as_of
    WHERE receivables.fiscal_year BETWEEN as_of.fiscal_year - 2 AND as_of.fiscal_year
)
SELECT
    taxpayer_id,
    tax_code,
    {_named("tax_code", "owed.tax_code")} AS tax_name,
    fiscal_year,
    sum(principal)::BIGINT AS assessed,
    sum(least(paid, principal))::BIGINT AS paid,
    sum(principal - least(paid, principal))::BIGINT AS unpaid,
    sum(principal - least(paid, principal)) = 0 AS fully_paid,
    (SELECT as_of FROM as_of) AS as_of
FROM owed
GROUP BY taxpayer_id, tax_code, fiscal_year
"""

DECISIONS_BY_KIND = """
SELECT
    kind,
    count(*) AS decision_count,
    count(*) FILTER (WHERE in_effect) AS in_effect_count,
    count(*) FILTER (WHERE revoked_by IS NOT NULL) AS revoked_count,
    sum(moved_yen) FILTER (WHERE in_effect)::BIGINT AS moved_yen,
    min(decided_on) AS first_decided_on,
    max(decided_on) AS last_decided_on
FROM decisions
GROUP BY kind
"""

ANALYST_VIEWS = (
    AnalystView(
        "collection_rate",
        "収納率 (会計年度・税目・現年/滞繰別, 最新の処理対象日時点, history から)",
        COLLECTION_RATE,
        (
            ("fiscal_year", "会計年度"),
            ("tax_code", "税目コード"),
            ("tax_name", "税目名"),
            ("current_or_arrears", coded_comment("", ReceiptYearClass)),
            ("assessed", "調定額 (円, 本税)"),
            ("collected", "収入額 (円, 本税)"),
            ("rate", "収納率 (%, 収入額 ÷ 調定額, 小数2桁)"),
            ("as_of", "基準日"),
        ),
    ),
    AnalystView(
        "double_payments",
        "二重納付 (消込済みの納付が2件以上あり, 合計が納付すべき額を超えた調定)",
        DOUBLE_PAYMENTS,
        (
            ("receivable_id", "調定番号"),
            ("tax_code", "税目コード"),
            ("tax_name", "税目名"),
            ("fiscal_year", "調定年度"),
            ("payments", "納付件数"),
            ("paid_total", "今回支払金額合計の合計 (円)"),
            ("overpaid_amount", "過誤納額 (円)"),
            ("channels", f"チャネル区分 (仮登録は {PROVISIONAL_CHANNEL}: チャネル区分の項目がない)"),
            ("channel_names", "チャネル名"),
        ),
    ),
    AnalystView(
        "tax_certificate",
        "納税証明 (義務者・税目・調定年度別, 基準日の年度と前2年度: 調定額・納付済額・未納額)",
        TAX_CERTIFICATE,
        (
            ("taxpayer_id", "義務者住民コード"),
            ("tax_code", "税目コード"),
            ("tax_name", "税目名"),
            ("fiscal_year", "調定年度"),
            ("assessed", "調定額 (円, 本税)"),
            ("paid", "納付済額 (円, 本税: 納付と執行済みの充当)"),
            ("unpaid", "未納額 (円, 本税)"),
            ("fully_paid", "完納"),
            ("as_of", "基準日"),
        ),
    ),
    AnalystView(
        "offsets_pending",
        "未執行の充当案 (充当先つき): 滞納額は充当案を差し引いて計上するため, ここで確認する",
        OFFSETS_PENDING,
        (
            ("candidate_id", "還付・充当候補 ID"),
            ("receivable_id", "充当先の調定番号"),
            ("taxpayer_id", "義務者住民コード"),
            ("tax_code", "充当先の税目コード"),
            ("tax_name", "充当先の税目名"),
            ("fiscal_year", "充当先の調定年度"),
            ("principal_offset", "本税への充当額 (円)"),
            ("dunning_fee_offset", "督促手数料への充当額 (円)"),
            ("late_fee_offset", "延滞金への充当額 (円)"),
            ("offset_total", "充当額の合計 (円)"),
            ("offset_on", "充当適状日"),
        ),
    ),
    AnalystView(
        "decisions_by_kind",
        "職員の決定の種類別集計 (件数・有効件数・取消件数・動かした金額)",
        DECISIONS_BY_KIND,
        (
            ("kind", coded_comment("決定の種類", DecisionKind)),
            ("decision_count", "決定件数"),
            ("in_effect_count", "今回の再計算で効力を持った件数"),
            ("revoked_count", "取り消された件数"),
            ("moved_yen", "効力を持った決定が動かした金額 (円)"),
            ("first_decided_on", "最も早い効力日"),
            ("last_decided_on", "最も遅い効力日"),
        ),
    ),
    AnalystView(
        "arrears_by_tax_code_and_aging",
        "滞納の税目別・経過月数別集計 (納期限から満月数: 1か月未満 / 1〜3か月 / 3〜12か月 / 12か月以上)",
        ARREARS_BY_TAX_CODE_AND_AGING,
        (
            ("tax_code", "税目コード"),
            ("tax_name", "税目名"),
            ("aging_order", "経過区分の並び順 (1〜4)"),
            (
                "aging_bucket",
                "経過区分 (<1: 1か月未満, 1-3: 1か月以上3か月未満, 3-12: 3か月以上12か月未満, 12+: 12か月以上)",
            ),
            ("receivable_count", "調定件数"),
            ("taxpayer_count", "義務者数"),
            ("principal_outstanding", "本税未納額 (円)"),
            ("dunning_fee_outstanding", "督促手数料未納額 (円)"),
            ("late_fee", "延滞金未納額 (円, 見込と確定の合計)"),
            ("dunning_due_count", "督促状の発付が必要な件数"),
            ("min_days_overdue", "最短経過日数"),
            ("max_days_overdue", "最長経過日数"),
            ("as_of", "基準日"),
        ),
    ),
    AnalystView(
        "receipts_by_day_and_channel",
        "収納日計 (消込済みの納付の納付日・入金日・チャネル区分別の件数と金額)",
        RECEIPTS_BY_DAY_AND_CHANNEL,
        (
            ("paid_on", "納付年月日"),
            ("deposited_on", "入金年月日 (確報未着は空)"),
            ("fiscal_year", "会計年度 (納付の属する年度, 出納整理期間の前年度以前の調定分は前年度)"),
            ("channel_class", "チャネル区分 (仮登録からの移行分は空)"),
            ("channel_name", f"チャネル名 (仮登録は {PROVISIONAL_CHANNEL_NAME})"),
            ("payment_count", "納付件数"),
            ("paid_total", "今回支払金額合計 (円)"),
            ("principal_applied", "本税への充当額 (円)"),
            ("dunning_fee_applied", "督促手数料への充当額 (円)"),
            ("late_fee_applied", "延滞金への充当額 (円)"),
            ("overpaid_amount", "過誤納額 (円)"),
        ),
    ),
    AnalystView(
        "refund_candidates_by_kind",
        "還付・充当候補の種別 (過納 / 誤納) 別集計",
        REFUND_CANDIDATES_BY_KIND,
        (
            ("kind", coded_comment("", RefundKind)),
            ("candidate_count", "候補件数"),
            ("taxpayer_count", "義務者数"),
            ("overpaid_amount", "過誤納額 (円)"),
            ("offset_amount", "充当額 (円)"),
            ("refund_amount", "還付額 (円)"),
            ("refund_interest", "還付額の還付加算金 (円)"),
            ("offset_interest", "充当額の還付加算金 (円)"),
            ("expired_count", "時効経過の件数"),
            ("next_expires_on", "時効未経過の候補で最も早い時効日"),
            ("as_of", "基準日"),
        ),
    ),
    AnalystView(
        "pending_payments_by_error_class",
        "未消込の納付 (pending / held) のエラー区分別集計",
        PENDING_PAYMENTS_BY_ERROR_CLASS,
        (
            ("status", coded_comment("", AWAITING_STAFF)),
            ("error_class", coded_comment("エラー区分", (code for code in ErrorClass if code is not ErrorClass.APPLIED))),
            ("payment_count", "納付件数"),
            ("paid_total", "今回支払金額合計 (円)"),
            ("oldest_paid_on", "最も古い納付年月日"),
            ("first_seen_on", "最も早い初回受信の処理対象日"),
            ("unconfirmed_count", "納付日から5営業日を過ぎても確報なしの件数"),
        ),
    ),
)
