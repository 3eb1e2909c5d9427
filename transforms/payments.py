"""Payments (SPEC §2; docs/reconciliation.md steps 1–2): every sighting in one shape, then one row per payment.

A payment is seen several times: its 速報 and 確報, re-deliveries, a 取消 with the next 履歴番号.
`sightings` puts payment-file and 仮登録 records in one shape; `payments` decides, per payment,
which sightings stand and what state the payment is in. Matching to receivables is `matching.py`.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl

from schemas.codes import RESPONSE_CODE_NORMAL, DeleteFlag, ErrorClass, PaymentSource, PaymentStatus, ReceiptClass
from schemas.layouts import LayoutName, load_layout
from schemas.tables import derived_tables
from transforms.calendar import add_business_days

PRELIMINARY, CONFIRMED = "速報", "確報"
KEY = "payment_key"
# payment_key of a 仮登録 record without 共通納税ID: the prefix, then its 納付情報シーケンス.
SEQUENCE_KEY_PREFIX = "SEQ-"
DELIVERED_RECORD = "delivered_record"
# 決済単位年月日: the layout's settlement_date, renamed in `payments`, where a settlement date is shuno's (the file's date).
BANK_SETTLEMENT_DATE, PAYMENTS_BANK_SETTLEMENT_DATE = "settlement_date", "interbank_settlement_date"
SIGHTING_ORDER = ["file_date", "delivery_number", "file_name", "record_number"]
# SPEC §2: sightings that disagree on an amount or 領収区分 are a conflict.
CONFLICT_VALUES = ["receipt_class", "paid_total", "paid_principal", "paid_late_fee", "paid_dunning_fee", "paid_additional_charge"]
# reversed / not_completed / withdrawn are applied to nothing for a reason SPEC §3 has no code for: 90 (その他).
ERROR_CLASS_BY_STATUS = {
    PaymentStatus.HELD: ErrorClass.CONFLICT,
    PaymentStatus.PENDING: ErrorClass.UNKNOWN_CANCELLATION,
    PaymentStatus.REVERSED: ErrorClass.OTHER,
    PaymentStatus.NOT_COMPLETED: ErrorClass.OTHER,
    PaymentStatus.WITHDRAWN: ErrorClass.OTHER,
}
# Not a PaymentStatus: it lives only between this step and matching, which turns every such payment
# into applied or pending, so the contract on the `payments` table rejects it if one ever leaks out.
TO_MATCH = "to_match"
ROW = "row"
# What deciding a payment reads of each sighting; everything else is taken from the chosen rows.
DECISION_COLUMNS = [KEY, *SIGHTING_ORDER, "source", "sighting", "history_number", *CONFLICT_VALUES, "deposited_on", "withdrawn"]
ORIGIN_COLUMNS = ["sighting", *SIGHTING_ORDER]
# What matching.py and provisional.py need beyond the `payments` table (never logged: payer fields are personal).
MATCHING_KEYS = ["payment_number", "confirmation_number", "notice_number", "installment", "tax_code"]
BUILT_ROW_SOURCES = [
    "collector_code",
    "tax_fee_number",
    "filing_period_code",
    "payer_name",
    "payer_name_kana",
    "payer_address",
    "last_seen_on",
    DELIVERED_RECORD,
]


@cache
def delivered_record_dtype() -> pl.List:
    """The type of a delivered 仮登録 record kept whole: a list of one struct of its 50 fields, typed by the layout.

    A list, not a bare struct: polars moves a null list without touching the 50 fields inside, so
    the millions of payment-file rows that have no delivered record cost nothing when rows move.
    """
    return pl.List(pl.Struct(load_layout(LayoutName.PROVISIONAL).schema))


@cache
def sighting_schema() -> pl.Schema:
    """The columns of `sightings`, in order."""
    string, number, day = pl.String(), pl.Int64(), pl.Date()
    return pl.Schema(
        {
            KEY: string,
            "source": string,
            "sighting": string,
            "file_name": string,
            "file_date": day,
            "delivery_number": pl.Int32(),
            "record_number": number,
            "common_tax_id": string,
            "sequence_number": number,
            "payment_info_sequence": number,
            "history_number": number,
            "receipt_class": string,
            "response_code": string,
            "withdrawn": pl.Boolean(),
            "payment_class": string,
            **{amount: number for amount in CONFLICT_VALUES[1:]},
            "paid_on": day,
            "deposited_on": day,
            "mpn_processed_on": day,
            "mpn_processed_at": pl.Time(),
            "mpn_serial": string,
            "channel_class": string,
            "payment_scheme": string,
            "payment_method": string,
            "bank_code": string,
            BANK_SETTLEMENT_DATE: day,
            **{key: string for key in MATCHING_KEYS},
            "collector_code": number,
            "tax_fee_number": number,
            "filing_period_code": string,
            "payer_name": string,
            "payer_name_kana": string,
            "payer_address": string,
            DELIVERED_RECORD: delivered_record_dtype(),
        }
    )


def _first_values() -> list[str]:
    taken_elsewhere = {KEY, *ORIGIN_COLUMNS, "deposited_on", "withdrawn", DELIVERED_RECORD}
    return [name for name in sighting_schema().names() if name not in taken_elsewhere]


@cache
def payment_columns() -> list[str]:
    """The columns of `payments`: the `payments` table's, then what matching and the 仮登録 rows need."""
    table = next(table for table in derived_tables() if table.name == "payments")
    return table.column_names + MATCHING_KEYS + BUILT_ROW_SOURCES


