"""settle_heap: start-up objects leave the collector's reach, and undo gives them back."""

from __future__ import annotations

import gc
import platform

import pytest

from schemahub.daemon.heap import keep_freed_pages, settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_settle_heap_freezes_what_lives_now_and_undo_restores_the_collector() -> None:
    before = gc.get_threshold()
    kept = _Node()
    undo = settle_heap()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] > before[0]
        # A cycle made after settling is still collected.
        later = _Node()
        tracked = id(later)
        del later
        gc.collect()
        assert tracked not in {id(o) for o in gc.get_objects() if isinstance(o, _Node)}
        # The frozen one is out of the collector's view.
        assert not any(o is kept for o in gc.get_objects())
    finally:
        undo()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    assert any(o is kept for o in gc.get_objects())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_allocator_thresholds() -> None:
    assert keep_freed_pages() is True
