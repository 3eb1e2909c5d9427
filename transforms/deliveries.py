"""Expected deliveries (SPEC §7): which of the files the city expects every business day came, were turned away or never came.

A 督促状 sent to a taxpayer who had paid is the error this guards against: a payment whose file
never arrived looks exactly like no payment. The table is a function of `ingested_files` and the
latest settlement date run, so a file that arrives late, named for its own date, is picked up by
running that date again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from schemas.codes import DeliveryStatus, FileStatus, RunStatus
from transforms.calendar import ONE_DAY, is_closed_day
from transforms.ledger import TABLE_SCHEMAS, conformed

# A file of these statuses brought its records (a byte-identical copy is the same delivery again).
LOADED_STATUSES = [FileStatus.LOADED, FileStatus.DUPLICATE]
# Files that came but brought nothing: their delivery number is taken, their records are not.
REFUSED_STATUSES = [FileStatus.REJECTED, FileStatus.UNREADABLE, FileStatus.HELD]
INCOMPLETE = [DeliveryStatus.MISSING, DeliveryStatus.REJECTED]


def deliveries(
    ingested_files: pl.DataFrame, latest_date: date | None, expected_kinds: Iterable[str], runs: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The `deliveries` table: per business day from the first settlement date with any file to latest_date, and per expected kind, how it stands.

    runs (run_id, started_at, status): a file last read by a run before a void of its date had its
    records withdrawn (`shuno void`), so it counts as not delivered until its date is run again
    (ingested_files.run_id then names a later run, or the run under way, not yet in `runs`).
    """
    kinds = list(expected_kinds)
    dated = ingested_files.filter(pl.col("settlement_date").is_not_null())
    if latest_date is None or dated.is_empty() or not kinds:
        return pl.DataFrame(schema=TABLE_SCHEMAS["deliveries"])
    standing = dated if runs is None else not_withdrawn(dated, runs)
    files = standing.filter(pl.col("kind").is_in(kinds) & (pl.col("settlement_date") <= latest_date))
    expected = _business_days(dated["settlement_date"].min(), latest_date).join(pl.DataFrame({"kind": kinds}), how="cross")
    # A file of an expected kind named for a closed day is listed too: it came, so it is said.
    delivered = files.group_by("settlement_date", "kind").agg(
        pl.col("delivery_number").filter(pl.col("status").is_in(LOADED_STATUSES)).unique().sort().alias("loaded"),
        pl.col("delivery_number").filter(pl.col("status").is_in(REFUSED_STATUSES)).unique().sort().alias("refused"),
    )
    rows = pl.concat([expected, delivered.select("settlement_date", "kind")]).unique().join(delivered, on=["settlement_date", "kind"], how="left")
    return conformed(rows.with_columns(_standing()).sort("settlement_date", "kind"), "deliveries")


def not_withdrawn(ingested_files: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """The ingested_files rows whose records are stored: those not last read by a run before a void of their date."""
    voided = runs.filter(pl.col("status") == RunStatus.VOIDED).group_by("settlement_date").agg(pl.col("started_at").max().alias("voided_at"))
    read = ingested_files.join(runs.select("run_id", pl.col("started_at").alias("read_at")), on="run_id", how="left")
    read = read.join(voided, on="settlement_date", how="left")
    return read.filter((pl.col("read_at") < pl.col("voided_at")).fill_null(False).not_()).drop("read_at", "voided_at")


def _business_days(first: date, last: date) -> pl.DataFrame:
    """settlement_date: every day from first to last that is not closed (the calendar of §20条の5)."""
    days, day = [], first
    while day <= last:
        if not is_closed_day(day):
            days.append(day)
        day += ONE_DAY
    return pl.DataFrame({"settlement_date": days}, schema={"settlement_date": pl.Date})


def _standing() -> list[pl.Expr]:
    """status, delivery_numbers and reason of a kind and day from its loaded and refused delivery numbers."""
    loaded, refused = pl.col("loaded").fill_null([]), pl.col("refused").fill_null([])
    came = pl.concat_list(loaded, refused).list.unique().list.sort()
    # Delivery numbers run 001, 002, … without a gap (SPEC §7): a number below the highest that never came is missing.
    gaps = pl.int_ranges(1, came.list.max().fill_null(0) + 1, dtype=pl.Int32).list.set_difference(came).list.sort()
    none_came, gap, none_loaded = came.list.len() == 0, gaps.list.len() > 0, loaded.list.len() == 0
    status = (
        pl.when(none_came | gap)
        .then(pl.lit(DeliveryStatus.MISSING.value))
        .when(none_loaded)
        .then(pl.lit(DeliveryStatus.REJECTED.value))
        .otherwise(pl.lit(DeliveryStatus.RECEIVED.value))
    )
    numbers = pl.when(~none_came).then(_numbers_text(came))
    return [status.alias("status"), numbers.alias("delivery_numbers"), _reason(none_came, gaps, none_loaded, refused, came).alias("reason")]


def _reason(none_came: pl.Expr, gaps: pl.Expr, none_loaded: pl.Expr, refused: pl.Expr, came: pl.Expr) -> pl.Expr:
    """The line an operator reads: what is missing or rejected of the kind and day, named with its delivery numbers."""
    subject = pl.format("{} for {}", pl.col("kind"), pl.col("settlement_date").dt.to_string("%Y-%m-%d"))
    rejected_note = pl.when(refused.list.len() > 0).then(pl.format(" ({} rejected)", _numbers_text(refused))).otherwise(pl.lit(""))
    return (
        pl.when(none_came)
        .then(pl.format("no {}", subject))
        .when(gaps.list.len() > 0)
        .then(pl.format("{}: delivery {} missing{}", subject, _numbers_text(gaps), rejected_note))
        .when(none_loaded)
        .then(pl.format("{}: every file rejected ({})", subject, _numbers_text(came)))
        .when(refused.list.len() > 0)
        .then(pl.format("{}: received{}", subject, rejected_note))
    )


def _numbers_text(numbers: pl.Expr) -> pl.Expr:
    """Delivery numbers as the file names write them, comma-separated: 001,002."""
    return numbers.list.eval(pl.element().cast(pl.String).str.zfill(3)).list.join(",")


def incomplete_deliveries(deliveries: pl.DataFrame) -> pl.DataFrame:
    """The deliveries missing or rejected, oldest first: settlement_date and reason."""
    return deliveries.filter(pl.col("status").is_in(INCOMPLETE)).select("settlement_date", "reason").sort("settlement_date", "reason")


def delivery_warnings(deliveries: pl.DataFrame) -> tuple[str, ...]:
    """One line per delivery missing or rejected, oldest first ("no NOFU_NYUKIN for 2026-06-04")."""
    return tuple(incomplete_deliveries(deliveries)["reason"])
