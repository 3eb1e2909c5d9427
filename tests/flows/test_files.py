"""Reading whole files from disk: each step of the reader gives its verdict, and no record is lost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from flows.files import FileVerdict, checked_chunks, inspect_file
from schemas.inbox import InboxName, parse_inbox_name
from schemas.layouts import load_layout
from transforms.fixed_width import records_bytes
from transforms.framing import RejectedFile
from transforms.payment_file import ControlTotals
from transforms.records import CheckedRecords
from tests.records import SETTLEMENT_DATE, patched, payment_file_bytes_for, record_frame
from tests.transforms.test_payment_file import field_offset, payment_bytes, payments

PAYMENT = load_layout("payment")
NAME = "NOFU_NYUKIN_132071_20260501_001.dat"


def read_whole_file(path: Path, name: InboxName, chunk_records: int | None = None) -> tuple[FileVerdict, list[CheckedRecords]]:
    """A file read to the end through the reader, its chunks kept: the verdict carries the
    rejection, if any, and then no chunk is returned."""
    verdict = inspect_file(path, name)
    if verdict.rejection is not None:
        return verdict, []
    try:
        return verdict, list(checked_chunks(verdict, chunk_records))
    except RejectedFile as rejection:
        return replace(verdict, rejection=str(rejection)), []


def _write(tmp_path: Path, data: bytes, name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(path: Path, chunk_records: int = 3):
    verdict, chunks = read_whole_file(path, parse_inbox_name(path.name), chunk_records)
    if verdict.rejection is not None:
        return verdict, None, None
    records = pl.concat([chunk.records for chunk in chunks])
    rejects = pl.concat([chunk.rejects for chunk in chunks])
    return verdict, records, rejects


@pytest.mark.parametrize("crlf", [False, True])
def test_a_sound_file_loads_every_record(tmp_path, crlf):
    path = _write(tmp_path, payment_file_bytes_for(payments(), crlf=crlf))
    verdict, records, rejects = _read(path)
    assert verdict.rejection is None
    assert verdict.declared_totals.data_count == 7 and verdict.declared_totals.paid_total_sum == 28_000
    assert records["record_number"].to_list() == list(range(2, 9))
    assert records["paid_total"].to_list() == [1000 * (n + 1) for n in range(7)]
    assert rejects.height == 0


def test_the_trailer_totals_count_receipts_and_cancellations_apart(tmp_path):
    # Records 3 and 6 are 取消 (3,000 and 6,000 yen); the late fees are 10 yen per record.
    frame = payments().with_columns(
        receipt_class=pl.Series(["1", "1", "2", "1", "1", "2", "1"]),
        paid_total=pl.col("paid_total") + 10,
        paid_late_fee=pl.lit(10, dtype=pl.Int64),
    )
    path = _write(tmp_path, payment_file_bytes_for(frame))
    verdict, records, rejects = _read(path, chunk_records=2)
    assert verdict.rejection is None and records.height == 7 and rejects.height == 0
    receipts_principal = 1000 + 2000 + 4000 + 5000 + 7000
    assert verdict.declared_totals == ControlTotals(
        data_count=7,
        paid_total_sum=receipts_principal + 5 * 10,
        paid_principal_sum=receipts_principal,
        paid_late_fee_sum=5 * 10,
        paid_consumption_tax_sum=0,
        cancel_count=2,
        cancel_amount=3010 + 6010,
    )


# One damage for each step of the reader, through a file on disk: the size and record 1
# (`framing.file_shape`), the control records read first, a data chunk read on a worker thread,
# the trailer after the last chunk. tests/transforms/test_payment_file.py judges every damage in bytes.
WHOLE_FILE_DAMAGE = {
    "wrong length": (lambda: payment_bytes()[:-1], "not a whole number of 700-byte records"),
    "empty file": (lambda: b"", "file is empty"),
    "missing end": (lambda: payment_bytes()[:-700], "record 9: データ区分 is '8' where the end record belongs"),
    "header date differs from the name": (lambda: patched(payment_bytes(), 1, 29, b"20260502"), "基準年月日"),
    "stray LF": (lambda: patched(payment_bytes(), 3, 100, b"\n"), "record 3: stray CR or LF at byte 101"),
    "header in the middle": (lambda: patched(payment_bytes(), 4, 26, b"1"), "record 4: データ区分 is '1' where a data record belongs"),
    "count off": (lambda: patched(payment_bytes(), 9, 27, b"0000006"), "data_count says 6 but the data records give 7"),
}


@pytest.mark.parametrize("damage", list(WHOLE_FILE_DAMAGE))
def test_damage_to_the_frame_rejects_the_file_whole(tmp_path, damage):
    make, reason = WHOLE_FILE_DAMAGE[damage]
    verdict, records, _ = _read(_write(tmp_path, make()))
    assert verdict.rejection is not None and reason in verdict.rejection
    assert records is None


def test_rejected_raw_bytes_are_the_record_with_the_password_blanked(tmp_path):
    data = patched(payment_bytes(), 4, field_offset("paid_on"), b"20230231")
    _, _, rejects = _read(_write(tmp_path, data))
    raw = rejects["raw"][0]
    password = PAYMENT.field("password")
    assert len(raw) == 700
    assert raw[password.offset : password.end] == b" " * password.width
    expected = data[3 * 700 : 4 * 700]
    assert raw[: password.offset] == expected[: password.offset]
    assert raw[password.end :] == expected[password.end :]
    assert b"SECRETPW" not in raw


def test_an_unknown_channel_is_kept_with_a_warning(tmp_path):
    data = patched(payment_bytes(), 6, field_offset("channel_class"), b"09")
    verdict = inspect_file(_write(tmp_path, data), parse_inbox_name(NAME))
    chunks = list(checked_chunks(verdict, chunk_records=2))
    records = pl.concat([chunk.records for chunk in chunks])
    warnings = pl.concat([chunk.warnings for chunk in chunks])
    assert records.height == 7
    assert warnings.select("record_number", "field", "value").rows() == [(6, "channel_class", "09")]


def test_a_table_file_must_be_whole_records(tmp_path):
    frame = record_frame("link_history", 3)
    name = "HIMOZUKE_132071_20260501_001.dat"
    good = _write(tmp_path, records_bytes(frame, load_layout("link_history"), crlf=True), name)
    verdict, records, rejects = _read(good)
    assert records.height == 3 and rejects.height == 0
    bad = _write(tmp_path, records_bytes(frame, load_layout("link_history"), crlf=False)[:-5], name)
    verdict, _, _ = _read(bad)
    assert "not a whole number of 131-byte records" in verdict.rejection


def test_chunking_does_not_change_what_is_read(tmp_path):
    data = patched(payment_bytes(), 5, field_offset("paid_on"), b"20260230")
    path = _write(tmp_path, data)
    whole = _read(path, chunk_records=1000)
    small = _read(path, chunk_records=1)
    assert whole[1].equals(small[1]) and whole[2].equals(small[2])
    assert whole[0].declared_totals == small[0].declared_totals
    assert SETTLEMENT_DATE == whole[0].header["base_date"]


def test_a_broken_record_in_a_later_chunk_is_found_by_the_value_rules(tmp_path):
    data = patched(payment_bytes(), 8, field_offset("payment_class"), b"04")
    verdict, records, rejects = _read(_write(tmp_path, data), chunk_records=3)  # record 8 is in the third chunk
    assert records.height + rejects.height == verdict.data_count == 7
    assert rejects.select("record_number", "field").rows() == [(8, "payment_class")]
    assert "unknown 納付金区分" in rejects["reason"][0]


def test_a_file_cut_while_it_is_read_is_rejected_whole(tmp_path):
    path = _write(tmp_path, payment_bytes())
    verdict = inspect_file(path, parse_inbox_name(path.name))
    path.write_bytes(payment_bytes()[: 700 * 5])  # cut after inspection: records 6 on are gone
    with pytest.raises(RejectedFile, match="record 6: the file ended early; it changed while it was read"):
        list(checked_chunks(verdict, chunk_records=4))
