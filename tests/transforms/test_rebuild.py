"""The rebuild's wiring (docs/reconciliation.md): its table of rules, its inputs left alone, its order of steps."""

import importlib
import re
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.rates import load_rates
from tests.transforms.test_application import mixed_case, settle
from transforms import rebuild
from transforms.rebuild import STORED_COLUMNS, TABLES, derived_state

# A row of the module docstring's table: | §n | rule | `module.function` |
TABLE_ROW = re.compile(r"^\| (§[\d.]+) \| .+ \| `([\w.]+)` \|$", re.MULTILINE)
SPEC_SECTIONS = {"§3", "§3.1", "§4.1", "§4.2", "§4.3", "§7"}


def table_rows() -> list[tuple[str, str]]:
    return TABLE_ROW.findall(rebuild.__doc__)


def implementation(dotted: str) -> object:
    """The object a dotted name of the table names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_table_of_rules_covers_every_section_of_spec_3_4_and_7():
    assert {section for section, _ in table_rows()} == SPEC_SECTIONS
    assert len(table_rows()) == rebuild.__doc__.count("\n| §")


@pytest.mark.parametrize("dotted", sorted({dotted for _, dotted in table_rows()}))
def test_every_function_the_table_names_exists(dotted):
    assert callable(implementation(dotted))


def test_a_function_the_table_names_that_does_not_exist_is_found_missing():
    with pytest.raises(AttributeError):
        implementation("transforms.rebuild.no_such_step")


def test_derived_state_leaves_its_inputs_as_they_were():
    inputs = {name: pl.DataFrame(schema={column: TABLES[name].polars_schema[column] for column in columns}) for name, columns in STORED_COLUMNS.items()}
    given = dict(inputs)
    derived = derived_state(inputs, date(2026, 6, 30), load_rates())
    assert inputs.keys() == given.keys() and all(inputs[name] is given[name] for name in given)
    assert derived.payments.is_empty() and derived.arrears.is_empty()


@pytest.mark.parametrize("seed", range(5))
def test_result_does_not_depend_on_row_order(seed):
    snapshots, payments = mixed_case()
    expected = settle(snapshots, payments)
    shuffled = settle([frame.sample(fraction=1.0, shuffle=True, seed=seed) for frame in snapshots], payments.sample(fraction=1.0, shuffle=True, seed=seed))
    for name in ("applications", "overpaid_amounts", "refund_candidates", "offsets", "arrears"):
        assert_frame_equal(getattr(shuffled, name), getattr(expected, name))
