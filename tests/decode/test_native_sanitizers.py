"""The native decoder under AddressSanitizer and UndefinedBehaviorSanitizer.

The C parser reads untrusted bytes from the venues, so its own tests (test_native.py: grammar
mutations, truncation at every byte, hypothesis batches; test_native_buffers.py: growth and
rollback of the buffers; test_native_dict.py: dictionary tables past their bound, rolled back)
run once more against a copy of the extension compiled with ``-fsanitize=address,undefined``:
an out-of-bounds read, a use after free or an overflow aborts the run instead of passing
silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "service" / "schemahub" / "decode" / "_native.c"


def _runtime(cc: str, name: str) -> str:
    path = subprocess.run(
        [cc, f"-print-file-name={name}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert os.path.isabs(path), f"{cc} has no {name} (install gcc's sanitizer runtime)"
    return path


@pytest.mark.slow
def test_native_decoder_tests_pass_under_sanitizers(tmp_path: Path) -> None:
    cc = shutil.which("gcc")
    assert cc, "gcc is needed to build the native decoder (.ci/run installs it)"
    package = tmp_path / "service" / "schemahub"
    shutil.copytree(ROOT / "service" / "schemahub", package, ignore=shutil.ignore_patterns("*.so"))
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = package / "decode" / f"_native{suffix}"
    subprocess.run(
        [
            cc, "-shared", "-fPIC", "-O1", "-g", "-std=c99", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            f"-I{sysconfig.get_paths()['include']}", str(SOURCE), "-o", str(built),
        ],
        check=True,
    )  # fmt: skip
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path / "service"), str(ROOT)]),
        LD_PRELOAD=os.pathsep.join([_runtime(cc, "libasan.so"), _runtime(cc, "libubsan.so")]),
        # CPython itself is not built for leak checking; errors are what we look for.
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    probe = "import schemahub.decode._native as n; print(n.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert where.stdout.strip() == str(built)  # the sanitized copy, not the installed one
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "tests/decode/test_native.py", "tests/decode/test_native_buffers.py",
         "tests/decode/test_native_dict.py", "tests/decode/test_batch.py"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
