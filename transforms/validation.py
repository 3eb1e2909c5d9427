"""Value checks of parsed records: which records break a rule, and which carry unknown codes.

pandera's own failure messages quote the failing values; only the row index, the blamed field
and the rule's name are kept here, so no personal data travels further.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.models import RECORD_NUMBER, RecordRule

VIOLATION_SCHEMA = pl.Schema({RECORD_NUMBER: pl.Int64(), "field": pl.String(), "reason": pl.String()})
WARNING_SCHEMA = pl.Schema(
    {RECORD_NUMBER: pl.Int64(), "field": pl.String(), "value": pl.String(), "reason": pl.String()}
)


def rule_violations(records: pl.DataFrame, schema: pa.DataFrameSchema, rules: list[RecordRule]) -> pl.DataFrame:
    """One row per record that breaks a rule of `schema`: its record number, field and rule.

    A schema-level failure (a missing or mistyped column) is a programming error and is raised.
    """
    try:
        schema.validate(records, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = errors.failure_cases
    else:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    field_by_rule = {rule.name: rule.field for rule in rules}
    by_row = failures.filter(pl.col("index").is_not_null() & pl.col("check").is_in(list(field_by_rule)))
    if by_row.height < failures.height:
        unexpected = failures.filter(~pl.col("check").is_in(list(field_by_rule)))
        raise TypeError(f"{schema.name}: frame does not fit its schema: {unexpected['check'].unique().to_list()}")
    return (
        by_row.select(
            records[RECORD_NUMBER].gather(by_row["index"]).alias(RECORD_NUMBER),
            pl.col("check").replace_strict(field_by_rule).alias("field"),
            pl.col("check").alias("reason"),
        )
        .sort(RECORD_NUMBER)
        .unique(RECORD_NUMBER, keep="first", maintain_order=True)
    )


def unknown_code_warnings(records: pl.DataFrame, code_lists: dict[str, dict[str, str]]) -> pl.DataFrame:
    """One row per non-blank code value that its field's code list does not know (lazily: only
    the two columns each field needs are filtered, never the whole frame)."""
    found = [
        records.lazy().filter(pl.col(field).is_not_null() & ~pl.col(field).is_in(list(known))).select(
            RECORD_NUMBER,
            pl.lit(field).alias("field"),
            pl.col(field).alias("value"),
            pl.lit("unknown code, kept").alias("reason"),
        )
        for field, known in code_lists.items()
    ]
    return pl.concat(found).sort(RECORD_NUMBER).collect() if found else pl.DataFrame(schema=WARNING_SCHEMA)
