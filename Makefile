# Two entry points for a fresh machine: `make run` (the main job on the embedded lake) and
# `make test` (the whole suite, as CI runs it). Everything installs into .venv from the locks.
#
# Locked installs: every transitive dependency is pinned, with its hashes, in three files that
# `make lock` writes with uv from pyproject.toml (one lock per install set, because pip installs
# a requirements file as it stands and the image must not carry the test tools):
#   requirements.lock        runtime dependencies only: what the container image installs
#   requirements-test.lock   runtime + the `test`, `query` and `spark` extras, constrained by
#                            requirements.lock so the packages both share have the same
#                            versions: what `make install` uses
#   requirements-build.lock  the build backend ([build-system] requires): the project is built
#                            with --no-build-isolation, so building it downloads nothing unpinned
# The locks are universal (`--universal`: markers, not this machine's platform) for Python 3.11+.
# `make lock` keeps the pinned versions unless pyproject.toml needs others; `make lock
# LOCK_ARGS=--upgrade` moves everything to the newest allowed versions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The container image's environment, built without a container engine (see image-env), with
# Debian's Python 3.11: the test runs it as uid 10001, who cannot read a Python under /root.
IMAGE_VENV   ?= .venv-image
IMAGE_PYTHON ?= /usr/bin/python3
UV_VERSION := 0.13.9
LOCK_ARGS  ?=
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
              --custom-compile-command "make lock" $(LOCK_ARGS)
PROJECT_FILES := pyproject.toml setup.py README.md $(shell find service -name '*.py' -o -name '*.c')

.PHONY: install image-env lock run demo test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements-test.lock requirements-build.lock pyproject.toml setup.py \
                    service/schemahub/decode/_native.c service/schemahub/mapping/_iso.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-build.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@# A dependency pyproject.toml asks for but the lock lacks shows here: run `make lock`.
	$(BIN)/pip check
	touch $@

# What the Dockerfile's build stage installs, by the same script, in $(IMAGE_VENV):
# tests/deploy/test_container.py runs the image's ENTRYPOINT + CMD in it.
image-env: $(IMAGE_VENV)/.installed

# Two steps, as the image's layers: a code change rebuilds only the project's wheel.
$(IMAGE_VENV)/.deps: requirements.lock deploy/scripts/image-env.sh
	PYTHON=$(IMAGE_PYTHON) sh deploy/scripts/image-env.sh deps $(IMAGE_VENV)
	touch $@

$(IMAGE_VENV)/.installed: $(IMAGE_VENV)/.deps requirements-build.lock $(PROJECT_FILES)
	PYTHON=$(IMAGE_PYTHON) sh deploy/scripts/image-env.sh project $(IMAGE_VENV)
	touch $@

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --extra query --extra spark $(LOCK_FLAGS) -c requirements.lock \
	    -o requirements-test.lock
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	    | $(BIN)/uv pip compile - $(LOCK_FLAGS) -c requirements-test.lock -o requirements-build.lock

# The daemon against the real venues, on the embedded lake (./warehouse). Ctrl-C stops cleanly.
run: install
	$(BIN)/schemahub serve

# Offline: the venue simulator plus the daemon, no internet or keys needed.
demo: install
	BIN=$(BIN) deploy/scripts/demo.sh

lint: install
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

test: lint image-env
	$(BIN)/pytest -q
	SCHEMAHUB_NATIVE=0 $(BIN)/pytest -q -m "not slow" tests/daemon  # the fallback decoder, end to end

format: install
	$(BIN)/ruff format service tests bench
	$(BIN)/ruff check --fix service tests bench

clean:
	rm -rf $(VENV) $(IMAGE_VENV) warehouse .pytest_cache .ruff_cache
