"""Reconciliation benchmark: a generated city, stored in DuckDB, then every derived table rebuilt.

    python benchmarks/reconcile.py [--sizes 1000000 5000000] [--partitions 1 5] [--decisions 0 10000]
        [--chunk-size 1000000] [--rebuild-memory-gb 4] [--nightly] [--cluster-address '' local:2] [--folder DIR]

For each size N the city has N receivables and N payments (a city twice Akishima's size over five
years is about 5,000,000 of each): eL-QR payments matched by 納付番号 (route 1), eLTAX 申告
payments through 管理 records and links (route 2), 仮登録 records of other channels (route 3),
速報 and 確報 sightings, partial, late, double payments and 減額. One child process generates and
stores each city; another, fresh, opens the stored database and rebuilds it as a run does (read,
rebuild, contracts, write, commit) once per `--partitions` count (the setting rebuild_partitions),
so the rebuild's peak RSS is its own, without the city's generation (issue 15). Printed: wall and
CPU seconds per phase (summed over the parts), wall and CPU seconds, the peak RSS after each phase, the ratio
of the last run to the first, and last, per run, `peak RSS (rebuild)  <size>  <GB>GB`. With
`--decisions 0 10000` each size runs once per count of stored decisions of the office (SPEC §6:
延滞金 exemptions, manual matches, revokes), and the rebuild with decisions is compared with the
one without (issue 10: at most 5 % slower with 10,000). `--folder` puts the stored cities on a
disk with room. `--cluster-address '' local:2` rebuilds the same stored city once in this process and
once on a local Dask cluster of two workers per partition count (the ratio: the last run's over the first).

The city is generated and stored `--chunk-size` receivables (and their payments, 管理 records and
links) at a time, so generation's peak RSS is bounded by the chunk (about 1.7 GB for a chunk of
1,000,000), not by the size: a city of one chunk is the city generated whole, and more chunks
draw on from the same random stream, ids, keys and record numbers running on.

`--nightly` measures, in place of each rebuild alone, a night of the stored city (issue 15: how a
nightly run's time splits between the day's new files and the rebuild of the whole history): the
business day after the city's last date, about size / 250 payments written as real files by the
sample's writer with a receivables snapshot of every receivable (a full extract, CONTRACT.md), then
the real `run_settlement_date` on a copy of the stored database in a fresh process; printed: each
step's wall and CPU seconds (loading split into the snapshot and the other files; the commit and
the analyst copy timed through the run's own hooks), their split, and `peak RSS (night)  <size>  <GB>GB`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import peak_resident_mb, reset_peak_resident, resident_mb  # noqa: E402

from flows import ingest, settlement  # noqa: E402
from flows.database import connect, insert_frame, query_frame  # noqa: E402
from flows.keys import key_path  # noqa: E402
from flows.nightly import local_prefect_api  # noqa: E402
from flows.partitioned import partitions_for  # noqa: E402
from flows.sample import write_sample_files  # noqa: E402
from flows.settlement import load_law_tables, rebuild_derived, run_settlement_date  # noqa: E402
from sample_data.common import RECEIVABLE_COLUMNS  # noqa: E402
from sample_data.sample_inbox import sample_inbox  # noqa: E402
from schemas.inbox import FileKind, InboxName, parse_inbox_name  # noqa: E402
from schemas.rates import load_rates  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from schemas.tables import decision_entries_table, stored_input_tables  # noqa: E402

AS_OF = date(2026, 5, 13)
TABLES = {table.name: table for table in stored_input_tables()}
ELTAX_TAX_CODES = ["020", "030", "070"]
# Receivables per taxpayer: a chunk of the city holds whole taxpayers.
TAXPAYER_RECEIVABLES = 20
# The tables whose records the city numbers within their file (one file per table and date).
NUMBERED_TABLES = ("payment_records", "provisional_records", "management_records", "link_records")
# Receivables generated and stored at a time (--chunk-size): measured, a peak RSS of 1.7 GB for
# 1,000,000 (0.9 GB for 250,000), of which some 0.5 GB the process and its libraries.
CHUNK_SIZE = 1_000_000
# What DuckDB may keep of the blocks generation wrote (its default, 80% of the machine, grew with the city).
GENERATION_DUCKDB_MEMORY = "512MB"
QR_TAX_CODES = ["010", "040", "050", "060"]


def _conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    schema = TABLES[table].polars_schema
    return frame.select(
        (pl.col(name).cast(dtype) if name in frame.columns else _left_out(dtype).alias(name)) for name, dtype in schema.items()
    )


def _left_out(dtype: pl.DataType) -> pl.Expr:
    # What a file carries in a field the city leaves out: zeros in a digit field (a blank one is
    # rejected when read, and the derived tables' contracts rely on that), else nothing.
    return pl.lit(0 if dtype.is_integer() else None, dtype=dtype)


def city_receivables(rng: np.random.Generator, count: int, start: int = 0) -> pl.DataFrame:
    """`count` receivables over fiscal 2022–2026, numbered from `start`, one taxpayer per 20, 10% of them 申告 taxes."""
    eltax = rng.random(count) < 0.1
    due = np.datetime64("2022-04-30") + rng.integers(0, 4 * 365 + 360, count).astype("timedelta64[D]")
    base = pl.DataFrame(
        {
            "index": np.arange(start, start + count),
            "eltax": eltax,
            "tax_code": np.where(eltax, rng.choice(ELTAX_TAX_CODES, count), rng.choice(QR_TAX_CODES, count)),
            "fiscal_year": due.astype("datetime64[Y]").astype(np.int32) + 1970,
            "due_date": due,
            "principal": rng.integers(1, 500, count) * 1000 + rng.integers(0, 10, count) * 100,
            "dunning_fee": np.where(rng.random(count) < 0.05, 100, 0),
        }
    )
    number = pl.col("index").cast(pl.String)
    return base.select(
        receivable_id=pl.format("R{}", number.str.zfill(10)),
        taxpayer_id=pl.format("T{}", (pl.col("index") // TAXPAYER_RECEIVABLES).cast(pl.String).str.zfill(9)),
        tax_code="tax_code",
        fiscal_year="fiscal_year",
        tax_year="fiscal_year",
        installment=(pl.col("index") % 4 + 1).cast(pl.String).str.zfill(2),
        notice_number=pl.format("N{}", number.str.zfill(12)),
        payment_number=pl.when(~pl.col("eltax")).then(pl.format("P{}", number.str.zfill(15))),
        confirmation_number=pl.when(~pl.col("eltax")).then(pl.lit("123456")),
        filing_receipt_number=pl.when("eltax").then(pl.format("F{}", number.str.zfill(15))),
        due_date="due_date",
        principal="principal",
        dunning_fee="dunning_fee",
    )


def city_snapshots(rng: np.random.Generator, receivables: pl.DataFrame) -> pl.DataFrame:
    """The newest snapshot of every receivable, and an older one in which 2% stood higher (a 減額 since)."""
    reduced = receivables.sample(fraction=0.02, seed=int(rng.integers(1 << 31)))
    older = reduced.with_columns(pl.col("principal") + 5000).with_columns(file_name=pl.lit("CHOTEI_132071_20260511_001.csv"), snapshot_date=pl.lit(date(2026, 5, 11)))
    newest = receivables.with_columns(
        file_name=pl.lit("CHOTEI_132071_20260513_001.csv"),
        snapshot_date=pl.lit(AS_OF),
        changed_on=pl.when(pl.col("receivable_id").is_in(reduced["receivable_id"].implode())).then(pl.lit(date(2026, 5, 12))),
    )
    return _conform(pl.concat([older, newest], how="diagonal").with_columns(delivery_number=pl.lit(1)), "receivable_snapshots")


def city_payment_plan(rng: np.random.Generator, receivables: pl.DataFrame, count: int, start: int = 0) -> pl.DataFrame:
    """`count` payments numbered from `start`: a first payment for 84% of receivables (a fifth of them half the 本税),
    a second half for most of those, 1% paid twice (誤納); a tenth of payments are late with 延滞金."""
    first_count = int(count * 0.84)
    first = rng.permutation(receivables.height)[:first_count]
    half = rng.random(first_count) < 0.2
    second = first[half][: count - first_count]
    twice = rng.integers(0, first_count, count - first_count - len(second))
    target = np.concatenate([first, second, first[twice]])
    halves = np.concatenate([half, np.ones(len(second), dtype=bool), half[twice]])
    plan = receivables[target].select("receivable_id", "tax_code", "payment_number", "confirmation_number", "notice_number", "installment", "filing_receipt_number", "taxpayer_id", "principal", "due_date")
    late_days = np.where(rng.random(count) < 0.1, rng.integers(1, 400, count), -rng.integers(0, 20, count))
    late_days[first_count : first_count + len(second)] += 30  # the second half comes later
    paid = np.where(halves, plan["principal"].to_numpy() // 2, plan["principal"].to_numpy())
    return plan.with_columns(
        payment_index=np.arange(start, start + count),
        paid_principal=paid,
        paid_late_fee=np.where(late_days > 30, (paid // 1000) * 3, 0),
        paid_on=(plan["due_date"].to_numpy().astype("datetime64[D]") + late_days.astype("timedelta64[D]")).clip(None, np.datetime64(AS_OF)),
        provisional=rng.random(count) < 0.2,
        confirmed_twice=rng.random(count) < 0.3,
    )


def city_payment_records(plan: pl.DataFrame) -> pl.DataFrame:
    """Payment-file sightings: one 速報 each, and a 確報 for 30% of them."""
    files = plan.filter(~pl.col("provisional"))
    base = files.select(
        common_tax_id=pl.format("C{}", pl.col("payment_index").cast(pl.String).str.zfill(19)),
        sequence_number=pl.lit(1),
        record_type=pl.lit("2"),
        payment_number=pl.when(pl.col("tax_code").is_in(ELTAX_TAX_CODES)).then(pl.format("E{}", pl.col("payment_index"))).otherwise("payment_number"),
        confirmation_number=pl.col("confirmation_number").fill_null("000000"),
        collector_code=pl.lit(132071),
        history_number=pl.lit(0),
        response_code=pl.lit("0000"),
        payment_class=pl.lit("01"),
        paid_total=pl.col("paid_principal") + pl.col("paid_late_fee"),
        paid_principal="paid_principal",
        paid_late_fee="paid_late_fee",
        paid_consumption_tax=pl.lit(0),
        receipt_class=pl.lit("1"),
        channel_class=pl.lit("02"),
        payment_scheme=pl.when(pl.col("tax_code").is_in(ELTAX_TAX_CODES)).then(pl.lit("03")).otherwise(pl.lit("02")),
        paid_on="paid_on",
        mpn_processed_on="paid_on",
        mpn_serial=pl.col("payment_index").cast(pl.String),
        confirmed_twice="confirmed_twice",
    )
    preliminary = base.with_columns(file_name=pl.lit("NOFU_NOFUBI_132071_20260512_001.dat"), file_date=pl.lit(date(2026, 5, 12)), sighting=pl.lit("速報"))
    confirmed = base.filter("confirmed_twice").with_columns(
        file_name=pl.lit("NOFU_NYUKIN_132071_20260513_001.dat"), file_date=pl.lit(AS_OF), sighting=pl.lit("確報"), deposited_on=pl.col("paid_on")
    )
    frame = pl.concat([preliminary, confirmed], how="diagonal").with_columns(delivery_number=pl.lit(1), record_number=pl.int_range(pl.len()) + 2)
    return _conform(frame, "payment_records")


def city_provisional_records(plan: pl.DataFrame) -> pl.DataFrame:
    """仮登録 records of other channels, matched by 通知書番号 and 期別."""
    rows = plan.filter("provisional").select(
        payment_info_sequence=pl.col("payment_index") + 1,
        notice_number="notice_number",
        installment="installment",
        tax_code="tax_code",
        collector_code=pl.lit(132071),
        payment_class=pl.lit("01"),
        paid_principal="paid_principal",
        paid_late_fee="paid_late_fee",
        paid_total=pl.col("paid_principal") + pl.col("paid_late_fee"),
        paid_on="paid_on",
        deposited_on="paid_on",
        delete_next_run_flag=pl.lit("0"),
    )
    origin = dict(file_name=pl.lit("KARI_NYUKIN_132071_20260513_001.dat"), file_date=pl.lit(AS_OF), sighting=pl.lit("確報"), delivery_number=pl.lit(1))
    return _conform(rows.with_columns(**origin, record_number=pl.int_range(pl.len()) + 1), "provisional_records")


def city_management_and_links(plan: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """管理 records of the 申告 payments, and the links of their taxpayers."""
    eltax = plan.filter(~pl.col("provisional") & pl.col("tax_code").is_in(ELTAX_TAX_CODES))
    origin = dict(file_date=pl.lit(AS_OF), delivery_number=pl.lit(1))
    management = eltax.select(
        payment_info_sequence=pl.col("payment_index") + 1,
        common_tax_id=pl.format("C{}", pl.col("payment_index").cast(pl.String).str.zfill(19)),
        sequence_number=pl.lit(1),
        local_government_code=pl.lit(132071),
        eltax_taxpayer_id=pl.format("E{}", pl.col("taxpayer_id")),
        eltax_tax_class=pl.col("tax_code").replace_strict({"020": "02", "030": "01", "070": "03"}),
        filing_receipt_number="filing_receipt_number",
        principal_total="paid_principal",
        amount_1="paid_principal",
    ).with_columns(file_name=pl.lit("KANRI_132071_20260513_001.dat"), **origin, record_number=pl.int_range(pl.len()) + 1)
    links = management.select("eltax_taxpayer_id", "eltax_tax_class").unique(maintain_order=True).with_columns(
        specific_key_1=pl.col("eltax_taxpayer_id").str.slice(1),
        local_government_code=pl.lit(132071),
        registration_class=pl.lit("1"),
        linked_at=pl.lit(date(2020, 1, 1)).cast(pl.Datetime("us")),
        file_name=pl.lit("HIMOZUKE_132071_20260513_001.dat"),
        **origin,
    ).with_columns(record_number=pl.int_range(pl.len()) + 1)
    return _conform(management, "management_records"), _conform(links, "link_records")


def city(size: int, seed: int = 1) -> dict[str, pl.DataFrame]:
    """The stored inputs of a city of `size` receivables and `size` payments, in one chunk."""
    return next(city_chunks(size, size, seed))


def city_chunks(size: int, chunk_size: int, seed: int = 1) -> Iterator[dict[str, pl.DataFrame]]:
    """The stored inputs of a city of `size` receivables and payments, `chunk_size` receivables and their payments at a time.

    One random stream drawn chunk after chunk, so a city of one chunk is the city of `city`; the
    ids, keys and record numbers run on across the chunks. A chunk holds whole taxpayers (a
    multiple of 20 receivables): a taxpayer's 紐付履歴 is then in one chunk only.
    """
    if chunk_size < size and chunk_size % TAXPAYER_RECEIVABLES:
        raise ValueError(f"a chunk holds whole taxpayers: a multiple of {TAXPAYER_RECEIVABLES} receivables")
    rng = np.random.default_rng(seed)
    numbered = dict.fromkeys(NUMBERED_TABLES, 0)
    for start in range(0, size, chunk_size):
        count = min(chunk_size, size - start)
        receivables = city_receivables(rng, count, start)
        plan = city_payment_plan(rng, receivables, count, start)
        management, links = city_management_and_links(plan)
        chunk = {
            "receivable_snapshots": city_snapshots(rng, receivables),
            "payment_records": city_payment_records(plan),
            "provisional_records": city_provisional_records(plan),
            "management_records": management,
            "link_records": links,
        }
        # Only the chunk in hand is held: the caller stores it and lets it go before asking for the next.
        del receivables, plan, management, links
        heights = {name: chunk[name].height for name in NUMBERED_TABLES}
        yield renumbered(chunk, numbered)
        del chunk
        numbered = {name: numbered[name] + heights[name] for name in numbered}


def renumbered(chunk: dict[str, pl.DataFrame], numbered: dict[str, int]) -> dict[str, pl.DataFrame]:
    """The chunk with its records numbered on after the `numbered` records of each file the chunks before stored."""
    return {name: frame.with_columns(pl.col("record_number") + numbered[name]) if name in numbered else frame for name, frame in chunk.items()}


def city_decisions(rng: np.random.Generator, inputs: dict[str, pl.DataFrame], count: int) -> pl.DataFrame:
    """count decisions of the office: half 延滞金 exemptions, two fifths manual matches, a tenth revokes of the first of them."""
    schema = decision_entries_table().polars_schema
    if count == 0:
        return pl.DataFrame(schema=schema)
    exemptions, revokes = count // 2, count // 10
    matches = count - exemptions - revokes
    receivable_ids = inputs["receivable_snapshots"]["receivable_id"].unique().sort()
    records = inputs["payment_records"].select("common_tax_id", "sequence_number").unique().sort(pl.all())
    picked = records[rng.choice(records.height, matches, replace=False).tolist()]
    starts = pl.Series(rng.integers(0, 365 * 3, exemptions)).cast(pl.Int64)
    exempt = pl.DataFrame(
        {
            "kind": "exempt",
            "receivable_id": receivable_ids.sample(exemptions, seed=1),
            "exemption_kind": pl.Series(rng.choice(["suspension", "deferral", "disaster"], exemptions), dtype=pl.String),
            "start_offset": starts,
        }
    ).select(
        "kind", "receivable_id", "exemption_kind", start_on=pl.lit(date(2023, 4, 1)) + pl.duration(days=pl.col("start_offset"))
    ).with_columns(end_on=pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.col("start_on") + pl.duration(days=90)))
    match = picked.select(
        kind=pl.lit("match"),
        payment_key=pl.format("{}-{}", "common_tax_id", pl.col("sequence_number").cast(pl.String).str.zfill(6)),
        receivable_id=receivable_ids.sample(matches, seed=2),
    )
    numbered = pl.concat([exempt, match], how="diagonal").with_columns(decision_id=pl.format("D{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(6)))
    revoke = numbered.head(revokes).select(
        kind=pl.lit("revoke"), revokes=pl.col("decision_id"), decision_id=pl.format("D{}", (pl.int_range(pl.len()) + numbered.height + 1).cast(pl.String).str.zfill(6))
    )
    entries = pl.concat([numbered, revoke], how="diagonal").with_columns(
        decided_on=pl.lit(AS_OF), reason_code=pl.lit("BENCH"), entered_by=pl.lit("bench"), entered_at=pl.lit(datetime(2026, 5, 13, 9))
    )
    return entries.select((pl.col(name) if name in entries.columns else pl.lit(None)).cast(dtype).alias(name) for name, dtype in schema.items())


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started, MB (VmHWM)."""
    return peak_resident_mb()


