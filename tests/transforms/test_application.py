"""Applying payments to receivables (SPEC §3.1; docs/reconciliation.md step 4), by hand.

Most cases use a 本税 of 365,000 yen due on Thursday 2026-04-30 (not moved by §20条の5), so a
day of 延滞金 is 365,000 × 2.8% / 365 = 28 yen at the 2026 lower rate and 365,000 × 9.1% / 365 =
91 yen at the higher one, and a day of 還付加算金 is 365,000 × 1.3% / 365 = 13 yen. The
one-month day of a 4/30 納期限 is 5/31 (5/1..5/31 lower, from 6/1 higher).
"""

import random
from datetime import date, time, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.rates import load_rates
from schemas.settings import Settings
from schemas.tables import RECEIVABLE_COLUMNS, SNAPSHOT_ORIGIN, Table
from transforms.application import application_ledger, principal_ledger
from transforms.late_fee import LateFeeCase, late_fee
from transforms.late_fees_owed import ledger_late_fees
from transforms.rebuild import Settlement, settlement
from transforms.receivables import current_receivables, principal_history, receivable_versions

RATES = load_rates()
DUE = date(2026, 4, 30)
AS_OF = date(2026, 6, 30)
SNAPSHOT_DAY = date(2026, 4, 1)
SNAPSHOT_SCHEMA = Table("receivable_snapshots", "", SNAPSHOT_ORIGIN + RECEIVABLE_COLUMNS).polars_schema
PAYMENT_SCHEMA = pl.Schema(
    {
        "payment_key": pl.String,
        "common_tax_id": pl.String,
        "sequence_number": pl.Int64,
        "payment_info_sequence": pl.Int64,
        "source": pl.String,
        "status": pl.String,
        "receivable_id": pl.String,
        "paid_on": pl.Date,
        "mpn_processed_on": pl.Date,
        "mpn_processed_at": pl.Time,
        "mpn_serial": pl.String,
        "payment_class": pl.String,
        "paid_total": pl.Int64,
        "paid_principal": pl.Int64,
        "paid_late_fee": pl.Int64,
        "paid_dunning_fee": pl.Int64,
        "paid_additional_charge": pl.Int64,
    }
)
APPLICATION_AMOUNTS = ["payment_key", "receivable_id", "principal_applied", "dunning_fee_applied", "late_fee_applied"]


def receivable(receivable_id: str = "R1", **values) -> dict:
    """A snapshot row: 365,000 yen of 個人市民税 due 2026-04-30, taxpayer T1, unless overridden."""
    defaults = {
        "receivable_id": receivable_id,
        "taxpayer_id": "T1",
        "tax_code": "010",
        "fiscal_year": 2026,
        "tax_year": 2026,
        "installment": "01",
        "notice_number": f"N-{receivable_id}",
        "payment_number": None,
        "confirmation_number": None,
        "filing_receipt_number": None,
        "due_date": DUE,
        "principal": 365_000,
        "dunning_fee": 0,
        "dunning_sent_on": None,
        "changed_on": None,
    }
    return defaults | values


def snapshot(snapshot_date: date, *receivables: dict, delivery_number: int = 1) -> pl.DataFrame:
    """A receivables snapshot delivered for snapshot_date."""
    origin = {
        "file_name": f"CHOTEI_132071_{snapshot_date:%Y%m%d}_{delivery_number:03}.csv",
        "snapshot_date": snapshot_date,
        "delivery_number": delivery_number,
    }
    return pl.DataFrame([origin | row for row in receivables], schema=SNAPSHOT_SCHEMA)


def payment(
    sequence: int,
    paid_on: date,
    principal: int = 0,
    receivable_id: str = "R1",
    *,
    late_fee: int = 0,
    dunning_fee: int = 0,
    additional_charge: int = 0,
    total: int | None = None,
    payment_class: str = "01",
    processed_at: time = time(10, 0),
    serial: str | None = None,
    status: str = "applied",
    source: str = "payment_file",
) -> dict:
    """An applied payment CT01-<sequence> processed by MPN on its 納付日."""
    return {
        "payment_key": f"CT01-{sequence:06}",
        "common_tax_id": "CT01",
        "sequence_number": sequence,
        "payment_info_sequence": None,
        "source": source,
        "status": status,
        "receivable_id": receivable_id,
        "paid_on": paid_on,
        "mpn_processed_on": paid_on,
        "mpn_processed_at": processed_at,
        "mpn_serial": serial or f"{sequence:06}",
        "payment_class": payment_class,
        "paid_total": principal + late_fee + dunning_fee + additional_charge if total is None else total,
        "paid_principal": principal,
        "paid_late_fee": late_fee,
        "paid_dunning_fee": dunning_fee,
        "paid_additional_charge": additional_charge,
    }


