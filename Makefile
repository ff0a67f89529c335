# Self-documenting Makefile: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SIZE ?= default
PERIOD ?= last-week
# Demo data only: real loads must set their own secret salt in the environment.
export ANALYTICS_PII_SALT ?= demo-only-salt

.DEFAULT_GOAL := help
.PHONY: help venv demo report lab test lint pair format bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(PY) -m compileall -q src
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the package with dev tools

demo: $(STAMP) ## generate the demo company and load data/warehouse.duckdb (SIZE=tiny|default|large)
	$(PY) -m analytics demo --size $(SIZE)

report: demo ## install, build the demo warehouse and render every role's report
	$(PY) -m analytics report --period $(PERIOD)

lab: $(STAMP) ## JupyterLab on the demo warehouse (builds it first when missing)
	@test -f data/warehouse.duckdb || $(MAKE) demo
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

test: lint ## run lint and the test suite (pytest-xdist: one worker per core)
	@# bytecode of the package, as pip writes it for an installed one: the suite's ~35
	@# processes (kernels, workers, CLI runs) import it and would each compile it where
	@# PYTHONDONTWRITEBYTECODE is set; a source newer than its bytecode is recompiled
	$(PY) -m compileall -q src
	$(PY) -m pytest -q -n auto

lint: $(STAMP) ## ruff check; committed notebooks carry no outputs
	$(VENV)/bin/ruff check src tests notebooks benchmarks
	$(VENV)/bin/nbstripout --verify --keep-id notebooks/*.ipynb

pair: $(STAMP) ## rewrite the notebooks' text twins (notebooks/scripts/*.py, jupytext)
	$(VENV)/bin/jupytext --sync notebooks/*.ipynb

format: $(STAMP) ## ruff format
	$(VENV)/bin/ruff format src tests notebooks

bench: $(STAMP) ## benchmarks (large data; not part of the tests); installs the bench extra
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks

clean: ## remove generated data and reports
	rm -rf data reports/*/
