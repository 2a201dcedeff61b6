# WorkFuse: `make run` installs everything and starts the app; `make test` installs
# everything and runs the whole suite (on the embedded setup), then the browser tests
# again on the scaled one (PostgreSQL, Redis, a separate worker process). Both work
# on a fresh Debian machine.

VENV    ?= .venv
TOOLS   ?= .tools
PORT    ?= 3000
PYTHON  ?= python3
BUN_VERSION := 1.4.5

BUN_BIN := $(abspath $(TOOLS))/bun/node_modules/.bin
export PATH := $(BUN_BIN):$(abspath $(VENV))/bin:$(PATH)
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: install run test lint services chromium bench soak clean

install: $(VENV)/.installed $(BUN_BIN)/bun

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# Reflex's own bun installer downloads from GitHub; the npm package works offline-ish.
$(BUN_BIN)/bun:
	npm install --silent --no-fund --no-audit --prefix $(TOOLS)/bun bun@$(BUN_VERSION)

run: install
	$(VENV)/bin/workfuse serve --port $(PORT)

test: install chromium services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy workfuse
	@echo '== security corpora (sandbox escapes, refused egress addresses)'
	$(VENV)/bin/pytest -m corpus
	@echo '== test suite (without the corpora, run above)'
	$(VENV)/bin/pytest -m 'not corpus'
	WORKFUSE_TEST_UI_SETUP=scaled $(VENV)/bin/pytest tests/ui -m browser

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy workfuse

services:
	.ci/services

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Every benchmark in turn, then one line per headline figure (bench/README.md, "Report").
bench: install chromium services
	$(VENV)/bin/python bench/run_all.py

# Five minutes of steady webhook traffic on PostgreSQL + Redis + one worker process
# (memory, lag, losses); the test suite runs a 10-second version.
soak: install services
	$(VENV)/bin/python bench/bench_soak.py

clean:
	rm -rf $(VENV) $(TOOLS) .web .states tests/artifacts
