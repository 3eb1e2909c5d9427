"""What `shuno check` tells of a file's checked records: counts, a yen total, the first rejects and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field

from transforms.records import CheckedRecords

FIRST_REJECTS = 5


@dataclass(frozen=True)
class RecordCounts:
    """Accepted, rejected and warned records, yen totals by column, and the first FIRST_REJECTS
    rejects (record, field, reason) and warnings (record, field, value)."""

    accepted: int = 0
    rejected: int = 0
    warnings: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    first_rejects: list[tuple[int, str, str]] = field(default_factory=list)
    first_warnings: list[tuple[int, str, str]] = field(default_factory=list)

    def __add__(self, other: RecordCounts) -> RecordCounts:
        totals = {key: self.totals.get(key, 0) + other.totals.get(key, 0) for key in self.totals | other.totals}
        return RecordCounts(
            self.accepted + other.accepted,
            self.rejected + other.rejected,
            self.warnings + other.warnings,
            totals,
            (self.first_rejects + other.first_rejects)[:FIRST_REJECTS],
            (self.first_warnings + other.first_warnings)[:FIRST_REJECTS],
        )


def record_counts(chunk: CheckedRecords, amount_column: str | None) -> RecordCounts:
    """The counts of one chunk of checked records, with the total of `amount_column`, if any."""
    totals = {amount_column: int(chunk.records[amount_column].sum())} if amount_column else {}
    return RecordCounts(
        chunk.records.height,
        chunk.rejects.height,
        chunk.warnings.height,
        totals,
        chunk.rejects.head(FIRST_REJECTS).select("record_number", "field", "reason").rows(),
        chunk.warnings.head(FIRST_REJECTS).select("record_number", "field", "value").rows(),
    )
