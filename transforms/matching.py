"""Which receivable each payment belongs to (消込, SPEC §3; docs/reconciliation.md step 3).

Route 1: a payment-file payment without a 管理 record, by (納付番号, 確認番号).
Route 2: a payment-file payment with a 管理 record: 管理 → 紐付履歴 → (taxpayer, 申告受付番号).
Route 3: a delivered 仮登録 record, by (通知書番号, 期別), else (納付番号, 確認番号).
Every key is looked up against every receivable ever delivered (its newest version), so a payment
to a cancelled receivable still finds it. A key two receivables share finds none (`90`): shuno
never guesses which of them was meant; the office decides it (SPEC §6 `match`, `return`), and its
decision stands over what a route finds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from schemas.codes import DecisionKind, ErrorClass, MatchedBy, PaymentScheme, PaymentSource, PaymentStatus, RegistrationClass
from schemas.tables import FILE_ORIGIN
from transforms.payments import TO_MATCH, payment_columns

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
# What the lookups read of a payment: they run on this narrow copy, so no join moves the wide rows.
LOOKUP_COLUMNS = [
    "source",
    *CASE,
    "paid_on",
    "payment_scheme",
    "payment_number",
    "confirmation_number",
    "notice_number",
    "installment",
]
RECORD_ORDER = ["file_date", "delivery_number", "record_number"]
# The keys a receivable is found by: receivable column → payment column.
BY_NUMBER = {"payment_number": "payment_number", "confirmation_number": "confirmation_number"}
BY_FILING = {"taxpayer_id": "specific_key_1", "filing_receipt_number": "filing_receipt_number"}
BY_NOTICE = {"notice_number": "notice_number", "installment": "installment"}
ROW = "row"
# The keys of ReceivableKeys' lookups, in its order.
ROUTE_KEYS = (BY_NUMBER, BY_FILING, BY_NOTICE)
DECIDED_SCHEMA = {"payment_key": pl.String, "kind": pl.String, "receivable_id": pl.String}


@dataclass(frozen=True)
class ReceivableKeys:
    """Per key value of each route (`receivables_by`): how many receivables have it, and the one when one does."""

    by_number: pl.DataFrame
    by_filing: pl.DataFrame
    by_notice: pl.DataFrame


def receivable_keys(receivable_versions: pl.DataFrame) -> ReceivableKeys:
    """The lookups of every route over receivable_versions (a partitioned rebuild makes them once for all its parts)."""
    return ReceivableKeys(*(receivables_by(receivable_versions, keys) for keys in ROUTE_KEYS))


def matched_columns() -> list[str]:
    """The columns of `matched_payments`: those of `payments`, then the route and the 管理 and link columns."""
    return payment_columns() + MATCHED_EXTRA


def matched_payments(
    payments: pl.DataFrame,
    management_records: pl.DataFrame,
    link_records: pl.DataFrame,
    receivable_versions: pl.DataFrame | ReceivableKeys,
    payments_decided: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Payments with their route, 管理 and link columns; `to_match` ones `applied` to a receivable or `pending` with a code.

    receivable_versions: every receivable ever delivered, or its `receivable_keys` (looking them up
    over millions of receivables takes seconds: a partitioned rebuild does it once). payments_decided (payment_key, kind, receivable_id): the `match` and `return` decisions in force
    (transforms/decisions.py), which decide a payment that was to match whatever its route found.
    """
    routed = _with_management(payments.select(LOOKUP_COLUMNS), _newest_management(management_records))
    linked = _with_links(routed, _link_moments(link_records))
    # Every join keeps the left's rows and order (a left join on a unique right side): rows line up.
    outcomes = _match_outcomes(linked, receivable_versions)
    found = pl.concat([linked.select(*MATCHED_EXTRA, "management_payer_address"), outcomes], how="horizontal")
    settled = _settled(pl.concat([payments, found], how="horizontal"))
    return _with_decisions(settled, payments_decided).select(matched_columns())


def _newest_management(management_records: pl.DataFrame) -> pl.DataFrame:
    """One 管理 record per (共通納税ID, 連番): the newest delivery (file date, delivery number, record number)."""
    newest = management_records.sort(RECORD_ORDER).unique(subset=CASE, keep="last")
    return newest.select(*CASE, *MANAGEMENT_FIELDS, *MANAGEMENT_RENAMED).rename(MANAGEMENT_RENAMED)


