"""Every derived table, rebuilt from the stored inputs (docs/reconciliation.md): the steps, in order.

receivables → payments → matching → application (本税) → 延滞金 owed → application (督促手数料,
延滞金) and overpayments → 充当 → refunds → arrears. Each step is a pure function of its own module
that takes frames and returns frames; `derived_state` and `settlement` call them in that order
and are the only place that does. The ledger helpers the steps share are transforms/ledger.py.

The tables depend only on what is stored and on `as_of`, never on the order in which files or
dates were processed, so a re-run gives the same database.

`derived_state` runs every step over the whole history at once. In more than one part (settings
rebuild_partitions, rebuild_memory_gb), flows/partitioned.py runs the same steps a part at a time
(issue 15): `receivable_state` per part of the receivable ids, `matched_of` per part of the payment
keys, `taxpayer_tables` per part of the taxpayers (transforms.partitions.settled_part), `history`
from the parts' summed row hashes and rows, and the decisions and work queue once from what the
parts leave (transforms/partitions.py); the tables are the same.

Where each rule of SPEC §3 and §4 lives:

| SPEC | rule | function |
|---|---|---|
| §3 | newest 管理 record per (共通納税ID, 連番) | `transforms.matching._newest_management` |
| §3 | a 管理 record means route 2, else route 1 | `transforms.matching._with_management` |
| §3 | route 1: (納付番号, 確認番号); none: 20 eL-QR, else 30 | `transforms.matching._route_1` |
| §3 | route 2 link: newest by the end of the 納付日, not a 解除 (else 10) | `transforms.matching._with_links` |
| §3 | route 2 receivable: linked taxpayer and 申告受付番号 (else 20) | `transforms.matching._route_2` |
| §3 | route 3: (通知書番号, 期別), else (納付番号, 確認番号) | `transforms.matching._route_3` |
| §3 | 40 conflict, 50 取消 of an unknown payment | `transforms.payments._status` |
| §3 | match against every receivable ever delivered | `transforms.receivables.receivable_versions` |
| §3 | one 仮登録 row per payment; no source: blank or zero | `transforms.provisional.provisional_payments` |
| §3 | a pending payment is matched again at every run | `transforms.rebuild.derived_state` |
| §3.1 | 本税, 督促手数料 and 延滞金 parts; 02 and 03 | `transforms.application.payment_parts` |
| §3.1 | lump sum: 本税, then 督促手数料, then 延滞金 | `transforms.ledger.settled_before_late_fee` |
| §3.1 | shuno's 延滞金 is what is owed; paid above it is overpaid | `transforms.ledger.waterfall` |
| §3.1 | order: 納付日, MPN処理年月日, MPN処理時刻, MPN処理通番 | `transforms.application.in_application_order` |
| §3.1 | the latest snapshot decides; paid = Σ applications + overpaid | `transforms.application.application_ledger` |
| §4.1 | day after 納期限 to 納付日, rate years of 365 days | `transforms.late_fee.late_fee_pieces` |
| §4.1 | the one-month day of the lower rate | `transforms.late_fee.one_month_day` |
| §4.1 | after a partial payment the base is the 本税 left | `transforms.late_fee.late_fee_pieces` |
| §4.1 | a year with no rate is an error | `schemas.rates.RatesTable.for_year` |
| §4.1 | 延滞金 rounding: base under 2,000 none, floored to 1,000 | `transforms.late_fee.interest_base` |
| §4.1 | 延滞金 rounding: total under 1,000 none, floored to 100 | `transforms.late_fee.rounded_total` |
| §4.1 | the same law over whole frames (checked against the above) | `transforms.late_fee_frames.late_fees` |
| §4.1 | 見込 as of as_of while 本税 is unpaid, 確定 once paid | `transforms.late_fees_owed.late_fees_owed` |
| §4.1 | 納期限 on a closed day moves to the next open day | `transforms.calendar.effective_due_date` |
| §4.1 | low-rate period per tax code (a setting) | `transforms.ledger.low_rate_months_expression` |
| §4.2 | receivables are the newest snapshot; absent is cancelled | `transforms.receivables.current_receivables` |
| §4.2 | 過納 (減額 since the 納付日) or 誤納 (the rest) | `transforms.overpayments.overpayment_shares` |
| §4.2 | arises on the 減額 day (過納) or the 納付日 (誤納) | `transforms.overpayments.arising_candidates` |
| §4.2 | 充当 targets: same taxpayer, past due, oldest 納期限 first | `transforms.offsets.offset_targets` |
| §4.2 | 充当 order: 本税, then 督促手数料, then 延滞金 | `transforms.offsets._offset_to` |
| §4.2 | 充当適状日; the target's 延滞金 stops there | `transforms.offsets._candidate_offsets` |
| §4.2 | no 充当 of an expired claim | `transforms.offsets.offsets` |
| §4.2 | 還付加算金 start date (過納, 誤納) | `transforms.late_fee.refund_interest_start` |
| §4.2 | refund = overpaid − offset, 還付加算金 to as_of; expired flagged | `transforms.refunds.refund_candidates` |
| §4.2 | 還付加算金 on each offset to its 充当適状日 | `transforms.refunds._offset_interests` |
| §4.2 | expiry: arose + 5 years (2/29 → 2/28) | `transforms.late_fee.expires_on` |
| §4.3 | arrears: past due, 本税 or 延滞金 unpaid after payments and 充当 | `transforms.arrears.arrears` |
| §4.3 | dunning_due and the 20th-day deadline | `transforms.arrears._outstanding` |
| §7 | expected deliveries: business days × kinds, gaps in delivery numbers | `transforms.deliveries.deliveries` |
| §7 | 督促 waits for every delivery from the 納期限 on | `transforms.arrears.dunning_readiness` |
| §7 | 入金日 deliveries (領収 − 取消, each payment once) against the bank's credit | `transforms.deposits.deposit_reconciliation` |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from schemas.codes import PaymentStatus
from schemas.exemptions import ExemptionKinds, load_exemption_kinds
from schemas.rates import RatesTable
from schemas.settings import Settings
from schemas.tables import decision_entries_table, log_tables, stored_input_tables
from transforms.application import application_ledger, applications, overpaid_amounts, principal_ledger
from transforms.arrears import arrears
from transforms.decisions import DecisionEffects, decision_effects, decisions_table, no_decisions, no_entries
from transforms.deliveries import deliveries, incomplete_deliveries
from transforms.deposits import delivered_amounts, reconciliation
from transforms.history import DatedHistory, Pricing, SettledState, first_delivered, history
from transforms.late_fees_owed import ledger_late_fees
from transforms.ledger import conformed
from transforms.matching import ReceivableKeys, matched_payments
from transforms.offsets import offsets
from transforms.overpayments import arising_candidates, returned_candidates
from transforms.payments import payments, sighting_schema, sightings
from transforms.provisional import provisional_payments
from transforms.receivables import current_receivables, principal_history, receivable_versions
from transforms.refunds import refund_candidates
from transforms.work_queue import reissued_numbers, work_queue

TABLES = {table.name: table for table in [*stored_input_tables(), decision_entries_table(), *log_tables()]}
# What the rebuild reads of each stored table: payment_records' opaque system areas stay on disk.
STORED_COLUMNS = {
    "payment_records": [name for name in sighting_schema() if name in TABLES["payment_records"].column_names],
    "provisional_records": TABLES["provisional_records"].column_names,
    "management_records": TABLES["management_records"].column_names,
    "link_records": TABLES["link_records"].column_names,
    "receivable_snapshots": TABLES["receivable_snapshots"].column_names,
    "decision_entries": TABLES["decision_entries"].column_names,
    "bank_credits": TABLES["bank_credits"].column_names,
    # What a run saw of each file: the deliveries expected of it (SPEC §7) are read from it.
    "ingested_files": ["kind", "settlement_date", "delivery_number", "status", "run_id"],
    # A voided date's files are withdrawn: its deliveries are missing again until it is run again.
    "runs": ["run_id", "settlement_date", "started_at", "status"],
}

Step = Callable[[str], AbstractContextManager]
# The step that makes `history`, by name: the benchmark times it on its own.
HISTORY_STEP = "history: every date run, as of itself"


@dataclass(frozen=True)
class DerivedTables:
    """The rebuilt contents of every derived table, and counts for the run's report."""

    receivables: pl.DataFrame
    payments: pl.DataFrame
    provisional_payments: pl.DataFrame
    applications: pl.DataFrame
    arrears: pl.DataFrame
    refund_candidates: pl.DataFrame
    offsets: pl.DataFrame
    decisions: pl.DataFrame
    work_queue: pl.DataFrame
    history: pl.DataFrame
    history_days: pl.DataFrame
    deliveries: pl.DataFrame
    deposit_reconciliation: pl.DataFrame
    outcome_counts: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settlement:
    """What the applied payments settle, as the derived tables and the payments' overpayments."""

    applications: pl.DataFrame
    overpaid_amounts: pl.DataFrame
    refund_candidates: pl.DataFrame
    offsets: pl.DataFrame
    arrears: pl.DataFrame
    # The application ledger, which history cuts at each earlier date.
    ledger: pl.DataFrame


