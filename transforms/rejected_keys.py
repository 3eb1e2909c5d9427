"""What a rejected record is about, read back from its bytes: its key fields and its amount (issue 13: stuck yen visible).

Only fields that name no person are read (never names, addresses, kana, 納付番号, 確認番号 or
パスワード): the payment's identity, its 納付日 and 今回支払金額合計. A field that is itself broken
(it may be why the record was rejected) reads as null.
"""

from __future__ import annotations

import polars as pl

from schemas.layouts import Layout

# (column of rejected_records, field of the layout, how its text is typed)
KEY_FIELDS = (
    ("common_tax_id", "common_tax_id", pl.String),
    ("sequence_number", "sequence_number", pl.Int64),
    ("payment_info_sequence", "payment_info_sequence", pl.Int64),
    ("paid_on", "paid_on", pl.Date),
    ("amount", "paid_total", pl.Int64),
)
KEY_SCHEMA = pl.Schema({column: dtype for column, _, dtype in KEY_FIELDS})


def rejected_keys(rejects: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """rejects with the key fields and amount of each record, read from its `raw` bytes (null where the layout has none)."""
    fields = {field.name: field for field in layout.fields}
    return rejects.with_columns(
        _field_value(fields[name].offset, fields[name].width, dtype).alias(column) if name in fields else pl.lit(None, dtype).alias(column)
        for column, name, dtype in KEY_FIELDS
    )


def _field_value(offset: int, width: int, dtype: pl.DataType) -> pl.Expr:
    """One field of the raw bytes as text (a byte that is no ASCII makes it null), then typed."""
    # Bytes are decoded in Python: polars refuses to cast bytes that are not UTF-8, and a rejected
    # record may well hold such bytes. Rejected records are few.
    text = pl.col("raw").bin.slice(offset, width).map_elements(_ascii, return_dtype=pl.String).str.strip_chars(" ")
    text = pl.when(text == "").then(None).otherwise(text)
    if dtype == pl.Date:
        return text.str.strptime(pl.Date, "%Y%m%d", strict=False)
    return text.cast(dtype, strict=False)


def _ascii(raw: bytes) -> str | None:
    """The bytes as ASCII text, or None when any is not ASCII."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None
