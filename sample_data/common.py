"""What the city, the planted cases and the byte anomalies of the sample share: the collector, the
settlement window, the row schemas they fill, the file a sample file is made from, and the
ordinance 納期限 of each tax."""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from schemas import codes
from schemas.inbox import FileKind, InboxName
from transforms.calendar import add_business_days, is_closed_day

COLLECTOR_CODE = 132071
COLLECTOR_NAME = "昭島市"
COLLECTOR_NUMBER = "13207"
FIRST_SETTLEMENT_DATE = date(2026, 5, 11)
SETTLEMENT_DAYS = 3
FISCAL_YEARS = (2022, 2023, 2024, 2025, 2026)
# The money of a payment reaches the city's account two business days after its 納付日; the 納付日
# file (速報) comes the next business day.
QUICK_BUSINESS_DAYS, DEPOSIT_BUSINESS_DAYS = 1, 2
DUNNING_FEE = 100
DUNNING_SENT_AFTER_DAYS = 15  # §329: a 督促状 goes out within 20 days after the 納期限
RECEIVABLE_COLUMNS = (
    "receivable_id",
    "taxpayer_id",
    "tax_code",
    "fiscal_year",
    "tax_year",
    "installment",
    "notice_number",
    "payment_number",
    "confirmation_number",
    "filing_receipt_number",
    "due_date",
    "principal",
    "dunning_fee",
    "dunning_sent_on",
    "changed_on",
)
QR_TAX_CODES = ("010", "040", "050", "060")  # 賦課 taxes paid with an eL-QR 納付書 (route 1)
FILING_TAX_CODES = ("020", "030", "070")  # eLTAX 申告 taxes (route 2)
ELTAX_CLASS_BY_TAX_CODE = {tax_code: eltax for eltax, tax_code in codes.TAX_CODE_BY_ELTAX_CLASS.items()}
PAYMENT_METHOD_BY_CHANNEL = {
    "01": "01", "02": "02", "03": "02", "04": "01", "05": "04", "06": "03", "07": "02", "08": "01", "09": "01",
}
BANKS = (
    ("0001", "001"), ("0005", "153"), ("0009", "224"), ("0010", "361"), ("1360", "012"), ("9900", "019"), ("0017", "441"),
)
ROUTE_KINDS = {
    ("provisional", False): FileKind.PROVISIONAL_BY_PAYMENT_DATE,
    ("provisional", True): FileKind.PROVISIONAL_BY_DEPOSIT,
    ("electronic", False): FileKind.PAYMENT_BY_PAYMENT_DATE,
    ("electronic", True): FileKind.PAYMENT_BY_DEPOSIT,
}


SIGHTING_SCHEMA = pl.Schema(
    {
        "record_key": pl.Int64(),
        "payment_key": pl.Int64(),
        "file_kind": pl.String(),
        "settlement_date": pl.Date(),
        "delivery_number": pl.Int64(),
        "route": pl.String(),
        "receivable_id": pl.String(),
        "taxpayer_id": pl.String(),
        "tax_code": pl.String(),
        "fiscal_year": pl.Int64(),
        "tax_year": pl.Int64(),
        "installment": pl.String(),
        "notice_number": pl.String(),
        "payment_number": pl.String(),
        "confirmation_number": pl.String(),
        "filing_receipt_number": pl.String(),
        "due_date": pl.Date(),
        "payer_name": pl.String(),
        "payer_name_kana": pl.String(),
        "payer_address": pl.String(),
        "corporate_number": pl.String(),
        "eltax_taxpayer_id": pl.String(),
        "common_tax_id": pl.String(),
        "sequence_number": pl.Int64(),
        "payment_info_sequence": pl.Int64(),
        "history_number": pl.Int64(),
        "receipt_class": pl.String(),
        "response_code": pl.String(),
        "payment_class": pl.String(),
        "payment_scheme": pl.String(),
        "channel_class": pl.String(),
        "payment_method": pl.String(),
        "bank_code": pl.String(),
        "branch_code": pl.String(),
        "password": pl.String(),
        "paid_on": pl.Date(),
        "processed_on": pl.Date(),
        "processed_at": pl.Time(),
        "mpn_serial": pl.String(),
        "deposited_on": pl.Date(),
        "billed_principal": pl.Int64(),
        "billed_late_fee": pl.Int64(),
        "paid_principal": pl.Int64(),
        "paid_dunning_fee": pl.Int64(),
        "paid_late_fee": pl.Int64(),
        "estimated_payment_flag": pl.String(),
        "delete_next_run_flag": pl.String(),
        "management_on": pl.Date(),
        "patch": pl.String(),
    }
)
"""One row per record of a payment or 仮登録 file (a sighting of a payment). `paid_principal` is
本税 alone; `billed_principal` is 本税等 as printed. `management_on` is the settlement date whose
管理 file carries the payment's 管理 record (null: none); `patch` names a byte anomaly."""

