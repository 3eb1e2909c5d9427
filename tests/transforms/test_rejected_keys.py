"""The key fields and amount of a rejected record, read back from its bytes."""

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from schemas.layouts import load_layout
from tests.records import patched, record_frame
from transforms.fixed_width import records_bytes
from transforms.rejected_keys import KEY_SCHEMA, rejected_keys

PAYMENT, LINK_HISTORY = load_layout("payment"), load_layout("link_history")


def _rejects(data: bytes) -> pl.DataFrame:
    """One rejected record of these bytes."""
    return pl.DataFrame({"raw": [data]}, schema={"raw": pl.Binary})


def test_the_keys_and_amount_of_a_rejected_payment_record():
    data = records_bytes(record_frame("payment", paid_total=[12345]), PAYMENT, crlf=False)
    found = rejected_keys(_rejects(data), PAYMENT).drop("raw")
    expected = pl.DataFrame([("CT0000000000000001", 1, None, date(2026, 4, 30), 12345)], schema=KEY_SCHEMA, orient="row")
    assert_frame_equal(found, expected)


def test_a_broken_field_reads_as_null_and_a_layout_without_the_field_gives_null():
    data = records_bytes(record_frame("payment"), PAYMENT, crlf=False)
    # A double-byte character in 今回支払金額合計 and a letter in 連番: neither is a value.
    broken = patched(patched(data, 1, PAYMENT.field("paid_total").offset, "髙".encode("cp932")), 1, PAYMENT.field("sequence_number").offset, b"A")
    found = rejected_keys(_rejects(broken), PAYMENT)
    assert found.select("sequence_number", "amount").row(0) == (None, None)
    links = records_bytes(record_frame("link_history"), LINK_HISTORY, crlf=False)
    assert rejected_keys(_rejects(links), LINK_HISTORY).select("amount", "paid_on").row(0) == (None, None)
