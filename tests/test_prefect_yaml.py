"""prefect.yaml: each deployment's entrypoint imports and its parameters validate against the flow's signature."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ParameterTypeError, SignatureMismatchError
from prefect.flows import load_flow_from_entrypoint

from schemas.codes import DecisionKind
from schemas.settings import DEFAULT_SETTINGS_FILE, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
# Parameters prefect.yaml leaves to each run, as an operator would pass them.
RUN_PARAMETERS = {
    "nightly": {"settlement_date": "2026-05-12"},
    "backfill": {"start": "2026-05-11", "end": "2026-05-13"},
    "nightly-all": {"settlement_date": "2026-05-12"},
    "decide": {"kind": "exempt", "reason_code": "STOP", "receivable_id": "R1", "exemption_kind": "suspension", "start_on": "2026-05-11"},
}


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict]:
    found = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    return {deployment["name"]: deployment for deployment in found}


def test_the_nightly_backfill_nightly_all_and_decide_deployments_are_declared(deployments):
    assert set(deployments) == {"nightly", "backfill", "nightly-all", "decide"}
    assert deployments["nightly-all"]["entrypoint"] == "flows/nightly.py:nightly_all"
    assert deployments["decide"]["entrypoint"] == "flows/decide_flow.py:decide"
    assert deployments["nightly"]["entrypoint"] == "flows/nightly.py:nightly"
    assert deployments["backfill"]["entrypoint"] == "flows/nightly.py:backfill"


@pytest.mark.parametrize("name", ["nightly", "backfill", "nightly-all"])
def test_each_entrypoint_imports_and_its_parameters_validate(deployments, name, monkeypatch):
    monkeypatch.chdir(ROOT)  # entrypoints are relative to the project, as for `prefect deploy`
    deployment = deployments[name]
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert flow.name == name
    validated = flow.validate_parameters(deployment["parameters"] | RUN_PARAMETERS[name])
    assert isinstance(validated["settings_file"], Path) and isinstance(validated["inbox"], Path)
    assert all(isinstance(validated[key], date) for key in RUN_PARAMETERS[name])


def test_the_decide_deployment_takes_the_decision_fields_typed(deployments, monkeypatch):
    monkeypatch.chdir(ROOT)
    deployment = deployments["decide"]
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    validated = flow.validate_parameters(deployment["parameters"] | RUN_PARAMETERS["decide"])
    assert validated["kind"] == DecisionKind.EXEMPT and validated["start_on"] == date(2026, 5, 11)
    assert isinstance(validated["database"], Path)
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters(deployment["parameters"] | RUN_PARAMETERS["decide"] | {"kind": "approve"})
    # The run form lists each field with its description, from the flow's docstring.
    assert "match, resolve, return" in flow.parameters.properties["kind"]["description"]


@pytest.mark.parametrize("name", ["nightly", "backfill", "nightly-all"])
def test_each_deployment_reads_the_committed_settings_file_that_shuno_run_reads(deployments, name, monkeypatch):
    monkeypatch.chdir(ROOT)  # a deployment's runs start in the checkout (the pull step)
    settings_file = Path(deployments[name]["parameters"]["settings_file"])
    assert settings_file == DEFAULT_SETTINGS_FILE and settings_file.is_file()
    assert isinstance(load_settings(settings_file), Settings)


def test_a_parameter_the_flow_does_not_take_or_a_bad_date_is_refused(deployments, monkeypatch):
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployments["nightly"]["entrypoint"])
    with pytest.raises(SignatureMismatchError):
        flow.validate_parameters(deployments["nightly"]["parameters"] | {"settlement_day": "2026-05-12"})
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters(deployments["nightly"]["parameters"] | {"settlement_date": "2026-02-30"})


def test_nightly_runs_at_two_in_tokyo_and_backfill_only_on_demand(deployments):
    (schedule,) = deployments["nightly"]["schedules"]
    assert CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"]) == CronSchedule(cron="0 2 * * *", timezone="Asia/Tokyo")
    assert not deployments["backfill"].get("schedules")
    # A shared centre turns nightly-all's schedule on instead of nightly's: both at once would run every file twice.
    (schedule,) = deployments["nightly-all"]["schedules"]
    assert schedule["cron"] == "0 2 * * *" and schedule["active"] is False


@pytest.mark.parametrize("name", ["nightly", "backfill", "nightly-all"])
def test_a_run_that_finds_another_in_progress_is_cancelled_not_queued(deployments, name):
    deployment = deployments[name]
    assert deployment["concurrency_limit"]["limit"] == 1
    assert ConcurrencyLimitStrategy(deployment["concurrency_limit"]["collision_strategy"]) == ConcurrencyLimitStrategy.CANCEL_NEW
    assert deployment["work_pool"]["name"] == "shuno-process"
