"""Running test files against a copy of one of our C extensions built with AddressSanitizer and
UndefinedBehaviorSanitizer: an out-of-bounds read, a use after free or an overflow then aborts
the run instead of passing silently.

Python's and Arrow's allocators are switched to malloc, so the sanitizer sees the bounds of
every buffer the C code reads or writes (bytes objects and Arrow buffers included).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "service" / "schemahub"


def run_under_sanitizers(
    tmp_path: Path, extension: str, test_files: list[str]
) -> subprocess.CompletedProcess[str]:
    """Build ``extension`` (a dotted module of ours, e.g. ``schemahub.decode._native``, from
    the ``.c`` file of the same name) sanitized in a copy of the package under ``tmp_path``,
    then run ``test_files`` (paths from the repository root, slow tests left out) with that
    copy first on the path. Returns the finished pytest run."""
    cc = shutil.which("gcc")
    assert cc, f"gcc is needed to build {extension} (.ci/run installs it)"
    copy = tmp_path / "service" / "schemahub"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("*.so"))
    parts = extension.split(".")[1:]  # below the schemahub package
    source = copy.joinpath(*parts[:-1], f"{parts[-1]}.c")
    built = source.with_name(f"{parts[-1]}{sysconfig.get_config_var('EXT_SUFFIX')}")
    subprocess.run(
        [
            cc, "-shared", "-fPIC", "-O1", "-g", "-std=c99", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(built),
        ],
        check=True,
    )  # fmt: skip
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path / "service"), str(ROOT)]),
        LD_PRELOAD=os.pathsep.join([_runtime(cc, "libasan.so"), _runtime(cc, "libubsan.so")]),
        PYTHONMALLOC="malloc",
        ARROW_DEFAULT_MEMORY_POOL="system",
        # CPython itself is not built for leak checking; errors are what we look for.
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    probe = f"import {extension} as n; print(n.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert where.stdout.strip() == str(built)  # the sanitized copy, not the installed one
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-m", "not slow",
         *test_files],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip


def _runtime(cc: str, name: str) -> str:
    path = subprocess.run(
        [cc, f"-print-file-name={name}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert os.path.isabs(path), f"{cc} has no {name} (install gcc's sanitizer runtime)"
    return path
