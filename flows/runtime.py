"""Process-wide set-up of a shuno run.

A run imports polars, pandera, DuckDB and Prefect: some 200,000 objects that live as long as the
process. Python's garbage collector walks every one of them at each full collection, and a run
allocates enough to trigger many: in a fresh process that was a tenth of the time of reading a
million-record file. They are collected once and then frozen (`gc.freeze`), so later collections
walk only what the run itself creates.

pandera imports its polars backends (and, where hypothesis is installed, hypothesis) at its first
validation; they are loaded here, with the other imports, so that they are frozen too.
"""

from __future__ import annotations

import gc

import pandera.polars as pa
import polars as pl


def prepare_process() -> None:
    """Loads pandera's polars backends, collects the garbage there is, then takes every object
    alive now out of later collections."""
    pa.DataFrameSchema.register_default_backends(pl.DataFrame)
    gc.collect()
    gc.freeze()
