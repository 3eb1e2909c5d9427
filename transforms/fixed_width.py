"""Fixed-width records as typed polars frames, and back.

A block of records is a 2-D uint8 array, one row per record. Each field is a column slice of that
array, checked and converted with array operations: `9` fields by their digits, `X` and `K`
fields through `text_codec`. Nothing loops over records or cells in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

from schemas.layouts import FORMAT_WIDTHS, Field, Layout
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


RECORD = "__record"
IMPOSSIBLE = {"date": IMPOSSIBLE_DATE, "time": IMPOSSIBLE_TIME, "timestamp": IMPOSSIBLE_TIMESTAMP}


def decoded_block(records: np.ndarray, layout: Layout, first_record_number: int, unread: frozenset[str] = frozenset()) -> DecodedBlock:
    """The records of `records` (n rows of at least the record length; bytes past it are ignored).

    The fields in `unread` (secrets the caller drops) are checked like any other but never decoded:
    their column is null.

    The bytes are judged with numpy (`block_problems`). Amounts, numbers, dates and times are read
    from their digit bytes with numpy; codes and timestamps are cut from one Binary column of whole
    records by polars in a single select, which runs on every core; the kana and kanji columns go through
    the CP932 table of `text_codec`. A field the same in every record is typed once (see
    docs/reader.md).
    """
    extremes = ByteExtremes.of(records, max(field.end for field in layout.fields))
    problems, codec_fields = block_problems(records, layout, extremes)
    read = [(index, field) for index, field in enumerate(layout.fields) if field.name not in unread]
    decoded = {field.name: _cp932_column(records[:, field.offset : field.end], problems[:, index], field) for index, field in read if field.name in codec_fields}
    constant, filled = extremes.constant_fields(layout), extremes.filled_fields(layout)
    ascii_fields = [field for _, field in read if field.name not in decoded]
    frame = _typed(records, [field for field in ascii_fields if field.name not in constant], filled)
    once = _typed(records[:1], [field for field in ascii_fields if field.name in constant], filled)
    frame = frame.with_columns(once[name].new_from_index(0, len(records)) for name in once.columns)
    problems = _with_impossible_values(problems, frame, records, layout, extremes)
    unread_columns = [pl.lit(None, dtype=field.polars_dtype).alias(field.name) for field in layout.fields if field.name in unread]
    frame = frame.with_columns(*decoded.values(), *unread_columns).select(layout.field_names)
    frame = _nulled(frame, problems, layout).with_columns(pl.int_range(first_record_number, first_record_number + len(records), dtype=pl.Int64).alias(RECORD_NUMBER))
    return DecodedBlock(frame.select(RECORD_NUMBER, *layout.field_names), *_first_problems(problems))


DIGIT, PRINTABLE_ASCII, JIS_X_0201 = 1, 2, 4


def _byte_class_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    table[0x30:0x3A] |= DIGIT
    table[0x20:0x7F] |= PRINTABLE_ASCII
    table[text_codec.single_byte_decodable()] |= JIS_X_0201
    return table


BYTE_CLASSES = _byte_class_table()


@dataclass(frozen=True)
class ByteExtremes:
    """Per byte position of a block of records, the lowest and the highest byte found there."""

    lowest: np.ndarray
    highest: np.ndarray

    @classmethod
    def of(cls, records: np.ndarray, end: int) -> ByteExtremes:
        """The extremes of the first `end` bytes of every record (none: lowest 0xFF above highest 0)."""
        if not len(records):
            return cls(np.full(end, 0xFF, dtype=np.uint8), np.zeros(end, dtype=np.uint8))
        body = records[:, :end]
        return cls(body.min(axis=0), body.max(axis=0))

    def constant_fields(self, layout: Layout) -> set[str]:
        """The fields whose bytes are the same in every record (reserved areas, the collector code,
        zero amounts): the reader types each of them once and repeats it."""
        same = self.lowest == self.highest
        return {field.name for field in layout.fields if same[field.offset : field.end].all()}

    def filled_fields(self, layout: Layout) -> set[str]:
        """The fields no record ends with a space or less: trimming them would change nothing."""
        return {field.name for field in layout.fields if self.lowest[field.end - 1] > text_codec.HALF_WIDTH_SPACE}


def block_problems(records: np.ndarray, layout: Layout, extremes: ByteExtremes) -> tuple[np.ndarray, set[str]]:
    """Per record and field, why the field's bytes break its type (a REASONS index, SOUND where
    they do not), and the names of the fields whose column needs CP932 decoding.

    Nearly every record is plain: digits in its `9` fields and printable ASCII in its code fields.
    The byte extremes of the block clear most byte positions at once; the records are range-tested
    only where they do not, and only the records that fail are classified field by field. The kana
    and kanji fields are always checked in full.
    """
    problems = np.zeros((len(records), len(layout.fields)), dtype=np.uint8)
    codec_fields = {field.name for field in layout.fields if field.needs_cp932}
    for index, field in enumerate(layout.fields):
        if field.needs_cp932:
            raw = records[:, field.offset : field.end]
            problems[:, index] = _full_width_problems(raw) if field.type == "K" else _half_width_field_problems(raw)
    suspects = np.flatnonzero(~plain_records(records, layout, extremes))
    if len(suspects):
        others = [(index, field) for index, field in enumerate(layout.fields) if not field.needs_cp932]
        rows = records[suspects]
        bits = field_byte_classes(rows, tuple(field for _, field in others))
        for column, (index, field) in enumerate(others):
            problems[suspects, index] = field_problems(rows[:, field.offset : field.end], bits[:, column], field)
            if not field.is_digits and not (bits[:, column] & PRINTABLE_ASCII).all():
                codec_fields.add(field.name)  # half-width kana in a code field (or a broken byte)
    return problems, codec_fields


def plain_records(records: np.ndarray, layout: Layout, extremes: ByteExtremes) -> np.ndarray:
    """True for the records whose `9` fields hold only digits and whose code fields only printable ASCII."""
    low, span = _plain_byte_ranges(layout)
    doubtful = np.flatnonzero((extremes.lowest < low) | (extremes.highest.astype(np.int16) > low.astype(np.int16) + span))
    if not len(doubtful):
        return np.ones(len(records), dtype=bool)
    low, span = low[doubtful], span[doubtful]
    return ((records[:, doubtful] - low) <= span).all(axis=1)  # uint8 wraps below `low`, so one comparison tests both ends


@cache
def _plain_byte_ranges(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per byte of a record, the lowest plain value and the span above it (255: any byte)."""
    end = max(field.end for field in layout.fields)
    low, span = np.zeros(end, dtype=np.uint8), np.full(end, 0xFF, dtype=np.uint8)
    for field in layout.fields:
        if field.is_digits:
            low[field.offset : field.end], span[field.offset : field.end] = ord("0"), 9
        elif not field.needs_cp932:
            low[field.offset : field.end], span[field.offset : field.end] = 0x20, 0x7E - 0x20
    return low, span


