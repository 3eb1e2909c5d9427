"""Whether a decision fits what is stored (SPEC §6): the refusal rules, each a one-line reason naming what it is about.

A decision that does not fit is refused and nothing is stored. The rules read `StoredFacts`, the
little the flow looks up about the payments, receivables, candidates and decisions named; a file
of decisions is checked row by row against the facts and the rows before it, so two rows on one
payment are refused as two decisions in force would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from schemas.codes import CandidateStatus, DecisionKind, ErrorClass, PaymentStatus
from schemas.decisions import Decision
from schemas.exemptions import ExemptionKinds, parsed_fraction

# The kinds that decide a payment: at most one of them is in force on a payment (SPEC §6).
ON_PAYMENT = (DecisionKind.MATCH, DecisionKind.RESOLVE, DecisionKind.RETURN)
ON_CANDIDATE = (DecisionKind.REFUNDED, DecisionKind.OFFSET)
# A pending payment the office may match or return: every pending code but 50, a 取消 of a payment
# never seen, which carries no money to apply.
DECIDABLE_PENDING = (ErrorClass.NOT_LINKED, ErrorClass.NO_RECEIVABLE, ErrorClass.NO_MANAGEMENT, ErrorClass.OTHER)


@dataclass(frozen=True)
class CandidateFacts:
    """What the rules need of a stored refund candidate."""

    status: str
    arose_on: date
    proposed_offsets: int


@dataclass(frozen=True)
class EntryFacts:
    """What the rules need of a stored decision."""

    decision_id: str
    kind: str
    payment_key: str | None
    candidate_id: str | None
    revokes: str | None
    file_name: str | None = None


@dataclass
class StoredFacts:
    """What is stored about the payments, receivables, candidates and decisions a batch of decisions names."""

    today: date
    exemption_kinds: ExemptionKinds
    # payment_key → (status, error_class)
    payments: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    # payment_key → its sightings as (file_name, record_number)
    sightings: Mapping[str, set[tuple[str, int]]] = field(default_factory=dict)
    receivables_delivered: set[str] = field(default_factory=set)
    receivables_current: set[str] = field(default_factory=set)
    candidates: Mapping[str, CandidateFacts] = field(default_factory=dict)
    entries: list[EntryFacts] = field(default_factory=list)
    held_snapshots: set[str] = field(default_factory=set)


def refusals(decisions: Iterable[Decision], facts: StoredFacts, new_ids: Iterable[str]) -> list[str | None]:
    """The refusal of each decision (None where it fits), each checked after the ones before it were taken."""
    entries = list(facts.entries)
    found = []
    for decision, decision_id in zip(decisions, new_ids):
        reason = refusal(decision, facts, entries)
        found.append(reason)
        if reason is None:
            entries.append(EntryFacts(decision_id, decision.kind, decision.payment_key, decision.candidate_id, decision.decision_id, decision.file_name))
    return found


def refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    """Why decision does not fit what is stored and the decisions taken before it, or None when it fits."""
    if decision.decided_on > facts.today:
        return f"decided_on {decision.decided_on} is after today ({facts.today}): a decision takes effect on a day that has come"
    checks = {
        DecisionKind.MATCH: _match_refusal,
        DecisionKind.RESOLVE: _resolve_refusal,
        DecisionKind.RETURN: _return_refusal,
        DecisionKind.REFUNDED: _refunded_refusal,
        DecisionKind.OFFSET: _offset_refusal,
        DecisionKind.EXEMPT: _exempt_refusal,
        DecisionKind.REVOKE: _revoke_refusal,
        DecisionKind.ACCEPT_SNAPSHOT: _accept_snapshot_refusal,
    }
    return checks[decision.kind](decision, facts, entries)


def in_force(entries: list[EntryFacts]) -> list[EntryFacts]:
    """The entries no revoke voided, revokes left out."""
    voided = {entry.revokes for entry in entries if entry.kind == DecisionKind.REVOKE}
    return [entry for entry in entries if entry.kind != DecisionKind.REVOKE and entry.decision_id not in voided]


def _payment_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts], wanted: str) -> str | None:
    """The refusal shared by the kinds on a payment: unknown, another decision in force, or not in the state wanted."""
    key = decision.payment_key
    if key not in facts.payments:
        return f"payment {key} is not stored"
    deciding = [entry for entry in in_force(entries) if entry.kind in ON_PAYMENT and entry.payment_key == key]
    if deciding:
        return f"payment {key} already has decision {deciding[0].decision_id} ({deciding[0].kind}) in force; revoke it first"
    status, error_class = facts.payments[key]
    if wanted == PaymentStatus.PENDING and not (status == PaymentStatus.PENDING and error_class in DECIDABLE_PENDING):
        return f"payment {key} is {status} (error class {error_class}), not pending with 10, 20, 30 or 90"
    if wanted == PaymentStatus.HELD and status != PaymentStatus.HELD:
        return f"payment {key} is {status}, not held"
    return None


def _match_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    refused = _payment_refusal(decision, facts, entries, PaymentStatus.PENDING)
    receivable = decision.receivable_id
    if refused is None and receivable not in facts.receivables_delivered:
        refused = f"receivable {receivable} is in no snapshot"
    if refused is None and receivable not in facts.receivables_current:
        refused = f"receivable {receivable} is cancelled (absent from the latest snapshot)"
    return refused


def _resolve_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    refused = _payment_refusal(decision, facts, entries, PaymentStatus.HELD)
    sighting = (decision.file_name, decision.record_number)
    if refused is None and sighting not in facts.sightings.get(decision.payment_key, set()):
        refused = f"payment {decision.payment_key} was not seen in {decision.file_name} record {decision.record_number}"
    return refused


def _return_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    return _payment_refusal(decision, facts, entries, PaymentStatus.PENDING)


def _candidate_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    """The refusal shared by the kinds on a candidate: unknown, closed, the same kind in force, or a day before it arose."""
    candidate_id = decision.candidate_id
    candidate = facts.candidates.get(candidate_id)
    if candidate is None:
        return f"refund candidate {candidate_id} is not stored"
    same = [entry for entry in in_force(entries) if entry.kind == decision.kind and entry.candidate_id == candidate_id]
    if same:
        return f"refund candidate {candidate_id} already has decision {same[0].decision_id} ({decision.kind}) in force"
    if candidate.status != CandidateStatus.OPEN:
        return f"refund candidate {candidate_id} is {candidate.status}, not open"
    if decision.decided_on < candidate.arose_on:
        return f"decided_on {decision.decided_on} is before refund candidate {candidate_id} arose ({candidate.arose_on})"
    return None


def _refunded_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    # Whether --amount is the refund as of that day is known only once the tables are rebuilt with
    # the decision (flows/decide.py checks it there, before anything is committed).
    return _candidate_refusal(decision, facts, entries)


def _offset_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    refused = _candidate_refusal(decision, facts, entries)
    if refused is None and facts.candidates[decision.candidate_id].proposed_offsets == 0:
        refused = f"refund candidate {decision.candidate_id} has no proposed 充当 to execute"
    return refused


def _exempt_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    receivable = decision.receivable_id
    if receivable not in facts.receivables_delivered:
        return f"receivable {receivable} is in no snapshot"
    if receivable not in facts.receivables_current:
        return f"receivable {receivable} is cancelled (absent from the latest snapshot)"
    try:
        given = None if decision.fraction is None else parsed_fraction(decision.fraction)
        facts.exemption_kinds.fraction_of(decision.exemption_kind, given)
    except ValueError as error:
        return f"receivable {receivable}: {error}"
    return None


def _revoke_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    target = next((entry for entry in entries if entry.decision_id == decision.decision_id), None)
    if target is None:
        return f"decision {decision.decision_id} is not stored"
    if target.kind == DecisionKind.REVOKE:
        return f"decision {decision.decision_id} is a revoke; enter the decision it voided again instead"
    if target not in in_force(entries):
        return f"decision {decision.decision_id} is already revoked"
    return None


def _accept_snapshot_refusal(decision: Decision, facts: StoredFacts, entries: list[EntryFacts]) -> str | None:
    file_name = decision.file_name
    accepted = [entry for entry in in_force(entries) if entry.kind == DecisionKind.ACCEPT_SNAPSHOT and entry.file_name == file_name]
    if accepted:
        return f"snapshot {file_name} is already accepted by decision {accepted[0].decision_id}; run its date again to use it"
    if file_name not in facts.held_snapshots:
        return f"{file_name} is not a held snapshot (see ingested_files)"
    return None
