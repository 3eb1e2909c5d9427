"""The work queue (SPEC §6.2): every pending and held payment, oldest 納付日 first, with up to three suggested receivables.

A suggestion only points the office at a receivable and says why; it is never applied. A payment
is applied by a route of SPEC §3 or by the office's own `match` decision (SPEC §6), nothing else.
The three reasons, strongest first (`SuggestionReason`'s order):

- `reissued_numbers`: an earlier version of the receivable carried the payment's (納付番号,
  確認番号) and its newest does not: the bill was re-issued with new numbers after it was paid;
- `filing_number`: the payment's 管理 record names a 申告受付番号 and its taxpayer's link has not
  arrived (エラー区分 10): the receivable with that 申告受付番号;
- `same_principal`: an unpaid receivable whose outstanding 本税 equals the paid 本税, with the same
  税目 and 期別 when the payment has them.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from schemas.codes import TAX_CODE_BY_ELTAX_CLASS, ErrorClass, PaymentStatus, SuggestionReason
from transforms.ledger import conformed
from transforms.receivables import SNAPSHOT_ORDER

WAITING = [PaymentStatus.PENDING, PaymentStatus.HELD]
SUGGESTIONS_SHOWN = 3
NUMBERS = ["payment_number", "confirmation_number"]
UNPAID_COLUMNS = ["receivable_id", "tax_code", "installment", "principal_outstanding"]
SUGGESTION_SCHEMA = {"payment_key": pl.String, "suggested_receivable_id": pl.String, "suggestion_reason": pl.String}
REASON_ORDER = {reason.value: order for order, reason in enumerate(SuggestionReason)}
# The keys a payment's 本税 is compared on, the most exact first: a payment uses the first whose
# columns it has all (a payment-file payment has no 期別, and no 税目 without a 管理 record).
SAME_PRINCIPAL_KEYS = (["principal_outstanding", "tax_code", "installment"], ["principal_outstanding", "tax_code"], ["principal_outstanding"])


def reissued_numbers(snapshots: pl.DataFrame, receivable_versions: pl.DataFrame) -> pl.DataFrame:
    """(receivable_id, 納付番号, 確認番号) that an earlier snapshot version of a receivable carried and its newest does not."""
    # The newest delivery holds the newest version of every receivable in it: only earlier rows can
    # differ, and comparing just those keeps this cheap when the stored snapshots are millions of rows.
    numbers = snapshots.select("receivable_id", *NUMBERS, *SNAPSHOT_ORDER)
    if numbers.is_empty():
        return numbers.select("receivable_id", *NUMBERS)
    last = numbers.select(SNAPSHOT_ORDER).sort(SNAPSHOT_ORDER).row(-1)
    newest_delivery = (pl.col(SNAPSHOT_ORDER[0]) == last[0]) & (pl.col(SNAPSHOT_ORDER[1]) == last[1])
    earlier = numbers.filter(~newest_delivery).select("receivable_id", *NUMBERS).drop_nulls(NUMBERS)
    delivered_earlier = pl.col("receivable_id").is_in(earlier["receivable_id"].implode())
    newest = receivable_versions.filter(delivered_earlier).select("receivable_id", *[pl.col(name).alias(f"newest_{name}") for name in NUMBERS])
    joined = earlier.join(newest, on="receivable_id", how="inner", validate="m:1")
    changed = pl.any_horizontal(pl.col(name).ne_missing(pl.col(f"newest_{name}")) for name in NUMBERS)
    return joined.filter(changed).select("receivable_id", *NUMBERS).unique().sort("receivable_id", *NUMBERS)


def work_queue(
    matched: pl.DataFrame,
    reissued: pl.DataFrame,
    receivable_versions: pl.DataFrame,
    receivables: pl.DataFrame,
    applications: pl.DataFrame,
    offsets: pl.DataFrame,
    arrears: pl.DataFrame,
    as_of: date,
) -> pl.DataFrame:
    """The `work_queue` table: one row per waiting payment and suggestion (rank 1–3); a payment without one has one row.

    matched: the payments with their route's columns (transforms/matching.py); reissued: from
    `reissued_numbers`; receivables: the newest snapshot's, with their effective 納期限, whose 本税
    the applications and 充当 settle in part or whole (what is left of those past due: arrears).
    """
    unpaid = unpaid_principals(receivables, applications, offsets, arrears, as_of)
    return work_queue_of_unpaid(matched, reissued, receivable_versions, unpaid, as_of)


def work_queue_of_unpaid(
    matched: pl.DataFrame, reissued: pl.DataFrame, receivable_versions: pl.DataFrame, unpaid: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """The `work_queue` table, given the `unpaid_principals` (a partitioned rebuild gathers them a part at a time).

    unpaid may leave out every receivable whose principal_outstanding no waiting payment paid: none
    of those can be suggested. receivable_versions: receivable_id and filing_receipt_number are read.
    """
    waiting = matched.filter(pl.col("status").is_in(WAITING))
    found = pl.concat(
        [
            reissued_suggestions(waiting, reissued),
            filing_number_suggestions(waiting, receivable_versions),
            same_principal_suggestions(waiting, unpaid),
        ]
    )
    return _queue_rows(waiting, ranked_suggestions(found), as_of)


def reissued_suggestions(waiting: pl.DataFrame, reissued: pl.DataFrame) -> pl.DataFrame:
    """Per waiting payment, the receivables whose earlier version carried its (納付番号, 確認番号)."""
    found = waiting.select("payment_key", *NUMBERS).drop_nulls(NUMBERS).join(reissued, on=NUMBERS)
    return _suggestions(found, SuggestionReason.REISSUED_NUMBERS)


def filing_number_suggestions(waiting: pl.DataFrame, receivable_versions: pl.DataFrame) -> pl.DataFrame:
    """Per payment whose taxpayer's link has not arrived (10), the receivables with its 管理 record's 申告受付番号."""
    unlinked = waiting.filter(pl.col("error_class") == ErrorClass.NOT_LINKED).select("payment_key", "filing_receipt_number")
    found = unlinked.drop_nulls().join(receivable_versions.select("receivable_id", "filing_receipt_number"), on="filing_receipt_number")
    return _suggestions(found, SuggestionReason.FILING_NUMBER)


def same_principal_suggestions(waiting: pl.DataFrame, unpaid_principals: pl.DataFrame) -> pl.DataFrame:
    """Per waiting payment, the first three unpaid receivables whose outstanding 本税 is its paid 本税 (税目, 期別 when it has them)."""
    # A payment-file payment carries no 税目: its 管理 record's 税目区分 says it.
    eltax_tax_code = pl.col("eltax_tax_class").replace_strict(TAX_CODE_BY_ELTAX_CLASS, default=None, return_dtype=pl.String)
    payments = waiting.filter(pl.col("paid_principal") > 0).select(
        "payment_key",
        pl.col("paid_principal").alias("principal_outstanding"),
        pl.coalesce("tax_code", eltax_tax_code).alias("tax_code"),
        "installment",
    )
    # Only the amounts some waiting payment paid can be suggested: the rest need not be sorted.
    owing_a_paid_amount = pl.col("principal_outstanding").is_in(payments["principal_outstanding"].implode())
    found, unpaid = [], unpaid_principals.filter(owing_a_paid_amount).select(UNPAID_COLUMNS).sort("receivable_id")
    for keys in SAME_PRINCIPAL_KEYS:
        keyed = payments.filter(pl.all_horizontal(pl.col(keys).is_not_null()))
        payments = payments.join(keyed, on="payment_key", how="anti")
        # Only three are shown: three per key keeps the join small when many receivables owe one amount.
        first_three = unpaid.group_by(keys, maintain_order=True).head(SUGGESTIONS_SHOWN)
        found.append(keyed.select("payment_key", *keys).join(first_three.select("receivable_id", *keys), on=keys))
    return _suggestions(pl.concat(found, how="diagonal"), SuggestionReason.SAME_PRINCIPAL)


def unpaid_principals(receivables: pl.DataFrame, applications: pl.DataFrame, offsets: pl.DataFrame, arrears: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """(receivable_id, tax_code, installment, principal_outstanding) of each receivable whose 本税 is not wholly paid or offset."""
    # A receivable past its 納期限 with 本税 unpaid is in arrears, which already holds what is left
    # of it; only those not yet due are summed here, so the millions of applications are not.
    past_due = arrears.filter(pl.col("principal_outstanding") > 0).select(*UNPAID_COLUMNS)
    not_yet_due = receivables.filter(pl.col("effective_due_date") >= as_of)
    of_those = pl.col("receivable_id").is_in(not_yet_due["receivable_id"].implode())
    applied = applications.filter(of_those).select("receivable_id", pl.col("principal_applied").alias("settled"))
    offset = offsets.filter(of_those).select("receivable_id", pl.col("principal_offset").alias("settled"))
    settled = pl.concat([applied, offset]).group_by("receivable_id").agg(pl.col("settled").sum())
    joined = not_yet_due.join(settled, on="receivable_id", how="left")
    outstanding = (pl.col("principal") - pl.col("settled").fill_null(0)).alias("principal_outstanding")
    due_later = joined.select("receivable_id", "tax_code", "installment", outstanding).filter(pl.col("principal_outstanding") > 0)
    return pl.concat([past_due, due_later])


def ranked_suggestions(found: pl.DataFrame) -> pl.DataFrame:
    """Each payment's suggestions, a receivable once under its strongest reason, ranked 1–3 by reason, then receivable."""
    order = pl.col("suggestion_reason").replace_strict(REASON_ORDER, return_dtype=pl.Int64).alias("reason_order")
    best = found.with_columns(order).sort("payment_key", "reason_order", "suggested_receivable_id")
    best = best.unique(["payment_key", "suggested_receivable_id"], keep="first", maintain_order=True)
    ranked = best.with_columns((pl.int_range(pl.len()).over("payment_key") + 1).alias("suggestion_rank"))
    return ranked.filter(pl.col("suggestion_rank") <= SUGGESTIONS_SHOWN).drop("reason_order")


def _suggestions(found: pl.DataFrame, reason: SuggestionReason) -> pl.DataFrame:
    renamed = found.select("payment_key", pl.col("receivable_id").alias("suggested_receivable_id"), pl.lit(reason.value).alias("suggestion_reason"))
    return renamed.cast(SUGGESTION_SCHEMA).unique()


def _queue_rows(waiting: pl.DataFrame, ranked: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The waiting payments, each with its ranked suggestions or one row without, oldest 納付日 first."""
    rows = waiting.join(ranked, on="payment_key", how="left").with_columns(
        (pl.lit(as_of) - pl.col("first_seen_on")).dt.total_days().alias("days_waiting"),
        pl.lit(as_of).alias("as_of"),
    )
    return conformed(rows, "work_queue").sort("paid_on", "payment_key", "suggestion_rank", nulls_last=True)
