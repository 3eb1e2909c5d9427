"""Which receivable each payment belongs to (消込, SPEC §3; docs/reconciliation.md step 3).

Route 1: a payment-file payment without a 管理 record, by (納付番号, 確認番号).
Route 2: a payment-file payment with a 管理 record: 管理 → 紐付履歴 → (taxpayer, 申告受付番号).
Route 3: a delivered 仮登録 record, by (通知書番号, 期別), else (納付番号, 確認番号).
Every key is looked up against every receivable ever delivered (its newest version), so a payment
to a cancelled receivable still finds it. A key two receivables share finds none (`90`): shuno
never guesses which of them was meant.
"""

from __future__ import annotations

import polars as pl

from transforms.payments import KEY, PAYMENT_FILE, PROVISIONAL, TO_MATCH, payment_columns

APPLIED, NO_LINK, NO_RECEIVABLE, NO_MANAGEMENT, AMBIGUOUS = "00", "10", "20", "30", "90"
EL_QR = "02"
DISSOLVED = "9"
CASE = ["common_tax_id", "sequence_number"]
LINK_KEY = ["eltax_taxpayer_id", "eltax_tax_class"]
# The 管理 record's fields a built 仮登録 row takes (payer_address joins the payment's own column).
MANAGEMENT_FIELDS = [
    "eltax_taxpayer_id",
    "eltax_tax_class",
    "filing_receipt_number",
    "filing_received_on",
    "eltax_filing_class",
    "estimated_payment_flag",
    "period_from",
    "corporate_number",
    "collector_number",
]
MANAGEMENT_RENAMED = {
    "payment_info_sequence": "management_payment_info_sequence",
    "specific_key_1": "management_specific_key_1",
    "payer_address": "management_payer_address",
}
MATCHED_EXTRA = ["route", *MANAGEMENT_FIELDS, "management_payment_info_sequence", "management_specific_key_1", "specific_key_1"]
RECORD_ORDER = ["file_date", "delivery_number", "record_number"]


def matched_columns() -> list[str]:
    """The columns of `matched_payments`: those of `payments`, then the route and the 管理 and link columns."""
    return payment_columns() + MATCHED_EXTRA


def matched_payments(
    payments: pl.DataFrame,
    management_records: pl.DataFrame,
    link_records: pl.DataFrame,
    receivable_versions: pl.DataFrame,
) -> pl.DataFrame:
    """Payments with their route, 管理 and link columns; `to_match` ones `applied` to a receivable or `pending` with a code."""
    routed = _with_management(payments, newest_management(management_records))
    linked = _with_links(routed, link_moments(link_records))
    looked_up = _with_receivable_lookups(linked, receivable_versions)
    return _settled(looked_up).select(matched_columns())


def newest_management(management_records: pl.DataFrame) -> pl.DataFrame:
    """One 管理 record per (共通納税ID, 連番): the newest delivery (file date, delivery number, record number)."""
    newest = management_records.sort(RECORD_ORDER).unique(subset=CASE, keep="last")
    return newest.select(*CASE, *MANAGEMENT_FIELDS, *MANAGEMENT_RENAMED).rename(MANAGEMENT_RENAMED)


def link_moments(link_records: pl.DataFrame) -> pl.DataFrame:
    """One row per (納税者ID, 税目区分, 利用者情報更新日時): the link then made, `link_count` > 1 when links disagree."""
    # A 紐付履歴 record is an event identified by all its fields: a repeated delivery is one event.
    fields = [name for name in link_records.columns if name not in ("file_name", "file_date", "delivery_number", "record_number")]
    events = link_records.select(fields).unique().filter(pl.col("linked_at").is_not_null())
    link = pl.struct("specific_key_1", "registration_class")
    return (
        events.group_by(*LINK_KEY, "linked_at")
        .agg(pl.col("specific_key_1", "registration_class").first(), link.n_unique().alias("link_count"))
        .sort("linked_at")
    )


def _with_management(payments: pl.DataFrame, management: pl.DataFrame) -> pl.DataFrame:
    """Payments with their route and, for a payment-file payment with a 管理 record (route 2), its fields."""
    # Only payment-file payments look for a 管理 record: a delivered 仮登録 record always takes route 3.
    case_id = pl.when(pl.col("source") == PAYMENT_FILE).then(pl.col("common_tax_id"))
    joined = payments.with_columns(case_id.alias("management_case_id")).join(
        management.rename({"common_tax_id": "management_case_id"}).with_columns(pl.lit(True).alias("has_management")),
        on=["management_case_id", "sequence_number"],
        how="left",
        maintain_order="left",
    )
    route = pl.when(pl.col("source") == PROVISIONAL).then(3).when(pl.col("has_management")).then(2).otherwise(1)
    return joined.with_columns(
        route.cast(pl.Int64).alias("route"),
        pl.coalesce("payer_address", "management_payer_address").alias("payer_address"),
    )


