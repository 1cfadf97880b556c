# Two commands do everything:
#   make demo   runs Incidesk against the bundled Mirakl sandbox (no account needed)
#   make test   runs the whole test suite against Postgres and Redis
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs in one virtualenv: what the product needs to run (`make demo`), and that
# plus the test and lint tools (pyproject.toml's dev extra: `make test`, `make lint`).
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

# The tests use the machine's local Postgres and Redis unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/incidesk
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install install-runtime demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME_STAMP) $(STAMP)

install-runtime: $(RUNTIME_STAMP)

install: $(STAMP)

# Ctrl-C stops every process (the worker at once: REMAP_SIGTERM in Procfile.demo) and
# ends the demo without an error: honcho answers 130 (SIGINT) or 143 (SIGTERM).
demo: install-runtime
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input -v0
	$(BIN)/python manage.py demo_setup
	@trap 'true' INT TERM; $(BIN)/honcho -f Procfile.demo start; status=$$?; \
	if [ $$status -eq 130 ] || [ $$status -eq 143 ]; then echo "Incidesk demo stopped."; \
	else exit $$status; fi

test: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

# Each benchmark uses a database of its own (bench/common.py) unless DATABASE_URL is set;
# `make bench BENCH=sync` runs one of them (`python -m bench --list` names them).
bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) var .pytest_cache
