# Two commands for a newcomer: `make up` and `make test`. Both install what they need
# into a local virtual environment (.venv) first.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install up test test-unit test-integration test-deploy deploy-tools bench clean

# Every distribution of the workspace, installed editable: the shared library, each service,
# the development launcher, then the root with its extras.
PACKAGES := shared services/dossier services/workflow services/notifier services/transfer-gateway \
	services/agency-simulator devstack

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
	@test -n "$(PYTHON)" || { echo "Relance needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(addprefix -e ,$(PACKAGES)) -e ".[embedded,test]"
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/relance up $(ARGS)

test: $(STAMP) deploy-tools
	$(BIN)/pytest $(PYTEST_ARGS)

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

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .relance .pytest_cache .hypothesis bench/results
