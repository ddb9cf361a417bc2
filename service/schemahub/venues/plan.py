"""How a venue's streams are spread over connections and subscribe messages (pure).

Binance allows 1024 streams a connection: 2,000 streams need two connections, and they get
1,000 each rather than 1,024 + 976, so both carry the same load and the same reconnect cost.
A symbol whose top of book is subscribed too (the discrepancy feed's grouped symbols) takes two
streams on its connection: a connection's streams are its trades plus its quotes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from schemahub.errors import UsageError

T = TypeVar("T")


def connections_needed(count: int, max_per_connection: int) -> int:
    """The fewest connections that carry ``count`` streams."""
    if max_per_connection <= 0:
        raise UsageError(f"max streams per connection must be positive, got {max_per_connection}")
    return max(1, -(-count // max_per_connection)) if count else 0


def streams_per_symbol(quote_symbols: Collection[str]) -> Callable[[str], int]:
    """How many streams a symbol takes on a connection: its trades, plus its top of book when
    it is one of ``quote_symbols``."""
    return lambda symbol: 2 if symbol in quote_symbols else 1


def _one(_item: object) -> int:
    return 1


def spread(
    items: Sequence[T], max_per_group: int, weight: Callable[[T], int] = _one
) -> list[list[T]]:
    """Split ``items`` into the fewest groups whose ``weight`` sums are at most
    ``max_per_group``, order kept, the sums as even as the weights allow (with equal weights,
    sizes within one of each other). ``spread(range(2000), 1024)`` gives two groups of 1,000."""
    weights = [weight(item) for item in items]
    if any(w > max_per_group for w in weights):
        raise UsageError(f"one item takes {max(weights)} streams, more than {max_per_group}")
    groups = len(_packed(weights, max_per_group))  # packing in order is the fewest
    out = _even(weights, groups)
    if any(sum(weights[i] for i in group) > max_per_group for group in out):
        out = _packed(weights, _smallest_cap(weights, groups, max_per_group))
    return [[items[i] for i in group] for group in out]


def _packed(weights: list[int], cap: int) -> list[list[int]]:
    """Indexes in consecutive groups, each filled up to ``cap`` before the next starts."""
    out: list[list[int]] = []
    filled = cap
    for index, w in enumerate(weights):
        if filled + w > cap:
            out.append([])
            filled = 0
        out[-1].append(index)
        filled += w
    return out


def _even(weights: list[int], groups: int) -> list[list[int]]:
    """Indexes in ``groups`` consecutive groups, each filled up to its even share of the
    total weight (the last takes the rest)."""
    size, extra = divmod(sum(weights), groups) if groups else (0, 0)
    out: list[list[int]] = []
    index, filled = 0, 0
    for group in range(groups):
        boundary = (group + 1) * size + min(group + 1, extra)
        members: list[int] = []
        last = group == groups - 1
        while index < len(weights) and (last or filled + weights[index] <= boundary):
            filled += weights[index]
            members.append(index)
            index += 1
        out.append(members)
    return out


def _smallest_cap(weights: list[int], groups: int, max_per_group: int) -> int:
    """The smallest cap at which packing in order still takes only ``groups`` groups."""
    low, high = max(max(weights), -(-sum(weights) // groups)), max_per_group
    while low < high:
        middle = (low + high) // 2
        if len(_packed(weights, middle)) <= groups:
            high = middle
        else:
            low = middle + 1
    return low


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive slices of at most ``size`` items (the subscribe messages of a connection)."""
    if size <= 0:
        raise UsageError(f"chunk size must be positive, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def unique(items: Sequence[T]) -> list[T]:
    """``items`` without repeats, first kept (a symbol configured twice is one stream)."""
    return list(dict.fromkeys(items))
