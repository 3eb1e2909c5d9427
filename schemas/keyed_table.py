"""CSV tables of one row per key, shipped as package data the city may replace with a file of its own."""

import csv
import io
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Row = TypeVar("Row")


@dataclass(frozen=True)
class KeyedCsvTable(Generic[Key, Row]):
    """How one keyed table reads: its header, its rows and keys, and the error that says what is wrong where."""

    name: str
    columns: tuple[str, ...]
    packaged: str
    error: type[ValueError]
    parsed_row: Callable[[list[str]], Row]
    key_of: Callable[[Row], Key]
    # The message for a key seen twice, the key formatted into its `{}`.
    repeated_key: str

    def parsed_rows(self, text: str, source: str) -> Mapping[Key, Row]:
        """The rows of CSV text by key, read-only; errors name `source`, the line and the column."""
        reader = csv.reader(io.StringIO(text))
        if tuple(next(reader, ())) != self.columns:
            raise self.error(f"{source}: header must be {','.join(self.columns)}")
        by_key: dict[Key, Row] = {}
        for line_number, fields in enumerate(reader, start=2):
            try:
                row = self.parsed_row(fields)
            except self.error as error:
                raise self.error(f"{source} line {line_number}: {error}") from None
            key = self.key_of(row)
            if key in by_key:
                raise self.error(f"{source} line {line_number}: {self.repeated_key.format(key)}")
            by_key[key] = row
        return MappingProxyType(by_key)

    def loaded_rows(self, path: Path | None = None) -> Mapping[Key, Row]:
        """The rows by key of the table in path, or of the one packaged with shuno."""
        if path is None:
            packaged = resources.files("schemas").joinpath(self.packaged).read_text("utf-8")
            return self.parsed_rows(packaged, f"packaged {self.packaged}")
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise self.error(f"{self.name} {path} cannot be read ({type(error).__name__})") from None
        return self.parsed_rows(text, f"{self.name} {path}")
