"""The run report's chart: receipts per settlement date by channel code and arrears by months past due, ASCII labels only."""

import polars as pl

from flows.charts import arrears_points, receipts_points, report_chart_spec


def test_receipts_points_leave_out_the_totals_and_name_channels_by_code():
    per_day = pl.DataFrame({"処理対象日": ["2026-05-12", "合計"], "01 ATM": [10, 10], "(なし)": [5, 5], "合計": [15, 15]})
    assert receipts_points(per_day) == [
        {"date": "2026-05-12", "channel": "01", "yen": 10},
        {"date": "2026-05-12", "channel": "none", "yen": 5},
    ]


def test_arrears_points_are_principal_and_late_fee_per_bucket_in_the_sheets_order():
    by_age = pl.DataFrame(
        {"aging_bucket": ["<1", "12+", "合計"], "receivables": [1, 2, 3], "principal_outstanding": [100, 200, 300], "late_fee": [0, 50, 50]}
    )
    points = arrears_points(by_age)
    assert [(point["months"], point["part"], point["yen"]) for point in points] == [
        ("<1 months", "principal", 100),
        ("12+ months", "principal", 200),
        ("<1 months", "late fee", 0),
        ("12+ months", "late fee", 50),
    ]
    spec = report_chart_spec(pl.DataFrame({"処理対象日": ["合計"], "合計": [0]}), by_age)
    assert spec["hconcat"][1]["encoding"]["x"]["sort"] == ["<1 months", "12+ months"]
    assert str(spec).isascii()
