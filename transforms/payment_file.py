"""The control records of a payment file (SPEC.md §1.1): reconcile them with the data, or make them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date

import numpy as np
import polars as pl

from schemas import codes
from schemas.layouts import Layout, PaymentFileLayouts
from transforms.fixed_width import decoded_block, records_bytes, valid_records
from transforms.framing import FileShape, RecordChunk, RejectedFile, check_terminators

HEADER_SEQUENCE, TRAILER_SEQUENCE, END_SEQUENCE = 0, 999_998, 999_999
SUMMED_AMOUNTS = {
    "paid_total_sum": "paid_total",
    "paid_principal_sum": "paid_principal",
    "paid_late_fee_sum": "paid_late_fee",
    "paid_consumption_tax_sum": "paid_consumption_tax",
}
RECORD_TYPE_OFFSET = 26


@dataclass(frozen=True)
class ControlTotals:
    """What a trailer declares: counts and yen sums over the data records (SPEC §1.1)."""

    data_count: int = 0
    paid_total_sum: int = 0
    paid_principal_sum: int = 0
    paid_late_fee_sum: int = 0
    paid_consumption_tax_sum: int = 0
    cancel_count: int = 0
    cancel_amount: int = 0

    def __add__(self, other: ControlTotals) -> ControlTotals:
        return ControlTotals(**{name: getattr(self, name) + getattr(other, name) for name in _TOTAL_NAMES})

    def as_dict(self) -> dict[str, int]:
        """The totals by trailer field name."""
        return asdict(self)


_TOTAL_NAMES = [field.name for field in fields(ControlTotals)]


def declared_totals(trailer: pl.DataFrame) -> ControlTotals:
    """What a payment file's trailer declares (equal to the data's once the file is read)."""
    row = trailer.row(0, named=True)
    return ControlTotals(**{name: row[name] for name in _TOTAL_NAMES})


def control_totals(frame: pl.DataFrame, layout: Layout) -> ControlTotals:
    """The trailer totals of decoded data records, invalid ones included (a broken field is null).

    A record whose amount is not digits leaves the file's totals unreconcilable: rejected whole.
    """
    amounts = list(SUMMED_AMOUNTS.values())
    if any(frame[name].has_nulls() for name in amounts):  # a column knows its null count: no pass over it
        row = frame.filter(pl.any_horizontal(pl.col(amounts).is_null())).row(0, named=True)
        field = next(name for name in amounts if row[name] is None)
        name_ja = layout.field(field).name_ja
        raise RejectedFile(f"record {row['record_number']}: {name_ja} is not digits, so the trailer totals cannot be reconciled")
    return frame_control_totals(frame)


def frame_control_totals(frame: pl.DataFrame) -> ControlTotals:
    """The trailer totals of typed data records, in one pass over the columns they need."""
    receipt_class = pl.col("receipt_class")
    receipt, cancel = receipt_class == codes.ReceiptClass.RECEIPT, receipt_class == codes.ReceiptClass.CANCELLATION
    totals = frame.select(
        *(pl.col(column).filter(receipt).sum().alias(total) for total, column in SUMMED_AMOUNTS.items()),
        cancel.sum().alias("cancel_count"),
        pl.col("paid_total").filter(cancel).sum().alias("cancel_amount"),
    ).row(0, named=True)
    return ControlTotals(data_count=frame.height, **{name: int(value) for name, value in totals.items()})


def check_record_types(record_types: np.ndarray, first_record_number: int, last_record_number: int) -> None:
    """Rejects control records out of place: header first, trailer next to last, end last."""
    expected = np.full(len(record_types), ord(codes.RECORD_TYPE_DATA), dtype=np.uint8)
    numbers = np.arange(first_record_number, first_record_number + len(record_types))
    expected[numbers == 1] = ord(codes.RECORD_TYPE_HEADER)
    expected[numbers == last_record_number - 1] = ord(codes.RECORD_TYPE_TRAILER)
    expected[numbers == last_record_number] = ord(codes.RECORD_TYPE_END)
    control = np.isin(record_types, [ord(c) for c in CONTROL_RECORD_TYPES]) | (expected != ord(codes.RECORD_TYPE_DATA))
    misplaced = control & (record_types != expected)
    if misplaced.any():
        # The last record first: a missing end record shifts the trailer into its place.
        row = len(numbers) - 1 if misplaced[-1] and numbers[-1] == last_record_number else int(np.argmax(misplaced))
        found, wanted = chr(record_types[row]), chr(expected[row])
        raise RejectedFile(f"record {numbers[row]}: データ区分 is {found!r} where {_RECORD_ROLE[wanted]} belongs")


CONTROL_RECORD_TYPES = (codes.RECORD_TYPE_HEADER, codes.RECORD_TYPE_TRAILER, codes.RECORD_TYPE_END)
_RECORD_ROLE = {
    codes.RECORD_TYPE_HEADER: "the header",
    codes.RECORD_TYPE_DATA: "a data record",
    codes.RECORD_TYPE_TRAILER: "the trailer",
    codes.RECORD_TYPE_END: "the end record",
}


@dataclass(frozen=True)
class HeaderExpectations:
    """What the file name and layout say the header must carry."""

    file_class: str
    settlement_date: date
    collector_code: int
    record_length: int


def check_header(header: pl.DataFrame, expected: HeaderExpectations) -> None:
    """Rejects a header that disagrees with the file name or layout (date, collector, length, kind)."""
    row = header.row(0, named=True)
    disagreements = [
        ("連番", row["sequence_number"], HEADER_SEQUENCE),
        ("ファイル種別", row["file_class"], expected.file_class),
        ("基準年月日", row["base_date"], expected.settlement_date),
        ("収納団体コード", row["collector_code"], expected.collector_code),
        ("レコード長", row["record_length"], expected.record_length),
        ("文字コード区分", row["charset_class"], "0"),
    ]
    for name, found, wanted in disagreements:
        if found != wanted:
            raise RejectedFile(f"record 1 (header): {name} is {found} where {wanted} is expected")


def check_trailer(trailer: pl.DataFrame, totals: ControlTotals, record_number: int) -> None:
    """Rejects a trailer whose count or sums differ from the data records'."""
    row = trailer.row(0, named=True)
    if row["sequence_number"] != TRAILER_SEQUENCE:
        raise RejectedFile(f"record {record_number} (trailer): 連番 is {row['sequence_number']} where {TRAILER_SEQUENCE} is expected")
    for name, found in totals.as_dict().items():
        if row[name] != found:
            raise RejectedFile(f"record {record_number} (trailer): {name} says {row[name]} but the data records give {found}")


