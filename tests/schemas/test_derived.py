"""The derived tables' contracts: each rule broken on a tiny set of tables, and one message line naming no value."""

from __future__ import annotations

from datetime import date, time

import polars as pl
import pytest

from schemas.codes import ErrorClass, PaymentStatus
from schemas.derived import ContractBroken, broken_rules, check_contracts, derived_schemas, whole_table_schemas
from schemas.tables import Table, derived_tables

TABLES = {table.name: table for table in derived_tables()}
DAY = date(2026, 5, 13)
ZERO_BY_TYPE = {pl.String: "K1", pl.Int64: 0, pl.Int32: 0, pl.Date: DAY, pl.Time: time(9), pl.Boolean: False}


def _row(table: Table, **values) -> dict:
    """A row that keeps every column contract of `table`: the first code, the minimum, else a plain value."""
    row = {}
    for column, dtype in zip(table.columns, table.polars_schema.dtypes()):
        contract = column.contract
        default = next(iter(contract.codes)).value if contract.codes else ZERO_BY_TYPE[type(dtype)]
        row[column.name] = contract.minimum if contract.minimum not in (None, 0) else default
    return row | values


def _frame(name: str, *rows: dict) -> pl.DataFrame:
    table = TABLES[name]
    return pl.DataFrame([_row(table, **row) for row in rows], schema=table.polars_schema, orient="row")


def _world(**changed: list[dict]) -> dict[str, pl.DataFrame]:
    """One applied payment of 5,000 yen: 4,000 applied, 1,000 overpaid, of which 300 offset and 700 refunded."""
    rows = {name: [] for name in TABLES}
    rows |= {
        "receivables": [{"receivable_id": "R1"}],
        "payments": [{"payment_key": "P1", "paid_total": 5000, "receivable_id": "R1", "overpaid_amount": 1000}],
        "provisional_payments": [{"payment_key": "P1", "paid_total": 5000}],
        "applications": [{"payment_key": "P1", "receivable_id": "R1", "principal_applied": 4000}],
        "refund_candidates": [{"candidate_id": "C1", "payment_key": "P1", "overpaid_amount": 1000, "offset_amount": 300, "refund_amount": 700}],
        "offsets": [{"candidate_id": "C1", "receivable_id": "R2", "principal_offset": 300}],
        "arrears": [{"receivable_id": "R2"}],
    }
    return {name: _frame(name, *changed.get(name, table_rows)) for name, table_rows in rows.items()}


def _rules(tables: dict[str, pl.DataFrame]) -> set[str]:
    return {f"{rule.table}: {rule.rule}" for rule in broken_rules(tables)}


def test_tables_that_keep_their_contract_break_no_rule():
    assert broken_rules(_world()) == []
    check_contracts(_world())


def test_tables_that_keep_their_contract_pass_their_whole_table_schemas_sorted_or_not():
    # Tables that keep every rule pass the one check of every rule; pandera is asked rule by rule only for one that fails it.
    for name, frame in _world().items():
        whole_table_schemas()[name].validate(frame)
    payment = {"payment_key": "P1", "paid_total": 5000, "receivable_id": "R1", "overpaid_amount": 1000}
    unsorted = _world(payments=[payment, payment | {"payment_key": "P0", "paid_total": 1000, "overpaid_amount": 1000}])["payments"]
    whole_table_schemas()["payments"].validate(unsorted)


def test_the_schemas_are_generated_from_the_table_declarations():
    for name, schema in derived_schemas().items():
        table = TABLES[name]
        assert list(schema.columns) == table.column_names
        assert [column.description for column in schema.columns.values()] == [column.comment for column in table.columns]
        assert schema.strict and schema.ordered and f"key {', '.join(table.key)} repeated" in [check.name for check in schema.checks]
    payments = derived_schemas()["payments"].columns
    assert not payments["paid_total"].nullable and payments["overpaid_amount"].nullable
    # A coded column's COMMENT lists the codes its contract checks.
    error_class = next(column for column in TABLES["payments"].columns if column.name == "error_class")
    assert error_class.comment == "エラー区分 (00 消込済, 10 未紐付, 20 調定なし, 30 管理なし, 40 不一致, 50 不明な取消, 90 その他)"
    assert all(f"{code.value} {code.label}" in error_class.comment for code in ErrorClass)
    late_fee_status = next(column for column in TABLES["arrears"].columns if column.name == "late_fee_status")
    assert late_fee_status.comment == "見込 (本税未納) / 確定 (本税完納)"


def test_an_application_that_does_not_add_up_to_the_payment_breaks_the_identity():
    broken = _world(applications=[{"payment_key": "P1", "receivable_id": "R1", "principal_applied": 3999}])
    assert broken_rules(broken)[0].keys == ("P1",)
    assert _rules(broken) == {"payments: paid_total ≠ Σ applications + overpaid_amount"}


def test_an_application_of_a_payment_not_applied_breaks_the_identity():
    broken = _world(applications=[{"payment_key": "P1", "receivable_id": "R1", "principal_applied": 4000}, {"payment_key": "P9", "receivable_id": "R1"}])
    assert _rules(broken) == {"applications: of a payment not applied"}


def test_a_refund_that_is_not_overpaid_less_offset_breaks_the_identity():
    broken = _world(refund_candidates=[{"candidate_id": "C1", "overpaid_amount": 1000, "offset_amount": 300, "refund_amount": 600}])
    assert _rules(broken) == {"refund_candidates: refund_amount ≠ overpaid_amount − offset_amount"}


