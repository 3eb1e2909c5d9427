"""A block of fixed-width records checked end to end: typed records, rejects and warnings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandera.polars as pa
import polars as pl

from schemas.layouts import Layout
from schemas.models import RecordRule
from transforms.fixed_width import RECORD_NUMBER, REJECT_SCHEMA, DecodedBlock, broken_records, decoded_block, raw_records, valid_records
from transforms.validation import WARNING_SCHEMA, rule_violations, unknown_code_warnings


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


def checked_records(block: np.ndarray, judge: RecordRules, first_record_number: int) -> CheckedRecords:
    """The records of `block` (n × record length bytes) split into accepted and rejected."""
    return judged_records(decoded_block(block, judge.layout, first_record_number), block, judge)


def judged_records(decoded: DecodedBlock, block: np.ndarray, judge: RecordRules) -> CheckedRecords:
    """A decoded block split into accepted and rejected records, with code warnings."""
    typed = valid_records(decoded)
    violations = rule_violations(typed, judge.schema, judge.rules)
    first_record_number = decoded.frame[RECORD_NUMBER][0] if decoded.frame.height else 0
    rows = (violations[RECORD_NUMBER] - first_record_number).to_numpy()
    violated = violations.with_columns(raw_records(block[rows], judge.layout, judge.secret_fields))
    rejects = pl.concat([broken_records(decoded, block, judge.layout, judge.secret_fields), violated.select(REJECT_SCHEMA.names())])
    accepted = typed.join(violations.select(RECORD_NUMBER), on=RECORD_NUMBER, how="anti", maintain_order="left")
    accepted = accepted.drop(judge.secret_fields & set(accepted.columns))  # never stored (SPEC §2)
    return CheckedRecords(accepted, rejects.sort(RECORD_NUMBER), unknown_code_warnings(accepted, judge.code_lists))


def empty_checked_records(layout: Layout) -> CheckedRecords:
    """The outcome of no records."""
    records = pl.DataFrame(schema={RECORD_NUMBER: pl.Int64(), **layout.schema})
    return CheckedRecords(records, pl.DataFrame(schema=REJECT_SCHEMA), pl.DataFrame(schema=WARNING_SCHEMA))
