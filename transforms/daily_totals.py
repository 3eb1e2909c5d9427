"""The day's figures as the office files them: receipts by 税目 × チャネル and per day, with totals, and a run's stored counts.

Every function takes frames read by flows/workbook.py and returns a new frame whose column names
are the sheet's Japanese headers where the columns are made here (the channels of a cross table).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

TOTAL = "合計"
PAYMENTS = "件数"
# A payment not yet matched to a receivable has no 税目; one without a チャネル区分 (a 仮登録 record) has no channel.
UNMATCHED = "未消込"
NO_CHANNEL = "(なし)"


def coded_label(column: str, names: Mapping[str, str], missing: str) -> pl.Expr:
    """Each code of `column` as `code name` (the code alone when the list lacks it), `missing` for null or empty."""
    codes = pl.col(column)
    labels = {code: f"{code} {name}" for code, name in names.items()}
    return pl.when(codes.is_null() | (codes == "")).then(pl.lit(missing)).otherwise(codes.replace(labels))


def receipts_by_tax_and_channel(receipts: pl.DataFrame, tax_names: Mapping[str, str], channel_names: Mapping[str, str]) -> pl.DataFrame:
    """税目 × チャネル cross table of `receipts` (tax_code, channel_class, payments, yen): the 件数 of each 税目, yen per
    channel, a 合計 column and a 合計 row."""
    labelled = receipts.with_columns(
        coded_label("tax_code", tax_names, UNMATCHED).alias("税目"),
        coded_label("channel_class", channel_names, NO_CHANNEL).alias("channel"),
    )
    # Matched 税目 in code order, then the payments not matched yet.
    labelled = labelled.sort(pl.col("tax_code").is_null() | (pl.col("tax_code") == ""), "tax_code")
    counts = labelled.group_by("税目", maintain_order=True).agg(pl.col("payments").sum().cast(pl.Int64).alias(PAYMENTS))
    crossed = counts.join(_channel_columns(labelled, "税目"), on="税目", how="left", maintain_order="left")
    return with_total_row(crossed, "税目")


def receipts_by_day_and_channel(receipts: pl.DataFrame, days: Sequence[date], channel_names: Mapping[str, str]) -> pl.DataFrame:
    """Yen per 処理対象日 of `days` (a row each, zero when nothing arrived) × チャネル of `receipts` (day, channel_class, yen), with totals."""
    every_day = pl.DataFrame({"day": list(days)}, schema={"day": pl.Date})
    labelled = receipts.filter(pl.col("day").is_in(every_day["day"].implode())).with_columns(
        coded_label("channel_class", channel_names, NO_CHANNEL).alias("channel")
    )
    by_day = _channel_columns(labelled, "day")
    by_day = every_day.join(by_day, on="day", how="left", maintain_order="left").fill_null(0)
    return with_total_row(by_day.with_columns(pl.col("day").dt.to_string("%Y-%m-%d")).rename({"day": "処理対象日"}), "処理対象日")


def _channel_columns(labelled: pl.DataFrame, row_key: str) -> pl.DataFrame:
    # One column per channel met, in code order (then none), and the row's 合計: the known channels
    # stay in their code order whatever order the payments came in.
    channels = labelled.select("channel_class", "channel").unique().sort(pl.col("channel_class").is_null(), "channel_class")["channel"]
    if labelled.is_empty():
        return pl.DataFrame({row_key: labelled[row_key], TOTAL: pl.Series([], dtype=pl.Int64)})
    crossed = labelled.pivot(on="channel", on_columns=channels.unique(maintain_order=True), index=row_key, values="yen", aggregate_function="sum")
    crossed = crossed.with_columns(pl.col(channel).fill_null(0).cast(pl.Int64) for channel in crossed.columns[1:])
    return crossed.with_columns(pl.sum_horizontal(crossed.columns[1:]).cast(pl.Int64).alias(TOTAL))


def with_total_row(frame: pl.DataFrame, label_column: str, largest: Sequence[str] = ()) -> pl.DataFrame:
    """`frame` with a 合計 row: the sum of each number column (the largest value of the columns in `largest`)."""
    numbers = [name for name, dtype in frame.schema.items() if dtype.is_integer() and name != label_column]
    totals = frame.select(
        pl.lit(TOTAL).alias(label_column),
        *(pl.col(name).max() if name in largest else pl.col(name).sum().cast(frame.schema[name]) for name in numbers),
    )
    return pl.concat([frame, totals], how="diagonal_relaxed").select(frame.columns)


def coded_rows(frame: pl.DataFrame, column: str, names: Mapping[str, str], missing: str = NO_CHANNEL) -> pl.DataFrame:
    """`frame` with the codes of `column` shown as `code name`."""
    return frame.with_columns(coded_label(column, names, missing).alias(column))


def run_outcome_rows(summary: pl.DataFrame) -> pl.DataFrame:
    """The counts and yen a run stored (`runs.summary` JSON, one row) as rows of section, item and value."""
    outcomes = json.loads(summary["summary"][0]).get("outcomes", {}) if summary.height else {}
    rows = [(section, item, int(value)) for section, items in outcomes.items() for item, value in items.items()]
    return pl.DataFrame(rows, schema={"section": pl.String, "item": pl.String, "value": pl.Int64}, orient="row")
