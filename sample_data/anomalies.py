"""The byte-level anomalies of the sample: damaged records and files no writer produces.

An impossible date, a half-width byte in a `K` field and a cut double-byte character are patched
into written records at offsets from the layouts; a re-delivered file, a file whose trailer
miscounts (numbered 003: 002 never comes) and a 納付日 file of the business day before the first
date, rejected whole, are added to the inbox; the 仮登録 files carry 髙 as the
NEC-selected 0xEEE0 where the writer puts the IBM extension 0xFBFC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from functools import cache

import numpy as np
import polars as pl

from sample_data.common import BytePatch, SampleFile, inbox_file_name, previous_business_day
from schemas.inbox import FileKind
from schemas.layouts import Layout, load_payment_file_layouts
from transforms import text_codec
from transforms.fixed_width import encoded_field

# The files delivered with a twist: (kind, index of the settlement date).
REDELIVERED_FILE = (FileKind.PAYMENT_BY_PAYMENT_DATE, 1)  # delivered again as 002 with a new header
REJECTED_FILE = (FileKind.PAYMENT_BY_DEPOSIT, 2)  # an extra file whose trailer miscounts
# Numbered 003: delivery 002 never comes, the gap in delivery numbers SPEC §7 names.
REJECTED_FILE_DELIVERY = 3
REJECTED_FILE_RECORDS = 3
# The business day before the first date brings only a 納付日 file, rejected whole (its trailer
# miscounts): its 納付日 delivery is rejected and its 入金日 delivery missing (SPEC §7).
EARLY_REJECTED_KIND = FileKind.PAYMENT_BY_PAYMENT_DATE
CRLF_FILE = (FileKind.PAYMENT_BY_DEPOSIT, 1)  # the one file whose records end in CR LF
# The writer, like Windows, writes 髙 as the IBM extension 0xFBFC; the legacy system sending the
# 仮登録 exports writes the NEC-selected 0xEEE0, as Python's codec does. Both decode to 髙.
NEC_SELECTED_KINDS = (FileKind.PROVISIONAL_BY_PAYMENT_DATE, FileKind.PROVISIONAL_BY_DEPOSIT)


def record_patch(anomaly: str, record: int, layout: Layout, paid_on: date) -> BytePatch:
    """The bytes of one planted anomaly over a record; each makes the record invalid (SPEC §1)."""
    if anomaly == "impossible_date":
        return BytePatch(record, layout.field("paid_on").offset, f"{paid_on.year:04d}0231".encode("ascii"))
    if anomaly == "half_width_in_full_width":
        return BytePatch(record, layout.field("payer_name").offset, "ｱｲ".encode("cp932"))
    if anomaly == "split_double_byte":
        # The lead byte of a double-byte character whose trail byte fell outside the field.
        return BytePatch(record, layout.field("payer_name_kana").end - 1, "あ".encode("cp932")[:1])
    raise ValueError(f"unknown anomaly {anomaly!r}")


def twisted_files(files: list[SampleFile], dates: tuple[date, ...]) -> list[SampleFile]:
    """The re-delivered file, the file rejected whole, and the rejected file of the business day before the first date."""
    by_name = {file.name: file for file in files}
    kind, index = REDELIVERED_FILE
    original = by_name[inbox_file_name(kind, dates[index])]
    new_header = original.header | {"created_at": time(6, 45), "file_serial": 2}
    redelivered = replace(original, name=inbox_file_name(kind, dates[index], 2), header=new_header)
    kind, index = REJECTED_FILE
    rejected = _miscounted(by_name[inbox_file_name(kind, dates[index])], inbox_file_name(kind, dates[index], REJECTED_FILE_DELIVERY), dates[index])
    rejected = replace(rejected, header=rejected.header | {"created_at": time(7, 10), "file_serial": REJECTED_FILE_DELIVERY})
    early_day = previous_business_day(dates[0])
    early = _miscounted(by_name[inbox_file_name(EARLY_REJECTED_KIND, dates[0])], inbox_file_name(EARLY_REJECTED_KIND, early_day), early_day)
    return [redelivered, rejected, early]


def _miscounted(original: SampleFile, name: str, day: date) -> SampleFile:
    """A payment file named `name` for `day` with the first records of `original` and a trailer that counts one more: rejected whole."""
    records = original.records.head(REJECTED_FILE_RECORDS)
    count = load_payment_file_layouts().trailer.field("data_count")
    miscount = BytePatch(-2, count.offset, encoded_field(pl.Series([records.height + 1]), count).tobytes())
    header = original.header | {"base_date": day, "created_on": day}
    return replace(original, name=name, records=records, header=header, crlf=False, patches=(miscount,))


def with_nec_selected_codes(records: np.ndarray, layout: Layout) -> np.ndarray:
    """The records with each IBM extension code of their K fields (髙 0xFBFC) as its NEC-selected twin (0xEEE0)."""
    changed = records.copy()
    table = _nec_selected_table()
    for layout_field in layout.fields:
        if layout_field.type == "K":
            text = changed[:, layout_field.offset : layout_field.end]
            units = table[text[:, 0::2].astype(np.uint16) << 8 | text[:, 1::2]]
            text[:, 0::2], text[:, 1::2] = units >> 8, units & 0xFF
    return changed


@cache
def _nec_selected_table() -> np.ndarray:
    """Each two-byte code mapped to itself, except IBM extension codes, mapped to their NEC-selected twin."""
    table = np.arange(65536, dtype=np.uint16)
    for character, ibm in text_codec.ibm_extension_bytes().items():
        nec_selected = character.encode("cp932")  # Python's codec prefers the NEC-selected code
        table[int.from_bytes(ibm, "big")] = int.from_bytes(nec_selected, "big")
    return table


def damaged_bytes(content: bytes, file: SampleFile, layout: Layout, data_rows: slice) -> bytes:
    """The written bytes of `file` with what no writer produces: its NEC-selected codes and its byte patches."""
    if not (file.nec_selected or file.patches):
        return content
    records = np.frombuffer(content, dtype=np.uint8).reshape(-1, layout.record_length + 2 * file.crlf).copy()
    if file.nec_selected:
        records[data_rows] = with_nec_selected_codes(records[data_rows], layout)
    for patch in file.patches:
        records[patch.record, patch.offset : patch.offset + len(patch.value)] = np.frombuffer(patch.value, dtype=np.uint8)
    return records.tobytes()