def key(sequence: int) -> str:
    return f"CT01-{sequence:06}"


def payments_frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PAYMENT_SCHEMA)


def settle(snapshots: list[pl.DataFrame], payments: pl.DataFrame, as_of: date = AS_OF, **settings) -> Settlement:
    """The rebuild's steps after matching over the receivables of the snapshots, as derived_state calls them."""
    stored = pl.concat(snapshots)
    return settlement(
        payments, receivable_versions(stored), principal_history(stored, receivable_versions(stored)), current_receivables(stored), as_of, RATES, Settings(**settings)
    )


def one_receivable(**values) -> list[pl.DataFrame]:
    return [snapshot(SNAPSHOT_DAY, receivable(**values))]


def amounts(settled: Settlement) -> list[tuple]:
    """(payment_key, principal, dunning fee, late fee applied, overpaid) per applied payment."""
    joined = settled.applications.join(settled.overpaid_amounts, on="payment_key")
    return sorted(joined.select(*APPLICATION_AMOUNTS[:1], *APPLICATION_AMOUNTS[2:], "overpaid_amount").rows())


def test_full_payment_on_time_settles_the_principal_and_nothing_else():
    result = settle(one_receivable(), payments_frame(payment(1, DUE, 365_000)))
    expected = pl.DataFrame(
        {
            "payment_key": [key(1)],
            "common_tax_id": ["CT01"],
            "sequence_number": [1],
            "payment_info_sequence": [None],
            "receivable_id": ["R1"],
            "paid_on": [DUE],
            "principal_applied": [365_000],
            "dunning_fee_applied": [0],
            "late_fee_applied": [0],
            # A 2026 receivable paid on 2026-04-30: 会計年度 2026, 現年.
            "fiscal_year": [2026],
            "current_or_arrears": ["現年"],
        },
        schema=result.applications.schema,
    )
    assert_frame_equal(result.applications, expected)
    assert result.overpaid_amounts.rows() == [(key(1), 0)]
    assert result.refund_candidates.is_empty() and result.arrears.is_empty() and result.offsets.is_empty()


def test_partial_payment_applies_what_it_paid():
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 5, 10), 165_000)))
    assert amounts(result) == [(key(1), 165_000, 0, 0, 0)]


def test_late_payment_pays_the_late_fee_owed_to_its_day():
    # 納付日 6/9: 5/1..5/31 31 days × 28 = 868, 6/1..6/9 9 days × 91 = 819; 1,687 → 1,600 yen.
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 6, 9), 365_000, late_fee=1_600)))
    assert amounts(result) == [(key(1), 365_000, 0, 1_600, 0)]


def test_late_fee_paid_above_what_is_owed_is_an_overpayment():
    # The 納付書 asked 2,000 yen; shuno's own 延滞金 is 1,600 (as above): 400 overpaid (§3.1).
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 6, 9), 365_000, late_fee=2_000)))
    assert amounts(result) == [(key(1), 365_000, 0, 1_600, 400)]


def test_late_fee_paid_below_what_is_owed_is_applied_whole():
    result = settle(one_receivable(), payments_frame(payment(1, date(2026, 6, 9), 365_000, late_fee=1_000)))
    assert amounts(result) == [(key(1), 365_000, 0, 1_000, 0)]


@pytest.mark.parametrize(
    ("principal_part", "expected"),
    [
        # 本税等 366,700 = 本税 365,000 + 督促手数料 100 + 延滞金 1,600 (to 6/9): every debt settled.
        (366_700, (365_000, 100, 1_600, 0)),
        # 365,050: 本税 first, then 50 of the 100 yen 督促手数料, nothing left for 延滞金.
        (365_050, (365_000, 50, 0, 0)),
        # 367,000: 300 yen more than everything owed is an overpayment.
        (367_000, (365_000, 100, 1_600, 300)),
    ],
)
def test_lump_sum_goes_to_principal_then_dunning_fee_then_late_fee(principal_part, expected):
    result = settle(one_receivable(dunning_fee=100), payments_frame(payment(1, date(2026, 6, 9), principal_part)))
    assert amounts(result) == [(key(1), *expected)]


