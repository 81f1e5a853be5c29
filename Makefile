# Two commands for users (make lab, make test); the rest for contributors.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP  := $(VENV)/.installed-py$(PYVER)
# MPLBACKEND is unset for kernels: a non-inline backend (e.g. Agg) would store no figures.
# A kernel that dies leaves nbval waiting on its cell for the default 2000 s: fail after 600.
NBVAL  := --nbval --nbval-current-env --nbval-cell-timeout=600 --sanitize-with notebooks/nbval_sanitize.cfg
# Kernels that test or store outputs: a claim that fails raises (a student's kernel shows it and
# goes on), and no progress bar is stored (a student sees it live).
KERNEL_ENV := env -u MPLBACKEND LESSONS_STRICT=1 TQDM_DISABLE=1
# Tests run in parallel processes (pytest-xdist): whole files per process for the unit tests, whole
# notebooks per process for nbval (a notebook's cells share one kernel).
PARALLEL := -n auto --maxprocesses=4
ROOT   := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: install lab test unit nbval nbval-portable lint e2e notebooks exercises graded grade-test slides bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 11) <= v <= (3, 13) else f"Python 3.11, 3.12 or 3.13 needed, {sys.version.split()[0]} found (set PYTHON=python3.11)")'
	@# a venv made by another Python (e.g. make test PYTHON=python3.13 after 3.11) is rebuilt
	test "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$(PYVER)" \
	  || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT)

test: $(STAMP)
	$(MAKE) --no-print-directory lint unit nbval

lint: $(STAMP)
	$(BIN)/ruff check lessons tests benchmarks scripts notebooks hub
	$(BIN)/lint-imports --no-cache --no-logo

unit: $(STAMP)
	$(BIN)/pytest tests -m "not e2e" $(PARALLEL) --dist loadfile --durations=15

nbval: $(STAMP)
	$(KERNEL_ENV) $(BIN)/pytest $(NBVAL) $(PARALLEL) --dist loadscope notebooks --durations=10

# The same notebooks as another CPU would run them: oneDNN limited to one ISA level below this
# machine's best (AVX2 on AVX-512, else SSE4.1) and one intra-op thread. Stored outputs that
# depend on float32 kernels show up here as failures.
# XLA's CPU code generator has its own cap (--xla_cpu_max_isa, names AVX2 / SSE4_2).
# On a CPU with AVX512-FP16 or AMX (Sapphire Rapids and later) TensorFlow sends FP16/BF16 matmuls
# to oneDNN, which then segfaults under any cap below AVX512_CORE_FP16 (measured: TF 2.21, a 256x64
# float16 matmul). There the other CPU is the one without oneDNN, as on an AVX2 EPYC.
PORTABLE_ISA = $(shell grep -qs avx512f /proc/cpuinfo && echo AVX2 || echo SSE41)
PORTABLE_XLA = $(if $(filter AVX2,$(PORTABLE_ISA)),AVX2,SSE4_2)
PORTABLE_ONEDNN = $(shell grep -qsE 'avx512_fp16|amx_tile' /proc/cpuinfo \
  && echo TF_ENABLE_ONEDNN_OPTS=0 || echo ONEDNN_MAX_CPU_ISA=$(PORTABLE_ISA))

nbval-portable: $(STAMP)
	@echo "nbval with $(PORTABLE_ONEDNN) XLA_FLAGS=--xla_cpu_max_isa=$(PORTABLE_XLA) TF_NUM_INTRAOP_THREADS=1"
	$(KERNEL_ENV) $(PORTABLE_ONEDNN) XLA_FLAGS=--xla_cpu_max_isa=$(PORTABLE_XLA) \
	  TF_NUM_INTRAOP_THREADS=1 \
	  $(BIN)/pytest $(NBVAL) $(PARALLEL) --dist loadscope notebooks --durations=10

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -m e2e --durations=10

