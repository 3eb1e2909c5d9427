"""The contracts of the derived tables, checked before a run writes them (issue 9, CONTRACT.md).

Each table's pandera schema is generated from its declaration in `schemas/tables.py`, the one that
gives the DuckDB DDL and COMMENTs: types, nulls, minimums, code lists and the key that identifies a
row. Beside them, the identities that tie the tables together (SPEC §3.1, §4.2):

- every applied payment: paid_total = Σ its applications (本税 + 督促手数料 + 延滞金) + overpaid_amount;
- every refund candidate: refund_amount = overpaid_amount − offset_amount, offset_amount = Σ its offsets.

A broken contract raises `ContractBroken`, whose one-line message names tables, rules, counts and
at most a few keys, never a value of a personal field: pandera's own failure cases (which quote
values) are read for their column and check only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import pandera.polars as pa
from pandera.api.polars.types import PolarsData
import polars as pl

from schemas.codes import ErrorClass, PaymentStatus
from schemas.tables import Column, Table, derived_tables

APPLIED_PARTS = ("principal_applied", "dunning_fee_applied", "late_fee_applied")
OFFSET_PARTS = ("principal_offset", "dunning_fee_offset", "late_fee_offset")
# How many keys of a broken identity the message names: enough to find the rows, short enough for one line.
KEYS_SHOWN = 3
RULES_SHOWN = 5
# pandera's names for the checks it makes itself, in the words of the message.
PANDERA_CHECKS = {"not_nullable": "null"}
# The failures of a frame's shape: pandera's failure case is then a column name or a type, never a value.
SHAPE_CHECKS = {"column_in_schema": "column {case} not declared", "column_in_dataframe": "column {case} missing"}


class ContractBroken(ValueError):
    """Derived tables that break their contract; the message is one line of tables, rules, counts and keys."""


@dataclass(frozen=True)
class BrokenRule:
    """One rule a derived table breaks: the table, the rule, how many rows (None for its shape), and a few of their keys."""

    table: str
    rule: str
    count: int | None
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.count is None:
            return f"{self.table}: {self.rule}"
        shown = f": {', '.join(self.keys)}" if self.keys else ""
        return f"{self.table}: {self.rule} ({self.count} row{'' if self.count == 1 else 's'}{shown})"


@dataclass(frozen=True)
class RowRule:
    """A rule over the columns of one row of a table: `kept` is True for a row that keeps it."""

    name: str
    kept: pl.Expr


def _row_rules() -> dict[str, list[RowRule]]:
    applied = pl.col("status") == PaymentStatus.APPLIED.value
    refund = pl.col("overpaid_amount") - pl.col("offset_amount")
    return {
        "payments": [
            # SPEC §3: エラー区分 00 is an applied payment's, and only an applied payment has a receivable.
            RowRule("status and error_class disagree (applied ⇔ 00)", applied == (pl.col("error_class") == ErrorClass.APPLIED.value)),
            RowRule("receivable_id not present exactly when applied", applied == pl.col("receivable_id").is_not_null()),
            # A returned payment (SPEC §6) is overpaid whole, with no receivable.
            RowRule(
                "overpaid_amount not present exactly when applied or returned",
                (applied | (pl.col("status") == PaymentStatus.RETURNED.value)) == pl.col("overpaid_amount").is_not_null(),
            ),
        ],
        "refund_candidates": [RowRule("refund_amount ≠ overpaid_amount − offset_amount", pl.col("refund_amount") == refund)],
    }


@cache
def derived_schemas() -> dict[str, pa.DataFrameSchema]:
    """The pandera schema of every derived table, generated from its declaration in schemas/tables.py."""
    rules = _row_rules()
    return {table.name: table_schema(table, rules.get(table.name, [])) for table in derived_tables()}


@cache
def whole_table_schemas() -> dict[str, pa.DataFrameSchema]:
    """Every derived table's schema with its value rules in one check (`whole_table_schema`)."""
    rules = _row_rules()
    return {table.name: whole_table_schema(table, rules.get(table.name, [])) for table in derived_tables()}


def whole_table_schema(table: Table, row_rules: list[RowRule] | None = None) -> pa.DataFrameSchema:
    """The strict pandera schema of a table's shape (columns, order, types) and one check that every row keeps every rule of `table_schema`.

    The same rules as `table_schema`'s, from the same declarations, asked in one polars pass: pandera
    spends about a millisecond on each column and check of a frame however small, most of a small
    run's contracts. A table it fails is validated again with `table_schema`, which names the rules
    broken and counts their rows.
    """
    dtypes = table.polars_schema
    columns = {column.name: pa.Column(dtypes[column.name], nullable=True, description=column.comment) for column in table.columns}
    kept = [_column_kept(column, dtypes[column.name]) for column in table.columns] + [rule.kept.fill_null(False) for rule in row_rules or []]
    check = pa.Check(_every_row_keeps(pl.all_horizontal(kept).all(), table.key), name="every rule of the table")
    return pa.DataFrameSchema(columns, checks=[check], strict=True, ordered=True, name=table.name)


