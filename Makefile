# The two set-up commands of the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= citelens.db
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install browser lint bench

install: $(VENV)/.installed

# torch is pinned and installed first: a plain requirement would pull a CUDA build of several GB.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[train,test,postgres,scale]'
	touch $@

# Debian's Chromium for the browser tests; Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (browser tests will be skipped)"; fi; }

run: install
	$(BIN)/citelens --db $(DB) quickstart
	$(BIN)/citelens --db $(DB) serve --port $(PORT)

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/classify.py
	$(BIN)/python benchmarks/report.py
