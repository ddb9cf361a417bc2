"""The live feed's metrics: clients connected per transport, clients dropped per reason."""

from __future__ import annotations

from dataclasses import dataclass

from schemahub.ops.metrics import Counter, Gauge, Registry

TRANSPORTS = ("websocket", "sse")
DROP_REASONS = ("not_reading", "queue_full")


@dataclass
class FeedMetrics:
    """``schemahub_discrepancy_clients{transport}`` and
    ``schemahub_discrepancy_clients_dropped_total{reason}``."""

    clients: Gauge
    dropped: Counter

    @classmethod
    def create(cls, registry: Registry | None = None) -> FeedMetrics:
        """Register the feed's metrics in ``registry`` (a new one by default), every series
        at zero so it is scraped before the first client."""
        r = registry or Registry()
        metrics = cls(
            clients=r.gauge(
                "schemahub_discrepancy_clients",
                "Live discrepancy feed clients connected",
                ("transport",),
            ),
            dropped=r.counter(
                "schemahub_discrepancy_clients_dropped_total",
                "Live discrepancy feed clients dropped for not keeping up",
                ("reason",),
            ),
        )
        for transport in TRANSPORTS:
            metrics.clients.set(0, transport=transport)
        for reason in DROP_REASONS:
            metrics.dropped.inc(0, reason=reason)
        return metrics
