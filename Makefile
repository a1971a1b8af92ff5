# The two commands README.md starts with: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST ?= $(BIN)/pytest

.PHONY: demo test lint typecheck check migrations-check bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## Run the service on SQLite against the bundled simulator
	$(BIN)/liveness demo

test: $(BIN)/.installed  ## Run the whole test suite (SQLite and PostgreSQL)
	$(PYTEST) -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

check: lint typecheck test

bench: $(BIN)/.installed
	$(BIN)/python bench/import_csv.py
	$(BIN)/python bench/parsers.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
