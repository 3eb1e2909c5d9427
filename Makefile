# The two commands of the README. Nothing is assumed but Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INBOX ?= sample_data/inbox

.PHONY: run test bench clean

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,bench]"
	touch $(INSTALLED)

DB ?= data/shuno.duckdb

# The committed sample inbox by default; INBOX=DIR runs another (`shuno sample --out DIR` writes one).
run: $(INSTALLED)
	@test -d $(INBOX) || { echo "no inbox $(INBOX)" >&2; exit 1; }
	@for day in $$($(BIN)/shuno dates --inbox $(INBOX)); do \
		$(BIN)/shuno run --date $$day --inbox $(INBOX) --db $(DB) || exit 1; \
	done

# One worker a core and one more (pytest-xdist): the killed-run tests wait on child processes and
# the Prefect tests on Prefect's server, and the extra worker keeps the cores busy meanwhile (on 2
# cores: 99 s with 3 workers, 107 s with 2, 109 s with 4; with one DuckDB and polars thread a worker,
# on 2 cores shared with other jobs: 200 s wall and 245 s CPU with 3, 217 s and 228 s with 2). --dist loadfile keeps each test module
# on one worker: its module fixtures (a sample's runs, Prefect's test harness) are built once, and
# its tests run in order.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# The tests' temporary folders (their databases, Prefect's SQLite files) go to memory where the machine
# has a tmpfs: they are thrown away, and on a disk every commit and checkpoint of a run waits for it
# (fsync), which doubled the wall time of the sample's three nights on a busy machine.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo $${TMPDIR:-/tmp})
# PYTHONDONTWRITEBYTECODE, when the environment sets it, would have each worker rewrite the asserts of
# every test module again (pytest keeps its rewritten modules as bytecode caches, about 2.5 s of CPU
# a worker) and every child process the tests start compile shuno again: the tests write their caches.
# POLARS_MAX_THREADS=1: each worker's small frames on one thread, as the workers already keep the
# cores busy; polars' pool of a thread a core cost 7% more CPU here (tests/conftest.py does the same for DuckDB).
test: $(INSTALLED)
	TMPDIR=$(TEST_TMPDIR) PYTHONDONTWRITEBYTECODE= POLARS_MAX_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(INSTALLED)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) data