def sightings(payment_records: pl.DataFrame, provisional_records: pl.DataFrame) -> pl.DataFrame:
    """Every stored payment-file and 仮登録 record as one sighting of a payment, in one shape."""
    shaped = [_in_shape(_payment_file_sightings(payment_records)), _in_shape(_provisional_sightings(provisional_records))]
    return pl.concat(shaped, rechunk=True)


def sighting_places(payment_records: pl.DataFrame, provisional_records: pl.DataFrame) -> pl.DataFrame:
    """payment_key, file_name and record_number of each record (payment-file records: common_tax_id and sequence_number;
    仮登録 records: those and payment_info_sequence), keyed as `sightings` keys them."""
    return pl.concat(
        [
            payment_records.select(_case_key().alias(KEY), "file_name", "record_number"),
            provisional_records.select(_provisional_key().alias(KEY), "file_name", "record_number"),
        ]
    )


def _provisional_key() -> pl.Expr:
    """A 仮登録 record's payment_key: 共通納税ID-連番, or SEQ-納付情報シーケンス when it has no 共通納税ID."""
    by_sequence = pl.format(SEQUENCE_KEY_PREFIX + "{}", _zero_padded("payment_info_sequence", 10))
    return pl.when(pl.col("common_tax_id").is_null()).then(by_sequence).otherwise(_case_key())


def _in_shape(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.col(name).cast(dtype) for name, dtype in sighting_schema().items())


def _zero_padded(column: str, width: int) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.zfill(width)


def _case_key() -> pl.Expr:
    return pl.format("{}-{}", pl.col("common_tax_id"), _zero_padded("sequence_number", 6))


def _payment_file_sightings(records: pl.DataFrame) -> pl.DataFrame:
    absent = ["payment_info_sequence", "notice_number", "installment", "tax_code", "payer_address", DELIVERED_RECORD]
    return records.with_columns(
        _case_key().alias(KEY),
        pl.lit(PaymentSource.PAYMENT_FILE).alias("source"),
        pl.lit(False).alias("withdrawn"),
        # The payment files carry 督促手数料 inside 支払納付額 (本税等) and no 加算金 (SPEC §3.1).
        pl.lit(0).alias("paid_dunning_fee"),
        pl.lit(0).alias("paid_additional_charge"),
        *[pl.lit(None).alias(name) for name in absent],
    )


def _provisional_sightings(records: pl.DataFrame) -> pl.DataFrame:
    absent = ["mpn_processed_on", "mpn_processed_at", "mpn_serial", "channel_class", "payment_scheme", "payer_name_kana"]
    absent += ["payment_method", "bank_code", BANK_SETTLEMENT_DATE]
    return records.with_columns(
        _provisional_key().alias(KEY),
        pl.lit(PaymentSource.PROVISIONAL).alias("source"),
        pl.lit(0).alias("history_number"),
        pl.lit(ReceiptClass.RECEIPT).alias("receipt_class"),
        pl.lit(RESPONSE_CODE_NORMAL).alias("response_code"),
        (pl.col("delete_next_run_flag") == DeleteFlag.DELETE_NEXT_RUN).alias("withdrawn"),
        pl.concat_list(pl.struct([field.name for field in delivered_record_dtype().inner.fields])).alias(DELIVERED_RECORD),
        *[pl.lit(None).alias(name) for name in absent],
    )


