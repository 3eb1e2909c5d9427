"""What a night says in Prefect: a missing delivery warns the night, first (SPEC §7)."""

from datetime import date

from flows.ingest import FileOutcome
from flows.night_summary import night_warnings, summary_lines, warned_message
from flows.report import attention_notes
from flows.settlement import RunSummary

DAY = date(2026, 6, 4)
REJECTED = FileOutcome("NOFU_NOFUBI_132071_20260604_001.dat", "NOFU_NOFUBI", DAY, 1, "0" * 64, "rejected", "record 5 (trailer): data_count says 4")


def summary(*warnings: str, files: tuple[FileOutcome, ...] = ()) -> RunSummary:
    return RunSummary("r1", DAY, DAY, list(files), {"arrears": {"receivables": 2}}, delivery_warnings=warnings)


def test_a_missing_delivery_warns_the_night_before_the_files_it_names():
    night = summary("no NOFU_NYUKIN for 2026-06-04", files=(REJECTED,))
    assert night_warnings(night) == attention_notes(night) == (
        "ATTENTION: no NOFU_NYUKIN for 2026-06-04",
        f"ATTENTION: {REJECTED.file_name} rejected: {REJECTED.reason}",
    )
    assert warned_message(night).startswith("run of 2026-06-04 completed with 2 warnings: ATTENTION: no NOFU_NYUKIN for 2026-06-04; ")
    assert summary_lines(night)[1:3] == list(night_warnings(night))


def test_a_night_with_every_delivery_has_no_warning():
    assert night_warnings(summary()) == ()
    assert summary_lines(summary()) == ["run r1 of 2026-06-04 (as of 2026-06-04)", "files: none", "arrears: receivables 2"]
