"""`shuno sample`: write a realistic sample inbox (CONTRACT.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sample_data.files import sample_file_bytes
from sample_data.sample_inbox import SampleInbox, sample_inbox
from schemas.rates import load_rates


def write_sample_inbox(out: Path, payments: int, seed: int) -> SampleInbox:
    """Write the sample's files into `out` (created if missing); returns the sample, planted cases included."""
    inbox = sample_inbox(payments, seed, load_rates())
    out.mkdir(parents=True, exist_ok=True)
    # One file's bytes at a time: a million payments make files of hundreds of megabytes.
    for file in inbox.files:
        (out / file.name).write_bytes(sample_file_bytes(file))
    return inbox


def sample(
    out: Annotated[Path, typer.Option(help="inbox directory to write the sample into")],
    payments: Annotated[int, typer.Option(min=1, help="about how many payments the sample holds")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same bytes")] = 1,
) -> None:
    """Write a realistic sample inbox: receivables snapshots and the files of SPEC §1, anomalies included."""
    inbox = write_sample_inbox(out, payments, seed)
    days = ", ".join(day.isoformat() for day in inbox.settlement_dates)
    typer.echo(f"wrote {len(inbox.files)} files for settlement dates {days} into {out}")
