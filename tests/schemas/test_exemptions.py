"""The 延滞金 exemption kinds of SPEC §6.1 as packaged data."""

from fractions import Fraction
from pathlib import Path

import pytest

from schemas.exemptions import (
    ExemptionKind,
    ExemptionsFileError,
    load_exemption_kinds,
    parse_exemption_kinds,
    parsed_fraction,
)

HEADER = "kind,fraction\n"
# SPEC §6.1, row by row: `reduction` takes the fraction each decision gives.
SPEC_TABLE = {
    "disaster": Fraction(1),
    "suspension": Fraction(1),
    "deferral": Fraction(1, 2),
    "realisation": Fraction(1, 2),
    "reduction": None,
}


def test_packaged_table_is_the_spec_table_row_by_row():
    kinds = load_exemption_kinds()
    assert dict(kinds.by_kind) == {kind: ExemptionKind(kind, fraction) for kind, fraction in SPEC_TABLE.items()}
    assert all(isinstance(kind.fraction, Fraction) for kind in kinds.by_kind.values() if kind.fraction is not None)


@pytest.mark.parametrize(("kind", "expected"), [(kind, fraction) for kind, fraction in SPEC_TABLE.items() if fraction])
def test_fraction_of_each_kind(kind, expected):
    assert load_exemption_kinds().fraction_of(kind) == expected
    # A decision may repeat the table's fraction, never contradict it.
    assert load_exemption_kinds().fraction_of(kind, expected) == expected


@pytest.mark.parametrize("given", [Fraction(1), Fraction(1, 2)])
def test_a_reduction_takes_the_fraction_of_its_decision(given):
    assert load_exemption_kinds().fraction_of("reduction", given) == given


@pytest.mark.parametrize(
    ("kind", "given", "reason"),
    [
        ("reduction", None, "needs the fraction the decision gives"),
        ("reduction", Fraction(1, 3), "1 or 1/2, got 1/3"),
        ("deferral", Fraction(1), "exempts 1/2, not 1"),
        ("amnesty", None, "unknown exemption kind 'amnesty'"),
    ],
)
def test_a_fraction_that_does_not_fit_the_kind_is_refused(kind, given, reason):
    with pytest.raises(ValueError, match=reason):
        load_exemption_kinds().fraction_of(kind, given)


@pytest.mark.parametrize(("text", "expected"), [("1", Fraction(1)), ("1/2", Fraction(1, 2))])
def test_parsed_fraction(text, expected):
    assert parsed_fraction(text) == expected


@pytest.mark.parametrize("text", ["0.5", "2/4", " 1", "1/3", "0", "3/2", "1/0", "", "half"])
def test_parsed_fraction_refuses_anything_but_1_and_1_2(text):
    with pytest.raises(ValueError, match="1 or 1/2"):
        parsed_fraction(text)


def test_a_table_from_a_given_path(tmp_path: Path):
    path = tmp_path / "exemptions.csv"
    path.write_text(HEADER + "disaster,1\nreduction,\n", encoding="utf-8")
    kinds = load_exemption_kinds(path)
    assert dict(kinds.by_kind) == {"disaster": ExemptionKind("disaster", Fraction(1)), "reduction": ExemptionKind("reduction", None)}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("kind,share\ndisaster,1\n", "header must be kind,fraction"),
        (HEADER + "disaster,1\ndeferral,0.5\n", "line 3: column fraction: an exempted fraction is 1 or 1/2, got '0.5'"),
        (HEADER + "disaster,1\ndisaster,1/2\n", "line 3: column kind: 'disaster' appears twice"),
        (HEADER + "Disaster Relief,1\n", "line 2: column kind: 'Disaster Relief' is not a lower-case name"),
        (HEADER + "disaster\n", "line 2: expected a kind and a fraction, got 1 columns"),
    ],
)
def test_a_bad_row_is_a_one_line_error_naming_file_line_and_column(tmp_path: Path, text, reason):
    path = tmp_path / "exemptions.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExemptionsFileError) as raised:
        load_exemption_kinds(path)
    message = str(raised.value)
    assert reason in message and str(path) in message and "\n" not in message


def test_an_unreadable_table_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(ExemptionsFileError, match="cannot be read \\(FileNotFoundError\\)"):
        load_exemption_kinds(tmp_path / "none.csv")


def test_parse_names_its_source():
    with pytest.raises(ExemptionsFileError, match="^city table line 2: "):
        parse_exemption_kinds(HEADER + "disaster,2\n", "city table")