def field_byte_classes(records: np.ndarray, fields: tuple[Field, ...]) -> np.ndarray:
    """Per record and field, the byte classes (DIGIT, PRINTABLE_ASCII, JIS_X_0201) all its bytes share."""
    start = min(field.offset for field in fields)
    stop = max(field.end for field in fields)
    classes = BYTE_CLASSES[records[:, start:stop]]
    bounds = sorted({field.offset - start for field in fields} | {field.end - start for field in fields} - {stop - start})
    shared = np.bitwise_and.reduceat(classes, bounds, axis=1)
    return shared[:, [bounds.index(field.offset - start) for field in fields]]


def field_problems(raw: np.ndarray, bits: np.ndarray, field: Field) -> np.ndarray:
    """Per row, why the field's bytes break its type (a REASONS index), SOUND where they do not."""
    if field.is_digits:
        return np.where(bits & DIGIT, SOUND, NOT_DIGITS).astype(np.uint8)
    if field.type == "K":
        return _full_width_problems(raw)
    problems = np.zeros(len(raw), dtype=np.uint8)
    broken = np.flatnonzero(~(bits & JIS_X_0201).astype(bool))
    if len(broken):
        problems[broken] = _half_width_problems(raw[broken])
    return problems


def _half_width_field_problems(raw: np.ndarray) -> np.ndarray:
    """Per row of an `X` field, why its bytes are not JIS X 0201, SOUND where they are."""
    return _problems_where(text_codec.single_byte_decodable()[np.ascontiguousarray(raw)], raw, _half_width_problems)


