"""The work queue (SPEC §6.2): waiting payments, oldest 納付日 first, with up to three suggestions and their reasons."""

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from schemas.codes import ErrorClass, PaymentStatus, SuggestionReason
from schemas.tables import stored_input_tables
from transforms.ledger import TABLE_SCHEMAS
from transforms.receivables import current_receivables, receivable_versions
from transforms.work_queue import reissued_numbers, work_queue

AS_OF = date(2026, 5, 13)
SNAPSHOT_SCHEMA = next(table for table in stored_input_tables() if table.name == "receivable_snapshots").polars_schema
FIRST_SNAPSHOT, SECOND_SNAPSHOT = date(2026, 5, 11), date(2026, 5, 12)
PAYMENT_SCHEMA = {
    "payment_key": pl.String,
    "status": pl.String,
    "error_class": pl.String,
    "paid_on": pl.Date,
    "paid_total": pl.Int64,
    "paid_principal": pl.Int64,
    "first_seen_on": pl.Date,
    "payment_number": pl.String,
    "confirmation_number": pl.String,
    "tax_code": pl.String,
    "installment": pl.String,
    "eltax_tax_class": pl.String,
    "filing_receipt_number": pl.String,
}
RECEIVABLE_DEFAULTS = {
    "taxpayer_id": "T1",
    "tax_code": "010",
    "installment": "01",
    "payment_number": None,
    "confirmation_number": None,
    "filing_receipt_number": None,
    "principal": 10_000,
    "dunning_fee": 0,
    # Not yet due on AS_OF: what is left of it is summed from the applications, not read from arrears.
    "due_date": date(2026, 5, 29),
}
REISSUED, FILING, SAME = SuggestionReason.REISSUED_NUMBERS, SuggestionReason.FILING_NUMBER, SuggestionReason.SAME_PRINCIPAL


def payment(key: str, paid_on: date = date(2026, 5, 1), principal: int = 10_000, **fields) -> dict:
    """A pending (20) payment-file payment first seen on the first snapshot's day, with `fields` over it."""
    row = dict.fromkeys(PAYMENT_SCHEMA) | {
        "payment_key": key,
        "status": PaymentStatus.PENDING.value,
        "error_class": ErrorClass.NO_RECEIVABLE.value,
        "paid_on": paid_on,
        "paid_total": principal,
        "paid_principal": principal,
        "first_seen_on": FIRST_SNAPSHOT,
    }
    return row | fields


def payments(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PAYMENT_SCHEMA)


def receivable(receivable_id: str, **fields) -> dict:
    return {"receivable_id": receivable_id} | RECEIVABLE_DEFAULTS | fields


def snapshots(*versions: tuple[date, dict]) -> pl.DataFrame:
    """Stored snapshot rows, one (day, receivable) each; a day is one delivery."""
    origin = {"file_name": "CHOTEI", "delivery_number": 1}
    rows = [dict.fromkeys(SNAPSHOT_SCHEMA) | origin | {"snapshot_date": day} | row for day, row in versions]
    return pl.DataFrame(rows, schema=SNAPSHOT_SCHEMA)


def queue(matched: pl.DataFrame, stored: pl.DataFrame, **settled: pl.DataFrame) -> pl.DataFrame:
    """The work queue of matched against the stored snapshots; `settled`: applications, offsets, arrears (none when not given)."""
    versions = receivable_versions(stored)
    tables = {name: settled.get(name, pl.DataFrame(schema=TABLE_SCHEMAS[name])) for name in ("applications", "offsets", "arrears")}
    return work_queue(matched, reissued_numbers(stored, versions), versions, current_receivables(stored), **tables, as_of=AS_OF)


def table_rows(table: str, *rows: dict) -> pl.DataFrame:
    """Rows of a derived table, the columns not given null."""
    return pl.DataFrame([dict.fromkeys(TABLE_SCHEMAS[table]) | row for row in rows], schema=TABLE_SCHEMAS[table])


