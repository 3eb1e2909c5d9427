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

run: $(INSTALLED)
	@test -d $(INBOX) || $(BIN)/shuno sample --out $(INBOX)
	$(BIN)/shuno check $(INBOX)/* || true

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

bench: $(INSTALLED)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) data
