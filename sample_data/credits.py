"""The bank's credits of the sample (GINKO CSV, SPEC §7): what the 指定金融機関 says it credited per 入金日.

Each settlement date's file reports the previous business day's credit, equal to the payments
delivered with that 入金日, except on purpose: the credit reported on the second date is 1,000
yen above its deliveries (`differs`), and the first date's file also reports a credit of a
入金日 whose 入金日 file never came (`no_delivery`). The last date's own 入金日 is reported the
day after the sample ends, so it stays `no_credit`.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from sample_data.common import SampleFile, inbox_file_name, previous_business_day
from schemas.codes import RESPONSE_CODE_NORMAL, ReceiptClass
from schemas.inbox import FileKind

CONFIRMATION_KINDS = [FileKind.PAYMENT_BY_DEPOSIT.value, FileKind.PROVISIONAL_BY_DEPOSIT.value]
DIFFERING_DATE_INDEX, CREDIT_DIFFERENCE = 1, 1_000
UNDELIVERED_CREDIT = 483_200  # yen credited on a 入金日 whose payments were never delivered


def bank_credit_files(sightings: pl.DataFrame, dates: tuple[date, ...]) -> list[SampleFile]:
    """One GINKO file per settlement date: the previous business day's credit, and the planted differences."""
    delivered = dict(delivered_by_deposit_date(sightings).iter_rows())
    files = []
    for index, day in enumerate(dates):
        credited_on = previous_business_day(day)
        amount = delivered.get(credited_on, 0) + (CREDIT_DIFFERENCE if index == DIFFERING_DATE_INDEX else 0)
        rows = [(credited_on, amount)]
        if index == 0:
            rows.insert(0, (previous_business_day(credited_on), UNDELIVERED_CREDIT))
        credits = pl.DataFrame(rows, schema={"deposited_on": pl.Date, "amount": pl.Int64}, orient="row")
        files.append(SampleFile(inbox_file_name(FileKind.BANK_CREDITS, day), FileKind.BANK_CREDITS, credits.with_columns(count=pl.lit(None, pl.Int64))))
    return files


def delivered_by_deposit_date(sightings: pl.DataFrame) -> pl.DataFrame:
    """deposited_on and amount: the 領収 less the 取消 of the sample's 入金日 records that load, each payment once."""
    # The sample's 仮登録 records carry no レスポンスコード: every one is a completed payment.
    completed = pl.col("response_code").is_null() | (pl.col("response_code") == RESPONSE_CODE_NORMAL)
    loaded = sightings.filter(pl.col("file_kind").is_in(CONFIRMATION_KINDS) & completed & pl.col("patch").is_null())
    once = loaded.sort("settlement_date").unique(["payment_key", "receipt_class", "history_number"], keep="first")
    paid = pl.col("paid_principal") + pl.col("paid_dunning_fee") + pl.col("paid_late_fee")
    signed = pl.when(pl.col("receipt_class") == ReceiptClass.CANCELLATION).then(-paid).otherwise(paid)
    return once.group_by("deposited_on").agg(signed.sum().alias("amount")).sort("deposited_on")
