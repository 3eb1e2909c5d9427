"""A block of fixed-width records checked end to end: typed records, rejects and warnings."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class CheckedRecords:
    """The outcome of a block: accepted records, rejected ones (with raw bytes), code warnings."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    warnings: pl.DataFrame


def judged_records(decoded: DecodedBlock, block: np.ndarray, judge: RecordRules) -> CheckedRecords:
    """A decoded block split into accepted and rejected records, with code warnings."""
    typed = valid_records(decoded)
    violations = rule_violations(typed, judge.schema, judge.rules)
    first_record_number = decoded.frame[RECORD_NUMBER][0] if decoded.frame.height else 0
    rows = (violations[RECORD_NUMBER] - first_record_number).to_numpy()
    violated = violations.with_columns(raw_records(block[rows], judge.layout, judge.secret_fields))
    rejects = pl.concat([broken_records(decoded, block, judge.layout, judge.secret_fields), violated.select(REJECT_SCHEMA.names())])
    accepted = typed if violations.is_empty() else typed.join(violations.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    accepted = accepted.drop(judge.secret_fields & set(accepted.columns))  # never stored (SPEC §2)
    return CheckedRecords(accepted, rejects.sort(RECORD_NUMBER), unknown_code_warnings(accepted, judge.code_lists))
