"""Matching payments to receivables by routes 1–3 (SPEC §3; docs/reconciliation.md step 3)."""

from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.transforms.test_payments import (
    CONFIRMED,
    KEY_1,
    TABLES,
    link_file,
    management_file,
    payment_file,
    payments_of,
    provisional_file,
    receivable_versions,
)
from transforms.matching import matched_columns, matched_payments

DAY = date(2026, 4, 30)
PAID_ON = date(2026, 4, 30)
FILING = "R0000000000000000001"
ELTAX_TAXPAYER = "ELTX00000000001"


def no_management() -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES["management_records"].polars_schema)


def no_links() -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES["link_records"].polars_schema)


def matched(payments, receivables, management=None, links=None) -> pl.DataFrame:
    return matched_payments(
        payments,
        no_management() if management is None else management,
        no_links() if links is None else links,
        receivables,
    )


def outcome(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("payment_key", "route", "status", "error_class", "receivable_id")


def expected_outcome(*rows: tuple) -> pl.DataFrame:
    schema = {"payment_key": pl.String, "route": pl.Int64, "status": pl.String, "error_class": pl.String, "receivable_id": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def qr_payment(**columns) -> pl.DataFrame:
    """One eL-QR payment (route 1) paid on PAID_ON with 納付番号 P1 / 確認番号 C1."""
    values = {"payment_number": ["P1"], "confirmation_number": ["C1"], "paid_on": [PAID_ON]} | columns
    return payments_of(payment_file(DAY, **values))


def test_route_1_matches_by_payment_and_confirmation_number():
    receivables = receivable_versions({"receivable_id": "R1", "payment_number": "P1", "confirmation_number": "C1"}, {"receivable_id": "R2"})
    assert_frame_equal(outcome(matched(qr_payment(), receivables)), expected_outcome((KEY_1, 1, "applied", "00", "R1")))


@pytest.mark.parametrize(("scheme", "error_class"), [("02", "20"), ("01", "30")])
def test_route_1_miss_is_no_receivable_for_el_qr_and_no_management_record_otherwise(scheme, error_class):
    receivables = receivable_versions({"payment_number": "P9", "confirmation_number": "C1"})
    result = matched(qr_payment(payment_scheme=[scheme]), receivables)
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 1, "pending", error_class, None)))


def test_payment_to_a_cancelled_receivable_still_matches_it():
    receivables = receivable_versions({"payment_number": "P1", "confirmation_number": "C1", "principal": 0, "cancelled": True})
    assert_frame_equal(outcome(matched(qr_payment(), receivables)), expected_outcome((KEY_1, 1, "applied", "00", "R1")))


def test_key_two_receivables_share_matches_neither_90():
    receivables = receivable_versions(
        {"receivable_id": "R1", "payment_number": "P1", "confirmation_number": "C1"},
        {"receivable_id": "R2", "payment_number": "P1", "confirmation_number": "C1"},
    )
    assert_frame_equal(outcome(matched(qr_payment(), receivables)), expected_outcome((KEY_1, 1, "pending", "90", None)))


def test_only_payments_to_match_are_matched():
    receivables = receivable_versions({"payment_number": "P1", "confirmation_number": "C1"})
    held = payments_of(
        payment_file(DAY, payment_number=["P1"], confirmation_number=["C1"], paid_total=[10000]),
        payment_file(date(2026, 5, 7), CONFIRMED, payment_number=["P1"], confirmation_number=["C1"], paid_total=[9000]),
    )
    assert_frame_equal(outcome(matched(held, receivables)), expected_outcome((KEY_1, 1, "held", "40", None)))


FILING_RECEIVABLE = {"receivable_id": "R7", "taxpayer_id": "T000001", "tax_code": "030", "installment": "00", "filing_receipt_number": FILING}


def eltax_payment() -> pl.DataFrame:
    """One payment with a 管理 record (route 2), paid on PAID_ON, with no 納付番号 any receivable has."""
    return payments_of(payment_file(DAY, payment_scheme=["01"], paid_on=[PAID_ON]))


def management(**columns) -> pl.DataFrame:
    return management_file(DAY, **columns)


def links(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    """link_records, one per (特定キー1, 登録区分, 利用者情報更新日時)."""
    keys, classes, moments = zip(*rows)
    return link_file(DAY, specific_key_1=list(keys), registration_class=list(classes), linked_at=list(moments))


def test_route_2_finds_the_linked_taxpayer_and_the_filing_receivable():
    result = matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), management(), links(("T000001", "1", datetime(2026, 4, 1, 9))))
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 2, "applied", "00", "R7")))
    management_columns = result.select("eltax_taxpayer_id", "eltax_tax_class", "filing_receipt_number", "specific_key_1")
    assert management_columns.row(0) == (ELTAX_TAXPAYER, "01", FILING, "T000001")


