"""What each planted case of the sample must leave in the tables after its last settlement date.

The table of `sample_data/README.md` is made from these declarations and the cases' places in the
committed inbox (`planted_cases_table`); a test checks the README against them, and another runs
the committed inbox and checks every declaration against the tables (SPEC §2–§4).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Outcome:
    """What one planted case must produce; `None` where it produces nothing of that kind."""

    status: str | None = None  # payments.status of its payment; None: no payment row
    error_class: str | None = None  # payments.error_class (エラー区分)
    applied: tuple[int, int, int] | None = None  # 本税, 督促手数料, 延滞金 applied to its receivable
    arrears: tuple[int, int] | None = None  # its receivable's 本税 outstanding and 延滞金 in arrears
    refund: tuple[str, int, int] | None = None  # its refund candidate: kind, 充当 (offset) yen, refund yen
    rejected_field: str | None = None  # the field its rejected record is set aside for
    file_status: str | None = None  # ingested_files.status of the file the case is


def _applied(principal: int, dunning_fee: int = 0, late_fee: int = 0, **outcome) -> Outcome:
    return Outcome("applied", "00", (principal, dunning_fee, late_fee), **outcome)


def _not_applied(status: str, error_class: str, **outcome) -> Outcome:
    return Outcome(status, error_class, **outcome)


def _misdirected(amount: int, kind: str = "誤納", principal: int = 0, offset: int = 0) -> Outcome:
    """A payment (or the part of one) owed to no receivable: a refund candidate, less what is offset."""
    return _applied(principal, refund=(kind, offset, amount - offset))


# Amounts are worked out by hand in tests/flows/test_sample_outcomes.py.
PLANTED_OUTCOMES = {
    "qr_full": _applied(10_800),
    "ibm_extension_kanji": _applied(10_800),
    "filing_full": _applied(180_000),
    "link_redelivered": _applied(180_000),
    "management_redelivered": _applied(180_000),
    "partial": _applied(50_000, arrears=(34_000, 0)),
    "late_with_late_fee": _applied(352_300, 100, 37_500),
    "dunning_fee_paid": _applied(352_300, 100, 37_500),
    "late_without_late_fee": _applied(268_400, 100),
    "late_fee_only": _applied(0, 0, 16_800),
    "double_payment_first": _applied(41_200),
    "double_payment": _misdirected(41_200),
    "overpayment": _misdirected(5_000, principal=45_000),
    "cancelled_receivable_payment": _misdirected(6_900),
    "reduced_receivable": _misdirected(6_000, kind="過納", principal=52_000),
    "reversal_original": _not_applied("reversed", "90"),
    "reversal": _not_applied("reversed", "90"),
    "conflict": _not_applied("held", "40"),
    "response_code_error": _not_applied("not_completed", "90", arrears=(15_000, 0)),
    "unknown_channel": _applied(7_200),
    "unknown_payment": _not_applied("pending", "20"),
    "unconfirmed": _applied(12_900),
    "estimated_payment": _applied(300_000),
    "missing_management": _not_applied("pending", "30", arrears=(120_000, 0)),
    "unlinked_taxpayer": _not_applied("pending", "10"),
    "link_released": _not_applied("pending", "10", arrears=(66_000, 0)),
    "late_link": _applied(38_000),
    "provisional_blank_id": _applied(22_000, 100),
    "nec_selected_kanji": _applied(22_000, 100),
    "provisional_withdrawn": _not_applied("withdrawn", "90", arrears=(31_000, 0)),
    "provisional_by_notice_number": _applied(44_000),
    "historical_provisional": _applied(27_000),
    "invalid_impossible_date": Outcome(rejected_field="paid_on"),
    "invalid_half_width_in_k": Outcome(rejected_field="payer_name"),
    "invalid_split_double_byte": Outcome(rejected_field="payer_name_kana"),
    "offset_first_payment": _applied(47_300),
    "offset": _misdirected(47_300, offset=31_800),
    "offset_not_yet_due": _misdirected(25_000),
    "redelivery": Outcome(file_status="loaded"),
    "rejected_file": Outcome(file_status="rejected"),
    "crlf_file": Outcome(file_status="loaded"),
}

TABLE_HEADER = (
    "| case | what is planted | file (record) | settlement date | payment: status (エラー区分) "
    "| applied 本税 / 督促手数料 / 延滞金 | arrears: 本税 outstanding, 延滞金 | refund candidate | rejected / file |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)


def _yen(amount: int) -> str:
    return f"{amount:,}"


def _cells(outcome: Outcome) -> list[str]:
    """The README cells of what a case must produce."""
    payment = f"{outcome.status} ({outcome.error_class})" if outcome.status else "no payment"
    applied = " / ".join(_yen(amount) for amount in outcome.applied) if outcome.applied else "nothing"
    arrears = f"{_yen(outcome.arrears[0])}, {_yen(outcome.arrears[1])}" if outcome.arrears else "none"
    refund = "none"
    if outcome.refund:
        kind, offset, amount = outcome.refund
        refund = f"{kind}: 充当 {_yen(offset)}, refund {_yen(amount)}" if offset else f"{kind}: refund {_yen(amount)}"
    rejected = f"record, field `{outcome.rejected_field}`" if outcome.rejected_field else "none"
    if outcome.file_status:
        # A case that is a file pays nothing itself: what it produces is the file's status.
        return ["—", "—", "—", "—", f"file {outcome.file_status}"]
    return [payment, applied, arrears, refund, rejected]


def planted_cases_table(cases: pl.DataFrame) -> str:
    """The Markdown table of the planted cases: what each is, where it lies, and what it must produce."""
    lines = []
    for case in cases.iter_rows(named=True):
        place = f"`{case['file_name']}`" + (f" ({case['record_number']})" if case["record_number"] else "")
        day = case["settlement_date"].isoformat() if case["settlement_date"] else "every"
        cells = [f"`{case['case']}`", case["description"].replace("|", "\\|"), place, day, *_cells(PLANTED_OUTCOMES[case["case"]])]
        lines.append("| " + " | ".join(cells) + " |\n")
    return TABLE_HEADER + "".join(lines)
