"""`shuno explain` on the committed sample's database (the session's `sample_nights`): found, not found, JSON, nothing personal."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.database import connect, open_database
from flows.explain_command import explanation, read_only
from flows.settlement import load_law_tables, rebuild_derived
from schemas.exemptions import load_exemption_kinds
from schemas.rates import load_rates
from schemas.settings import Settings
from tests.flows.flow_records import assert_nothing_personal, personal_strings
from transforms.explanation import LateFeeLaw
from tests.databases import read_only_database

LAW = LateFeeLaw(load_rates(), load_exemption_kinds(), {})
# A receivable in arrears with a partial payment and 延滞金 (the 本税 left bears it); the first such, by id.
IN_ARREARS_PARTLY_PAID = (
    "SELECT a.receivable_id FROM arrears a JOIN applications p USING (receivable_id) "
    "WHERE a.principal_outstanding > 0 AND a.late_fee > 0 AND p.principal_applied > 0 ORDER BY 1 LIMIT 1"
)
LATE_FEE_PAID_OR_OWED = (
    "SELECT receivable_id FROM arrears UNION SELECT receivable_id FROM applications WHERE late_fee_applied > 0 "
    "UNION SELECT receivable_id FROM offsets WHERE late_fee_offset > 0 ORDER BY 1"
)
FIRST_PENDING = "SELECT payment_key FROM payments WHERE status = 'pending' ORDER BY 1 LIMIT 1"
INSERT_EXEMPTION = (
    "INSERT INTO decision_entries (decision_id, kind, receivable_id, exemption_kind, start_on, end_on, decided_on, "
    "reason_code, entered_by, entered_at) VALUES ('D000001', 'exempt', ?, 'suspension', ?, ?, ?, 'R01', 'tester', ?)"
)


def invoke(*arguments: str):
    return CliRunner().invoke(app, ["explain", *arguments])


def first(database, sql: str) -> str:
    with read_only_database(database) as connection:
        return connection.execute(sql).fetchall()[0][0]


@pytest.fixture(scope="module")
def database(sample_nights):
    return sample_nights.database_after()


@pytest.fixture(scope="module")
def explained(database, committed_sample) -> dict[str, tuple[str, ...]]:
    """The arguments of the explanations the tests read: a receivable in arrears, the offset case's candidate, a pending payment."""
    offset = committed_sample.cases.filter(committed_sample.cases["case"] == "offset").row(0, named=True)
    with read_only_database(database) as connection:
        [candidate] = connection.execute(
            "SELECT candidate_id FROM refund_candidates WHERE receivable_id = ?", [offset["receivable_id"]]
        ).fetchall()[0]
    return {
        "in arrears": (first(database, IN_ARREARS_PARTLY_PAID),),
        "candidate": ("--candidate", candidate),
        "pending payment": ("--payment", first(database, FIRST_PENDING)),
        "applied payment": ("--payment", first(database, "SELECT payment_key FROM applications WHERE late_fee_applied > 0 ORDER BY 1 LIMIT 1")),
    }


def test_a_receivable_in_arrears_is_told_with_its_payments_and_late_fee_pieces(database, explained):
    result = invoke(*explained["in arrears"], "--db", str(database))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"調定 {explained['in arrears'][0]}: ") and lines[0].endswith("滞納")
    for title in ("調定の版", "消込された納付", "延滞金の内訳 (見込", "督促", "職員の決定"):
        assert title in result.output
    assert "route" in result.output and "Traceback" not in result.output


def test_json_is_one_document_whose_late_fee_pieces_sum_to_what_arrears_charged_and_was_paid(database, explained):
    result = invoke(*explained["in arrears"], "--json", "--db", str(database))
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)["receivable"]
    assert story["late_fee_total"] > 0 and story["late_fee_status"] == "見込"
    assert sum(piece["yen"] for piece in story["late_fee_pieces"]) // 100 * 100 == story["late_fee_total"]
    assert story["late_fee_total"] == story["late_fee_outstanding"] + story["late_fee_paid"]
    assert all(isinstance(payment["principal_applied"], int) for payment in story["payments"])
    date.fromisoformat(story["as_of"])