def test_an_offset_amount_that_is_not_the_sum_of_the_offsets_breaks_the_identity():
    broken = _world(offsets=[{"candidate_id": "C1", "receivable_id": "R2", "principal_offset": 200}])
    assert _rules(broken) == {"refund_candidates: offset_amount ≠ Σ offsets"}
    orphan = _world(offsets=[{"candidate_id": "C1", "principal_offset": 300}, {"candidate_id": "C9", "receivable_id": "R3"}])
    assert _rules(orphan) == {"offsets: of no refund candidate"}


def test_a_negative_refund_breaks_the_minimum_even_when_it_adds_up():
    broken = _world(refund_candidates=[{"candidate_id": "C1", "overpaid_amount": 200, "offset_amount": 300, "refund_amount": -100}])
    assert _rules(broken) == {"refund_candidates: refund_amount below 0"}


@pytest.mark.parametrize(
    ("table", "values", "rule"),
    [
        ("provisional_payments", {"payment_key": "P1", "error_class": "60"}, "provisional_payments: error_class outside ErrorClass"),
        ("provisional_payments", {"payment_key": "P1", "payment_class": "04"}, "provisional_payments: payment_class outside PaymentClass"),
        ("arrears", {"receivable_id": "R2", "late_fee_status": "未定"}, "arrears: late_fee_status outside LateFeeStatus"),
        ("refund_candidates", {"candidate_id": "C1", "overpaid_amount": 1000, "offset_amount": 300, "refund_amount": 700, "kind": "還付"}, "refund_candidates: kind outside RefundKind"),
        ("arrears", {"receivable_id": "R2", "late_fee": None}, "arrears: late_fee null"),
        ("arrears", {"receivable_id": "R2", "days_overdue": 0}, "arrears: days_overdue below 1"),
        ("receivables", {"receivable_id": None}, "receivables: receivable_id null"),
        ("offsets", {"candidate_id": "C1", "receivable_id": "R2", "principal_offset": 400, "late_fee_offset": -100}, "offsets: late_fee_offset below 0"),
    ],
)
def test_a_value_outside_its_column_contract_breaks_it(table, values, rule):
    assert _rules(_world(**{table: [values]})) == {rule}


def test_a_status_outside_the_enum_breaks_it_and_the_status_rules():
    broken = _world(payments=[{"payment_key": "P1", "paid_total": 5000, "receivable_id": "R1", "overpaid_amount": 1000, "status": "paid"}])
    assert _rules(broken) == {
        "payments: status outside PaymentStatus",
        "payments: status and error_class disagree (applied ⇔ 00)",
        "payments: receivable_id not present exactly when applied",
        "payments: overpaid_amount not present exactly when applied or returned",
        "applications: of a payment not applied",
    }


def test_an_applied_payment_without_its_receivable_breaks_the_row_rule():
    applied = {"payment_key": "P1", "paid_total": 5000, "overpaid_amount": 1000, "status": PaymentStatus.APPLIED.value}
    assert _rules(_world(payments=[applied | {"receivable_id": None}])) == {
        "payments: receivable_id not present exactly when applied",
        "applications: to another receivable than its payment's",
    }


def test_an_application_to_another_receivable_than_its_payments_breaks_the_identity():
    broken = _world(applications=[{"payment_key": "P1", "receivable_id": "R2", "principal_applied": 4000}])
    assert _rules(broken) == {"applications: to another receivable than its payment's"}


def test_an_applied_payment_without_applications_must_be_wholly_overpaid():
    wholly = {"payment_key": "P1", "paid_total": 5000, "receivable_id": "R1", "overpaid_amount": 5000}
    assert broken_rules(_world(payments=[wholly], applications=[])) == []
    assert _rules(_world(applications=[])) == {"payments: paid_total ≠ Σ applications + overpaid_amount"}


def test_a_repeated_key_breaks_the_table_key_sorted_or_not():
    payment = {"payment_key": "P1", "paid_total": 5000, "receivable_id": "R1", "overpaid_amount": 1000}
    other = payment | {"payment_key": "P0", "paid_total": 1000, "overpaid_amount": 1000}
    application = {"payment_key": "P1", "receivable_id": "R1", "principal_applied": 4000}
    broken = _world(payments=[payment, other, payment], applications=[application, application])
    repeated = [rule for rule in broken_rules(broken) if "repeated" in rule.rule]
    assert [(rule.table, rule.rule, rule.count) for rule in repeated] == [
        ("payments", "key payment_key repeated", 2),
        ("applications", "key payment_key repeated", 2),
    ]
    offset = {"candidate_id": "C1", "receivable_id": "R2", "principal_offset": 150}
    assert "offsets: key candidate_id, receivable_id repeated" in _rules(_world(offsets=[offset, offset]))


def test_a_wrong_type_or_an_extra_column_breaks_the_strict_schema():
    tables = _world()
    tables["receivables"] = tables["receivables"].with_columns(pl.col("principal").cast(pl.Int32))
    tables["offsets"] = tables["offsets"].with_columns(pl.lit(1).alias("extra"))
    tables["arrears"] = tables["arrears"].drop("late_fee")
    assert [str(rule) for rule in broken_rules(tables)] == [
        "receivables: principal is Int32, not 'Int64'",
        "arrears: column late_fee missing",
        "offsets: column extra not declared",
    ]


def test_a_broken_contract_raises_one_line_naming_no_value():
    provisional = {"payment_key": "P1", "payer_name": "山田太郎", "payer_address": "昭島市田中町1-1", "paid_total": -5000}
    with pytest.raises(ContractBroken) as raised:
        check_contracts(_world(provisional_payments=[provisional]))
    message = str(raised.value)
    assert message == "provisional_payments: paid_total below 0 (1 row)"
    assert "\n" not in message and "山田" not in message and "5000" not in message
