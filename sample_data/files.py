"""The files of the sample inbox: receivables snapshots, and the records of the payment, 仮登録,
管理 and 紐付履歴 files made from the sightings and links, typed by their layouts and written
through the project's writer."""

from __future__ import annotations

from datetime import date, time, timedelta

import polars as pl

from sample_data.anomalies import CRLF_FILE, NEC_SELECTED_KINDS, damaged_bytes, record_patch, twisted_files
from sample_data.common import (
    COLLECTOR_CODE,
    COLLECTOR_NAME,
    COLLECTOR_NUMBER,
    ELTAX_CLASS_BY_TAX_CODE,
    RECEIVABLE_COLUMNS,
    ROUTE_KINDS,
    SampleFile,
    inbox_file_name,
)
from schemas import codes
from schemas.inbox import FileKind
from schemas.layouts import Layout, LayoutName, load_layout, load_payment_file_layouts
from transforms.fixed_width import records_bytes
from transforms.payment_file import payment_file_bytes

TAX_DESCRIPTIONS = {
    "010": ("市民税・都民税", "ｼﾐﾝｾﾞｲ ﾄﾐﾝｾﾞｲ"),
    "020": ("特別徴収", "ﾄｸﾍﾞﾂﾁﾖｳｼﾕｳ"),
    "030": ("法人市民税", "ﾎｳｼﾞﾝｼﾐﾝｾﾞｲ"),
    "040": ("固定資産税", "ｺﾃｲｼｻﾝｾﾞｲ"),
    "050": ("軽自動車税", "ｹｲｼﾞﾄﾞｳｼﾔｾﾞｲ"),
    "060": ("国民健康保険税", "ｺｸﾐﾝｹﾝｺｳﾎｹﾝｾﾞｲ"),
    "070": ("退職所得分離課税", "ﾀｲｼﾖｸｼﾖﾄｸ"),
}


def _layout_frame(frame: pl.DataFrame, layout: Layout, values: dict[str, pl.Expr | str | int]) -> pl.DataFrame:
    """A record frame of `layout`: each field from `values` (an expression or a constant), blank where none."""

    def column(layout_field) -> pl.Expr:
        value = values.get(layout_field.name)
        expression = value if isinstance(value, pl.Expr) else pl.lit(value)
        return expression.cast(layout_field.polars_dtype).alias(layout_field.name)

    return frame.select([column(layout_field) for layout_field in layout.fields])


def _tax_description(index: int) -> pl.Expr:
    names = {tax_code: descriptions[index] for tax_code, descriptions in TAX_DESCRIPTIONS.items()}
    return pl.col("tax_code").replace_strict(names, default=None, return_dtype=pl.String)


def _eltax_tax_class() -> pl.Expr:
    return pl.col("tax_code").replace_strict(ELTAX_CLASS_BY_TAX_CODE, default=None)


_FILING_PERIOD = pl.col("tax_year").cast(pl.String) + pl.col("installment")
_PAYMENT_CATEGORY = pl.col("tax_code") + _FILING_PERIOD  # MPN 納付区分: 税目・料金番号, then 申告区分・課税期間
_PAID_TOTAL = pl.col("paid_principal") + pl.col("paid_dunning_fee") + pl.col("paid_late_fee")


def payment_records(sightings: pl.DataFrame) -> pl.DataFrame:
    """The data records of one payment file from its sightings, typed by the payment layout."""
    values = {
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "record_type": codes.RECORD_TYPE_DATA,
        "payment_number": pl.col("payment_number"),
        "collector_code": COLLECTOR_CODE,
        "tax_fee_number": pl.col("tax_code").cast(pl.Int64),
        "filing_period_code": _FILING_PERIOD,
        "confirmation_number": pl.col("confirmation_number"),
        "history_number": pl.col("history_number"),
        "password": pl.col("password"),
        "response_code": pl.col("response_code"),
        "payment_class": pl.col("payment_class"),
        "payer_name_kana": pl.col("payer_name_kana"),
        "payer_name": pl.col("payer_name"),
        "billed_total": pl.col("billed_principal") + pl.col("billed_late_fee"),
        "billed_principal": pl.col("billed_principal"),
        "billed_late_fee": pl.col("billed_late_fee"),
        "late_fee_recalc_flag": "0",
        "due_date": pl.col("due_date"),
        "billed_consumption_tax": 0,
        "payment_description_kana": _tax_description(1),
        "payment_description": _tax_description(0),
        "fee_bearer_class": "2",
        "payment_scheme": pl.col("payment_scheme"),
        "paid_total_cumulative": _PAID_TOTAL.cum_sum().over("common_tax_id", order_by="sequence_number"),
        "paid_total": _PAID_TOTAL,
        # 支払納付額 is 本税等: 本税 and 督促手数料 together (SPEC §3.1).
        "paid_principal": pl.col("paid_principal") + pl.col("paid_dunning_fee"),
        "paid_late_fee": pl.col("paid_late_fee"),
        "paid_consumption_tax": 0,
        "receipt_class": pl.col("receipt_class"),
        "payment_method": pl.col("payment_method"),
        "channel_class": pl.col("channel_class"),
        "stamp_duty": 0,
        "other_bank_cheque_amount": 0,
        "deposited_on": pl.col("deposited_on"),
        "paid_on": pl.col("paid_on"),
        "mpn_processed_on": pl.col("processed_on"),
        "mpn_processed_at": pl.col("processed_at"),
        "mpn_serial": pl.col("mpn_serial"),
        "bank_code": pl.col("bank_code"),
        "branch_code": pl.col("branch_code"),
        "sender_processed_on": pl.col("processed_on"),
        "sender_processed_at": pl.col("processed_at"),
        "settlement_date": pl.col("deposited_on"),
        "mpn_registered_on": pl.col("processed_on"),
    }
    return _layout_frame(sightings, load_layout(LayoutName.PAYMENT), values)