def end_frame(layouts: PaymentFileLayouts) -> pl.DataFrame:
    """The end record: blank 共通納税ID, 連番 999999, データ区分 9, spaces."""
    values = {"common_tax_id": None, "sequence_number": END_SEQUENCE, "record_type": codes.RECORD_TYPE_END, "filler": None}
    return pl.DataFrame([values], schema=layouts.end.schema)


def check_end(end: pl.DataFrame, record_number: int) -> None:
    """Rejects an end record whose 連番 is not 999999."""
    if end["sequence_number"][0] != END_SEQUENCE:
        raise RejectedFile(f"record {record_number} (end): 連番 is {end['sequence_number'][0]} where {END_SEQUENCE} is expected")


def control_positions(record_count: int) -> tuple[int, int, int]:
    """0-based positions of the header, the trailer and the end record of a file of `record_count` records."""
    if record_count < 3:
        raise RejectedFile(f"{record_count} records: a payment file needs a header, a trailer and an end record")
    return 0, record_count - 2, record_count - 1


def data_positions(record_count: int) -> range:
    """0-based positions of a payment file's data records, between the header and the trailer."""
    return range(1, max(record_count - 2, 1))


def control_frame(record: RecordChunk, shape: FileShape, layout: Layout) -> pl.DataFrame:
    """A control record decoded by its layout; rejects one with a field that breaks its type."""
    decoded = decoded_block(record.rows(shape), layout, record.first_record_number)
    if decoded.broken.any():
        broken = layout.fields[int(decoded.problem_field[0])]
        raise RejectedFile(f"record {record.first_record_number}: control record field {broken.name_ja} breaks its type")
    return valid_records(decoded)


def checked_control_records(
    records: list[RecordChunk], shape: FileShape, layouts: PaymentFileLayouts, expected: HeaderExpectations
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The header and the trailer, from the header, trailer and end records at `control_positions`;
    rejects control records out of place, broken, or disagreeing with the file name and layout."""
    for record in records:
        check_terminators(record.data.tobytes(), shape.stride, shape.record_length, record.first_record_number)
    # The end record first: a missing end record shifts the trailer into its place.
    for record in reversed(records):
        check_record_types(record.rows(shape)[:, RECORD_TYPE_OFFSET], record.first_record_number, shape.record_count)
    header, trailer, end = (
        control_frame(record, shape, layout) for record, layout in zip(records, (layouts.header, layouts.trailer, layouts.end))
    )
    check_header(header, expected)
    check_end(end, shape.record_count)
    return header, trailer


def header_frame(values: dict, layouts: PaymentFileLayouts) -> pl.DataFrame:
    """The header record: 連番 000000, データ区分 1, the given values, the layout's record length."""
    fixed = {"common_tax_id": None, "sequence_number": HEADER_SEQUENCE, "record_type": codes.RECORD_TYPE_HEADER}
    defaults = {"charset_class": "0", "record_length": layouts.data.record_length, "filler": None}
    return pl.DataFrame([{**defaults, **values, **fixed}], schema=layouts.header.schema)


def trailer_frame(totals: ControlTotals, layouts: PaymentFileLayouts) -> pl.DataFrame:
    """The trailer record for data with these totals."""
    values = {
        "common_tax_id": None,
        "sequence_number": TRAILER_SEQUENCE,
        "record_type": codes.RECORD_TYPE_TRAILER,
        **totals.as_dict(),
        "filler": None,
    }
    return pl.DataFrame([values], schema=layouts.trailer.schema)


def payment_file_bytes(data: pl.DataFrame, header_values: dict, layouts: PaymentFileLayouts, crlf: bool) -> bytes:
    """A whole payment file: header, `data` records, a trailer with their totals, the end record."""
    data = data.with_columns(pl.lit(codes.RECORD_TYPE_DATA).alias("record_type"))
    parts = [
        records_bytes(header_frame(header_values, layouts), layouts.header, crlf),
        records_bytes(data.select(layouts.data.field_names), layouts.data, crlf),
        records_bytes(trailer_frame(frame_control_totals(data), layouts), layouts.trailer, crlf),
        records_bytes(end_frame(layouts), layouts.end, crlf),
    ]
    return b"".join(parts)
