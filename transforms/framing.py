"""How a file's bytes split into records: record length, CR LF or nothing, no stray CR or LF;
and how its records split into chunks read one at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CRLF = b"\r\n"
CR, LF = 0x0D, 0x0A
# Under glibc's 32 MiB ceiling for giving a large allocation its own fresh mapping: a chunk's
# buffers then come from memory the previous chunk freed, instead of pages the kernel must zero.
CHUNK_BYTES = 30_000_000


class RejectedFile(ValueError):
    """A file rejected whole; the message is the one-line reason an operator reads."""


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
class RecordChunk:
    """Consecutive records of a file: the first one's number and their bytes (with terminators)."""

    first_record_number: int
    data: np.ndarray

    def rows(self, shape: FileShape) -> np.ndarray:
        """The records as an n × stride array (a CR LF, if any, stays at the end of each row)."""
        return self.data.reshape(-1, shape.stride)


def file_shape(head: bytes, size: int, record_length: int) -> FileShape:
    """The shape of a file of `size` bytes starting with `head` (at least one record and two
    bytes, if the file has them); rejects one that is not whole records."""
    stride = record_stride(head, record_length)
    return FileShape(record_length, stride, check_file_size(size, stride, record_length))


def chunk_spans(positions: range, chunk_records: int) -> list[range]:
    """The positions (0-based) of the records of each chunk, in order."""
    return [range(start, min(start + chunk_records, positions.stop)) for start in range(positions.start, positions.stop, chunk_records)]


def chunk_records_for(shape: FileShape) -> int:
    """Records per chunk: as many as fit CHUNK_BYTES (42,735 payment records with CR LF)."""
    return max(1, CHUNK_BYTES // shape.stride)


def record_stride(head: bytes, record_length: int) -> int:
    """Bytes from one record to the next: the record length, plus 2 when the first ends in CR LF."""
    after = head[record_length : record_length + 2]
    if after == CRLF:
        return record_length + 2
    if after[:1] in (b"\r", b"\n"):
        raise RejectedFile("record 1: followed by a lone CR or LF (a record ends with CR LF or nothing)")
    return record_length


def check_file_size(size: int, stride: int, record_length: int) -> int:
    """The number of records in a file of `size` bytes; rejects a size that is not whole records."""
    if size == 0:
        raise RejectedFile("file is empty")
    if size % stride:
        terminator = "CR LF" if stride > record_length else "no terminator"
        raise RejectedFile(
            f"size {size} bytes is not a whole number of {record_length}-byte records ({terminator})"
        )
    return size // stride


def check_terminators(buffer: bytes, stride: int, record_length: int, first_record_number: int) -> None:
    """Rejects a block of whole records with a stray CR or LF, or a record not ended like the first.

    Counting CR and LF in the bytes (memchr speed) keeps the common path cheap; only a block
    that fails the count is searched for the offending record.
    """
    block = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, stride)
    expected = len(block) if stride > record_length else 0
    if buffer.count(b"\r") == expected and buffer.count(b"\n") == expected:
        check_record_ends(block, record_length, first_record_number)
        return
    check_stray_terminators(block[:, :record_length], np.arange(len(block)) + first_record_number)
    check_record_ends(block, record_length, first_record_number)


def check_stray_terminators(bodies: np.ndarray, record_numbers: np.ndarray) -> None:
    """Rejects records (rows without their terminators) holding a CR or LF.

    The reader searches only the records with a broken field: a CR or LF is neither a digit, nor
    JIS X 0201, nor part of a CP932 double-byte character, so it breaks whatever field it is in.
    """
    stray = (bodies == CR) | (bodies == LF)
    if stray.any():
        row, column = np.argwhere(stray)[0]
        raise RejectedFile(
            f"record {record_numbers[row]}: stray CR or LF at byte {column + 1} "
            "(a record is exactly its length, optionally followed by CR LF)"
        )


def check_record_ends(block: np.ndarray, record_length: int, first_record_number: int) -> None:
    """Rejects rows of a stride (record plus terminator, if any) whose record is not followed by CR LF
    when record 1 was."""
    if block.shape[1] > record_length:
        ends = block[:, record_length:]
        wrong = ~((ends[:, 0] == CR) & (ends[:, 1] == LF))
        if wrong.any():
            raise RejectedFile(f"record {first_record_number + int(np.argmax(wrong))}: not followed by CR LF like record 1")