def provisional_records(sightings: pl.DataFrame) -> pl.DataFrame:
    """The records of one 仮登録 file from its sightings, typed by the 仮登録 layout."""
    month = pl.col("paid_on").dt.month()
    paid_year = pl.col("paid_on").dt.year() - (month < 4).cast(pl.Int32)
    # 出納整理期間: April and May receipts of an earlier year's receivable belong to that year's accounts.
    closing = month.is_between(4, 5) & (pl.col("fiscal_year") < paid_year)
    values = {
        "payment_info_sequence": pl.col("payment_info_sequence"),
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "filing_receipt_number": pl.col("filing_receipt_number"),
        "eltax_tax_class": _eltax_tax_class(),
        "estimated_payment_flag": pl.col("estimated_payment_flag"),
        "tax_code": pl.col("tax_code"),
        "assessment_period": pl.col("installment"),
        "tax_year": pl.col("tax_year"),
        "notice_number": pl.col("notice_number"),
        "installment": pl.col("installment"),
        "branch_number": 0,
        "taxpayer_id": pl.col("taxpayer_id"),
        "corporate_number": pl.col("corporate_number"),
        "payer_name": pl.col("payer_name"),
        "payer_address": pl.col("payer_address"),
        "collector_number": COLLECTOR_NUMBER,
        "confirmation_number": pl.col("confirmation_number"),
        "payment_number": pl.col("payment_number"),
        "payment_category": _PAYMENT_CATEGORY,
        "paid_principal": pl.col("paid_principal"),
        "paid_retirement_income_levy": pl.when(pl.col("tax_code") == "070").then(pl.col("paid_principal")).otherwise(0),
        "paid_late_fee": pl.col("paid_late_fee"),
        "paid_dunning_fee": pl.col("paid_dunning_fee"),
        "paid_additional_charge": 0,
        "fiscal_year": paid_year - closing.cast(pl.Int32),
        "deposited_on": pl.col("deposited_on"),
        "paid_on": pl.col("paid_on"),
        "collector_code": COLLECTOR_CODE,
        "tax_fee_number": pl.col("tax_code").cast(pl.Int64),
        "filing_period_code": _FILING_PERIOD,
        "payment_class": pl.col("payment_class"),
        "paid_total": _PAID_TOTAL,
        "error_class": "00",
        "delete_next_run_flag": pl.col("delete_next_run_flag"),
        "created_on": pl.col("paid_on"),
        "updated_on": pl.col("settlement_date"),
    }
    return _layout_frame(sightings, load_layout(LayoutName.PROVISIONAL), values)


# 納付額 breakdown groups of a 管理 record: (納付額コード, 納付額区分, 納付額名, amount column).
BREAKDOWN = (
    ("001", "1", "本税", "paid_principal"),
    ("003", "3", "督促手数料", "paid_dunning_fee"),
    ("002", "2", "延滞金", "paid_late_fee"),
)


def _breakdown_values() -> dict[str, pl.Expr]:
    """納付額 breakdown groups 1.. of the 管理 record: the non-zero parts, packed from group 1."""
    present = [pl.col(column) > 0 for *_, column in BREAKDOWN]
    positions = [pl.sum_horizontal(present[: index + 1]) for index in range(len(BREAKDOWN))]
    values: dict[str, pl.Expr] = {"breakdown_count": pl.sum_horizontal(present)}
    for group in range(1, len(BREAKDOWN) + 1):
        for name, part in (("amount_code", 0), ("amount_class", 1), ("amount_name", 2), ("amount", 3)):
            expression = pl.lit(None, pl.Int64 if name == "amount" else pl.String)
            for kind, is_present, position in zip(BREAKDOWN, present, positions):
                value = pl.col(kind[3]) if name == "amount" else pl.lit(kind[part])
                expression = pl.when(is_present & (position == group)).then(value).otherwise(expression)
            values[f"{name}_{group}"] = expression
    return values


