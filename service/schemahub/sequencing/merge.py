"""Laying one writer's progress on a stream over what another writer committed meanwhile.

A batch job (``run ingest``, ``gap-fill``) reads a stream's committed state, works on it, and
commits. A daemon owning the same stream may have committed in between. The job must not undo
what the daemon recorded (a higher high-water mark, new gaps), and the daemon's gaps that the
job filled are no longer gaps. Pure functions on :class:`StreamState`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemahub.sequencing.ranges import Range, merge, subtract
from schemahub.sequencing.sequencer import StreamState


def union(*lists: Iterable[Range]) -> list[Range]:
    """Every id of every list, as sorted merged ranges."""
    return merge(r for rngs in lists for r in rngs)


def difference(left: Sequence[Range], right: Iterable[Range]) -> list[Range]:
    """The ids of ``left`` that are not in ``right``."""
    out = list(left)
    for lo, hi in right:
        out, _ = subtract(out, lo, hi)
    return out


def intersect(left: Sequence[Range], right: Sequence[Range]) -> list[Range]:
    """The ids in both lists."""
    return difference(left, difference(left, right))


def ids_in(rngs: Iterable[Range]) -> int:
    """How many ids the ranges span."""
    return sum(hi - lo + 1 for lo, hi in rngs)


def present_after(base: StreamState, ours: StreamState) -> list[Range]:
    """The ids that were missing in ``base`` (a gap, lost, or above its high-water mark) and
    that ``ours`` holds: what the job landed."""
    if ours.high_water is None:
        return []
    missing = union(base.gaps, base.lost)
    above = (base.high_water + 1 if base.high_water is not None else None, ours.high_water)
    if above[0] is not None and above[0] <= above[1]:
        missing = union(missing, [above])
    return difference(missing, union(ours.gaps, ours.lost))


def above(rngs: Iterable[Range], floor: int) -> list[Range]:
    """The ids of ``rngs`` greater than ``floor``."""
    return [(max(lo, floor + 1), hi) for lo, hi in rngs if hi > floor]


def merge_progress(
    committed: StreamState, read: StreamState, base: StreamState, ours: StreamState
) -> StreamState:
    """A job's state laid over the stream's state at commit time.

    ``read`` is the committed state the job started from, ``base`` that state with the ranges
    the job fetches opened as gaps, ``ours`` where the job's sequencer ended. When nobody else
    committed the stream meanwhile (``committed == read``), ours is the answer. Otherwise: the
    higher high-water mark; the committed gaps minus what the job landed, plus the job's gaps
    above the committed mark; the ids the job found lost unless the other writer landed them.
    """
    if committed == read or committed.high_water is None:
        return ours
    if ours.high_water is None:
        return committed
    top = committed.high_water
    gaps = union(difference(committed.gaps, present_after(base, ours)), above(ours.gaps, top))
    newly_lost = difference(ours.lost, base.lost)
    lost = union(committed.lost, difference(newly_lost, present_after(read, committed)))
    return StreamState(max(top, ours.high_water), tuple(difference(gaps, lost)), tuple(lost))
