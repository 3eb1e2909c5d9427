"""Reading the inbox's fixed-width files from disk, a bounded chunk of records at a time.

A file is read twice. The first pass settles the file as a whole: framing, the place of the
control records, the header and the trailer against the data (SPEC.md §1.1), reading only the
fields the totals need. Only a file that passes is parsed in the second pass, chunk by chunk,
so memory stays near one chunk however large the file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from schemas.inbox import InboxName, parse_inbox_name
from schemas.layouts import LayoutName, PaymentFileLayouts, load_layout, load_payment_file_layouts
from schemas.models import CODE_WARNINGS, record_rules, record_schema
from schemas.privacy import SECRET_FIELDS
from transforms import framing, payment_file
from transforms.fixed_width import decoded_block, valid_records
from transforms.payment_file import ControlTotals, HeaderExpectations
from transforms.records import CheckedRecords, RecordRules, checked_records

CHUNK_RECORDS = 50_000
PARALLEL_CHUNKS = 2
TOTAL_FIELDS = [*payment_file.SUMMED_AMOUNTS.values(), "receipt_class"]


@dataclass(frozen=True)
class FileShape:
    """Where a file's records lie: record length, stride (with CR LF or not), how many."""

    record_length: int
    stride: int
    record_count: int

    @property
    def data_range(self) -> range:
        """0-based positions of the data records."""
        return range(0, self.record_count)


@dataclass(frozen=True)
class FileVerdict:
    """The first pass's judgement of a file: its shape and totals, or why it is rejected whole."""

    path: Path
    name: InboxName
    shape: FileShape | None = None
    data_positions: range = range(0)
    totals: ControlTotals | None = None
    header: dict = field(default_factory=dict)
    rejection: str | None = None

    @property
    def data_count(self) -> int:
        """Data records in the file (0 for a rejected file whose shape is unknown)."""
        return len(self.data_positions)


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records of a file: the first one's number, their bytes, and those as rows."""

    first_record_number: int
    buffer: bytes

    def rows(self, shape: FileShape) -> np.ndarray:
        """The records as an n × stride array (a CR LF, if any, stays at the end of each row)."""
        return np.frombuffer(self.buffer, dtype=np.uint8).reshape(-1, shape.stride)


def record_chunks(path: Path, shape: FileShape, positions: range, chunk_records: int) -> Iterator[RecordChunk]:
    """Chunks of the records at `positions` (0-based), read one chunk at a time."""
    with path.open("rb") as stream:
        for start in range(positions.start, positions.stop, chunk_records):
            count = min(chunk_records, positions.stop - start)
            stream.seek(start * shape.stride)
            yield RecordChunk(start + 1, stream.read(count * shape.stride))


def file_shape(path: Path, record_length: int) -> FileShape:
    """The shape of a file of `record_length`-byte records; rejects one that is not whole records."""
    with path.open("rb") as stream:
        head = stream.read(record_length + 2)
    stride = framing.record_stride(head, record_length)
    count = framing.check_file_size(path.stat().st_size, stride, record_length)
    return FileShape(record_length, stride, count)


def inspect_file(path: Path, name: InboxName, chunk_records: int = CHUNK_RECORDS) -> FileVerdict:
    """The first pass over a data file: framing, and control records for payment files."""
    try:
        if name.kind.has_control_records:
            return _inspect_payment_file(path, name, load_payment_file_layouts(), chunk_records)
        shape = file_shape(path, load_layout(name.kind.layout).record_length)
        for chunk in record_chunks(path, shape, shape.data_range, chunk_records):
            framing.check_terminators(chunk.buffer, shape.stride, shape.record_length, chunk.first_record_number)
        return FileVerdict(path, name, shape, shape.data_range)
    except framing.RejectedFile as rejection:
        return FileVerdict(path, name, rejection=str(rejection))


def _inspect_payment_file(path: Path, name: InboxName, layouts: PaymentFileLayouts, chunk_records: int) -> FileVerdict:
    shape = file_shape(path, layouts.data.record_length)
    if shape.record_count < 3:
        raise framing.RejectedFile(f"{shape.record_count} records: a payment file needs a header, a trailer and an end record")
    totals = ControlTotals()
    total_layout = layouts.data.subset(TOTAL_FIELDS)
    data = range(1, shape.record_count - 2)
    for chunk in record_chunks(path, shape, shape.data_range, chunk_records):
        first, records = chunk.first_record_number, chunk.rows(shape)
        framing.check_terminators(chunk.buffer, shape.stride, shape.record_length, first)
        payment_file.check_record_types(records[:, payment_file.RECORD_TYPE_OFFSET], first, shape.record_count)
        rows = slice(max(data.start - (first - 1), 0), max(min(data.stop - (first - 1), len(records)), 0))
        totals += payment_file.control_totals(decoded_block(records[rows], total_layout, first + rows.start), total_layout)
    header = _control_record(path, shape, 0, layouts.header)
    expected = HeaderExpectations(name.kind.payment_file_class, name.settlement_date, name.collector_code, shape.record_length)
    payment_file.check_header(header, expected)
    payment_file.check_trailer(_control_record(path, shape, shape.record_count - 2, layouts.trailer), totals, shape.record_count - 1)
    payment_file.check_end(_control_record(path, shape, shape.record_count - 1, layouts.end), shape.record_count)
    return FileVerdict(path, name, shape, data, totals, header.row(0, named=True))


def _control_record(path: Path, shape: FileShape, position: int, layout) -> pl.DataFrame:
    [chunk] = record_chunks(path, shape, range(position, position + 1), 1)
    decoded = decoded_block(chunk.rows(shape), layout, chunk.first_record_number)
    if decoded.broken.any():
        broken = layout.fields[int(decoded.problem_field[0])]
        raise framing.RejectedFile(f"record {chunk.first_record_number}: control record field {broken.name_ja} breaks its type")
    return valid_records(decoded)


def record_rules_for(layout_name: LayoutName) -> RecordRules:
    """The checks a record of `layout_name` must pass."""
    layout = load_layout(layout_name)
    return RecordRules(layout, record_schema(layout), record_rules(layout_name), CODE_WARNINGS[layout_name], SECRET_FIELDS)


def checked_chunks(verdict: FileVerdict, chunk_records: int = CHUNK_RECORDS) -> Iterator[CheckedRecords]:
    """The second pass over an accepted file: its data records, chunk by chunk, checked, in order.

    Two chunks are checked at once on two threads (numpy and polars release the GIL); at most
    two are in memory, so memory stays bounded however large the file.
    """
    judge = record_rules_for(verdict.name.kind.layout)
    shape = verdict.shape
    chunks = record_chunks(verdict.path, shape, verdict.data_positions, chunk_records)
    with ThreadPoolExecutor(max_workers=PARALLEL_CHUNKS) as pool:
        pending: deque[Future] = deque()
        for chunk in chunks:
            pending.append(pool.submit(checked_records, chunk.rows(shape), judge, chunk.first_record_number))
            if len(pending) >= PARALLEL_CHUNKS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def recognised_name(path: Path) -> InboxName | None:
    """The inbox name of `path`, or None when the name is not one shuno knows."""
    return parse_inbox_name(path.name)
