"""Judging records: the one-pass test of every rule says "all kept" exactly when pandera finds nothing."""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.files import record_rules_for
from schemas.layouts import LayoutName
from schemas.models import RECORD_RULES
from tests.records import record_frame
from transforms.fixed_width import RECORD_NUMBER
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


@settings(max_examples=200, deadline=None)
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
