"""Pure helpers on sorted lists of inclusive integer ranges ``(lo, hi)``.

The sequencer keeps a stream's open gaps and lost ids as such lists: sorted, non-overlapping and
non-adjacent (merged). Every helper returns a new list and leaves its input alone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

Range = tuple[int, int]
_ABOVE_ANY_HI = float("inf")  # sorts after every (lo, hi) that has the same lo


def remove_ids(ranges: list[Range], ids: Sequence[int]) -> tuple[list[Range], list[int]]:
    """Take sorted distinct ``ids`` out of ``ranges``, splitting the ranges they fall into.

    Returns the remaining ranges and the ids that were inside a range (in ascending order).
    Work is O(len(ranges) + len(ids) * log len(ranges)).
    """
    hits: list[tuple[int, list[int]]] = []  # (range index, ids inside it), range index ascending
    for x in ids:
        i = bisect_right(ranges, (x, _ABOVE_ANY_HI)) - 1
        if i < 0 or x > ranges[i][1]:
            continue
        if hits and hits[-1][0] == i:
            hits[-1][1].append(x)
        else:
            hits.append((i, [x]))
    if not hits:
        return ranges, []
    out: list[Range] = []
    inside: list[int] = []
    done = 0
    for i, xs in hits:
        out.extend(ranges[done:i])
        out.extend(_split(ranges[i], xs))
        inside.extend(xs)
        done = i + 1
    out.extend(ranges[done:])
    return out, inside


def _split(rng: Range, xs: list[int]) -> list[Range]:
    """The pieces of ``rng`` left once the sorted ids ``xs`` (all inside it) are taken out."""
    pieces: list[Range] = []
    start = rng[0]
    for x in xs:
        if x > start:
            pieces.append((start, x - 1))
        start = x + 1
    if start <= rng[1]:
        pieces.append((start, rng[1]))
    return pieces


def subtract(ranges: list[Range], lo: int, hi: int) -> tuple[list[Range], list[Range]]:
    """Take ``[lo, hi]`` out of ``ranges``; return the rest and the pieces that were removed."""
    out: list[Range] = []
    removed: list[Range] = []
    for a, b in ranges:
        if b < lo or a > hi:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo - 1))
        removed.append((max(a, lo), min(b, hi)))
        if b > hi:
            out.append((hi + 1, b))
    return out, removed


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Sort ranges and merge the ones that overlap or touch."""
    out: list[Range] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def check_ranges(ranges: Sequence[Range], what: str) -> str | None:
    """Why ``ranges`` is not a sorted, merged list of int ranges, or None when it is."""
    prev_hi: int | None = None
    for rng in ranges:
        if not (isinstance(rng, tuple) and len(rng) == 2):
            return f"{what}: expected (first, last) pairs, got {rng!r}"
        a, b = rng
        if not (is_int(a) and is_int(b)) or a > b:
            return f"{what}: expected integers first <= last, got {rng!r}"
        if prev_hi is not None and a <= prev_hi + 1:
            return f"{what}: ranges must be sorted, apart and merged, got {rng!r} after {prev_hi}"
        prev_hi = b
    return None


def overlaps(left: Sequence[Range], right: Sequence[Range]) -> bool:
    """Whether any range of ``left`` shares an id with any range of ``right`` (both sorted)."""
    i = j = 0
    while i < len(left) and j < len(right):
        (a, b), (c, d) = left[i], right[j]
        if b < c:
            i += 1
        elif d < a:
            j += 1
        else:
            return True
    return False


def is_int(value: object) -> bool:
    """An int proper (bools are ints to Python, not to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def intersect(left: Sequence[Range], right: Sequence[Range]) -> list[Range]:
    """The ids in both sorted, merged lists, as a sorted, merged list."""
    out: list[Range] = []
    i = j = 0
    while i < len(left) and j < len(right):
        (a, b), (c, d) = left[i], right[j]
        lo, hi = max(a, c), min(b, d)
        if lo <= hi:
            out.append((lo, hi))
        if b < d:
            i += 1
        else:
            j += 1
    return merge(out)


def difference(ranges: Sequence[Range], removed: Sequence[Range]) -> list[Range]:
    """The ids of ``ranges`` that are not in ``removed``."""
    out = list(ranges)
    for lo, hi in removed:
        out, _ = subtract(out, lo, hi)
    return out
