"""pandera models (polars backend) of the four record layouts, built from the layout tables.

Every column comes from the layout: its dtype from the field's type and format, its description
from the Japanese field name. The value checks are the ones SPEC.md §1 says make a record
invalid (identity, amounts, dates, 領収区分, 納付金区分, レスポンスコード format, the 収納団体コード
check digit); an unknown value in any other code field is only a warning (`CODE_WARNINGS`).

pandera's failure messages quote the failing values, sometimes whole rows. Callers keep only the
row index, the field and the check name from a failure (see `transforms.validation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas import codes
from schemas.layouts import Layout, LayoutName
from schemas.tables import BANK_CREDIT_COLUMNS, RECEIVABLE_COLUMNS, Column, Table

RECORD_NUMBER = "record_number"
FIRST_DATA_SEQUENCE, LAST_DATA_SEQUENCE = 1, 999_997


@dataclass(frozen=True)
class RecordRule:
    """A rule over whole records: `sound` is True for a record that keeps it; `field` is blamed."""

    name: str
    field: str
    sound: pl.Expr

    @property
    def kept(self) -> pl.Expr:
        """True for a record that keeps the rule; a null verdict (a value missing) breaks it."""
        return self.sound.fill_null(False)


def collector_code_is_valid(code: pl.Expr) -> pl.Expr:
    """True where a six-digit 収納団体コード carries its mod-11 check digit (SPEC §5)."""
    weighted = sum(
        (code // 10 ** (5 - position) % 10) * weight
        for position, weight in enumerate(codes.COLLECTOR_CHECK_WEIGHTS)
    )
    return (code > 0) & ((11 - weighted % 11) % 10 == code % 10)


def is_collector_code(code: int) -> bool:
    """True for a six-digit 収納団体コード that carries its check digit (SPEC §5)."""
    return 0 < code < 10**6 and pl.select(collector_code_is_valid(pl.lit(code, pl.Int64))).item()


def _sum_equals(total: str, parts: list[str]) -> pl.Expr:
    return pl.col(total) == pl.sum_horizontal(pl.col(part) for part in parts)


def _payment_rules() -> list[RecordRule]:
    return [
        RecordRule("共通納税ID is blank", "common_tax_id", pl.col("common_tax_id").is_not_null()),
        RecordRule(
            "連番 is not a data record's (000001–999997)",
            "sequence_number",
            pl.col("sequence_number").is_between(FIRST_DATA_SEQUENCE, LAST_DATA_SEQUENCE),
        ),
        RecordRule("データ区分 is not 2 (data)", "record_type", pl.col("record_type") == codes.RECORD_TYPE_DATA),
        RecordRule("check digit is wrong", "collector_code", collector_code_is_valid(pl.col("collector_code"))),
        RecordRule("unknown 領収区分", "receipt_class", pl.col("receipt_class").is_in(list(codes.RECEIPT_CLASSES))),
        RecordRule("unknown 納付金区分", "payment_class", pl.col("payment_class").is_in(list(codes.PAYMENT_CLASSES))),
        RecordRule(
            "レスポンスコード is not four digits", "response_code", pl.col("response_code").str.contains(r"^\d{4}$").fill_null(False)
        ),
        RecordRule("納付年月日 is missing", "paid_on", pl.col("paid_on").is_not_null()),
        RecordRule(
            "今回支払金額合計 ≠ 支払納付額 + 支払延滞金額 + 支払消費税",
            "paid_total",
            _sum_equals("paid_total", ["paid_principal", "paid_late_fee", "paid_consumption_tax"]),
        ),
        RecordRule(
            "今回請求金額合計 ≠ 請求本体金額 + 請求固定延滞金額 + 請求消費税",
            "billed_total",
            _sum_equals("billed_total", ["billed_principal", "billed_late_fee", "billed_consumption_tax"]),
        ),
    ]


def _provisional_rules() -> list[RecordRule]:
    has_common_tax_id = pl.col("common_tax_id").is_not_null()
    return [
        RecordRule(
            "neither 共通納税ID nor 納付情報シーケンス identifies the record",
            "payment_info_sequence",
            has_common_tax_id | (pl.col("payment_info_sequence") > 0),
        ),
        RecordRule(
            "連番 is 0 beside a 共通納税ID", "sequence_number", ~has_common_tax_id | (pl.col("sequence_number") > 0)
        ),
        RecordRule("check digit is wrong", "collector_code", collector_code_is_valid(pl.col("collector_code"))),
        RecordRule("unknown 納付金区分", "payment_class", pl.col("payment_class").is_in(list(codes.PAYMENT_CLASSES))),
        RecordRule("領収日 is missing", "paid_on", pl.col("paid_on").is_not_null()),
        RecordRule(
            "今回支払金額合計 ≠ 納付額 + 納付延滞金 + 納付督促手数料 + 納付加算金",
            "paid_total",
            _sum_equals("paid_total", ["paid_principal", "paid_late_fee", "paid_dunning_fee", "paid_additional_charge"]),
        ),
    ]


def _management_rules() -> list[RecordRule]:
    amounts = [f"amount_{index}" for index in range(1, 16)]
    return [
        RecordRule("共通納税ID is blank", "common_tax_id", pl.col("common_tax_id").is_not_null()),
        RecordRule("連番 is 0", "sequence_number", pl.col("sequence_number") > 0),
        RecordRule(
            "check digit is wrong", "local_government_code", collector_code_is_valid(pl.col("local_government_code"))
        ),
        RecordRule("納税者ID is blank", "eltax_taxpayer_id", pl.col("eltax_taxpayer_id").is_not_null()),
        RecordRule(
            "Σ 金額1..15 ≠ 本税等合計額 + 延滞金合計額",
            "amount_1",
            pl.sum_horizontal(pl.col(name) for name in amounts)
            == pl.col("principal_total") + pl.col("late_fee_total"),
        ),
    ]


def _link_history_rules() -> list[RecordRule]:
    return [
        RecordRule("納税者ID is blank", "eltax_taxpayer_id", pl.col("eltax_taxpayer_id").is_not_null()),
        RecordRule("税目区分 is blank", "eltax_tax_class", pl.col("eltax_tax_class").is_not_null()),
        RecordRule("特定キー1 is blank", "specific_key_1", pl.col("specific_key_1").is_not_null()),
        RecordRule("利用者情報更新日時 is missing", "linked_at", pl.col("linked_at").is_not_null()),
        RecordRule(
            "check digit is wrong", "local_government_code", collector_code_is_valid(pl.col("local_government_code"))
        ),
    ]


RECORD_RULES = {
    LayoutName.PAYMENT: _payment_rules,
    LayoutName.PROVISIONAL: _provisional_rules,
    LayoutName.MANAGEMENT: _management_rules,
    LayoutName.LINK_HISTORY: _link_history_rules,
}

CODE_WARNINGS: dict[LayoutName, dict[str, dict[str, str]]] = {
    LayoutName.PAYMENT: {
        "channel_class": codes.CHANNEL_CLASSES,
        "payment_method": codes.PAYMENT_METHODS,
        "payment_scheme": codes.PAYMENT_SCHEMES,
    },
    LayoutName.PROVISIONAL: {"tax_code": codes.TAX_CODES, "eltax_tax_class": codes.TAX_CODE_BY_ELTAX_CLASS},
    LayoutName.MANAGEMENT: {
        "eltax_tax_class": codes.TAX_CODE_BY_ELTAX_CLASS,
        **{f"amount_class_{index}": codes.AMOUNT_CLASSES for index in range(1, 16)},
    },
    LayoutName.LINK_HISTORY: {
        "eltax_tax_class": codes.TAX_CODE_BY_ELTAX_CLASS,
        "registration_class": codes.REGISTRATION_CLASSES,
    },
}


def record_rules(name: LayoutName) -> list[RecordRule]:
    """The value rules that make a record of layout `name` invalid."""
    return RECORD_RULES[LayoutName(name)]()


def record_schema(layout: Layout) -> pa.DataFrameSchema:
    """The strict pandera schema of a parsed record frame of `layout`, every column described."""
    columns = {
        RECORD_NUMBER: pa.Column(pl.Int64, nullable=False, description="レコード番号 (ファイル内の位置)"),
        **{
            field.name: pa.Column(field.polars_dtype, nullable=True, description=field.name_ja)
            for field in layout.fields
        },
    }
    checks = [_frame_check(rule) for rule in record_rules(LayoutName(layout.name))]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, ordered=True, name=layout.name)


def _frame_check(rule: RecordRule) -> pa.Check:
    kept = rule.kept
    return pa.Check(lambda data: data.lazyframe.select(kept), name=rule.name)


def _receivable_rules() -> list[RecordRule]:
    return [
        RecordRule("調定番号 is blank", "receivable_id", pl.col("receivable_id").is_not_null()),
        RecordRule(
            "調定番号 repeats an earlier row", "receivable_id", ~pl.col("receivable_id").is_duplicated() | (pl.col("receivable_id").cum_count().over("receivable_id") == 1)
        ),
        RecordRule("義務者住民コード is blank", "taxpayer_id", pl.col("taxpayer_id").is_not_null()),
        RecordRule("税目コード is blank", "tax_code", pl.col("tax_code").is_not_null()),
        RecordRule("期別 is not 00–12", "installment", pl.col("installment").is_in([f"{n:02d}" for n in range(13)])),
        RecordRule("納期限 is missing", "due_date", pl.col("due_date").is_not_null()),
        RecordRule("本税 is missing or negative", "principal", pl.col("principal") >= 0),
        RecordRule("督促手数料 is negative", "dunning_fee", pl.col("dunning_fee") >= 0),
    ]


def receivable_schema() -> pa.DataFrameSchema:
    """The strict pandera schema of a typed receivables snapshot (CONTRACT.md columns)."""
    return _csv_schema("receivables", RECEIVABLE_COLUMNS, _receivable_rules())


def receivable_rules() -> list[RecordRule]:
    """The rules a receivables snapshot row must keep."""
    return _receivable_rules()


def bank_credit_rules() -> list[RecordRule]:
    """The rules a row of the bank's credits (GINKO CSV, CONTRACT v2) must keep."""
    return [
        RecordRule("入金日 is missing", "deposited_on", pl.col("deposited_on").is_not_null()),
        RecordRule("入金日 repeats an earlier row", "deposited_on", pl.col("deposited_on").cum_count().over("deposited_on") == 1),
        RecordRule("入金額 is missing or negative", "amount", pl.col("amount") >= 0),
        RecordRule("件数 is negative", "count", pl.col("count").is_null() | (pl.col("count") >= 0)),
    ]


def bank_credit_schema() -> pa.DataFrameSchema:
    """The strict pandera schema of the typed rows of the bank's credits (CONTRACT v2 columns)."""
    return _csv_schema("bank_credits", BANK_CREDIT_COLUMNS, bank_credit_rules())


def _csv_schema(name: str, table_columns: tuple[Column, ...], rules: list[RecordRule]) -> pa.DataFrameSchema:
    """The strict pandera schema of a typed CSV input: its line number, then its columns, each described, and its rules."""
    columns = {RECORD_NUMBER: pa.Column(pl.Int64, nullable=False, description="行番号 (見出し行が 1)")}
    schema = Table(name, "", table_columns).polars_schema
    columns |= {column.name: pa.Column(schema[column.name], nullable=True, description=column.comment) for column in table_columns}
    checks = [_frame_check(rule) for rule in rules]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, ordered=True, name=name)
