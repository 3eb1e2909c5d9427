"""One decision of the office as entered (SPEC §6; CONTRACT v2 `shuno decide`), typed and checked for its own fields.

`shuno decide KIND …`, `shuno decide --file` (one CSV row each) and the Prefect deployment `decide`
all build a `Decision`; whether it fits what is stored is transforms/decision_rules.py's question.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from schemas.codes import DecisionKind

# The columns of a decisions CSV (CONTRACT v2), in order; decision_id names the decision a revoke voids.
DECISION_FILE_COLUMNS = (
    "kind",
    "payment_key",
    "receivable_id",
    "candidate_id",
    "file_name",
    "record_number",
    "exemption_kind",
    "start_on",
    "end_on",
    "fraction",
    "amount",
    "decided_on",
    "reason_code",
    "note",
    "decision_id",
)
# What each kind needs besides decided_on and reason_code (SPEC §6).
NEEDED_FIELDS = {
    DecisionKind.MATCH: ("payment_key", "receivable_id"),
    DecisionKind.RESOLVE: ("payment_key", "file_name", "record_number"),
    DecisionKind.RETURN: ("payment_key",),
    DecisionKind.REFUNDED: ("candidate_id",),
    DecisionKind.OFFSET: ("candidate_id",),
    DecisionKind.EXEMPT: ("receivable_id", "exemption_kind", "start_on"),
    DecisionKind.REVOKE: ("decision_id",),
    DecisionKind.ACCEPT_SNAPSHOT: ("file_name",),
}
# A reason code is a short code from the office's list, never free text: free text goes in the
# note, which stays out of logs, the audit log and the analyst copy (it may name a person).
ReasonCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
NOTE_LENGTH = 400


class DecisionFileError(ValueError):
    """A decisions CSV that cannot be read, or a row of it whose fields are wrong; the message names the row."""


class Decision(BaseModel):
    """One decision as the operator entered it (SPEC §6): its kind, what it is on, when it takes effect and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DecisionKind
    payment_key: str | None = None
    receivable_id: str | None = None
    candidate_id: str | None = None
    file_name: str | None = None
    record_number: int | None = Field(None, ge=1)
    exemption_kind: str | None = None
    start_on: date | None = None
    end_on: date | None = None
    fraction: str | None = None
    amount: int | None = Field(None, ge=0)
    # The day it takes effect, given by the operator (never the clock); an exemption's is its first day.
    decided_on: date | None = None
    reason_code: ReasonCode
    note: str | None = Field(None, max_length=NOTE_LENGTH)
    decision_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _exemption_takes_effect_when_it_starts(cls, fields: dict) -> dict:
        if isinstance(fields, dict) and fields.get("kind") == DecisionKind.EXEMPT and fields.get("decided_on") is None:
            return {**fields, "decided_on": fields.get("start_on")}
        return fields

    @model_validator(mode="after")
    def _needs_its_fields(self) -> Decision:
        missing = [name for name in (*NEEDED_FIELDS[self.kind], "decided_on") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.kind} needs {', '.join(missing)}")
        if self.end_on is not None and self.start_on is not None and self.end_on < self.start_on:
            raise ValueError(f"the exemption ends on {self.end_on}, before it starts on {self.start_on}")
        return self


def decision_error(error: ValidationError) -> str:
    """The first wrong field of a decision as one line, `field: reason`, without the value (a note may be personal)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def parsed_decisions(text: str, source: str) -> list[Decision]:
    """The decisions of a CSV (header DECISION_FILE_COLUMNS, empty cells for absent fields); errors name `source` and the row."""
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != DECISION_FILE_COLUMNS:
        raise DecisionFileError(f"{source}: header must be {','.join(DECISION_FILE_COLUMNS)}")
    decisions = []
    for row_number, row in enumerate(reader, start=1):
        if len(row) != len(DECISION_FILE_COLUMNS):
            raise DecisionFileError(f"{source} row {row_number}: expected {len(DECISION_FILE_COLUMNS)} columns, got {len(row)}")
        fields = {name: value for name, value in zip(DECISION_FILE_COLUMNS, row) if value != ""}
        try:
            decisions.append(Decision.model_validate(fields))
        except ValidationError as error:
            raise DecisionFileError(f"{source} row {row_number}: {decision_error(error)}") from None
    if not decisions:
        raise DecisionFileError(f"{source}: no decision in it")
    return decisions
