"""Reader and writer are exact inverses, on every layout, for every character CP932 holds."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from schemas.layouts import Field, LayoutName, load_layout
from transforms import text_codec
from transforms.fixed_width import (
    REASONS,
    RECORD_NUMBER,
    EncodingError,
    broken_records,
    decoded_block,
    digit_dates,
    encoded_block,
    valid_records,
)

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
HALF_WIDTH = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0xFF61, 0xFFA0)]


def _round_trip_characters() -> list[str]:
    """Every double-byte CP932 character whose encoding is its canonical one."""
    decodable = np.flatnonzero(text_codec.double_byte_decodable())
    characters = {int(unit).to_bytes(2, "big").decode("cp932") for unit in decodable}
    return sorted(c for c in characters if c != "\u3000" and len(text_codec.cp932_bytes(c)) == 2)


FULL_WIDTH = _round_trip_characters()


@cache
def _characters(alphabet: tuple[str, ...]) -> st.SearchStrategy[str]:
    # One of the alphabet's characters, drawn as its index: st.characters over the ~7,000 double-byte
    # characters is an interval set of thousands of runs, which Hypothesis searched at every character
    # drawn (a third of the round trips' time); an index is one integer, and the characters are the same.
    return st.sampled_from(alphabet)


def _text(alphabet: list[str], max_size: int, pad: str) -> st.SearchStrategy:
    # A list of characters joined, not st.text: st.text would turn the sampled characters back into the interval set.
    words = st.lists(_characters((*alphabet, pad)), max_size=max_size).map("".join)
    return words.map(lambda text: text.rstrip(pad) or None)


def _field_values(field: Field) -> st.SearchStrategy:
    if field.format == "date":
        return st.one_of(st.none(), st.dates(date(1, 1, 1), date(9999, 12, 31)))
    if field.format == "time":
        return st.times().map(lambda value: value.replace(microsecond=0))
    if field.format == "timestamp":
        return st.one_of(st.none(), st.datetimes(datetime(1, 1, 1, 0, 0, 1)).map(lambda value: value.replace(microsecond=0)))
    if field.is_digits:
        return st.integers(0, 10**field.width - 1)
    if field.type == "K":
        return _text(FULL_WIDTH, field.width // 2, "\u3000")
    return _text(HALF_WIDTH, field.width, " ")


@cache  # one strategy per layout, validated once, not once per example
def _frames(name: LayoutName) -> st.SearchStrategy:
    layout = load_layout(name)
    row = st.fixed_dictionaries({field.name: _field_values(field) for field in layout.fields})
    return st.lists(row, min_size=1, max_size=4).map(lambda rows: pl.DataFrame(rows, schema=layout.schema))


@pytest.mark.parametrize("name", list(LayoutName))
# Each example is a frame of one to four records of every field of the layout: 25 a layout, drawn
# anew every run, keep make test short (the management layout's 40 took four seconds alone).
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_frame_to_bytes_to_frame_and_back_is_exact(name, data):
    layout = load_layout(name)
    frame = data.draw(_frames(name))
    records = encoded_block(frame, layout)
    assert records.shape == (frame.height, layout.record_length)
    block = decoded_block(records, layout, first_record_number=1)
    assert not block.broken.any()
    assert_frame_equal(valid_records(block).drop(RECORD_NUMBER), frame)
    assert np.array_equal(encoded_block(valid_records(block).drop(RECORD_NUMBER), layout), records)


def test_cp932_only_characters_decode_per_column():
    layout = load_layout("payment")
    frame = pl.DataFrame(
        {field.name: [None] for field in layout.fields} | {"payer_name": ["髙﨑①"], "payer_name_kana": ["ﾀｶｻｷ"]},
        schema=layout.schema,
    ).with_columns(pl.col(pl.Int64).fill_null(0), pl.col(pl.Time).fill_null(time(0)))
    records = encoded_block(frame, layout)
    name = layout.field("payer_name")
    assert records[0, name.offset : name.offset + 2].tobytes() == b"\xfb\xfc"  # 髙, an IBM extension
    decoded = valid_records(decoded_block(records, layout, 2))
    assert decoded.select("record_number", "payer_name", "payer_name_kana").row(0) == (2, "髙﨑①", "ﾀｶｻｷ")


def test_nec_selected_duplicates_decode_to_the_same_character():
    field = load_layout("payment").field("payer_name")
    raw = np.full((1, field.width), 0x40, dtype=np.uint8)
    raw[0, 0::2] = 0x81
    raw[0, :2] = (0xED, 0x40)  # NEC-selected IBM extension of 纊
    block = decoded_block(np.pad(raw, ((0, 0), (field.offset, 700 - field.end)), constant_values=0x30), load_layout("payment"), 1)
    assert block.frame["payer_name"][0] == "纊"


def test_the_writer_refuses_a_value_too_wide():
    layout = load_layout("link_history")
    frame = pl.DataFrame({"specific_key_1": ["X" * 21]}, schema={"specific_key_1": pl.String()})
    with pytest.raises(ValueError, match="specific_key_1: a value of 21 bytes does not fit 20 bytes"):
        encoded_block(frame, layout.subset(["specific_key_1"]))
    with pytest.raises(EncodingError, match="sequence_number"):
        encoded_block(pl.DataFrame({"sequence_number": [1_000_000]}), layout.subset(["sequence_number"]))


def test_broken_records_name_the_first_broken_field_and_keep_the_bytes():
    from tests.records import record_frame

    layout = load_layout("link_history")
    records = encoded_block(record_frame("link_history", 2), layout)
    records[0, 20:26] = np.frombuffer(b"00000X", dtype=np.uint8)
    block = decoded_block(records, layout, first_record_number=10)
    rejects = broken_records(block, records, layout, frozenset())
    assert rejects.select("record_number", "field").rows() == [(10, "sequence_number")]
    assert rejects["reason"][0] == "連番: not half-width digits"
    assert rejects["raw"][0] == records[0].tobytes()


def test_constant_filled_and_trimmed_fields_decode_alike():
    from tests.records import record_frame

    layout = load_layout("payment")
    frame = record_frame(
        "payment",
        3,
        payment_number=["12345678901234567890"] * 3,  # the same in every record, no padding
        confirmation_number=["123456", "654321", "111111"],  # filled, varying
        filing_period_code=["A", "AB C", None],  # padded, one blank
        paid_on=[date(2026, 4, 30)] * 3,
    ).drop(RECORD_NUMBER, strict=False)
    records = encoded_block(frame, layout)
    block = decoded_block(records, layout, 1)
    assert not block.broken.any()
    assert_frame_equal(valid_records(block).drop(RECORD_NUMBER), frame)


@pytest.mark.parametrize("rows", [1, 3])
def test_an_impossible_date_in_every_record_is_found_even_when_constant(rows):
    from tests.records import record_frame

    layout = load_layout("payment")
    paid_on = layout.field("paid_on")
    records = encoded_block(record_frame("payment", rows).drop(RECORD_NUMBER, strict=False), layout)
    records[:, paid_on.offset : paid_on.end] = np.frombuffer(b"20230231", dtype=np.uint8)
    block = decoded_block(records, layout, 1)
    assert block.broken.all()
    assert [layout.fields[index].name for index in block.problem_field] == ["paid_on"] * rows
    assert block.frame["paid_on"].null_count() == rows


@pytest.mark.parametrize("padding", [b" ", b"\x81\x40"])
def test_the_table_decoder_agrees_with_the_codec_on_every_character(padding):
    width = len(padding)
    decodable = text_codec.single_byte_decodable() if width == 1 else text_codec.double_byte_decodable()
    characters = [int(code).to_bytes(width, "big") for code in np.flatnonzero(decodable)]
    rows = [character * 2 + padding for character in characters]  # each character twice, then padding
    raw = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 3 * width)
    expected = [row.decode("cp932").rstrip(padding.decode("cp932")) for row in rows]
    assert text_codec.cp932_strings(raw, padding).to_list() == [value or None for value in expected]


@pytest.mark.parametrize("rows", [1, 4])  # one record: every field is constant and typed once
def test_times_of_day_from_their_digits(rows):
    from tests.records import record_frame

    layout = load_layout("payment")
    field = layout.field("mpn_processed_at")
    cases = [b"000000", b"235959", b"235960", b"240000"] if rows > 1 else [b"235960"]
    records = encoded_block(record_frame("payment", len(cases)).drop(RECORD_NUMBER, strict=False), layout)
    records[:, field.offset : field.end] = np.frombuffer(b"".join(cases), dtype=np.uint8).reshape(len(cases), 6)
    block = decoded_block(records, layout, 1)
    expected_broken = [case in (b"235960", b"240000") for case in cases]
    assert block.broken.tolist() == expected_broken
    assert [REASONS[reason] for reason in block.problem_reason[block.broken]] == ["impossible time"] * sum(expected_broken)
    expected_times = {b"000000": time(0, 0, 0), b"235959": time(23, 59, 59)}
    assert block.frame["mpn_processed_at"].to_list() == [expected_times.get(case) for case in cases]


def test_dates_from_their_digits_agree_with_the_calendar():
    """Every year 0000–9999 with the month-days around each month's end, and bytes that are no digits."""
    month_days = ["0000", "0100", "0101", "0131", "0132", "0228", "0229", "0230", "0331", "0430", "0431", "1231", "1232", "1301", "9999"]
    texts = [f"{year:04d}{month_day}".encode() for year in range(10_000) for month_day in month_days]
    texts += [b"2026 511", b"202605 1", b"20260/11", b":0260511", b"2026051:", b"        "]

    def calendar_day(text: bytes) -> date | None:
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])) if text.isdigit() else None
        except ValueError:  # year 0000, month 13, 30 February …
            return None

    field = Field(1, "日付", "day", "9", "date", 8, 0, "")
    records = np.frombuffer(b"".join(texts), dtype=np.uint8).reshape(len(texts), 8)
    days, real = digit_dates(records, field)
    read = [date.fromordinal(EPOCH_ORDINAL + int(day)) if is_real else None for day, is_real in zip(days, real)]
    assert read == [calendar_day(text) for text in texts]


@pytest.mark.parametrize("layout_name", ["link_history", "management"])
def test_a_byte_of_0x80_or_more_in_a_timestamp_rejects_the_record_naming_the_field(layout_name):
    """A timestamp is read from its digits like a date and a time: a high byte is a broken field, never a failure of the whole file."""
    from tests.records import record_frame

    layout = load_layout(layout_name)
    field = next(field for field in layout.fields if field.format == "timestamp")
    cases = [b"20260512\x80\x81\x82\x83\x84\x85", b"\x900260512100000", b"20260512100000", b"20260512240000", b"00000000000000"]
    records = encoded_block(record_frame(layout_name, len(cases)).drop(RECORD_NUMBER, strict=False), layout)
    records[:, field.offset : field.end] = np.frombuffer(b"".join(cases), dtype=np.uint8).reshape(len(cases), 14)
    block = decoded_block(records, layout, 1)
    assert block.broken.tolist()[:4] == [True, True, False, True]
    assert [layout.fields[index].name for index in block.problem_field[block.broken]][:3] == [field.name] * 3
    assert block.frame[field.name].to_list()[:3] == [None, None, datetime(2026, 5, 12, 10, 0, 0)]
    assert block.frame[field.name][4] is None  # all zeros: none, as in a date
