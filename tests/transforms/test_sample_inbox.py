"""The sample inbox generator: receivables and snapshots, planted cases, byte anomalies, names."""

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.inbox import FileKind
from schemas.layouts import LayoutName, load_layout
from schemas.rates import load_rates
from tests.records import record_frame
from transforms.fixed_width import decoded_block, encoded_block
from transforms.sample_inbox import (
    SAMPLE_NAMES,
    payment_days,
    record_patch,
    sample_inbox,
    sighting_dates,
    with_nec_selected_codes,
)

PLANTED = {
    "qr_full", "ibm_extension_kanji", "filing_full", "link_redelivered", "management_redelivered", "partial",
    "late_with_late_fee", "dunning_fee_paid", "late_without_late_fee", "late_fee_only", "double_payment_first",
    "double_payment", "overpayment", "cancelled_receivable_payment", "reduced_receivable", "reversal_original",
    "reversal", "conflict", "response_code_error", "unknown_channel", "unknown_payment", "unconfirmed",
    "estimated_payment", "missing_management", "unlinked_taxpayer", "link_released", "late_link",
    "provisional_blank_id", "nec_selected_kanji", "provisional_withdrawn", "provisional_by_notice_number",
    "historical_provisional", "invalid_impossible_date", "invalid_half_width_in_k", "invalid_split_double_byte",
    "offset_first_payment", "offset", "offset_not_yet_due", "redelivery", "rejected_file", "crlf_file",
    "unrecognised_file",
}


@pytest.fixture(scope="module")
def inbox():
    return sample_inbox(200, seed=1, rates=load_rates())


def snapshot(inbox, day: date) -> pl.DataFrame:
    [found] = [file.records for file in inbox.files if file.kind == FileKind.RECEIVABLES and file.name.endswith(f"{day:%Y%m%d}_001.csv")]
    return found


def receivable(inbox, case: str, day: date) -> pl.DataFrame:
    planted = inbox.cases.filter(pl.col("case") == case)["receivable_id"][0]
    return snapshot(inbox, day).filter(pl.col("receivable_id") == planted).select("principal", "changed_on", "filing_receipt_number")


def test_every_planted_case_is_listed_with_where_it_lies(inbox):
    assert set(inbox.cases["case"]) == PLANTED
    names = {file.name for file in inbox.files}
    assert set(inbox.cases["file_name"]) <= names
    records = inbox.cases.filter(pl.col("record_number").is_not_null())
    assert records.height > 25
    assert records["settlement_date"].is_in(list(inbox.settlement_dates)).all()


def test_later_snapshots_reduce_one_receivable_drop_one_and_add_the_estimated_one(inbox):
    first, second, third = inbox.settlement_dates
    assert receivable(inbox, "cancelled_receivable_payment", first).height == 1
    assert receivable(inbox, "cancelled_receivable_payment", second).height == 0
    assert receivable(inbox, "cancelled_receivable_payment", third).height == 0
    assert receivable(inbox, "reduced_receivable", first).select("principal", "changed_on").rows() == [(58_000, None)]
    assert receivable(inbox, "reduced_receivable", third).select("principal", "changed_on").rows() == [(52_000, second)]
    assert receivable(inbox, "estimated_payment", second).height == 0
    assert receivable(inbox, "estimated_payment", third)["filing_receipt_number"].is_not_null().all()


def other_receivables(inbox, case: str) -> pl.DataFrame:
    """The receivables, in every snapshot, of the planted case's taxpayer other than the case's own."""
    planted = inbox.cases.filter(pl.col("case") == case)["receivable_id"][0]
    snapshots = pl.concat([snapshot(inbox, day) for day in inbox.settlement_dates])
    [taxpayer] = snapshots.filter(pl.col("receivable_id") == planted)["taxpayer_id"].unique().to_list()
    return snapshots.filter((pl.col("taxpayer_id") == taxpayer) & (pl.col("receivable_id") != planted))


def paid_receivables(inbox) -> set[str]:
    """notice_number and payment_number of every receivable a payment or 仮登録 record of the sample pays."""
    paying = (
        FileKind.PAYMENT_BY_PAYMENT_DATE, FileKind.PAYMENT_BY_DEPOSIT, FileKind.PROVISIONAL_BY_PAYMENT_DATE, FileKind.PROVISIONAL_BY_DEPOSIT,
    )
    keys = set()
    for file in inbox.files:
        if file.kind in paying:
            for column in {"notice_number", "payment_number"} & set(file.records.columns):
                keys |= set(file.records[column].drop_nulls().to_list())
    return keys