class PhaseTimer:
    """The step of a rebuild: wall and CPU seconds per phase (CPU: of every thread, the figure to trust on a shared machine), summed over the parts that repeat it, and the peak RSS after each."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        start, cpu = time.perf_counter(), time.process_time()
        yield
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start
        self.cpu[phase] = self.cpu.get(phase, 0.0) + time.process_time() - cpu
        self.peaks[phase] = peak_rss_mb()
        # On stderr as it goes: where the peak rises, and what each step leaves held (VmRSS).
        print(f"{phase}: {time.perf_counter() - start:.1f} s, {time.process_time() - cpu:.1f} CPU s, RSS {resident_mb():.0f} MB, peak {self.peaks[phase]:.0f} MB", file=sys.stderr)


def generate(size: int, database: Path, decisions: int = 0, chunk_size: int = 0) -> dict:
    """Stores a city of `size` receivables and payments (with `decisions` decisions of the office) in `database`, `chunk_size` receivables at a time (0: in one chunk)."""
    step = PhaseTimer()
    connection = connect(database)
    # Held low, generation's memory stays the chunk's whatever the size of the city already stored.
    connection.execute(f"SET memory_limit = '{GENERATION_DUCKDB_MEMORY}'")
    chunk_peaks = []
    chunks = city_chunks(size, chunk_size or size)
    while True:
        # The peak of each chunk on its own (VmHWM reset): bounded by the chunk, not by the city.
        reset_peak_resident()
        with step("generate city (not part of shuno)"):
            inputs = next(chunks, None)
        if inputs is None:
            break
        with step("load: store inputs in DuckDB"):
            for name, frame in inputs.items():
                insert_frame(connection, TABLES[name], frame)
        del inputs
        chunk_peaks.append(peak_rss_mb())
        print(f"chunk {len(chunk_peaks)}: peak RSS {chunk_peaks[-1]:.0f} MB", file=sys.stderr)
    with step("generate and store the decisions"):
        insert_frame(connection, decision_entries_table(), city_decisions(np.random.default_rng(3), decided_keys(connection, decisions), decisions))
    connection.close()
    return {"timings": step.timings, "cpu": step.cpu, "chunk_peaks_mb": chunk_peaks, "peak_rss_mb": max(chunk_peaks + [peak_rss_mb()])}


def decided_keys(connection: duckdb.DuckDBPyConnection, decisions: int) -> dict[str, pl.DataFrame]:
    """The stored receivable ids and payment keys the decisions are drawn from (none when there are none to draw)."""
    if not decisions:
        return {}
    return {
        "receivable_snapshots": query_frame(connection, "SELECT DISTINCT receivable_id FROM receivable_snapshots"),
        "payment_records": query_frame(connection, "SELECT DISTINCT common_tax_id, sequence_number FROM payment_records"),
    }


def settings_of(arguments: argparse.Namespace) -> Settings:
    """The settings of a measured rebuild or night: its partitions, memory and cluster."""
    return Settings(rebuild_partitions=arguments.partitions[0], rebuild_memory_gb=arguments.rebuild_memory_gb, cluster_address=arguments.cluster_address[0])


def rebuild(database: Path, settings: Settings) -> dict:
    """The run's rebuild of the stored city (read, rebuild, check, write, commit), in this process: seconds per phase, CPU seconds, peak RSS.

    settings.cluster_address: the Dask cluster the parts run on (`local:2`: two worker processes started for the
    rebuild, with a Prefect API of this process); CPU seconds and peak RSS are then this process's only.
    """
    children = children_cpu_seconds()
    with local_prefect_api() if settings.cluster_address else nullcontext():
        rebuilt = _rebuilt(database, settings)
    # A local cluster's workers are this process's children, waited for when the cluster closed.
    return rebuilt | {"children_cpu_seconds": children_cpu_seconds() - children}


def children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rebuilt(database: Path, settings: Settings) -> dict:
    step = PhaseTimer()
    start, cpu = time.perf_counter(), time.process_time()
    connection = connect(database)
    parts = partitions_for(connection, settings)
    connection.begin()
    derived = rebuild_derived(connection, AS_OF, load_law_tables(settings), settings, step)
    with step("commit"):
        connection.commit()
    connection.close()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    counts = {name: values for name, values in derived.outcome_counts.items() if name in ("arrears", "refund candidates")}
    counts["decisions in effect"] = int(derived.decisions["in_effect"].sum())
    return {"timings": step.timings, "cpu": step.cpu, "peaks": step.peaks, "rebuild_seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_rss_mb(), "counts": counts, "parts": parts}


# The night measured by --nightly: the business day after the city's last date. A city of N
# receivables takes about N / 250 payments a business day (250 business days a year: a year's
# payments are about as many as its receivables).
NIGHT_DATE = date(2026, 5, 14)
DAY_SHARE = 250
# The sample's files of NIGHT_DATE: its fourth settlement date, which carries about one payment-file or
# 仮登録 record per 15 payments of the sample (the others: its migrated history and its other days).
SAMPLE_DAYS = 4
SAMPLE_PAYMENTS_PER_DAY_RECORD = 15


def write_day_files(database: Path, inbox: Path, payments: int) -> dict:
    """Writes NIGHT_DATE's files into `inbox` with the sample's writer: about `payments` payments of the sample's
    own taxpayers, and a receivables snapshot of the stored city's receivables and the sample's (a full extract, CONTRACT.md)."""
    sample = sample_inbox(payments * SAMPLE_PAYMENTS_PER_DAY_RECORD, seed=15, rates=load_rates(), settlement_days=SAMPLE_DAYS)
    day_files = [file for file in sample.files if parse_inbox_name(file.name).settlement_date == NIGHT_DATE]
    write_sample_files(replace(sample, files=tuple(file for file in day_files if file.kind is not FileKind.RECEIVABLES)), inbox)
    connection = connect(database)
    stored = query_frame(connection, DAY_SNAPSHOT, [AS_OF])
    connection.close()
    snapshot = next(file for file in day_files if file.kind is FileKind.RECEIVABLES)
    with (inbox / snapshot.name).open("wb") as out:
        # Two writes, not one frame: the city's columns and the sample's need not share their types.
        stored.write_csv(out, date_format="%Y-%m-%d")
        snapshot.records.select(SNAPSHOT_COLUMNS).write_csv(out, date_format="%Y-%m-%d", include_header=False)
    records = {file.name: file.records.height for file in day_files if file.records is not None}
    return {"files": len(day_files), "records": records | {snapshot.name: stored.height + snapshot.records.height}}


SNAPSHOT_COLUMNS = list(RECEIVABLE_COLUMNS)
# The city's receivables of its last snapshot, in the columns of a receivables extract.
DAY_SNAPSHOT = "SELECT " + ", ".join(f'"{name}"' for name in SNAPSHOT_COLUMNS) + " FROM receivable_snapshots WHERE snapshot_date = ? ORDER BY receivable_id"


def night(database: Path, inbox: Path, settings: Settings) -> dict:
    """The real run of NIGHT_DATE (`run_settlement_date`) on `database`, in this process: seconds per step, CPU seconds, peak RSS."""
    with local_prefect_api() if settings.cluster_address else nullcontext():
        step = PhaseTimer()
        with timed_outside_steps(step):
            start, cpu = time.perf_counter(), time.process_time()
            summary = run_settlement_date(NIGHT_DATE, inbox, database, settings, "benchmarks/reconcile.py", step, today=NIGHT_DATE)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    # The parts the run's rebuild took, counted as it counted them: with the day's files stored.
    connection = connect(database)
    parts = partitions_for(connection, settings)
    connection.close()
    statuses = [outcome.status for outcome in summary.files]
    records = {kind: sum(getattr(outcome, f"{kind}_count") for outcome in summary.files) for kind in ("accepted", "rejected")}
    counts = {name: values for name, values in summary.outcome_counts.items() if name in ("arrears", "refund candidates")}
    return {
        "timings": step.timings, "cpu": step.cpu, "peaks": step.peaks, "night_seconds": seconds, "cpu_seconds": cpu_seconds,
        "peak_rss_mb": peak_rss_mb(), "counts": counts, "parts": parts, "files": {status: statuses.count(status) for status in dict.fromkeys(statuses)} | records,
    }


@contextmanager
def timed_outside_steps(step: PhaseTimer):
    """Times, as steps of the run, what run_settlement_date does outside its own: the commit, and the analyst copy after it."""
    # Through the run's hooks and names, for this measuring process only: production code unchanged.
    hook, publish, load = settlement.pause_point, settlement.published_analyst_copy, ingest.load_file
    commit = step("commit")

    def pause_point(stage: str) -> None:
        if stage == "before-commit":
            commit.__enter__()
        if stage == "committed":
            commit.__exit__(None, None, None)
        hook(stage)

    def published_analyst_copy(connection: duckdb.DuckDBPyConnection, database: Path) -> str:
        with step("publishing the analyst copy"):
            return publish(connection, database)

    def load_file(connection: duckdb.DuckDBPyConnection, path: Path, name: InboxName, *rest) -> ingest.FileOutcome:
        with step(SNAPSHOT_STEP if name.kind is FileKind.RECEIVABLES else FILES_STEP):
            return load(connection, path, name, *rest)

    settlement.pause_point, settlement.published_analyst_copy, ingest.load_file = pause_point, published_analyst_copy, load_file
    try:
        yield
    finally:
        settlement.pause_point, settlement.published_analyst_copy, ingest.load_file = hook, publish, load


def night_split(result: dict) -> dict[str, tuple[float, float]]:
    """The night's wall and CPU seconds in four: the day's files, the rebuild of the whole history, the commit and copy, and the rest."""
    groups = {"the day's files (loading the date's files)": [DAY_STEP], "write, commit, analyst copy": list(WRITE_STEPS)}
    groups["rebuild of the whole history (every other step)"] = [phase for phase in result["timings"] if not phase.startswith(DAY_STEP) and phase not in WRITE_STEPS]
    split = {label: tuple(sum(result[kind].get(phase, 0.0) for phase in phases) for kind in ("timings", "cpu")) for label, phases in groups.items()}
    steps = [sum(pair[index] for pair in split.values()) for index in (0, 1)]
    split["outside the steps (lock, open, gap check, audit, summary)"] = (result["night_seconds"] - steps[0], result["cpu_seconds"] - steps[1])
    return split


DAY_STEP = "loading the date's files"
# Within it: the receivables snapshot (a full extract, as large as the city) and the day's other files.
SNAPSHOT_STEP, FILES_STEP = f"{DAY_STEP}: the receivables snapshot", f"{DAY_STEP}: payment, 仮登録, 管理, 紐付 and bank files"
# The steps that write what the rebuild made: in one pass the derived tables, in parts each part's (flows/partitioned.py).
WRITE_STEPS = ("writing the derived tables", "the parts' tables written", "commit", "publishing the analyst copy")


def report_nights(results: list[dict]) -> None:
    """Each night's steps, then its split between the day's files and the rebuild of the whole history (issue 15), and its peak RSS."""
    for result in results:
        print(f"night of {NIGHT_DATE} on the city of {result['size']:,} ({result['decisions']:,} decisions, rebuild_partitions = {result['partitions']}: {result['parts']} parts {result['engine']}): "
              f"day's files {result['day']['records']}, their statuses and records {result['files']}; copying the stored database (what the run's backup costs) {result['copy_seconds']:.1f} s")
        for phase, seconds in result["timings"].items():
            print(f"  {phase:<70}{seconds:>9.1f} s{result['cpu'][phase]:>9.1f} CPU s")
        for label, (seconds, cpu) in night_split(result).items():
            print(f"  = {label:<68}{seconds:>9.1f} s{cpu:>9.1f} CPU s  ({seconds / result['night_seconds']:.0%} of the wall)")
        print(f"  night (run_settlement_date), wall {result['night_seconds']:.1f} s, CPU {result['cpu_seconds']:.1f} s; {result['counts']}")
    for result in results:
        print(f"peak RSS (night)  {result['size']}  {result['peak_rss_mb'] / 1024:.2f}GB  (rebuild_partitions = {result['partitions']}: {result['parts']} parts {result['engine']})")


def measured_night(database: Path, size: int, settings: list[str]) -> dict:
    """A night of the stored city `database` on a copy of it, its day's files written by one fresh process and run by another."""
    # A folder of its own: the run leaves its lock, analyst copy and refusal log beside the database.
    folder = database.parent / f"night-{database.stem}"
    night_database, inbox = folder / database.name, folder / "inbox"
    folder.mkdir()
    try:
        start = time.perf_counter()
        shutil.copyfile(database, night_database)
        copy_seconds = time.perf_counter() - start
        shutil.copyfile(key_path(database), key_path(night_database))
        day = run_child("--day-files", str(night_database), str(inbox), str(max(size // DAY_SHARE, 1)))
        result = run_child("--night", str(night_database), str(inbox), *settings)
    finally:
        shutil.rmtree(folder)
    return result | {"day": day, "copy_seconds": copy_seconds}


def engine_of(address: str) -> str:
    """Where a measured run's parts ran, for the report."""
    return f"on {address}" if address else "in process"


def run_child(*arguments: str) -> dict:
    """One phase of the benchmark in a fresh process, so that its peak RSS is its own; its progress and errors on this one's stderr."""
    command = [sys.executable, __file__, *arguments]
    # Its stderr is not captured: a child that fails after minutes says why, and the phases show as they go.
    return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1])


def main() -> None:
    """Per size: the city generated and stored by one child process, rebuilt by another per partition count; the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--decisions", type=int, nargs="+", default=[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[0], help="rebuild_partitions of each rebuild (one run each; 0: from rebuild_memory_gb)")
    parser.add_argument("--rebuild-memory-gb", type=float, default=Settings().rebuild_memory_gb, help="the setting rebuild_memory_gb of each rebuild, from which --partitions 0 counts the parts")
    parser.add_argument("--cluster-address", nargs="+", default=[""], help="the setting cluster_address of each rebuild, one run each ('' in this process, local:2: two local Dask workers)")
    parser.add_argument("--folder", type=Path, help="where the stored cities go (default: a temporary folder)")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="receivables (and their payments) generated and stored at a time, a multiple of 20; 0: the whole city at once")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nightly", action="store_true", help="per partition count, a night of the stored city (its day's files loaded, the whole history rebuilt) in place of the rebuild alone")
    parser.add_argument("--rebuild", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day-files", nargs=3, metavar=("DATABASE", "INBOX", "PAYMENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--night", nargs=2, type=Path, metavar=("DATABASE", "INBOX"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.generate:
        print(json.dumps(generate(arguments.generate, arguments.folder, arguments.decisions[0], arguments.chunk_size)))
        return
    if arguments.rebuild:
        print(json.dumps(rebuild(arguments.rebuild, settings_of(arguments))))
        return
    if arguments.day_files:
        database, inbox, payments = arguments.day_files
        print(json.dumps(write_day_files(Path(database), Path(inbox), int(payments))))
        return
    if arguments.night:
        print(json.dumps(night(*arguments.night, settings_of(arguments))))
        return
    with tempfile.TemporaryDirectory(dir=arguments.folder) as folder:
        results, generated = [], []
        for size in arguments.sizes:
            for decisions in arguments.decisions:
                database = Path(folder) / f"city-{size}-{decisions}.duckdb"
                generated.append(run_child("--generate", str(size), "--folder", str(database), "--decisions", str(decisions), "--chunk-size", str(arguments.chunk_size)) | {"size": size})
                for partitions, address in itertools.product(arguments.partitions, arguments.cluster_address):
                    settings = ["--partitions", str(partitions), "--rebuild-memory-gb", str(arguments.rebuild_memory_gb), "--cluster-address", address]
                    if arguments.nightly:
                        result = measured_night(database, size, settings)
                    else:
                        result = run_child("--rebuild", str(database), *settings)
                    results.append(result | {"size": size, "decisions": decisions, "partitions": partitions, "engine": engine_of(address)})
                database.unlink()
    report_generation(generated, arguments.chunk_size)
    report_nights(results) if arguments.nightly else report(results)


def report_generation(generated: list[dict], chunk_size: int) -> None:
    """Per stored city: its chunks, the seconds of generating and storing them, and the highest peak RSS of a chunk."""
    for result in generated:
        seconds = " ".join(f"{phase.split(':')[0].split(' (')[0]} {result['timings'][phase]:.1f} s ({result['cpu'][phase]:.1f} CPU s)" for phase in result["timings"])
        peaks = ", ".join(f"{peak / 1024:.2f}" for peak in result["chunk_peaks_mb"])
        print(f"generation {result['size']:,} in chunks of {chunk_size or result['size']:,}: {seconds}; peak RSS per chunk (GB) {peaks}")


def report(results: list[dict]) -> None:
    """The seconds of each phase per run, the ratio of the last run to the first, peak RSS, and the goals of issues 10 and 15."""
    phases = list(dict.fromkeys(phase for result in results for phase in result["timings"]))
    print(f"{'phase (size/decisions/partitions)':<60}" + "".join(f"{result['size']:>10,}/{result['decisions']}/{result['partitions']:<3}" for result in results) + f"{'ratio':>8}")
    for phase in phases:
        seconds = [result["timings"].get(phase, 0.0) for result in results]
        ratio = f"{seconds[-1] / seconds[0]:>8.1f}" if seconds[0] else ""
        print(f"{phase:<60}" + "".join(f"{value:>15.1f}s" for value in seconds) + ratio)
    print("CPU seconds per phase (all threads):")
    for phase in phases:
        print(f"  {phase:<58}" + "".join(f"{result.get('cpu', {}).get(phase, 0.0):>15.1f}s" for result in results))
    for label, key in (("rebuild (open → commit), wall", "rebuild_seconds"), ("rebuild, CPU (all threads)", "cpu_seconds")):
        print(f"{label:<60}" + "".join(f"{result[key]:>15.1f}s" for result in results) + f"{results[-1][key] / results[0][key]:>8.1f}")
    print("peak RSS after each phase (GB): " + "; ".join(f"{phase}: " + " / ".join(f"{result['peaks'].get(phase, 0) / 1024:.1f}" for result in results) for phase in phases))
    for result in results:
        print(f"{result['size']:,} with {result['decisions']:,} decisions, {result['parts']} parts {result['engine']}: {result['counts']}")
    for size in dict.fromkeys(result["size"] for result in results):
        runs = {result["decisions"]: result["rebuild_seconds"] for result in results if result["size"] == size}
        for decisions, seconds in runs.items():
            if decisions and 0 in runs:
                print(f"decisions at {size:,}: rebuild {runs[0]:.1f} s without, {seconds:.1f} s with {decisions:,}: ratio {seconds / runs[0]:.3f} (goal ≤ 1.05)")
    for result in results:
        print(f"rebuild {result['size']:,} in {result['parts']} parts {result['engine']}: {result['rebuild_seconds']:.1f} s, {result['cpu_seconds']:.1f} CPU s of this process and {result.get('children_cpu_seconds', 0.0):.1f} of its workers (goal ≤ 40 s at 5,000,000)")
    # Issue 15: the rebuild's peak in a fresh process that opens the stored database, the last such lines.
    for result in results:
        print(f"peak RSS (rebuild)  {result['size']}  {result['peak_rss_mb'] / 1024:.2f}GB  (rebuild_partitions = {result['partitions']}: {result['parts']} parts {result['engine']})")


if __name__ == "__main__":
    main()
