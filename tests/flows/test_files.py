"""Reading whole files: every kind of damage of SPEC §1 gets its verdict, and no record is lost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flows.files import checked_chunks, inspect_file, read_whole_file, record_rules_for
from schemas.inbox import parse_inbox_name
from schemas.layouts import LayoutName, load_layout
from transforms.fixed_width import decoded_block, records_bytes
from transforms.framing import RejectedFile
from transforms.payment_file import ControlTotals
from transforms.records import judged_records
from tests.records import SETTLEMENT_DATE, patched, payment_file_bytes_for, record_frame

PAYMENT = load_layout("payment")
NAME = "NOFU_NYUKIN_132071_20260501_001.dat"


def _offset(field: str) -> int:
    return PAYMENT.field(field).offset


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


def _payments(count: int = 7) -> pl.DataFrame:
    return record_frame("payment", count, paid_total=[1000 * (n + 1) for n in range(count)],
                        paid_principal=[1000 * (n + 1) for n in range(count)])


@pytest.mark.parametrize("crlf", [False, True])
def test_a_sound_file_loads_every_record(tmp_path, crlf):
    path = _write(tmp_path, payment_file_bytes_for(_payments(), crlf=crlf))
    verdict, records, rejects = _read(path)
    assert verdict.rejection is None
    assert verdict.declared_totals.data_count == 7 and verdict.declared_totals.paid_total_sum == 28_000
    assert records["record_number"].to_list() == list(range(2, 9))
    assert records["paid_total"].to_list() == [1000 * (n + 1) for n in range(7)]
    assert rejects.height == 0


def test_the_trailer_totals_count_receipts_and_cancellations_apart(tmp_path):
    # Records 3 and 6 are 取消 (3,000 and 6,000 yen); the late fees are 10 yen per record.
    frame = _payments().with_columns(
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


def _damaged(crlf: bool = False) -> bytes:
    return payment_file_bytes_for(_payments(), crlf=crlf)


WHOLE_FILE_DAMAGE = {
    "wrong length": (lambda: _damaged()[:-1], "not a whole number of 700-byte records"),
    "stray LF": (lambda: patched(_damaged(), 3, 100, b"\n"), "record 3: stray CR or LF at byte 101"),
    "CR alone as terminator": (lambda: _damaged(crlf=True).replace(b"\r\n", b"\r\r", 1), "record 1: followed by a lone CR or LF"),
    "LF alone as terminators": (lambda: _damaged(crlf=True).replace(b"\r\n", b"\n"), "lone CR or LF"),
    "a record without CR LF": (
        lambda: (lambda data: data[:702 * 3 - 2] + b"  " + data[702 * 3:])(_damaged(crlf=True)),
        "record 3: not followed by CR LF",
    ),
    "missing header": (lambda: _damaged()[700:], "record 1: データ区分 is '2' where the header belongs"),
    "missing trailer": (lambda: _damaged()[:-1400] + _damaged()[-700:], "where the trailer belongs"),
    "missing end": (lambda: _damaged()[:-700], "record 9: データ区分 is '8' where the end record belongs"),
    "header in the middle": (lambda: patched(_damaged(), 4, 26, b"1"), "record 4: データ区分 is '1' where a data record belongs"),
    "count off": (lambda: patched(_damaged(), 9, 27, b"0000006"), "data_count says 6 but the data records give 7"),
    "sum off": (lambda: patched(_damaged(), 9, 34, b"000000000028001"), "paid_total_sum says 28001"),
    "amount not digits": (lambda: patched(_damaged(), 5, _offset("paid_total"), b"0000000A000"), "record 5: 今回支払金額合計 is not digits"),
    "header date differs from the name": (lambda: patched(_damaged(), 1, 29, b"20260502"), "基準年月日"),
    "header collector differs": (lambda: patched(_damaged(), 1, 51, b"011002"), "収納団体コード"),
    "empty file": (lambda: b"", "file is empty"),
}


# The reader searches for a stray CR or LF only in records with a broken field: whatever field it
# falls in, it must break it (a double-byte character's lead or trail byte, kana, the filler).
STRAY_BYTE_PLACES = {
    "amount": (_offset("paid_total") + 3, b"\n"),
    "kanji lead byte": (_offset("payer_name"), b"\r"),
    "kanji trail byte": (_offset("payer_name") + 1, b"\n"),
    "kana": (_offset("payer_name_kana") + 2, b"\r"),
    "code": (_offset("payment_number"), b"\n"),
    "filler at the record end": (699, b"\r"),
}


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("place", list(STRAY_BYTE_PLACES))
def test_a_stray_cr_or_lf_rejects_the_file_whatever_field_it_falls_in(tmp_path, place, crlf):
    offset, stray = STRAY_BYTE_PLACES[place]
    data = _damaged(crlf)
    stride = 702 if crlf else 700
    position = 5 * stride + offset  # record 6
    verdict, records, _ = _read(_write(tmp_path, data[:position] + stray + data[position + 1 :]))
    assert verdict.rejection == f"record 6: stray CR or LF at byte {offset + 1} (a record is exactly its length, optionally followed by CR LF)"
    assert records is None


@pytest.mark.parametrize("damage", list(WHOLE_FILE_DAMAGE))
def test_damage_to_the_frame_rejects_the_file_whole(tmp_path, damage):
    make, reason = WHOLE_FILE_DAMAGE[damage]
    verdict, records, _ = _read(_write(tmp_path, make()))
    assert verdict.rejection is not None and reason in verdict.rejection
    assert records is None


RECORD_DAMAGE = {
    "letters in a 9 field": ("history_number", b"0A1", "not half-width digits"),
    "impossible date": ("paid_on", b"20230231", "impossible date"),
    "impossible time": ("mpn_processed_at", b"246000", "impossible time"),
    "half-width byte in a K field": ("payer_name", b"A", "half-width byte in a full-width field"),
    "split double-byte character": ("payer_name", "髙橋".encode("cp932") + b"\x8b ", "split double-byte character"),
    "split double-byte character at the end of an X field": ("payer_name_kana", b" " * 23 + b"\x8b", "split double-byte character"),
    "double-byte character in an X field": ("payer_name_kana", "髙".encode("cp932"), "double-byte character in a half-width field"),
    "control byte in an X field": ("payment_number", b"\x07", "not a JIS X 0201 character"),
    "unknown 領収区分": ("receipt_class", b"3", "unknown 領収区分"),
    "unknown 納付金区分": ("payment_class", b"04", "unknown 納付金区分"),
    "レスポンスコード not digits": ("response_code", b"E01 ", "レスポンスコード is not four digits"),
    "parts do not add up": ("paid_late_fee", b"00000000100", "今回支払金額合計 ≠"),
    "collector check digit": ("collector_code", b"132072", "check digit"),
    "blank identity": ("common_tax_id", b" " * 20, "共通納税ID is blank"),
}


@pytest.mark.parametrize("damage", list(RECORD_DAMAGE))
def test_a_broken_record_is_set_aside_and_the_rest_stands(tmp_path, damage):
    field, new, reason = RECORD_DAMAGE[damage]
    data = patched(_damaged(), 4, _offset(field), new)
    if field == "paid_late_fee":  # keep the trailer reconcilable: only the record's parts disagree
        data = patched(data, 9, 64, b"000000000000100")
    if field == "receipt_class":  # the trailer sums 領収 records only, so record 4 (3,000 yen) leaves them
        data = patched(patched(data, 9, 34, b"000000000025000"), 9, 49, b"000000000025000")
    verdict, records, rejects = _read(_write(tmp_path, data))
    assert verdict.rejection is None
    assert records.height + rejects.height == verdict.data_count == 7
    assert rejects["record_number"].to_list() == [4]
    assert rejects["field"].to_list() == [field if field != "paid_late_fee" else "paid_total"]
    assert reason in rejects["reason"][0]
    assert 4 not in records["record_number"].to_list()


def test_rejected_raw_bytes_are_the_record_with_the_password_blanked(tmp_path):
    data = patched(_damaged(), 4, _offset("paid_on"), b"20230231")
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
    data = patched(_damaged(), 6, _offset("channel_class"), b"09")
    verdict = inspect_file(_write(tmp_path, data), parse_inbox_name(NAME))
    chunks = list(checked_chunks(verdict, chunk_records=2))
    records = pl.concat([chunk.records for chunk in chunks])
    warnings = pl.concat([chunk.warnings for chunk in chunks])
    assert records.height == 7
    assert warnings.select("record_number", "field", "value").rows() == [(6, "channel_class", "09")]


def test_a_table_file_must_be_whole_records(tmp_path):
    from transforms.fixed_width import records_bytes

    frame = record_frame("link_history", 3)
    name = "HIMOZUKE_132071_20260501_001.dat"
    good = _write(tmp_path, records_bytes(frame, load_layout("link_history"), crlf=True), name)
    verdict, records, rejects = _read(good)
    assert records.height == 3 and rejects.height == 0
    bad = _write(tmp_path, records_bytes(frame, load_layout("link_history"), crlf=False)[:-5], name)
    verdict, _, _ = _read(bad)
    assert "not a whole number of 131-byte records" in verdict.rejection


def test_chunking_does_not_change_what_is_read(tmp_path):
    data = patched(_damaged(), 5, _offset("paid_on"), b"20260230")
    path = _write(tmp_path, data)
    whole = _read(path, chunk_records=1000)
    small = _read(path, chunk_records=1)
    assert whole[1].equals(small[1]) and whole[2].equals(small[2])
    assert whole[0].declared_totals == small[0].declared_totals
    assert SETTLEMENT_DATE == whole[0].header["base_date"]


def test_a_broken_record_in_a_later_chunk_is_found_by_the_value_rules(tmp_path):
    data = patched(_damaged(), 8, _offset("payment_class"), b"04")
    verdict, records, rejects = _read(_write(tmp_path, data), chunk_records=3)  # record 8 is in the third chunk
    assert records.height + rejects.height == verdict.data_count == 7
    assert rejects.select("record_number", "field").rows() == [(8, "payment_class")]
    assert "unknown 納付金区分" in rejects["reason"][0]


def test_a_block_whose_structure_differs_gets_pandera_structure_check_again():
    judge = record_rules_for(LayoutName.PAYMENT)
    rows = np.frombuffer(records_bytes(_payments(2), judge.layout, crlf=False), dtype=np.uint8).reshape(-1, 700)
    decoded = decoded_block(rows, judge.layout, 2)
    assert judged_records(decoded, rows, judge, structure_checked=True).records.height == 2
    retyped = replace(decoded, frame=decoded.frame.with_columns(pl.col("paid_total").cast(pl.Int32)))
    with pytest.raises(TypeError, match="does not fit its schema"):
        judged_records(retyped, rows, judge, structure_checked=True)


def test_a_file_cut_while_it_is_read_is_rejected_whole(tmp_path):
    path = _write(tmp_path, _damaged())
    verdict = inspect_file(path, parse_inbox_name(path.name))
    path.write_bytes(_damaged()[: 700 * 5])  # cut after inspection: records 6 on are gone
    with pytest.raises(RejectedFile, match="record 6: the file ended early; it changed while it was read"):
        list(checked_chunks(verdict, chunk_records=4))
