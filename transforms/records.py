"""A block of fixed-width records checked end to end: typed records, rejects and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandera.polars as pa
import polars as pl

from schemas.layouts import Layout
from schemas.models import RecordRule
from transforms.fixed_width import RECORD_NUMBER, REJECT_SCHEMA, DecodedBlock, broken_records, raw_records, valid_records
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
        nothing for pandera to report, and pandera is not asked.
        """
        if not structure_checked or typed.schema != self.frame_schema:
            return rule_violations(typed, self.schema, self.rules)
        if typed.select(self.every_rule_kept).item():
            return pl.DataFrame(schema=VIOLATION_SCHEMA)
        return rule_violations(typed, self.value_schema, self.rules)

    @cached_property
    def frame_schema(self) -> pl.Schema:
        """The polars schema of a decoded block of the layout."""
        return pl.Schema({RECORD_NUMBER: pl.Int64(), **self.layout.schema})


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
