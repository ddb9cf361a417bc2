"""Two writers' states of one stream, combined (pure).

During a rolling deployment two replicas briefly own the same streams and both commit their
state of them. Each state says which ids its writer has handled (committed, or found committed
by the other writer, or before the stream's start): every id up to the high-water mark except
the open gaps and the lost ids. The table holds what either handled, so the state to commit is
the union: an id is still missing only if both writers miss it, and lost if either gave it up
and neither has it. Writing one writer's state over the other's instead would forget ids the
other committed, and a restart would fetch and append them again.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemahub.sequencing import ranges
from schemahub.sequencing.ranges import Range
from schemahub.sequencing.sequencer import StreamKey, StreamState


def union_state(left: StreamState, right: StreamState) -> StreamState:
    """The state of a stream whose handled ids are those of ``left`` plus those of ``right``."""
    if left.high_water is None:
        return right
    if right.high_water is None:
        return left
    top = max(left.high_water, right.high_water)
    missing = ranges.intersect(_unhandled(left, top), _unhandled(right, top))
    lost = ranges.intersect(ranges.merge([*left.lost, *right.lost]), missing)
    return StreamState(top, tuple(ranges.difference(missing, lost)), tuple(lost))


def _unhandled(state: StreamState, top: int) -> list[Range]:
    assert state.high_water is not None
    above = [(state.high_water + 1, top)] if state.high_water < top else []
    return ranges.merge([*state.gaps, *state.lost, *above])


def union_offsets(
    committed: Mapping[StreamKey, StreamState],
    ours: Mapping[StreamKey, StreamState],
    previous: Mapping[StreamKey, StreamState] | None = None,
) -> dict[StreamKey, StreamState]:
    """Every stream's state to commit: ours united with what the table already records (other
    shards' streams carried as they are). ``previous``, our states at our last commit, spares
    the work where the table still holds just that: our handled ids only grow."""
    previous = previous or {}
    merged = dict(committed)
    for key, state in ours.items():
        theirs = committed.get(key)
        if theirs is None or theirs == previous.get(key):
            merged[key] = state
        else:
            merged[key] = union_state(theirs, state)
    return merged
