"""The metrics registry: bound label handles update the same values as labelled calls."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.ops.metrics import Registry


def test_a_bound_child_counts_into_the_metric_it_came_from() -> None:
    registry = Registry()
    frames = registry.counter("frames_total", "Frames", ("venue",))
    child = frames.labels(venue="binance")
    assert "frames_total{" not in registry.render()  # nothing counted yet, as with inc()
    child.inc()
    child.inc(2)
    frames.inc(venue="binance")
    frames.inc(venue="kraken")
    assert frames.get(venue="binance") == 4
    assert 'frames_total{venue="binance"} 4' in registry.render().splitlines()
    assert 'frames_total{venue="kraken"} 1' in registry.render().splitlines()


def test_a_bound_gauge_child_sets_the_value() -> None:
    gauge = Registry().gauge("depth", "Depth", ("venue",))
    child = gauge.labels(venue="kraken")
    child.set(7)
    child.set(3)
    assert gauge.get(venue="kraken") == 3


def test_labels_are_checked_when_the_child_is_made() -> None:
    counter = Registry().counter("trades_total", "Trades", ("venue", "source"))
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(venue="binance")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=-5, max_value=60, allow_nan=False),
            st.sampled_from([0.005, 0.01, 0.5, 1.0, 2.5, 30.0, 30.000001]),  # on the bounds
            st.none(),
        ),
        max_size=60,
    )
)
def test_observing_many_counts_as_observing_each(values: list[float | None]) -> None:
    one_by_one = Registry().histogram("lag_seconds", "Lag", ("venue",))
    for value in values:
        if value is not None:
            one_by_one.observe(value, venue="kraken")
    registry = Registry()
    many = registry.histogram("lag_seconds", "Lag", ("venue",))
    half = len(values) // 2
    many.observe_many(pa.array(values[:half], pa.float64()), venue="kraken")  # nulls skipped
    present = np.array([v for v in values[half:] if v is not None], dtype=np.float64)
    many.observe_many(present, venue="kraken")
    key, none = ("kraken",), [0] * (len(many.buckets) + 1)
    assert many.counts.get(key, none) == one_by_one.counts.get(key, none)
    assert many.sums.get(key, 0.0) == pytest.approx(one_by_one.sums.get(key, 0.0))
    counted = sum(v is not None for v in values)
    assert many.count(venue="kraken") == counted
