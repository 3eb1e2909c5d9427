"""The story of one receivable, payment or refund candidate, from what is stored (SPEC §6.2 explanations).

The flow reads each table narrowed to the receivable, payment or candidate asked about, with the
columns named here and no others; these functions turn those frames into the parts of the story.
An explanation names no person (SPEC §6.2): no name, address, 納付番号 or 確認番号 is ever among
the columns, nor a decision's note or who entered it. The 延滞金 pieces are priced again with the
exact reference engine (transforms/late_fee.py) from the same 本税 history arrears is priced from,
so their total is what arrears charged plus what was paid of 延滞金.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from schemas.codes import LateFeeStatus
from schemas.exemptions import ExemptionKinds
from schemas.rates import RatesTable
from transforms.calendar import effective_due_dates
from transforms.decisions import exemption_periods as decision_exemption_periods
from transforms.decisions import periods_by_receivable
from transforms.late_fee import ExemptionPeriod, LateFeeCase, PartialPayment, Piece, late_fee_pieces, rounded_total
from transforms.ledger import DEFAULT_LOW_RATE_MONTHS

SNAPSHOT_COLUMNS = (
    "snapshot_date", "delivery_number", "tax_code", "fiscal_year", "tax_year", "installment",
    "due_date", "principal", "dunning_fee", "dunning_sent_on", "changed_on",
)
# What a newer snapshot version can change, under the name its change is told with.
TRACKED_CHANGES = {
    "principal": "本税",
    "due_date": "納期限",
    "dunning_fee": "督促手数料",
    "dunning_sent_on": "督促状発付日",
    "changed_on": "更正日",
}
APPLIED_PAYMENT_COLUMNS = (
    "payment_key", "paid_on", "matched_by", "status", "paid_total",
    "principal_applied", "dunning_fee_applied", "late_fee_applied",
)
ARREARS_COLUMNS = (
    "principal_outstanding", "dunning_fee_outstanding", "late_fee", "late_fee_status", "late_fee_exempted",
    "offset_pending", "days_overdue", "dunning_due", "dunning_deadline", "dunning_sent_on", "as_of",
)
CANDIDATE_COLUMNS = (
    "candidate_id", "payment_key", "receivable_id", "kind", "paid_on", "overpaid_amount", "offset_amount",
    "refund_amount", "interest_start", "refund_interest", "offset_interest", "arose_on", "expires_on",
    "expired", "status", "refunded_on", "as_of",
)
OFFSET_COLUMNS_SHOWN = (
    "candidate_id", "receivable_id", "principal_offset", "dunning_fee_offset", "late_fee_offset", "offset_on", "status",
)
# A decision's note and the user who entered it stay out (SPEC §6.2: it names no person).
DECISION_COLUMNS_SHOWN = (
    "decision_id", "kind", "decided_on", "reason_code", "payment_key", "receivable_id", "candidate_id",
    "exemption_kind", "start_on", "end_on", "fraction", "amount", "revokes", "revoked_by", "in_effect", "moved_yen",
)
PAYMENT_COLUMNS_SHOWN = (
    "payment_key", "source", "status", "error_class", "matched_by", "receivable_id", "payment_class", "channel_class",
    "paid_on", "deposited_on", "paid_total", "paid_principal", "paid_late_fee", "paid_dunning_fee",
    "paid_additional_charge", "overpaid_amount", "sighting_count", "first_seen_on", "confirmed_on", "unconfirmed",
)
RECEIVABLE_FACTS = ("receivable_id", "tax_code", "fiscal_year", "tax_year", "installment", "due_date", "effective_due_date")
# §329: a 督促状 is due within 20 days after the 納期限 (transforms/arrears.py counts the same).
DUNNING_DAYS = timedelta(days=20)


@dataclass(frozen=True)
class ReceivableRecords:
    """What is stored about one receivable, each frame narrowed to it (columns as named above)."""

    receivable_id: str
    snapshots: pl.DataFrame  # its receivable_snapshots rows: SNAPSHOT_COLUMNS
    current: pl.DataFrame  # its `receivables` row with effective_due_date; none when cancelled
    applications: pl.DataFrame  # its applications joined with their payments: APPLIED_PAYMENT_COLUMNS
    arrears: pl.DataFrame  # its `arrears` row, if it is in arrears: ARREARS_COLUMNS
    offsets: pl.DataFrame  # 充当 to it and from its overpayments: OFFSET_COLUMNS_SHOWN
    refund_candidates: pl.DataFrame  # candidates that arose on it: CANDIDATE_COLUMNS
    decisions: pl.DataFrame  # decisions about it, its payments or its candidates: DECISION_COLUMNS_SHOWN
    latest_run_on: date | None  # the latest completed settlement date


@dataclass(frozen=True)
class LateFeeLaw:
    """What 延滞金 is priced with: the rates (SPEC §4.1), the low-rate months per 税目コード, the exemption kinds (§6.1)."""

    rates: RatesTable
    exemption_kinds: ExemptionKinds
    low_rate_months: Mapping[str, int]


@dataclass(frozen=True)
class Section:
    """One part of a story: its key in JSON, its title in a terminal, its rows."""

    key: str
    title: str
    rows: pl.DataFrame


@dataclass(frozen=True)
class Story:
    """The story of one receivable, payment or candidate: a heading, its facts, its parts."""

    subject: str
    heading: str
    facts: dict[str, Any]
    sections: tuple[Section, ...]


def receivable_story(records: ReceivableRecords, law: LateFeeLaw) -> Story:
    """The story of one receivable: snapshots, payments, 延滞金 pieces, 督促, 充当, refund candidates, decisions."""
    if records.snapshots.is_empty():
        raise ValueError(f"no snapshot ever delivered receivable {records.receivable_id}")
    versions = snapshot_versions(records.snapshots)
    latest = versions.row(-1, named=True)
    cancelled = records.current.is_empty()
    facts = {name: latest.get(name) for name in RECEIVABLE_FACTS} | {"receivable_id": records.receivable_id}
    principal = 0 if cancelled else records.current["principal"][0]
    as_of = records.arrears["as_of"][0] if records.arrears.height else records.latest_run_on
    pieces, late_fee = late_fee_account(records, principal, latest, as_of, law)
    unpaid = principal - late_fee["principal_paid"]
    state = receivable_state(cancelled, records.arrears, unpaid, latest["effective_due_date"], as_of)
    facts |= {"state": state, "principal": principal, "dunning_fee": latest["dunning_fee"]}
    heading = f"調定 {records.receivable_id}: 税目 {facts['tax_code']}, {facts['fiscal_year']} 年度 第 {facts['installment']} 期, {state}"
    return Story("receivable", heading, facts | late_fee, (
        Section("snapshots", "調定の版 (スナップショット)", versions),
        Section("payments", "消込された納付", records.applications.sort("paid_on", "payment_key")),
        Section("late_fee_pieces", f"延滞金の内訳 ({late_fee['late_fee_status']}, {late_fee['late_fee_until']} まで)", pieces),
        Section("dunning", "督促", dunning(latest, records.arrears)),
        Section("offsets", "充当 (この調定へ・この調定の過誤納から)", records.offsets.sort("offset_on", "candidate_id")),
        Section("refund_candidates", "還付・充当候補 (この調定で生じたもの)", records.refund_candidates.sort("candidate_id")),
        Section("decisions", "職員の決定", records.decisions.sort("decision_id")),
    ))


def snapshot_versions(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Every delivered version of a receivable, oldest first, with its effective 納期限 and what changed from the one before."""
    ordered = snapshots.select(SNAPSHOT_COLUMNS).sort("snapshot_date", "delivery_number")
    ordered = ordered.with_columns(effective_due_dates(ordered["due_date"]).alias("effective_due_date"))
    rows = ordered.rows(named=True)
    # A receivable has a few versions at most: comparing them row by row reads more plainly than an expression.
    changes = ["初回"] + [version_changes(before, after) for before, after in zip(rows, rows[1:])]
    return ordered.with_columns(pl.Series("changes", changes, dtype=pl.String))


