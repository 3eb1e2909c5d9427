"""The code lists of SPEC.md §5, and the states shuno writes (payment status, エラー区分, 延滞金, 過誤納), as data.

Fields whose code decides what a record means (領収区分, 納付金区分) reject a record with an unknown
value; the others only warn, because real money is never turned away for a code the spec has not
heard of yet (SPEC §1).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class LabelledCode(StrEnum):
    """A code list: each member's value is the code stored, its `label` what the code means."""

    label: str

    def __new__(cls, value: str, label: str) -> LabelledCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


def code_labels(codes: type[LabelledCode]) -> dict[str, str]:
    """code → label of every member of a code list."""
    return {member.value: member.label for member in codes}


def coded_comment(name: str, codes: Iterable[LabelledCode]) -> str:
    """The COMMENT of a column of codes (a code list, or some of its members), listing them.

    Numbered codes follow the field's name: `納付金区分 (01 本税等, 02 延滞金のみ, …)`; codes that
    are words say what they are themselves: `見込 (本税未納) / 確定 (本税完納)`.
    """
    members = list(codes)
    if all(member.value.isdigit() for member in members):
        return f"{name} ({', '.join(f'{member.value} {member.label}' for member in members)})"
    return " / ".join(f"{member.value} ({member.label})" for member in members)


class PaymentClass(LabelledCode):
    """納付金区分 (SPEC §5)."""

    PRINCIPAL = "01", "本税等"
    LATE_FEE_ONLY = "02", "延滞金のみ"
    DUNNING_FEE_ONLY = "03", "督促手数料のみ"


class ReceiptClass(LabelledCode):
    """領収区分 (SPEC §5): a 取消 reverses the payment with the same (共通納税ID, 連番)."""

    RECEIPT = "1", "領収"
    CANCELLATION = "2", "取消"


class PaymentStatus(LabelledCode):
    """The state of a payment in the `payments` table (CONTRACT.md, SPEC §2–§3)."""

    APPLIED = "applied", "消込済"
    PENDING = "pending", "未消込・毎回再照合"
    HELD = "held", "保留・速報と確報が不一致"
    REVERSED = "reversed", "取消済"
    NOT_COMPLETED = "not_completed", "未完了・レスポンスコードが 0000 以外"
    WITHDRAWN = "withdrawn", "送信者による削除・次回削除フラグ"
    RETURNED = "returned", "返還 (市の調定に属さない納付, 職員の決定)"


class ErrorClass(LabelledCode):
    """エラー区分 of a payment's 仮登録 record (SPEC §3)."""

    APPLIED = "00", "消込済"
    NOT_LINKED = "10", "未紐付"
    NO_RECEIVABLE = "20", "調定なし"
    NO_MANAGEMENT = "30", "管理なし"
    CONFLICT = "40", "不一致"
    UNKNOWN_CANCELLATION = "50", "不明な取消"
    OTHER = "90", "その他"


class LateFeeStatus(LabelledCode):
    """How an arrear's 延滞金 stands (SPEC §4.1)."""

    ESTIMATED = "見込", "本税未納"
    FIXED = "確定", "本税完納"


class RefundKind(LabelledCode):
    """The kind of an overpayment (過誤納金, SPEC §4.2)."""

    EXCESS = "過納", "適法な納付の後の減額"
    ERRONEOUS = "誤納", "納付の時から納める理由なし"


class PaymentScheme(LabelledCode):
    """納付方式 of a payment-file record (SPEC §5)."""

    MPN = "01", "MPN"
    EL_QR = "02", "eL-QR"
    DIRECT = "03", "ダイレクト"


class RegistrationClass(LabelledCode):
    """登録区分 of a 紐付履歴 record (SPEC §5): 9 dissolves the link it names."""

    REGISTERED = "1", "登録"
    CHANGED = "2", "変更"
    DISSOLVED = "9", "解除"


class DeleteFlag(LabelledCode):
    """次回削除フラグ of a 仮登録 record (SPEC §2): 1 is the sender withdrawing the payment."""

    NORMAL = "0", "通常"
    DELETE_NEXT_RUN = "1", "次回削除"


class PaymentFileClass(LabelledCode):
    """ファイル種別 of a payment file's header (SPEC §1.1): the 入金日 file (確報) or the 納付日 file (速報)."""

    BY_DEPOSIT_DATE = "01", "入金日"
    BY_PAYMENT_DATE = "02", "納付日"


class PaymentSource(LabelledCode):
    """Where a payment was delivered from."""

    PAYMENT_FILE = "payment_file", "納付情報ファイル"
    PROVISIONAL = "provisional", "仮登録データ"


class FileStatus(LabelledCode):
    """What became of a file seen in the inbox (`ingested_files.status`, CONTRACT)."""

    LOADED = "loaded", "取込済"
    REJECTED = "rejected", "全体不受理"
    DUPLICATE = "duplicate", "同一内容の重複"
    UNRECOGNISED = "unrecognised", "対象外のファイル名"
    UNREADABLE = "unreadable", "読めない (通常のファイルでない・権限なし)"
    HELD = "held", "保留 (調定スナップショットが大きく減少: 承認まで不使用)"


class MatchedBy(LabelledCode):
    """How an applied payment found its receivable (`payments.matched_by`): a route of SPEC §3, or a decision (§6)."""

    ROUTE_1 = "route1", "経路1 (納付番号・確認番号)"
    ROUTE_2 = "route2", "経路2 (管理・紐付履歴・申告受付番号)"
    ROUTE_3 = "route3", "経路3 (仮登録: 通知書番号・期別)"
    DECISION = "decision", "職員の決定 (手動消込)"


