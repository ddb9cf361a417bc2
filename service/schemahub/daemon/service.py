"""``schemahub serve``: the long-running daemon that wires sessions, ingest, commits and gaps.

Start-up reads the committed stream state from the lake (never from a local file), checks the
configured symbols against each venue's catalogue, then runs until ``stop`` is set (SIGTERM):
reading stops first, then one last flush commits everything buffered, then it returns.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from schemahub.batching import BufferSet, RawBuffer
from schemahub.config import Config
from schemahub.daemon.committer import Committer, PendingFlush, load_offsets
from schemahub.daemon.gapfill import GapFiller
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import decoder_for
from schemahub.decode.batch import NATIVE_AVAILABLE
from schemahub.discrepancy import Feed, Tracker
from schemahub.jobs.tables import init_all
from schemahub.jobs.unify import unified_mappings
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.maintenance import MaintenanceRun, maintain_tables
from schemahub.mapping import CompiledMapping
from schemahub.ops.http import Readiness, bound_port, ops_app, start_ops_server
from schemahub.replay.http import ReplayService, add_replay_routes
from schemahub.sequencing import OFFSETS_PROPERTY, Sequencer, StreamKey, StreamState
from schemahub.venues import HistoryClient, VenueSession, history_client, open_session
from schemahub.venues import recorder_for as _recorder_for

log = logging.getLogger(__name__)
_MAX_COMMIT_BACKOFF = 30.0
_STUCK_COMMIT_SECONDS = 10.0


@dataclass
class _LakeStart:
    mappings: dict[str, CompiledMapping]
    offsets: dict[StreamKey, StreamState]
    head: int | None


@dataclass
class DaemonStatus:
    """What /readyz reports on."""

    venues: tuple[str, ...] = ()
    lake_ok: bool = False
    last_commit_error: str | None = None
    pending_flushes: int = 0
    commit_started: float | None = None  # monotonic time of the commit in progress
    started: float = field(default_factory=time.monotonic)


class Daemon:
    """One SchemaHub daemon process: everything between the venues and the lake."""

    # Sessions decode without per-trade payloads: rejects carry their own, and the raw buffers
    # hold columns, not text (record captures to keep the wire text).
    KEEP_PAYLOAD = False

    def __init__(self, config: Config, *, metrics: DaemonMetrics | None = None) -> None:
        self.config = config
        self.lake = Lake(config.lake)
        self.metrics = metrics or DaemonMetrics.create()
        self.status = DaemonStatus(venues=tuple(config.venues.enabled()))
        self.http_port: int | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schemahub-commit")
        self._pending: collections.deque[PendingFlush] = collections.deque()
        self._failures = 0
        self._retry_at = 0.0
        self._flush_lock = asyncio.Lock()
        self._maintained_at = time.monotonic()  # the first pass comes one interval after start
        self.ingest: Ingest | None = None
        self.sessions: dict[str, VenueSession] = {}
        self.gap_filler: GapFiller | None = None
        self.feed: Feed | None = None  # the live discrepancy feed (discrepancy.enabled)

    async def run(self, stop: asyncio.Event, ready: Callable[[Daemon], None] | None = None) -> None:
        """Run until ``stop`` is set, then stop reading, flush, commit and return."""
        start = await self._in_thread(self._prepare_lake)
        venues = self.config.venues.enabled()
        clients = {name: history_client(name, vc) for name, vc in venues.items()}
        runner = None
        try:
            await self._check_symbols(clients)
            ours = {k: v for k, v in start.offsets.items() if self._owns(k)}
            others = {k: v for k, v in start.offsets.items() if not self._owns(k)}
            self._build(ours, others, start)
            app = ops_app(self.metrics.registry, self.readiness, self.feed)
            add_replay_routes(app, ReplayService(self.config))
            runner = await start_ops_server(
                app,
                self.config.http.host,
                self.config.http.port,
            )
            self.http_port = bound_port(runner)
            log.info(
                "serving",
                extra={
                    "http_port": self.http_port,
                    "streams": len(ours),
                    "venues": list(venues),
                    # msgspec means the native decoder was not built (same results, slower)
                    "frame_decoder": "native" if NATIVE_AVAILABLE else "msgspec",
                },
            )
            if ready:
                ready(self)
            await self._run_until(stop, clients)
        finally:
            for client in clients.values():
                await client.close()
            if runner is not None:
                await runner.cleanup()
            self._executor.shutdown(wait=True)

    def readiness(self) -> Readiness:
        """Ready when every enabled venue has a live connection and the lake takes commits."""
        reasons = []
        connected = self.ingest.connected if self.ingest else {}
        for venue in self.status.venues:
            if not connected.get(venue):
                reasons.append(f"{venue}: no live connection")
        if not self.status.lake_ok:
            reasons.append(f"lake: {self.status.last_commit_error or 'not reachable yet'}")
        elif self.status.commit_started is not None:
            running = time.monotonic() - self.status.commit_started
            if running > _STUCK_COMMIT_SECONDS:
                reasons.append(f"lake: a commit has been running for {running:.0f} s")
        return Readiness(not reasons, tuple(reasons))

    async def flush(self) -> None:
        """Drain the buffers and commit every pending flush, oldest first; on failure keep them
        and back off (the rows stay counted against the cap, so readers pause at the cap)."""
        assert self.ingest is not None
        async with self._flush_lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        assert self.ingest is not None
        self._enqueue_drain()
        if time.monotonic() < self._retry_at:
            return
        while self._pending:
            pending = self._pending[0]
            try:
                await self._in_thread(self.committer.commit, pending)
            except Exception as exc:
                self._commit_failed(exc)
                return
            self._pending.popleft()
            self.buffers.release(pending.drained)
            self.ingest.room_changed()
            self._failures = 0
            self.status.lake_ok, self.status.last_commit_error = True, None
        self._update_gauges()

    # -- start-up ---------------------------------------------------------------------------

    def _prepare_lake(self) -> _LakeStart:
        init_all(self.lake, self.config.mappings_path())
        unified = self.lake.table(UNIFIED_TABLE)
        mappings = unified_mappings(unified, self.config.mappings_path())
        offsets, head = load_offsets(self.lake)
        self.status.lake_ok = True
        return _LakeStart(mappings, offsets, head)

    async def _check_symbols(self, clients: dict[str, HistoryClient]) -> None:
        for name, client in clients.items():
            catalogue = await client.fetch_catalogue()
            catalogue.resolve(getattr(self.config.venues, name).symbols)

    def _owns(self, key: StreamKey) -> bool:
        venue = self.config.venues.enabled().get(key[0])
        return venue is not None and key[1] in venue.symbols

    def _build(
        self,
        ours: dict[StreamKey, StreamState],
        others: dict[StreamKey, StreamState],
        start: _LakeStart,
    ) -> None:
        decoders = [decoder_for(v) for v in self.config.venues.enabled()]
        buffers = {d.RAW_TABLE: RawBuffer(d.NATIVE_SCHEMA, name=d.RAW_TABLE) for d in decoders}
        self.buffers = BufferSet(buffers, self.config.flush.max_buffered_rows)
        self.sequencer = Sequencer(ours)
        self.ingest = Ingest(self.sequencer, self.buffers, self.metrics, self.config.flush.max_rows)
        if self.config.discrepancy.enabled:
            self.ingest.tracker = Tracker(self.config.discrepancy)
            self.feed = Feed(self.ingest.tracker)
        mappings = {name: start.mappings[name] for name in buffers}
        self.committer = Committer(
            self.lake, mappings, self.metrics, start.head, others, self.config.lake.commit_retries
        )
        self.committer.last_offsets = dict(ours)

    # -- running ----------------------------------------------------------------------------

    async def _run_until(self, stop: asyncio.Event, clients: dict[str, HistoryClient]) -> None:
        assert self.ingest is not None
        recorders = {}
        for name, vc in self.config.venues.enabled().items():
            recorders[name] = _recorder_for(name, self.config.capture)
            self.sessions[name] = open_session(
                name,
                vc,
                self.ingest,
                recorder=recorders[name],
                keep_payload=self.KEEP_PAYLOAD,
                quote_symbols=self._quote_symbols(name),
            )
        self.metrics.registry.add_collector(self._collect)
        self.gap_filler = filler = GapFiller(
            self.ingest,
            clients,
            min_gap_age=self.config.gaps.min_age_seconds,
            probe_quiet_seconds=self.config.gaps.probe_quiet_seconds,
        )
        readers = [
            asyncio.create_task(s.run(), name=f"session-{n}") for n, s in self.sessions.items()
        ]
        workers = [
            asyncio.create_task(filler.run(), name="gapfill"),
            asyncio.create_task(self._flush_loop(), name="flush"),
        ]
        if self.feed is not None:
            workers.append(asyncio.create_task(self.feed.run(), name="discrepancy"))
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *readers], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # a fatal venue error (e.g. refused subscription)
        finally:
            # Clean stop: first stop reading, then the REST workers, then commit what we hold.
            stopping = time.monotonic()
            await _cancel(readers)
            await _cancel(workers)
            stopper.cancel()
            await self._final_flush()
            for recorder in recorders.values():
                if recorder is not None:
                    await asyncio.to_thread(recorder.close)
            log.info(
                "stopped",
                extra={
                    "seconds": round(time.monotonic() - stopping, 3),
                    "uncommitted_rows": sum(p.drained.rows for p in self._pending),
                },
            )

    def _quote_symbols(self, venue: str) -> list[str]:
        """The symbols of ``venue`` whose top-of-book channel the session also subscribes:
        the grouped ones it trades (a grouped symbol not traded is left out, with a warning)."""
        tracker = self.ingest.tracker if self.ingest else None
        if tracker is None or not self.config.discrepancy.quotes:
            return []
        traded = set(getattr(self.config.venues, venue).symbols)
        grouped = tracker.symbols(venue)
        missing = [s for s in grouped if s not in traded]
        if missing:
            log.warning(
                "grouped symbols not in the venue's symbols: not in the discrepancy feed",
                extra={"venue": venue, "symbols": missing},
            )
        return [s for s in grouped if s in traded]

    async def _flush_loop(self) -> None:
        assert self.ingest is not None
        interval = self.config.flush.interval_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ingest.flush_requested.wait(), interval)
            self.ingest.flush_requested.clear()
            try:
                await self.flush()
                await self.maintain_if_due()
            except Exception:  # our own code: the loop must outlive it (rows stay buffered)
                self.metrics.internal_errors.inc(venue="*", stage="flush")
                log.exception("the flush loop met an error of ours; trying again next interval")

    async def maintain_if_due(self) -> MaintenanceRun | None:
        """Expire old snapshots of every table we write, at most once per maintenance interval
        and only after a flush that left nothing pending; in the commit thread, so it never
        races our own commits. A failure is logged and retried at the next interval."""
        interval = self.config.lake.maintenance_interval_seconds
        if self._pending or time.monotonic() - self._maintained_at < interval:
            return None
        async with self._flush_lock:
            self._maintained_at = time.monotonic()
            run = await self._in_thread(self._maintain)
        self._report_maintenance(run)
        return run

    def _maintain(self) -> MaintenanceRun:
        return maintain_tables(
            self.committer.tables(),
            self.config.lake.snapshot_retention_seconds,
            keep_properties={UNIFIED_TABLE: OFFSETS_PROPERTY},
        )

    def _report_maintenance(self, run: MaintenanceRun) -> None:
        for result in run.results:
            if result.expired:
                self.metrics.snapshots_expired.inc(
                    result.expired, table=result.table.split(".")[-1]
                )
        # One line per pass; a failed table is retried at the next interval.
        log.log(
            logging.WARNING if run.failures else logging.INFO,
            "snapshots expired",
            extra={
                "expired": {r.table: r.expired for r in run.results},
                "kept": {r.table: r.kept for r in run.results},
                "files_deleted": sum(r.files_deleted for r in run.results),
                "conflicts": run.conflicts,
                "failures": run.failures,
            },
        )

    async def _final_flush(self) -> None:
        self._retry_at = 0.0
        await self.flush()
        if self._pending:
            log.error(
                "stopping with uncommitted rows; they will be fetched again after restart",
                extra={"rows": sum(p.drained.rows for p in self._pending)},
            )
        else:
            await self._in_thread(self.committer.mirror_final_state)

    def _enqueue_drain(self) -> None:
        assert self.ingest is not None
        quarantine = self.ingest.take_quarantine()
        offsets = self.sequencer.snapshot()  # once per flush: O(streams)
        if not self.buffers.buffered_rows and not quarantine and not self._moved(offsets):
            return
        drained = self.buffers.drain()
        self._pending.append(PendingFlush(drained, offsets, quarantine))

    def _moved(self, offsets: dict[StreamKey, StreamState]) -> bool:
        """Whether the offsets changed without new rows (e.g. ids marked lost)."""
        last = self._pending[-1].offsets if self._pending else self.committer.last_offsets
        return offsets != last

    def _commit_failed(self, exc: BaseException) -> None:
        self._failures += 1
        delay = min(_MAX_COMMIT_BACKOFF, 0.5 * 2 ** min(self._failures, 10))
        self._retry_at = time.monotonic() + delay
        self.status.lake_ok = False
        self.status.last_commit_error = f"{type(exc).__name__}: {exc}"
        self.metrics.commit_failures.inc()
        log.warning(
            "commit failed; keeping the rows and retrying",
            extra={"error": self.status.last_commit_error, "retry_in_s": round(delay, 2)},
        )
        self._update_gauges()

    def _collect(self) -> None:
        for name, session in self.sessions.items():
            self.metrics.mirror_session_stats(name, session.stats.as_dict())
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.metrics.buffered_rows.set(self.buffers.total_rows)
        self.metrics.buffered_bytes.set(self.buffers.total_bytes)
        self.metrics.open_gap_ids.set(sum(g.size for g in self.sequencer.open_gaps()))
        self.status.pending_flushes = len(self._pending)

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.warning("task ended with an error at stop", extra={"error": repr(result)})
