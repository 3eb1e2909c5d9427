"""The byte scan (SPEC §8): no file shuno wrote for the sample holds a name, address, kana or 納付番号 of it, in UTF-8 or CP932.

Each file's bytes are searched for every value at once (Aho–Corasick, polars' contains_any, over the
bytes read as Latin-1, which maps each byte to one character). A failure names files and counts,
never a value.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from flows.database import connect, latest_completed_date
from flows.keys import KEY_FILE_VARIABLE
from flows.settlement import load_law_tables, rebuild_derived
from sample_data.names import SAMPLE_NAMES
from schemas.privacy import PERSONAL_FIELDS
from schemas.settings import Settings
from schemas.tables import stored_input_tables
from tests.databases import read_only_database
from transforms.rebuild import HISTORY_STEP

# Shorter values (a one-character name) would be met by chance in any binary file; so would a
# 6-digit 確認番号 among the copy's other numbers: digits are searched from the 16 of a 納付番号 down to 10.
SHORTEST_VALUE = 4
SHORTEST_NUMBER = 10


def _stored_values(database: Path) -> set[str]:
    """Every personal value the stored records hold (names, kana, addresses, 納付番号 …), stripped."""
    values: set[str] = set()
    with read_only_database(database) as connection:
        for table in stored_input_tables():
            for column in (name for name in table.column_names if name in PERSONAL_FIELDS):
                values |= {value.strip() for (value,) in connection.execute(f'SELECT DISTINCT "{column}" FROM "{table.name}"').fetchall() if value}
    return values


def _patterns(values: set[str]) -> list[str]:
    """Each value's UTF-8 and CP932 bytes, as Latin-1 text."""
    searched = {value for value in values if not value.isdigit() or len(value) >= SHORTEST_NUMBER}
    encoded = {value.encode("utf-8") for value in searched} | {value.encode("cp932", errors="ignore") for value in searched}
    return sorted({pattern.decode("latin-1") for pattern in encoded if len(pattern) >= SHORTEST_VALUE})


def _holding(paths: list[Path], patterns: list[str]) -> dict[str, int]:
    """The files whose bytes hold any pattern, with how many patterns each holds (names of files, never values)."""
    texts = pl.Series([path.read_bytes().decode("latin-1") for path in paths])
    held = texts.str.contains_any(patterns)
    return {path.name: len(set(texts[index:index + 1].str.extract_many(patterns).item())) for index, path in enumerate(paths) if held[index]}


def test_no_file_shuno_wrote_holds_a_personal_value_in_utf8_or_cp932(sample_nights):
    database = sample_nights.database_after()
    values = _stored_values(database) | {name for name in SAMPLE_NAMES}
    patterns = _patterns(values)
    assert len([value for value in values if value.isdigit() and len(value) == 16]) > 100  # the 納付番号 are among them
    # The scan sees what is there: the inbox the sample was read from holds the values in CP932.
    assert len(_holding(sorted(sample_nights.inbox.iterdir()), patterns)) > 3
    # The fixture's own copies of each night's database (after-<date>.duckdb) and of the inbox are the test's, not shuno's.
    ours = [path for path in database.parent.rglob("*") if path.name.startswith("after-") or path.is_relative_to(sample_nights.inbox)]
    written = [path for path in database.parent.rglob("*") if path.is_file() and path not in ours]
    written.append(Path(os.environ[KEY_FILE_VARIABLE]))
    names = {path.name for path in written}
    assert {"shuno.duckdb", "analyst.duckdb", "shuno.duckdb.lock"} <= names and any(path.parent.name == "backups" for path in written)
    assert _holding(written, patterns) == {}


def test_the_rebuild_in_parts_spills_no_personal_value(sample_nights, tmp_path):
    database = sample_nights.copy_after(sample_nights.dates[-1], tmp_path / "shuno.duckdb")
    patterns = _patterns(_stored_values(database))
    spilled: list[Path] = []

    @contextmanager
    def scan_when_every_kind_is_spilled(name: str):
        # By history's step every kind is spilled: the stored tables split, receivables, matched payments, each part's tables and ledger.
        if name == HISTORY_STEP:
            spilled.extend(path for path in tmp_path.rglob("*") if path.is_file() and path.name != "shuno.duckdb")
            assert _holding(spilled, patterns) == {}
        yield

    settings = Settings(rebuild_partitions=2)
    with connect(database) as connection:
        connection.begin()
        rebuild_derived(connection, latest_completed_date(connection), load_law_tables(settings), settings, scan_when_every_kind_is_spilled)
        connection.rollback()
    assert {".parquet", ".arrow"} <= {path.suffix for path in spilled} and len(spilled) > 20