def version_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What changed from one snapshot version to the next, e.g. `本税 58,000 → 52,000`; `変更なし` when nothing did."""
    changed = [
        f"{label} {_shown(before[name])} → {_shown(after[name])}"
        for name, label in TRACKED_CHANGES.items()
        if before[name] != after[name]
    ]
    return "; ".join(changed) or "変更なし"


def _shown(value: Any) -> str:
    if value is None:
        return "なし"
    return f"{value:,}" if isinstance(value, int) else str(value)


def principal_payments(applications: pl.DataFrame, offsets: pl.DataFrame) -> list[PartialPayment]:
    """The 本税 settled on the receivable, by payments on their 納付日 and by 充当 on its 充当適状日, oldest first."""
    # As arrears counts it (transforms.arrears.settled_principal): proposed 充当 too, since
    # §17条の2 makes the 充当 mandatory and the target's 延滞金 stops at the 充当適状日.
    paid = applications.select("paid_on", pl.col("principal_applied").alias("amount"))
    offset = offsets.select(pl.col("offset_on").alias("paid_on"), pl.col("principal_offset").alias("amount"))
    settled = pl.concat([paid, offset]).filter(pl.col("amount") > 0).sort("paid_on")
    return [PartialPayment(*row) for row in settled.rows()]


def exemption_periods(decisions: pl.DataFrame, receivable_id: str, kinds: ExemptionKinds) -> list[ExemptionPeriod]:
    """The 延滞金 exemption periods in force on the receivable: its `exempt` decisions no revoke voided (SPEC §6.1), as the rebuild reads them."""
    in_force = decisions.filter((pl.col("receivable_id") == receivable_id) & pl.col("revoked_by").is_null())
    return periods_by_receivable(decision_exemption_periods(in_force, kinds)).get(receivable_id, [])


def late_fee_account(
    records: ReceivableRecords, principal: int, latest: Mapping[str, Any], as_of: date | None, law: LateFeeLaw
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The 延滞金 pieces of the receivable and its account: 本税 paid; 延滞金 total, paid, outstanding, exempted; 確定 or 見込, to when."""
    offsets_to_it = records.offsets.filter(pl.col("receivable_id") == records.receivable_id)
    payments = principal_payments(records.applications, offsets_to_it)
    principal_paid = sum(payment.amount for payment in payments)
    effective_due_date = latest["effective_due_date"]
    paid_in_full = principal > 0 and principal_paid >= principal
    # §4.1: to the 納付日 that completed the 本税 (確定), else as if paid on the latest run's date (見込).
    until = payments[-1].paid_on if paid_in_full else as_of
    status = LateFeeStatus.FIXED if paid_in_full or principal == 0 else LateFeeStatus.ESTIMATED
    pieces: list[Piece] = []
    if principal > 0 and until is not None and until > effective_due_date:
        months = law.low_rate_months.get(latest["tax_code"], DEFAULT_LOW_RATE_MONTHS)
        periods = exemption_periods(records.decisions, records.receivable_id, law.exemption_kinds)
        pieces = late_fee_pieces(LateFeeCase(principal, effective_due_date, until, payments, months, periods), law.rates)
    late_fee_paid = int(records.applications["late_fee_applied"].sum()) + int(offsets_to_it["late_fee_offset"].sum())
    arrears = records.arrears.row(0, named=True) if records.arrears.height else {}
    return piece_rows(pieces), {
        "principal_paid": principal_paid,
        "late_fee_status": status.value,
        "late_fee_until": until,
        "late_fee_total": rounded_total(pieces),
        "late_fee_paid": late_fee_paid,
        "late_fee_outstanding": arrears.get("late_fee", 0),
        "late_fee_exempted": arrears.get("late_fee_exempted", 0),
        "as_of": as_of,
    }


