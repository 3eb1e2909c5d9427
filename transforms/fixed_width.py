"""Fixed-width records as typed polars frames, and back.

A block of records is a 2-D uint8 array, one row per record. Each field is a column slice of that
array, checked and converted with array operations: `9` fields by their digits, `X` and `K`
fields through `text_codec`. Nothing loops over records or cells in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from schemas.layouts import Field, Layout
from transforms import text_codec

RECORD_NUMBER = "record_number"
SOUND = 0
NOT_DIGITS, IMPOSSIBLE_DATE, IMPOSSIBLE_TIME, IMPOSSIBLE_TIMESTAMP = 1, 2, 3, 4
NOT_JIS_X_0201, DOUBLE_BYTE_IN_HALF_WIDTH, SPLIT_DOUBLE_BYTE = 5, 6, 7
HALF_WIDTH_IN_FULL_WIDTH, NOT_CP932 = 8, 9
REASONS = (
    "",
    "not half-width digits",
    "impossible date",
    "impossible time",
    "impossible timestamp",
    "not a JIS X 0201 character",
    "double-byte character in a half-width field",
    "split double-byte character",
    "half-width byte in a full-width field",
    "not a CP932 character",
)
REJECT_SCHEMA = pl.Schema(
    {RECORD_NUMBER: pl.Int64(), "field": pl.String(), "reason": pl.String(), "raw": pl.Binary()}
)


@dataclass(frozen=True)
class DecodedBlock:
    """Every record of a block typed (null where a field is broken) and the first broken field."""

    frame: pl.DataFrame
    problem_field: np.ndarray
    problem_reason: np.ndarray

    @property
    def broken(self) -> np.ndarray:
        """True for records with a field that breaks its type."""
        return self.problem_field >= 0


@dataclass(frozen=True)
class _Column:
    values: pl.Series
    problem: np.ndarray  # reason code per row (index into REASONS), SOUND where the field is sound
    padding: str | None = None  # trailing padding still to trim (done for all text columns at once)


def decoded_block(records: np.ndarray, layout: Layout, first_record_number: int) -> DecodedBlock:
    """The records of `records` (n × record length bytes) typed by `layout`."""
    count = records.shape[0]
    problem_field = np.full(count, -1, dtype=np.int32)
    problem_reason = np.zeros(count, dtype=np.uint8)
    columns = {RECORD_NUMBER: pl.Series(RECORD_NUMBER, np.arange(count) + first_record_number)}
    trims = []
    for index, field in enumerate(layout.fields):
        column = decoded_field(records[:, field.offset : field.end], field)
        columns[field.name] = column.values.alias(field.name)
        if column.padding is not None:
            trims.append(text_codec.trimmed(field.name, column.padding))
        first = (problem_field < 0) & (column.problem != SOUND)
        problem_field[first] = index
        problem_reason[first] = column.problem[first]
    return DecodedBlock(pl.DataFrame(columns).with_columns(trims), problem_field, problem_reason)


def decoded_field(raw: np.ndarray, field: Field) -> _Column:
    """One field's bytes (n × width) as a typed column and a per-row problem."""
    if field.is_digits:
        return _DIGIT_DECODERS.get(field.format, _number_column)(raw)
    if field.type == "K":
        return _full_width_column(raw)
    return _half_width_column(raw)


def _digit_values(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    digits = raw - np.uint8(0x30)
    sound = (digits <= 9).all(axis=1)
    values = np.zeros(raw.shape[0], dtype=np.int64)
    for position in range(raw.shape[1]):
        values = values * 10 + digits[:, position]
    return np.where(sound, values, 0), sound


def _with_nulls(values: np.ndarray, present: np.ndarray, arrow_type: pa.DataType) -> pl.Series:
    return pl.Series(pa.array(values, mask=~present, type=arrow_type))


def _number_column(raw: np.ndarray) -> _Column:
    values, sound = _digit_values(raw)
    return _Column(_with_nulls(values, sound, pa.int64()), np.where(sound, SOUND, NOT_DIGITS).astype(np.uint8))


def _date_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return values // 10000, values // 100 % 100, values % 100


def _real_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """True where (year, month, day) is a calendar date (years 1..9999)."""
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    last_day = month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last_day)


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    months = (year - 1970) * 12 + (month - 1)
    first_of_month = months.astype("datetime64[M]").astype("datetime64[D]")
    return (first_of_month - np.datetime64("1970-01-01", "D")).astype(np.int64) + day - 1


