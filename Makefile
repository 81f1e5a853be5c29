# Two commands for users (make lab, make test); the rest for contributors.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# MPLBACKEND is unset for kernels: a non-inline backend (e.g. Agg) would store no figures.
NBVAL  := --nbval --nbval-current-env --sanitize-with notebooks/nbval_sanitize.cfg
ROOT   := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: install lab test unit nbval lint e2e notebooks bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 11) <= v <= (3, 12) else f"Python 3.11 or 3.12 needed, {sys.version.split()[0]} found (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT)

test: $(STAMP)
	$(MAKE) --no-print-directory lint unit nbval

lint: $(STAMP)
	$(BIN)/ruff check lessons tests benchmarks scripts notebooks

unit: $(STAMP)
	$(BIN)/pytest tests -m "not e2e" --durations=15

nbval: $(STAMP)
	env -u MPLBACKEND $(BIN)/pytest $(NBVAL) notebooks --durations=10

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -m e2e --durations=10

notebooks: $(STAMP)
	env -u MPLBACKEND $(BIN)/python scripts/execute_notebooks.py notebooks/*.ipynb

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