def derived_state(
    inputs: Mapping[str, pl.DataFrame],
    as_of: date,
    rates: RatesTable,
    settings: Settings = Settings(),
    step: Step = lambda name: nullcontext(),
    exemption_kinds: ExemptionKinds | None = None,
    history_dates: Sequence[date] = (),
    kept_history: DatedHistory | None = None,
) -> DerivedTables:
    """All derived tables from the stored inputs (payment, 仮登録, 管理, 紐付 records, snapshots, decisions).

    `inputs` (STORED_COLUMNS' tables; `decision_entries`, `bank_credits`, `ingested_files` and `runs`
    may be left out: no decision, no credit, no file seen, no run) is read,
    never changed. Each frame is referenced here only until the step that reads it ends, so a caller
    that keeps no reference of its own to `inputs` holds one stage at a time. `step(name)` wraps
    each stage (the benchmark times them with it). exemption_kinds: the table of SPEC §6.1, the
    packaged one when None. history_dates: the settlement dates run (as_of is always one);
    kept_history: the `history` and `history_days` stored before, whose unchanged dates are kept.
    """
    snapshots = inputs["receivable_snapshots"]
    payment_records, provisional_records = inputs["payment_records"], inputs["provisional_records"]
    management_records, link_records = inputs["management_records"], inputs["link_records"]
    entries = inputs["decision_entries"] if "decision_entries" in inputs else no_entries()
    credits, files, runs = _stored(inputs, "bank_credits"), _stored(inputs, "ingested_files"), _stored(inputs, "runs")
    del inputs
    with step("expected deliveries"):
        expected = deliveries(files, as_of, [kind.value for kind in settings.expected_kinds], runs)
    with step("decisions in force"):
        decisions = decision_effects(entries, exemption_kinds or load_exemption_kinds())
    with step(RECEIVABLES_STEP):
        state = receivable_state(snapshots)
        del snapshots
    records = {"payment_records": payment_records, "provisional_records": provisional_records}
    del payment_records, provisional_records
    matched = matched_of(records, management_records, link_records, state.versions, as_of, settings, step, decisions)
    del management_records, link_records
    with step("payments: bank reconciliation"):
        reconciled = reconciliation(matched.delivered, credits)
    settled = taxpayer_tables(matched.payments, state, as_of, rates, settings, step, decisions, incomplete_deliveries(expected))
    with step(HISTORY_STEP):
        dated = history([*history_dates, as_of], settled.state, Pricing(rates, settings.low_rate_months, decisions.exemption_periods), kept_history)
    own = settled.tables
    with step("decisions and work queue tables"):
        tables = DerivedTables(
            **vars(own),
            decisions=decisions_table(entries, own.receivables, own.payments, own.refund_candidates, own.offsets, own.arrears),
            work_queue=work_queue(matched.payments, state.reissued, state.versions, state.current, own.applications, own.offsets, own.arrears, as_of),
            history=dated.rows,
            history_days=dated.days,
            deliveries=expected,
            deposit_reconciliation=reconciled,
        )
    return DerivedTables(**{**vars(tables), "outcome_counts": outcome_counts(tables)})


