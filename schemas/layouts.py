"""The byte layouts of the 納付情報 files, loaded from the spec's tables in `schemas/layouts/`.

These CSV files are the only place a width lives. Offsets are derived from the `bytes` column in
row order, so changing a width is an edit of one row; `start` and `end` are documentation (a test
checks the shipped tables agree with the derived offsets).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

FIELD_TYPES = {"9", "X", "K"}
FIELD_FORMATS = {"date", "time", "timestamp", "amount", "number", "code", "kana", "text", "filler"}
FORMAT_WIDTHS = {"date": 8, "time": 6, "timestamp": 14}  # YYYYMMDD, HHMMSS, YYYYMMDDHHMMSS
LAYOUT_COLUMNS = ("no", "name_ja", "field", "type", "format", "bytes", "start", "end", "note")


class LayoutName(str, Enum):
    """The record layouts of SPEC.md §1, named after their table file."""

    PAYMENT = "payment"
    PAYMENT_HEADER = "payment_header"
    PAYMENT_TRAILER = "payment_trailer"
    PROVISIONAL = "provisional"
    MANAGEMENT = "management"
    LINK_HISTORY = "link_history"


@dataclass(frozen=True)
class Field:
    """One field of a fixed-width record: where its bytes lie and how they are typed."""

    number: int
    name_ja: str
    name: str
    type: str
    format: str
    width: int
    offset: int
    note: str

    @property
    def end(self) -> int:
        """Byte offset just past the field."""
        return self.offset + self.width

    @property
    def is_digits(self) -> bool:
        """True for a `9` field: half-width digits, zero-filled."""
        return self.type == "9"

    @property
    def needs_cp932(self) -> bool:
        """True for the fields decoded as CP932: full-width `K` and half-width kana `X`."""
        return self.type == "K" or self.format == "kana"

    @property
    def polars_dtype(self) -> pl.DataType:
        """The column type the reader gives this field."""
        if not self.is_digits:
            return pl.String()
        return {
            "date": pl.Date(),
            "time": pl.Time(),
            "timestamp": pl.Datetime("us"),
        }.get(self.format, pl.Int64())


@dataclass(frozen=True)
class Layout:
    """A record layout: its fields in order and the record length they add up to."""

    name: str
    fields: tuple[Field, ...]

    @property
    def record_length(self) -> int:
        """Bytes of one record, without a terminator."""
        return sum(field.width for field in self.fields)

    @property
    def field_names(self) -> list[str]:
        """Column names, in record order."""
        return [field.name for field in self.fields]

    @property
    def schema(self) -> pl.Schema:
        """The polars schema of the frame the reader returns (without `record_number`)."""
        return pl.Schema({field.name: field.polars_dtype for field in self.fields})

    def subset(self, names: list[str]) -> Layout:
        """A layout of just the fields `names`, each keeping its offset (for reading a few fields)."""
        return Layout(name=self.name, fields=tuple(self.field(name) for name in names))

    def field(self, name: str) -> Field:
        """The field called `name`."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"layout {self.name} has no field {name!r}")


class LayoutError(ValueError):
    """A layout table that cannot describe a record."""


def layout_from_csv(name: str, text: str) -> Layout:
    """A Layout from the text of one layout table, offsets derived from the widths."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or tuple(rows[0].keys()) != LAYOUT_COLUMNS:
        raise LayoutError(f"layout {name}: expected columns {','.join(LAYOUT_COLUMNS)}")
    fields: list[Field] = []
    offset = 0
    for row in rows:
        field = _field_from_row(name, row, offset)
        fields.append(field)
        offset = field.end
    names = [field.name for field in fields]
    if len(set(names)) != len(names):
        raise LayoutError(f"layout {name}: field names repeat")
    return Layout(name=name, fields=tuple(fields))


def _field_from_row(layout_name: str, row: dict[str, str], offset: int) -> Field:
    where = f"layout {layout_name}, row {row['no']} ({row['field']})"
    if row["type"] not in FIELD_TYPES or row["format"] not in FIELD_FORMATS:
        raise LayoutError(f"{where}: unknown type {row['type']!r} or format {row['format']!r}")
    width = int(row["bytes"])
    if width <= 0 or (row["type"] == "K" and width % 2):
        raise LayoutError(f"{where}: width {width} is not usable for type {row['type']}")
    if FORMAT_WIDTHS.get(row["format"], width) != width:
        raise LayoutError(f"{where}: a {row['format']} is {FORMAT_WIDTHS[row['format']]} digits, not {width}")
    return Field(
        number=int(row["no"]),
        name_ja=row["name_ja"],
        name=row["field"],
        type=row["type"],
        format=row["format"],
        width=width,
        offset=offset,
        note=row["note"],
    )


def load_layout(name: LayoutName | str, directory: Path | None = None) -> Layout:
    """The layout `name`, from `directory` or, by default, the tables shipped in the package."""
    name = LayoutName(name).value
    if directory is not None:
        return layout_from_csv(name, (directory / f"{name}.csv").read_text(encoding="utf-8"))
    return _packaged_layout(name)


@cache
def _packaged_layout(name: str) -> Layout:
    text = resources.files("schemas").joinpath("layouts", f"{name}.csv").read_text(encoding="utf-8")
    return layout_from_csv(name, text)


@dataclass(frozen=True)
class PaymentFileLayouts:
    """The three record layouts of a payment file (data, header, trailer) sharing one length."""

    data: Layout
    header: Layout
    trailer: Layout

    def __post_init__(self) -> None:
        lengths = {self.data.record_length, self.header.record_length, self.trailer.record_length}
        if len(lengths) != 1:
            raise LayoutError(f"payment, header and trailer lengths differ: {sorted(lengths)}")

    @property
    def end(self) -> Layout:
        """The end record: the data layout's 共通納税ID, 連番 and データ区分, then spaces (SPEC §1.1)."""
        identity = self.data.fields[:3]
        rest = self.data.record_length - identity[-1].end
        filler = Field(len(identity) + 1, "ダミー", "filler", "X", "filler", rest, identity[-1].end, "spaces")
        return Layout(name="payment_end", fields=(*identity, filler))


def load_payment_file_layouts(directory: Path | None = None) -> PaymentFileLayouts:
    """The payment file's data, header and trailer layouts."""
    return PaymentFileLayouts(
        data=load_layout(LayoutName.PAYMENT, directory),
        header=load_layout(LayoutName.PAYMENT_HEADER, directory),
        trailer=load_layout(LayoutName.PAYMENT_TRAILER, directory),
    )
