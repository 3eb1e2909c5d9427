"""The sample's byte-level anomalies: NEC-selected codes and the patches that damage a record."""

from datetime import date

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from sample_data.anomalies import record_patch, with_nec_selected_codes
from schemas.layouts import LayoutName, load_layout
from tests.records import record_frame
from transforms.fixed_width import decoded_block, encoded_block


def test_nec_selected_codes_change_the_bytes_not_the_text():
    layout = load_layout(LayoutName.PROVISIONAL)
    frame = record_frame(LayoutName.PROVISIONAL, 2, payer_name=["髙橋　﨑子", "佐藤　花子"], payer_address=["昭島市①髙﨑ハイツ", None])
    written = encoded_block(frame, layout)
    untouched = written.copy()
    nec_selected = with_nec_selected_codes(written, layout)
    np.testing.assert_array_equal(written, untouched)
    name = layout.field("payer_name")
    # The writer puts 髙 as IBM 0xFBFC and 﨑 as IBM 0xFAB1; the NEC-selected twins are 0xEEE0 and 0xED95.
    assert bytes(written[0, name.offset : name.end]).startswith(b"\xfb\xfc")
    assert bytes(nec_selected[0, name.offset : name.end]).startswith(b"\xee\xe0")
    assert b"\xfa\xb1" in bytes(written[0, name.offset : name.end])
    assert b"\xed\x95" in bytes(nec_selected[0, name.offset : name.end])
    assert_frame_equal(decoded_block(nec_selected, layout, 1).frame, decoded_block(written, layout, 1).frame)


def test_record_patch_places_each_anomaly_at_its_field():
    layout = load_layout(LayoutName.PAYMENT)
    patch = record_patch("impossible_date", 3, layout, date(2026, 5, 12))
    assert (patch.record, patch.offset, patch.value) == (3, layout.field("paid_on").offset, b"20260231")
    cut = record_patch("split_double_byte", 3, layout, date(2026, 5, 12))
    assert cut.offset == layout.field("payer_name_kana").end - 1


def test_record_patch_refuses_an_unknown_anomaly():
    with pytest.raises(ValueError, match="unknown anomaly"):
        record_patch("upside_down", 1, load_layout(LayoutName.PAYMENT), date(2026, 5, 12))
