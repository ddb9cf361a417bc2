"""How a venue's streams are spread over connections and subscribe messages (pure).

Binance allows 1024 streams a connection: 2,000 streams need two connections, and they get
1,000 each rather than 1,024 + 976, so both carry the same load and the same reconnect cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from schemahub.errors import UsageError

T = TypeVar("T")


def connections_needed(count: int, max_per_connection: int) -> int:
    """The fewest connections that carry ``count`` streams."""
    if max_per_connection <= 0:
        raise UsageError(f"max streams per connection must be positive, got {max_per_connection}")
    return max(1, -(-count // max_per_connection)) if count else 0


def spread(items: Sequence[T], max_per_group: int) -> list[list[T]]:
    """Split ``items`` into the fewest groups of at most ``max_per_group``, sizes within one of
    each other, order kept. ``spread(range(2000), 1024)`` gives two groups of 1,000."""
    groups = connections_needed(len(items), max_per_group)
    if groups == 0:
        return []
    size, extra = divmod(len(items), groups)
    out: list[list[T]] = []
    start = 0
    for index in range(groups):
        end = start + size + (1 if index < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive slices of at most ``size`` items (the subscribe messages of a connection)."""
    if size <= 0:
        raise UsageError(f"chunk size must be positive, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def unique(items: Sequence[T]) -> list[T]:
    """``items`` without repeats, first kept (a symbol configured twice is one stream)."""
    return list(dict.fromkeys(items))
