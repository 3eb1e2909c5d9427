"""The code lists of SPEC.md §5, as data.

Fields whose code decides what a record means (領収区分, 納付金区分) reject a record with an unknown
value; the others only warn, because real money is never turned away for a code the spec has not
heard of yet (SPEC §1).
"""

from __future__ import annotations

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
PAYMENT_CLASSES = {"01": "本税等", "02": "延滞金のみ", "03": "督促手数料のみ"}
RECEIPT_CLASSES = {"1": "領収", "2": "取消"}
REGISTRATION_CLASSES = {"1": "登録", "2": "変更", "9": "解除"}
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
PAYMENT_SCHEMES = {"01": "MPN", "02": "eL-QR", "03": "ダイレクト"}
AMOUNT_CLASSES = {"1": "本税", "2": "延滞金", "3": "督促手数料", "4": "加算金"}
DELETE_FLAGS = {"0": "通常", "1": "次回削除"}
PAYMENT_FILE_CLASSES = {"01": "入金日", "02": "納付日"}

RECORD_TYPE_HEADER, RECORD_TYPE_DATA, RECORD_TYPE_TRAILER, RECORD_TYPE_END = "1", "2", "8", "9"
RESPONSE_CODE_NORMAL = "0000"
COLLECTOR_CHECK_WEIGHTS = (6, 5, 4, 3, 2)
