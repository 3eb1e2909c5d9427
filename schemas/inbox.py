"""The inbox's file names (SPEC.md §1, CONTRACT.md): which kind a file is, from its name alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from schemas.codes import PaymentFileClass
from schemas.layouts import LayoutName


class FileKind(str, Enum):
    """The kinds of file the inbox holds, named by their file-name prefix."""

    PAYMENT_BY_DEPOSIT = "NOFU_NYUKIN"
    PAYMENT_BY_PAYMENT_DATE = "NOFU_NOFUBI"
    PROVISIONAL_BY_DEPOSIT = "KARI_NYUKIN"
    PROVISIONAL_BY_PAYMENT_DATE = "KARI_NOFUBI"
    MANAGEMENT = "KANRI"
    LINK_HISTORY = "HIMOZUKE"
    RECEIVABLES = "CHOTEI"
    BANK_CREDITS = "GINKO"

    @property
    def layout(self) -> LayoutName | None:
        """The record layout of this kind's data records; None for the CSV kinds."""
        return _LAYOUTS[self]

    @property
    def is_csv(self) -> bool:
        """True for the CSV kinds of CONTRACT's inbox: the receivables snapshot and the bank's credits."""
        return self in (FileKind.RECEIVABLES, FileKind.BANK_CREDITS)

    @property
    def has_control_records(self) -> bool:
        """True for the payment files, framed by header, trailer and end records."""
        return self.layout == LayoutName.PAYMENT

    @property
    def is_confirmation(self) -> bool:
        """True for the 入金日 (確報) sightings; the 納付日 files are 速報."""
        return self in (FileKind.PAYMENT_BY_DEPOSIT, FileKind.PROVISIONAL_BY_DEPOSIT)

    @property
    def payment_file_class(self) -> PaymentFileClass | None:
        """The header's ファイル種別 a payment file of this kind must carry."""
        return {
            FileKind.PAYMENT_BY_DEPOSIT: PaymentFileClass.BY_DEPOSIT_DATE,
            FileKind.PAYMENT_BY_PAYMENT_DATE: PaymentFileClass.BY_PAYMENT_DATE,
        }.get(self)


_LAYOUTS = {
    FileKind.PAYMENT_BY_DEPOSIT: LayoutName.PAYMENT,
    FileKind.PAYMENT_BY_PAYMENT_DATE: LayoutName.PAYMENT,
    FileKind.PROVISIONAL_BY_DEPOSIT: LayoutName.PROVISIONAL,
    FileKind.PROVISIONAL_BY_PAYMENT_DATE: LayoutName.PROVISIONAL,
    FileKind.MANAGEMENT: LayoutName.MANAGEMENT,
    FileKind.LINK_HISTORY: LayoutName.LINK_HISTORY,
    FileKind.RECEIVABLES: None,
    FileKind.BANK_CREDITS: None,
}

_NAME = re.compile(
    r"^(?P<kind>NOFU_NYUKIN|NOFU_NOFUBI|KARI_NYUKIN|KARI_NOFUBI|KANRI|HIMOZUKE|CHOTEI|GINKO)"
    r"_(?P<collector>\d{6})_(?P<date>\d{8})_(?P<delivery>\d{3})\.(?P<extension>dat|csv)$"
)


@dataclass(frozen=True)
class InboxName:
    """What a recognised file name says: kind, collector, settlement date and delivery number."""

    kind: FileKind
    collector_code: int
    settlement_date: date
    delivery_number: int

    def file_name(self) -> str:
        """The file name these parts make."""
        extension = "csv" if self.kind.is_csv else "dat"
        day = self.settlement_date.strftime("%Y%m%d")
        return f"{self.kind.value}_{self.collector_code:06d}_{day}_{self.delivery_number:03d}.{extension}"


def parse_inbox_name(name: str) -> InboxName | None:
    """The parts of a recognised inbox file name; None for any other name."""
    match = _NAME.match(name)
    if match is None:
        return None
    kind = FileKind(match["kind"])
    if (match["extension"] == "csv") != kind.is_csv:
        return None
    try:
        settlement_date = date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError:
        return None
    return InboxName(kind, int(match["collector"]), settlement_date, int(match["delivery"]))
