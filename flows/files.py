"""Reading the inbox's fixed-width files from disk, a bounded chunk of records at a time.

A file is read twice. The first pass settles the file as a whole: framing, the place of the
control records, the header and the trailer against the data (SPEC.md §1.1), reading only the
fields the totals need. Only a file that passes is parsed in the second pass, chunk by chunk,
so memory stays near one chunk however large the file. What is judged, and how, are pure
transforms (`transforms.framing`, `transforms.payment_file`, `transforms.records`): this module
reads the bytes and schedules the chunks.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import polars as pl

from schemas.inbox import InboxName, parse_inbox_name
from schemas.layouts import PaymentFileLayouts, load_layout, load_payment_file_layouts
from transforms import framing, payment_file
from transforms.framing import FileShape, RecordChunk, chunk_records_for, chunk_spans
from transforms.payment_file import ControlTotals, HeaderExpectations
from transforms.records import CheckedRecords, RecordRules, checked_chunk, record_rules_for

PARALLEL_CHUNKS = 2


@dataclass(frozen=True)
class FileVerdict:
    """A file opened for reading: its shape and control records, or why it is rejected whole."""

    path: Path
    name: InboxName
    shape: FileShape | None = None
    data_positions: range = range(0)
    header: dict = field(default_factory=dict)
    trailer: pl.DataFrame | None = None
    rejection: str | None = None

    @property
    def data_count(self) -> int:
        """Data records in the file (0 for a rejected file whose shape is unknown)."""
        return len(self.data_positions)

    @property
    def declared_totals(self) -> ControlTotals | None:
        """What a payment file's trailer declares (equal to the data's once the file is read)."""
        return None if self.trailer is None else payment_file.declared_totals(self.trailer)


def read_chunk(descriptor: int, shape: FileShape, span: range) -> RecordChunk:
    """The records at `span` (0-based positions) read into a new array.

    Positioned reads (`os.preadv`) straight into the array: the threads read their own chunks from
    one descriptor, and a buffered `read` of tens of megabytes would cost four times as much. A
    file that ends early, because it was cut while being read, is rejected whole.
    """
    data = np.empty(len(span) * shape.stride, dtype=np.uint8)
    view, filled, offset = memoryview(data), 0, span.start * shape.stride
    while filled < len(data):  # a positioned read may return less than asked
        read = os.preadv(descriptor, [view[filled:]], offset + filled)
        if not read:
            record = span.start + 1 + filled // shape.stride
            raise framing.RejectedFile(f"record {record}: the file ended early; it changed while it was read")
        filled += read
    return RecordChunk(span.start + 1, data)


def read_file_shape(path: Path, record_length: int) -> FileShape:
    """The shape of a file of `record_length`-byte records; rejects one that is not whole records."""
    with path.open("rb") as stream:
        head = stream.read(record_length + 2)
    return framing.file_shape(head, path.stat().st_size, record_length)


def inspect_file(path: Path, name: InboxName) -> FileVerdict:
    """What can be judged before the data records: size, framing of record 1, the control records."""
    try:
        shape = read_file_shape(path, load_layout(name.kind.layout).record_length)
    except framing.RejectedFile as rejection:
        return FileVerdict(path, name, rejection=str(rejection))
    if not name.kind.has_control_records:
        return FileVerdict(path, name, shape, shape.data_range)
    try:
        return _opened_payment_file(path, name, shape, load_payment_file_layouts())
    except framing.RejectedFile as rejection:
        # The shape is known: the data records are counted even though none is applied.
        return FileVerdict(path, name, shape, payment_file.data_positions(shape.record_count), rejection=str(rejection))


def _opened_payment_file(path: Path, name: InboxName, shape: FileShape, layouts: PaymentFileLayouts) -> FileVerdict:
    with path.open("rb", buffering=0) as stream:
        spans = [range(position, position + 1) for position in payment_file.control_positions(shape.record_count)]
        records = [read_chunk(stream.fileno(), shape, span) for span in spans]
    expected = HeaderExpectations(name.kind.payment_file_class, name.settlement_date, name.collector_code, shape.record_length)
    header, trailer = payment_file.checked_control_records(records, shape, layouts, expected)
    return FileVerdict(path, name, shape, payment_file.data_positions(shape.record_count), header.row(0, named=True), trailer)


def checked_chunks(verdict: FileVerdict, chunk_records: int | None = None) -> Iterator[CheckedRecords]:
    """The file's data records, chunk by chunk, checked, in order; one pass over the bytes.

    Framing and the place of control records are checked per chunk; a payment file's trailer
    is reconciled after the last chunk. Either failure raises `RejectedFile`, possibly after
    chunks were yielded: the caller must then drop what it took. Two chunks are checked at once
    on two threads, each reading its own (numpy and polars release the GIL); while the caller takes
    one chunk, the next two are being read and checked, so at most three are in memory.
    """
    judge = record_rules_for(verdict.name.kind.layout)
    spans = iter(chunk_spans(verdict.data_positions, chunk_records or chunk_records_for(verdict.shape)))
    totals = ControlTotals()
    with verdict.path.open("rb", buffering=0) as stream, ThreadPoolExecutor(max_workers=PARALLEL_CHUNKS) as pool:

        def submitted(span: range) -> Future:
            return pool.submit(_checked_span, stream.fileno(), span, verdict, judge)

        pending: deque[Future] = deque(submitted(span) for span in islice(spans, PARALLEL_CHUNKS))
        while pending:
            checked, chunk_totals = pending.popleft().result()
            pending.extend(submitted(span) for span in islice(spans, 1))  # the threads go on while the caller takes this chunk
            totals += chunk_totals
            yield checked
    if verdict.trailer is not None:
        payment_file.check_trailer(verdict.trailer, totals, verdict.shape.record_count - 1)


def _checked_span(descriptor: int, span: range, verdict: FileVerdict, judge: RecordRules) -> tuple[CheckedRecords, ControlTotals]:
    """The records at `span` read and checked, on a worker thread."""
    chunk = read_chunk(descriptor, verdict.shape, span)
    return checked_chunk(chunk, verdict.shape, judge, verdict.data_positions, has_trailer=verdict.trailer is not None)


def recognised_name(path: Path) -> InboxName | None:
    """The inbox name of `path`, or None when the name is not one shuno knows."""
    return parse_inbox_name(path.name)
