"""A batch job's stream state as the committer records it, and the range helpers (pure)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from schemahub.jobs.lake_ids import holes, runs
from schemahub.jobs.rest_fetch import opened
from schemahub.sequencing import Gap, Sequencer, StreamKey, StreamState
from schemahub.sequencing.merge import union
from schemahub.sequencing.ranges import difference, intersect
from schemahub.sequencing.union import union_offsets


def _fill(read: StreamState, ranges, available) -> StreamState:
    """What a job does: open ``ranges`` on ``read``, admit the ids the venue has, mark the rest
    lost. Returns the job's state."""
    base = opened(read, ranges)
    seq = Sequencer({("binance", "X"): base})
    for lo, hi in ranges:
        ids = [i for i in range(lo, hi + 1) if i in available]
        seq.admit("binance", "X", ids)
        seq.mark_lost(Gap("binance", "X", lo, hi), "gone")
    return seq.state("binance", "X")


def _commit(committed: StreamState, read: StreamState, ours: StreamState) -> StreamState:
    """What the committer records for the job's stream: it starts from the states as read."""
    key = StreamKey("binance", "X")
    return union_offsets({key: committed}, {key: ours}, {key: read})[key]


def test_nobody_else_wrote_the_stream_our_state_stands():
    read = StreamState(100, ((10, 19),), ())
    ours = _fill(read, [(10, 19), (101, 120)], set(range(12, 200)))
    assert ours == StreamState(120, (), ((10, 11),))
    assert _commit(read, read, ours) == ours


def test_a_hole_the_state_did_not_know_is_recorded_lost():
    read = StreamState(100, (), ())
    ours = _fill(read, [(40, 49)], set())
    assert _commit(read, read, ours) == StreamState(100, (), ((40, 49),))


def test_a_daemon_moved_on_meanwhile_its_progress_and_our_fills_both_stay():
    read = StreamState(100, ((10, 19), (50, 59)), ())
    ours = _fill(read, [(10, 19), (101, 110)], set(range(15, 200)))
    # meanwhile the daemon went to 300, filled 50..59 itself and found 250..260 missing
    committed = StreamState(300, ((10, 19), (250, 260)), ())
    assert _commit(committed, read, ours) == StreamState(300, ((250, 260),), ((10, 14),))


def test_opened_keeps_unfetched_ids_above_the_mark_missing():
    state = StreamState(100, ((10, 12),), ((20, 29),))
    assert opened(state, [(25, 26), (150, 160)]) == StreamState(
        160, ((10, 12), (25, 26), (101, 160)), ((20, 24), (27, 29))
    )
    assert opened(StreamState(), [(5, 9)]) == StreamState(9, ((5, 9),), ())


@given(st.lists(st.integers(0, 60), unique=True))
def test_runs_and_holes_partition_the_span(ids):
    array = np.array(sorted(ids), dtype=np.int64)
    present, missing = runs(array), holes(array)
    assert sum(hi - lo + 1 for lo, hi in present) == len(ids)
    if ids:
        assert union(present, missing) == [(min(ids), max(ids))]
        assert intersect(present, missing) == []
        assert difference([(min(ids), max(ids))], present) == missing
