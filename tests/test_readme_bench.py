"""The benchmark scripts README.md and deploy/README.md name: each exists and starts (its
imports load and its options parse `--help`). The benchmarks themselves are not run here: they
take minutes and their figures are measured, not asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
READMES = (REPO / "README.md", REPO / "deploy" / "README.md")
SCRIPTS = sorted({s for p in READMES for s in re.findall(r"bench/\w+\.py", p.read_text())})


def test_the_readmes_name_benchmark_scripts():
    assert "bench/scale_bench.py" in SCRIPTS and "bench/maintain_bench.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_named_benchmark_script_exists_and_starts(script: str):
    done = subprocess.run(
        [sys.executable, str(REPO / script), "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout
