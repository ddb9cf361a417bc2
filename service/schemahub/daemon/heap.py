"""Keeping memory management off the hot path of a long-running daemon.

- **The cyclic garbage collector.** It runs a young collection every 700 container
  allocations and now and then a full one that walks every live object. After start-up that
  is ~140,000 objects (modules, pyiceberg and pydantic models, the loaded tables) that live
  as long as the process: each full collection walked all of them again, about 7 % of the
  daemon's CPU under a backlog. Almost everything the hot path allocates is freed by
  reference counting, never by the collector.
- **glibc's allocator.** A burst's column buffers (hundreds of KB to a few MB each, freed at
  the next flush) are above malloc's mmap threshold, so each one was a fresh mapping whose
  pages the kernel zeroes on first touch: 8-10 % of the decoder's time. Raising the mmap and
  trim thresholds keeps those pages in the process for the next burst. The buffers are
  bounded (``flush.max_buffered_rows``), so this holds at most the peak the daemon reached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import platform
from collections.abc import Callable

log = logging.getLogger(__name__)

# Young collections every 10,000 container allocations rather than 700: the hot path's
# short-lived tuples and lists are gone long before either count is reached.
_YOUNG_THRESHOLD = 10_000
# glibc mallopt parameters (malloc.h) and the values set: blocks up to 64 MiB come from the
# heap, and up to 256 MiB of free heap top is kept rather than returned.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 64 << 20
_TRIM_THRESHOLD_BYTES = 256 << 20


def settle_heap() -> Callable[[], None]:
    """Collect once, then move every object alive now out of the collector's reach (they
    live for the whole run), collect young objects less often, and keep freed buffer pages
    for reuse (glibc only). Call once, after start-up and before the daemon starts reading.
    Returns what undoes the collector settings, for a process (a test, a benchmark) that goes
    on after its daemon; the allocator settings stay (they change speed, not behaviour)."""
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, *previous[1:])
    keep_freed_pages()

    def undo() -> None:
        gc.unfreeze()
        gc.set_threshold(*previous)

    return undo


def keep_freed_pages() -> bool:
    """Raise glibc's mmap and trim thresholds; False where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    mallopt = ctypes.CDLL(path).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
    done = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1 and done
    if not done:
        log.warning("could not raise malloc's mmap and trim thresholds")
    return done