def suggestions(table: pl.DataFrame) -> list[tuple]:
    return table.select("payment_key", "suggestion_rank", "suggested_receivable_id", "suggestion_reason").rows()


def test_reissued_numbers_are_those_an_earlier_version_carried_and_the_newest_does_not():
    stored = snapshots(
        (FIRST_SNAPSHOT, receivable("R1", payment_number="N1", confirmation_number="C1")),
        (FIRST_SNAPSHOT, receivable("R2", payment_number="N2", confirmation_number="C2")),
        (SECOND_SNAPSHOT, receivable("R1", payment_number="N9", confirmation_number="C9")),
        (SECOND_SNAPSHOT, receivable("R2", payment_number="N2", confirmation_number="C2")),
    )
    expected = pl.DataFrame({"receivable_id": ["R1"], "payment_number": ["N1"], "confirmation_number": ["C1"]})
    assert_frame_equal(reissued_numbers(stored, receivable_versions(stored)), expected)


def test_a_payment_of_a_reissued_bill_is_suggested_the_receivable_its_numbers_were_on():
    stored = snapshots(
        (FIRST_SNAPSHOT, receivable("R1", payment_number="N1", confirmation_number="C1", principal=7_000)),
        (SECOND_SNAPSHOT, receivable("R1", payment_number="N9", confirmation_number="C9", principal=7_000)),
    )
    table = queue(payments(payment("P1", payment_number="N1", confirmation_number="C1", principal=5_000)), stored)
    expected = pl.DataFrame(
        {
            "payment_key": ["P1"],
            "status": ["pending"],
            "error_class": ["20"],
            "paid_on": [date(2026, 5, 1)],
            "paid_total": [5_000],
            "first_seen_on": [FIRST_SNAPSHOT],
            # as_of − first_seen_on, not − 納付日: the office had it from 5/11.
            "days_waiting": [2],
            "suggestion_rank": [1],
            "suggested_receivable_id": ["R1"],
            "suggestion_reason": ["reissued_numbers"],
            "as_of": [AS_OF],
        },
        schema=TABLE_SCHEMAS["work_queue"],
    )
    assert_frame_equal(table, expected)


def test_an_unlinked_filing_payment_is_suggested_the_receivable_of_its_filing_number():
    stored = snapshots((FIRST_SNAPSHOT, receivable("R1", filing_receipt_number="F1", principal=90_000)), (FIRST_SNAPSHOT, receivable("R2")))
    unlinked = payment("P1", error_class=ErrorClass.NOT_LINKED.value, filing_receipt_number="F1", principal=1)
    # A 20 with a filing number found no receivable for its linked taxpayer: the filing rule is for 10 only.
    not_found = payment("P2", filing_receipt_number="F1", principal=2)
    assert suggestions(queue(payments(unlinked, not_found), stored)) == [("P1", 1, "R1", FILING), ("P2", None, None, None)]


def test_same_principal_needs_the_same_tax_code_and_installment_when_the_payment_has_them():
    stored = snapshots(
        (FIRST_SNAPSHOT, receivable("R1", installment="02")),
        (FIRST_SNAPSHOT, receivable("R2", tax_code="020")),
        (FIRST_SNAPSHOT, receivable("R3")),
        (FIRST_SNAPSHOT, receivable("R4", principal=10_001)),
    )
    provisional = payment("P1", tax_code="010", installment="01")
    # A payment-file payment has no 期別; its 管理 record's 税目区分 10 is 税目 010.
    filing = payment("P2", eltax_tax_class="10")
    bare = payment("P3")
    assert suggestions(queue(payments(provisional, filing, bare), stored)) == [
        ("P1", 1, "R3", SAME),
        ("P2", 1, "R1", SAME),
        ("P2", 2, "R3", SAME),
        ("P3", 1, "R1", SAME),
        ("P3", 2, "R2", SAME),
        ("P3", 3, "R3", SAME),
    ]


