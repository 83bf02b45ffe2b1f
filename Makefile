# One command each: `make sim` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEER := tests/support/peer
PEER_STAMP := $(PEER)/node_modules/.installed
STATION ?=
SIM_ARGS ?=

.PHONY: sim test lint hil bench peer clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(PEER_STAMP): $(PEER)/package.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(PEER) && npm install --no-audit --no-fund --silent && touch node_modules/.installed; \
	else echo "npm not found: strict-peer tests will be skipped"; fi

peer: $(PEER_STAMP)

sim: $(STAMP)
	$(BIN)/evse sim $(if $(STATION),--station $(STATION)) $(SIM_ARGS)

test: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m pytest -q -m "not hil" $(PYTEST_ARGS)

hil: $(STAMP)
	EVSE_HIL=1 $(BIN)/python -m pytest -q -m hil $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layers and contracts of .importlinter

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(PEER)/node_modules .pytest_cache .mypy_cache .ruff_cache
