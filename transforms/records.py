"""A block of fixed-width records checked end to end: typed records, rejects and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import pandera.polars as pa
import polars as pl

from schemas.layouts import Layout, LayoutName, load_layout
from schemas.models import CODE_WARNINGS, RecordRule, record_rules, record_schema
from schemas.privacy import SECRET_FIELDS
from transforms.fixed_width import RECORD_NUMBER, REJECT_SCHEMA, DecodedBlock, broken_records, decoded_block, raw_records, valid_records
from transforms.framing import FileShape, RecordChunk, check_record_ends, check_stray_terminators
from transforms.payment_file import RECORD_TYPE_OFFSET, ControlTotals, check_record_types, control_totals
from transforms.validation import VIOLATION_SCHEMA, rule_violations, unknown_code_warnings


@dataclass(frozen=True)
class RecordRules:
    """Everything that judges a record of one layout."""

    layout: Layout
    schema: pa.DataFrameSchema
    rules: list[RecordRule]
    code_lists: dict[str, dict[str, str]]
    secret_fields: frozenset[str]

    @cached_property
    def value_schema(self) -> pa.DataFrameSchema:
        """`schema`'s value rules alone, for a frame of the structure `schema` has passed before."""
        return pa.DataFrameSchema({}, checks=self.schema.checks, name=self.schema.name)

    @cached_property
    def whole_record_schema(self) -> pa.DataFrameSchema:
        """`schema`'s structure (strict columns, order, types), and every one of its value rules in one check (`every_rule_kept`)."""
        every_rule_kept = self.every_rule_kept
        check = pa.Check(lambda data: data.lazyframe.select(every_rule_kept).collect().item(), name="every rule of the layout")
        return pa.DataFrameSchema(self.schema.columns, checks=[check], strict=True, ordered=True, name=self.schema.name)

    @cached_property
    def every_rule_kept(self) -> pl.Expr:
        """True when every record keeps every rule: the expressions of `schema`'s checks, in one."""
        return pl.all_horizontal(rule.kept for rule in self.rules).all()

    def violations(self, typed: pl.DataFrame, structure_checked: bool) -> pl.DataFrame:
        """One row per record of `typed` that breaks a rule (`rule_violations`).

        pandera checks the frame's structure (strict columns, order, types) and every value rule.
        Its structure check costs as much as the value checks of 50,000 records: when
        `structure_checked` (an earlier block of the file passed it) and the polars schema is the
        same, only the value rules are asked. Most of the cost of those is pandera's own machinery,
        about a millisecond a rule, whatever the block holds: a block whose every record keeps
        every rule, by one polars pass over the checks' own expressions (`every_rule_kept`), has
        nothing for pandera to report, and pandera is not asked. A block whose structure pandera
        must check is checked with `whole_record_schema` first, which asks the value rules in that
        one pass too; only a block it fails is checked rule by rule, to name its records.
        """
        if not structure_checked or typed.schema != self.frame_schema:
            if _passes(self.whole_record_schema, typed):
                return pl.DataFrame(schema=VIOLATION_SCHEMA)
            return rule_violations(typed, self.schema, self.rules)
        if typed.select(self.every_rule_kept).item():
            return pl.DataFrame(schema=VIOLATION_SCHEMA)
        return rule_violations(typed, self.value_schema, self.rules)

    @cached_property
    def frame_schema(self) -> pl.Schema:
        """The polars schema of a decoded block of the layout."""
        return pl.Schema({RECORD_NUMBER: pl.Int64(), **self.layout.schema})


def _passes(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """True when `frame` passes `schema`."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors:
        return False
    return True


# Built once a process: pandera copies every column of a schema it builds, a tenth of a small run's
# time when each file of every run built its layout's schema again. The rules are constants.
@cache
def record_rules_for(layout_name: LayoutName) -> RecordRules:
    """The checks a record of `layout_name` must pass."""
    layout = load_layout(layout_name)
    return RecordRules(layout, record_schema(layout), record_rules(layout_name), CODE_WARNINGS[layout_name], SECRET_FIELDS)


@dataclass(frozen=True)
class CheckedRecords:
    """The outcome of a block: accepted records, rejected ones (with raw bytes), code warnings."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    warnings: pl.DataFrame


def judged_records(decoded: DecodedBlock, block: np.ndarray, judge: RecordRules, structure_checked: bool = False) -> CheckedRecords:
    """A decoded block split into accepted and rejected records, with code warnings; pandera
    judges the records (`RecordRules.violations`)."""
    typed = valid_records(decoded)
    violations = judge.violations(typed, structure_checked)
    first_record_number = decoded.frame[RECORD_NUMBER][0] if decoded.frame.height else 0
    rows = (violations[RECORD_NUMBER] - first_record_number).to_numpy()
    violated = violations.with_columns(raw_records(block[rows], judge.layout, judge.secret_fields))
    rejects = pl.concat([broken_records(decoded, block, judge.layout, judge.secret_fields), violated.select(REJECT_SCHEMA.names())])
    accepted = typed if violations.is_empty() else typed.join(violations.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    accepted = accepted.drop(judge.secret_fields & set(accepted.columns))  # never stored (SPEC §2)
    return CheckedRecords(accepted, rejects.sort(RECORD_NUMBER), unknown_code_warnings(accepted, judge.code_lists))


def checked_chunk(
    chunk: RecordChunk, shape: FileShape, judge: RecordRules, data_positions: range, has_trailer: bool
) -> tuple[CheckedRecords, ControlTotals]:
    """A chunk of a file's data records judged (`judged_records`), and its part of the totals the
    trailer declares, if the file `has_trailer`; rejects the file for a stray CR or LF, a record
    not ended like record 1, or a control record among the data of a file with control records."""
    first = chunk.first_record_number
    rows = chunk.rows(shape)
    decoded = decoded_block(rows, judge.layout, first, unread=judge.secret_fields)
    broken = np.flatnonzero(decoded.broken)
    check_stray_terminators(rows[broken, : shape.record_length], broken + first)
    check_record_ends(rows, shape.record_length, first)
    if has_trailer:
        check_record_types(rows[:, RECORD_TYPE_OFFSET], first, shape.record_count)
    totals = control_totals(decoded.frame, judge.layout) if has_trailer else ControlTotals()
    structure_checked = first > data_positions.start + 1  # the file's first chunk had pandera check it
    return judged_records(decoded, rows, judge, structure_checked), totals
