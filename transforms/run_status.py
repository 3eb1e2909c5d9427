"""Where each settlement date stands (`shuno status`, CONTRACT v2): completed, failed, refused or never run, with its warnings.

One row per day from the first date anything was run or refused for to today. A date's state is
that of its latest attempt: a completed run, a failed one (its reason), or a refusal (its reason)
that came after any run of it, or a void (`shuno void`); a day with none is `never run`. Warnings come from what the date's
files were: rejected or unreadable files, and rejected records.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from schemas.audit import REFUSED
from schemas.codes import FileStatus, RunStatus

NEVER_RUN = "never run"
ATTEMPT_SCHEMA = {"settlement_date": pl.Date, "attempted_at": pl.Datetime("us"), "state": pl.String, "reason": pl.String}
WARNING_SCHEMA = {"settlement_date": pl.Date, "warning": pl.String}
# The file statuses that make a night one to look at: the whole file was turned away. As text:
# polars would make an Enum of the members.
WARNED_FILE_STATUSES = [FileStatus.REJECTED.value, FileStatus.UNREADABLE.value]


def date_states(attempts: pl.DataFrame, warnings: pl.DataFrame, today: date) -> pl.DataFrame:
    """settlement_date, state, attempted_at, reason and warnings (text, `; `-joined) for every day from the first attempt to today.

    attempts: settlement_date, attempted_at, state (completed / failed / refused), reason;
    warnings: settlement_date, warning.
    """
    if attempts.is_empty():
        return pl.DataFrame(schema=ATTEMPT_SCHEMA | {"warnings": pl.String}).select("settlement_date", "state", "attempted_at", "reason", "warnings")
    first = attempts["settlement_date"].min()
    days = pl.DataFrame({"settlement_date": pl.date_range(first, max(today, attempts["settlement_date"].max()), timedelta(days=1), eager=True)})
    latest = attempts.sort("attempted_at").group_by("settlement_date").agg(pl.all().last())
    joined = warnings.group_by("settlement_date").agg(pl.col("warning").sort().str.join("; ").alias("warnings"))
    table = days.join(latest, on="settlement_date", how="left").join(joined, on="settlement_date", how="left")
    return table.with_columns(pl.col("state").fill_null(NEVER_RUN)).select("settlement_date", "state", "attempted_at", "reason", "warnings")


def file_warnings(ingested_files: pl.DataFrame) -> pl.DataFrame:
    """settlement_date and one warning per file turned away whole or with rejected records (no personal data: names and counts)."""
    whole = ingested_files.filter(pl.col("status").is_in(WARNED_FILE_STATUSES)).select(
        "settlement_date", pl.format("{} {}", "file_name", "status").alias("warning")
    )
    partly = ingested_files.filter((pl.col("status") == FileStatus.LOADED) & (pl.col("rejected_count") > 0)).select(
        "settlement_date", pl.format("{}: {} rejected records", "file_name", "rejected_count").alias("warning")
    )
    return pl.concat([whole, partly]).drop_nulls("settlement_date").cast(WARNING_SCHEMA)


def run_attempts(runs: pl.DataFrame, refusals: pl.DataFrame) -> pl.DataFrame:
    """Every attempt at a date: the runs (completed, failed) and the refusals (from the operation log), in one shape."""
    from_runs = runs.select(
        "settlement_date",
        pl.col("started_at").alias("attempted_at"),
        pl.col("status").alias("state"),
        pl.lit(None, pl.String).alias("reason"),
    )
    refused = refusals.filter(pl.col("outcome").is_in([REFUSED, RunStatus.FAILED])).select(
        "settlement_date", pl.col("recorded_at").alias("attempted_at"), pl.col("outcome").alias("state"), "reason"
    )
    # A failed run is in both: its runs row and its audit entry (which has the reason); keep the latter's reason.
    attempts = pl.concat([from_runs.cast(ATTEMPT_SCHEMA), refused.cast(ATTEMPT_SCHEMA)])
    reasons = refused.filter(pl.col("state") == RunStatus.FAILED).group_by("settlement_date").agg(pl.col("reason").last().alias("failure"))
    attempts = attempts.join(reasons, on="settlement_date", how="left")
    failed_run = (pl.col("state") == RunStatus.FAILED) & pl.col("reason").is_null()
    return attempts.with_columns(pl.when(failed_run).then(pl.col("failure")).otherwise(pl.col("reason")).alias("reason")).drop("failure")

