"""`shuno check`'s counts: chunks add up, a yen total per column, only the first rejects and warnings kept."""

from __future__ import annotations

import polars as pl

from transforms.record_counts import FIRST_REJECTS, RecordCounts, record_counts
from transforms.records import CheckedRecords
from transforms.validation import VIOLATION_SCHEMA, WARNING_SCHEMA


def _chunk(first: int, accepted: int, rejected: int) -> CheckedRecords:
    records = pl.DataFrame({"record_number": range(first, first + accepted), "paid_total": [100] * accepted})
    numbers = list(range(first + accepted, first + accepted + rejected))
    rejects = pl.DataFrame({"record_number": numbers, "field": ["paid_on"] * rejected, "reason": ["impossible date"] * rejected}, schema=VIOLATION_SCHEMA)
    warnings = pl.DataFrame({"record_number": [first], "field": ["channel_class"], "value": ["09"], "reason": ["unknown code, kept"]}, schema=WARNING_SCHEMA)
    return CheckedRecords(records, rejects, warnings)


def test_chunks_add_up_and_keep_only_the_first_rejects():
    counts = RecordCounts()
    for first in (2, 10, 18):
        counts += record_counts(_chunk(first, 5, 3), "paid_total")
    assert (counts.accepted, counts.rejected, counts.warnings) == (15, 9, 3)
    assert counts.totals == {"paid_total": 1500}
    assert counts.first_rejects == [(7, "paid_on", "impossible date"), (8, "paid_on", "impossible date"), (9, "paid_on", "impossible date"),
                                    (15, "paid_on", "impossible date"), (16, "paid_on", "impossible date")]
    assert len(counts.first_rejects) == FIRST_REJECTS
    assert counts.first_warnings == [(2, "channel_class", "09"), (10, "channel_class", "09"), (18, "channel_class", "09")]


def test_a_file_with_no_amount_column_has_no_totals():
    assert record_counts(_chunk(2, 1, 0), None).totals == {}
    assert RecordCounts() + RecordCounts() == RecordCounts()
