# The two commands of the README: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# What serving needs, without the test tools (`make run` on a user's machine).
SERVE_STAMP := $(VENV)/.serving-stamp
# The front-end kit (openapi/): TypeScript types and the wx.request wrapper, checked with tsc.
NODE_STAMP := openapi/node_modules/.installed-stamp
NPX := cd openapi && npx --no-install

.PHONY: install run test fuzz lint format openapi walkthrough bench soak faults clean browser citus-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): openapi/package.json openapi/package-lock.json
	@command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm) || \
		(echo "node and npm are required for the front-end kit (openapi/): install them" && exit 1)
	cd openapi && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(SERVE_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	@test -x $(BIN)/python || (echo "==> creating $(VENV)" && $(PYTHON) -m venv $(VENV))
	@echo "==> installing what serving needs into $(VENV) (about a minute the first time; no test tools)"
	$(BIN)/python -m pip install --upgrade --progress-bar on pip
	$(BIN)/python -m pip install --progress-bar on -e .
	@touch $(SERVE_STAMP)

install: $(STAMP) $(NODE_STAMP)

## Debian's chromium for the docs-page browser check; curl and jq for the walkthrough test; caddy for the
## instances behind a proxy (as root, like CI).
browser:
	@command -v chromium >/dev/null && command -v jq >/dev/null && command -v curl >/dev/null && \
		command -v caddy >/dev/null || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends chromium jq curl caddy) || \
		(echo "chromium, jq, curl and caddy are required: install them from your package manager" && exit 1)

## Serve the API on http://127.0.0.1:8000 (docs at /schema): embedded PostgreSQL when DATABASE_URL is unset.
run: $(SERVE_STAMP)
	@echo "==> starting: embedded PostgreSQL when DATABASE_URL is unset, migrations, the API, a job worker, the WeChat sandbox"
	$(BIN)/python -m service run

## The whole test suite against a real PostgreSQL (DATABASE_URL, else the embedded one): the tests that must
## run alone (timed fault injection), then the rest on every core. The contract module holds no test that runs
## alone and builds its coverage cases while it is collected (5 s on a fast machine, more on a slow one): the
## first run leaves it out.
test: install browser
	$(BIN)/python -m pytest -m serial --ignore=tests/test_contract.py
	$(BIN)/python -m pytest -n auto -m "not serial"

## The contract fuzzer at length: FUZZ_EXAMPLES examples per operation and identity, random each run
## (`make test` runs 8, the same every run).
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/test_contract.py -q --hypothesis-show-statistics

lint: install
	$(BIN)/ruff check service tests benchmarks
	$(BIN)/ruff format --check service tests benchmarks
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix service tests benchmarks
	$(BIN)/ruff format service tests benchmarks

## Regenerate openapi/openapi.{json,yaml}, openapi/types.ts and docs/errors.md (tests fail when they drift).
openapi: install
	$(BIN)/python -m service openapi openapi --errors docs/errors.md
	$(NPX) openapi-typescript openapi.json --output types.ts --silent

## Run docs/walkthrough.md against a fresh live server and write the answers it got into it.
walkthrough: install browser
	$(BIN)/python -m tests.walkthrough

## The Citus plan on a real local cluster built from ../shared/citus (skips, saying why, without it): migrate,
## distribute, the concurrency tests against the coordinator, the hot statements' plans. Not part of `make test`.
citus-check: install
	$(BIN)/python -m tests.citus_check

## Load benchmarks with wrk; prints ratios against the same-run baseline. BENCH_ARGS="--instances 2" adds the
## feed through Caddy at 1 and 2 instances (with the CPU per request) and the live fan-out to 5,000 sockets.
bench: install
	@command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk) || \
		(echo "wrk is required: install it from your package manager" && exit 1)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

## The whole service (API, worker, WeChat sandbox as processes) under a realistic mix for SOAK_MINUTES minutes:
## throughput, p50/p99 per kind, RSS growth, then every acknowledged write checked against the database.
SOAK_MINUTES ?= 3
soak: install
	$(BIN)/python -m benchmarks.soak --minutes $(SOAK_MINUTES)

## Under load: kill -9 the API and the worker, restart and crash PostgreSQL, WeChat slow and failing; pass/fail
## per fault, then no acknowledged write lost, no double payment, the ledger balanced. A short variant runs
## in `make test` (tests/test_faults.py).
FAULT_PHASE_SECONDS ?= 20
faults: install
	$(BIN)/python -m benchmarks.faults --phase-seconds $(FAULT_PHASE_SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache openapi/node_modules
