"""What a night says in Prefect: its warnings (the one list a warned state, an alert and the log share) and its summary lines.

Counts, yen, file names and codes only, like the run report: nothing here reads a record.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from flows.report import attention_notes, collector_notes
from flows.settlement import RunSummary

# The name of the Completed state a night with warnings ends in (README, "Operations with Prefect").
WARNED = "Warned"


def night_warnings(summary: RunSummary) -> tuple[str, ...]:
    """Everything about the night an operator must look at: the expected deliveries missing or rejected, the files held, turned away or unreadable."""
    # One list, so the Warned state, the alert and the log agree.
    return attention_notes(summary)


def warned_message(summary: RunSummary) -> str:
    """The message of a warned night's state: how many warnings, then each one."""
    warnings = night_warnings(summary)
    return f"run of {summary.settlement_date} completed with {_warning_count(len(warnings))}: " + "; ".join(warnings)


def warned_nights_message(start: date, end: date, summaries: list[RunSummary]) -> str:
    """The message of a backfill some of whose nights warned: which nights, and how many warnings each."""
    warned = [f"{summary.settlement_date} ({_warning_count(len(night_warnings(summary)))})" for summary in summaries if night_warnings(summary)]
    return f"backfill of {start} to {end} completed; nights with warnings: " + ", ".join(warned)


def _warning_count(count: int) -> str:
    return f"{count} warning" + ("" if count == 1 else "s")


def summary_lines(summary: RunSummary) -> list[str]:
    """The run's summary for the flow-run log: its heading, the warnings, its files by status (and, for one collector, the other collectors' count), then each outcome section's counts and yen."""
    statuses = Counter(outcome.status for outcome in summary.files)
    # The warnings come first, where an operator looks: a missing delivery must not hide below the counts.
    lines = [f"run {summary.run_id} of {summary.settlement_date} (as of {summary.as_of})", *night_warnings(summary)]
    lines.append("files: " + (", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "none"))
    lines += collector_notes(summary)
    for section, counts in summary.outcome_counts.items():
        lines.append(f"{section}: " + (", ".join(f"{key} {value:,}" for key, value in counts.items()) or "none"))
    return lines
