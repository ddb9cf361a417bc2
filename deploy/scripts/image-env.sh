#!/bin/sh
# The container image's Python environment, built the same way by the Dockerfile's build stage
# and by `make image-env` (tests/deploy/test_container.py runs the image's command in it), from
# the repository root:
#   image-env.sh deps VENV     a fresh virtualenv holding the runtime lock (requirements.lock)
#   image-env.sh project VENV  the project built into a wheel with the build lock and installed
#                              without dependencies (not editable); fails unless both C
#                              extensions compiled (setup.py marks them optional for dev installs)
set -eu
step=$1
case $2 in /*) venv=$2 ;; *) venv=$PWD/$2 ;; esac
python=${PYTHON:-python3}

case "$step" in
deps)
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --require-hashes -r requirements.lock
    ;;
project)
    tools=$(mktemp -d)
    "$python" -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --require-hashes -r requirements-build.lock
    # Built from a clean copy: no build/ folder or in-place .so of a developer's tree reused.
    mkdir "$tools/src"
    cp -R pyproject.toml setup.py README.md service "$tools/src/"
    find "$tools/src" \( -name '*.so' -o -name '*.egg-info' -o -name __pycache__ \) -prune \
        -exec rm -rf {} +
    "$tools/venv/bin/pip" wheel --quiet --no-deps --no-build-isolation -w "$tools/dist" "$tools/src"
    "$venv/bin/pip" install --quiet --no-deps --force-reinstall "$tools"/dist/schemahub-*.whl
    rm -rf "$tools"
    # a dependency pyproject.toml asks for but requirements.lock lacks fails here (`make lock`)
    "$venv/bin/pip" check
    (cd / && "$venv/bin/python" -c "import schemahub.decode._native, schemahub.mapping._iso") || {
        echo "image-env.sh: the C extensions did not compile (is gcc installed?)" >&2
        exit 1
    }
    ;;
*)
    echo "usage: image-env.sh deps|project VENV" >&2
    exit 2
    ;;
esac