def piece_rows(pieces: list[Piece]) -> pl.DataFrame:
    """The pieces as rows: first and last day, days, base, rate in percent, exempted fraction, yen."""
    return pl.DataFrame(
        [
            (piece.start, piece.end, piece.days, piece.base, str(piece.rate), str(piece.exempted_fraction), piece.amount)
            for piece in pieces
        ],
        schema={
            "start": pl.Date, "end": pl.Date, "days": pl.Int64, "base": pl.Int64,
            "rate_percent": pl.String, "exempted_fraction": pl.String, "yen": pl.Int64,
        },
        orient="row",
    )


def receivable_state(cancelled: bool, arrears: pl.DataFrame, unpaid: int, effective_due_date: date, as_of: date | None) -> str:
    """How the receivable stands: cancelled, in arrears, paid, or not yet due."""
    if cancelled:
        return "取消 (最新の調定にない)"
    if arrears.height:
        return "滞納"
    if unpaid <= 0:
        return "完納"
    return "納期限前" if as_of is None or effective_due_date >= as_of else "未納"


def dunning(latest: Mapping[str, Any], arrears: pl.DataFrame) -> pl.DataFrame:
    """One row on 督促 (§4.3): the 督促手数料 charged and unpaid, when the 督促状 was sent, whether one is due and by when."""
    in_arrears = arrears.height > 0
    return pl.DataFrame(
        {
            "dunning_fee": [latest["dunning_fee"]],
            "dunning_fee_outstanding": [arrears["dunning_fee_outstanding"][0] if in_arrears else 0],
            "dunning_sent_on": [latest["dunning_sent_on"]],
            "dunning_due": [bool(arrears["dunning_due"][0]) if in_arrears else False],
            "dunning_deadline": [latest["effective_due_date"] + DUNNING_DAYS],
        },
        schema={"dunning_fee": pl.Int64, "dunning_fee_outstanding": pl.Int64, "dunning_sent_on": pl.Date, "dunning_due": pl.Boolean, "dunning_deadline": pl.Date},
    )


