# The two commands of the README: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test fuzz lint format openapi bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API on http://127.0.0.1:8000 (docs at /schema): embedded PostgreSQL when DATABASE_URL is unset.
run: install
	$(BIN)/python -m service run

## The whole test suite against a real PostgreSQL (DATABASE_URL, else the embedded one).
test: install
	$(BIN)/python -m pytest

## The contract fuzzer at length: FUZZ_EXAMPLES examples per operation and identity, random each run
## (`make test` runs 8, the same every run).
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/test_contract.py -q --hypothesis-show-statistics

lint: install
	$(BIN)/ruff check service tests benchmarks
	$(BIN)/ruff format --check service tests benchmarks

format: install
	$(BIN)/ruff check --fix service tests benchmarks
	$(BIN)/ruff format service tests benchmarks

## Regenerate the OpenAPI document from the code (a test fails when the committed one drifts).
openapi: install
	$(BIN)/python -m service openapi openapi/openapi.json

## Load benchmarks with wrk; prints ratios against the same-run baseline.
bench: install
	@command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk) || \
		(echo "wrk is required: install it from your package manager" && exit 1)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