def _date_column(raw: np.ndarray) -> _Column:
    values, digits = _digit_values(raw)
    year, month, day = _date_parts(values)
    real = _real_dates(year, month, day)
    present = digits & (values != 0)
    days = _days_since_epoch(np.where(real, year, 1970), np.where(real, month, 1), np.where(real, day, 1))
    series = _with_nulls(days.astype(np.int32), present & real, pa.date32())
    return _Column(series, _reason_codes(digits, present & ~real, IMPOSSIBLE_DATE))


def _seconds_of_day(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hours, minutes, seconds = values // 10000, values // 100 % 100, values % 100
    real = (hours < 24) & (minutes < 60) & (seconds < 60)
    return hours * 3600 + minutes * 60 + seconds, real


def _time_column(raw: np.ndarray) -> _Column:
    values, digits = _digit_values(raw)
    seconds, real = _seconds_of_day(values)
    series = _with_nulls(np.where(digits & real, seconds, 0) * 1_000_000_000, digits & real, pa.time64("ns"))
    return _Column(series, _reason_codes(digits, ~real, IMPOSSIBLE_TIME))


def _timestamp_column(raw: np.ndarray) -> _Column:
    values, digits = _digit_values(raw)
    date_values, time_values = values // 1_000_000, values % 1_000_000
    year, month, day = _date_parts(date_values)
    seconds, time_real = _seconds_of_day(time_values)
    real = _real_dates(year, month, day) & time_real
    present = digits & (values != 0)
    days = _days_since_epoch(np.where(real, year, 1970), np.where(real, month, 1), np.where(real, day, 1))
    micros = (days * 86_400 + np.where(real, seconds, 0)) * 1_000_000
    series = _with_nulls(micros, present & real, pa.timestamp("us"))
    return _Column(series, _reason_codes(digits, present & ~real, IMPOSSIBLE_TIMESTAMP))


def _reason_codes(digits: np.ndarray, impossible: np.ndarray, reason: int) -> np.ndarray:
    return np.select([~digits, impossible], [NOT_DIGITS, reason], SOUND).astype(np.uint8)


_DIGIT_DECODERS = {"date": _date_column, "time": _time_column, "timestamp": _timestamp_column}


def _half_width_column(raw: np.ndarray) -> _Column:
    printable_ascii = (raw - np.uint8(0x20)) <= 0x5E
    if printable_ascii.all():
        return _Column(text_codec.ascii_strings(raw), np.zeros(raw.shape[0], dtype=np.uint8), " ")
    unmapped = ~text_codec.single_byte_decodable()[raw]
    broken = unmapped.any(axis=1)
    double_byte = (unmapped & text_codec.is_lead_byte(raw)).any(axis=1)
    lead_at_end = text_codec.is_lead_byte(raw[:, -1])
    problems = np.select(
        [broken & double_byte & lead_at_end, broken & double_byte, broken],
        [SPLIT_DOUBLE_BYTE, DOUBLE_BYTE_IN_HALF_WIDTH, NOT_JIS_X_0201],
        SOUND,
    ).astype(np.uint8)
    sound = np.where(broken[:, None], np.uint8(text_codec.HALF_WIDTH_SPACE), raw)
    return _Column(text_codec.cp932_strings(sound), problems, " ")


def _full_width_column(raw: np.ndarray) -> _Column:
    leads, trails = raw[:, 0::2], raw[:, 1::2]
    units = leads.astype(np.uint16) << 8 | trails
    half_width = ~text_codec.is_lead_byte(leads)
    split = ~half_width & ~text_codec.is_trail_byte(trails)
    unmapped = (~text_codec.double_byte_decodable()[units]).any(axis=1)
    problems = np.select(
        [half_width.any(axis=1), split.any(axis=1), unmapped],
        [HALF_WIDTH_IN_FULL_WIDTH, SPLIT_DOUBLE_BYTE, NOT_CP932],
        SOUND,
    ).astype(np.uint8)
    sound = np.where((problems != SOUND)[:, None], np.uint8(0x81), raw)
    sound[:, 1::2][problems != SOUND] = 0x40
    return _Column(text_codec.cp932_strings(sound), problems, "\u3000")


def valid_records(block: DecodedBlock) -> pl.DataFrame:
    """The records of a block whose every field kept to its type."""
    return block.frame.filter(pl.Series(~block.broken))


def broken_records(block: DecodedBlock, records: np.ndarray, layout: Layout, secret_fields: frozenset[str]) -> pl.DataFrame:
    """One reject row per broken record: record number, field, reason and raw bytes (secrets blanked)."""
    rows = np.flatnonzero(block.broken)
    return pl.DataFrame(
        {
            RECORD_NUMBER: block.frame[RECORD_NUMBER].gather(rows),
            "field": [layout.fields[index].name for index in block.problem_field[rows]],
            "reason": [
                f"{layout.fields[index].name_ja}: {REASONS[reason]}"
                for index, reason in zip(block.problem_field[rows], block.problem_reason[rows])
            ],
            "raw": raw_records(records[rows], layout, secret_fields),
        },
        schema=REJECT_SCHEMA,
    )


def raw_records(records: np.ndarray, layout: Layout, secret_fields: frozenset[str]) -> pl.Series:
    """The records' bytes as a Binary series, with every secret field blanked to spaces."""
    kept = records.copy()
    for field in layout.fields:
        if field.name in secret_fields:
            kept[:, field.offset : field.end] = text_codec.HALF_WIDTH_SPACE
    width = kept.shape[1]
    array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), kept.shape[0], [None, pa.py_buffer(np.ascontiguousarray(kept))]
    )
    return pl.Series("raw", array.cast(pa.binary()), dtype=pl.Binary)


