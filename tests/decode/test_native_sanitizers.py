"""The native decoder under AddressSanitizer and UndefinedBehaviorSanitizer.

The C parser reads untrusted bytes from the venues, so its own tests (test_native.py: grammar
mutations, truncation at every byte, hypothesis batches; test_native_buffers.py: growth and
rollback of the buffers; test_native_dict.py: dictionary tables past their bound, rolled back)
run once more against a copy of the extension compiled with ``-fsanitize=address,undefined``:
an out-of-bounds read, a use after free or an overflow aborts the run instead of passing
silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sanitized import run_under_sanitizers

NATIVE_TESTS = [
    "tests/decode/test_native.py",
    "tests/decode/test_native_buffers.py",
    "tests/decode/test_native_dict.py",
    "tests/decode/test_batch.py",
]


@pytest.mark.slow
def test_native_decoder_tests_pass_under_sanitizers(tmp_path: Path) -> None:
    run = run_under_sanitizers(tmp_path, "schemahub.decode._native", NATIVE_TESTS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
