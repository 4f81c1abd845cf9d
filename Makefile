# The two commands: `make run` serves the demo, `make test` runs every test.
# Both create the virtual environment themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_DEPS := node_modules/.package-lock.json

.PHONY: run test test-fast lint bench load clean

PORT ?= 8000
SERVING := $(VENV)/.serving

# What serving needs (`make run`); the tests add the dev extras (pytest, mypy, schemathesis...).
$(SERVING): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(SERVING)

$(INSTALLED): $(SERVING)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# axe-core for the accessibility checks in tests/browser; reinstalled when the lockfile changes.
$(NODE_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --update-notifier=false
	touch $(NODE_DEPS)

run: $(SERVING)
	$(BIN)/supervision-survey db upgrade
	$(BIN)/supervision-survey demo seed
	@echo
	$(BIN)/supervision-survey demo accounts
	@echo
	@echo "Answer the open 2016 survey: http://127.0.0.1:$(PORT)/s/coventry-supervision/2016"
	@echo "Sign in to the results and admin pages: http://127.0.0.1:$(PORT)/sign-in"
	@echo "The API's OpenAPI schema: http://127.0.0.1:$(PORT)/openapi.json"
	@echo
	$(BIN)/supervision-survey serve --host 127.0.0.1 --port $(PORT)

# First the analysis tests on two workers, which must cover every branch of the disclosure
# module (it alone decides what may be shown); then the rest on two workers, each module on one
# of them (its fixtures are built once).
test: $(INSTALLED) $(NODE_DEPS)
	$(BIN)/pytest -n 2 tests/analysis --cov=analysis.disclosure --cov-branch --cov-report=term --cov-fail-under=100
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/analysis

# The quick loop: everything but the browser and the long whole-service tests.
test-fast: $(INSTALLED)
	$(BIN)/pytest -n 2 --dist loadfile -m "not browser and not slow"

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python bench/submit.py
	$(BIN)/python bench/respond.py
	$(BIN)/python bench/dashboard.py --sizes demo

# 500 staff through a real two-worker server on a throwaway PostgreSQL, then the database audited;
# a 50-staff version runs in `make test` (tests/test_load.py). A few minutes on two cores.
load: $(INSTALLED)
	$(BIN)/python bench/load.py --staff 500 --workers 2

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .hypothesis
