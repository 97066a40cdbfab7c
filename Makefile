# Two commands: `make run` and `make test`. Everything else here is what they need.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
BUN := $(TOOLS)/node_modules/.bin/bun

export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: setup run test test-fast chromium services bench lint

setup: $(VENV)/.installed $(BUN)

# Reinstalled only when pyproject.toml changes, so a second `make run` starts at once.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Reflex needs bun (or Node 22); bun comes from the npm registry into an ignored folder.
$(BUN):
	@mkdir -p $(TOOLS)
	@test -f $(TOOLS)/package.json || echo '{"private": true}' > $(TOOLS)/package.json
	cd $(TOOLS) && npm install --no-audit --no-fund --loglevel=error bun@1.4.4
	@test -x $(BUN)

run: setup
	$(BIN)/membook db upgrade
	$(BIN)/membook seed-demo --if-empty
	@scripts/run.sh

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

services:
	@scripts/services.sh

test: setup chromium services
	$(BIN)/pytest

test-fast: setup services
	$(BIN)/pytest -m "not e2e"

bench: setup services
	$(BIN)/python bench/register.py

lint: setup
	$(BIN)/ruff check membook_app models tasks tests bench