def _link_moments(link_records: pl.DataFrame) -> pl.DataFrame:
    """One row per (納税者ID, 税目区分, 利用者情報更新日時): the link then made, `link_count` > 1 when links disagree."""
    # A 紐付履歴 record is an event identified by all its fields: a repeated delivery is one event.
    origin = {column.name for column in FILE_ORIGIN}
    fields = [name for name in link_records.columns if name not in origin]
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
    case_id = pl.when(pl.col("source") == PaymentSource.PAYMENT_FILE).then(pl.col("common_tax_id"))
    joined = payments.with_columns(case_id.alias("management_case_id")).join(
        management.rename({"common_tax_id": "management_case_id"}).with_columns(pl.lit(True).alias("has_management")),
        on=["management_case_id", "sequence_number"],
        how="left",
        validate="m:1",
        maintain_order="left",
    )
    route = pl.when(pl.col("source") == PaymentSource.PROVISIONAL).then(3).when(pl.col("has_management")).then(2).otherwise(1)
    return joined.with_columns(route.cast(pl.Int64).alias("route"))


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
    linked = routed.with_columns(cutoff).join(found, on=[*LINK_KEY, "link_cutoff"], how="left", validate="m:1", maintain_order="left")
    usable = (pl.col("registration_class") != RegistrationClass.DISSOLVED) & (pl.col("link_count") == 1)
    return linked.with_columns(pl.when(usable).then(pl.col("specific_key_1")).alias("specific_key_1"))


def receivables_by(receivable_versions: pl.DataFrame, keys: dict[str, str]) -> pl.DataFrame:
    """Per key value (receivable column → payment column): how many receivables have it, and the receivable when one does."""
    found = (
        receivable_versions.select(*keys, "receivable_id")
        .drop_nulls(list(keys))
        .group_by(*keys)
        .agg(pl.len().alias("receivable_count"), pl.col("receivable_id").first())
    )
    single = pl.when(pl.col("receivable_count") == 1).then(pl.col("receivable_id"))
    return found.with_columns(single.alias("receivable_id")).rename(keys)


def _match_outcomes(linked: pl.DataFrame, receivable_versions: pl.DataFrame | ReceivableKeys) -> pl.DataFrame:
    """Per payment, in `linked`'s order: `match_error` and `match_receivable_id` by its route's keys."""
    if isinstance(receivable_versions, ReceivableKeys):
        # Lookups of every receivable met by a part of the payments: narrowed first to the part's keys,
        # so each join hashes the few found, not the millions (a semi join hashes the payments' side).
        keys = ReceivableKeys(*(_narrowed(found, linked, route_keys) for found, route_keys in zip(vars(receivable_versions).values(), ROUTE_KEYS, strict=True)))
    else:
        keys = receivable_keys(receivable_versions)
    route = pl.col("route")
    # Each route looks up only its own payments; the row index puts the outcomes back in order.
    indexed = linked.with_row_index(ROW)
    outcomes = [
        _route_1(indexed.filter(route == 1), keys.by_number),
        _route_2(indexed.filter(route == 2), keys.by_filing),
        *_route_3(indexed.filter(route == 3), keys.by_notice, keys.by_number),
    ]
    return pl.concat(outcomes).sort(ROW).drop(ROW)


def _narrowed(found: pl.DataFrame, payments: pl.DataFrame, keys: dict[str, str]) -> pl.DataFrame:
    """The rows of a route's lookup whose key some payment has."""
    columns = list(keys.values())
    return found.join(payments.select(columns).drop_nulls().unique(), on=columns, how="semi")


def _looked_up(payments: pl.DataFrame, found: pl.DataFrame, keys: dict[str, str]) -> pl.DataFrame:
    return payments.join(found, on=list(keys.values()), how="left", validate="m:1", maintain_order="left")


def _outcome(looked_up: pl.DataFrame, error: pl.Expr) -> pl.DataFrame:
    return looked_up.select(ROW, error.alias("match_error"), pl.col("receivable_id").alias("match_receivable_id"))


def _found(otherwise: pl.Expr) -> pl.Expr:
    """`00` when the key found one receivable, `90` when it found several, else `otherwise`."""
    count = pl.col("receivable_count")
    return pl.when(count == 1).then(pl.lit(ErrorClass.APPLIED)).when(count > 1).then(pl.lit(ErrorClass.OTHER)).otherwise(otherwise)


def _route_1(payments: pl.DataFrame, by_number: pl.DataFrame) -> pl.DataFrame:
    """eL-QR 納付書 payments by (納付番号, 確認番号); unmatched: 20 for eL-QR, else 30 (its 管理 record is missing)."""
    el_qr = pl.col("payment_scheme") == PaymentScheme.EL_QR
    unmatched = pl.when(el_qr).then(pl.lit(ErrorClass.NO_RECEIVABLE)).otherwise(pl.lit(ErrorClass.NO_MANAGEMENT))
    return _outcome(_looked_up(payments, by_number, BY_NUMBER), _found(unmatched))


