"""Small helpers on lists of id ranges that the batch jobs use (see ``ranges`` for the rest)."""

from __future__ import annotations

from collections.abc import Iterable

from schemahub.sequencing.ranges import Range, merge


def union(*lists: Iterable[Range]) -> list[Range]:
    """Every id of every list, as sorted merged ranges."""
    return merge(r for rngs in lists for r in rngs)


def ids_in(rngs: Iterable[Range]) -> int:
    """How many ids the ranges span."""
    return sum(hi - lo + 1 for lo, hi in rngs)