def _half_width_problems(raw: np.ndarray) -> np.ndarray:
    """Why each of these rows (all broken) is not JIS X 0201."""
    lead = text_codec.is_lead_byte(raw) & ~text_codec.single_byte_decodable()[raw]
    lead_at_end = text_codec.is_lead_byte(raw[:, -1])
    return np.select([lead.any(axis=1) & lead_at_end, lead.any(axis=1)], [SPLIT_DOUBLE_BYTE, DOUBLE_BYTE_IN_HALF_WIDTH], NOT_JIS_X_0201).astype(np.uint8)


def _full_width_problems(raw: np.ndarray) -> np.ndarray:
    """Per row of a `K` field, why its bytes are not CP932 double-byte characters, SOUND where they are."""
    codes = np.ascontiguousarray(raw).view(">u2")  # lead × 256 + trail
    return _problems_where(text_codec.double_byte_decodable()[codes], raw, _full_width_reasons)


def _problems_where(decodable: np.ndarray, raw: np.ndarray, reasons) -> np.ndarray:
    """Per row, SOUND where every unit is `decodable`, else `reasons` of the row (asked only for those rows)."""
    problems = np.zeros(len(raw), dtype=np.uint8)
    if decodable.all():  # one pass over the whole column: the common case
        return problems
    broken = np.flatnonzero(~decodable.all(axis=1))
    problems[broken] = reasons(raw[broken])
    return problems


def _full_width_reasons(raw: np.ndarray) -> np.ndarray:
    """Why each of these rows (all broken) is not CP932 double-byte characters."""
    leads, trails = raw[:, 0::2], raw[:, 1::2]
    half_width = ~text_codec.is_lead_byte(leads)
    split = ~half_width & ~text_codec.is_trail_byte(trails)
    unmapped = ~text_codec.double_byte_decodable()[leads.astype(np.uint16) << 8 | trails]
    return np.select(
        [half_width.any(axis=1), split.any(axis=1), unmapped.any(axis=1)],
        [HALF_WIDTH_IN_FULL_WIDTH, SPLIT_DOUBLE_BYTE, NOT_CP932],
        SOUND,
    ).astype(np.uint8)