class EncodingError(ValueError):
    """A value the layout cannot hold (too wide, negative, not CP932)."""


def encoded_block(frame: pl.DataFrame, layout: Layout) -> np.ndarray:
    """The records of `frame` as bytes, one row of record length per frame row."""
    records = np.empty((frame.height, layout.record_length), dtype=np.uint8)
    for field in layout.fields:
        records[:, field.offset : field.end] = encoded_field(frame[field.name], field)
    return records


def encoded_field(values: pl.Series, field: Field) -> np.ndarray:
    """One column as the field's bytes (n × width)."""
    if field.is_digits:
        return _digits_bytes(_digit_integers(values, field), field)
    padding = b"\x81\x40" if field.type == "K" else b" "
    return text_codec.encoded_strings(values, field.width, padding, field.name)


def _digit_integers(values: pl.Series, field: Field) -> np.ndarray:
    frame = values.to_frame("value")
    expression = pl.col("value")
    parts = {
        "date": [(expression.dt.year(), 10_000), (expression.dt.month(), 100), (expression.dt.day(), 1)],
        "time": [(expression.dt.hour(), 10_000), (expression.dt.minute(), 100), (expression.dt.second(), 1)],
    }
    parts["timestamp"] = [(part, scale * 1_000_000) for part, scale in parts["date"]] + parts["time"]
    if field.format in parts:
        expression = pl.sum_horizontal(part.cast(pl.Int64) * scale for part, scale in parts[field.format])
    return frame.select(expression.cast(pl.Int64).fill_null(0)).to_series().to_numpy()


def _digits_bytes(values: np.ndarray, field: Field) -> np.ndarray:
    if (values < 0).any() or (values >= 10**field.width).any():
        raise EncodingError(f"{field.name}: a value does not fit {field.width} unsigned digits")
    powers = 10 ** np.arange(field.width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10 + 0x30).astype(np.uint8)


def records_bytes(frame: pl.DataFrame, layout: Layout, crlf: bool) -> bytes:
    """The records of `frame` as a file's bytes, each followed by CR LF when `crlf`."""
    records = encoded_block(frame, layout)
    if crlf:
        records = np.hstack([records, np.tile(np.frombuffer(b"\r\n", dtype=np.uint8), (len(records), 1))])
    return records.tobytes()
