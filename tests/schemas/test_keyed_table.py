"""CSV tables of one row per key, read as schemas/rates.py and schemas/exemptions.py read theirs."""

from pathlib import Path

import pytest

from schemas.keyed_table import KeyedCsvTable


class ColourError(ValueError):
    """A colours table that cannot be read."""


def _colour(fields: list[str]) -> tuple[str, int]:
    """A name and its number; an error names the column."""
    if len(fields) != 2 or not fields[1].isdigit():
        raise ColourError(f"column number: {fields[-1]!r} is not a number")
    return fields[0], int(fields[1])


COLOURS_CSV = KeyedCsvTable(
    name="colours table",
    columns=("name", "number"),
    packaged="rates/none.csv",
    error=ColourError,
    parsed_row=_colour,
    key_of=lambda row: row[0],
    repeated_key="column name: {!r} appears twice",
)


def test_parsed_rows_by_key_cannot_be_changed():
    rows = COLOURS_CSV.parsed_rows("name,number\nred,1\nblue,2\n", "colours")
    assert dict(rows) == {"red": ("red", 1), "blue": ("blue", 2)}
    with pytest.raises(TypeError):
        rows["green"] = ("green", 3)  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour,number\nred,1\n", "colours: header must be name,number"),
        ("name,number\nred,1\nblue,x\n", "colours line 3: column number: 'x' is not a number"),
        ("name,number\nred,1\nred,2\n", "colours line 3: column name: 'red' appears twice"),
    ],
)
def test_a_bad_table_is_the_tables_own_error_naming_source_line_and_column(text, message):
    with pytest.raises(ColourError) as refused:
        COLOURS_CSV.parsed_rows(text, "colours")
    assert str(refused.value) == message


def test_loaded_rows_of_a_given_file_name_it_in_errors(tmp_path: Path):
    path = tmp_path / "colours.csv"
    path.write_text("name,number\nred,1\n", encoding="utf-8")
    assert dict(COLOURS_CSV.loaded_rows(path)) == {"red": ("red", 1)}
    path.write_text("name,number\nred,one\n", encoding="utf-8")
    with pytest.raises(ColourError) as refused:
        COLOURS_CSV.loaded_rows(path)
    assert str(refused.value).startswith(f"colours table {path} line 2: ")


def test_a_file_that_cannot_be_read_is_a_one_line_error_naming_it(tmp_path: Path):
    missing = tmp_path / "none.csv"
    with pytest.raises(ColourError) as refused:
        COLOURS_CSV.loaded_rows(missing)
    assert str(refused.value) == f"colours table {missing} cannot be read (FileNotFoundError)"
