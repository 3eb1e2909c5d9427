"""Every payment as a 仮登録 record, the 50-field shape (SPEC §3).

A delivered 仮登録 record keeps what its sender said, except エラー区分, which is shuno's. A
payment-file payment gets a built row: each field from the payment, its 管理 record, the link or
the receivable it was applied to; a field none of them gives is blank (null), or zero for a
number. Its dates are settlement dates (first and last file date the payment was seen on), never
the clock, so a re-run writes the same row; its 会計年度 is the receipt's, by the rule
`applications` uses (transforms/fiscal_year.py).
"""

from __future__ import annotations

from functools import cache

import polars as pl

from schemas.codes import TAX_CODE_BY_ELTAX_CLASS, DeleteFlag, PaymentSource
from schemas.tables import derived_tables
from transforms.fiscal_year import receipt_fiscal_year
from transforms.payments import DELIVERED_RECORD, KEY

RECEIVABLE_FIELDS = ["tax_code", "fiscal_year", "tax_year", "notice_number", "installment", "taxpayer_id", "filing_receipt_number"]


@cache
def provisional_schema() -> pl.Schema:
    """The polars schema of the `provisional_payments` table: payment_key and the 50 fields."""
    return next(table for table in derived_tables() if table.name == "provisional_payments").polars_schema


def provisional_payments(matched: pl.DataFrame, receivable_versions: pl.DataFrame) -> pl.DataFrame:
    """One 仮登録 row per payment: built ones first, then delivered ones as delivered with shuno's エラー区分."""
    delivered = pl.col("source") == PaymentSource.PROVISIONAL
    return pl.concat([_built_rows(matched.filter(~delivered), receivable_versions), _delivered_rows(matched.filter(delivered))])


def _delivered_rows(delivered: pl.DataFrame) -> pl.DataFrame:
    """Delivered 仮登録 payments as their sender's record, with shuno's エラー区分 (SPEC §2: the sender's is ignored)."""
    records = delivered.select(KEY, pl.col(DELIVERED_RECORD).list.first().struct.unnest())
    return records.with_columns(delivered["error_class"]).select(pl.col(name).cast(dtype) for name, dtype in provisional_schema().items())


def _built_rows(payments: pl.DataFrame, receivable_versions: pl.DataFrame) -> pl.DataFrame:
    """Payment-file payments as 仮登録 rows built from the payment, its 管理 record, its link and its receivable."""
    receivables = receivable_versions.select("receivable_id", *RECEIVABLE_FIELDS).rename(
        {name: f"receivable_{name}" for name in RECEIVABLE_FIELDS}
    )
    # Joined on the receivable id alone, then set beside the payments: the wide rows never move.
    found = payments.select("receivable_id").join(receivables, on="receivable_id", how="left", validate="m:1", maintain_order="left")
    joined = pl.concat([payments, found.drop("receivable_id")], how="horizontal")
    sources = _built_fields()
    fields = [_built_field(sources.get(name), dtype).alias(name) for name, dtype in provisional_schema().items() if name != KEY]
    return joined.select(KEY, *fields)


def _built_field(source: pl.Expr | None, dtype: pl.DataType) -> pl.Expr:
    """One field of a built row; SPEC §3: a field with no source is blank, or zero for a number."""
    value = pl.lit(None).cast(dtype) if source is None else source.cast(dtype)
    return value.fill_null(0) if dtype == pl.Int64 else value


def _built_fields() -> dict[str, pl.Expr]:
    """How a built 仮登録 row fills its fields from a matched payment (fields not named here have no source)."""
    same = [
        "common_tax_id", "sequence_number", "eltax_taxpayer_id", "filing_received_on", "eltax_tax_class",
        "estimated_payment_flag", "period_from", "corporate_number", "payer_name", "payer_address",
        "collector_number", "confirmation_number", "payment_number", "paid_principal", "paid_late_fee",
        "paid_dunning_fee", "paid_additional_charge", "deposited_on", "paid_on", "collector_code",
        "tax_fee_number", "filing_period_code", "payment_class", "paid_total", "error_class",
    ]  # fmt: skip
    eltax_tax_code = pl.col("eltax_tax_class").replace_strict(TAX_CODE_BY_ELTAX_CLASS, default=None, return_dtype=pl.String)
    return {name: pl.col(name) for name in same} | {
        "payment_info_sequence": pl.col("management_payment_info_sequence"),
        "filing_class": pl.col("eltax_filing_class"),
        "filing_receipt_number": pl.coalesce("filing_receipt_number", "receivable_filing_receipt_number"),
        "tax_code": pl.coalesce("receivable_tax_code", eltax_tax_code),
        "tax_year": pl.col("receivable_tax_year"),
        "notice_number": pl.col("receivable_notice_number"),
        "installment": pl.col("receivable_installment"),
        "taxpayer_id": pl.coalesce("receivable_taxpayer_id", "specific_key_1"),
        # MPN 納付区分 = 税目・料金番号 (3 digits) + 申告区分・課税期間.
        "payment_category": pl.format(
            "{}{}", pl.col("tax_fee_number").cast(pl.String).str.zfill(3), pl.col("filing_period_code").fill_null("")
        ),
        # The 会計年度 of the receipt as `applications` gives it (出納整理期間 included); a payment
        # applied to nothing takes the fiscal year of its 納付日.
        "fiscal_year": receipt_fiscal_year(pl.col("paid_on"), pl.col("receivable_fiscal_year"))[0],
        "specific_key_1": pl.coalesce("specific_key_1", "management_specific_key_1"),
        "delete_next_run_flag": pl.lit(DeleteFlag.NORMAL),
        "created_on": pl.col("first_seen_on"),
        "updated_on": pl.col("last_seen_on"),
    }
