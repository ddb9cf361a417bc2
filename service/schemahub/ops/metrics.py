"""The daemon's Prometheus metrics, kept and exposed by ``prometheus-client``.

A thin layer over the library so call sites stay small: :class:`Registry` hands out counters,
gauges and histograms with fixed label names, and renders them with prometheus-client's own
exposition, next to its standard process, platform and garbage-collector collectors (memory,
CPU, file descriptors, GC), which operators' dashboards expect.

Counters and gauges are prometheus-client's own. Histograms are a custom collector (the
library's documented extension point) because the committer observes a whole flush's per-row
lags at once with vectorised numpy compares; prometheus-client's histogram takes one value per
call, which per row would cost more than the flush's Parquet encoding.

Hot paths resolve a label set once (``labels(...)``) and call ``inc`` per burst, never per row.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np
import prometheus_client
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

LabelValues = tuple[str, ...]

# The ``*_created`` series double every counter and histogram and no dashboard of ours reads
# them; the switch is process-wide, and this module is the process's only metrics user.
prometheus_client.disable_created_metrics()

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Child(Protocol):
    """One label set of a counter or gauge, resolved once, for updates on a hot path."""

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (>= 0 for counters)."""


def _label_key(name: str, labelnames: tuple[str, ...], labels: dict[str, str]) -> LabelValues:
    if set(labels) != set(labelnames):
        raise ValueError(f"{name} takes labels {labelnames}, got {tuple(labels)}")
    return tuple(str(labels[n]) for n in labelnames)


