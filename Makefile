# The whole set-up on a fresh clone: `make demo` and `make test`. Needs Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck migrations-check pytest bench openapi clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tillbook needs Python 3.11 or newer; run make PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tillbook demo

test: $(STAMP) lint typecheck migrations-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

migrations-check: $(STAMP)
	TILLBOOK_DATA_DIR=$$(mktemp -d) $(BIN)/tillbook makemigrations --check --dry-run

pytest: $(STAMP)
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

openapi: $(STAMP)
	$(BIN)/tillbook openapi --output openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
