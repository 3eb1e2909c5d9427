"""充当 of overpayments to the same taxpayer's unpaid receivables (§17条の2, SPEC §4.2, design step 6).

Few taxpayers have both an overpayment and a receivable past its 納期限, so this walks them one
by one in plain Python, pricing 延滞金 with the reference engine of transforms/late_fee.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from schemas.codes import OffsetStatus
from schemas.rates import RatesTable
from schemas.settings import OffsetOrder
from transforms.decisions import DecisionEffects, no_decisions, periods_by_receivable
from transforms.late_fee import ExemptionPeriod, LateFeeCase, late_fee
from transforms.ledger import APPLIED_COLUMNS, TABLE_SCHEMAS, low_rate_months_expression, principal_payments, receivable_totals

# §17条の2 leaves the order of 充当 to the city: a setting, checked when the settings load.
TARGET_ORDERS = {OffsetOrder.OLDEST_DUE_FIRST: ("effective_due_date", "receivable_id")}
# The offsets table's columns but its status, which the decisions give afterwards.
OFFSET_ROW_SCHEMA = {name: dtype for name, dtype in TABLE_SCHEMAS["offsets"].items() if name != "status"}
CANDIDATE_COLUMNS = ("taxpayer_id", "candidate_id", "arose_on", "overpaid_amount", "refunded_on")


@dataclass
class TargetBalance:
    """What one receivable still owes while overpayments are offset to it (changes as they are)."""

    receivable_id: str
    effective_due_date: date
    principal: int
    principal_outstanding: int
    dunning_fee_outstanding: int
    late_fee_settled: int
    low_rate_months: int
    principal_payments: list[tuple[date, int]] = field(default_factory=list)
    exemptions: list[ExemptionPeriod] = field(default_factory=list)

    def late_fee_outstanding(self, rates: RatesTable) -> int:
        """The 延滞金 not yet settled, fixed (確定) once the 本税 is paid in full; 0 before."""
        # Money reaches 延滞金 only after the whole 本税 (§3.1 order), so only 確定 延滞金 is offset.
        if self.principal_outstanding > 0 or not self.principal_payments:
            return 0
        paid_in_full_on = max(paid_on for paid_on, _ in self.principal_payments)
        case = LateFeeCase(
            self.principal, self.effective_due_date, paid_in_full_on, self.principal_payments, self.low_rate_months, self.exemptions
        )
        return max(late_fee(case, rates) - self.late_fee_settled, 0)


def offsets(
    candidates: pl.DataFrame,
    current: pl.DataFrame,
    ledger: pl.DataFrame,
    as_of: date,
    rates: RatesTable,
    low_rate_months: Mapping[str, int] | None = None,
    offset_order: OffsetOrder = OffsetOrder.OLDEST_DUE_FIRST,
    decisions: DecisionEffects | None = None,
) -> pl.DataFrame:
    """The `offsets` table: each candidate's 充当 to its taxpayer's receivables past their 納期限.

    decisions: the exemption periods lower the 延滞金 a target owes; a candidate refunded on a day
    offsets nothing whose 充当適状日 is after it; an `offset` decision marks the candidate's 充当 up
    to its day `executed`, the rest stays `proposed` (SPEC §6).
    """
    decisions = decisions or no_decisions()
    # An expired claim (§18条の3) is extinguished, and a returned payment's has no taxpayer: nothing
    # of either is offset.
    open_candidates = candidates.filter((pl.lit(as_of) <= pl.col("expires_on")) & pl.col("taxpayer_id").is_not_null())
    open_candidates = open_candidates.join(decisions.refunds_paid, on="candidate_id", how="left")
    open_candidates = open_candidates.sort("taxpayer_id", "arose_on", "candidate_id")
    targets = offset_targets(current, ledger, open_candidates["taxpayer_id"].unique(), as_of, low_rate_months, offset_order)
    balances = _balances_by_taxpayer(targets, ledger, decisions.exemption_periods)
    rows = []
    for taxpayer_id, candidate_id, arose_on, amount, refunded_on in open_candidates.select(*CANDIDATE_COLUMNS).iter_rows():
        rows += _candidate_offsets(candidate_id, arose_on, amount, balances.get(taxpayer_id, []), rates, refunded_on)
    proposed = pl.DataFrame(rows, schema=OFFSET_ROW_SCHEMA, orient="row")
    return _with_status(proposed, decisions.offsets_executed).select(TABLE_SCHEMAS["offsets"].names())


def _with_status(offset_rows: pl.DataFrame, executed: pl.DataFrame) -> pl.DataFrame:
    """offset_rows with status: `executed` up to the day an `offset` decision executed the candidate's 充当, else `proposed`."""
    joined = offset_rows.join(executed, on="candidate_id", how="left", maintain_order="left")
    done = pl.col("offset_on") <= pl.col("executed_on")
    status = pl.when(done.fill_null(False)).then(pl.lit(OffsetStatus.EXECUTED)).otherwise(pl.lit(OffsetStatus.PROPOSED))
    return joined.with_columns(status.alias("status"))