class DecisionKind(LabelledCode):
    """The kinds of the office's decisions (SPEC §6)."""

    MATCH = "match", "手動消込"
    RESOLVE = "resolve", "不一致の解決 (採用する受信記録)"
    RETURN = "return", "返還 (市の調定に属さない納付)"
    REFUNDED = "refunded", "還付済 (支出決定日)"
    OFFSET = "offset", "充当の執行"
    EXEMPT = "exempt", "延滞金の減免期間"
    REVOKE = "revoke", "決定の取消"
    ACCEPT_SNAPSHOT = "accept-snapshot", "保留された調定スナップショットの承認"


class CandidateStatus(LabelledCode):
    """Where a refund candidate stands (`refund_candidates.status`, SPEC §6)."""

    OPEN = "open", "未処理 (還付・充当の対象)"
    OFFSET = "offset", "充当済 (還付額なし)"
    REFUNDED = "refunded", "還付済"
    EXPIRED = "expired", "時効"


class OffsetStatus(LabelledCode):
    """Whether a 充当 was executed by a decision (`offsets.status`, SPEC §6)."""

    PROPOSED = "proposed", "充当案 (未執行)"
    EXECUTED = "executed", "執行済"


class SuggestionReason(LabelledCode):
    """Why the work queue suggests a receivable for a waiting payment (SPEC §6.2), the strongest reason first."""

    REISSUED_NUMBERS = "reissued_numbers", "再発行前の納付番号・確認番号 (調定の以前の世代に一致)"
    FILING_NUMBER = "filing_number", "未紐付の納税者の申告受付番号 (管理レコード)"
    SAME_PRINCIPAL = "same_principal", "未納本税が支払本税と同額 (税目・期別は納付にあれば一致)"


class ReceiptYearClass(LabelledCode):
    """現年/滞繰 of a receipt: whether its receivable's 調定年度 is the receipt's 会計年度 (CONTRACT v2)."""

    CURRENT = "現年", "現年度分 (調定年度 = 会計年度)"
    ARREARS = "滞繰", "滞納繰越分 (調定年度 < 会計年度)"


class DeliveryStatus(LabelledCode):
    """How an expected delivery of one kind and business day stands (`deliveries.status`, SPEC §7)."""

    RECEIVED = "received", "受信済"
    REJECTED = "rejected", "不受理 (届いたファイルがどれも取り込めない)"
    MISSING = "missing", "未着 (ファイルなし, または配信番号の欠番)"


class ReconciliationStatus(LabelledCode):
    """How the bank's credit of one 入金日 compares with the payments delivered for it (`deposit_reconciliation.status`, SPEC §7)."""

    MATCHED = "matched", "一致"
    DIFFERS = "differs", "差額あり"
    NO_CREDIT = "no_credit", "入金報告なし (納付データのみ)"
    NO_DELIVERY = "no_delivery", "納付データなし (入金報告のみ: ファイル未着)"


class RunStatus(LabelledCode):
    """How a run ended (`runs.status`; `audit_log.outcome` adds `refused`)."""

    COMPLETED = "completed", "完了"
    FAILED = "failed", "失敗 (変更なし)"
    VOIDED = "voided", "取消 (shuno void: 入力を取り下げ, 再実行で復元)"


TAX_CODES = {
    "010": "個人市民税・都民税 普通徴収",
    "020": "個人市民税・都民税 特別徴収",
    "030": "法人市民税",
    "040": "固定資産税・都市計画税",
    "050": "軽自動車税 種別割",
    "060": "国民健康保険税",
    "070": "退職所得 分離課税",
}
INSTALLMENTS_BY_TAX_CODE = {
    "010": [f"{n:02d}" for n in range(1, 5)],
    "020": [f"{n:02d}" for n in range(1, 13)],
    "030": ["00"],
    "040": [f"{n:02d}" for n in range(1, 5)],
    "050": ["01"],
    "060": [f"{n:02d}" for n in range(1, 9)],
    "070": [f"{n:02d}" for n in range(1, 13)],
}
TAX_CODE_BY_ELTAX_CLASS = {
    "01": "030",
    "02": "020",
    "03": "070",
    "10": "010",
    "20": "040",
    "30": "050",
    "40": "060",
}
PAYMENT_CLASSES = code_labels(PaymentClass)
RECEIPT_CLASSES = code_labels(ReceiptClass)
REGISTRATION_CLASSES = code_labels(RegistrationClass)
CHANNEL_CLASSES = {
    "01": "ATM",
    "02": "インターネットバンキング",
    "03": "モバイルバンキング",
    "04": "金融機関窓口",
    "05": "スマホ決済",
    "06": "クレジットカード",
    "07": "ダイレクト納付",
    "08": "コンビニ",
}
PAYMENT_METHODS = {"01": "現金", "02": "口座引落", "03": "クレジット", "04": "電子マネー"}
PAYMENT_SCHEMES = code_labels(PaymentScheme)
AMOUNT_CLASSES = {"1": "本税", "2": "延滞金", "3": "督促手数料", "4": "加算金"}

RECORD_TYPE_HEADER, RECORD_TYPE_DATA, RECORD_TYPE_TRAILER, RECORD_TYPE_END = "1", "2", "8", "9"
RESPONSE_CODE_NORMAL = "0000"
COLLECTOR_CHECK_WEIGHTS = (6, 5, 4, 3, 2)
