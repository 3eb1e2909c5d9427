"""Which fields are secret or personal (評価書 III; SPEC.md §2; the developers' brief).

Secret fields are never stored, logged or exported; where a record's raw bytes are kept they are
blanked first. Personal fields never appear in logs, artifacts, exceptions or the analyst copy.
"""

from __future__ import annotations

SECRET_FIELDS = frozenset({"password"})
PERSONAL_FIELDS = frozenset(
    {
        "payer_name",
        "payer_name_kana",
        "payer_address",
        "payment_number",
        "confirmation_number",
        "summary_confirmation_number",
    }
)