def _stored(inputs: Mapping[str, pl.DataFrame], name: str) -> pl.DataFrame:
    """The stored table `name` of inputs; with no row when inputs leave it out (a caller with no files seen, no credits)."""
    if name in inputs:
        return inputs[name]
    return pl.DataFrame(schema={column: TABLES[name].polars_schema[column] for column in STORED_COLUMNS[name]})


RECEIVABLES_STEP = "receivables: newest versions, 本税 history, effective 納期限"


@dataclass(frozen=True)
class ReceivableState:
    """What the rebuild reads of the snapshots: the newest receivables, every one's newest version, 本税 history, re-issued numbers, first deliveries."""

    current: pl.DataFrame
    versions: pl.DataFrame
    principals: pl.DataFrame
    reissued: pl.DataFrame
    first_delivered: pl.DataFrame


def receivable_state(snapshots: pl.DataFrame, deliveries: pl.DataFrame | None = None) -> ReceivableState:
    """The receivables of the stored snapshots as every later step reads them.

    deliveries (snapshot_date, delivery_number of every snapshot delivered): given when snapshots
    hold every row of some receivables only; each receivable's state is then as among all of them.
    """
    versions = receivable_versions(snapshots, deliveries)
    # The work queue needs the earlier versions' numbers only: a few rows, where snapshots are millions.
    reissued = reissued_numbers(snapshots, versions)
    principals = principal_history(snapshots, versions)
    return ReceivableState(current_receivables(snapshots, deliveries), versions, principals, reissued, first_delivered(snapshots))