def test_late_fee_only_and_dunning_fee_only_payments():
    # 本税 on 6/9 (延滞金 1,600 as above), 督促手数料 alone (03) on 6/10, 延滞金 alone (02) on 6/12;
    # the second 02 payment finds the 延滞金 settled: all of it is an overpayment.
    payments = payments_frame(
        payment(1, date(2026, 6, 9), 365_000),
        payment(2, date(2026, 6, 10), total=100, payment_class="03"),
        payment(3, date(2026, 6, 12), total=1_600, payment_class="02"),
        payment(4, date(2026, 6, 15), total=1_000, payment_class="02"),
    )
    result = settle(one_receivable(dunning_fee=100), payments)
    assert amounts(result) == [
        (key(1), 365_000, 0, 0, 0),
        (key(2), 0, 100, 0, 0),
        (key(3), 0, 0, 1_600, 0),
        (key(4), 0, 0, 0, 1_000),
    ]


def test_provisional_payment_carries_dunning_fee_and_additional_charge_apart():
    # 仮登録: 納付額 364,000 + 納付加算金 1,000 are the 本税 part, 納付督促手数料 100 the 督促 part.
    row = payment(1, date(2026, 6, 9), 364_000, dunning_fee=100, additional_charge=1_000, late_fee=1_600, source="provisional")
    row |= {"common_tax_id": None, "sequence_number": None, "payment_info_sequence": 7, "payment_key": "SEQ-7", "mpn_processed_on": None}
    result = settle(one_receivable(dunning_fee=100), payments_frame(row))
    assert amounts(result) == [("SEQ-7", 365_000, 100, 1_600, 0)]


ORDER_PAYMENTS = [
    payment(4, date(2026, 5, 10), 100_000),
    payment(2, date(2026, 4, 30), 100_000, processed_at=time(10, 0)),
    payment(1, date(2026, 4, 20), 200_000),
    payment(3, date(2026, 4, 30), 100_000, processed_at=time(9, 0)),
]


def test_payments_apply_in_payment_day_then_mpn_order_whatever_the_input_order():
    # In order: 4/20 200,000; 4/30 09:00 100,000 (300,000 paid); 4/30 10:00 pays the last 65,000
    # and overpays 35,000; 5/10 is wholly overpaid.
    result = settle(one_receivable(), payments_frame(*ORDER_PAYMENTS))
    assert amounts(result) == [
        (key(1), 200_000, 0, 0, 0),
        (key(2), 65_000, 0, 0, 35_000),
        (key(3), 100_000, 0, 0, 0),
        (key(4), 0, 0, 0, 100_000),
    ]


def test_payments_tied_on_day_and_time_apply_in_serial_order():
    tied = [payment(sequence, DUE, 200_000, serial=serial) for sequence, serial in ((1, "000009"), (2, "000003"))]
    result = settle(one_receivable(), payments_frame(*tied))
    assert amounts(result) == [(key(1), 165_000, 0, 0, 35_000), (key(2), 200_000, 0, 0, 0)]


