"""Receivables snapshots (調定, CONTRACT.md): typed, checked, and the version in force."""

from __future__ import annotations

import polars as pl

from schemas.tables import RECEIVABLE_COLUMNS, Table
from transforms.calendar import effective_due_dates

RECEIVABLE_SCHEMA = Table("receivables", "", RECEIVABLE_COLUMNS).polars_schema


SNAPSHOT_ORDER = ["snapshot_date", "delivery_number"]


def _snapshot_rank(snapshots: pl.DataFrame, deliveries: pl.DataFrame | None = None) -> pl.DataFrame:
    """Snapshots with `snapshot_rank`: 1 for the oldest, rising with (date, delivery number), among `deliveries` when given."""
    if deliveries is None:
        order = pl.struct(SNAPSHOT_ORDER).rank("dense")
        return snapshots.with_columns(order.cast(pl.Int64).alias("snapshot_rank"))
    return snapshots.join(delivery_ranks(deliveries), on=SNAPSHOT_ORDER, how="left", maintain_order="left")


def delivery_ranks(deliveries: pl.DataFrame) -> pl.DataFrame:
    """snapshot_date, delivery_number and snapshot_rank of every delivery among deliveries (1 the oldest)."""
    distinct = deliveries.select(SNAPSHOT_ORDER).unique()
    return distinct.with_columns(pl.struct(SNAPSHOT_ORDER).rank("dense").cast(pl.Int64).alias("snapshot_rank"))


def current_receivables(snapshots: pl.DataFrame, deliveries: pl.DataFrame | None = None) -> pl.DataFrame:
    """The receivables of the newest snapshot (latest date, then highest delivery), with their effective 納期限.

    deliveries (snapshot_date, delivery_number): every snapshot delivered, when snapshots hold the
    rows of some receivables only (a partitioned rebuild): the newest is the newest of all of them.
    """
    ranked = _snapshot_rank(snapshots, deliveries)
    rank = pl.col("snapshot_rank")
    newest_rank = rank.max() if deliveries is None else pl.lit(delivery_ranks(deliveries)["snapshot_rank"].max(), dtype=pl.Int64)
    newest = ranked.filter(rank == newest_rank)
    return newest.drop("file_name", "snapshot_rank").with_columns(
        effective_due_dates(newest["due_date"]).alias("effective_due_date")
    )


def receivable_versions(snapshots: pl.DataFrame, deliveries: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every receivable ever delivered, as its newest version; one absent from the newest snapshot is cancelled (本税 0).

    deliveries: as for `current_receivables`.
    """
    ranked = _snapshot_rank(snapshots, deliveries)
    every_rank = ranked if deliveries is None else delivery_ranks(deliveries)
    newest_rank = every_rank["snapshot_rank"].max() or 0  # 0: no snapshot delivered yet
    first_date_of_rank = every_rank.group_by("snapshot_rank").agg(pl.col("snapshot_date").first().alias("rank_date"))
    latest = ranked.filter(pl.col("snapshot_rank") == pl.col("snapshot_rank").max().over("receivable_id"))
    cancelled = pl.col("snapshot_rank") < newest_rank
    versions = latest.join(
        first_date_of_rank.with_columns((pl.col("snapshot_rank") - 1).alias("snapshot_rank")), on="snapshot_rank", how="left"
    )
    return versions.select(
        *[name for name in RECEIVABLE_SCHEMA if name != "principal"],
        pl.when(cancelled).then(0).otherwise(pl.col("principal")).alias("principal"),
        effective_due_dates(versions["due_date"]).alias("effective_due_date"),
        cancelled.alias("cancelled"),
        pl.when(cancelled).then(pl.col("rank_date")).alias("cancelled_on"),
    )


def principal_history(snapshots: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """When each receivable's 本税 took each value: (receivable_id, effective_from, principal).

    `effective_from` is null for the first assessment, the snapshot's changed_on for a 更正 (the
    snapshot date when changed_on is empty), and the first snapshot without it for a cancellation.
    """
    # Only receivables delivered more than once can have changed; the rest keep their first 本税.
    counted = snapshots.select("receivable_id", "principal", "changed_on", *SNAPSHOT_ORDER).with_columns(
        pl.len().over("receivable_id").alias("deliveries")
    )
    first = counted.filter(pl.col("deliveries") == 1).select(
        "receivable_id", pl.lit(None, dtype=pl.Date).alias("effective_from"), "principal"
    )
    ranked = _snapshot_rank(counted.filter(pl.col("deliveries") > 1)).sort("receivable_id", "snapshot_rank")
    changes = ranked.with_columns(pl.col("principal").shift(1).over("receivable_id").alias("previous"))
    changes = changes.filter(pl.col("previous").is_null() | (pl.col("principal") != pl.col("previous"))).select(
        "receivable_id",
        pl.when(pl.col("previous").is_null()).then(None).otherwise(pl.coalesce("changed_on", "snapshot_date")).alias("effective_from"),
        "principal",
    )
    cancellations = versions.filter("cancelled").select(
        "receivable_id", pl.col("cancelled_on").alias("effective_from"), pl.lit(0, dtype=pl.Int64).alias("principal")
    )
    return pl.concat([first, changes, cancellations]).sort("receivable_id", "effective_from", nulls_last=False)
