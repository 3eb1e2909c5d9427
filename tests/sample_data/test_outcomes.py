"""The planted cases' declared outcomes: one for every case, and the README table made from them."""

from pathlib import Path

from sample_data.outcomes import PLANTED_OUTCOMES, planted_cases_table

README = Path(__file__).resolve().parents[2] / "sample_data" / "README.md"


def test_every_planted_case_declares_what_it_must_produce(committed_sample):
    assert set(PLANTED_OUTCOMES) == set(committed_sample.cases["case"])


def test_the_readme_table_is_the_one_the_planted_cases_make(committed_sample):
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- planted cases: begin -->\n", "<!-- planted cases: end -->"
    table = text[text.index(start) + len(start) : text.index(end)]
    assert table == planted_cases_table(committed_sample.cases), "write planted_cases_table(committed_sample.cases) between the markers"
    assert table.count("\n") == committed_sample.cases.height + 2


def test_the_table_says_what_a_case_must_produce(committed_sample):
    rows = {line.split(" | ")[0]: line for line in planted_cases_table(committed_sample.cases).splitlines()}
    assert rows["| `offset`"].endswith("| applied (00) | 0 / 0 / 0 | none | 誤納: 充当 31,800, refund 15,500 | none |")
    assert rows["| `partial`"].endswith("| applied (00) | 50,000 / 0 / 0 | 34,000, 0 | none | none |")
    assert rows["| `invalid_impossible_date`"].endswith("| no payment | nothing | none | none | record, field `paid_on` |")
    assert rows["| `rejected_file`"].endswith("| — | — | — | — | file rejected |")