def mixed_case() -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Two taxpayers, a 減額, a cancellation, double, partial, late and fee-only payments."""
    first = snapshot(
        SNAPSHOT_DAY,
        receivable("R0", due_date=date(2026, 1, 30), dunning_fee=100),
        receivable("R1"),
        receivable("R2", principal=730_000),
        receivable("R3"),
        receivable("R4", taxpayer_id="T2"),
        receivable("R5", taxpayer_id="T2", due_date=date(2026, 3, 31)),
    )
    second = snapshot(
        date(2026, 6, 15),
        receivable("R0", due_date=date(2026, 1, 30), dunning_fee=100),
        receivable("R1"),
        receivable("R2", principal=365_000, changed_on=date(2026, 6, 10)),
        receivable("R4", taxpayer_id="T2"),
        receivable("R5", taxpayer_id="T2", due_date=date(2026, 3, 31)),
    )
    payments = payments_frame(
        *ORDER_PAYMENTS,
        payment(5, DUE, 730_000, "R2"),
        payment(6, date(2026, 5, 1), 365_000, "R3"),
        payment(7, date(2026, 6, 9), 365_000, "R4", late_fee=2_000),
        payment(8, date(2026, 6, 12), total=500, payment_class="02", receivable_id="R4"),
        payment(9, date(2026, 5, 20), 100_000, "R5"),
        payment(10, DUE, 5_000, "R9", status="pending"),
    )
    return [first, second], payments


def test_every_applied_payment_is_wholly_applications_and_overpayment():
    snapshots, payments = mixed_case()
    result = settle(snapshots, payments)
    totals = result.applications.group_by("payment_key").agg(pl.sum_horizontal(APPLICATION_AMOUNTS[2:]).sum().alias("applied"))
    paid = payments.filter(pl.col("status") == "applied").select("payment_key", "paid_total")
    checked = paid.join(totals, on="payment_key", how="left").join(result.overpaid_amounts, on="payment_key", how="left")
    assert checked.height == 9
    assert checked.filter(pl.col("paid_total") != pl.col("applied") + pl.col("overpaid_amount")).is_empty()


def test_reduction_shrinks_the_latest_payment_first():
    # 200,000 on 4/20 and 165,000 on 4/30 paid 365,000; the 本税 is now 265,000: the 4/30
    # payment keeps 65,000 and overpays 100,000.
    snapshots = [snapshot(SNAPSHOT_DAY, receivable()), snapshot(date(2026, 6, 15), receivable(principal=265_000, changed_on=date(2026, 6, 10)))]
    result = settle(snapshots, payments_frame(payment(2, DUE, 165_000), payment(1, date(2026, 4, 20), 200_000)))
    assert amounts(result) == [(key(1), 200_000, 0, 0, 0), (key(2), 65_000, 0, 0, 100_000)]


def test_payment_to_a_cancelled_receivable_is_wholly_overpaid():
    snapshots = [snapshot(SNAPSHOT_DAY, receivable("R1", dunning_fee=100), receivable("R2")), snapshot(date(2026, 6, 1), receivable("R2"))]
    result = settle(snapshots, payments_frame(payment(1, date(2026, 6, 9), 365_100)))
    assert amounts(result) == [(key(1), 0, 0, 0, 365_100)]


def test_payments_not_applied_are_left_out():
    payments = payments_frame(payment(1, DUE, 365_000, status="held"), payment(2, DUE, 365_000, receivable_id=None, status="pending"))
    result = settle(one_receivable(), payments, as_of=DUE)
    assert result.applications.is_empty() and result.overpaid_amounts.is_empty()
    assert result.arrears.is_empty()  # unpaid, but on the 納期限 itself not yet past it
    assert settle(one_receivable(), payments, as_of=date(2026, 5, 1)).arrears["principal_outstanding"].to_list() == [365_000]


def test_payment_to_a_receivable_never_delivered_is_refused():
    with pytest.raises(ValueError, match="never delivered: R9"):
        settle(one_receivable(), payments_frame(payment(1, DUE, 365_000, "R9")))


def test_payment_whose_parts_exceed_its_total_is_refused():
    with pytest.raises(ValueError, match="parts over paid_total: CT01-000001"):
        settle(one_receivable(), payments_frame(payment(1, DUE, 365_000, late_fee=1_000, total=1_000 - 1)))


def test_applied_payment_without_receivable_is_refused():
    with pytest.raises(ValueError, match="without receivable"):
        settle(one_receivable(), payments_frame(payment(1, DUE, 365_000, receivable_id=None)))


def naive_amounts(payments: pl.DataFrame, receivables: pl.DataFrame, as_of: date) -> list[tuple]:
    """The applications of SPEC §3.1 by a plain loop per receivable, payment by payment."""
    result = []
    for owed in receivables.iter_rows(named=True):
        rows = sorted(payments.filter(pl.col("receivable_id") == owed["receivable_id"]).iter_rows(named=True), key=naive_order)
        parts = [naive_parts(row) for row in rows]
        # A cancelled receivable owes neither 本税 (0 in versions) nor 督促手数料.
        principal_left, dunning_fee_left, principal_settled = owed["principal"], 0 if owed["cancelled"] else owed["dunning_fee"], []
        for row, (principal, _, _) in zip(rows, parts):
            settled = min(principal, principal_left)
            principal_left -= settled
            principal_settled.append(settled)
        late_fee_left = naive_late_fee(owed, rows, principal_settled, principal_left, as_of)
        for row, (principal, dunning_fee, late_fee), settled in zip(rows, parts, principal_settled):
            to_dunning_fee = dunning_fee + principal - settled
            dunning_fee_settled = min(to_dunning_fee, dunning_fee_left)
            dunning_fee_left -= dunning_fee_settled
            to_late_fee = late_fee + to_dunning_fee - dunning_fee_settled
            late_fee_settled = min(to_late_fee, late_fee_left)
            late_fee_left -= late_fee_settled
            result.append((row["payment_key"], settled, dunning_fee_settled, late_fee_settled, to_late_fee - late_fee_settled))
    return sorted(result)


def naive_order(row: dict) -> tuple:
    return (row["paid_on"], row["mpn_processed_on"] or date.max, row["mpn_processed_at"] or time.max, row["mpn_serial"] or "\uffff", row["payment_key"])


def naive_parts(row: dict) -> tuple[int, int, int]:
    if row["payment_class"] == "02":
        return 0, 0, row["paid_total"]
    if row["payment_class"] == "03":
        return 0, row["paid_total"], 0
    return row["paid_principal"] + row["paid_additional_charge"], row["paid_dunning_fee"], row["paid_late_fee"]


def naive_late_fee(owed: dict, rows: list[dict], principal_settled: list[int], principal_left: int, as_of: date) -> int:
    paid = [(row["paid_on"], amount) for row, amount in zip(rows, principal_settled) if amount]
    end = max(day for day, _ in paid) if principal_left == 0 and paid else as_of
    if owed["principal"] == 0 or end <= owed["effective_due_date"]:
        return 0
    return late_fee(LateFeeCase(owed["principal"], owed["effective_due_date"], end, [p for p in paid if p[0] <= end]), RATES)


def random_case(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Receivables and payments with ties, fee-only payments, 仮登録 (no MPN day) and cancellations."""
    rng = random.Random(seed)
    dues = [date(2026, 1, 30), date(2026, 3, 31), DUE]
    owed = [
        receivable(f"R{n}", principal=rng.choice([1_500, 50_000, 365_000, 1_095_000]), dunning_fee=rng.choice([0, 100]), due_date=rng.choice(dues))
        for n in range(12)
    ]
    first, latest = snapshot(SNAPSHOT_DAY, *owed), snapshot(date(2026, 5, 1), *owed[:-2])
    rows = []
    for sequence in range(1, 61):
        target = rng.choice(owed)
        paid_on = target["due_date"] + timedelta(days=rng.randint(-10, 60))
        row = payment(
            sequence,
            paid_on,
            int(target["principal"] * rng.choice([0.2, 0.5, 1, 1])),
            target["receivable_id"],
            late_fee=rng.choice([0, 0, 700, 3_000]),
            dunning_fee=rng.choice([0, 0, 100]),
            payment_class=rng.choice(["01", "01", "01", "02", "03"]),
            processed_at=rng.choice([time(9, 0), time(10, 0)]),
            serial=rng.choice(["000001", "000002", None]),
        )
        if row["payment_class"] != "01":
            row["paid_total"] = rng.choice([100, 1_000, 5_000])
        if rng.random() < 0.2:
            row["mpn_processed_on"] = None
        rows.append(row)
    return pl.concat([first, latest]), payments_frame(*rows)


@pytest.mark.parametrize("seed", range(8))
def test_cumulative_waterfalls_agree_with_a_payment_by_payment_loop(seed):
    snapshots, payments = random_case(seed)
    versions = receivable_versions(snapshots)
    principal_settled = principal_ledger(payments, versions)
    ledger = application_ledger(principal_settled, ledger_late_fees(principal_settled, AS_OF, RATES))
    vectorised = sorted(ledger.select("payment_key", *APPLICATION_AMOUNTS[2:], "overpaid_amount").rows())
    assert vectorised == naive_amounts(payments, versions, AS_OF)
