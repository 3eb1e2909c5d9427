"""`shuno sample`: write a realistic sample inbox (CONTRACT.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.settings_option import BAD_INPUT_EXIT_CODE
from sample_data.files import sample_file_bytes
from sample_data.sample_inbox import SampleInbox, sample_inbox, under_collector
from schemas.models import is_collector_code
from schemas.rates import load_rates


def write_sample_inbox(out: Path, payments: int, seed: int, collector: int | None = None) -> SampleInbox:
    """Write the sample's files into `out` (created if missing), under `collector` when given; returns the sample, planted cases included."""
    inbox = sample_inbox(payments, seed, load_rates())
    if collector is not None:
        inbox = under_collector(inbox, collector)
    write_sample_files(inbox, out)
    return inbox


def write_sample_files(inbox: SampleInbox, out: Path) -> None:
    """Writes every file of the sample into `out` (created if missing), through the project's writer."""
    out.mkdir(parents=True, exist_ok=True)
    # One file's bytes at a time: a million payments make files of hundreds of megabytes.
    for file in inbox.files:
        (out / file.name).write_bytes(sample_file_bytes(file))


def sample(
    out: Annotated[Path, typer.Option(help="inbox directory to write the sample into")],
    payments: Annotated[int, typer.Option(min=1, help="about how many payments the sample holds")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same bytes")] = 1,
    collector: Annotated[
        int | None, typer.Option(help="収納団体コード to deliver the same city under (six digits with its check digit); default 132071")
    ] = None,
) -> None:
    """Write a realistic sample inbox: receivables snapshots and the files of SPEC §1, anomalies included."""
    if collector is not None and not is_collector_code(collector):
        typer.echo(f"shuno sample: --collector {collector} is not a 収納団体コード (six digits, the last its check digit)", err=True)
        raise typer.Exit(BAD_INPUT_EXIT_CODE)
    inbox = write_sample_inbox(out, payments, seed, collector)
    days = ", ".join(day.isoformat() for day in inbox.settlement_dates)
    typer.echo(f"wrote {len(inbox.files)} files for settlement dates {days} into {out}")
