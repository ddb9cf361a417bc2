"""The repository stands alone: a clone with nothing beside it runs the recording tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECORDING_TESTS = ["tests/decode/test_recorded.py", "tests/sim/test_conformance.py"]


@pytest.mark.slow
def test_a_clone_with_nothing_beside_it_runs_the_recording_tests(tmp_path: Path) -> None:
    assert (REPO / ".git").exists(), f"{REPO} is not a git checkout; this test clones it"
    clone = tmp_path / "alone" / "schemahub"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)],
        check=True,
        timeout=120,
    )
    assert sorted(p.name for p in clone.parent.iterdir()) == ["schemahub"]
    # The clone holds the committed files; the native extensions are the ones this checkout
    # built (the same C sources), so the clone needs no compiler of its own here.
    for built in REPO.glob("service/schemahub/*/_*.so"):
        shutil.copy2(built, clone / built.relative_to(REPO))
    env = {**os.environ, "PYTHONPATH": str(clone / "service")}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *RECORDING_TESTS],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert "skipped" not in run.stdout
    shutil.rmtree(clone)
