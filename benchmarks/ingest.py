"""Ingest benchmark: shuno's parse + validate of a payment file against the CP932 decode floor
and pandas.read_fwf, all measured in the same run.

    python benchmarks/ingest.py [--records 1000000] [--repeats 3] [--skip-pandas]

(a) reading the file's bytes, (b) decoding the whole file as CP932 (the "decode floor"),
(c) shuno's two passes (framing and control totals, then every field typed and checked),
(d) pandas.read_fwf with encoding cp932. Each is the median of the repeats; (c) runs in a
child process so its peak RSS is its own. (c) is the first file the process reads once it is set
up like a shuno command (`flows.runtime.prepare_process`), so it includes the reader's one-time
set-up (CP932 and calendar tables, threads, pandera's first structure check); (c') is
the same file read again in that process. Then the peak RSS of (c) on files of one and of ten
chunks against the whole file shows memory is bounded by the chunks in flight, not the file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import peak_resident_mb  # noqa: E402

from flows.files import checked_chunks, inspect_file  # noqa: E402
from transforms.framing import chunk_records_for  # noqa: E402
from flows.runtime import prepare_process  # noqa: E402
from schemas.inbox import parse_inbox_name  # noqa: E402
from schemas.layouts import load_payment_file_layouts  # noqa: E402
from schemas.rates import load_rates  # noqa: E402
from transforms.payment_file import payment_file_bytes  # noqa: E402
from sample_data.sample_inbox import sample_inbox  # noqa: E402

FILE_NAME = "NOFU_NYUKIN_132071_20260511_001.dat"


def sample_payment_records(count: int) -> tuple[pl.DataFrame, dict]:
    """`count` realistic payment records: the sample's payment-file records repeated, identities made unique."""
    inbox = sample_inbox(4000, seed=7, rates=load_rates())
    files = [file for file in inbox.files if file.kind is not None and file.kind.has_control_records and not file.patches]
    records = pl.concat([file.records for file in files])
    repeated = records.sample(count, with_replacement=True, seed=7)
    unique_ids = pl.format("B{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(19))
    return repeated.with_columns(unique_ids.alias("common_tax_id"), pl.lit(1).alias("sequence_number")), files[0].header


def write_payment_file(folder: Path, count: int) -> Path:
    """A payment file of `count` data records written by shuno's writer."""
    records, header = sample_payment_records(count)
    header = header | {"file_class": "01", "base_date": parse_inbox_name(FILE_NAME).settlement_date}
    path = folder / FILE_NAME
    # CR LF after each record: read_fwf needs lines (without them it sees one 700 MB line).
    path.write_bytes(payment_file_bytes(records, header, load_payment_file_layouts(), crlf=True))
    return path


def timed(action) -> tuple[float, object]:
    """Seconds `action` took, and what it returned."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def shuno_parse(path: Path, chunk_records: int | None) -> dict:
    """Both passes over the file, records consumed chunk by chunk; counts for the caller."""
    verdict = inspect_file(path, parse_inbox_name(path.name))
    accepted = rejected = 0
    for chunk in checked_chunks(verdict, chunk_records=chunk_records):
        accepted += chunk.records.height
        rejected += chunk.rejects.height
    return {"accepted": accepted, "rejected": rejected, "rejection": verdict.rejection}


def shuno_parse_in_child(path: Path, chunk_records: int | None) -> dict:
    """`shuno_parse` in a fresh process: seconds, peak RSS (MB) and counts."""
    command = [sys.executable, __file__, "--child", str(path), *(["--chunk", str(chunk_records)] if chunk_records else [])]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def child(path: Path, chunk_records: int | None) -> None:
    """The child side of `shuno_parse_in_child`: set up like a shuno command, then timed, twice."""
    prepare_process()
    setup = peak_resident_mb()
    seconds, counts = timed(lambda: shuno_parse(path, chunk_records))
    peak = peak_resident_mb()
    again, _ = timed(lambda: shuno_parse(path, chunk_records))
    print(json.dumps({"seconds": seconds, "seconds_again": again, "peak_rss_mb": peak, "setup_rss_mb": setup, **counts}))


def pandas_read(path: Path):
    """The baseline: pandas.read_fwf over the same file, widths from the layout (in characters)."""
    import pandas

    layout = load_payment_file_layouts().data
    frame = pandas.read_fwf(
        path, widths=[field.width for field in layout.fields], names=layout.field_names, encoding="cp932", dtype=str, header=None
    )
    return frame.iloc[1:-2]  # header, trailer and end records (skipfooter would force the slow python engine)


def wrong_columns(path: Path, baseline) -> list[str]:
    """The columns where pandas' values differ from shuno's (compared on the first 10,000 records)."""
    verdict = inspect_file(path, parse_inbox_name(path.name))
    shuno = next(checked_chunks(verdict, chunk_records=10_000)).records
    sample = baseline.iloc[: shuno.height]
    wrong = []
    for field in load_payment_file_layouts().data.fields:
        if field.name not in shuno.columns:
            continue
        ours = [None if value is None else str(value) for value in shuno[field.name].cast(pl.String).to_list()]
        theirs = [None if value != value else str(value).strip() for value in sample[field.name].tolist()]
        ours = [_comparable(value, field) for value in ours]
        theirs = [_comparable(value, field) for value in theirs]
        if ours != theirs:
            wrong.append(field.name)
    return wrong


def _comparable(value: str | None, field) -> str | None:
    if value is None or value == "":
        return None
    if field.is_digits:
        digits = value.replace("-", "").replace(":", "").replace(" ", "").replace("T", "")
        return digits.lstrip("0") or "0"
    return value.rstrip("\u3000 ")


def decode_floor(path: Path, repeats: int) -> float:
    """(b): the median seconds of decoding the whole file as CP932, its bytes already read."""
    data = path.read_bytes()
    return median_seconds(lambda: data.decode("cp932"), repeats)


def median_seconds(action, repeats: int) -> float:
    """The median of `repeats` timings of `action`."""
    return statistics.median(timed(action)[0] for _ in range(repeats))


def main() -> None:
    """Generate the file, measure (a)–(d) and the chunk-bounded memory, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--child", type=Path)
    parser.add_argument("--chunk", type=int, help="records per chunk (default: shuno's own)")
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.chunk)
        return
    with tempfile.TemporaryDirectory() as folder:
        report(Path(folder), arguments)


