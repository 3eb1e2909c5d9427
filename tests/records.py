"""Small valid record frames for tests, typed by the layouts; tests override what they exercise."""

from __future__ import annotations

from datetime import date, datetime, time

import polars as pl

from schemas.layouts import Layout, LayoutName, load_layout

COLLECTOR = 132071

_DEFAULTS_BY_FORMAT = {
    "date": date(2026, 4, 30),
    "time": time(10, 15, 0),
    "timestamp": datetime(2026, 4, 30, 10, 15, 0),
    "amount": 0,
    "number": 0,
}

_PAYMENT = {
    "common_tax_id": "CT0000000000000001",
    "sequence_number": 1,
    "record_type": "2",
    "payment_number": "1234567890123456",
    "collector_code": COLLECTOR,
    "tax_fee_number": 10,
    "confirmation_number": "123456",
    "history_number": 0,
    "password": "SECRETPW",
    "response_code": "0000",
    "payment_class": "01",
    "payer_name_kana": "ﾀｶﾊｼ ﾀﾛｳ",
    "payer_name": "髙橋　太郎",
    "billed_total": 10000,
    "billed_principal": 10000,
    "late_fee_recalc_flag": "0",
    "billing_changed_on": None,
    "late_fee_start_date": None,
    "receipt_class": "1",
    "paid_total": 10000,
    "paid_principal": 10000,
    "payment_method": "01",
    "channel_class": "02",
    "payment_scheme": "02",
    "deposited_on": date(2026, 5, 1),
    "paid_on": date(2026, 4, 30),
}
_PROVISIONAL = {
    "payment_info_sequence": 1,
    "tax_code": "010",
    "notice_number": "N000000001",
    "installment": "01",
    "taxpayer_id": "T000001",
    "payer_name": "渡邉　﨑子",
    "collector_code": COLLECTOR,
    "payment_class": "01",
    "paid_principal": 5000,
    "paid_total": 5000,
    "error_class": "00",
    "delete_next_run_flag": "0",
    "business_year_start": None,
}
_MANAGEMENT = {
    "payment_info_sequence": 1,
    "common_tax_id": "CT0000000000000001",
    "sequence_number": 1,
    "local_government_code": COLLECTOR,
    "eltax_taxpayer_id": "ELTX00000000001",
    "eltax_tax_class": "01",
    "filing_receipt_number": "R0000000000000000001",
    "payer_name": "株式会社①商事",
    "principal_total": 30000,
    "amount_class_1": "1",
    "amount_1": 30000,
}
_LINK_HISTORY = {
    "local_government_code": COLLECTOR,
    "eltax_tax_class": "01",
    "eltax_taxpayer_id": "ELTX00000000001",
    "specific_key_1": "T000001",
    "registration_class": "1",
    "linked_at": datetime(2026, 4, 1, 9, 0, 0),
}
_OVERRIDES = {
    LayoutName.PAYMENT: _PAYMENT,
    LayoutName.PROVISIONAL: _PROVISIONAL,
    LayoutName.MANAGEMENT: _MANAGEMENT,
    LayoutName.LINK_HISTORY: _LINK_HISTORY,
}


def _default(field) -> object:
    if field.is_digits:
        return _DEFAULTS_BY_FORMAT[field.format]
    return None


def record_frame(name: LayoutName, count: int = 1, **columns: list) -> pl.DataFrame:
    """`count` valid records of layout `name`; `columns` replace whole columns (lists of values)."""
    layout: Layout = load_layout(name)
    row = {field.name: _default(field) for field in layout.fields} | _OVERRIDES[LayoutName(name)]
    data = {name: [value] * count for name, value in row.items()}
    if "sequence_number" in data and "sequence_number" not in columns and name == LayoutName.PAYMENT:
        data["sequence_number"] = list(range(1, count + 1))
    data.update(columns)
    return pl.DataFrame(data, schema=layout.schema)


SETTLEMENT_DATE = date(2026, 5, 1)


def header_values(settlement_date: date = SETTLEMENT_DATE, file_class: str = "01") -> dict:
    """Header values of a payment file for the test collector."""
    return {
        "file_class": file_class,
        "base_date": settlement_date,
        "created_on": settlement_date,
        "created_at": time(1, 30, 0),
        "collector_code": COLLECTOR,
        "collector_name": "昭島市",
        "file_serial": 1,
    }


def payment_file_bytes_for(frame: pl.DataFrame, crlf: bool = False, **header) -> bytes:
    """A whole payment file (header, data, trailer, end) holding `frame`."""
    from schemas.layouts import load_payment_file_layouts
    from transforms.payment_file import payment_file_bytes

    return payment_file_bytes(frame, header_values(**header), load_payment_file_layouts(), crlf)


def patched(data: bytes, record_number: int, offset: int, new: bytes, stride: int = 700) -> bytes:
    """`data` with the bytes at `offset` of record `record_number` (1-based) replaced by `new`."""
    start = (record_number - 1) * stride + offset
    return data[:start] + new + data[start + len(new) :]
