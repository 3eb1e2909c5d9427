"""`shuno export NAME`: one table or view of the analyst copy as CSV, Parquet or xlsx (CONTRACT v2).

The copy (`analyst.duckdb` beside `--db`) is opened read-only, so an export never blocks another
analyst nor the publish. Codes stay text in every format: `010` keeps its zero (VARCHAR columns
are strings in the CSV, Parquet strings, and text cells in the workbook). `--headers ja` names
the columns by their Japanese COMMENTs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from flows.database import DEFAULT_DATABASE
from flows.settings_option import DatabaseOption
from flows.settlement import analyst_copy_path

CANNOT_EXPORT_EXIT_CODE = 1
NAMES = """
SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
"""
COLUMN_COMMENTS = """
SELECT column_name, comment FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
ORDER BY column_index
"""
# A worksheet holds 1,048,576 rows, the header one of them.
XLSX_MAX_ROWS = 1_048_575
# openpyxl's type code of a text cell: set on every string, so that a value starting with `=` is
# shown as written, never run as a formula.
TEXT_CELL = "s"


class ExportFormat(StrEnum):
    """The formats `shuno export` writes."""

    CSV = "csv"
    PARQUET = "parquet"
    XLSX = "xlsx"


class HeaderStyle(StrEnum):
    """Column headers: the column names, or their Japanese COMMENTs."""

    NAMES = "names"
    JA = "ja"


class ExportRefused(Exception):
    """The export cannot be made (no copy, no such table or view, too many rows for xlsx); the message is one line."""


def export(
    name: Annotated[str, typer.Argument(help="a table or view of the analyst copy (e.g. arrears, codes, receipts_by_day_and_channel)")],
    output_format: Annotated[ExportFormat, typer.Option("--format", help="csv (UTF-8 with a BOM), parquet or xlsx")],
    out: Annotated[Path, typer.Option("--out", help="file to write")],
    headers: Annotated[HeaderStyle, typer.Option("--headers", help="ja: the Japanese COMMENTs as headers")] = HeaderStyle.NAMES,
    db: DatabaseOption = DEFAULT_DATABASE,
) -> None:
    """Writes one table or view of the analyst copy (beside --db) to --out; codes stay text."""
    try:
        table = analyst_table(analyst_copy_path(db), name, headers)
        write_export(table, output_format, out)
    except ExportRefused as error:
        typer.echo(f"shuno export: {error}", err=True)
        raise typer.Exit(CANNOT_EXPORT_EXIT_CODE) from None
    typer.echo(f"{table.num_rows} rows of {name} written to {out}")


def analyst_table(copy: Path, name: str, headers: HeaderStyle) -> pa.Table:
    """The rows of table or view `name` of the analyst copy, headed by column names or their COMMENTs."""
    if not copy.is_file():
        raise ExportRefused(f"no analyst copy {copy}: it is published by `shuno run`")
    try:
        with duckdb.connect(str(copy), read_only=True) as connection:
            if name not in {found for (found,) in connection.execute(NAMES).fetchall()}:
                raise ExportRefused(f"the analyst copy has no table or view {name!r}")
            comments = connection.execute(COLUMN_COMMENTS, [name]).fetchall()
            # The name is one of the copy's own, checked above; quoted for names DuckDB would read otherwise.
            # Sorted: DuckDB stores the derived tables in its own order (flows.database.replace_rows),
            # and an analyst exporting the same table twice should get the same file.
            table = connection.sql(f'SELECT * FROM "{name}" ORDER BY ALL').arrow().read_all()
    except (duckdb.IOException, duckdb.ConnectionException) as error:
        raise ExportRefused(f"cannot read {copy}: {str(error).splitlines()[0]}") from None
    return table.rename_columns(header_names(comments)) if headers is HeaderStyle.JA else table


def header_names(comments: list[tuple[str, str | None]]) -> list[str]:
    """Each column's COMMENT (its name when it has none); a COMMENT two columns share is followed by the column's name."""
    texts = [comment or column for column, comment in comments]
    return [text if texts.count(text) == 1 or text == column else f"{text} ({column})" for text, (column, _) in zip(texts, comments, strict=True)]


def write_export(table: pa.Table, output_format: ExportFormat, out: Path) -> None:
    """Writes `table` to `out` in `output_format`; a file that cannot be written is refused in one line."""
    try:
        WRITERS[output_format](table, out)
    except OSError as error:
        raise ExportRefused(f"cannot write {out}: {error.strerror or type(error).__name__}") from None


def write_csv(table: pa.Table, out: Path) -> None:
    """CSV in UTF-8 with a byte-order mark (Excel reads Shift_JIS without one); strings written as they are."""
    pl.from_arrow(table).write_csv(out, include_bom=True)


def write_parquet(table: pa.Table, out: Path) -> None:
    """Parquet with the copy's types (strings stay strings)."""
    pq.write_table(table, out)


def write_xlsx(table: pa.Table, out: Path) -> None:
    """One worksheet: the header row, then the rows; every string a text cell, so codes keep their zeros."""
    if table.num_rows > XLSX_MAX_ROWS:
        raise ExportRefused(f"{table.num_rows} rows do not fit in one xlsx worksheet ({XLSX_MAX_ROWS}): export csv or parquet")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([_cell(sheet, header) for header in table.column_names])
    for batch in table.to_batches():
        for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
            sheet.append([_cell(sheet, value) for value in row])
    workbook.save(out)


def _cell(sheet, value: object) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str):
        cell.data_type = TEXT_CELL
    return cell


WRITERS = {ExportFormat.CSV: write_csv, ExportFormat.PARQUET: write_parquet, ExportFormat.XLSX: write_xlsx}