def _column_kept(column: Column, dtype: pl.DataType) -> pl.Expr:
    """True for a row whose value keeps the column's contract: the checks of `_pandera_column`, a null verdict passing as in pandera."""
    contract, value, kept = column.contract, pl.col(column.name), pl.lit(True)
    if not contract.nullable:
        # pandera's own null check counts a float NaN as null.
        kept = value.is_not_null() & value.is_not_nan() if dtype.is_float() else value.is_not_null()
    if contract.minimum is not None:
        kept = kept & value.ge(contract.minimum).fill_null(True)
    if contract.codes is not None:
        kept = kept & value.is_in([member.value for member in contract.codes]).fill_null(True)
    return kept


def _every_row_keeps(rows_kept: pl.Expr, key: tuple[str, ...]) -> Callable[[PolarsData], bool]:
    """The check function: True when `rows_kept` and no two rows share the key (as `_key_check` finds them)."""

    def keeps(data) -> bool:
        if not data.lazyframe.select(rows_kept).collect().item():
            return False
        return not key or _rows_of_unique_key(data.lazyframe, key).select(pl.all().all()).collect().item()

    return keeps


def table_schema(table: Table, row_rules: list[RowRule] | None = None) -> pa.DataFrameSchema:
    """The strict pandera schema of a table: its columns' types, nulls, minimums and codes, its key unique, its row rules."""
    dtypes = table.polars_schema
    columns = {column.name: _pandera_column(column, dtypes[column.name]) for column in table.columns}
    checks = [_row_check(rule) for rule in row_rules or []] + ([_key_check(table.key)] if table.key else [])
    return pa.DataFrameSchema(columns, checks=checks, strict=True, ordered=True, name=table.name)


def _pandera_column(column: Column, dtype: pl.DataType) -> pa.Column:
    return pa.Column(dtype, checks=_value_checks(column), nullable=column.contract.nullable, description=column.comment)


def _value_checks(column: Column) -> list[pa.Check]:
    contract, checks = column.contract, []
    if contract.minimum is not None:
        checks.append(pa.Check.ge(contract.minimum, error=f"below {contract.minimum}"))
    if contract.codes is not None:
        checks.append(pa.Check.isin([member.value for member in contract.codes], error=f"outside {contract.codes.__name__}"))
    return checks


def _row_check(rule: RowRule) -> pa.Check:
    kept = rule.kept.fill_null(False)
    return pa.Check(lambda data: data.lazyframe.select(kept), name=rule.name)


def _key_check(key: tuple[str, ...]) -> pa.Check:
    """The rows whose key no other row has (CONTRACT.md: one row per key)."""

    return pa.Check(lambda data: _rows_of_unique_key(data.lazyframe, key), name=f"key {', '.join(key)} repeated")


def _rows_of_unique_key(rows: pl.LazyFrame, key: tuple[str, ...]) -> pl.LazyFrame:
    """One boolean a row: True where no other row has its key."""
    # Most derived tables come sorted on their key: then a repeat is next to its twin, and
    # comparing neighbours costs a tenth of hashing a million strings.
    if len(key) == 1 and rows.select(key).collect().to_series().is_sorted():
        column = pl.col(key[0])
        return rows.select((column != column.shift(1)).fill_null(True) & (column != column.shift(-1)).fill_null(True))
    return rows.select(~pl.struct(key).is_duplicated())


def broken_rules(tables: Mapping[str, pl.DataFrame]) -> list[BrokenRule]:
    """Every rule the derived tables break: their schemas' (generated) and the identities between them."""
    broken = [rule for name, schema in derived_schemas().items() for rule in _table_breaks(name, schema, tables[name])]
    return broken + application_breaks(tables["payments"], tables["applications"]) + offset_breaks(
        tables["refund_candidates"], tables["offsets"]
    )


