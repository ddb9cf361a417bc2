"""The metrics registry: bound label handles update the same values as labelled calls."""

from __future__ import annotations

import pytest

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
