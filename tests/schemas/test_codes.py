"""The code lists say what SPEC.md §5 and the layout tables say."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.codes import (
    PAYMENT_SCHEMES,
    REGISTRATION_CLASSES,
    DeleteFlag,
    LabelledCode,
    PaymentFileClass,
    PaymentStatus,
    RegistrationClass,
)
from schemas.layouts import LayoutName, load_layout


def _spelled(codes: type[LabelledCode]) -> str:
    return " / ".join(f"{member.value} {member.label}" for member in codes)


@pytest.mark.parametrize(
    ("layout", "field", "codes"),
    [(LayoutName.LINK_HISTORY, "registration_class", RegistrationClass), (LayoutName.PAYMENT_HEADER, "file_class", PaymentFileClass)],
)
def test_a_code_list_spells_what_its_layout_field_lists(layout, field, codes):
    assert load_layout(layout).field(field).note == _spelled(codes)


def test_the_withdrawing_delete_flag_is_the_one_the_layout_names():
    assert load_layout(LayoutName.PROVISIONAL).field("delete_next_run_flag").note.startswith(f"{DeleteFlag.DELETE_NEXT_RUN} = withdrawn")


def test_the_code_lists_records_are_checked_against_are_the_spec_lists():
    assert PAYMENT_SCHEMES == {"01": "MPN", "02": "eL-QR", "03": "ダイレクト"}
    assert REGISTRATION_CLASSES == {"1": "登録", "2": "変更", "9": "解除"}


def test_a_code_in_a_polars_literal_is_text_not_a_polars_enum():
    frame = pl.DataFrame({"status": ["applied", "held"]})
    found = frame.select(pl.lit(PaymentStatus.APPLIED).alias("code"), (pl.col("status") == PaymentStatus.APPLIED).alias("applied"))
    assert found.schema == pl.Schema({"code": pl.String(), "applied": pl.Boolean()})
    assert found["applied"].to_list() == [True, False]
