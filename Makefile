# The README's commands. Each installs what it needs into .venv first.
VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

.PHONY: install run test test-slow test-all bench ui clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## make run: materialize one whole trading session of every asset (local lake, SQLite instance, synthetic source)
run: install
	@mkdir -p "$(DAGSTER_HOME)"
	$(VENV)/bin/tradingstation materialize

## make test: the test suite but the end-to-end walks marked slow, on two worker processes (pytest-xdist;
## PYTEST_WORKERS=0 runs it in one); make test-slow: those walks; make test-all: both (what CI runs)
PYTEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist worksteal
test: install
	$(PYTEST) -m "not slow"

test-slow: install
	$(PYTEST) -m slow

test-all: test test-slow

## make bench: every speed target beside its baseline, then a PASS/FAIL table (not tests; SECTIONS=lake ... to pick)
SECTIONS ?=
bench: install
	$(PY) -m benchmarks.run $(SECTIONS)

## make ui: the Dagster UI (webserver + daemon) on http://127.0.0.1:3000 against the same instance
ui: install
	@mkdir -p "$(DAGSTER_HOME)"
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

clean:
	rm -rf data/lake .dagster_home
