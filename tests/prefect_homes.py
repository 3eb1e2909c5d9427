"""Prefect homes for the tests that serve Prefect's API: each starts from one database migrated once per test run.

Prefect migrates a new SQLite file and registers its blocks in it when its API starts, 7 s of CPU
here, and 1 s for a file already migrated. tests/conftest.py makes the migrated file once
(`migrated_prefect_database`); a test process, or a `shuno run` the tests start, gets a copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.without_pandas import PYTHON_WITHOUT_PANDAS

# Prefect's database in its home: PREFECT_SERVER_DATABASE_CONNECTION_URL's default.
PREFECT_DATABASE = "prefect.db"
ROOT = Path(__file__).resolve().parents[1]
# Migrated as `shuno run` migrates it: its API's start (flows.nightly.local_prefect_api).
MIGRATE = "from flows.nightly import local_prefect_api\nwith local_prefect_api():\n    pass"
MIGRATE_SECONDS = 300


def migrate_prefect_database(home: Path) -> None:
    """Creates Prefect's database, migrated and its blocks registered, in `home`, from a child process."""
    # A child: the migration's Prefect settings (its home) stay out of the test process's.
    environment = os.environ | {"PREFECT_HOME": str(home)}
    subprocess.run([*PYTHON_WITHOUT_PANDAS, "-c", MIGRATE], cwd=ROOT, env=environment, check=True, timeout=MIGRATE_SECONDS)


def migrated_prefect_home(home: Path, migrated_database: Path) -> Path:
    """`home` (made if missing) with a copy of the migrated database, unless it has a database already."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / PREFECT_DATABASE).exists():
        shutil.copyfile(migrated_database, home / PREFECT_DATABASE)
    return home
