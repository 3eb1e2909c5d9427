"""The layout tables are the one place a width lives."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest
from pandera.errors import SchemaError, SchemaErrorReason

from schemas.layouts import LayoutError, LayoutName, layout_from_csv, load_layout, load_payment_file_layouts
from schemas.models import record_schema
from transforms.fixed_width import RECORD_NUMBER, decoded_block, encoded_block, valid_records
from tests.records import record_frame

SHIPPED = Path(__file__).resolve().parents[2] / "schemas" / "layouts"
SPEC_LENGTHS = {"payment": 700, "payment_header": 700, "payment_trailer": 700, "provisional": 541, "management": 1185, "link_history": 131}
SPEC_FIELD_COUNTS = {"payment": 70, "provisional": 50, "management": 102, "link_history": 13}


@pytest.mark.parametrize("name", list(LayoutName))
def test_shipped_tables_agree_with_their_derived_offsets(name):
    layout = load_layout(name)
    with (SHIPPED / f"{name.value}.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(int(row["start"]), int(row["end"])) for row in rows] == [(f.offset + 1, f.end) for f in layout.fields]
    assert layout.record_length == SPEC_LENGTHS[name.value]
    if name.value in SPEC_FIELD_COUNTS:
        assert len(layout.fields) == SPEC_FIELD_COUNTS[name.value]


def test_shrinking_one_row_changes_the_reader_writer_and_model(tmp_path):
    directory = tmp_path / "layouts"
    shutil.copytree(SHIPPED, directory)
    table = directory / "link_history.csv"
    text = table.read_text(encoding="utf-8").replace(
        "10,特定キー2,specific_key_2,X,code,20,89,108,", "10,特定キー2,specific_key_2,X,code,12,89,108,"
    )
    table.write_text(text, encoding="utf-8")
    layout = load_layout("link_history", directory)
    assert layout.record_length == 131 - 8
    assert layout.field("registration_class").offset == 108 - 8
    frame = record_frame("link_history", 2, specific_key_2=["K2", "twelve-bytes"])
    records = encoded_block(frame, layout)
    assert records.shape == (2, 123)
    decoded = valid_records(decoded_block(records, layout, 1))
    assert decoded.drop(RECORD_NUMBER).equals(frame)
    assert record_schema(layout).validate(decoded).height == 2


def test_a_table_with_an_odd_full_width_field_is_refused():
    text = "no,name_ja,field,type,format,bytes,start,end,note\n1,名前,name,K,text,3,1,3,\n"
    with pytest.raises(LayoutError, match="width 3 is not usable for type K"):
        layout_from_csv("broken", text)


def test_a_table_with_a_date_of_another_width_is_refused():
    text = "no,name_ja,field,type,format,bytes,start,end,note\n1,納付日,paid_on,9,date,6,1,6,\n"
    with pytest.raises(LayoutError, match="a date is 8 digits, not 6"):
        layout_from_csv("broken", text)


def test_header_trailer_and_data_share_one_length():
    layouts = load_payment_file_layouts()
    assert layouts.end.record_length == layouts.data.record_length == 700
    assert [field.name for field in layouts.end.fields[:3]] == ["common_tax_id", "sequence_number", "record_type"]


@pytest.mark.parametrize("name", ["payment", "provisional", "management", "link_history"])
def test_every_model_column_is_described_in_japanese(name):
    layout = load_layout(name)
    schema = record_schema(layout)
    assert list(schema.columns) == [RECORD_NUMBER, *layout.field_names]
    assert all(schema.columns[field.name].description == field.name_ja for field in layout.fields)
    assert schema.strict is True
    # Strict: a column the layout does not declare is refused by name, before any value is looked at.
    with pytest.raises(SchemaError, match="^column 'unexpected' not in DataFrameSchema") as refused:
        schema.validate(pl.DataFrame({"unexpected": [1]}))
    assert refused.value.reason_code == SchemaErrorReason.COLUMN_NOT_IN_SCHEMA
