"""Every refusal rule of SPEC §6: a decision that does not fit what is stored gets a one-line reason naming what it is about."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.codes import DecisionKind
from schemas.decisions import Decision
from schemas.exemptions import load_exemption_kinds
from transforms.decision_rules import CandidateFacts, EntryFacts, StoredFacts, refusal, refusals

TODAY = date(2026, 5, 13)
DAY = date(2026, 5, 12)


def facts(entries: list[EntryFacts] | None = None) -> StoredFacts:
    return StoredFacts(
        today=TODAY,
        exemption_kinds=load_exemption_kinds(),
        payments={
            "P10": ("pending", "10"),
            "P20": ("pending", "20"),
            "P50": ("pending", "50"),
            "PA": ("applied", "00"),
            "PH": ("held", "40"),
        },
        sightings={"PH": {("NOFU_NYUKIN_X.dat", 16), ("NOFU_NOFUBI_X.dat", 17)}},
        receivables_delivered={"R1", "RC"},
        receivables_current={"R1"},
        candidates={
            "C1": CandidateFacts("open", date(2026, 5, 8), 1),
            "C2": CandidateFacts("open", date(2026, 5, 8), 0),
            "CX": CandidateFacts("expired", date(2020, 5, 8), 0),
        },
        entries=entries or [],
        held_snapshots={"CHOTEI_HELD.csv"},
    )


def decision(kind: DecisionKind, **fields) -> Decision:
    return Decision.model_validate({"kind": kind, "decided_on": DAY, "reason_code": "TEST"} | fields)


MATCH = {"payment_key": "P10", "receivable_id": "R1"}


@pytest.mark.parametrize(
    ("made", "reason"),
    [
        (decision(DecisionKind.MATCH, payment_key="NOPE", receivable_id="R1"), "payment NOPE is not stored"),
        (decision(DecisionKind.MATCH, payment_key="PA", receivable_id="R1"), "payment PA is applied (error class 00), not pending with 10, 20, 30 or 90"),
        (decision(DecisionKind.MATCH, payment_key="P50", receivable_id="R1"), "payment P50 is pending (error class 50), not pending with 10, 20, 30 or 90"),
        (decision(DecisionKind.MATCH, payment_key="P10", receivable_id="RX"), "receivable RX is in no snapshot"),
        (decision(DecisionKind.MATCH, payment_key="P10", receivable_id="RC"), "receivable RC is cancelled (absent from the latest snapshot)"),
        (decision(DecisionKind.RESOLVE, payment_key="P10", file_name="F", record_number=1), "payment P10 is pending, not held"),
        (decision(DecisionKind.RESOLVE, payment_key="PH", file_name="NOFU_NYUKIN_X.dat", record_number=2), "payment PH was not seen in NOFU_NYUKIN_X.dat record 2"),
        (decision(DecisionKind.RETURN, payment_key="PH"), "payment PH is held (error class 40), not pending with 10, 20, 30 or 90"),
        (decision(DecisionKind.REFUNDED, candidate_id="CZ"), "refund candidate CZ is not stored"),
        (decision(DecisionKind.REFUNDED, candidate_id="CX"), "refund candidate CX is expired, not open"),
        (decision(DecisionKind.REFUNDED, candidate_id="C1", decided_on=date(2026, 5, 7)), "decided_on 2026-05-07 is before refund candidate C1 arose (2026-05-08)"),
        (decision(DecisionKind.OFFSET, candidate_id="C2"), "refund candidate C2 has no proposed 充当 to execute"),
        (decision(DecisionKind.EXEMPT, receivable_id="RX", exemption_kind="disaster", start_on=DAY), "receivable RX is in no snapshot"),
        (decision(DecisionKind.EXEMPT, receivable_id="RC", exemption_kind="disaster", start_on=DAY), "receivable RC is cancelled (absent from the latest snapshot)"),
        (decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="flood", start_on=DAY), "receivable R1: unknown exemption kind 'flood'"),
        (decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="reduction", start_on=DAY), "receivable R1: exemption kind 'reduction' needs the fraction"),
        (decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="deferral", start_on=DAY, fraction="1"), "receivable R1: exemption kind 'deferral' exempts 1/2, not 1"),
        (decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="reduction", start_on=DAY, fraction="2/3"), "receivable R1: an exempted fraction is 1 or 1/2"),
        (decision(DecisionKind.REVOKE, decision_id="D000009"), "decision D000009 is not stored"),
        (decision(DecisionKind.ACCEPT_SNAPSHOT, file_name="CHOTEI_X.csv"), "CHOTEI_X.csv is not a held snapshot (see ingested_files)"),
        (decision(DecisionKind.MATCH, decided_on=date(2026, 5, 14), **MATCH), "decided_on 2026-05-14 is after today (2026-05-13)"),
    ],
)
def test_a_decision_that_does_not_fit_what_is_stored_is_refused_with_its_reason(made, reason):
    found = refusal(made, facts(), [])
    assert found is not None and found.startswith(reason), found
    assert "\n" not in found


def test_a_decision_that_fits_is_not_refused():
    fitting = [
        decision(DecisionKind.MATCH, **MATCH),
        decision(DecisionKind.RESOLVE, payment_key="PH", file_name="NOFU_NYUKIN_X.dat", record_number=16),
        decision(DecisionKind.RETURN, payment_key="P20"),
        decision(DecisionKind.REFUNDED, candidate_id="C2", amount=5000),
        decision(DecisionKind.OFFSET, candidate_id="C1"),
        decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="reduction", start_on=DAY, fraction="1/2"),
    ]
    assert refusals(fitting, facts(), [f"D00000{n}" for n in range(1, 7)]) == [None] * 6


def test_two_decisions_on_one_payment_are_refused_until_the_first_is_revoked():
    entries = [EntryFacts("D000001", DecisionKind.MATCH, "P10", None, None)]
    assert refusal(decision(DecisionKind.RETURN, payment_key="P10"), facts(entries), entries) == (
        "payment P10 already has decision D000001 (match) in force; revoke it first"
    )
    revoked = [*entries, EntryFacts("D000002", DecisionKind.REVOKE, None, None, "D000001")]
    # Once the match is revoked nothing is in force on the payment: another decision on it fits.
    assert refusal(decision(DecisionKind.RETURN, payment_key="P10"), facts(revoked), revoked) is None


def test_a_file_is_checked_row_by_row_against_the_rows_before_it():
    rows = [decision(DecisionKind.MATCH, **MATCH), decision(DecisionKind.RETURN, payment_key="P10"), decision(DecisionKind.REVOKE, decision_id="D000001")]
    found = refusals(rows, facts(), ["D000001", "D000002", "D000003"])
    assert found == [None, "payment P10 already has decision D000001 (match) in force; revoke it first", None]


def test_the_same_kind_twice_on_a_candidate_and_a_revoke_of_a_revoke_or_of_a_voided_decision_are_refused():
    entries = [
        EntryFacts("D000001", DecisionKind.OFFSET, None, "C1", None),
        EntryFacts("D000002", DecisionKind.MATCH, "P10", None, None),
        EntryFacts("D000003", DecisionKind.REVOKE, None, None, "D000002"),
    ]
    assert refusal(decision(DecisionKind.OFFSET, candidate_id="C1"), facts(entries), entries) == (
        "refund candidate C1 already has decision D000001 (offset) in force"
    )
    assert refusal(decision(DecisionKind.REVOKE, decision_id="D000003"), facts(entries), entries) == (
        "decision D000003 is a revoke; enter the decision it voided again instead"
    )
    assert refusal(decision(DecisionKind.REVOKE, decision_id="D000002"), facts(entries), entries) == "decision D000002 is already revoked"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "match", "payment_key": "P10", "decided_on": DAY, "reason_code": "X"}, "match needs receivable_id"),
        ({"kind": "refunded", "candidate_id": "C1", "reason_code": "X"}, "refunded needs decided_on"),
        ({"kind": "match", "payment_key": "P", "receivable_id": "R", "decided_on": DAY, "reason_code": "two words"}, "String should match pattern"),
        ({"kind": "exempt", "receivable_id": "R1", "exemption_kind": "disaster", "start_on": DAY, "end_on": date(2026, 5, 1), "reason_code": "X"}, "the exemption ends on 2026-05-01"),
        ({"kind": "approve", "reason_code": "X", "decided_on": DAY}, "Input should be"),
    ],
)
def test_a_decision_missing_what_its_kind_needs_is_refused_before_anything_is_looked_up(fields, message):
    with pytest.raises(ValueError, match=message):
        Decision.model_validate(fields)


def test_a_held_snapshot_is_accepted_once():
    accept = decision(DecisionKind.ACCEPT_SNAPSHOT, file_name="CHOTEI_HELD.csv")
    assert refusals([accept, accept], facts(), ["D000001", "D000002"]) == [
        None,
        "snapshot CHOTEI_HELD.csv is already accepted by decision D000001; run its date again to use it",
    ]


def test_an_exemption_takes_effect_on_its_first_day():
    assert decision(DecisionKind.EXEMPT, receivable_id="R1", exemption_kind="disaster", start_on=DAY, decided_on=None).decided_on == DAY
