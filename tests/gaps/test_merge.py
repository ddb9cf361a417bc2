"""A batch job's stream state laid over another writer's (pure functions)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from schemahub.jobs.lake_ids import holes, runs
from schemahub.jobs.rest_fetch import opened
from schemahub.sequencing import Gap, Sequencer, StreamState
from schemahub.sequencing.merge import difference, intersect, merge_progress, union


def _fill(read: StreamState, ranges, available) -> tuple[StreamState, StreamState]:
    """What a job does: open ``ranges`` on ``read``, admit the ids the venue has, mark the rest
    lost. Returns (base, ours)."""
    base = opened(read, ranges)
    seq = Sequencer({("binance", "X"): base})
    for lo, hi in ranges:
        ids = [i for i in range(lo, hi + 1) if i in available]
        seq.admit("binance", "X", ids)
        seq.mark_lost(Gap("binance", "X", lo, hi), "gone")
    return base, seq.state("binance", "X")


def test_nobody_else_wrote_the_stream_our_state_stands():
    read = StreamState(100, ((10, 19),), ())
    base, ours = _fill(read, [(10, 19), (101, 120)], set(range(12, 200)))
    assert ours == StreamState(120, (), ((10, 11),))
    assert merge_progress(read, read, base, ours) == ours


def test_a_daemon_moved_on_meanwhile_its_progress_and_our_fills_both_stay():
    read = StreamState(100, ((10, 19), (50, 59)), ())
    base, ours = _fill(read, [(10, 19), (101, 110)], set(range(15, 200)))
    # meanwhile the daemon went to 300, filled 50..59 itself and found 250..260 missing
    committed = StreamState(300, ((10, 19), (250, 260)), ())
    merged = merge_progress(committed, read, base, ours)
    assert merged == StreamState(300, ((250, 260),), ((10, 14),))


def test_a_hole_the_state_did_not_know_is_recorded_lost():
    read = StreamState(100, (), ())
    base, ours = _fill(read, [(40, 49)], set())
    committed = StreamState(150, (), ())  # a daemon committed meanwhile
    assert merge_progress(committed, read, base, ours).lost == ((40, 49),)
    assert merge_progress(read, read, base, ours).lost == ((40, 49),)


def test_lost_ids_the_other_writer_landed_are_not_lost():
    read = StreamState(100, ((40, 49),), ())
    base, ours = _fill(read, [(40, 49)], set())
    committed = StreamState(120, (), ())  # the daemon filled 40..49 meanwhile
    assert merge_progress(committed, read, base, ours) == StreamState(120, (), ())


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