notebooks: $(STAMP)
	$(KERNEL_ENV) $(BIN)/python scripts/execute_notebooks.py notebooks/*.ipynb
	$(BIN)/python scripts/stamp_version.py notebooks/*.ipynb

# Student copies of the exercise notebooks: solutions replaced by blanks, then executed so the
# stored outputs show every check UNATTEMPTED. The instructor notebooks are executed too.
exercises: $(STAMP)
	$(BIN)/python scripts/make_student.py notebooks/exercises/*.ipynb
	$(KERNEL_ENV) $(BIN)/python scripts/execute_notebooks.py notebooks/exercises/*.ipynb
	$(KERNEL_ENV) $(BIN)/python scripts/execute_notebooks.py --clear-tagged exercise-run \
	  notebooks/exercises/student/*.ipynb
	$(BIN)/python scripts/stamp_version.py notebooks/exercises/*.ipynb notebooks/exercises/student/*.ipynb

# The nbgrader course graded/ (teacher/grading.md) from the instructor exercise notebooks: one
# assignment per lesson, answer cells and locked test cells with hidden tests.
graded: $(STAMP)
	$(BIN)/python scripts/make_graded.py

# The real nbgrader (the [grade] extra) in its own venv, so .venv keeps its versions: per lesson
# generate_assignment, then autograde the solutions, the blank release and wrong answers.
GRADE_VENV   := .venv-grade
GRADE_PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo $(PYTHON))
$(GRADE_VENV)/.installed: pyproject.toml
	rm -rf $(GRADE_VENV) && $(GRADE_PYTHON) -m venv $(GRADE_VENV)
	$(GRADE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GRADE_VENV)/bin/python -m pip install --quiet -e ".[grade]" "pytest>=8,<10"
	touch $@

grade-test: $(GRADE_VENV)/.installed
	$(GRADE_VENV)/bin/pytest tests/graded -p no:cacheprovider -v --durations=8

# RISE slide metadata for the lesson notebooks: a cell opening with ## starts a slide, ### a sub-slide.
slides: $(STAMP)
	$(BIN)/python scripts/slides.py notebooks/0*.ipynb

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(GRADE_VENV) build *.egg-info test-artifacts

# ---- A class on one JupyterHub (teacher/hub.md) -------------------------------------------------
.PHONY: installed-check hub hub-test

# What a user gets from `pip install .` (not editable, runtime dependencies + nbval only), in a fresh
# venv outside the repo, running every notebook from a copy in a temporary folder: no file of the
# source tree is on the path, so a notebook that needs one fails here.
installed-check:
	@set -e; dir=$$(mktemp -d /tmp/lessons-installed.XXXXXX); trap 'rm -rf "$$dir"' EXIT; \
	start=$$(date +%s); $(PYTHON) -m venv "$$dir/venv"; \
	"$$dir/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$dir/venv/bin/python" -m pip install --quiet . "nbval>=0.11,<0.12"; \
	echo "installed-check: runtime install took $$(( $$(date +%s) - start )) s," \
	  "$$(du -sm "$$dir/venv" | cut -f1) MB"; \
	cp -r notebooks "$$dir/notebooks"; cd "$$dir"; \
	$(KERNEL_ENV) venv/bin/python -m pytest -p no:cacheprovider --nbval --nbval-current-env \
	  --sanitize-with notebooks/nbval_sanitize.cfg notebooks --durations=10

# JupyterHub and the proxy it drives: the [hub] extra into the course's venv, the proxy from npm
# into hub/.proxy (no global install).
HUB_STAMP := $(VENV)/.hub-installed
$(HUB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,hub]"
	@command -v npm >/dev/null || { sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix hub/.proxy configurable-http-proxy@4
	touch $(HUB_STAMP)

# A hub on http://127.0.0.1:$(HUB_PORT) for HUB_USERS students (student1..N, shared password
# from HUB_PASSWORD); Ctrl-C stops it and every server it started.
HUB_USERS ?= 4
HUB_PORT  ?= 8765
hub: $(HUB_STAMP)
	$(BIN)/python hub/run.py --users $(HUB_USERS) --port $(HUB_PORT) $(if $(HUB_PASSWORD),--password "$(HUB_PASSWORD)")

# Starts a hub, logs in as two students, runs notebooks/00_start_here.ipynb in each, stops it.
hub-test: $(HUB_STAMP)
	LESSONS_HUB_TEST=1 $(BIN)/pytest tests/hub/test_hub_class.py -p no:xdist -v --durations=5