def test_the_offset_cases_owe_a_receivable_past_its_due_date_and_one_not_yet_due(inbox):
    last = inbox.settlement_dates[-1]
    target = other_receivables(inbox, "offset").unique()
    assert target.select("due_date", "principal", "dunning_fee").rows() == [(date(2025, 10, 31), 30_500, 100)]
    not_due = other_receivables(inbox, "offset_not_yet_due").unique()
    assert not_due.height == 1 and not_due["due_date"][0] > last
    paid = paid_receivables(inbox)
    assert len(paid) > 100
    for receivable in (target, not_due):
        assert not ({receivable["notice_number"][0], receivable["payment_number"][0]} & paid)


def test_receivables_are_about_twice_the_payments_with_unique_ids(inbox):
    receivables = snapshot(inbox, inbox.settlement_dates[0])
    assert 320 <= receivables.height <= 480
    assert receivables["receivable_id"].is_unique().all()
    eltax = receivables.filter(pl.col("tax_code").is_in(["020", "030", "070"]))
    assert eltax["filing_receipt_number"].is_not_null().all() and eltax["payment_number"].is_null().all()
    qr = receivables.filter(pl.col("tax_code").is_in(["010", "040", "050", "060"]))
    assert qr["payment_number"].is_not_null().all() and qr["confirmation_number"].is_not_null().all()
    assert (receivables["dunning_fee"] > 0).any() and receivables["due_date"].dt.weekday().is_in([6, 7]).any()


def test_another_seed_draws_another_city_but_plants_the_same_cases(inbox):
    other = sample_inbox(200, seed=2, rates=load_rates())
    assert not snapshot(other, other.settlement_dates[0]).equals(snapshot(inbox, inbox.settlement_dates[0]))
    assert_frame_equal(other.cases.drop("record_number"), inbox.cases.drop("record_number"))


def test_sightings_come_the_next_business_day_and_two_business_days_after_payment():
    # Friday 5/8/2026: 速報 on Monday 5/11, deposit and 確報 on Tuesday 5/12.
    assert sighting_dates(date(2026, 5, 8)) == (date(2026, 5, 11), date(2026, 5, 12))
    days = payment_days((date(2026, 5, 11), date(2026, 5, 12), date(2026, 5, 13)))
    expected = pl.DataFrame(
        {
            "paid_on": [date(2026, 5, day) for day in range(7, 13)],
            "quick_on": [None, *[date(2026, 5, 11)] * 3, date(2026, 5, 12), date(2026, 5, 13)],
            "confirm_on": [date(2026, 5, 11), *[date(2026, 5, 12)] * 3, date(2026, 5, 13), None],
            "weight": [1.0, 1.0, 0.3, 0.3, 1.0, 1.0],
        }
    )
    assert_frame_equal(days, expected)


def test_sample_names_hold_cp932_only_characters():
    text = "".join(SAMPLE_NAMES)
    assert {"髙", "﨑", "①", "㈱"} <= set(text)
    assert all(name.encode("cp932").decode("cp932") == name for name in SAMPLE_NAMES)
    assert bytes([0xFB, 0xFC]).decode("cp932") == "髙"


def test_nec_selected_codes_change_the_bytes_not_the_text():
    layout = load_layout(LayoutName.PROVISIONAL)
    frame = record_frame(LayoutName.PROVISIONAL, 2, payer_name=["髙橋　﨑子", "佐藤　花子"], payer_address=["昭島市①髙﨑ハイツ", None])
    written = encoded_block(frame, layout)
    untouched = written.copy()
    nec_selected = with_nec_selected_codes(written, layout)
    np.testing.assert_array_equal(written, untouched)
    name = layout.field("payer_name")
    # The writer puts 髙 as IBM 0xFBFC and 﨑 as IBM 0xFAB1; the NEC-selected twins are 0xEEE0 and 0xED95.
    assert bytes(written[0, name.offset : name.end]).startswith(b"\xfb\xfc")
    assert bytes(nec_selected[0, name.offset : name.end]).startswith(b"\xee\xe0")
    assert b"\xfa\xb1" in bytes(written[0, name.offset : name.end])
    assert b"\xed\x95" in bytes(nec_selected[0, name.offset : name.end])
    assert_frame_equal(decoded_block(nec_selected, layout, 1).frame, decoded_block(written, layout, 1).frame)


def test_record_patch_places_each_anomaly_at_its_field():
    layout = load_layout(LayoutName.PAYMENT)
    patch = record_patch("impossible_date", 3, layout, date(2026, 5, 12))
    assert (patch.record, patch.offset, patch.value) == (3, layout.field("paid_on").offset, b"20260231")
    cut = record_patch("split_double_byte", 3, layout, date(2026, 5, 12))
    assert cut.offset == layout.field("payer_name_kana").end - 1


def test_record_patch_refuses_an_unknown_anomaly():
    with pytest.raises(ValueError, match="unknown anomaly"):
        record_patch("upside_down", 1, load_layout(LayoutName.PAYMENT), date(2026, 5, 12))


def test_a_sample_needs_three_settlement_days():
    with pytest.raises(ValueError, match="settlement days"):
        sample_inbox(10, seed=1, rates=load_rates(), settlement_days=2)