def test_same_principal_compares_what_is_left_after_payments_and_offsets_and_reads_arrears_for_what_is_past_due():
    stored = snapshots(
        (FIRST_SNAPSHOT, receivable("R1", principal=15_000)),
        (FIRST_SNAPSHOT, receivable("R2", principal=12_000)),
        (FIRST_SNAPSHOT, receivable("R3", principal=10_000)),
        (FIRST_SNAPSHOT, receivable("R4", principal=30_000, due_date=date(2026, 4, 30))),
    )
    applications = table_rows("applications", {"payment_key": "A1", "receivable_id": "R1", "principal_applied": 5_000})
    offsets = table_rows("offsets", {"candidate_id": "C1", "receivable_id": "R2", "principal_offset": 2_000})
    # R3 is fully offset; R4, past due, has 10,000 of its 本税 left, as arrears says.
    offsets = pl.concat([offsets, table_rows("offsets", {"candidate_id": "C1", "receivable_id": "R3", "principal_offset": 10_000})])
    arrears = table_rows("arrears", {"receivable_id": "R4", "tax_code": "010", "installment": "01", "principal_outstanding": 10_000})
    table = queue(payments(payment("P1")), stored, applications=applications, offsets=offsets, arrears=arrears)
    assert suggestions(table) == [("P1", 1, "R1", SAME), ("P1", 2, "R2", SAME), ("P1", 3, "R4", SAME)]


def test_at_most_three_suggestions_the_strongest_reason_first_and_a_receivable_once():
    stored = snapshots(
        (FIRST_SNAPSHOT, receivable("R9", payment_number="N1", confirmation_number="C1")),
        *[(SECOND_SNAPSHOT, receivable(receivable_id)) for receivable_id in ("R1", "R2", "R3", "R4")],
        (SECOND_SNAPSHOT, receivable("R9", payment_number="N2", confirmation_number="C2")),
    )
    table = queue(payments(payment("P1", payment_number="N1", confirmation_number="C1")), stored)
    # R9 owes the same 10,000 too, but is suggested once, for its stronger reason.
    assert suggestions(table) == [("P1", 1, "R9", REISSUED), ("P1", 2, "R1", SAME), ("P1", 3, "R2", SAME)]


def test_every_waiting_payment_is_listed_oldest_first_with_or_without_a_suggestion_and_no_other():
    stored = snapshots((FIRST_SNAPSHOT, receivable("R1", principal=500)))
    matched = payments(
        payment("P1", date(2026, 5, 8), principal=1_234),
        payment("P2", date(2026, 4, 1), status=PaymentStatus.HELD.value, error_class=ErrorClass.CONFLICT.value, principal=500, first_seen_on=AS_OF),
        payment("P3", date(2026, 3, 1), status=PaymentStatus.APPLIED.value, error_class=ErrorClass.APPLIED.value),
        payment("P4", date(2026, 4, 1), status=PaymentStatus.REVERSED.value, error_class=ErrorClass.OTHER.value),
    )
    table = queue(matched, stored)
    assert table.select("payment_key", "status", "days_waiting", "suggestion_rank", "suggested_receivable_id").rows() == [
        ("P2", "held", 0, 1, "R1"),
        ("P1", "pending", 2, None, None),
    ]


def test_an_empty_queue_has_the_table_columns():
    stored = snapshots((FIRST_SNAPSHOT, receivable("R1")))
    applied = payment("P1", status=PaymentStatus.APPLIED.value, error_class=ErrorClass.APPLIED.value)
    assert_frame_equal(queue(payments(applied), stored), pl.DataFrame(schema=TABLE_SCHEMAS["work_queue"]))


def test_no_snapshot_yet_has_no_reissued_numbers():
    stored = pl.DataFrame(schema=SNAPSHOT_SCHEMA)
    assert reissued_numbers(stored, receivable_versions(stored)).rows() == []
