"""The daemon's metrics, declared once (names follow Prometheus conventions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemahub.ops.metrics import Counter, Gauge, Histogram, Registry

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 12, 15, 20, 30, 60, 120, 300)


@dataclass
class DaemonMetrics:
    """Every metric the daemon updates."""

    registry: Registry
    frames: Counter
    slow_frames: Counter
    trades: Counter
    duplicates: Counter
    quarantined: Counter
    internal_errors: Counter
    gaps_opened: Counter
    gap_ids_filled: Counter
    ids_lost: Counter
    open_gap_ids: Gauge
    buffered_rows: Gauge
    buffered_bytes: Gauge
    backpressure: Gauge
    commits: Counter
    commit_failures: Counter
    commit_retries: Counter
    snapshots_expired: Counter
    flush_seconds: Histogram
    commit_seconds: Histogram
    tick_to_commit_seconds: Histogram
    session_events: Counter
    websocket: Counter
    task_restarts: Counter
    task_up: Gauge
    venue_connections: Gauge

    @classmethod
    def create(cls, registry: Registry | None = None) -> DaemonMetrics:
        """Register every metric in ``registry`` (a new one by default)."""
        r = registry or Registry()
        venue = ("venue",)
        return cls(
            registry=r,
            frames=r.counter("schemahub_frames_total", "Websocket frames received", venue),
            slow_frames=r.counter(
                "schemahub_frames_slow_path_total",
                "Websocket frames decoded one by one, not in columns (unusual frames; a rise "
                "means the venue changed its frames)",
                venue,
            ),
            trades=r.counter(
                "schemahub_trades_total", "Trades admitted (new ids)", ("venue", "source")
            ),
            duplicates=r.counter(
                "schemahub_duplicates_dropped_total", "Trades dropped as already seen", venue
            ),
            quarantined=r.counter(
                "schemahub_quarantined_total", "Payloads refused and quarantined", venue
            ),
            internal_errors=r.counter(
                "schemahub_internal_errors_total",
                "Bursts our own code failed on (logged with a traceback, frames quarantined, "
                "their trades fetched again as gaps)",
                ("venue", "stage"),
            ),
            gaps_opened=r.counter("schemahub_gaps_opened_total", "Gaps (id holes) opened"),
            gap_ids_filled=r.counter(
                "schemahub_gap_ids_filled_total", "Missing ids fetched over REST", venue
            ),
            ids_lost=r.counter(
                "schemahub_ids_lost_total", "Missing ids the venue history no longer holds", venue
            ),
            open_gap_ids=r.gauge("schemahub_open_gap_ids", "Ids currently missing"),
            buffered_rows=r.gauge("schemahub_buffered_rows", "Rows held in memory"),
            buffered_bytes=r.gauge("schemahub_buffered_bytes", "Bytes held in buffers"),
            backpressure=r.gauge(
                "schemahub_backpressure", "1 while reading is paused at the row cap"
            ),
            commits=r.counter("schemahub_commits_total", "Iceberg commits", ("table",)),
            commit_failures=r.counter(
                "schemahub_commit_failures_total", "Flushes whose commit failed (retried)"
            ),
            commit_retries=r.counter(
                "schemahub_commit_retries_total", "Commit attempts lost to another writer"
            ),
            snapshots_expired=r.counter(
                "schemahub_snapshots_expired_total",
                "Snapshots expired by the retention (lake.snapshot_retention_seconds)",
                ("table",),
            ),
            flush_seconds=r.histogram(
                "schemahub_flush_seconds", "Drain to last commit", buckets=_LATENCY_BUCKETS
            ),
            commit_seconds=r.histogram(
                "schemahub_commit_seconds", "One table commit", ("table",), _LATENCY_BUCKETS
            ),
            tick_to_commit_seconds=r.histogram(
                "schemahub_tick_to_commit_seconds",
                "From a trade's venue timestamp to its commit",
                buckets=_LAG_BUCKETS,
            ),
            session_events=r.counter(
                "schemahub_session_events_total", "Websocket session events", ("venue", "event")
            ),
            websocket=r.counter(
                "schemahub_websocket_total",
                "Websocket session counters (frames, bytes, malformed, reconnects, ...)",
                ("venue", "counter"),
            ),
            task_restarts=r.counter(
                "schemahub_task_restarts_total",
                "Supervised tasks restarted after a failure (sessions, gap workers, flush, ...)",
                ("task",),
            ),
            task_up=r.gauge(
                "schemahub_task_up",
                "1 while a supervised task runs, 0 while it waits to restart",
                ("task",),
            ),
            venue_connections=r.gauge(
                "schemahub_venue_connections",
                "Live websocket connections per enabled venue (0: the venue is down)",
                venue,
            ),
        )

    def mirror_session_stats(self, venue: str, stats: Mapping[str, object]) -> None:
        """Copy a websocket session's own counters into ``schemahub_websocket_total``."""
        for name, value in stats.items():
            if isinstance(value, int) and not isinstance(value, bool):
                self.websocket.mirror(value, venue=venue, counter=name)
