"""The money that reached the bank (SPEC §7): the bank's credits per 入金日, and their reconciliation with the payments delivered.

日計 that do not agree with what the 指定金融機関 credited are the other common public correction
in this field: a day's payments partly never imported shows here as a credit above its deliveries.
"""

from __future__ import annotations

import polars as pl

from schemas.codes import RESPONSE_CODE_NORMAL, ReceiptClass, ReconciliationStatus
from schemas.models import bank_credit_rules, bank_credit_schema
from schemas.tables import BANK_CREDIT_COLUMNS, Table
from transforms.csv_rows import CheckedRows, checked_rows
from transforms.ledger import conformed
from transforms.payments import CONFIRMED, KEY, SIGHTING_ORDER

BANK_CREDIT_SCHEMA = Table("bank_credits", "", BANK_CREDIT_COLUMNS).polars_schema
CREDIT_ORDER = ["file_date", "delivery_number", "record_number"]


def bank_credit_rows(data: bytes) -> CheckedRows:
    """The bank's credits (GINKO CSV, CONTRACT v2) in `data`, every row checked like a receivables snapshot's."""
    return checked_rows(data, BANK_CREDIT_SCHEMA, bank_credit_schema(), bank_credit_rules())


def delivered_amounts(sightings: pl.DataFrame) -> pl.DataFrame:
    """deposited_on and delivered_amount: per 入金日, the 領収 of the 入金日 files (payment and 仮登録) less their 取消, each payment once.

    Every completed record counts, whatever became of its payment (held, pending, applied): the
    bank credited the money before shuno matched it. A re-delivered record is the same money: a
    payment's 領収 or 取消 counts once per 履歴番号, from its first delivery.
    """
    confirmed = sightings.filter(
        (pl.col("sighting") == CONFIRMED) & (pl.col("response_code") == RESPONSE_CODE_NORMAL) & pl.col("deposited_on").is_not_null()
    )
    once = confirmed.sort(SIGHTING_ORDER).unique([KEY, "receipt_class", "history_number"], keep="first", maintain_order=True)
    signed = pl.when(pl.col("receipt_class") == ReceiptClass.CANCELLATION).then(-pl.col("paid_total")).otherwise(pl.col("paid_total"))
    return once.group_by("deposited_on").agg(signed.sum().cast(pl.Int64).alias("delivered_amount"))


def credited_amounts(bank_credits: pl.DataFrame) -> pl.DataFrame:
    """deposited_on and credited_amount: per 入金日, what the newest report of the bank says it credited."""
    # A later report of the same 入金日 restates the day (the bank's correction), it is no second credit.
    newest = bank_credits.sort(CREDIT_ORDER).unique("deposited_on", keep="last", maintain_order=True)
    return newest.select("deposited_on", pl.col("amount").alias("credited_amount"))


def deposit_reconciliation(sightings: pl.DataFrame, bank_credits: pl.DataFrame) -> pl.DataFrame:
    """The `deposit_reconciliation` table: per 入金日, the bank's credit against the payments delivered, the difference and the status."""
    return reconciliation(delivered_amounts(sightings), bank_credits)


def reconciliation(delivered: pl.DataFrame, bank_credits: pl.DataFrame) -> pl.DataFrame:
    """The `deposit_reconciliation` table of the `delivered_amounts` of every payment (or of parts of them, summed per 入金日) and the bank's credits."""
    summed = delivered.group_by("deposited_on").agg(pl.col("delivered_amount").sum())
    joined = summed.join(credited_amounts(bank_credits), on="deposited_on", how="full", coalesce=True)
    delivered, credited = pl.col("delivered_amount"), pl.col("credited_amount")
    status = (
        pl.when(credited.is_null())
        .then(pl.lit(ReconciliationStatus.NO_CREDIT.value))
        .when(delivered.is_null())
        .then(pl.lit(ReconciliationStatus.NO_DELIVERY.value))
        .when(credited == delivered)
        .then(pl.lit(ReconciliationStatus.MATCHED.value))
        .otherwise(pl.lit(ReconciliationStatus.DIFFERS.value))
    )
    rows = joined.with_columns(status.alias("status"), delivered.fill_null(0)).with_columns((credited - delivered).alias("difference"))
    return conformed(rows, "deposit_reconciliation").sort("deposited_on")