def _table_breaks(name: str, schema: pa.DataFrameSchema, frame: pl.DataFrame) -> list[BrokenRule]:
    """The rules of the table `name` that `frame` breaks: none when it passes its whole-table schema, else `schema`'s report."""
    # The whole-table schema asks every rule of `schema` and no looser: a frame that passes it passes
    # `schema`; one that fails it is judged by `schema` itself.
    try:
        whole_table_schemas()[name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors:
        return _schema_breaks(name, schema, frame)
    return []


def _schema_breaks(name: str, schema: pa.DataFrameSchema, frame: pl.DataFrame) -> list[BrokenRule]:
    """The rules of `schema` that `frame` breaks, with the count of rows; pandera's failure values are dropped."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        shape = [_shape_break(name, *row) for row in cases.filter(pl.col("index").is_null()).select("column", "check", "failure_case").iter_rows()]
        rows = cases.filter(pl.col("index").is_not_null()).group_by("column", "check", maintain_order=True).agg(pl.len())
        return shape + [BrokenRule(name, _rule_name(name, column, check), count) for column, check, count in rows.iter_rows()]
    return []


def _shape_break(table: str, column: str | None, check: str, case: str | None) -> BrokenRule:
    """A broken column list or type: the column and type are named, they are the schema's, not data."""
    if check in SHAPE_CHECKS:
        return BrokenRule(table, SHAPE_CHECKS[check].format(case=case), None)
    if check.startswith("dtype("):
        return BrokenRule(table, f"{column} is {case}, not {check.removeprefix('dtype(').removesuffix(')')}", None)
    return BrokenRule(table, _rule_name(table, column, check), None)


def _rule_name(table: str, column: str | None, check: str) -> str:
    rule = PANDERA_CHECKS.get(check, check)
    # pandera files a check over whole rows (a row rule, the key) under the table's name.
    return rule if column in (None, table) else f"{column} {rule}"


def application_breaks(payments: pl.DataFrame, applications: pl.DataFrame) -> list[BrokenRule]:
    """Applied payments whose paid_total ≠ Σ applications + overpaid_amount; applications of no applied payment or to another receivable."""
    # A payment is applied to its one receivable, so `applications` is keyed by payment_key (the
    # schema checks it) and a payment's Σ is its one row: one join, no group_by, at millions of rows.
    applied = payments.filter(pl.col("status") == PaymentStatus.APPLIED.value).select(
        "payment_key", pl.col("receivable_id").alias("payment_receivable_id"), (pl.col("paid_total") - pl.col("overpaid_amount")).alias("due")
    )
    found = applications.select("payment_key", "receivable_id", pl.sum_horizontal(APPLIED_PARTS).alias("applied")).join(
        applied.with_columns(pl.lit(True).alias("of_applied")), on="payment_key", how="left"
    )
    of_applied = pl.col("of_applied").fill_null(False)
    unequal = found.filter(of_applied & ~(pl.col("due") == pl.col("applied")).fill_null(False))["payment_key"]
    if found.filter(of_applied).height < applied.height:
        unequal = pl.concat([unequal, _not_wholly_overpaid(applied.join(applications, on="payment_key", how="anti"))])
    elsewhere = found.filter(of_applied & pl.col("receivable_id").ne_missing(pl.col("payment_receivable_id")))["payment_key"]
    return (
        _breaks("payments", "paid_total ≠ Σ applications + overpaid_amount", unequal)
        + _breaks("applications", "of a payment not applied", found.filter(~of_applied)["payment_key"])
        + _breaks("applications", "to another receivable than its payment's", elsewhere)
    )


def _not_wholly_overpaid(unapplied: pl.DataFrame) -> pl.Series:
    """The keys of applied payments without applications whose paid_total is not all overpaid_amount."""
    # With no application a payment settled nothing: Σ applications is 0, so it is all overpaid.
    return unapplied.filter(~(pl.col("due") == 0).fill_null(False))["payment_key"]


def offset_breaks(refund_candidates: pl.DataFrame, offsets: pl.DataFrame) -> list[BrokenRule]:
    """Candidates whose offset_amount ≠ Σ their offsets, and offsets of no candidate."""
    offset_sums = _sums(offsets, "candidate_id", OFFSET_PARTS, "offsets")
    joined = refund_candidates.select("candidate_id", "offset_amount").join(offset_sums, on="candidate_id", how="left")
    unequal = joined.filter(pl.col("offset_amount") != pl.col("offsets").fill_null(0))["candidate_id"]
    orphans = offset_sums.join(refund_candidates, on="candidate_id", how="anti")["candidate_id"]
    return _breaks("refund_candidates", "offset_amount ≠ Σ offsets", unequal) + _breaks("offsets", "of no refund candidate", orphans)


def _sums(frame: pl.DataFrame, key: str, parts: tuple[str, ...], name: str) -> pl.DataFrame:
    """key and the parts of its rows summed, as `name`."""
    # Added across first, then summed per key: a plain sum keeps polars' fast group_by path.
    return frame.select(key, pl.sum_horizontal(parts).alias(name)).group_by(key).agg(pl.col(name).sum())


def _breaks(table: str, rule: str, keys: pl.Series) -> list[BrokenRule]:
    if keys.is_empty():
        return []
    return [BrokenRule(table, rule, len(keys), tuple(str(key) for key in keys.sort().head(KEYS_SHOWN)))]


def check_contracts(tables: Mapping[str, pl.DataFrame]) -> None:
    """Raises ContractBroken, with a one-line reason, when the derived tables break any rule of their contract."""
    broken = broken_rules(tables)
    if broken:
        more = f"; and {len(broken) - RULES_SHOWN} more" if len(broken) > RULES_SHOWN else ""
        raise ContractBroken("; ".join(str(rule) for rule in broken[:RULES_SHOWN]) + more)
