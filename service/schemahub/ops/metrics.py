"""A small Prometheus metrics registry (text exposition format 0.0.4).

Only what the daemon needs: counters, gauges and histograms with fixed label names. Updates are
plain attribute arithmetic on the event loop thread; the committer thread only touches its own
histograms through :meth:`Histogram.observe`, which is a few integer additions (atomic enough
under the GIL for monotonically increasing counts).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class _Metric:
    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    kind: str = "untyped"

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)


class Child:
    """One label set of a counter or gauge, resolved once, for updates on a hot path.

    Updates write the metric's own ``values`` (so ``get`` and ``render`` see them at once);
    only the label checking and key building are done ahead, by :meth:`Counter.labels`.
    """

    __slots__ = ("_key", "_values")

    def __init__(self, values: dict[LabelValues, float], key: LabelValues) -> None:
        self._values = values
        self._key = key

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (>= 0)."""
        values, key = self._values, self._key
        values[key] = values.get(key, 0) + amount

    def set(self, value: float) -> None:
        """Set the value (gauges)."""
        self._values[self._key] = value


@dataclass
class Counter(_Metric):
    """A monotonically increasing count."""

    kind: str = "counter"
    values: dict[LabelValues, float] = field(default_factory=dict)

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` (>= 0)."""
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount

    def labels(self, **labels: str) -> Child:
        """A handle on one label set (checked now), whose ``inc`` skips the label lookup."""
        return Child(self.values, self._key(labels))

    def mirror(self, total: float, **labels: str) -> None:
        """Set the count from a counter kept elsewhere (e.g. a session's own stats)."""
        self.values[self._key(labels)] = total

    def get(self, **labels: str) -> float:
        """The current value for these labels."""
        return self.values.get(self._key(labels), 0)

    def render(self) -> Iterable[str]:
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


@dataclass
class Gauge(Counter):
    """A value that goes up and down."""

    kind: str = "gauge"

    def set(self, value: float, **labels: str) -> None:
        """Set the value."""
        self.values[self._key(labels)] = value


@dataclass
class Histogram(_Metric):
    """Observations counted into cumulative buckets (seconds by default)."""

    kind: str = "histogram"
    buckets: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
    counts: dict[LabelValues, list[int]] = field(default_factory=dict)
    sums: dict[LabelValues, float] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation."""
        key = self._key(labels)
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[key] = self.sums.get(key, 0.0) + value

    def observe_many(self, values: np.ndarray | pa.Array | pa.ChunkedArray, **labels: str) -> None:
        """Record many observations at once (vectorised; for per-row latencies). Null values
        are not observations."""
        if not isinstance(values, np.ndarray):
            values = pc.drop_null(values).to_numpy()
        key = self._key(labels)
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        # Bucket i holds the values at or below bound i and above bound i-1, as in observe().
        placed = np.searchsorted(np.asarray(self.buckets), values, side="left")
        for i, n in enumerate(np.bincount(placed, minlength=len(counts)).tolist()):
            counts[i] += n
        self.sums[key] = self.sums.get(key, 0.0) + float(values.sum())

    def count(self, **labels: str) -> int:
        """How many observations were recorded."""
        return sum(self.counts.get(self._key(labels), ()))

    def render(self) -> Iterable[str]:
        for key, counts in sorted(self.counts.items()):
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, key, le)} {running}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {_number(self.sums[key])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {running}"


class Registry:
    """Holds metrics by name and renders them all."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Callable[[], None]] = []

    def add_collector(self, collect: Callable[[], None]) -> None:
        """Run ``collect`` before every render, to copy in values kept elsewhere."""
        self._collectors.append(collect)

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        """Create (or return the existing) counter."""
        return self._add(Counter(name, help, tuple(labels)))

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        """Create (or return the existing) gauge."""
        return self._add(Gauge(name, help, tuple(labels)))

    def histogram(
        self, name: str, help: str, labels: Sequence[str] = (), buckets: Sequence[float] = ()
    ) -> Histogram:
        """Create (or return the existing) histogram."""
        metric = Histogram(name, help, tuple(labels))
        if buckets:
            metric.buckets = tuple(sorted(buckets))
        return self._add(metric)

    def render(self) -> str:
        """Every metric in the Prometheus text format."""
        for collect in self._collectors:
            collect()
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.header())
            lines.extend(metric.render())  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"

    def _add(self, metric):
        existing = self._metrics.get(metric.name)
        if existing is not None:
            if type(existing) is not type(metric) or existing.labelnames != metric.labelnames:
                raise ValueError(f"metric {metric.name} already registered differently")
            return existing
        self._metrics[metric.name] = metric
        return metric