def offset_targets(
    current: pl.DataFrame,
    ledger: pl.DataFrame,
    taxpayer_ids: pl.Series,
    as_of: date,
    low_rate_months: Mapping[str, int] | None = None,
    offset_order: OffsetOrder = OffsetOrder.OLDEST_DUE_FIRST,
) -> pl.DataFrame:
    """These taxpayers' receivables of the latest snapshot past their 納期限 that may owe, in 充当 order."""
    # Never one not yet due: that needs the taxpayer's consent (§17条の2②), outside shuno.
    due = current.filter(pl.col("taxpayer_id").is_in(taxpayer_ids.implode()) & (pl.col("effective_due_date") < as_of))
    settled = due.join(receivable_totals(ledger), on="receivable_id", how="left")
    settled = settled.with_columns(pl.col(name).fill_null(0) for name in APPLIED_COLUMNS)
    targets = settled.select(
        "taxpayer_id",
        "receivable_id",
        "effective_due_date",
        "principal",
        (pl.col("principal") - pl.col("principal_applied")).alias("principal_outstanding"),
        (pl.col("dunning_fee").fill_null(0) - pl.col("dunning_fee_applied")).alias("dunning_fee_outstanding"),
        pl.col("late_fee_applied").alias("late_fee_settled"),
        low_rate_months_expression(low_rate_months),
        "last_paid_on",
    )
    # 延滞金 is owed only where 本税 was, or is, paid after the 納期限.
    paid_late = pl.col("last_paid_on") > pl.col("effective_due_date")
    owing = (pl.col("principal_outstanding") > 0) | (pl.col("dunning_fee_outstanding") > 0) | paid_late
    return targets.filter(owing).drop("last_paid_on").sort(*TARGET_ORDERS[offset_order])


def _balances_by_taxpayer(
    targets: pl.DataFrame, ledger: pl.DataFrame, exemption_periods: pl.DataFrame
) -> dict[str, list[TargetBalance]]:
    """A TargetBalance per target, by taxpayer, in 充当 order, with the 本税 its payments settled and its exemption periods."""
    is_target = pl.col("receivable_id").is_in(targets["receivable_id"].implode())
    paid = principal_payments(ledger.filter(is_target))
    paid_by_receivable: dict[str, list[tuple[date, int]]] = {}
    for receivable_id, paid_on, amount in paid.sort("receivable_id", "paid_on").iter_rows():
        paid_by_receivable.setdefault(receivable_id, []).append((paid_on, amount))
    periods = periods_by_receivable(exemption_periods.filter(is_target))
    balances: dict[str, list[TargetBalance]] = {}
    for taxpayer_id, *values in targets.iter_rows():
        receivable_id = values[0]
        balance = TargetBalance(
            *values,
            principal_payments=list(paid_by_receivable.get(receivable_id, [])),
            exemptions=periods.get(receivable_id, []),
        )
        balances.setdefault(taxpayer_id, []).append(balance)
    return balances


def _candidate_offsets(
    candidate_id: str,
    arose_on: date,
    amount: int,
    balances: list[TargetBalance],
    rates: RatesTable,
    refunded_on: date | None = None,
) -> list[tuple]:
    """The offset rows of one candidate to its taxpayer's targets, taken in 充当 order until it is spent.

    A candidate refunded on refunded_on was paid out that day: no target whose 充当適状日 is later takes any of it.
    """
    rows = []
    for balance in balances:
        if amount == 0:
            break
        # 充当適状日: the later of the target's 納期限 and the day the overpayment arose (§17条の2);
        # the 本税 offset counts as paid that day, so the target's 延滞金 stops there.
        offset_on = max(balance.effective_due_date, arose_on)
        if refunded_on is not None and offset_on > refunded_on:
            continue
        principal, dunning_fee, late_fee_offset = _offset_to(balance, offset_on, amount, rates)
        if principal + dunning_fee + late_fee_offset:
            amount -= principal + dunning_fee + late_fee_offset
            rows.append((candidate_id, balance.receivable_id, principal, dunning_fee, late_fee_offset, offset_on))
    return rows


def _offset_to(balance: TargetBalance, offset_on: date, amount: int, rates: RatesTable) -> tuple[int, int, int]:
    """The 本税, 督促手数料 and 延滞金 that amount settles of balance on offset_on, which it updates."""
    principal = min(amount, balance.principal_outstanding)
    if principal:
        balance.principal_outstanding -= principal
        balance.principal_payments.append((offset_on, principal))
    dunning_fee = min(amount - principal, balance.dunning_fee_outstanding)
    balance.dunning_fee_outstanding -= dunning_fee
    rest = amount - principal - dunning_fee
    late_fee_offset = min(rest, balance.late_fee_outstanding(rates)) if rest else 0
    balance.late_fee_settled += late_fee_offset
    return principal, dunning_fee, late_fee_offset
