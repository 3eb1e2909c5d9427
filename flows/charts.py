"""The run report's picture: receipts per settlement date by channel, and arrears by months past the 納期限.

A Vega-Lite chart rendered to PNG in this process by vl-convert (its own JavaScript engine, no
network, no browser), from the rows of the workbook's sheets. The labels are codes, dates and
ASCII words: a PNG is drawn with the fonts of the machine that renders it, and a batch server may
have no Japanese font. The chart holds sums only.
"""

from __future__ import annotations

import base64
import json

import polars as pl
import vl_convert

from transforms.daily_totals import NO_CHANNEL, TOTAL

RECEIPTS_TITLE = "receipts (yen) per settlement date by channel code"
ARREARS_TITLE = "arrears (yen) by months past due"
ALT_TEXT = "receipts per settlement date by channel, and arrears by months past due"
# The arrears parts shown, by their sheet column.
ARREARS_PARTS = {"principal_outstanding": "principal", "late_fee": "late fee"}
# One pixel a unit: the PNG travels inside the artifact's text (about 100 kB as base64).
PIXELS_PER_UNIT = 1


def receipts_points(per_day: pl.DataFrame) -> list[dict[str, object]]:
    """The yen of each settlement date and channel of the per-day sheet (its 合計 row and column left out), channel as its code."""
    channels = [name for name in per_day.columns[1:] if name != TOTAL]
    long = per_day.filter(pl.col(per_day.columns[0]) != TOTAL).unpivot(channels, index=per_day.columns[0], variable_name="channel", value_name="yen")
    # A channel column is headed `code name`; the code is what every font can draw.
    code = pl.when(pl.col("channel") == NO_CHANNEL).then(pl.lit("none")).otherwise(pl.col("channel").str.split(" ").list.first())
    return long.select(pl.col(per_day.columns[0]).alias("date"), code.alias("channel"), "yen").to_dicts()


def arrears_points(by_age: pl.DataFrame) -> list[dict[str, object]]:
    """The yen of each aging bucket and part (principal, late fee) of the aging sheet, its 合計 row left out."""
    long = by_age.filter(pl.col("aging_bucket") != TOTAL).unpivot(list(ARREARS_PARTS), index="aging_bucket", variable_name="part", value_name="yen")
    return long.with_columns(pl.col("part").replace(ARREARS_PARTS), pl.concat_str(pl.col("aging_bucket"), pl.lit(" months")).alias("months")).to_dicts()


def _stacked_bars(title: str, points: list[dict[str, object]], x: str, x_title: str, color: str, order: list[str] | None = None) -> dict:
    return {
        "title": title,
        "data": {"values": points},
        "mark": "bar",
        "encoding": {
            "x": {"field": x, "type": "ordinal", "title": x_title, "sort": order},
            "y": {"field": "yen", "type": "quantitative", "title": "yen", "stack": True},
            "color": {"field": color, "type": "nominal"},
        },
        "width": 360,
        "height": 220,
    }


def report_chart_spec(per_day: pl.DataFrame, by_age: pl.DataFrame) -> dict:
    """The Vega-Lite spec of the two charts side by side."""
    arrears = arrears_points(by_age)
    order = list(dict.fromkeys(point["months"] for point in arrears))
    return {
        "hconcat": [
            _stacked_bars(RECEIPTS_TITLE, receipts_points(per_day), "date", "settlement date", "channel"),
            _stacked_bars(ARREARS_TITLE, arrears, "months", "months past due", "part", order),
        ],
        # Channels and arrears parts are two legends, not one.
        "resolve": {"scale": {"color": "independent"}},
    }


def report_chart_markdown(per_day: pl.DataFrame, by_age: pl.DataFrame) -> str:
    """The chart as a Markdown image whose PNG is inside the text (a data URI): the artifact links to nothing."""
    png = vl_convert.vegalite_to_png(json.dumps(report_chart_spec(per_day, by_age)), scale=PIXELS_PER_UNIT)
    return f"![{ALT_TEXT}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