def management_records(payments: pl.DataFrame) -> pl.DataFrame:
    """The 管理 records of route-2 payments (one row each), typed by the 管理 layout."""
    requested = (pl.col("paid_on") - timedelta(days=1)).cast(pl.Datetime("us")) + timedelta(hours=9)
    corporate, due = pl.col("tax_code") == "030", pl.col("due_date")
    # 法人市民税 is due two months after the business year; 特別徴収 and 退職所得 the month after.
    period_to = pl.when(corporate).then(due.dt.offset_by("-2mo")).otherwise(due.dt.offset_by("-1mo")).dt.month_end()
    period_from = pl.when(corporate).then(period_to.dt.offset_by("-1y") + timedelta(days=1)).otherwise(period_to.dt.month_start())
    values = {
        "payment_info_sequence": pl.col("payment_key") + 1,
        "common_tax_id": pl.col("common_tax_id"),
        "sequence_number": pl.col("sequence_number"),
        "local_government_code": COLLECTOR_CODE,
        "eltax_taxpayer_id": pl.col("eltax_taxpayer_id"),
        "issue_requested_at": requested,
        "eltax_filing_class": "01",
        "eltax_tax_class": _eltax_tax_class(),
        "estimated_payment_flag": pl.col("estimated_payment_flag"),
        "period_from": period_from,
        "period_to": period_to,
        "filing_receipt_number": pl.col("filing_receipt_number"),
        "filing_received_on": pl.col("paid_on") - timedelta(days=1),
        "filing_received_at": requested,
        "eltax_user_id": "U" + pl.col("taxpayer_id"),
        "payer_name_kana": pl.col("payer_name_kana"),
        "payer_name": pl.col("payer_name"),
        "payer_address": pl.col("payer_address"),
        "principal_total": pl.col("paid_principal") + pl.col("paid_dunning_fee"),
        "late_fee_total": pl.col("paid_late_fee"),
        "collector_name": COLLECTOR_NAME,
        "payment_description": _tax_description(0),
        "collector_number": COLLECTOR_NUMBER,
        "payment_number": pl.col("payment_number"),
        "payment_category": _PAYMENT_CATEGORY,
        "confirmation_number": pl.col("confirmation_number"),
        "payable_until": pl.max_horizontal("due_date", "paid_on"),
        "registered_at": requested,
        "created_at": requested,
        "mpn_registered_at": requested,
        "corporate_number": pl.col("corporate_number"),
        **_breakdown_values(),
    }
    return _layout_frame(payments, load_layout(LayoutName.MANAGEMENT), values)


def link_history_records(links: pl.DataFrame) -> pl.DataFrame:
    """The 紐付履歴 records of `links`, typed by the 紐付履歴 layout (linked by 納税者ID alone)."""
    values = {
        "sequence_number": 0,
        "local_government_code": COLLECTOR_CODE,
        "eltax_tax_class": pl.col("eltax_tax_class"),
        "eltax_taxpayer_id": pl.col("eltax_taxpayer_id"),
        "corporate_number": pl.col("corporate_number"),
        "specific_key_1": pl.col("taxpayer_id"),
        "registration_class": pl.col("registration_class"),
        "linked_at": pl.col("linked_at"),
        "file_created_on": pl.col("file_created_on"),
    }
    return _layout_frame(links, load_layout(LayoutName.LINK_HISTORY), values)


def receivables_snapshot(receivables: pl.DataFrame, day: date) -> pl.DataFrame:
    """The receivables extract of one settlement date, CONTRACT columns in order."""
    listed_from, listed_until = pl.col("listed_from"), pl.col("listed_until")
    listed = (listed_from.is_null() | (listed_from <= day)) & (listed_until.is_null() | (day < listed_until))
    reduced = pl.col("reduced_on").is_not_null() & (pl.col("reduced_on") <= day)
    return (
        receivables.filter(listed)
        .with_columns(
            principal=pl.when(reduced).then("reduced_to").otherwise("principal"),
            changed_on=pl.when(reduced).then("reduced_on").otherwise("changed_on"),
        )
        .select(RECEIVABLE_COLUMNS)
    )


# A total order within a file, so the same seed always writes the same bytes.
_SORT_KEYS = {
    LayoutName.PAYMENT: ["paid_on", "processed_at", "mpn_serial", "common_tax_id", "sequence_number", "history_number"],
    LayoutName.PROVISIONAL: ["paid_on", "payment_info_sequence"],
}
_LINK_ORDER = ["linked_at", "eltax_taxpayer_id", "eltax_tax_class", "registration_class"]
_RECORD_BUILDERS = {LayoutName.PAYMENT: payment_records, LayoutName.PROVISIONAL: provisional_records}