def _cp932_column(raw: np.ndarray, problems: np.ndarray, field: Field) -> pl.Series:
    """A CP932 column decoded a whole column at a time; broken rows become padding first (then null)."""
    padding = b"\x81\x40" if field.type == "K" else b" "
    broken = problems != SOUND
    if broken.any():
        raw = raw.copy()
        raw[broken] = np.tile(np.frombuffer(padding, dtype=np.uint8), field.width // len(padding))
    return text_codec.cp932_strings(raw, padding).alias(field.name)


def _typed(records: np.ndarray, fields: list[Field], filled: set[str]) -> pl.DataFrame:
    """The ASCII fields of the records typed (null where they break their type): amounts, numbers,
    dates and times by numpy from their digits, the rest cut by polars from the records as one Binary
    column (the `filled` codes need no trimming)."""
    if not fields:
        return pl.DataFrame(height=len(records))
    sliced = [_sliced(field, field.name in filled) for field in fields if not _from_digits(field)]
    frame = pl.DataFrame({RECORD: _binary_records(records)}).select(sliced) if sliced else pl.DataFrame(height=len(records))
    return frame.with_columns(_digits_column(records, field) for field in fields if _from_digits(field)).select(field.name for field in fields)


INT64_DIGITS = 18


def _from_digits(field: Field) -> bool:
    """True for the `9` fields typed by numpy from their digits: amounts, numbers (short enough for
    Int64), dates, times of day and timestamps (YYYYMMDDHHMMSS)."""
    return field.is_digits and field.width <= INT64_DIGITS


def _digits_column(records: np.ndarray, field: Field) -> pl.Series:
    """An amount, number, date (YYYYMMDD), time of day (HHMMSS) or timestamp from its digit bytes; a
    date, time or timestamp is null where it names none.

    Timestamps are read like a date followed by a time, never through text: a byte that is no
    digit (≥ 0x80 included) makes the field null and the record rejected, as in a date.
    """
    if field.format == "timestamp":
        date_part = replace(field, width=FORMAT_WIDTHS["date"])
        time_part = replace(field, offset=field.offset + FORMAT_WIDTHS["date"], width=FORMAT_WIDTHS["time"])
        days, real_day = digit_dates(records, date_part)
        seconds, real_time = _seconds_of_day(digit_values(records, time_part))
        microseconds = (days.astype(np.int64) * 86_400 + seconds) * 1_000_000
        return pl.Series(field.name, pa.array(microseconds, type=pa.timestamp("us"), mask=~(real_day & real_time)))
    if field.format == "date":
        days, real = digit_dates(records, field)
        return pl.Series(field.name, pa.array(days, type=pa.date32(), mask=~real))
    values = digit_values(records, field)
    if field.format != "time":
        return pl.Series(field.name, values)
    seconds, real = _seconds_of_day(values)
    return pl.Series(field.name, pa.array(seconds * 1_000_000_000, type=pa.time64("ns"), mask=~real))


def _seconds_of_day(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HHMMSS integers as seconds since midnight, and True where they name a time of day."""
    hours, minutes, seconds = values // 10_000, values // 100 % 100, values % 100
    real = (hours >= 0) & (hours < 24) & (minutes < 60) & (seconds < 60)
    return (hours * 60 + minutes) * 60 + seconds, real


def digit_values(records: np.ndarray, field: Field) -> np.ndarray:
    """The integer in a `9` field of every record, from its digit bytes (twice as fast as polars'
    parse). A record whose field is not all digits gets a meaningless value: it is nulled as broken."""
    digits = records[:, field.offset : field.end]
    values = np.zeros(len(records), dtype=np.int64)
    for position in range(field.width):  # over the field's digit positions, never over records
        values *= 10
        values += digits[:, position]
    return values - ord("0") * ((10**field.width - 1) // 9)  # every digit was counted from "0", not 0


def digit_dates(records: np.ndarray, field: Field) -> tuple[np.ndarray, np.ndarray]:
    """A YYYYMMDD field of every record as days since 1970-01-01, and True where it names a real
    day (not for 00000000, year 0000, month 13 or 30 February, nor for bytes that are not digits).

    The four digit pairs of each date are looked up as two-byte words, then the year and the
    month-day in tables of numpy's own calendar (`_calendar_tables`).
    """
    pair_value, year_start, year_table, day_of_year = _calendar_tables()
    pairs = pair_value[np.ascontiguousarray(records[:, field.offset : field.end]).view("<u2")]
    year = pairs[:, 0] * 100 + pairs[:, 1]  # negative when a pair is not two digits
    month_day = pairs[:, 2] * 100 + pairs[:, 3]
    year = np.clip(year, 0, len(year_start) - 1, out=year)  # year 0 is no year: checked below
    day = day_of_year[year_table[year] + np.clip(month_day, 0, DAY_OF_YEAR_SIZE - 1)]
    real = (year >= 1) & (day >= 0)  # a month-day that is no day (or no digits) was clipped to one that is none
    return year_start[year] + day, real


DAY_OF_YEAR_SIZE = 1300  # month-days 0000–1299; none above 1231 is a day
NO_DIGITS = -(10**6)  # a pair that is not two digits: any sum it enters stays negative


@cache
def _calendar_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tables of `digit_dates`, from numpy's calendar: the value of each two-byte word of two
    digits (NO_DIGITS for any other word); days from 1970-01-01 to 1 January of each year 0–9999;
    where each year's month-days start in the last table (0 for a common year, DAY_OF_YEAR_SIZE
    for a leap year); the day of the year (from 0) of each MMDD in a common year, then in a leap
    year (−1 where no day)."""
    pair_value = np.full(65536, NO_DIGITS, dtype=np.int32)
    tens, ones = np.divmod(np.arange(100), 10)
    pair_value[(ord("0") + ones) << 8 | (ord("0") + tens)] = np.arange(100)  # little-endian: the tens byte first
    year_start = (np.arange(10001) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int32)
    year_table = np.where(np.diff(year_start) == 366, DAY_OF_YEAR_SIZE, 0).astype(np.int32)
    day_of_year = np.full(2 * DAY_OF_YEAR_SIZE, -1, dtype=np.int32)
    for table, year in enumerate((2001, 2000)):  # a common year, then a leap year
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
        months = days.astype("datetime64[M]")
        month_day = (months.astype(np.int64) % 12 + 1) * 100 + (days - months.astype("datetime64[D]")).astype(np.int64) + 1
        day_of_year[table * DAY_OF_YEAR_SIZE + month_day] = np.arange(len(days))
    return pair_value, year_start[:-1], year_table, day_of_year


def _binary_records(records: np.ndarray) -> pl.Series:
    # Rows read with their CR LF are contiguous, so the records become a column without a copy.
    width = records.shape[1]
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(records), [None, pa.py_buffer(np.ascontiguousarray(records))])
    return pl.Series(RECORD, array)


@cache
def _sliced(field: Field, filled: bool) -> pl.Expr:
    """The typed column of an ASCII field, cut from the records; a `filled` code is kept as it is.

    Built once per field: building polars expressions costs more than running some of them."""
    text = pl.col(RECORD).bin.slice(field.offset, field.width).cast(pl.String, strict=False)
    if field.is_digits:  # wider than Int64 holds: none in the layouts of SPEC §1
        return text.str.to_integer(strict=False).cast(pl.Int64).alias(field.name)
    if filled:
        return text.alias(field.name)
    return text.str.strip_chars_end(" ").replace("", None).alias(field.name)


def _with_impossible_values(problems: np.ndarray, frame: pl.DataFrame, records: np.ndarray, layout: Layout, extremes: ByteExtremes) -> np.ndarray:
    """`problems` with every date, time or timestamp whose sound digits name no real moment marked.

    Such a field parsed to null; so does an all-zero date or timestamp, which means "none" (an
    all-zero time is midnight, a real time). A field all zero in every record is left alone.
    """
    problems = problems.copy()
    for index, field in enumerate(layout.fields):
        zero_everywhere = (extremes.highest[field.offset : field.end] == ord("0")).all() and field.format != "time"
        if field.format not in IMPOSSIBLE or zero_everywhere or not frame[field.name].has_nulls():
            continue
        impossible = frame[field.name].is_null().to_numpy() & (problems[:, index] == SOUND)
        if field.format != "time" and impossible.any():
            impossible &= digit_values(records, field) != 0
        problems[impossible, index] = IMPOSSIBLE[field.format]
    return problems


def _nulled(frame: pl.DataFrame, problems: np.ndarray, layout: Layout) -> pl.DataFrame:
    """The frame with every broken field of every record set to null."""
    if not problems.any():
        return frame
    broken = problems != SOUND
    return frame.with_columns(
        pl.when(pl.Series(broken[:, index])).then(None).otherwise(pl.col(layout.fields[index].name)).alias(layout.fields[index].name)
        for index in np.flatnonzero(broken.any(axis=0))
    )


def _first_problems(problems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the index of its first broken field (−1 if none) and that field's reason."""
    if not problems.any():
        return np.full(len(problems), -1, dtype=np.int32), np.full(len(problems), SOUND, dtype=np.uint8)
    broken = problems != SOUND
    first = np.where(broken.any(axis=1), np.argmax(broken, axis=1), -1).astype(np.int32)
    reason = np.where(first >= 0, problems[np.arange(len(problems)), np.maximum(first, 0)], SOUND).astype(np.uint8)
    return first, reason


def valid_records(block: DecodedBlock) -> pl.DataFrame:
    """The records of a block whose every field kept to its type (the block's own frame, not a
    filtered copy, when none broke)."""
    broken = block.broken
    return block.frame.filter(pl.Series(~broken)) if broken.any() else block.frame


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
    """The records' bytes (terminators left out) as a Binary series, every secret field blanked to spaces."""
    kept = records[:, : layout.record_length].copy()
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
