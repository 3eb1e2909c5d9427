"""Reading the inbox's fixed-width files from disk, a bounded chunk of records at a time.

A file is read twice. The first pass settles the file as a whole: framing, the place of the
control records, the header and the trailer against the data (SPEC.md §1.1), reading only the
fields the totals need. Only a file that passes is parsed in the second pass, chunk by chunk,
so memory stays near one chunk however large the file.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice
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
from transforms.records import CheckedRecords, RecordRules, judged_records

# Under glibc's 32 MiB ceiling for giving a large allocation its own fresh mapping: a chunk's
# buffers then come from memory the previous chunk freed, instead of pages the kernel must zero.
CHUNK_BYTES = 30_000_000
PARALLEL_CHUNKS = 2


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
        if self.trailer is None:
            return None
        row = self.trailer.row(0, named=True)
        return ControlTotals(**{name: row[name] for name in ControlTotals().as_dict()})


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records of a file: the first one's number and their bytes (with terminators)."""

    first_record_number: int
    data: np.ndarray

    def rows(self, shape: FileShape) -> np.ndarray:
        """The records as an n × stride array (a CR LF, if any, stays at the end of each row)."""
        return self.data.reshape(-1, shape.stride)


def chunk_spans(positions: range, chunk_records: int) -> list[range]:
    """The positions (0-based) of the records of each chunk, in order."""
    return [range(start, min(start + chunk_records, positions.stop)) for start in range(positions.start, positions.stop, chunk_records)]


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


def file_shape(path: Path, record_length: int) -> FileShape:
    """The shape of a file of `record_length`-byte records; rejects one that is not whole records."""
    with path.open("rb") as stream:
        head = stream.read(record_length + 2)
    stride = framing.record_stride(head, record_length)
    count = framing.check_file_size(path.stat().st_size, stride, record_length)
    return FileShape(record_length, stride, count)


def inspect_file(path: Path, name: InboxName) -> FileVerdict:
    """What can be judged before the data records: size, framing of record 1, the control records."""
    try:
        shape = file_shape(path, load_layout(name.kind.layout).record_length)
    except framing.RejectedFile as rejection:
        return FileVerdict(path, name, rejection=str(rejection))
    if not name.kind.has_control_records:
        return FileVerdict(path, name, shape, shape.data_range)
    try:
        return _opened_payment_file(path, name, shape, load_payment_file_layouts())
    except framing.RejectedFile as rejection:
        # The shape is known: the data records are counted even though none is applied.
        return FileVerdict(path, name, shape, range(1, max(shape.record_count - 2, 1)), rejection=str(rejection))


def _opened_payment_file(path: Path, name: InboxName, shape: FileShape, layouts: PaymentFileLayouts) -> FileVerdict:
    if shape.record_count < 3:
        raise framing.RejectedFile(f"{shape.record_count} records: a payment file needs a header, a trailer and an end record")
    positions = (0, shape.record_count - 2, shape.record_count - 1)
    ends = [_control_record(path, shape, position) for position in positions]
    # The end record first: a missing end record shifts the trailer into its place.
    for position, chunk in reversed(list(zip(positions, ends))):
        payment_file.check_record_types(chunk.rows(shape)[:, payment_file.RECORD_TYPE_OFFSET], position + 1, shape.record_count)
    header, trailer, end = (
        _control_frame(chunk, shape, layout) for chunk, layout in zip(ends, (layouts.header, layouts.trailer, layouts.end))
    )
    expected = HeaderExpectations(name.kind.payment_file_class, name.settlement_date, name.collector_code, shape.record_length)
    payment_file.check_header(header, expected)
    payment_file.check_end(end, shape.record_count)
    return FileVerdict(path, name, shape, range(1, shape.record_count - 2), header.row(0, named=True), trailer)


def _control_record(path: Path, shape: FileShape, position: int) -> RecordChunk:
    with path.open("rb", buffering=0) as stream:
        chunk = read_chunk(stream.fileno(), shape, range(position, position + 1))
    framing.check_terminators(chunk.data.tobytes(), shape.stride, shape.record_length, chunk.first_record_number)
    return chunk


def _control_frame(chunk: RecordChunk, shape: FileShape, layout) -> pl.DataFrame:
    decoded = decoded_block(chunk.rows(shape), layout, chunk.first_record_number)
    if decoded.broken.any():
        broken = layout.fields[int(decoded.problem_field[0])]
        raise framing.RejectedFile(f"record {chunk.first_record_number}: control record field {broken.name_ja} breaks its type")
    return valid_records(decoded)


def record_rules_for(layout_name: LayoutName) -> RecordRules:
    """The checks a record of `layout_name` must pass."""
    layout = load_layout(layout_name)
    return RecordRules(layout, record_schema(layout), record_rules(layout_name), CODE_WARNINGS[layout_name], SECRET_FIELDS)


def chunk_records_for(shape: FileShape) -> int:
    """Records per chunk: as many as fit CHUNK_BYTES (42,735 payment records with CR LF)."""
    return max(1, CHUNK_BYTES // shape.stride)


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
    return _checked_chunk(read_chunk(descriptor, verdict.shape, span), verdict, judge)


def _checked_chunk(chunk: RecordChunk, verdict: FileVerdict, judge: RecordRules) -> tuple[CheckedRecords, ControlTotals]:
    shape, first = verdict.shape, chunk.first_record_number
    rows = chunk.rows(shape)
    decoded = decoded_block(rows, judge.layout, first, unread=judge.secret_fields)
    broken = np.flatnonzero(decoded.broken)
    framing.check_stray_terminators(rows[broken, : shape.record_length], broken + first)
    framing.check_record_ends(rows, shape.record_length, first)
    if verdict.trailer is not None:
        payment_file.check_record_types(rows[:, payment_file.RECORD_TYPE_OFFSET], first, shape.record_count)
    totals = payment_file.control_totals(decoded.frame, judge.layout) if verdict.trailer is not None else ControlTotals()
    structure_checked = first > verdict.data_positions.start + 1  # the file's first chunk had pandera check it
    return judged_records(decoded, rows, judge, structure_checked), totals


def read_whole_file(path: Path, name: InboxName, chunk_records: int | None = None) -> tuple[FileVerdict, list[CheckedRecords]]:
    """A file read to the end, its chunks kept (for small files: checks and tests): the verdict
    carries the rejection, if any, and then no chunk is returned."""
    verdict = inspect_file(path, name)
    if verdict.rejection is not None:
        return verdict, []
    try:
        return verdict, list(checked_chunks(verdict, chunk_records))
    except framing.RejectedFile as rejection:
        return replace(verdict, rejection=str(rejection)), []


def recognised_name(path: Path) -> InboxName | None:
    """The inbox name of `path`, or None when the name is not one shuno knows."""
    return parse_inbox_name(path.name)
