"""Keeping the garbage collector off the hot path of a long-running daemon.

CPython's cyclic collector runs a young collection every 700 container allocations and now and
then a full one that walks every live object. After start-up that is ~140,000 objects (modules,
pyiceberg and pydantic models, the loaded tables) that live as long as the process: each full
collection walked all of them again, about 7 % of the daemon's CPU under a backlog. Almost
everything the hot path allocates is freed by reference counting, never by the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

# Young collections every 10,000 container allocations rather than 700: the hot path's
# short-lived tuples and lists are gone long before either count is reached.
_YOUNG_THRESHOLD = 10_000


def settle_heap() -> Callable[[], None]:
    """Collect once, then move every object alive now out of the collector's reach (they
    live for the whole run), and collect young objects less often. Call once, after
    start-up and before the daemon starts reading. Returns what undoes it, for a process
    (a test, a benchmark) that goes on after its daemon."""
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, *previous[1:])

    def undo() -> None:
        gc.unfreeze()
        gc.set_threshold(*previous)

    return undo
