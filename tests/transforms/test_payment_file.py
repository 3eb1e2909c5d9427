"""A payment file's bytes judged without a file: framing, control records, data chunks, trailer.

`read_payment_bytes` runs the transforms `flows.files` calls, in its order, over bytes in memory;
tests/flows/test_files.py keeps the tests that go through a file on disk.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from schemas.inbox import parse_inbox_name
from schemas.layouts import LayoutName, load_layout, load_payment_file_layouts
from tests.records import SETTLEMENT_DATE, patched, payment_file_bytes_for, record_frame
from transforms import framing, payment_file
from transforms.framing import RecordChunk, RejectedFile
from transforms.payment_file import ControlTotals, HeaderExpectations
from transforms.records import CheckedRecords, checked_chunk, record_rules_for

PAYMENT = load_layout("payment")
LAYOUTS = load_payment_file_layouts()
NAME = parse_inbox_name("NOFU_NYUKIN_132071_20260501_001.dat")
EXPECTED = HeaderExpectations(NAME.kind.payment_file_class, NAME.settlement_date, NAME.collector_code, PAYMENT.record_length)


def field_offset(field: str) -> int:
    """The offset of a field of the payment layout."""
    return PAYMENT.field(field).offset


def _records(data: bytes, shape: framing.FileShape, span: range) -> RecordChunk:
    block = data[span.start * shape.stride : span.stop * shape.stride]
    return RecordChunk(span.start + 1, np.frombuffer(block, dtype=np.uint8).copy())


def read_payment_bytes(data: bytes, chunk_records: int = 3) -> tuple[pl.DataFrame, pl.DataFrame, list[CheckedRecords]]:
    """The header, trailer and checked data chunks of a payment file's bytes; raises `RejectedFile`."""
    shape = framing.file_shape(data[: PAYMENT.record_length + 2], len(data), PAYMENT.record_length)
    control = [_records(data, shape, range(position, position + 1)) for position in payment_file.control_positions(shape.record_count)]
    header, trailer = payment_file.checked_control_records(control, shape, LAYOUTS, EXPECTED)
    positions, judge, totals, chunks = payment_file.data_positions(shape.record_count), record_rules_for(LayoutName.PAYMENT), ControlTotals(), []
    for span in framing.chunk_spans(positions, chunk_records):
        checked, chunk_totals = checked_chunk(_records(data, shape, span), shape, judge, positions, has_trailer=True)
        chunks.append(checked)
        totals += chunk_totals
    payment_file.check_trailer(trailer, totals, shape.record_count - 1)
    return header, trailer, chunks


def payments(count: int = 7) -> pl.DataFrame:
    """`count` payment records of 1,000, 2,000, … yen."""
    return record_frame("payment", count, paid_total=[1000 * (n + 1) for n in range(count)],
                        paid_principal=[1000 * (n + 1) for n in range(count)])


def payment_bytes(crlf: bool = False) -> bytes:
    """A sound payment file of seven records (header 1, data 2–8, trailer 9, end 10), to damage."""
    return payment_file_bytes_for(payments(), crlf=crlf)


@pytest.mark.parametrize("crlf", [False, True])
def test_sound_bytes_give_the_header_the_declared_totals_and_every_record(crlf):
    header, trailer, chunks = read_payment_bytes(payment_bytes(crlf))
    assert header["base_date"][0] == SETTLEMENT_DATE
    assert payment_file.declared_totals(trailer) == ControlTotals(data_count=7, paid_total_sum=28_000, paid_principal_sum=28_000)
    assert pl.concat([chunk.records for chunk in chunks])["record_number"].to_list() == list(range(2, 9))


WHOLE_FILE_DAMAGE = {
    "wrong length": (lambda: payment_bytes()[:-1], "not a whole number of 700-byte records"),
    "stray LF": (lambda: patched(payment_bytes(), 3, 100, b"\n"), "record 3: stray CR or LF at byte 101"),
    "CR alone as terminator": (lambda: payment_bytes(crlf=True).replace(b"\r\n", b"\r\r", 1), "record 1: followed by a lone CR or LF"),
    "LF alone as terminators": (lambda: payment_bytes(crlf=True).replace(b"\r\n", b"\n"), "lone CR or LF"),
    "a record without CR LF": (
        lambda: (lambda data: data[:702 * 3 - 2] + b"  " + data[702 * 3:])(payment_bytes(crlf=True)),
        "record 3: not followed by CR LF",
    ),
    "missing header": (lambda: payment_bytes()[700:], "record 1: データ区分 is '2' where the header belongs"),
    "missing trailer": (lambda: payment_bytes()[:-1400] + payment_bytes()[-700:], "where the trailer belongs"),
    "missing end": (lambda: payment_bytes()[:-700], "record 9: データ区分 is '8' where the end record belongs"),
    "header in the middle": (lambda: patched(payment_bytes(), 4, 26, b"1"), "record 4: データ区分 is '1' where a data record belongs"),
    "count off": (lambda: patched(payment_bytes(), 9, 27, b"0000006"), "data_count says 6 but the data records give 7"),
    "sum off": (lambda: patched(payment_bytes(), 9, 34, b"000000000028001"), "paid_total_sum says 28001"),
    "amount not digits": (lambda: patched(payment_bytes(), 5, field_offset("paid_total"), b"0000000A000"), "record 5: 今回支払金額合計 is not digits"),
    "header date differs from the name": (lambda: patched(payment_bytes(), 1, 29, b"20260502"), "基準年月日"),
    "header collector differs": (lambda: patched(payment_bytes(), 1, 51, b"011002"), "収納団体コード"),
    "empty file": (lambda: b"", "file is empty"),
    "too few records": (lambda: payment_bytes()[:1400], "2 records: a payment file needs a header, a trailer and an end record"),
    "control record not its type": (lambda: patched(payment_bytes(), 9, 21, b"A"), "record 9: control record field 連番 breaks its type"),
}


@pytest.mark.parametrize("damage", list(WHOLE_FILE_DAMAGE))
def test_damage_to_the_frame_rejects_the_file_whole(damage):
    make, reason = WHOLE_FILE_DAMAGE[damage]
    with pytest.raises(RejectedFile) as rejection:
        read_payment_bytes(make())
    assert reason in str(rejection.value)


def test_data_positions_lie_between_header_and_trailer_even_when_the_control_records_are_missing():
    assert payment_file.data_positions(9) == range(1, 7)
    assert payment_file.data_positions(2) == range(1, 1)
    assert payment_file.control_positions(9) == (0, 7, 8)
    with pytest.raises(RejectedFile, match="2 records: a payment file needs"):
        payment_file.control_positions(2)