def sample_files(
    sightings: pl.DataFrame,
    receivables: pl.DataFrame,
    links: pl.DataFrame,
    dates: tuple[date, ...],
    management_redeliveries: tuple[int, ...],
    case_keys: list[int],
) -> tuple[list[SampleFile], pl.DataFrame]:
    """Every file of the inbox, and where the records of `case_keys` lie (record_key, file_name, record_number)."""
    files, locations = [], []
    for index, day in enumerate(dates):
        snapshot = receivables_snapshot(receivables, day)
        files.append(SampleFile(inbox_file_name(FileKind.RECEIVABLES, day), FileKind.RECEIVABLES, snapshot))
        for kind in ROUTE_KINDS.values():
            day_sightings = sightings.filter((pl.col("file_kind") == kind.value) & (pl.col("settlement_date") == day))
            if day_sightings.height:
                file, location = sighting_file(day_sightings, kind, day, (kind, index) == CRLF_FILE, case_keys)
                files.append(file)
                locations.append(location)
        management = _management_payments(sightings, day, day == dates[-1], management_redeliveries)
        if management.height:
            files.append(SampleFile(inbox_file_name(FileKind.MANAGEMENT, day), FileKind.MANAGEMENT, management_records(management)))
        day_links = links.filter(pl.col("settlement_date") == day).sort(_LINK_ORDER)
        if day_links.height:
            files.append(SampleFile(inbox_file_name(FileKind.LINK_HISTORY, day), FileKind.LINK_HISTORY, link_history_records(day_links)))
    return files + twisted_files(files, dates), pl.concat(locations)


def sighting_file(
    sightings: pl.DataFrame, kind: FileKind, day: date, crlf: bool, case_keys: list[int]
) -> tuple[SampleFile, pl.DataFrame]:
    """A payment or 仮登録 file of one day's sightings, and where the case records among them lie."""
    layout = load_layout(kind.layout)
    ordered = sightings.sort(_SORT_KEYS[kind.layout]).with_row_index("row")
    name = inbox_file_name(kind, day)
    control = 1 if kind.has_control_records else 0  # the header comes before the data records
    header = {
        "file_class": kind.payment_file_class,
        "base_date": day,
        "created_on": day,
        "created_at": time(1, 30),
        "collector_code": COLLECTOR_CODE,
        "collector_name": COLLECTOR_NAME,
        "file_serial": 1,
    }
    anomalies = ordered.filter(pl.col("patch").is_not_null()).select("patch", "row", "paid_on")
    patches = tuple(record_patch(anomaly, row + control, layout, paid_on) for anomaly, row, paid_on in anomalies.iter_rows())
    records = _RECORD_BUILDERS[kind.layout](ordered)
    file = SampleFile(name, kind, records, header if control else None, crlf, kind in NEC_SELECTED_KINDS, patches)
    location = ordered.filter(pl.col("record_key").is_in(case_keys)).select(
        "record_key", file_name=pl.lit(name), record_number=pl.col("row").cast(pl.Int64) + control + 1
    )
    return file, location


def _management_payments(sightings: pl.DataFrame, day: date, last: bool, redeliveries: tuple[int, ...]) -> pl.DataFrame:
    """The route-2 payments whose 管理 record the day's file carries; the last day repeats some."""
    due = pl.col("management_on") == day
    if last:
        # Some earlier records come again, unchanged, as in a cumulative export.
        again = pl.col("payment_key").is_in(list(redeliveries)) | (pl.col("payment_key") % 97 == 0)
        due = due | ((pl.col("management_on") < day) & again)
    chosen = sightings.filter(pl.col("management_on").is_not_null() & (pl.col("history_number") == 0)).filter(due)
    return chosen.unique("payment_key", keep="first").sort("payment_key")


def sample_file_bytes(file: SampleFile) -> bytes:
    """The bytes of one sample file: its records through the project's writer, then damaged as planted."""
    if file.kind.is_csv:
        return file.records.write_csv(date_format="%Y-%m-%d").encode("utf-8")
    if file.kind.has_control_records:
        layouts = load_payment_file_layouts()
        layout, content = layouts.data, payment_file_bytes(file.records, file.header, layouts, file.crlf)
        data_rows = slice(1, -2)  # between the header and the trailer and end records
    else:
        layout = load_layout(file.kind.layout)
        content, data_rows = records_bytes(file.records, layout, file.crlf), slice(None)
    return damaged_bytes(content, file, layout, data_rows)
