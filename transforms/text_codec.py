"""CP932 bytes to UTF-8 strings and back, a whole column at a time.

The reader never calls a codec per cell. A field's bytes are checked with array operations
against tables built once from Python's own `cp932` codec (IBM extensions such as 0xFBFC
included), then the whole column is decoded in one codec call and cut into an Arrow string array.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

HALF_WIDTH_SPACE = 0x20
LINE_FEED = 0x0A


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


def cp932_strings(raw: np.ndarray, padding: bytes) -> pl.Series:
    """CP932 rows (n × width, already checked to decode) as strings, trailing `padding` trimmed;
    blank rows are null.

    The padding is cut off in the bytes, the rest of every row followed by a line feed (a byte no
    CP932 character contains); one codec call decodes the whole column and the UTF-8 result is
    cut at the line feeds.
    """
    rows, width = raw.shape
    lengths = unpadded_lengths(raw, padding)
    lined = np.empty((rows, width + 1), dtype=np.uint8)
    lined[:, :width] = raw
    lined[:, width] = LINE_FEED
    kept = np.arange(width + 1) < lengths[:, None]
    kept[:, width] = True
    utf8 = np.frombuffer(lined[kept].tobytes().decode("cp932").encode("utf-8"), dtype=np.uint8)
    line_ends = np.flatnonzero(utf8 == LINE_FEED)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    offsets[1:] = line_ends - np.arange(rows)
    validity = pa.py_buffer(np.packbits(lengths > 0, bitorder="little"))
    array = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(np.delete(utf8, line_ends)), validity)
    return pl.Series(array)


def unpadded_lengths(raw: np.ndarray, padding: bytes) -> np.ndarray:
    """Per row, the bytes before its trailing run of `padding` (one or two bytes, aligned to the row start)."""
    units = np.ascontiguousarray(raw).view(">u2") if len(padding) == 2 else raw
    content = units != int.from_bytes(padding, "big")
    positions = np.arange(1, content.shape[1] + 1, dtype=np.int32)
    return np.max(content * positions, axis=1, initial=0) * len(padding)


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