class Counter:
    """A monotonically increasing count (prometheus-client's ``Counter``)."""

    _kind: type = prometheus_client.Counter

    def __init__(
        self, registry: CollectorRegistry, name: str, help: str, labelnames: Sequence[str]
    ) -> None:
        self.name = name
        self.labelnames = tuple(labelnames)
        self._metric = self._kind(name, help, self.labelnames, registry=registry)
        self._mirrored: dict[LabelValues, float] = {}

    def labels(self, **labels: str) -> Child:
        """A handle on one label set (checked now); its series is exposed from now on, at 0."""
        key = _label_key(self.name, self.labelnames, labels)
        return self._metric.labels(*key) if key else self._metric

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` (>= 0)."""
        self.labels(**labels).inc(amount)

    def mirror(self, total: float, **labels: str) -> None:
        """Follow a count kept elsewhere (e.g. a session's own stats): add what it gained since
        the last call; a total that went down (a new session) restarted, so all of it is new."""
        key = _label_key(self.name, self.labelnames, labels)
        last = self._mirrored.get(key, 0)
        gained = total - last if total >= last else total
        self._mirrored[key] = total
        self.labels(**labels).inc(gained)

    def get(self, **labels: str) -> float:
        """The current value for these labels (0 if never updated)."""
        return self.values.get(_label_key(self.name, self.labelnames, labels), 0)

    @property
    def values(self) -> dict[LabelValues, float]:
        """Every exposed label set's value (a snapshot, read through the library's collect)."""
        sample_name = self._sample_name()
        return {
            tuple(sample.labels[n] for n in self.labelnames): sample.value
            for family in self._metric.collect()
            for sample in family.samples
            if sample.name == sample_name
        }

    def _sample_name(self) -> str:
        return self.name.removesuffix("_total") + "_total"


class Gauge(Counter):
    """A value that goes up and down (prometheus-client's ``Gauge``)."""

    _kind = prometheus_client.Gauge

    def set(self, value: float, **labels: str) -> None:
        """Set the value."""
        self.labels(**labels).set(value)  # type: ignore[attr-defined]

    def _sample_name(self) -> str:
        return self.name


class Histogram:
    """Observations counted into cumulative buckets (seconds by default), exposed through
    prometheus-client as a custom collector. Observations may come from the committer thread
    while a scrape reads on the event loop: a lock keeps each snapshot whole."""

    def __init__(
        self,
        registry: CollectorRegistry,
        name: str,
        help: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = (),
    ) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(sorted(buckets)) if buckets else DEFAULT_BUCKETS
        self.counts: dict[LabelValues, list[int]] = {}
        self.sums: dict[LabelValues, float] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation."""
        self.observe_many(np.asarray([value], dtype=np.float64), **labels)

    def observe_many(self, values: np.ndarray | pa.Array | pa.ChunkedArray, **labels: str) -> None:
        """Record many observations at once (vectorised; for per-row latencies). Null values
        are not observations."""
        if not isinstance(values, np.ndarray):
            values = pc.drop_null(values).to_numpy()
        key = _label_key(self.name, self.labelnames, labels)
        # Bucket i holds the values at or below bound i and above bound i-1 (Prometheus' le).
        placed = np.searchsorted(np.asarray(self.buckets), values, side="left")
        added = np.bincount(placed, minlength=len(self.buckets) + 1).tolist()
        total = float(values.sum())
        with self._lock:
            counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
            for i, n in enumerate(added):
                counts[i] += n
            self.sums[key] = self.sums.get(key, 0.0) + total

    def count(self, **labels: str) -> int:
        """How many observations were recorded."""
        return sum(self.counts.get(_label_key(self.name, self.labelnames, labels), ()))

    def describe(self) -> Iterable[Metric]:
        """The family without samples (lets the registry refuse a second metric of this name)."""
        return [HistogramMetricFamily(self.name, self.help, labels=self.labelnames)]

    def collect(self) -> Iterable[Metric]:
        """The family with one cumulative bucket series per label set (prometheus-client API)."""
        with self._lock:
            snapshot = sorted((key, list(c), self.sums[key]) for key, c in self.counts.items())
        family = HistogramMetricFamily(self.name, self.help, labels=self.labelnames)
        bounds = [floatToGoString(b) for b in (*self.buckets, math.inf)]
        for key, counts, total in snapshot:
            cumulative = np.cumsum(counts).tolist()
            family.add_metric(list(key), list(zip(bounds, cumulative, strict=True)), total)
        return [family]


class _Callbacks:
    """Runs the registry's pre-render callbacks; registered first, so they run before any
    metric is read."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def collect(self) -> Iterable[Metric]:
        for callback in self.callbacks:
            callback()
        return []


class Registry:
    """Our metrics by name, in a prometheus-client ``CollectorRegistry`` of our own (not the
    library's global one: tests run several daemons in one process)."""

    def __init__(self, process_collectors: bool = True) -> None:
        self.prometheus = CollectorRegistry()
        self._callbacks = _Callbacks()
        self.prometheus.register(self._callbacks)
        self._metrics: dict[str, Counter | Histogram] = {}
        if process_collectors:
            ProcessCollector(registry=self.prometheus)  # process_*: memory, CPU, fds
            PlatformCollector(registry=self.prometheus)  # python_info
            GCCollector(registry=self.prometheus)  # python_gc_*

    def add_collector(self, collect: Callable[[], None]) -> None:
        """Run ``collect`` before every render, to copy in values kept elsewhere."""
        self._callbacks.callbacks.append(collect)

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        """Create (or return the existing) counter."""
        return self._add(Counter, name, help, labels)

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        """Create (or return the existing) gauge."""
        return self._add(Gauge, name, help, labels)

    def histogram(
        self, name: str, help: str, labels: Sequence[str] = (), buckets: Sequence[float] = ()
    ) -> Histogram:
        """Create (or return the existing) histogram."""
        return self._add(Histogram, name, help, labels, buckets)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric, encoded as the scraper's ``Accept`` header asks (Prometheus text by
        default, OpenMetrics on request), and the content type to send it with."""
        encode, content_type = choose_encoder(accept)
        return encode(self.prometheus), content_type

    def render(self) -> str:
        """Every metric in the Prometheus text format."""
        return self.exposition()[0].decode("utf-8")

    def _add(self, kind, name: str, help: str, labels: Sequence[str], *extra):
        existing = self._metrics.get(name)
        if existing is not None:
            if type(existing) is not kind or existing.labelnames != tuple(labels):
                raise ValueError(f"metric {name} already registered differently")
            return existing
        metric = self._metrics[name] = kind(self.prometheus, name, help, labels, *extra)
        return metric
