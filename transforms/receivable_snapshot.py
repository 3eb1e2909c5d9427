"""A receivables snapshot (CHOTEI CSV, CONTRACT.md) from its bytes: the rows kept and the rows set aside."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from schemas.models import RECORD_NUMBER, receivable_rules, receivable_schema
from transforms.csv_rows import checked_rows
from transforms.receivables import RECEIVABLE_SCHEMA


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
    # A blank 督促手数料 is none charged (CONTRACT: 0 if none).
    rows = checked_rows(data, RECEIVABLE_SCHEMA, receivable_schema(), receivable_rules(), zero_when_blank=("dunning_fee",))
    # What a rejected row is about: its 調定番号 and 本税 (issue 13), as far as they read.
    about = rows.text.select(RECORD_NUMBER, "receivable_id", pl.col("principal").cast(pl.Int64, strict=False).alias("amount"))
    rejects = rows.rejects.join(about, on=RECORD_NUMBER, how="left", maintain_order="left")
    return ReceivableSnapshot(rows.accepted.drop(RECORD_NUMBER), rejects, rows.row_count)
