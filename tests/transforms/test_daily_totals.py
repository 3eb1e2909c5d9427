"""The day's figures: 税目 × チャネル cross tables, yen per settlement date and channel, 合計 rows, a run's stored counts."""

import json
from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from transforms.daily_totals import receipts_by_day_and_channel, receipts_by_tax_and_channel, run_outcome_rows, with_total_row

TAXES = {"010": "市民税", "040": "固定資産税"}
CHANNELS = {"01": "ATM", "07": "ダイレクト納付"}


def test_receipts_cross_tax_codes_and_channels_with_a_total_row_and_column():
    receipts = pl.DataFrame(
        {
            "tax_code": ["040", "010", None, "010"],
            "channel_class": ["07", "01", "07", None],
            "payments": [3, 1, 1, 2],
            "yen": [300, 100, 50, 20],
        }
    )
    expected = pl.DataFrame(
        {
            "税目": ["010 市民税", "040 固定資産税", "未消込", "合計"],
            "件数": [3, 3, 1, 7],
            "01 ATM": [100, 0, 0, 100],
            "07 ダイレクト納付": [0, 300, 50, 350],
            "(なし)": [20, 0, 0, 20],
            "合計": [120, 300, 50, 470],
        }
    )
    assert_frame_equal(receipts_by_tax_and_channel(receipts, TAXES, CHANNELS), expected)


def test_no_receipts_is_a_total_row_of_nothing():
    receipts = pl.DataFrame(schema={"tax_code": pl.String, "channel_class": pl.String, "payments": pl.Int64, "yen": pl.Int64})
    assert_frame_equal(receipts_by_tax_and_channel(receipts, TAXES, CHANNELS), pl.DataFrame({"税目": ["合計"], "件数": [0], "合計": [0]}))


def test_every_settlement_date_is_a_row_even_with_nothing_received_and_other_dates_are_left_out():
    receipts = pl.DataFrame({"day": [date(2026, 5, 11), date(2026, 5, 13), date(2026, 5, 1)], "channel_class": ["01", "01", "07"], "yen": [10, 30, 999]})
    found = receipts_by_day_and_channel(receipts, [date(2026, 5, 11), date(2026, 5, 12), date(2026, 5, 13)], CHANNELS)
    expected = pl.DataFrame({"処理対象日": ["2026-05-11", "2026-05-12", "2026-05-13", "合計"], "01 ATM": [10, 0, 30, 40], "合計": [10, 0, 30, 40]})
    assert_frame_equal(found, expected)


def test_the_total_row_sums_number_columns_and_takes_the_largest_of_the_named_ones():
    frame = pl.DataFrame({"status": ["pending", "held"], "payments": [2, 1], "oldest": [3, 12]})
    expected = pl.DataFrame({"status": ["pending", "held", "合計"], "payments": [2, 1, 3], "oldest": [3, 12, 12]})
    assert_frame_equal(with_total_row(frame, "status", largest=("oldest",)), expected)


def test_a_runs_stored_outcomes_become_rows_and_no_run_none():
    summary = {"as_of": "2026-05-13", "outcomes": {"arrears": {"receivables": 3, "late fee yen": 1200}}}
    found = run_outcome_rows(pl.DataFrame({"summary": [json.dumps(summary)]}))
    assert found.rows() == [("arrears", "receivables", 3), ("arrears", "late fee yen", 1200)]
    assert run_outcome_rows(pl.DataFrame(schema={"summary": pl.String})).is_empty()
