"""The CSV inputs of CONTRACT's inbox (receivables snapshot, bank credits): text, typed, every row checked.

A file that is not a UTF-8 CSV with the declared columns is rejected whole; otherwise each row a
value cannot be read in, or that breaks a rule, is set aside with its raw bytes and reason, and
the rest is kept: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.models import RECORD_NUMBER, RecordRule
from transforms.framing import RejectedFile
from transforms.validation import VIOLATION_SCHEMA, rule_violations

DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class CheckedRows:
    """A CSV's valid rows (typed, with their record_number), its rejected rows (with their raw bytes), and its rows as text."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    text: pl.DataFrame

    @property
    def row_count(self) -> int:
        """How many rows the file held."""
        return self.text.height


def checked_rows(
    data: bytes, schema: pl.Schema, validation: pa.DataFrameSchema, rules: list[RecordRule], zero_when_blank: Collection[str] = ()
) -> CheckedRows:
    """The CSV in `data` typed by `schema`, each row checked against `validation`'s rules; the columns of
    `zero_when_blank` read a blank as 0."""
    text = csv_text(data, list(schema))
    typed, unreadable = typed_rows(text, schema, zero_when_blank)
    readable = typed.join(unreadable.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    problems = pl.concat([unreadable, rule_violations(readable, validation, rules)]).sort(RECORD_NUMBER)
    accepted = readable.join(problems.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    lines = data.splitlines() if problems.height else []  # the raw bytes of the few rejected rows
    raw = pl.Series("raw", [lines[number - 1] for number in problems[RECORD_NUMBER]], dtype=pl.Binary)
    return CheckedRows(accepted, problems.with_columns(raw), text)


def csv_text(data: bytes, columns: list[str]) -> pl.DataFrame:
    """The CSV's columns as text and each row's line number (the header row is 1); rejects a file
    that is not UTF-8 CSV or whose columns are not `columns`, in order."""
    try:
        text = pl.read_csv(data, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise RejectedFile(f"not a readable UTF-8 CSV ({type(error).__name__})") from error
    if text.columns != columns:
        raise RejectedFile(f"columns are not CONTRACT's: expected {','.join(columns)}")
    return text.with_columns(pl.int_range(2, text.height + 2, dtype=pl.Int64).alias(RECORD_NUMBER))


def typed_rows(text: pl.DataFrame, schema: pl.Schema, zero_when_blank: Collection[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The text columns typed by `schema`, and one violation per row a value could not be read in.

    `text` holds the CSV's columns as strings and `record_number` (the header row is 1).
    """
    text = text.select(RECORD_NUMBER, *[_blank_as_null(name) for name in schema])
    typed = text.select(RECORD_NUMBER, *[_typed(name, dtype, name in zero_when_blank) for name, dtype in schema.items()])
    unreadable = [
        text.filter(pl.col(name).is_not_null() & typed[name].is_null()).select(
            RECORD_NUMBER, pl.lit(name).alias("field"), pl.lit(f"{name}: {_expected(dtype)}").alias("reason")
        )
        for name, dtype in schema.items()
        if dtype != pl.String
    ]
    problems = pl.concat([pl.DataFrame(schema=VIOLATION_SCHEMA), *unreadable]).sort(RECORD_NUMBER)
    return typed, problems.unique(RECORD_NUMBER, keep="first", maintain_order=True)


def _blank_as_null(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(name)


def _typed(name: str, dtype: pl.DataType, zero_when_blank: bool) -> pl.Expr:
    text = pl.col(name)
    if dtype == pl.Date:
        return text.str.strptime(pl.Date, DATE_FORMAT, strict=False).alias(name)
    if dtype == pl.String:
        return text.alias(name)
    number = text.cast(dtype, strict=False)
    return (number.fill_null(0) if zero_when_blank else number).alias(name)


def _expected(dtype: pl.DataType) -> str:
    return "not a date YYYY-MM-DD" if dtype == pl.Date else "not a whole number"
