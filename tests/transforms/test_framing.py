"""How bytes split into records and records into chunks: the shape of a file, the chunks' spans."""

from __future__ import annotations

import pytest

from transforms.framing import CHUNK_BYTES, FileShape, RejectedFile, chunk_records_for, chunk_spans, file_shape

RECORD = b"x" * 10


@pytest.mark.parametrize(("data", "stride"), [(RECORD * 3, 10), ((RECORD + b"\r\n") * 3, 12)])
def test_the_shape_of_whole_records_with_or_without_cr_lf(data, stride):
    assert file_shape(data[:12], len(data), 10) == FileShape(10, stride, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "file is empty"),
        (RECORD * 3 + b"x", "size 31 bytes is not a whole number of 10-byte records (no terminator)"),
        ((RECORD + b"\r\n") * 2 + RECORD, "size 34 bytes is not a whole number of 10-byte records (CR LF)"),
        (RECORD + b"\n" + RECORD, "record 1: followed by a lone CR or LF"),
    ],
)
def test_a_file_that_is_not_whole_records_is_rejected(data, reason):
    with pytest.raises(RejectedFile) as rejection:
        file_shape(data[:12], len(data), 10)
    assert reason in str(rejection.value)


def test_chunk_spans_cover_the_positions_in_order_once():
    assert chunk_spans(range(1, 8), 3) == [range(1, 4), range(4, 7), range(7, 8)]
    assert chunk_spans(range(1, 1), 3) == []


def test_a_chunk_holds_as_many_records_as_fit_its_bytes_and_at_least_one():
    assert chunk_records_for(FileShape(700, 702, 10)) == CHUNK_BYTES // 702 == 42_735
    assert chunk_records_for(FileShape(CHUNK_BYTES * 2, CHUNK_BYTES * 2, 1)) == 1
