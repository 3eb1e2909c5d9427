"""The sample city: its taxpayers, their receivables over several fiscal years, and the ordinary
payments (those of the settlement window and those migrated as 仮登録 from before go-live).

Drawn column-wise with numpy and polars, the seed deciding everything; personal fields come from
the synthetic pools of `sample_data.names` (the writer encodes each distinct value once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
import polars as pl

from sample_data.common import (
    BANKS,
    DEPOSIT_BUSINESS_DAYS,
    DUNNING_FEE,
    DUNNING_SENT_AFTER_DAYS,
    ELTAX_CLASS_BY_TAX_CODE,
    FILING_TAX_CODES,
    FISCAL_YEARS,
    LINK_SCHEMA,
    PAYMENT_METHOD_BY_CHANNEL,
    QR_TAX_CODES,
    ROUTE_KINDS,
    SIGHTING_SCHEMA,
    corporate_numbers,
    ordinance_due_dates,
    sighting_dates,
    zero_padded,
)
from sample_data.names import ADDRESSES, CORPORATE_NAMES, INDIVIDUAL_NAMES
from schemas import codes
from schemas.rates import RatesTable
from transforms.calendar import add_business_days, effective_due_dates, is_closed_day
from transforms.late_fee import LateFeeCase, interest_base, late_fee

RECEIVABLES_PER_PAYMENT = 2
# Share of the receivables by tax code; with the fiscal-year weights they give a snapshot whose
# past installments are mostly paid and whose future ones (特別徴収 above all) are not due yet.
TAX_CODE_SHARES = {"010": 0.20, "020": 0.30, "030": 0.04, "040": 0.24, "050": 0.05, "060": 0.12, "070": 0.05}
FISCAL_YEAR_WEIGHTS = {2022: 0.03, 2023: 0.05, 2024: 0.08, 2025: 0.24, 2026: 0.60}
# Annual 本税 by tax code: median yen and spread of a log-normal draw (050 is a flat rate).
ANNUAL_AMOUNTS = {
    "010": (110_000, 0.7),
    "020": (900_000, 1.0),
    "030": (160_000, 0.9),
    "040": (110_000, 0.8),
    "060": (170_000, 0.6),
    "070": (40_000, 1.0),
}
LIGHT_VEHICLE_RATES = (2_000, 3_900, 6_900, 7_200, 10_800, 12_900)
RETIREMENT_MONTHS = 0.3  # share of months in which a company files 退職所得
BUSINESS_YEAR_ENDS = (0.6, 0.15, 0.1, 0.15)  # 030: business years ending in March, June, September, December
HISTORICAL_SHARE = 0.8  # of the payments: migrated from before go-live, one 仮登録 each
HISTORICAL_LATE = 0.12  # of the historical payments: paid after the 納期限
PAST_PAID_AT_MOST = 0.92  # of the past receivables: paid by the migrated history at most
WINDOW_WEIGHTS = {"current": 30.0, "past": 1.0, "future": 0.6}  # which receivables the window's payments pay
ELECTRONIC_SHARE = 0.72  # of the window's payments: through eLTAX / eL-QR (payment files); the rest 仮登録
PARTIAL_SHARE = 0.04  # of the window's 申告 and 仮登録 payments: part of the 本税 only
LATE_FEE_PAYERS = 0.5  # of the late payments: the 延滞金 paid with the 本税
PROVISIONAL_WITH_ID = 0.5  # of the window's 仮登録: with a 共通納税ID (the rest: 納付情報シーケンス alone)
DUNNING_SENT = 0.9  # of the receivables unpaid 15 days after the 納期限: a 督促状 went out
QR_CHANNELS = {"05": 0.3, "06": 0.15, "02": 0.2, "04": 0.2, "01": 0.1, "03": 0.05}
FILING_CHANNELS = {"07": 0.5, "02": 0.35, "01": 0.15}
PASSWORD_POOL = 997


def payment_days(dates: tuple[date, ...]) -> pl.DataFrame:
    """The days paid on whose 速報 or 確報 falls on a settlement date, with each sighting's date."""
    rows = []
    day = dates[0] - timedelta(days=14)
    while day < dates[-1]:
        quick, confirm = sighting_dates(day)
        if quick in dates or confirm in dates:
            weight = 0.3 if is_closed_day(day) else 1.0
            rows.append((day, quick if quick in dates else None, confirm if confirm in dates else None, weight))
        day += timedelta(days=1)
    schema = {"paid_on": pl.Date, "quick_on": pl.Date, "confirm_on": pl.Date, "weight": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _scrambled(index: np.ndarray, digits: int, multiplier: int) -> np.ndarray:
    # An odd multiplier that is no multiple of 5 permutes 0..10^digits − 1: unique, unordered numbers.
    return (index.astype(np.int64) * multiplier + 104_729) % 10**digits


def _pool_column(rng: np.random.Generator, pool: Iterable, count: int) -> pl.Series:
    pool = pl.Series(list(pool))
    return pool.gather(rng.integers(0, len(pool), count))


def sample_taxpayers(rng: np.random.Generator, receivables: int) -> pl.DataFrame:
    """The city's taxpayers: people (賦課 taxes) and companies (申告 taxes), with names and ids."""
    people, companies = max(30, receivables // 10), max(12, receivables // 25)
    count = people + companies
    corporate = np.arange(count) >= people
    company_index = np.arange(count) - people
    people_names, company_names = _pool_column(rng, INDIVIDUAL_NAMES, count), _pool_column(rng, CORPORATE_NAMES, count)
    names = pl.select(pl.when(pl.Series(corporate)).then(company_names).otherwise(people_names)).to_series()
    people_only = pl.Series(~corporate)
    return pl.DataFrame(
        {
            "taxpayer_id": pl.Series(np.where(corporate, 5_000_000_001 + company_index, 1_000_000_001 + np.arange(count))),
            "corporate": corporate,
            "payer_name": names.list.get(0),
            "payer_name_kana": names.list.get(1),
            "payer_address": _pool_column(rng, ADDRESSES, count),
            "corporate_number": corporate_numbers(rng.integers(10**11, 10**12, count)).set(people_only, None),
            "eltax_taxpayer_id": ("1" + zero_padded(_scrambled(company_index, 14, 3_000_017), 14)).set(people_only, None),
        }
    ).with_columns(pl.col("taxpayer_id").cast(pl.String))


@cache
def due_date_table(first_settlement_date: date) -> pl.DataFrame:
    """Every (tax code, fiscal year, installment, variant) assessed by the first settlement date."""
    rows = [
        (tax_code, year, installment, variant, due, assessed_on)
        for year in FISCAL_YEARS
        for tax_code, installment, variant, due, assessed_on in ordinance_due_dates(year)
        if assessed_on <= first_settlement_date
    ]
    schema = {
        "tax_code": pl.String, "fiscal_year": pl.Int64, "installment": pl.String, "variant": pl.Int64,
        "due_date": pl.Date, "assessed_on": pl.Date,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def sample_receivables(rng: np.random.Generator, taxpayers: pl.DataFrame, count: int, first_settlement_date: date) -> pl.DataFrame:
    """About `count` receivables (調定): whole assessments split into their installments."""
    table = due_date_table(first_settlement_date)
    assessments = pl.concat([_assessments(rng, taxpayers, tax_code, table, count) for tax_code in TAX_CODE_SHARES])
    rows = assessments.join(table, on=["tax_code", "fiscal_year", "variant"], how="inner")
    # 退職所得 is filed only for the months someone retired.
    rows = rows.filter((pl.col("tax_code") != "070") | pl.Series(rng.random(rows.height) < RETIREMENT_MONTHS))
    rows = rows.sort("taxpayer_id", "tax_code", "fiscal_year", "installment")
    return _receivable_columns(rows.with_columns(principal=_installment_principal(rng, rows)), rng)


def _assessments(rng: np.random.Generator, taxpayers: pl.DataFrame, tax_code: str, table: pl.DataFrame, count: int) -> pl.DataFrame:
    """One row per (taxpayer, tax code, fiscal year) with the year's 本税, enough for its share of `count`."""
    available = table.filter(pl.col("tax_code") == tax_code).group_by("fiscal_year", "variant").len()
    years = available["fiscal_year"].unique().sort().to_list()
    year_weights = np.array([FISCAL_YEAR_WEIGHTS[year] for year in years])
    year_weights = year_weights / year_weights.sum()
    variant_weights = BUSINESS_YEAR_ENDS if tax_code == "030" else (1.0,)
    # Installments an assessment expands to, on average: not every year has all of them assessed yet.
    expected = sum(
        year_weights[years.index(year)] * variant_weights[variant] * rows for year, variant, rows in available.iter_rows()
    ) * (RETIREMENT_MONTHS if tax_code == "070" else 1.0)
    size = max(3, round(count * TAX_CODE_SHARES[tax_code] / expected))
    payers = taxpayers.filter(pl.col("corporate") == (tax_code in FILING_TAX_CODES))["taxpayer_id"]
    drawn = np.sort(rng.choice(years, size, p=year_weights))
    # A taxpayer has at most one assessment of a tax a year: draw each year's payers without replacement.
    per_year = [rng.permutation(len(payers))[: int((drawn == year).sum())] for year in years]
    fiscal_years = np.repeat(years, [len(chosen) for chosen in per_year])
    size = len(fiscal_years)
    return pl.DataFrame(
        {
            "taxpayer_id": payers.gather(np.concatenate(per_year)),
            "tax_code": pl.Series([tax_code] * size, dtype=pl.String),
            "fiscal_year": pl.Series(fiscal_years, dtype=pl.Int64),
            "variant": pl.Series(rng.choice(len(variant_weights), size, p=variant_weights)),
            "annual": pl.Series(_annual_amounts(rng, tax_code, size)),
            "installments": pl.Series([len(codes.INSTALLMENTS_BY_TAX_CODE[tax_code])] * size),
        }
    )


def _annual_amounts(rng: np.random.Generator, tax_code: str, size: int) -> np.ndarray:
    if tax_code == "050":
        return rng.choice(LIGHT_VEHICLE_RATES, size)
    median, spread = ANNUAL_AMOUNTS[tax_code]
    # 地方税 amounts are in whole 100 yen (§20条の4の2).
    return np.maximum(np.round(rng.lognormal(np.log(median), spread, size) / 100) * 100, 1_000).astype(np.int64)


def _installment_principal(rng: np.random.Generator, rows: pl.DataFrame) -> pl.Series:
    """Each installment's share of the year, the remainder under 1,000 yen in the first one."""
    annual, count = pl.col("annual"), pl.col("installments")
    share = (annual // count) // 1_000 * 1_000
    split = pl.when(pl.col("installment").is_in(["00", "01"])).then(annual - share * (count - 1)).otherwise(share)
    # Each 退職所得 month is its own filing: its own amount.
    monthly = pl.Series(_annual_amounts(rng, "070", rows.height))
    return rows.select(pl.when(pl.col("tax_code") == "070").then(monthly).otherwise(split)).to_series()


def _receivable_columns(rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The CONTRACT columns of bulk receivables, plus the effective 納期限 and snapshot columns."""
    index = np.arange(rows.height)
    qr = pl.col("tax_code").is_in(QR_TAX_CODES)
    filing_receipt = pl.col("due_date").dt.year().cast(pl.String) + zero_padded(_scrambled(index, 16, 1_000_003), 16)
    return rows.select(
        receivable_id=zero_padded(100_000_000_001 + index, 12),
        taxpayer_id="taxpayer_id",
        tax_code="tax_code",
        fiscal_year="fiscal_year",
        tax_year="fiscal_year",
        installment="installment",
        notice_number=pl.col("tax_code") + pl.col("fiscal_year").cast(pl.String) + zero_padded(index + 1, 9),
        payment_number=pl.when(qr).then("1" + zero_padded(_scrambled(index, 15, 7_919_311), 15)),
        confirmation_number=pl.when(qr).then(zero_padded(rng.integers(0, 10**6, rows.height), 6)),
        filing_receipt_number=pl.when(~qr).then(filing_receipt),
        due_date="due_date",
        principal="principal",
        dunning_fee=pl.lit(0, pl.Int64),
        dunning_sent_on=pl.lit(None, pl.Date),
        changed_on=pl.lit(None, pl.Date),
        listed_from=pl.lit(None, pl.Date),
        listed_until=pl.lit(None, pl.Date),
        reduced_to=pl.lit(None, pl.Int64),
        reduced_on=pl.lit(None, pl.Date),
        effective_due_date=effective_due_dates(rows["due_date"]),
    )


def bulk_payment_plan(rng: np.random.Generator, receivables: pl.DataFrame, payments: int, dates: tuple[date, ...]) -> pl.DataFrame:
    """Which receivables the bulk payments pay, and when: migrated history, then the window's."""
    due = receivables["effective_due_date"]
    past = (due < dates[0] - timedelta(days=14)).to_numpy()
    future = (due > dates[-1] + timedelta(days=31)).to_numpy()
    historical_count = min(round(payments * HISTORICAL_SHARE), int(past.sum() * PAST_PAID_AT_MOST))
    historical = np.sort(rng.choice(np.flatnonzero(past), historical_count, replace=False))
    still_open = np.ones(receivables.height, dtype=bool)
    still_open[historical] = False
    weights = np.select([future, past], [WINDOW_WEIGHTS["future"], WINDOW_WEIGHTS["past"]], WINDOW_WEIGHTS["current"])
    # Weighted sampling without replacement: the smallest exponential keys scaled by weight.
    keys = np.where(still_open, rng.exponential(size=receivables.height) / weights, np.inf)
    window_count = min(payments - historical_count, int(still_open.sum()))
    chosen = np.argpartition(keys, window_count)[:window_count] if window_count < len(keys) else np.flatnonzero(still_open)
    window = np.sort(chosen)
    paid_on = [_historical_paid_on(rng, receivables, historical, dates[0]), _window_paid_on(rng, len(window), dates)]
    return pl.DataFrame(
        {
            "receivable_index": np.concatenate([historical, window]),
            "historical": np.repeat([True, False], [len(historical), len(window)]),
            "paid_on": np.concatenate(paid_on),
        }
    )


def _historical_paid_on(
    rng: np.random.Generator, receivables: pl.DataFrame, historical: np.ndarray, first_settlement_date: date
) -> np.ndarray:
    """納付日 of migrated payments: up to three weeks before the 納期限, some up to eight months after."""
    due = receivables["effective_due_date"].to_numpy()[historical]
    late = rng.random(len(due)) < HISTORICAL_LATE
    offsets = np.where(late, rng.integers(1, 240, len(due)), -rng.integers(0, 21, len(due))).astype("timedelta64[D]")
    return np.minimum(due + offsets, np.datetime64(first_settlement_date - timedelta(days=10)))


def _window_paid_on(rng: np.random.Generator, count: int, dates: tuple[date, ...]) -> np.ndarray:
    """納付日 of the window's payments: the days whose files the settlement dates carry, weekends fewer."""
    days = payment_days(dates)
    weights = days["weight"].to_numpy()
    return days["paid_on"].to_numpy()[rng.choice(len(days), count, p=weights / weights.sum())]


def with_dunning(
    rng: np.random.Generator, receivables: pl.DataFrame, plan: pl.DataFrame, first_settlement_date: date
) -> pl.DataFrame:
    """Receivables with 督促手数料 where a 督促状 went out: unpaid 15 days after the 納期限."""
    first_paid = plan.group_by("receivable_index").agg(pl.col("paid_on").min())
    paid = np.full(receivables.height, np.datetime64("NaT"), dtype="datetime64[D]")
    paid[first_paid["receivable_index"].to_numpy()] = first_paid["paid_on"].to_numpy()
    sent = (receivables["effective_due_date"] + timedelta(days=DUNNING_SENT_AFTER_DAYS)).to_numpy()
    unpaid_then = np.isnat(paid) | (paid > sent)
    dunned = unpaid_then & (sent < np.datetime64(first_settlement_date)) & (rng.random(receivables.height) < DUNNING_SENT)
    return receivables.with_columns(
        dunning_fee=pl.Series(np.where(dunned, DUNNING_FEE, 0)),
        dunning_sent_on=pl.Series(sent).set(pl.Series(~dunned), None),
    )


def password_pool(rng: np.random.Generator) -> pl.Series:
    """Random MPN passwords (8–12 letters and digits) the payments draw from."""
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"))
    return pl.Series(["".join(rng.choice(letters, rng.integers(8, 13))) for _ in range(PASSWORD_POOL)], dtype=pl.String)


def bulk_sightings(
    rng: np.random.Generator,
    plan: pl.DataFrame,
    receivables: pl.DataFrame,
    taxpayers: pl.DataFrame,
    dates: tuple[date, ...],
    rates: RatesTable,
    passwords: pl.Series,
) -> pl.DataFrame:
    """The records of the bulk payments in the payment and 仮登録 files, one per sighting."""
    payments = bulk_payments(rng, plan, receivables, taxpayers, rates, passwords)
    days = payment_days(dates).select("paid_on", "quick_on", "confirm_on")
    window = payments.filter(~pl.col("historical")).join(days, on="paid_on", how="left", maintain_order="left")
    window = window.with_columns(
        management_on=pl.when(pl.col("route") == "filing").then(pl.min_horizontal("quick_on", "confirm_on"))
    )
    # Migrated payments come once, in the first 入金日 仮登録 file.
    historical = payments.filter(pl.col("historical")).with_columns(
        confirm_on=pl.lit(dates[0]), quick_on=pl.lit(None, pl.Date), management_on=pl.lit(None, pl.Date)
    )
    both = pl.concat([window, historical], how="diagonal_relaxed")
    quick = both.filter(pl.col("quick_on").is_not_null()).with_columns(
        settlement_date="quick_on", deposited_on=pl.lit(None, pl.Date), file_kind=_file_kind(confirmation=False)
    )
    confirm = both.filter(pl.col("confirm_on").is_not_null())
    confirm = confirm.with_columns(
        settlement_date="confirm_on",
        deposited_on=_shifted_business_days(confirm["paid_on"], DEPOSIT_BUSINESS_DAYS),
        file_kind=_file_kind(confirmation=True),
    )
    sightings = pl.concat([quick, confirm], how="diagonal_relaxed").with_columns(record_key=pl.int_range(pl.len(), dtype=pl.Int64))
    return sightings.select(SIGHTING_SCHEMA.names()).cast(dict(SIGHTING_SCHEMA))


def _file_kind(confirmation: bool) -> pl.Expr:
    provisional = ROUTE_KINDS["provisional", confirmation].value
    payment = ROUTE_KINDS["electronic", confirmation].value
    return pl.when(pl.col("route") == "provisional").then(pl.lit(provisional)).otherwise(pl.lit(payment))


def _shifted_business_days(days: pl.Series, business_days: int) -> pl.Series:
    # A few thousand distinct days at most: shift each once.
    distinct = days.unique()
    shifted = pl.Series([add_business_days(day, business_days) for day in distinct], dtype=pl.Date)
    return days.replace_strict(distinct, shifted, return_dtype=pl.Date)


def bulk_payments(
    rng: np.random.Generator,
    plan: pl.DataFrame,
    receivables: pl.DataFrame,
    taxpayers: pl.DataFrame,
    rates: RatesTable,
    passwords: pl.Series,
) -> pl.DataFrame:
    """One row per bulk payment: receivable, payer, route, identity and amounts."""
    count = plan.height
    indexed = receivables.with_row_index("receivable_index").with_columns(pl.col("receivable_index").cast(pl.Int64))
    payments = (
        plan.with_columns(payment_key=pl.int_range(count, dtype=pl.Int64))
        .join(indexed, on="receivable_index", how="left", maintain_order="left")
        .join(taxpayers.drop("corporate"), on="taxpayer_id", how="left", maintain_order="left")
    )
    provisional = plan["historical"].to_numpy() | (rng.random(count) >= ELECTRONIC_SHARE)
    payments = payments.with_columns(
        route=pl.when(pl.Series(provisional))
        .then(pl.lit("provisional"))
        .when(pl.col("tax_code").is_in(QR_TAX_CODES))
        .then(pl.lit("qr"))
        .otherwise(pl.lit("filing")),
        password=passwords.gather(rng.integers(0, len(passwords), count)),
        processed_at=_processing_times(rng, count),
        bank=pl.Series(rng.integers(0, len(BANKS), count)),
    )
    return _with_identity(rng, _with_amounts(rng, payments, rates))


def _processing_times(rng: np.random.Generator, count: int) -> pl.Series:
    # Most payments in office hours, the rest spread over the day (smartphones, cards).
    in_office_hours = rng.random(count) < 0.7
    seconds = np.where(in_office_hours, rng.integers(9 * 3600, 17 * 3600, count), rng.integers(0, 86_400, count))
    return pl.Series(seconds * 1_000_000_000, dtype=pl.Int64).cast(pl.Time)


def _with_amounts(rng: np.random.Generator, payments: pl.DataFrame, rates: RatesTable) -> pl.DataFrame:
    """What each payment pays: in full (with 督促手数料 once charged, 延滞金 for some late ones) or in part."""
    count = payments.height
    partial = pl.Series(rng.random(count) < PARTIAL_SHARE) & (pl.col("route") != "qr") & ~pl.col("historical")
    late = pl.col("paid_on") > pl.col("effective_due_date")
    dunned = pl.col("dunning_sent_on").is_not_null() & (pl.col("paid_on") > pl.col("dunning_sent_on"))
    part = (pl.col("principal") * pl.Series(rng.uniform(0.3, 0.8, count)) / 1_000).floor().cast(pl.Int64) * 1_000
    payments = payments.with_columns(
        with_late_fee=late & pl.Series(rng.random(count) < LATE_FEE_PAYERS) & ~partial,
        paid_principal=pl.when(partial)
        .then(pl.max_horizontal(part, 1_000).clip(upper_bound=pl.col("principal")))
        .otherwise("principal"),
        paid_dunning_fee=pl.when(dunned & ~partial).then("dunning_fee").otherwise(0),
        billed_principal=pl.col("principal") + pl.when(dunned).then("dunning_fee").otherwise(0),
    )
    keys = ["principal", "effective_due_date", "paid_on"]
    fees = _late_fees(payments.filter("with_late_fee").select(keys).unique(), rates)
    paid_fee = pl.when("with_late_fee").then(pl.col("late_fee")).otherwise(0)
    return payments.join(fees, on=keys, how="left", maintain_order="left").with_columns(
        billed_late_fee=paid_fee, paid_late_fee=paid_fee
    )


def _late_fees(keys: pl.DataFrame, rates: RatesTable) -> pl.DataFrame:
    """The exact 延滞金 (SPEC §4.1) of paying each distinct (本税, effective 納期限, 納付日) in full."""
    # 本税 counts only through its base (floored to 1,000 yen): distinct (base, 納期限, 納付日) are
    # far fewer than the keys, and each costs an exact computation.
    principals = keys["principal"].unique()
    bases = pl.Series([interest_base(principal) for principal in principals], dtype=pl.Int64)
    keys = keys.with_columns(base=pl.col("principal").replace_strict(principals, bases))
    distinct = keys.select("base", "effective_due_date", "paid_on").unique()
    fees = [late_fee(LateFeeCase(base, due, paid), rates) for base, due, paid in distinct.iter_rows()]
    distinct = distinct.with_columns(late_fee=pl.Series(fees, dtype=pl.Int64))
    return keys.join(distinct, on=["base", "effective_due_date", "paid_on"], how="left").drop("base")


def _with_identity(rng: np.random.Generator, payments: pl.DataFrame) -> pl.DataFrame:
    """共通納税ID and 連番, 納付番号 of 申告 payments, channel and bank, MPN serial, 納付情報シーケンス."""
    count = payments.height
    filing, provisional = pl.col("route") == "filing", pl.col("route") == "provisional"
    # A company paying several 申告 the same day pays them as one eLTAX case: 連番 1, 2, …
    taxpayer, paid_on = pl.col("taxpayer_id"), pl.col("paid_on")
    same_case = filing & (taxpayer == taxpayer.shift()) & (paid_on == paid_on.shift())
    payments = payments.sort("route", "taxpayer_id", "paid_on", "payment_key").with_columns(
        case=(~same_case.fill_null(False)).cum_sum()
    )
    # Payments outside eLTAX carry a 共通納税ID or only the sender's 納付情報シーケンス.
    with_id = ~provisional | (pl.Series(rng.random(count) < PROVISIONAL_WITH_ID) & ~pl.col("historical"))
    channel, filing_channel = _choice(rng, QR_CHANNELS, count), _choice(rng, FILING_CHANNELS, count)
    case_number = zero_padded(_scrambled(payments["case"].to_numpy(), 12, 1_000_000_007), 12)
    serial = pl.int_range(pl.len()).over("paid_on", order_by=["processed_at", "payment_key"]) + 1
    return payments.with_columns(
        common_tax_id=pl.when(with_id).then(paid_on.dt.strftime("%y%m%d") + case_number),
        sequence_number=pl.when(with_id).then(pl.int_range(pl.len()).over("case") + 1).otherwise(0).cast(pl.Int64),
        payment_info_sequence=pl.when(provisional).then(pl.col("payment_key") + 1),
        payment_number=pl.when(filing)
        .then("9" + zero_padded(_scrambled(np.arange(count), 15, 3_333_331), 15))
        .otherwise("payment_number"),
        confirmation_number=pl.when(filing).then(zero_padded(rng.integers(0, 10**6, count), 6)).otherwise("confirmation_number"),
        channel_class=pl.when(filing).then(filing_channel).otherwise(channel),
        payment_scheme=pl.when(~filing)
        .then(pl.lit("02"))
        .when(filing_channel == "07")
        .then(pl.lit("03"))
        .otherwise(pl.lit("01")),
        mpn_serial=serial.cast(pl.String).str.zfill(8),
        bank_code=pl.Series([bank for bank, _ in BANKS]).gather(payments["bank"]),
        branch_code=pl.Series([branch for _, branch in BANKS]).gather(payments["bank"]),
    ).with_columns(
        payment_method=pl.col("channel_class").replace_strict(PAYMENT_METHOD_BY_CHANNEL),
        processed_on="paid_on",
        history_number=pl.lit(0, pl.Int64),
        receipt_class=pl.lit("1"),
        response_code=pl.lit(codes.RESPONSE_CODE_NORMAL),
        payment_class=pl.lit("01"),
        estimated_payment_flag=pl.lit("0"),
        delete_next_run_flag=pl.lit("0"),
        patch=pl.lit(None, pl.String),
        delivery_number=pl.lit(1, pl.Int64),
    )


def _choice(rng: np.random.Generator, weights: dict[str, float], count: int) -> pl.Series:
    values = np.array(list(weights))
    p = np.array(list(weights.values()))
    return pl.Series(values[rng.choice(len(values), count, p=p / p.sum())])


def bulk_links(
    rng: np.random.Generator, receivables: pl.DataFrame, taxpayers: pl.DataFrame, first_settlement_date: date
) -> pl.DataFrame:
    """紐付履歴 linking each company's (納税者ID, 税目区分) to its 義務者住民コード, all before the window."""
    pairs = (
        receivables.filter(pl.col("tax_code").is_in(FILING_TAX_CODES))
        .select("taxpayer_id", eltax_tax_class=pl.col("tax_code").replace_strict(ELTAX_CLASS_BY_TAX_CODE))
        .unique(maintain_order=True)
        .join(
            taxpayers.select("taxpayer_id", "eltax_taxpayer_id", "corporate_number"),
            on="taxpayer_id",
            how="left",
            maintain_order="left",
        )
    )
    start = datetime(2021, 4, 1)
    span = int((datetime.combine(first_settlement_date, time()) - timedelta(days=11) - start).total_seconds())
    linked_at = np.datetime64(start, "s") + rng.integers(0, span, pairs.height).astype("timedelta64[s]")
    return pairs.with_columns(
        registration_class=pl.lit("1"),
        linked_at=pl.Series(linked_at.astype("datetime64[us]")),
        settlement_date=pl.lit(first_settlement_date),
        file_created_on=pl.lit(first_settlement_date),
    ).select(LINK_SCHEMA.names()).cast(dict(LINK_SCHEMA))