def payments(
    sightings: pl.DataFrame, as_of: date, business_days_to_confirm: int = 5, chosen_sightings: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per payment: the values that stand, its state before matching, when it was seen and confirmed.

    chosen_sightings (payment_key, file_name, record_number): the sighting a `resolve` decision
    chose for a held payment (SPEC §6), whose values then decide it.
    """
    # The decision runs on a narrow copy sorted once: each payment's sightings together, in delivery
    # order (windows and group_by over a sorted key stay fast at millions of payments); the values
    # are then gathered from the chosen sightings by row.
    narrow = sightings.select(DECISION_COLUMNS).with_row_index(ROW)
    decisive = _decisive_sightings(_with_seen(narrow.sort(KEY, *SIGHTING_ORDER)))
    disputed = pl.col("disputed")
    undisputed = _payment_decisions(decisive.filter(~disputed).with_columns(pl.lit(False).alias("held")))
    standing = _standing_sightings(decisive.filter(disputed), chosen_sightings)
    decisions = undisputed.merge_sorted(_payment_decisions(standing), key=KEY)
    decided = _with_values(decisions, sightings).rename({BANK_SETTLEMENT_DATE: PAYMENTS_BANK_SETTLEMENT_DATE})
    deadline = _confirmation_deadlines(decided["paid_on"], business_days_to_confirm)
    return decided.with_columns(
        _status().alias("status"),
        pl.lit(None, pl.String).alias("receivable_id"),
        pl.lit(None, pl.String).alias("matched_by"),
        pl.lit(None, pl.Int64).alias("overpaid_amount"),
        # SPEC §2: reported once five business days after the 納付日 have come with no 確報.
        (pl.col("confirmed_on").is_null() & (pl.lit(as_of) >= deadline).fill_null(False)).alias("unconfirmed"),
    ).with_columns(_error_class().alias("error_class")).select(payment_columns())


def _with_seen(ordered: pl.DataFrame) -> pl.DataFrame:
    """Sightings with, per payment over all of them: first and last settlement date seen, and how many."""
    return ordered.with_columns(
        pl.col("file_date").min().over(KEY).alias("first_seen_on"),
        pl.col("file_date").max().over(KEY).alias("last_seen_on"),
        pl.len().over(KEY).cast(pl.Int64).alias("sighting_count"),
    )


def _decisive_sightings(ordered: pl.DataFrame) -> pl.DataFrame:
    """The sightings at each payment's highest 履歴番号 (SPEC §2: that record decides the state).

    `earlier_receipt`: the payment has a 領収 under a lower 履歴番号 (so a 取消 reverses something).
    `disputed`: the decisive sightings differ in 領収区分 or an amount.
    """
    # Windows aggregate integers, not booleans: polars has a fast path for the former only.
    receipt_history = pl.when(pl.col("receipt_class") == ReceiptClass.RECEIPT).then(pl.col("history_number"))
    marked = ordered.with_columns(
        pl.col("history_number").max().over(KEY).alias("top_history"),
        receipt_history.min().over(KEY).alias("first_receipt_history"),
    )
    decisive = marked.filter(pl.col("history_number") == pl.col("top_history")).with_columns(
        (pl.col("first_receipt_history") < pl.col("top_history")).fill_null(False).alias("earlier_receipt")
    )
    # Sorted by payment, a payment's sightings disagree exactly when one differs from the one before it.
    same_payment = pl.col(KEY) == pl.col(KEY).shift(1)
    changed = same_payment & pl.any_horizontal(pl.col(name).ne_missing(pl.col(name).shift(1)) for name in CONFLICT_VALUES)
    # `changed` is a column before the window: a shift inside `over` would run per payment.
    disputed = pl.col("changes").sum().over(KEY) > 0
    return decisive.with_columns(changed.cast(pl.Int64).alias("changes")).with_columns(disputed.alias("disputed"))


def _standing_sightings(disputed: pl.DataFrame, chosen_sightings: pl.DataFrame | None = None) -> pl.DataFrame:
    """The sightings of disputed payments whose values stand, with `held` where nothing settles the dispute.

    A dispute resolves to the values of the sighting a `resolve` decision chose, when it is one of
    the decisive sightings; otherwise to the latest sighting's values when another delivery repeats
    them. A re-delivered file (same kind and settlement date, new delivery number) is not another
    delivery: SPEC §1 says it changes nothing, so it cannot settle a conflict by repeating itself.
    """
    values = pl.struct(CONFLICT_VALUES)
    decided = _chosen_values(disputed, chosen_sightings)
    by_decision = disputed.join(decided, on=KEY, how="semi")
    agrees = values.eq_missing(values.last().over(KEY))
    delivery = pl.struct("source", "sighting", "file_date")
    repeated = delivery.filter(pl.col("agrees")).n_unique().over(KEY) >= 2
    marked = disputed.join(decided, on=KEY, how="anti").with_columns(agrees.alias("agrees")).with_columns((~repeated).alias("held"))
    resolved = by_decision.join(decided, on=KEY).filter(values.eq_missing(pl.col("chosen_values")))
    resolved = resolved.drop("chosen_values").with_columns(pl.lit(True).alias("agrees"), pl.lit(False).alias("held"))
    standing = pl.concat([marked.filter(pl.col("held") | pl.col("agrees")), resolved], how="diagonal")
    return standing.sort(KEY, *SIGHTING_ORDER)


def _chosen_values(disputed: pl.DataFrame, chosen_sightings: pl.DataFrame | None) -> pl.DataFrame:
    """payment_key and chosen_values (the amounts and 領収区分) of each disputed payment's sighting chosen by a decision."""
    if chosen_sightings is None:
        return pl.DataFrame(schema={KEY: pl.String, "chosen_values": disputed.select(pl.struct(CONFLICT_VALUES)).schema.dtypes()[0]})
    chosen = disputed.join(chosen_sightings.select(KEY, "file_name", "record_number"), on=[KEY, "file_name", "record_number"], how="semi")
    return chosen.select(KEY, pl.struct(CONFLICT_VALUES).alias("chosen_values")).unique(KEY, keep="last")


def _payment_decisions(standing: pl.DataFrame) -> pl.DataFrame:
    """Per payment: its first and last standing sighting (rows), 入金年月日 of the first 確報, when seen and confirmed."""
    confirmed = pl.col("sighting") == CONFIRMED
    position = pl.col("position")
    first_confirmed = position == pl.when(confirmed).then(position).min().over(KEY)
    marked = standing.with_row_index("position").with_columns(
        pl.when(first_confirmed).then(pl.col("deposited_on")).alias("deposited_on"),
        pl.when(confirmed).then(pl.col("file_date")).alias("confirmed_on"),
    )
    # Only plain first/last/min/max aggregations: polars runs them in one pass over the sorted key.
    return marked.group_by(KEY, maintain_order=True).agg(
        pl.col(ROW).first().alias("first_row"),
        pl.col(ROW).last().alias("last_row"),
        pl.col("held", "earlier_receipt", "first_seen_on", "last_seen_on", "sighting_count").first(),
        pl.col("deposited_on").max(),
        pl.col("confirmed_on").min(),
        # 次回削除フラグ: the sender's latest word on the payment.
        pl.col("withdrawn").last(),
    )


def _with_values(decisions: pl.DataFrame, sightings: pl.DataFrame) -> pl.DataFrame:
    """Decisions with the values of each payment's first standing sighting, and the sender's last word."""
    first = sightings.select(pl.col(_first_values()).gather(decisions["first_row"]))
    # The delivered 仮登録 fields: the sender's latest word on the payment (its 確報 carries 収納日).
    last = sightings.select(pl.col(DELIVERED_RECORD).gather(decisions["last_row"]))
    return pl.concat([decisions, first, last], how="horizontal")


def _status() -> pl.Expr:
    """The state before matching: held, not_completed, reversed, pending (取消 of an unknown payment), withdrawn, to_match."""
    cancellation = pl.col("receipt_class") == ReceiptClass.CANCELLATION
    return (
        pl.when(pl.col("held"))
        .then(pl.lit(PaymentStatus.HELD))
        .when(pl.col("response_code") != RESPONSE_CODE_NORMAL)
        .then(pl.lit(PaymentStatus.NOT_COMPLETED))
        .when(cancellation & pl.col("earlier_receipt"))
        .then(pl.lit(PaymentStatus.REVERSED))
        .when(cancellation)
        .then(pl.lit(PaymentStatus.PENDING))
        .when(pl.col("withdrawn"))
        .then(pl.lit(PaymentStatus.WITHDRAWN))
        .otherwise(pl.lit(TO_MATCH))
    )


def _error_class() -> pl.Expr:
    """エラー区分 of a payment settled before matching; null for one still to match."""
    # Enum members as replacements would make a polars Enum column: the codes are stored as text.
    return pl.col("status").replace_strict(ERROR_CLASS_BY_STATUS, default=None, return_dtype=pl.String)


def _confirmation_deadlines(paid_on: pl.Series, business_days: int) -> pl.Series:
    """The day after which a payment with no 確報 is reported: paid_on + `business_days` business days."""
    # Millions of payments share a few hundred 納付日: compute each distinct date once.
    distinct = paid_on.drop_nulls().unique()
    deadlines = pl.Series([add_business_days(day, business_days) for day in distinct], dtype=pl.Date)
    return paid_on.replace_strict(distinct, deadlines, return_dtype=pl.Date)
