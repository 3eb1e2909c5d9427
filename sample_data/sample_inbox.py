"""A realistic sample inbox for `shuno sample` (CONTRACT.md): receivables and the files of SPEC §1.

Pure generation: frames and bytes, no I/O and no clock; the seed decides everything. The city
(`sample_data.city`) is drawn column-wise; the anomalies real deliveries bring are planted row by
row on taxpayers and receivables of their own (`sample_data.planted`), so `SampleInbox.cases`
points a test at each of them; the bytes no writer produces are patched in last
(`sample_data.anomalies`). `under_collector` delivers the same city under another 収納団体コード,
as a shared centre's inbox holds several collectors' files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from schemas.inbox import parse_inbox_name
from schemas.models import is_collector_code
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




def under_collector(sample: SampleInbox, collector: int) -> SampleInbox:
    """The same sample delivered under another 収納団体コード: in every file's name, payment file header and records."""
    if not is_collector_code(collector):
        raise ValueError(f"{collector} is not a 収納団体コード (six digits, the last its check digit)")
    names = {file.name: replace(parse_inbox_name(file.name), collector_code=collector).file_name() for file in sample.files}
    files = tuple(replace(file, name=names[file.name], **_collector_parts(file, collector)) for file in sample.files)
    return replace(sample, files=files, cases=sample.cases.with_columns(pl.col("file_name").replace(names)))


def _collector_parts(file: SampleFile, collector: int) -> dict:
    """The records and header of `file` with the collector's fields set to `collector`; the writer writes them as any other value."""
    # 団体番号 (collector_number) is the 収納団体コード without its check digit.
    values = {"collector_code": collector, "local_government_code": collector, "collector_number": f"{collector:06d}"[:5]}
    records = file.records
    if records is not None:
        records = records.with_columns(pl.lit(value, records.schema[column]).alias(column) for column, value in values.items() if column in records.columns)
    header = file.header | {"collector_code": collector} if file.header else file.header
    return {"records": records, "header": header}
