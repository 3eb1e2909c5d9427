"""A realistic sample inbox for `shuno sample` (CONTRACT.md): receivables and the files of SPEC §1.

Pure generation: frames and bytes, no I/O and no clock; the seed decides everything. The city
(`sample_data.city`) is drawn column-wise; the anomalies real deliveries bring are planted row by
row on taxpayers and receivables of their own (`sample_data.planted`), so `SampleInbox.cases`
points a test at each of them; the bytes no writer produces are patched in last
(`sample_data.anomalies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from sample_data.city import (
    RECEIVABLES_PER_PAYMENT,
    bulk_links,
    bulk_payment_plan,
    bulk_sightings,
    password_pool,
    sample_receivables,
    sample_taxpayers,
    with_dunning,
)
from sample_data.common import FIRST_SETTLEMENT_DATE, SAMPLE_RECEIVABLE_SCHEMA, SETTLEMENT_DAYS, SampleFile, settlement_dates
from sample_data.credits import bank_credit_files
from sample_data.files import sample_files
from sample_data.planted import located_cases, planted_cases
from schemas.rates import RatesTable

@dataclass(frozen=True)
class SampleInbox:
    """The sample: its settlement dates, its files, and where each planted case lies."""

    settlement_dates: tuple[date, ...]
    files: tuple[SampleFile, ...]
    cases: pl.DataFrame


def sample_inbox(payments: int, seed: int, rates: RatesTable, settlement_days: int = SETTLEMENT_DAYS) -> SampleInbox:
    """The whole sample inbox: about `payments` payments over `settlement_days` business days."""
    if payments < 1 or settlement_days < SETTLEMENT_DAYS:
        raise ValueError(f"a sample needs at least 1 payment and {SETTLEMENT_DAYS} settlement days")
    rng = np.random.default_rng(seed)
    dates = settlement_dates(FIRST_SETTLEMENT_DATE, settlement_days)
    taxpayers = sample_taxpayers(rng, RECEIVABLES_PER_PAYMENT * payments)
    receivables = sample_receivables(rng, taxpayers, RECEIVABLES_PER_PAYMENT * payments, dates[0])
    plan = bulk_payment_plan(rng, receivables, payments, dates)
    receivables = with_dunning(rng, receivables, plan, dates[0])
    passwords = password_pool(rng)
    bulk = bulk_sightings(rng, plan, receivables, taxpayers, dates, rates, passwords)
    planted = planted_cases(dates, rates, passwords)
    sightings = pl.concat([bulk, planted.sightings], how="vertical")
    links = pl.concat([bulk_links(rng, receivables, taxpayers, dates[0]), planted.links], how="vertical")
    all_receivables = pl.concat([receivables.cast(dict(SAMPLE_RECEIVABLE_SCHEMA)), planted.receivables], how="vertical")
    case_keys = planted.cases["record_key"].drop_nulls().to_list()
    files, locations = sample_files(sightings, all_receivables, links, dates, planted.management_redeliveries, case_keys)
    files += bank_credit_files(sightings, dates)
    return SampleInbox(dates, tuple(files), located_cases(planted.cases, sightings, locations))