def payment_story(payment: pl.DataFrame, refund_candidates: pl.DataFrame, decisions: pl.DataFrame) -> Story:
    """The story of one payment: its state, amounts and sightings, the refund candidates from it and the decisions about it."""
    facts = payment.select(PAYMENT_COLUMNS_SHOWN).row(0, named=True)
    heading = (
        f"納付 {facts['payment_key']}: {facts['status']} (エラー区分 {facts['error_class']}), "
        f"納付日 {facts['paid_on']}, {facts['paid_total']:,} 円"
    )
    return Story("payment", heading, facts, (
        Section("refund_candidates", "還付・充当候補 (この納付から)", refund_candidates.sort("candidate_id")),
        Section("decisions", "職員の決定", decisions.sort("decision_id")),
    ))


def candidate_story(candidate: pl.DataFrame, offsets: pl.DataFrame, decisions: pl.DataFrame) -> Story:
    """The story of one refund candidate: kind, amounts, 還付加算金, status, its 充当 and the decisions about it."""
    facts = candidate.select(CANDIDATE_COLUMNS).row(0, named=True)
    heading = (
        f"還付・充当候補 {facts['candidate_id']}: {facts['kind']} {facts['overpaid_amount']:,} 円 "
        f"(充当 {facts['offset_amount']:,} 円, 還付 {facts['refund_amount']:,} 円), {facts['status']}"
    )
    return Story("candidate", heading, facts, (
        Section("offsets", "充当", offsets.sort("offset_on", "receivable_id")),
        Section("decisions", "職員の決定", decisions.sort("decision_id")),
    ))