def test_route_2_takes_the_newest_management_delivery():
    older = management_file(DAY, filing_receipt_number=["R0000000000000000999"])
    newer = management_file(DAY, delivery=2, filing_receipt_number=[FILING])
    link = links(("T000001", "1", datetime(2026, 4, 1)))
    result = matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), pl.concat([newer, older]), link)
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 2, "applied", "00", "R7")))


@pytest.mark.parametrize(
    ("link_rows", "expected"),
    [
        pytest.param([], ("pending", "10", None), id="no link"),
        pytest.param([("T000001", "1", datetime(2026, 4, 1)), ("T000001", "9", datetime(2026, 4, 20))], ("pending", "10", None), id="解除"),
        pytest.param([("T000001", "1", datetime(2026, 5, 1, 0, 0, 0))], ("pending", "10", None), id="link after the payment day"),
        pytest.param([("T000001", "1", datetime(2026, 4, 30, 23, 59, 59))], ("applied", "00", "R7"), id="link on the payment day"),
        pytest.param(
            [("T000001", "9", datetime(2026, 4, 1)), ("T000001", "1", datetime(2026, 4, 20)), ("T000002", "1", datetime(2026, 5, 2))],
            ("applied", "00", "R7"),
            id="relinked, later link ignored",
        ),
        pytest.param([("T000001", "1", datetime(2026, 4, 1)), ("T000002", "1", datetime(2026, 4, 1))], ("pending", "90", None), id="links disagree"),
        pytest.param([("T000002", "1", datetime(2026, 4, 1))], ("pending", "20", None), id="other taxpayer"),
    ],
)
def test_route_2_uses_the_newest_link_made_by_the_end_of_the_payment_day(link_rows, expected):
    link_records = links(*link_rows) if link_rows else None
    result = matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), management(), link_records)
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 2, *expected)))


def test_route_2_link_delivered_twice_is_one_event():
    link = ("T000001", "1", datetime(2026, 4, 1))
    twice = pl.concat([links(link), link_file(date(2026, 5, 1), specific_key_1=["T000001"], registration_class=["1"], linked_at=[link[2]])])
    result = matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), management(), twice)
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 2, "applied", "00", "R7")))


def test_route_2_estimated_payment_before_the_filing_is_assessed_is_20():
    estimated = management(estimated_payment_flag=["1"], filing_receipt_number=["R0000000000000000002"])
    result = matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), estimated, links(("T000001", "1", datetime(2026, 4, 1))))
    assert_frame_equal(outcome(result), expected_outcome((KEY_1, 2, "pending", "20", None)))


def provisional_payment(**columns) -> pl.DataFrame:
    values = {"common_tax_id": [None], "payment_info_sequence": [5]} | columns
    return payments_of(provisional=(provisional_file(DAY, **values),))


def test_route_3_matches_by_notice_number_and_installment():
    receivables = receivable_versions({"receivable_id": "R1", "installment": "01"}, {"receivable_id": "R2", "installment": "02"})
    result = matched(provisional_payment(installment=["02"]), receivables)
    assert_frame_equal(outcome(result), expected_outcome(("SEQ-0000000005", 3, "applied", "00", "R2")))


def test_route_3_falls_back_to_payment_and_confirmation_number():
    receivables = receivable_versions({"receivable_id": "R3", "notice_number": "N9", "payment_number": "P1", "confirmation_number": "C1"})
    result = matched(provisional_payment(payment_number=["P1"], confirmation_number=["C1"]), receivables)
    assert_frame_equal(outcome(result), expected_outcome(("SEQ-0000000005", 3, "applied", "00", "R3")))


def test_route_3_miss_is_20_and_an_ambiguous_notice_is_90():
    by_number = {"receivable_id": "R3", "notice_number": "N9", "payment_number": "P1", "confirmation_number": "C1"}
    receivables = receivable_versions({"receivable_id": "R1"}, {"receivable_id": "R2"}, by_number)
    missing = provisional_payment(notice_number=["N404"], payment_info_sequence=[6])
    ambiguous = provisional_payment(payment_number=["P1"], confirmation_number=["C1"])
    result = matched(pl.concat([missing, ambiguous]), receivables)
    expected = expected_outcome(("SEQ-0000000006", 3, "pending", "20", None), ("SEQ-0000000005", 3, "pending", "90", None))
    assert_frame_equal(outcome(result), expected)


def test_matched_payments_keep_the_payments_and_add_the_route_and_management_columns():
    result = matched(qr_payment(), receivable_versions({}))
    assert result.columns == matched_columns()
    assert result.height == 1


def test_matched_payments_need_the_link_moment():
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        matched(eltax_payment(), receivable_versions(FILING_RECEIVABLE), management(), no_links().drop("linked_at"))
