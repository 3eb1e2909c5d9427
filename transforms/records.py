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
from transforms.validation import rule_violations, unknown_code_warnings


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
    """A decoded block split into accepted and rejected records, with code warnings.

    pandera checks the frame's structure (strict columns, order, types) and every value rule. Its
    structure check costs as much as the value checks of 50,000 records; when `structure_checked`
    (an earlier block of the file passed it) and the polars schema is the same, only the value
    rules run.
    """
    typed = valid_records(decoded)
    same_structure = structure_checked and typed.schema == judge.frame_schema
    violations = rule_violations(typed, judge.value_schema if same_structure else judge.schema, judge.rules)
    first_record_number = decoded.frame[RECORD_NUMBER][0] if decoded.frame.height else 0
    rows = (violations[RECORD_NUMBER] - first_record_number).to_numpy()
    violated = violations.with_columns(raw_records(block[rows], judge.layout, judge.secret_fields))
    rejects = pl.concat([broken_records(decoded, block, judge.layout, judge.secret_fields), violated.select(REJECT_SCHEMA.names())])
    accepted = typed if violations.is_empty() else typed.join(violations.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    accepted = accepted.drop(judge.secret_fields & set(accepted.columns))  # never stored (SPEC §2)
    return CheckedRecords(accepted, rejects.sort(RECORD_NUMBER), unknown_code_warnings(accepted, judge.code_lists))
