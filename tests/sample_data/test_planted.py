"""The planted cases: each listed with where it lies, on receivables of its own that later snapshots change."""

from datetime import date

import polars as pl

from schemas.inbox import FileKind

PLANTED = {
    "qr_full", "ibm_extension_kanji", "filing_full", "link_redelivered", "management_redelivered", "partial",
    "late_with_late_fee", "dunning_fee_paid", "late_without_late_fee", "late_fee_only", "double_payment_first",
    "double_payment", "overpayment", "cancelled_receivable_payment", "reduced_receivable", "reversal_original",
    "reversal", "conflict", "response_code_error", "unknown_channel", "unknown_payment", "unconfirmed",
    "estimated_payment", "missing_management", "unlinked_taxpayer", "link_released", "late_link",
    "provisional_blank_id", "nec_selected_kanji", "provisional_withdrawn", "provisional_by_notice_number",
    "historical_provisional", "invalid_impossible_date", "invalid_half_width_in_k", "invalid_split_double_byte",
    "offset_first_payment", "offset", "offset_not_yet_due", "redelivery", "rejected_file", "crlf_file",
}


def snapshot(inbox, day: date) -> pl.DataFrame:
    [found] = [file.records for file in inbox.files if file.kind == FileKind.RECEIVABLES and file.name.endswith(f"{day:%Y%m%d}_001.csv")]
    return found


def receivable(inbox, case: str, day: date) -> pl.DataFrame:
    planted = inbox.cases.filter(pl.col("case") == case)["receivable_id"][0]
    return snapshot(inbox, day).filter(pl.col("receivable_id") == planted).select("principal", "changed_on", "filing_receipt_number")


def test_every_planted_case_is_listed_with_where_it_lies(committed_sample):
    inbox = committed_sample
    assert set(inbox.cases["case"]) == PLANTED
    names = {file.name for file in inbox.files}
    assert set(inbox.cases["file_name"]) <= names
    records = inbox.cases.filter(pl.col("record_number").is_not_null())
    assert records.height > 25
    assert records["settlement_date"].is_in(list(inbox.settlement_dates)).all()


def test_later_snapshots_reduce_one_receivable_drop_one_and_add_the_estimated_one(committed_sample):
    inbox = committed_sample
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


def test_the_offset_cases_owe_a_receivable_past_its_due_date_and_one_not_yet_due(committed_sample):
    inbox = committed_sample
    last = inbox.settlement_dates[-1]
    target = other_receivables(inbox, "offset").unique()
    assert target.select("due_date", "principal", "dunning_fee").rows() == [(date(2025, 10, 31), 30_500, 100)]
    not_due = other_receivables(inbox, "offset_not_yet_due").unique()
    assert not_due.height == 1 and not_due["due_date"][0] > last
    paid = paid_receivables(inbox)
    assert len(paid) > 100
    for receivable in (target, not_due):
        assert not ({receivable["notice_number"][0], receivable["payment_number"][0]} & paid)