def report(folder: Path, arguments) -> None:
    """Runs the measurements in `folder` and prints them."""
    generated, path = timed(lambda: write_payment_file(folder, arguments.records))
    size_mb = path.stat().st_size / 1e6
    print(f"payment file: {arguments.records:,} records, {size_mb:,.0f} MB, written in {generated:.1f} s")
    read = median_seconds(path.read_bytes, arguments.repeats)
    decode = decode_floor(path, arguments.repeats)
    runs = [shuno_parse_in_child(path, arguments.chunk) for _ in range(arguments.repeats)]
    parse = statistics.median(run["seconds"] for run in runs)
    again = statistics.median(run["seconds_again"] for run in runs)
    rows = [
        ("(a) read bytes", read),
        ("(b) CP932 decode of the whole file (floor)", decode),
        ("(c) shuno parse + validate, first file", parse),
        ("(c') the same file again, set-up done", again),
    ]
    if not arguments.skip_pandas:
        pandas_seconds, baseline = timed(lambda: pandas_read(path))
        rows.append(("(d) pandas.read_fwf(encoding='cp932')", pandas_seconds))
    print(f"{'step':<46}{'seconds':>10}{'MB/s':>10}")
    for label, seconds in rows:
        print(f"{label:<46}{seconds:>10.2f}{size_mb / seconds:>10.0f}")
    print(f"shuno: accepted {runs[0]['accepted']:,}, rejected {runs[0]['rejected']:,}, peak RSS {runs[0]['peak_rss_mb']:,.0f} MB")
    print(f"ratio c/b (goal < 1): {parse / decode:.2f}   c'/b: {again / decode:.2f}")
    if not arguments.skip_pandas:
        wrong = wrong_columns(path, baseline)
        print(f"ratio d/c (goal >= 20): {pandas_seconds / parse:.1f}   d/c': {pandas_seconds / again:.1f}")
        print(f"pandas columns wrong on the first 10,000 records: {len(wrong)} of 69 ({', '.join(wrong[:8])}{' …' if len(wrong) > 8 else ''})")
    memory_bound(folder, arguments)


def memory_bound(folder: Path, arguments) -> None:
    """Peak RSS of files of one chunk and of ten chunks (the goal's size) against the whole file,
    each read in a fresh process with the same chunk size."""
    path = folder / FILE_NAME
    default = chunk_records_for(inspect_file(path, parse_inbox_name(path.name)).shape)
    chunk = max(min(arguments.chunk or default, arguments.records // 10), 1)
    peaks = {}
    for chunks in (1, 10):
        subfolder = folder / f"{chunks}-chunks"
        subfolder.mkdir()
        peaks[chunks] = shuno_parse_in_child(write_payment_file(subfolder, chunk * chunks), chunk)
    whole = shuno_parse_in_child(path, chunk)
    one, ten, many = peaks[1]["peak_rss_mb"], peaks[10]["peak_rss_mb"], whole["peak_rss_mb"]
    print(f"peak RSS with {chunk:,}-record chunks (process set up: {whole['setup_rss_mb']:,.0f} MB): file of 1 chunk {one:,.0f} MB,")
    print(f"  of 10 chunks {ten:,.0f} MB (ratio {ten / one:.2f}), of {-(-arguments.records // chunk)} chunks {many:,.0f} MB (ratio {many / one:.2f})")


if __name__ == "__main__":
    main()
