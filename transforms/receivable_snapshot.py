"""A receivables snapshot (CHOTEI CSV, CONTRACT.md) from its bytes: the rows kept and the rows set aside."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from schemas.models import RECORD_NUMBER
from transforms.framing import RejectedFile
from transforms.receivables import RECEIVABLE_SCHEMA, receivable_violations, typed_receivables


@dataclass(frozen=True)
class ReceivableSnapshot:
    """A snapshot's valid rows (CONTRACT's columns, typed), its rejected rows (with their raw
    bytes), and how many rows the file held."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    row_count: int

    @property
    def totals(self) -> dict[str, int]:
        """The yen the valid rows add up to."""
        return {"principal": int(self.accepted["principal"].sum())}


def receivable_snapshot(data: bytes) -> ReceivableSnapshot:
    """The snapshot in `data` with every row checked; rejects a file that is not a UTF-8 CSV with
    CONTRACT's columns."""
    text = snapshot_text(data)
    typed, unreadable = typed_receivables(text)
    readable = typed.join(unreadable.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    problems = pl.concat([unreadable, receivable_violations(readable)]).sort(RECORD_NUMBER)
    accepted = readable.join(problems.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    lines = data.splitlines() if problems.height else []  # the raw bytes of the few rejected rows
    raw = pl.Series("raw", [lines[number - 1] for number in problems[RECORD_NUMBER]], dtype=pl.Binary)
    # What a rejected row is about: its 調定番号 and 本税 (issue 13), as far as they read.
    about = text.select(RECORD_NUMBER, "receivable_id", pl.col("principal").cast(pl.Int64, strict=False).alias("amount"))
    rejects = problems.with_columns(raw).join(about, on=RECORD_NUMBER, how="left", maintain_order="left")
    return ReceivableSnapshot(accepted.drop(RECORD_NUMBER), rejects, text.height)


def snapshot_text(data: bytes) -> pl.DataFrame:
    """The CSV's columns as text and each row's line number (the header row is 1); rejects a file
    that is not UTF-8 CSV or whose columns are not CONTRACT's, in order."""
    try:
        text = pl.read_csv(data, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise RejectedFile(f"not a readable UTF-8 CSV ({type(error).__name__})") from error
    expected = list(RECEIVABLE_SCHEMA)
    if text.columns != expected:
        raise RejectedFile(f"columns are not CONTRACT's: expected {','.join(expected)}")
    return text.with_columns(pl.int_range(2, text.height + 2, dtype=pl.Int64).alias(RECORD_NUMBER))