def test_every_late_fee_of_the_sample_is_what_arrears_charged_plus_what_was_paid_of_it(database):
    with read_only(database) as connection:
        receivable_ids = [row[0] for row in connection.execute(LATE_FEE_PAID_OR_OWED).fetchall()]
        facts = [explanation(connection, "receivable", receivable_id, LAW)[0].facts for receivable_id in receivable_ids]
    assert len(facts) > 20
    assert [(f["receivable_id"], f["late_fee_total"]) for f in facts] == [
        (f["receivable_id"], f["late_fee_outstanding"] + f["late_fee_paid"]) for f in facts
    ]


def test_a_candidate_is_told_with_its_offsets_and_then_its_receivable(database, explained):
    result = invoke(*explained["candidate"], "--json", "--db", str(database))
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document) == ["candidate", "receivable"]
    candidate = document["candidate"]
    assert (candidate["kind"], candidate["offset_amount"], candidate["refund_amount"]) == ("誤納", 31_800, 15_500)
    assert [offset["principal_offset"] + offset["dunning_fee_offset"] + offset["late_fee_offset"] for offset in candidate["offsets"]] == [31_800]
    assert [row["candidate_id"] for row in document["receivable"]["refund_candidates"]] == [candidate["candidate_id"]]


def test_a_pending_payment_is_told_alone(database, explained):
    result = invoke(*explained["pending payment"], "--json", "--db", str(database))
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document) == ["payment"] and document["payment"]["status"] == "pending"
    assert document["payment"]["sighting_count"] >= 1


def test_unknown_ids_end_with_exit_1_and_one_line(database, tmp_path):
    for arguments in (("R-NONE",), ("--payment", "NONE"), ("--candidate", "NONE")):
        result = invoke(*arguments, "--db", str(database))
        assert result.exit_code == 1 and len(result.output.splitlines()) == 1 and "no " in result.output
    missing = invoke("R-NONE", "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 1 and "no database at" in missing.output and not (tmp_path / "none.duckdb").exists()
    assert invoke("--db", str(database)).exit_code == 2
    assert invoke("R1", "--payment", "K", "--db", str(database)).exit_code == 2


def test_a_database_another_process_writes_is_one_line(database, tmp_path):
    writable = tmp_path / "shuno.duckdb"
    writable.write_bytes(database.read_bytes())
    # A second connection of this process to a file it holds writable: DuckDB refuses the read-only one, as it does a second process.
    with open_database(writable):
        result = invoke("R1", "--db", str(writable))
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1 and "cannot be read" in result.output


def test_an_exemption_decision_shows_in_the_pieces_and_still_sums_to_what_arrears_charged(database, explained, tmp_path):
    writable = tmp_path / "shuno.duckdb"
    writable.write_bytes(database.read_bytes())
    receivable_id = explained["in arrears"][0]
    settings = Settings()
    with connect(writable) as connection:
        as_of = connection.execute("SELECT max(as_of) FROM arrears").fetchall()[0][0]
        connection.begin()
        # `shuno decide exempt` will enter this; until then, the row as it stores it.
        connection.execute(INSERT_EXEMPTION, [receivable_id, date(2026, 1, 1), date(2026, 1, 31), date(2026, 1, 1), datetime(2026, 5, 13)])
        rebuild_derived(connection, as_of, load_law_tables(settings), settings)
        connection.commit()
    result = invoke(receivable_id, "--json", "--db", str(writable))
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)["receivable"]
    exempted = [piece for piece in story["late_fee_pieces"] if piece["exempted_fraction"] == "1"]
    assert [(piece["start"], piece["end"], piece["yen"]) for piece in exempted] == [("2026-01-01", "2026-01-31", 0)]
    assert story["late_fee_exempted"] > 0
    assert story["late_fee_total"] == story["late_fee_outstanding"] + story["late_fee_paid"]
    [decision] = story["decisions"]
    assert (decision["kind"], decision["in_effect"], decision["revoked_by"]) == ("exempt", True, None)
    assert "note" not in decision and "entered_by" not in decision and "tester" not in result.output


def test_no_explanation_names_anyone(database, explained):
    payment_numbers, confirmation_numbers = personal_strings(database)
    assert len(payment_numbers) > 300 and len(confirmation_numbers) > 300
    for arguments in explained.values():
        for output in ("--json", None):
            result = invoke(*arguments, *([output] if output else []), "--db", str(database))
            assert result.exit_code == 0, result.output
            assert_nothing_personal(result.output, payment_numbers, confirmation_numbers)
