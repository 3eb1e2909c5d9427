"""The 延滞金 exemption kinds of SPEC §6.1 and the fraction of 延滞金 each exempts, as data the city can change."""

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from operator import attrgetter
from pathlib import Path

from schemas.keyed_table import KeyedCsvTable

EXEMPTIONS_COLUMNS = ("kind", "fraction")
PACKAGED_EXEMPTIONS = "rates/exemptions.csv"
# SPEC §6.1 knows whole (全額免除) and half (2分の1免除) exemptions only; any other fraction is a
# typing error in the table, not a new rule of law.
ALLOWED_FRACTIONS = (Fraction(1), Fraction(1, 2))


class ExemptionsFileError(ValueError):
    """An exemption kinds table that cannot be read as one row per kind and its fraction."""


@dataclass(frozen=True)
class ExemptionKind:
    """One exemption kind and the fraction of 延滞金 it exempts; None when each decision gives it (`reduction`)."""

    kind: str
    fraction: Fraction | None


@dataclass(frozen=True)
class ExemptionKinds:
    """Every exemption kind the city recognises, by name."""

    by_kind: Mapping[str, ExemptionKind]

    def fraction_of(self, kind: str, given: Fraction | None = None) -> Fraction:
        """The fraction a period of kind exempts: the table's, or the one the decision gives when the table leaves it open."""
        if kind not in self.by_kind:
            raise ValueError(f"unknown exemption kind {kind!r}; known: {', '.join(self.by_kind)}")
        table_fraction = self.by_kind[kind].fraction
        if table_fraction is None and given is None:
            raise ValueError(f"exemption kind {kind!r} needs the fraction the decision gives (1 or 1/2)")
        if table_fraction is not None and given is not None and given != table_fraction:
            raise ValueError(f"exemption kind {kind!r} exempts {table_fraction}, not {given}")
        return checked_fraction(table_fraction if given is None else given)


def checked_fraction(fraction: Fraction) -> Fraction:
    """fraction itself when it is an allowed exempted fraction (1 or 1/2), else a ValueError."""
    if fraction not in ALLOWED_FRACTIONS:
        raise ValueError(f"an exempted fraction is 1 or 1/2, got {fraction}")
    return fraction


def parsed_fraction(text: str) -> Fraction:
    """An allowed exempted fraction from its text `1` or `1/2`, exact; a ValueError otherwise."""
    try:
        fraction = Fraction(text)
    except (ValueError, ZeroDivisionError):
        fraction = None
    # Only the canonical text: " 1", "2/4" or "0.5" in a decision or the table is a typing error.
    if fraction is None or str(fraction) != text or fraction not in ALLOWED_FRACTIONS:
        raise ValueError(f"an exempted fraction is 1 or 1/2, got {text!r}")
    return fraction


def parse_exemption_kinds(text: str, source: str = "exemption kinds table") -> ExemptionKinds:
    """The exemption kinds held in CSV text with the header EXEMPTIONS_COLUMNS; errors name `source`, the line and the column."""
    return ExemptionKinds(EXEMPTIONS_CSV.parsed_rows(text, source))


def load_exemption_kinds(path: Path | None = None) -> ExemptionKinds:
    """The exemption kinds table in path, or the one packaged with shuno."""
    return ExemptionKinds(EXEMPTIONS_CSV.loaded_rows(path))


def _exemption_kind(row: list[str]) -> ExemptionKind:
    """One row of the table, checked; an error names the column."""
    if len(row) != len(EXEMPTIONS_COLUMNS):
        raise ExemptionsFileError(f"expected a kind and a fraction, got {len(row)} columns")
    kind, fraction_text = row
    if not kind.isascii() or not kind.isidentifier() or not kind.islower():
        raise ExemptionsFileError(f"column kind: {kind!r} is not a lower-case name")
    if fraction_text == "":
        # Left open: each decision of this kind gives its own fraction (SPEC §6.1 `reduction`).
        return ExemptionKind(kind, None)
    try:
        return ExemptionKind(kind, parsed_fraction(fraction_text))
    except ValueError as error:
        raise ExemptionsFileError(f"column fraction: {error}") from None


EXEMPTIONS_CSV = KeyedCsvTable(
    "exemption kinds table", EXEMPTIONS_COLUMNS, PACKAGED_EXEMPTIONS, ExemptionsFileError,
    parsed_row=_exemption_kind, key_of=attrgetter("kind"), repeated_key="column kind: {!r} appears twice",
)
