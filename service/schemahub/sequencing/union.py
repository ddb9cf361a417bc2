"""Two writers' states of one stream, combined (pure).

During a rolling deployment two replicas briefly own the same streams and both commit their
state of them. Each state says which ids its writer has handled (committed, or found committed
by the other writer, or before the stream's start): every id up to the high-water mark except
the open gaps and the lost ids. The table holds what either handled, so the state to commit is
the union: an id is still missing only if both writers miss it, and lost if either gave it up
and neither has it. Writing one writer's state over the other's instead would forget ids the
other committed, and a restart would fetch and append them again. Ids owed before a stream's
first trade (``owed_since``) stay owed only if both writers owe them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from schemahub.sequencing import ranges
from schemahub.sequencing.ranges import Range
from schemahub.sequencing.sequencer import StreamKey, StreamState


def union_state(left: StreamState, right: StreamState) -> StreamState:
    """The state of a stream whose handled ids are those of ``left`` plus those of ``right``."""
    if left == _NOTHING or right == _NOTHING:  # a writer that knows nothing of the stream
        return right if left == _NOTHING else left
    if left.high_water is None:
        united = right
    elif right.high_water is None:
        united = left
    else:
        top = max(left.high_water, right.high_water)
        missing = ranges.intersect(_unhandled(left, top), _unhandled(right, top))
        lost = ranges.intersect(ranges.merge([*left.lost, *right.lost]), missing)
        united = StreamState(top, tuple(ranges.difference(missing, lost)), tuple(lost))
    return dataclasses.replace(united, **_owed_by_both(left, right, united))


_NOTHING = StreamState()


def _owed_by_both(left: StreamState, right: StreamState, united: StreamState) -> dict:
    """The owed fields of the union: owed from the later time, below the lower first id, when
    both writers owe; else nothing owed (one writer's start counts as handled, as above)."""
    if left.owed_since is None or right.owed_since is None:
        return {"owed_since": None, "owed_below": None}
    belows = [b for b in (left.owed_below, right.owed_below) if b is not None]
    below = min(belows) if belows and united.high_water is not None else None
    return {"owed_since": max(left.owed_since, right.owed_since), "owed_below": below}


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
