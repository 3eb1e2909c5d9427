"""A receivables snapshot's bytes: valid rows kept, bad rows set aside with their bytes, a bad file rejected whole."""

from __future__ import annotations

import pytest

from transforms.framing import RejectedFile
from transforms.receivable_snapshot import receivable_snapshot
from transforms.receivables import RECEIVABLE_SCHEMA

HEADER = ",".join(RECEIVABLE_SCHEMA)
GOOD = "R1,T1,010,2026,2026,01,N1,1234567890123456,123456,,2026-04-30,10000,0,,"
BAD_DATE = "R2,T1,010,2026,2026,02,N2,,,,2026-02-30,10000,0,,"
REPEATED = "R1,T2,010,2026,2026,03,N3,,,,2026-04-30,500,0,,"


def test_valid_rows_are_kept_and_bad_rows_set_aside_with_their_bytes():
    snapshot = receivable_snapshot("\n".join([HEADER, GOOD, BAD_DATE, REPEATED, ""]).encode())
    assert snapshot.row_count == 3
    assert snapshot.accepted.columns == list(RECEIVABLE_SCHEMA)
    assert snapshot.accepted["receivable_id"].to_list() == ["R1"]
    assert snapshot.totals == {"principal": 10000}
    assert snapshot.rejects.select("record_number", "field").rows() == [(3, "due_date"), (4, "receivable_id")]
    assert snapshot.rejects["raw"].to_list() == [BAD_DATE.encode(), REPEATED.encode()]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("\n".join([HEADER, GOOD.replace("N1", "調定")]).encode("cp932"), "not a readable UTF-8 CSV \\(ComputeError\\)"),
        ("\n".join([HEADER.replace("principal", "amount"), GOOD]).encode(), "columns are not CONTRACT's: expected receivable_id,"),
    ],
)
def test_a_file_that_is_not_contracts_csv_is_rejected_whole(data, reason):
    with pytest.raises(RejectedFile, match=reason):
        receivable_snapshot(data)