@dataclass(frozen=True)
class MatchedPayments:
    """The payments decided and matched, and what their records delivered per 入金日 (transforms.deposits.delivered_amounts)."""

    payments: pl.DataFrame
    delivered: pl.DataFrame


def matched_of(
    records: dict[str, pl.DataFrame],
    management_records: pl.DataFrame,
    link_records: pl.DataFrame,
    versions: pl.DataFrame | ReceivableKeys,
    as_of: date,
    settings: Settings,
    step: Step,
    decisions: DecisionEffects,
) -> MatchedPayments:
    """The payments of the payment-file and 仮登録 records, decided and matched.

    Every record of a payment, and its 管理 record, must be among them. The records are taken out
    of `records`, which is left empty: the caller's dict then holds no frame once sightings are made.
    """
    with step("payments: sightings decided"):
        seen = sightings(records.pop("payment_records"), records.pop("provisional_records"))
        delivered = delivered_amounts(seen)
        decided = payments(seen, as_of, settings.business_days_to_confirm, decisions.sightings_chosen)
        del seen
    with step("matching (routes 1–3, decisions)"):
        return MatchedPayments(matched_payments(decided, management_records, link_records, versions, decisions.payments_decided), delivered)


@dataclass(frozen=True)
class TaxpayerTables:
    """The derived tables that depend on a taxpayer's own receivables and payments alone: of some taxpayers, or of all."""

    receivables: pl.DataFrame
    payments: pl.DataFrame
    provisional_payments: pl.DataFrame
    applications: pl.DataFrame
    arrears: pl.DataFrame
    refund_candidates: pl.DataFrame
    offsets: pl.DataFrame


@dataclass(frozen=True)
class SettledTaxpayers:
    """Some taxpayers' tables, and the state `history` cuts at each earlier date."""

    tables: TaxpayerTables
    state: SettledState


def taxpayer_tables(
    matched: pl.DataFrame,
    receivables: ReceivableState,
    as_of: date,
    rates: RatesTable,
    settings: Settings,
    step: Step,
    decisions: DecisionEffects,
    incomplete: pl.DataFrame | None = None,
) -> SettledTaxpayers:
    """The tables of the matched payments and of the receivables of the same taxpayers.

    Every applied payment's receivable must be among the receivables, and with it every receivable of
    its taxpayer (充当 looks for them in current); a payment applied to none may come with any taxpayers.
    incomplete: the expected deliveries missing or rejected, which hold 督促 back (SPEC §7).
    """
    versions, current = receivables.versions, receivables.current
    settled = settlement(matched, versions, receivables.principals, current, as_of, rates, settings, step, decisions, incomplete)
    with step("payments and 仮登録 tables"):
        tables = TaxpayerTables(
            receivables=conformed(current, "receivables"),
            payments=payments_table(matched, settled.overpaid_amounts),
            provisional_payments=conformed(provisional_payments(matched, versions), "provisional_payments"),
            applications=settled.applications,
            arrears=settled.arrears,
            refund_candidates=settled.refund_candidates,
            offsets=settled.offsets,
        )
    state = SettledState(
        versions, receivables.principals, receivables.first_delivered, settled.ledger, settled.applications, settled.offsets, settled.refund_candidates, settled.arrears, as_of
    )
    return SettledTaxpayers(tables, state)


