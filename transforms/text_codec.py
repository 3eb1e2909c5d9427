"""CP932 bytes to UTF-8 strings and back, a whole column at a time.

The reader never calls a codec per cell. A field's bytes are checked with array operations
against tables built once from Python's own `cp932` codec (IBM extensions such as 0xFBFC
included), and decoded by looking every character up in the codec's own UTF-8 table, a whole
column at a time, into an Arrow string array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

HALF_WIDTH_SPACE = 0x20


@cache
def single_byte_decodable() -> np.ndarray:
    """True for each byte an `X` field may hold (JIS X 0201: printable ASCII, half-width kana)."""
    decodable = np.zeros(256, dtype=bool)
    decodable[[*range(0x20, 0x7F), *range(0xA1, 0xE0)]] = True
    return decodable


@cache
def double_byte_decodable() -> np.ndarray:
    """True for each two-byte CP932 character, indexed by lead × 256 + trail."""
    decodable = np.zeros(65536, dtype=bool)
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xFD)]:
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
            try:
                decodable[lead * 256 + trail] = len(bytes([lead, trail]).decode("cp932")) == 1
            except UnicodeDecodeError:
                continue
    return decodable


def is_lead_byte(values: np.ndarray) -> np.ndarray:
    """True where a byte can start a CP932 double-byte character."""
    return ((values >= 0x81) & (values <= 0x9F)) | ((values >= 0xE0) & (values <= 0xFC))


def is_trail_byte(values: np.ndarray) -> np.ndarray:
    """True where a byte can end a CP932 double-byte character."""
    return ((values >= 0x40) & (values <= 0x7E)) | ((values >= 0x80) & (values <= 0xFC))


@dataclass(frozen=True)
class Utf8Table:
    """The UTF-8 form of every CP932 character of one width, indexed by its code (the byte, or
    lead × 256 + trail): its bytes in four (little-endian, unused ones zero), which of the four
    it uses (one flag byte each), and how many (0 for a code that is no character)."""

    packed: np.ndarray
    used: np.ndarray
    lengths: np.ndarray


@cache
def utf8_table(width: int) -> Utf8Table:
    """The Utf8Table of the one-byte (JIS X 0201) or two-byte CP932 characters, from Python's codec."""
    decodable = single_byte_decodable() if width == 1 else double_byte_decodable()
    codes = np.flatnonzero(decodable)
    characters = codes.astype(">u2" if width == 2 else np.uint8).tobytes().decode("cp932")  # one per code
    points = np.frombuffer(characters.encode("utf-32-le"), dtype="<u4")
    lengths = np.zeros(len(decodable), dtype=np.int64)
    lengths[codes] = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    utf8 = np.frombuffer(characters.encode("utf-8"), dtype=np.uint8)
    used = (np.arange(4) < lengths[:, None]).astype(np.uint8)
    packed = np.zeros((len(decodable), 4), dtype=np.uint8)
    packed[used.astype(bool)] = utf8  # the codes in order, each character's bytes in order
    return Utf8Table(packed.view("<u4")[:, 0], used.view("<u4")[:, 0], lengths)


def cp932_strings(raw: np.ndarray, padding: bytes) -> pl.Series:
    """CP932 rows (n × width, already checked to decode) as strings, trailing `padding` trimmed;
    blank rows are null.

    `padding` is one byte for a half-width field, whose characters are single bytes, and two for a
    full-width one, whose characters are all double-byte. Every character is looked up in the
    codec's own table (`utf8_table`) with array operations, so the column is decoded without a
    codec call and without holding the interpreter lock.
    """
    width = len(padding)
    codes = np.ascontiguousarray(raw).view(">u2" if width == 2 else np.uint8)
    table = utf8_table(width)
    characters_per_row = unpadded_units(codes, int.from_bytes(padding, "big"))
    characters = codes[np.arange(codes.shape[1]) < characters_per_row[:, None]]
    utf8 = table.packed[characters].view(np.uint8)[table.used[characters].view(bool)]
    ends = np.zeros(len(characters) + 1, dtype=np.int64)
    np.cumsum(table.lengths[characters], out=ends[1:])
    offsets = ends[np.concatenate(([0], np.cumsum(characters_per_row)))]
    validity = pa.py_buffer(np.packbits(characters_per_row > 0, bitorder="little"))
    return pl.Series(pa.LargeStringArray.from_buffers(len(codes), pa.py_buffer(offsets), pa.py_buffer(utf8), validity))


def unpadded_units(codes: np.ndarray, padding: int) -> np.ndarray:
    """Per row of character codes, how many come before its trailing run of `padding`."""
    content = codes != padding
    positions = np.arange(1, content.shape[1] + 1, dtype=np.int32)
    return np.max(content * positions, axis=1, initial=0)


def encoded_strings(values: pl.Series, width: int, padding: bytes, name: str) -> np.ndarray:
    """Each string as CP932 bytes padded to `width` (n × width); null is all padding.

    Encoding runs once per distinct value, which keeps the writer fast on real columns without
    a per-cell codec call.
    """
    distinct = values.unique(maintain_order=True)
    rows = np.empty((len(distinct), width), dtype=np.uint8)
    for index, text in enumerate(distinct.to_list()):
        rows[index] = np.frombuffer(_padded(text, width, padding, name), dtype=np.uint8)
    positions = values.replace_strict(distinct, pl.int_range(len(distinct), eager=True), return_dtype=pl.Int64)
    return rows[positions.to_numpy()]


@cache
def ibm_extension_bytes() -> dict[str, bytes]:
    """The IBM extension code (0xFA40–0xFC4B) of each character that also has an NEC-selected one.

    Python's codec encodes 髙 as the NEC-selected 0xEEE0; Windows, which writes the deliveries,
    uses the IBM extension 0xFBFC. The writer follows Windows.
    """
    extension = {}
    for unit in np.flatnonzero(double_byte_decodable()[0xFA40:0xFC4C]) + 0xFA40:
        code = int(unit).to_bytes(2, "big")
        extension.setdefault(code.decode("cp932"), code)
    return extension


def cp932_bytes(text: str) -> bytes:
    """`text` in CP932 as Windows writes it (IBM extensions preferred to NEC-selected ones)."""
    encoded = text.encode("cp932")
    if not any(0xED <= byte <= 0xEE for byte in encoded):
        return encoded
    extension = ibm_extension_bytes()
    return b"".join(extension.get(character) or character.encode("cp932") for character in text)


def _padded(text: str | None, width: int, padding: bytes, name: str) -> bytes:
    try:
        encoded = cp932_bytes(text or "")
    except UnicodeEncodeError as error:
        raise ValueError(f"{name}: a value has a character CP932 cannot hold") from error
    room = width - len(encoded)
    if room < 0 or room % len(padding):
        raise ValueError(f"{name}: a value of {len(encoded)} bytes does not fit {width} bytes")
    return encoded + padding * (room // len(padding))
