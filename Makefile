# Two entry points for a fresh machine: `make run` (the main job on the embedded lake) and
# `make test` (the whole suite, as CI runs it). Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run demo test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py service/schemahub/decode/_native.c \
                    service/schemahub/mapping/_iso.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[query,spark,test]'
	touch $@

# The daemon against the real venues, on the embedded lake (./warehouse). Ctrl-C stops cleanly.
run: install
	$(BIN)/schemahub serve

# Offline: the venue simulator plus the daemon, no internet or keys needed.
demo: install
	BIN=$(BIN) deploy/scripts/demo.sh

lint: install
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

test: lint
	$(BIN)/pytest -q

format: install
	$(BIN)/ruff format service tests bench
	$(BIN)/ruff check --fix service tests bench

clean:
	rm -rf $(VENV) warehouse .pytest_cache .ruff_cache
