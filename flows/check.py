"""`shuno check`: judge files against their layouts without touching the database."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from flows.files import checked_chunks, inspect_file, recognised_name
from schemas.inbox import FileKind, InboxName
from transforms.framing import RejectedFile
from transforms.record_counts import RecordCounts, record_counts

AMOUNT_TOTALS = {
    FileKind.PROVISIONAL_BY_DEPOSIT: "paid_total",
    FileKind.PROVISIONAL_BY_PAYMENT_DATE: "paid_total",
    FileKind.MANAGEMENT: "principal_total",
}


@dataclass
class FileCheck:
    """What `check` found in one file: counts, yen totals, verdict and the first rejects."""

    path: Path
    name: InboxName | None
    verdict: str
    reason: str | None = None
    data_count: int = 0
    counts: RecordCounts = field(default_factory=RecordCounts)

    @property
    def would_load(self) -> bool:
        """True when the file would load with no record set aside."""
        return self.verdict in ("ok", "not checked")


def check_file(path: Path) -> FileCheck:
    """The verdict on one file: not recognised, rejected whole, with rejected records, or ok."""
    name = recognised_name(path)
    if name is None:
        return FileCheck(path, None, "not recognised", "the file name is not one of SPEC §1 or CONTRACT's inbox")
    if name.kind.is_csv:
        return FileCheck(path, name, "not checked", "receivables snapshots and bank credits are validated by `shuno run`")
    verdict = inspect_file(path, name)
    if verdict.rejection is not None:
        return FileCheck(path, name, "rejected", verdict.rejection, data_count=verdict.data_count)
    counts = RecordCounts()
    try:
        for chunk in checked_chunks(verdict):
            counts += record_counts(chunk, AMOUNT_TOTALS.get(name.kind))
    except RejectedFile as rejection:
        return FileCheck(path, name, "rejected", str(rejection), data_count=verdict.data_count)
    declared = verdict.declared_totals.as_dict() if verdict.declared_totals else {}
    counts = replace(counts, totals=counts.totals | declared)
    return FileCheck(path, name, "has rejected records" if counts.rejected else "ok", data_count=verdict.data_count, counts=counts)


def check_report(found: FileCheck) -> list[str]:
    """Lines describing one file's check: counts, totals and record numbers, no personal data."""
    kind = found.name.kind.value if found.name else "-"
    day = found.name.settlement_date.isoformat() if found.name else "-"
    counts = found.counts
    lines = [f"{found.path.name}: {found.verdict}" + (f" ({found.reason})" if found.reason else "")]
    lines.append(
        f"  kind {kind}, settlement date {day}, data records {found.data_count}, "
        f"accepted {counts.accepted}, rejected {counts.rejected}, code warnings {counts.warnings}"
    )
    if counts.totals:
        lines.append("  totals: " + ", ".join(f"{key} {value:,}" for key, value in counts.totals.items()))
    lines += [f"  rejected record {number}: {field}: {reason}" for number, field, reason in counts.first_rejects]
    lines += [f"  warning record {number}: {field} has unknown code {value!r}" for number, field, value in counts.first_warnings]
    return lines