def settlement(
    matched: pl.DataFrame,
    versions: pl.DataFrame,
    history: pl.DataFrame,
    current: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    settings: Settings = Settings(),
    step: Step = lambda name: nullcontext(),
    decisions: DecisionEffects | None = None,
    incomplete: pl.DataFrame | None = None,
) -> Settlement:
    """Applications, overpayments, refund candidates, 充当 and arrears of the matched payments as of as_of.

    incomplete: the expected deliveries missing or rejected, which hold 督促 back (SPEC §7).
    """
    low_rate_months, decisions = settings.low_rate_months, decisions or no_decisions()
    exemptions = decisions.exemption_periods
    with step("application: 本税 waterfall"):
        principal_settled = principal_ledger(matched, versions)
    with step("延滞金 owed where payments reach it"):
        late_fees = ledger_late_fees(principal_settled, as_of, rates, low_rate_months, exemptions)
    with step("application: 督促手数料 and 延滞金 waterfalls, overpaid amounts"):
        ledger = application_ledger(principal_settled, late_fees)
        del principal_settled, late_fees
    with step("overpayments: 過納 and 誤納 refund candidates, returned payments"):
        arising = arising_candidates(ledger, history, as_of, rates, low_rate_months, exemptions)
        arising = pl.concat([arising, returned_candidates(matched)], how="vertical_relaxed").sort("candidate_id")
    with step("充当 to the taxpayers' unpaid receivables"):
        offset_rows = offsets(arising, current, ledger, as_of, rates, low_rate_months, settings.offset_order, decisions)
    with step("refunds and 還付加算金"):
        refunds = refund_candidates(arising, offset_rows, as_of, rates, decisions.refunds_paid)
    with step("arrears"):
        unpaid = arrears(current, ledger, offset_rows, as_of, rates, low_rate_months, exemptions, incomplete)
    return Settlement(applications(ledger), overpaid_amounts(ledger), refunds, offset_rows, unpaid, ledger)


def payments_table(matched: pl.DataFrame, overpaid_amounts: pl.DataFrame) -> pl.DataFrame:
    """The `payments` table: the matched payments with their overpayments."""
    merged = matched.drop("overpaid_amount", strict=False).join(overpaid_amounts, on="payment_key", how="left", maintain_order="left")
    # A returned payment (SPEC §6) is overpaid whole: it settles nothing of the city's.
    returned = pl.col("status") == PaymentStatus.RETURNED
    merged = merged.with_columns(pl.when(returned).then(pl.col("paid_total")).otherwise(pl.col("overpaid_amount")).alias("overpaid_amount"))
    return conformed(merged, "payments").sort("payment_key")


def outcome_counts(tables: DerivedTables | CountedRows) -> dict[str, dict[str, int]]:
    """Counts and yen totals per outcome: payments by status and error class, arrears, deliveries, bank reconciliation, refunds.

    Of each table only the columns counted and summed are read (a partitioned rebuild keeps no more: `CountedRows`).
    """
    payments, refund_candidates = tables.payments, tables.refund_candidates
    payments_by_status = payments.group_by("status").agg(pl.len(), pl.col("paid_total").sum()).sort("status")
    pending = payments.filter(pl.col("status") == PaymentStatus.PENDING).group_by("error_class").agg(pl.len()).sort("error_class")
    return {
        "payments": {f"{row['status']} count": row["len"] for row in payments_by_status.iter_rows(named=True)}
        | {f"{row['status']} yen": int(row["paid_total"] or 0) for row in payments_by_status.iter_rows(named=True)},
        "pending by error class": {row["error_class"]: row["len"] for row in pending.iter_rows(named=True)},
        "unconfirmed (no 確報 five business days after 納付日)": {"payments": int(payments["unconfirmed"].sum())},
        "arrears": {
            "receivables": tables.arrears.height,
            "principal outstanding yen": int(tables.arrears["principal_outstanding"].sum()),
            "late fee yen": int(tables.arrears["late_fee"].sum()),
            "dunning held for incomplete deliveries": int(tables.arrears["dunning_hold_reason"].is_not_null().sum()),
        },
        "deliveries": _counts_by_status(tables.deliveries),
        "bank reconciliation (入金日)": _counts_by_status(tables.deposit_reconciliation),
        "refund candidates": {
            "candidates": refund_candidates.height,
            "overpaid yen": int(refund_candidates["overpaid_amount"].sum()),
            "offset yen": int(refund_candidates["offset_amount"].sum()),
            "refund yen": int(refund_candidates["refund_amount"].sum()),
        },
    }


@dataclass(frozen=True)
class CountedRows:
    """The columns `outcome_counts` reads of the tables it counts (COUNTED_COLUMNS)."""

    payments: pl.DataFrame
    arrears: pl.DataFrame
    refund_candidates: pl.DataFrame
    deliveries: pl.DataFrame
    deposit_reconciliation: pl.DataFrame


COUNTED_COLUMNS = {
    "payments": ["status", "error_class", "paid_total", "unconfirmed"],
    "arrears": ["principal_outstanding", "late_fee", "dunning_hold_reason"],
    "refund_candidates": ["overpaid_amount", "offset_amount", "refund_amount"],
    "deliveries": ["status"],
    "deposit_reconciliation": ["status"],
}


def _counts_by_status(table: pl.DataFrame) -> dict[str, int]:
    """How many rows of a table have each status, in the order of the statuses found."""
    return {row["status"]: row["len"] for row in table.group_by("status").len().sort("status").iter_rows(named=True)}
