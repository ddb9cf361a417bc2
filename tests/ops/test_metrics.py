"""The metrics registry over prometheus-client: bound handles, mirrored counts, vectorised
histograms, and an exposition that prometheus-client's own parsers read back."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from schemahub.ops.metrics import Registry


def parsed(registry: Registry) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Family name -> its samples, as prometheus-client's text parser reads the exposition."""
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(registry.render())
    }


def test_a_bound_child_counts_into_the_metric_it_came_from() -> None:
    registry = Registry()
    frames = registry.counter("frames_total", "Frames", ("venue",))
    assert parsed(registry)["frames"] == []  # no label set yet
    child = frames.labels(venue="binance")
    assert parsed(registry)["frames"] == [("frames_total", {"venue": "binance"}, 0.0)]
    child.inc()
    child.inc(2)
    frames.inc(venue="binance")
    frames.inc(venue="kraken")
    assert frames.get(venue="binance") == 4
    assert frames.get(venue="coinbase") == 0
    assert sorted(parsed(registry)["frames"], key=str) == [
        ("frames_total", {"venue": "binance"}, 4.0),
        ("frames_total", {"venue": "kraken"}, 1.0),
    ]
    assert frames.values == {("binance",): 4.0, ("kraken",): 1.0}


def test_a_bound_gauge_child_sets_the_value() -> None:
    registry = Registry()
    gauge = registry.gauge("depth", "Depth", ("venue",))
    child = gauge.labels(venue="kraken")
    child.set(7)
    child.set(3)
    assert gauge.get(venue="kraken") == 3
    assert parsed(registry)["depth"] == [("depth", {"venue": "kraken"}, 3.0)]


def test_labels_are_checked_when_the_child_is_made() -> None:
    counter = Registry().counter("trades_total", "Trades", ("venue", "source"))
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(venue="binance")
    with pytest.raises(ValueError, match="takes labels"):
        counter.inc(venue="binance", source="ws", stage="x")


def test_a_counter_cannot_go_down() -> None:
    counter = Registry().counter("trades_total", "Trades")
    with pytest.raises(ValueError):
        counter.inc(-1)


def test_a_name_registers_once() -> None:
    registry = Registry()
    first = registry.counter("commits_total", "Commits", ("table",))
    assert registry.counter("commits_total", "Commits", ("table",)) is first
    with pytest.raises(ValueError, match="registered differently"):
        registry.gauge("commits_total", "Commits", ("table",))
    with pytest.raises(ValueError, match="registered differently"):
        registry.counter("commits_total", "Commits", ("venue",))


def test_a_mirrored_count_follows_its_source_and_never_goes_down() -> None:
    counter = Registry().counter("websocket_total", "Session counters", ("venue", "counter"))
    for total, exposed in [(5, 5), (5, 5), (9, 9), (2, 11), (4, 13)]:  # 2: a new session
        counter.mirror(total, venue="kraken", counter="frames")
        assert counter.get(venue="kraken", counter="frames") == exposed


def test_the_exposition_has_the_process_platform_and_gc_collectors() -> None:
    registry = Registry()
    registry.counter("schemahub_trades_total", "Trades", ("venue",)).inc(3, venue="kraken")
    families = parsed(registry)
    for name in (
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_objects_collected",
        "python_gc_collections",
    ):
        assert families.get(name), name
    assert families["process_resident_memory_bytes"][0][2] > 0
    assert families["process_open_fds"][0][2] > 0
    assert families["schemahub_trades"] == [
        ("schemahub_trades_total", {"venue": "kraken"}, 3.0)  # no *_created series
    ]
    assert "process_resident_memory_bytes" not in Registry(process_collectors=False).render()


def test_callbacks_run_before_the_metrics_are_read() -> None:
    registry = Registry()
    rows = registry.gauge("buffered_rows", "Rows")
    seen = iter(range(10, 100, 10))
    registry.add_collector(lambda: rows.set(next(seen)))
    assert parsed(registry)["buffered_rows"] == [("buffered_rows", {}, 10.0)]
    assert parsed(registry)["buffered_rows"] == [("buffered_rows", {}, 20.0)]


def test_a_histogram_is_exposed_cumulatively_and_parses() -> None:
    registry = Registry()
    lag = registry.histogram("lag_seconds", "Lag", ("venue",), buckets=(1, 0.5, 5))
    lag.observe_many(np.array([0.1, 0.5, 0.7, 3.0, 9.0]), venue="kraken")
    lag.observe(2.0, venue="kraken")
    samples = {(name, s.get("le")): value for name, s, value in parsed(registry)["lag_seconds"]}
    assert samples == {
        ("lag_seconds_bucket", "0.5"): 2.0,  # le: 0.5 itself is in the 0.5 bucket
        ("lag_seconds_bucket", "1.0"): 3.0,
        ("lag_seconds_bucket", "5.0"): 5.0,
        ("lag_seconds_bucket", "+Inf"): 6.0,
        ("lag_seconds_count", None): 6.0,
        ("lag_seconds_sum", None): pytest.approx(15.3),
    }


def test_a_scraper_asking_for_openmetrics_gets_it() -> None:
    registry = Registry()
    registry.counter("schemahub_commits_total", "Commits", ("table",)).inc(table="raw")
    registry.histogram("flush_seconds", "Flush").observe(0.2)
    body, content_type = registry.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(body.decode())}
    assert families["schemahub_commits"].samples[0].value == 1
    assert families["flush_seconds"].type == "histogram"
    plain_body, plain_type = registry.exposition()
    assert plain_type.startswith("text/plain; version=")
    assert b"# TYPE schemahub_commits_total counter" in plain_body


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
    one_by_one = Registry(process_collectors=False).histogram("lag_seconds", "Lag", ("venue",))
    for value in values:
        if value is not None:
            one_by_one.observe(value, venue="kraken")
    registry = Registry(process_collectors=False)
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
    # and each one-by-one bucket, counted by hand with Prometheus' "le"
    for i, bound in enumerate(many.buckets):
        expected = sum(v is not None and v <= bound for v in values)
        assert sum(many.counts.get(key, none)[: i + 1]) == expected