SAMPLE_RECEIVABLE_SCHEMA = pl.Schema(
    {
        **{name: pl.String() for name in RECEIVABLE_COLUMNS},
        "fiscal_year": pl.Int64(),
        "tax_year": pl.Int64(),
        "due_date": pl.Date(),
        "principal": pl.Int64(),
        "dunning_fee": pl.Int64(),
        "dunning_sent_on": pl.Date(),
        "changed_on": pl.Date(),
        "listed_from": pl.Date(),
        "listed_until": pl.Date(),
        "reduced_to": pl.Int64(),
        "reduced_on": pl.Date(),
        "effective_due_date": pl.Date(),
    }
)
"""Receivables as generated: the CONTRACT columns, when each is listed in the snapshots (a later
snapshot may add, drop or reduce one) and its effective 納期限."""

LINK_SCHEMA = pl.Schema(
    {
        "eltax_taxpayer_id": pl.String(),
        "eltax_tax_class": pl.String(),
        "corporate_number": pl.String(),
        "taxpayer_id": pl.String(),
        "registration_class": pl.String(),
        "linked_at": pl.Datetime("us"),
        "settlement_date": pl.Date(),
        "file_created_on": pl.Date(),
    }
)
"""紐付履歴 events: the link, the settlement date whose file delivers it, and the file creation
date it carries (a re-delivered event keeps the first one: it is the same event)."""


@dataclass(frozen=True)
class BytePatch:
    """Bytes written over one record of an encoded file: an anomaly no writer produces."""

    record: int  # 0-based position of the record in the file (header included); negative from the end
    offset: int  # byte offset in the record, taken from the layout
    value: bytes


@dataclass(frozen=True)
class SampleFile:
    """One inbox file: its name and what its bytes are made from."""

    name: str
    kind: FileKind | None
    records: pl.DataFrame | None = None  # data records typed by the kind's layout; receivables rows
    header: dict | None = None  # header values of a payment file
    crlf: bool = False
    nec_selected: bool = False  # K fields with NEC-selected codes (髙 0xEEE0) where the writer puts IBM ones
    patches: tuple[BytePatch, ...] = ()


def settlement_dates(first: date, count: int) -> tuple[date, ...]:
    """`count` consecutive business days, the first of them `first`."""
    return tuple(add_business_days(first, offset) if offset else first for offset in range(count))


def previous_business_day(day: date, count: int = 1) -> date:
    """The business day `count` business days before `day`."""
    for _ in range(count):
        day -= timedelta(days=1)
        while is_closed_day(day):
            day -= timedelta(days=1)
    return day


def sighting_dates(paid_on: date) -> tuple[date, date]:
    """The settlement dates of a payment's 速報 (納付日 file) and 確報 (入金日 file, = deposit day)."""
    return add_business_days(paid_on, QUICK_BUSINESS_DAYS), add_business_days(paid_on, DEPOSIT_BUSINESS_DAYS)


def zero_padded(values: np.ndarray | pl.Series, width: int) -> pl.Series:
    """The numbers as strings of `width` digits, zeros in front."""
    return pl.Series(values).cast(pl.String).str.zfill(width)


def corporate_numbers(bases: np.ndarray) -> pl.Series:
    """法人番号: a check digit, then the 12-digit 会社法人等番号 (9 − Σ digit × 1,2,1,2… mod 9)."""
    weights = np.where(np.arange(12) % 2 == 0, 1, 2)  # from the last digit up
    digits = bases[:, None] // 10 ** np.arange(12) % 10
    check = 9 - (digits * weights).sum(axis=1) % 9
    return zero_padded(check * 10**12 + bases, 13)


def _last_day(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, month_calendar.monthrange(year, month)[1])


def _month_day(year: int, month: int, day: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, day)


def ordinance_due_dates(year: int) -> list[tuple[str, str, int, date, date]]:
    """(tax code, installment, variant, 納期限 by ordinance, assessed on) of one fiscal year."""
    # Months past 12 fall in the next calendar year; 030's variant is the business year's end month.
    fixed = {
        "010": ([(6, 30), (8, 31), (10, 31), (13, 31)], date(year, 6, 1)),
        "040": ([(4, 30), (7, 31), (12, 25), (14, 28)], date(year, 4, 1)),
        "050": ([(5, 31)], date(year, 4, 1)),
        "060": ([(7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 25), (13, 31), (14, 28)], date(year, 7, 1)),
        "020": ([(month, 10) for month in range(7, 19)], date(year, 5, 1)),
    }
    rows = [
        (tax_code, f"{number:02d}", 0, _month_day(year, month, day), assessed)
        for tax_code, (days, assessed) in fixed.items()
        for number, (month, day) in enumerate(days, start=1)
    ]
    # 申告 taxes exist once filed, shortly before their 納期限.
    retirement = [_month_day(year, month, 10) for month in range(5, 17)]
    rows += [("070", f"{number:02d}", 0, due, due - timedelta(days=20)) for number, due in enumerate(retirement, 1)]
    corporate = [_last_day(year, end_month + 2) for end_month in (3, 6, 9, 12)]
    rows += [("030", "00", variant, due, due - timedelta(days=20)) for variant, due in enumerate(corporate)]
    return rows


def inbox_file_name(kind: FileKind, day: date, delivery: int = 1) -> str:
    """The inbox name of the sample city's file of `kind` for settlement date `day`."""
    return InboxName(kind, COLLECTOR_CODE, day, delivery).file_name()
