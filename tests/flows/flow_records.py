"""What the nightly tests share: Prefect's records of their flow runs, the run report's markdown, and the checks that nothing names a person.

The nightly tests are split by what they need (test_nightly: the sample's nights through the flows;
test_nightly_all: a shared centre; test_nightly_command: `shuno run`; test_nightly_alerts: failed,
warned and refused nights; test_nightly_prefect: the flows' own Prefect side), so that `make test`
runs them on different workers. Each serves Prefect's API for itself (tests/conftest.py
`prefect_api`) over its worker's PREFECT_HOME, and ends by reading what it stored there.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, FlowRunFilterState, FlowRunFilterStateName, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort, LogSort
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

from sample_data.names import SAMPLE_NAMES
from tests.databases import read_only_database

# One pass over megabytes instead of one per name.
NAMES = re.compile("|".join(re.escape(name) for name in SAMPLE_NAMES).encode())


def latest_flow_run(name: str, state: str) -> FlowRun:
    """The latest flow run named `name` that ended in the state named `state`."""
    with get_client(sync_client=True) as client:
        flow_run_filter = FlowRunFilter(name=FlowRunFilterName(any_=[name]), state=FlowRunFilterState(name=FlowRunFilterStateName(any_=[state])))
        return client.read_flow_runs(flow_run_filter=flow_run_filter, sort=FlowRunSort.START_TIME_DESC, limit=1)[0]


def flow_run_log(flow_run: FlowRun) -> list[str]:
    """The messages of the flow run's log (its tasks' included), oldest first."""
    APILogWorker.drain_all()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), sort=LogSort.TIMESTAMP_ASC)
    return [log.message for log in logs]


def prefect_stored_bytes() -> bytes:
    """Every byte of the Prefect API's SQLite file and its journals: flow and task runs, parameters, states, logs and artifacts."""
    # Logs are sent in batches: the last ones first, so that they are in the file read.
    APILogWorker.drain_all()
    stored = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
    return b"".join(path.read_bytes() for path in stored.parent.glob(stored.name + "*"))


def markdown_section(markdown: str, title: str) -> list[list[str]]:
    """The cells of the rows of the table under the heading `title` of a run report's markdown."""
    section = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def personal_strings(database: Path) -> tuple[set[str], set[str]]:
    """Every 納付番号 and every 確認番号 the database holds, in its snapshots and records."""
    sources = ("receivable_snapshots", "payment_records", "provisional_records", "management_records")
    with read_only_database(database) as connection:
        numbers = pl.concat([connection.sql(f'SELECT payment_number, confirmation_number FROM "{source}"').pl() for source in sources])
    payment_numbers = set(numbers["payment_number"].drop_nulls().str.strip_chars()) - {""}
    confirmation_numbers = set(numbers["confirmation_number"].drop_nulls().str.strip_chars()) - {""}
    return payment_numbers, confirmation_numbers


def assert_nothing_personal(text: str, payment_numbers: set[str], confirmation_numbers: set[str]) -> None:
    """Fails when `text` holds a name of the sample, one of `payment_numbers`, or one of `confirmation_numbers` as a whole number."""
    assert [name for name in SAMPLE_NAMES if name in text] == []
    # A run id is 32 random hex digits: it could hold any digits, so it is left out.
    text = re.sub(r"\b[0-9a-f]{32}\b", "<run>", text)
    assert [number for number in payment_numbers if number in text] == []
    # A 確認番号 is six digits: compared with whole numbers only, not with parts of longer ones.
    assert set(re.findall(r"\d+", text)) & confirmation_numbers == set()
