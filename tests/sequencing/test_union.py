"""Two writers' states of one stream united: checked against sets of ids on a small domain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemahub.sequencing import StreamKey, StreamState
from schemahub.sequencing.ranges import merge
from schemahub.sequencing.union import union_offsets, union_state

DOMAIN = range(0, 40)


def _ranges(ids: set[int]) -> tuple[tuple[int, int], ...]:
    return tuple(merge((i, i) for i in ids))


def _ids(rngs) -> set[int]:
    return {i for lo, hi in rngs for i in range(lo, hi + 1)}


@st.composite
def states(draw) -> StreamState:
    hw = draw(st.integers(min_value=0, max_value=DOMAIN.stop - 1))
    below = list(range(0, hw + 1))
    gaps = set(draw(st.lists(st.sampled_from(below), max_size=12)))
    lost = set(draw(st.lists(st.sampled_from(below), max_size=6))) - gaps
    return StreamState(hw, _ranges(gaps), _ranges(lost))


def _handled(state: StreamState) -> set[int]:
    assert state.high_water is not None
    return set(range(0, state.high_water + 1)) - _ids(state.gaps) - _ids(state.lost)


@given(states(), states())
def test_the_union_handles_what_either_handled_and_misses_only_what_both_miss(a, b) -> None:
    merged = union_state(a, b)
    assert merged.problem() is None
    assert merged.high_water == max(a.high_water, b.high_water)
    assert _handled(merged) == _handled(a) | _handled(b)
    assert _ids(merged.lost) == (_ids(a.lost) | _ids(b.lost)) - _handled(merged)
    assert union_state(b, a) == merged


@given(states())
def test_a_state_united_with_itself_or_an_empty_one_is_unchanged(a) -> None:
    assert union_state(a, a) == a
    assert union_state(a, StreamState()) == a
    assert union_state(StreamState(), a) == a


def test_a_writer_behind_the_other_does_not_take_back_what_the_other_committed() -> None:
    ahead = StreamState(100, ((50, 60),))  # committed up to 100, 50..60 still missing
    behind = StreamState(80, ((40, 45),))  # the old task: up to 80, but it had 50..60
    merged = union_state(ahead, behind)
    assert merged.high_water == 100
    assert merged.gaps == ()  # 40..45 ahead has; 50..60 behind has; 81..100 ahead has


def test_other_shards_streams_are_carried_and_ours_are_united() -> None:
    theirs = StreamKey("kraken", "BTC/USD")
    ours = StreamKey("binance", "BTCUSDT")
    committed = {theirs: StreamState(7), ours: StreamState(100, ((90, 95),))}
    merged = union_offsets(committed, {ours: StreamState(92, ((10, 20),))})
    assert merged == {theirs: StreamState(7), ours: StreamState(100, ((93, 95),))}


def test_a_committed_state_that_is_our_previous_one_is_not_recomputed_nor_different() -> None:
    key = StreamKey("coinbase", "BTC-USD")
    before, now = StreamState(100, ((50, 60),)), StreamState(120, ((55, 60),))
    assert union_offsets({key: before}, {key: now}, {key: before}) == {key: now}
    assert union_state(before, now) == now  # what the shortcut stands for
    other = StreamState(130, ((58, 60),))  # another writer's: no shortcut
    merged = union_offsets({key: other}, {key: now}, {key: before})
    assert merged == {key: StreamState(130, ((58, 60),))}