def _route_2(payments: pl.DataFrame, by_filing: pl.DataFrame) -> pl.DataFrame:
    """eLTAX 申告 payments by (linked taxpayer, 申告受付番号): 10 without a usable link, 20 without the receivable."""
    error = (
        pl.when(pl.col("link_count") > 1)
        .then(pl.lit(ErrorClass.OTHER))
        .when(pl.col("specific_key_1").is_null())
        .then(pl.lit(ErrorClass.NOT_LINKED))
        .otherwise(_found(pl.lit(ErrorClass.NO_RECEIVABLE)))
    )
    return _outcome(_looked_up(payments, by_filing, BY_FILING), error)


def _route_3(payments: pl.DataFrame, by_notice: pl.DataFrame, by_number: pl.DataFrame) -> list[pl.DataFrame]:
    """Delivered 仮登録 payments by (通知書番号, 期別), else by (納付番号, 確認番号); neither: 20."""
    by_notice_found = _looked_up(payments, by_notice, BY_NOTICE)
    # The fallback is for a notice key that finds nothing, not for one that finds two (90, no guess).
    missing = pl.col("receivable_count").is_null()
    fallback = _looked_up(by_notice_found.filter(missing).drop("receivable_count", "receivable_id"), by_number, BY_NUMBER)
    unmatched = _found(pl.lit(ErrorClass.NO_RECEIVABLE))
    return [_outcome(by_notice_found.filter(~missing), unmatched), _outcome(fallback, unmatched)]


def _settled(looked_up: pl.DataFrame) -> pl.DataFrame:
    """`to_match` payments applied (00, with their receivable) or pending with the code; others unchanged."""
    to_match = pl.col("status") == TO_MATCH
    error = pl.col("match_error")
    applied = error == ErrorClass.APPLIED
    outcome = pl.when(applied).then(pl.lit(PaymentStatus.APPLIED)).otherwise(pl.lit(PaymentStatus.PENDING))
    receivable = pl.when(applied).then(pl.col("match_receivable_id"))
    return looked_up.with_columns(
        pl.coalesce("payer_address", "management_payer_address").alias("payer_address"),
        pl.when(to_match).then(outcome).otherwise(pl.col("status")).alias("status"),
        pl.when(to_match).then(error).otherwise(pl.col("error_class")).alias("error_class"),
        pl.when(to_match).then(receivable).otherwise(pl.col("receivable_id")).alias("receivable_id"),
    )


def _with_decisions(settled: pl.DataFrame, payments_decided: pl.DataFrame | None) -> pl.DataFrame:
    """settled with the office's `match` and `return` decisions applied (SPEC §6), and matched_by of every applied payment.

    A decision acts on a payment that was to match (applied by a route, or pending 10, 20, 30, 90):
    a payment a 取消 reversed, a held one or one its sender withdrew is not the office's to match.
    """
    decided = pl.DataFrame(schema=DECIDED_SCHEMA) if payments_decided is None else payments_decided.select(*DECIDED_SCHEMA)
    renamed = decided.rename({"kind": "decided_kind", "receivable_id": "decided_receivable_id"})
    joined = settled.join(renamed, on="payment_key", how="left", validate="m:1", maintain_order="left")
    status = pl.col("status")
    was_to_match = (status == PaymentStatus.APPLIED) | (
        (status == PaymentStatus.PENDING) & (pl.col("error_class") != ErrorClass.UNKNOWN_CANCELLATION)
    )
    match = was_to_match & (pl.col("decided_kind") == DecisionKind.MATCH)
    returned = was_to_match & (pl.col("decided_kind") == DecisionKind.RETURN)
    decided_status = pl.when(match).then(pl.lit(PaymentStatus.APPLIED)).when(returned).then(pl.lit(PaymentStatus.RETURNED)).otherwise(status)
    route = pl.format("route{}", pl.col("route"))
    matched_by = pl.when(match).then(pl.lit(MatchedBy.DECISION)).when(status == PaymentStatus.APPLIED).then(route)
    return joined.with_columns(
        decided_status.alias("status"),
        pl.when(match).then(pl.lit(ErrorClass.APPLIED)).otherwise(pl.col("error_class")).alias("error_class"),
        pl.when(match).then(pl.col("decided_receivable_id")).when(returned).then(None).otherwise(pl.col("receivable_id")).alias("receivable_id"),
        matched_by.alias("matched_by"),
    )