def _with_links(routed: pl.DataFrame, moments: pl.DataFrame) -> pl.DataFrame:
    """Route-2 payments with the newest link of their (納税者ID, 税目区分) made before the end of the 納付日."""
    # 利用者情報更新日時 ≤ the end of the 納付日, i.e. strictly before midnight that starts the next day.
    cutoff = (pl.col("paid_on").cast(pl.Datetime("us")) + pl.duration(days=1)).alias("link_cutoff")
    wanted = (
        routed.filter(pl.col("route") == 2)
        .select(*LINK_KEY, cutoff)
        .drop_nulls()
        .unique()
        .sort("link_cutoff")
    )
    # Both sides are sorted on the whole time column, so each `by` group is too; polars cannot check that itself.
    found = wanted.join_asof(
        moments,
        left_on="link_cutoff",
        right_on="linked_at",
        by=LINK_KEY,
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    linked = routed.with_columns(cutoff).join(found, on=[*LINK_KEY, "link_cutoff"], how="left", maintain_order="left")
    usable = (pl.col("registration_class") != DISSOLVED) & (pl.col("link_count") == 1)
    return linked.with_columns(pl.when(usable).then(pl.col("specific_key_1")).alias("specific_key_1"))


def receivables_by(receivable_versions: pl.DataFrame, keys: dict[str, str], name: str) -> pl.DataFrame:
    """Per key value (receivable column → payment column): `<name>_count` receivables, and the receivable when it is one."""
    found = (
        receivable_versions.select(*keys, "receivable_id")
        .drop_nulls(list(keys))
        .group_by(*keys)
        .agg(pl.len().alias(f"{name}_count"), pl.col("receivable_id").first().alias(f"{name}_receivable_id"))
    )
    single = pl.when(pl.col(f"{name}_count") == 1).then(pl.col(f"{name}_receivable_id"))
    return found.with_columns(single.alias(f"{name}_receivable_id")).rename(keys)


def _with_receivable_lookups(linked: pl.DataFrame, receivable_versions: pl.DataFrame) -> pl.DataFrame:
    """Payments with the receivables each key finds: by filing (route 2), by notice (route 3), by 納付番号 (routes 1, 3)."""
    lookups = {
        "filing": {"taxpayer_id": "specific_key_1", "filing_receipt_number": "filing_receipt_number"},
        "notice": {"notice_number": "notice_number", "installment": "installment"},
        "payment_number": {"payment_number": "payment_number", "confirmation_number": "confirmation_number"},
    }
    for name, keys in lookups.items():
        found = receivables_by(receivable_versions, keys, name)
        linked = linked.join(found, on=list(keys.values()), how="left", maintain_order="left")
    return linked


def _found(name: str, otherwise: pl.Expr) -> pl.Expr:
    """`00` when the key found one receivable, `90` when it found several, else `otherwise`."""
    count = pl.col(f"{name}_count")
    return pl.when(count == 1).then(pl.lit(APPLIED)).when(count > 1).then(pl.lit(AMBIGUOUS)).otherwise(otherwise)


def _match_error() -> pl.Expr:
    """The matching outcome per route (SPEC §3): 00 matched, 10 not linked, 20 no receivable, 30 no 管理, 90 ambiguous."""
    route_1 = _found("payment_number", pl.when(pl.col("payment_scheme") == EL_QR).then(pl.lit(NO_RECEIVABLE)).otherwise(pl.lit(NO_MANAGEMENT)))
    link_ambiguous = pl.col("link_count") > 1
    route_2 = (
        pl.when(link_ambiguous)
        .then(pl.lit(AMBIGUOUS))
        .when(pl.col("specific_key_1").is_null())
        .then(pl.lit(NO_LINK))
        .otherwise(_found("filing", pl.lit(NO_RECEIVABLE)))
    )
    # Route 3 falls back to (納付番号, 確認番号) only when (通知書番号, 期別) finds nothing, not when it finds two.
    route_3 = _found("notice", _found("payment_number", pl.lit(NO_RECEIVABLE)))
    route = pl.col("route")
    return pl.when(route == 1).then(route_1).when(route == 2).then(route_2).otherwise(route_3)


def _matched_receivable() -> pl.Expr:
    """The receivable the route's key found (null unless exactly one)."""
    route = pl.col("route")
    by_notice_or_number = pl.coalesce("notice_receivable_id", pl.when(pl.col("notice_count").is_null()).then("payment_number_receivable_id"))
    return (
        pl.when(route == 1)
        .then(pl.col("payment_number_receivable_id"))
        .when(route == 2)
        .then(pl.col("filing_receivable_id"))
        .otherwise(by_notice_or_number)
    )


def _settled(looked_up: pl.DataFrame) -> pl.DataFrame:
    """`to_match` payments applied (00, with their receivable) or pending with the code; others unchanged."""
    to_match = pl.col("status") == TO_MATCH
    error = pl.col("match_error")
    return looked_up.with_columns(_match_error().alias("match_error")).with_columns(
        pl.when(to_match).then(pl.when(error == APPLIED).then(pl.lit("applied")).otherwise(pl.lit("pending"))).otherwise(pl.col("status")).alias("status"),
        pl.when(to_match).then(error).otherwise(pl.col("error_class")).alias("error_class"),
        pl.when(to_match & (error == APPLIED)).then(_matched_receivable()).otherwise(pl.col("receivable_id")).alias("receivable_id"),
    )
