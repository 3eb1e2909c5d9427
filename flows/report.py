"""What a run prints: counts, keys and yen only, never a name, address or 納付番号."""

from __future__ import annotations

from flows.nightly import RunSummary


def summary_lines(summary: RunSummary) -> list[str]:
    """The terminal summary of a run."""
    lines = [f"run {summary.run_id} of {summary.settlement_date} (as of {summary.as_of})"]
    for outcome in summary.files:
        counts = f"records {outcome.record_count}, accepted {outcome.accepted_count}, rejected {outcome.rejected_count}"
        reason = f" ({outcome.reason})" if outcome.reason else ""
        lines.append(f"  {outcome.file_name}: {outcome.status}{reason}; {counts}")
    for table, counts in summary.outcome_counts.items():
        lines.append(f"  {table}: " + ", ".join(f"{key} {value:,}" for key, value in counts.items()))
    return lines
