"""Judging records: a broken record is set aside and the rest stand; a stray CR or LF rejects the
file; the one-pass test of every rule says "all kept" exactly when pandera finds nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.layouts import LayoutName
from schemas.models import RECORD_RULES
from tests.records import patched, record_frame
from tests.transforms.test_payment_file import field_offset, payment_bytes, payments, read_payment_bytes
from transforms.fixed_width import RECORD_NUMBER, decoded_block, records_bytes
from transforms.framing import RejectedFile
from transforms.records import judged_records, record_rules_for
from transforms.validation import rule_violations

ROWS = 3
# Besides each column's valid value and null: values that break, or just keep, some rule.
OTHER_VALUES = {
    pl.Int64: [0, 1, 2, 999_997, 999_998, 132_071, 132_072, 10**6],
    pl.String: ["", "0000", "000A", "1", "2", "3", "01", "04", "12345"],
    pl.Date: [date(2026, 5, 1)],
}


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as a decoded block has it: record numbers (from 2, after the header) first."""
    return frame.select(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(RECORD_NUMBER), pl.all())


def _ruled_columns(judge) -> list[str]:
    return sorted({name for rule in judge.rules for name in rule.sound.meta.root_names()})


@cache  # the same for every example of a layout: built once, not once per example
def _judge_and_choices(layout_name: LayoutName) -> tuple:
    """The layout's record rules, and for each column they read: its valid value, null and the other values."""
    judge = record_rules_for(layout_name)
    valid = record_frame(layout_name, ROWS)
    choices = {name: [valid[name][0], None, *OTHER_VALUES.get(type(valid.schema[name]), [])] for name in _ruled_columns(judge)}
    return judge, choices


@st.composite
def judged_frames(draw):
    """A frame of a layout whose rule columns hold valid, null and rule-breaking values, row by row."""
    layout_name = draw(st.sampled_from(list(RECORD_RULES)))
    judge, choices_by_column = _judge_and_choices(layout_name)
    columns = {}
    for name, choices in choices_by_column.items():
        columns[name] = draw(st.lists(st.sampled_from(choices), min_size=ROWS, max_size=ROWS))
    return judge, _numbered(record_frame(layout_name, ROWS, **columns))


# Each example is a block of ROWS rows, each ruled column valid, null or broken row by row: 100
# blocks are about 25 of each of the four layouts, drawn anew every run, at half make test's cost of 200.
@settings(max_examples=100, deadline=None)
@given(judged_frames())
def test_every_rule_kept_agrees_with_pandera(judged):
    judge, frame = judged
    found = rule_violations(frame, judge.value_schema, judge.rules)
    assert frame.select(judge.every_rule_kept).item() == found.is_empty()
    assert judge.violations(frame, structure_checked=True).equals(found)


def test_a_block_breaking_a_rule_is_judged_by_pandera_after_the_first():
    judge = record_rules_for(LayoutName.PAYMENT)
    frame = _numbered(record_frame(LayoutName.PAYMENT, ROWS, payment_class=["01", "04", "01"]))
    assert not frame.select(judge.every_rule_kept).item()
    found = judge.violations(frame, structure_checked=True)
    assert found.rows() == [(3, "payment_class", "unknown 納付金区分")]
    # A first block: pandera checks its structure and rules at once, then, as it breaks one, rule by rule.
    assert judge.violations(frame, structure_checked=False).equals(found)


def test_a_first_block_that_keeps_every_rule_passes_the_whole_record_schema():
    for layout_name in RECORD_RULES:
        judge = record_rules_for(layout_name)
        frame = _numbered(record_frame(layout_name, ROWS))
        judge.whole_record_schema.validate(frame)
        assert judge.violations(frame, structure_checked=False).is_empty()


def _records_and_rejects(data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    _, _, chunks = read_payment_bytes(data)
    return pl.concat([chunk.records for chunk in chunks]), pl.concat([chunk.rejects for chunk in chunks])


# The reader searches for a stray CR or LF only in records with a broken field: whatever field it
# falls in, it must break it (a double-byte character's lead or trail byte, kana, the filler).
STRAY_BYTE_PLACES = {
    "amount": (field_offset("paid_total") + 3, b"\n"),
    "kanji lead byte": (field_offset("payer_name"), b"\r"),
    "kanji trail byte": (field_offset("payer_name") + 1, b"\n"),
    "kana": (field_offset("payer_name_kana") + 2, b"\r"),
    "code": (field_offset("payment_number"), b"\n"),
    "filler at the record end": (699, b"\r"),
}


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("place", list(STRAY_BYTE_PLACES))
def test_a_stray_cr_or_lf_rejects_the_file_whatever_field_it_falls_in(place, crlf):
    offset, stray = STRAY_BYTE_PLACES[place]
    data = payment_bytes(crlf)
    stride = 702 if crlf else 700
    position = 5 * stride + offset  # record 6
    with pytest.raises(RejectedFile) as rejection:
        read_payment_bytes(data[:position] + stray + data[position + 1 :])
    assert str(rejection.value) == f"record 6: stray CR or LF at byte {offset + 1} (a record is exactly its length, optionally followed by CR LF)"


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
def test_a_broken_record_is_set_aside_and_the_rest_stands(damage):
    field, new, reason = RECORD_DAMAGE[damage]
    data = patched(payment_bytes(), 4, field_offset(field), new)
    if field == "paid_late_fee":  # keep the trailer reconcilable: only the record's parts disagree
        data = patched(data, 9, 64, b"000000000000100")
    if field == "receipt_class":  # the trailer sums 領収 records only, so record 4 (3,000 yen) leaves them
        data = patched(patched(data, 9, 34, b"000000000025000"), 9, 49, b"000000000025000")
    records, rejects = _records_and_rejects(data)  # raises RejectedFile if the file as a whole fails
    assert records.height + rejects.height == 7
    assert rejects["record_number"].to_list() == [4]
    assert rejects["field"].to_list() == [field if field != "paid_late_fee" else "paid_total"]
    assert reason in rejects["reason"][0]
    assert 4 not in records["record_number"].to_list()


def test_a_block_whose_structure_differs_gets_pandera_structure_check_again():
    judge = record_rules_for(LayoutName.PAYMENT)
    rows = np.frombuffer(records_bytes(payments(2), judge.layout, crlf=False), dtype=np.uint8).reshape(-1, 700)
    decoded = decoded_block(rows, judge.layout, 2)
    assert judged_records(decoded, rows, judge, structure_checked=True).records.height == 2
    retyped = replace(decoded, frame=decoded.frame.with_columns(pl.col("paid_total").cast(pl.Int32)))
    with pytest.raises(TypeError, match="does not fit its schema"):
        judged_records(retyped, rows, judge, structure_checked=True)
