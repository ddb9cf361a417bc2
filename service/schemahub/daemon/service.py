"""``schemahub serve``: the long-running daemon that wires sessions, ingest, commits and gaps.

Start-up reads the committed stream state from the lake (never from a local file), checks the
configured symbols against each venue's catalogue, then runs until ``stop`` is set (SIGTERM):
reading stops first, then one last flush commits everything buffered, then it returns.

Every long-running part (a session per venue, a gap worker per venue, the flush loop, table
maintenance) is a task of :attr:`Daemon.supervisor`, which restarts it with backoff when it
fails and reports it in ``/readyz`` and ``/metrics`` meanwhile; other features add theirs with
:meth:`Daemon.supervise`. Only a configuration error (an unknown symbol) stops start-up: a
venue that cannot be reached or refuses us is retried in its own task while the others ingest.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from schemahub.batching import BufferSet, RawBuffer
from schemahub.config import Config
from schemahub.daemon.committer import Committer, PendingFlush
from schemahub.daemon.compaction import compaction_worker
from schemahub.daemon.gapfill import GapFiller
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.daemon.shards import configured_streams, own_streams
from schemahub.daemon.supervisor import READERS, WORKERS, Supervisor, TaskFactory
from schemahub.decode import decoder_for
from schemahub.decode.batch import NATIVE_AVAILABLE
from schemahub.discrepancy import Feed, Tracker
from schemahub.discrepancy.http import add_routes as add_feed_routes
from schemahub.discrepancy.metrics import FeedMetrics
from schemahub.errors import ConfigError, SchemaHubError, UnknownSymbolError
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.maintenance import MaintenanceRun, maintain_tables
from schemahub.lake.mapped import init_all, unified_mappings
from schemahub.lake.offsets import load_offsets
from schemahub.mapping import CompiledMapping
from schemahub.ops.http import Readiness, bound_port, ops_app, start_ops_server
from schemahub.replay.http import ReplayService, add_replay_routes
from schemahub.sequencing import OFFSETS_PROPERTY, Sequencer, StreamKey, StreamState
from schemahub.venues import HistoryClient, VenueSession, history_client, open_session
from schemahub.venues import recorder_for as _recorder_for
from schemahub.venues.connection import burst_period

log = logging.getLogger(__name__)
_MAX_COMMIT_BACKOFF = 30.0
_STUCK_COMMIT_SECONDS = 10.0
# How long start-up waits for the venues' catalogues; a venue still unanswered is checked again
# by its own task while the others start ingesting.
_STARTUP_CHECK_SECONDS = 10.0
# A venue failing its catalogue check with one of these is retried; anything else stops start-up.
_CONFIG_ERRORS = (UnknownSymbolError, ConfigError)


@dataclass
class LakeStart:
    """What the daemon reads from the lake before it starts: the compiled mappings, the
    committed offsets and the unified table's head snapshot."""

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
        self.config = own_streams(config)  # this replica's streams only (shard.index of .count)
        self.lake = Lake(self.config.lake, self.config.s3)
        self.metrics = metrics or DaemonMetrics.create()
        self.status = DaemonStatus(venues=tuple(self.config.venues.enabled()))
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
        self.supervisor = Supervisor(self.metrics.task_restarts, self.metrics.task_up)
        # Venues whose symbols are not checked yet (unreachable at start-up), with the error.
        self.venue_errors: dict[str, str] = {}
        self.feed: Feed | None = None  # the live discrepancy feed (discrepancy.enabled)
        self._committed_streams = 0  # our streams with committed state at start-up

    async def run(self, stop: asyncio.Event, ready: Callable[[Daemon], None] | None = None) -> None:
        """Run until ``stop`` is set, then stop reading, flush, commit and return.

        The daemon is a stack of parts, each started by a context manager that also stops it
        (as aiohttp's ``cleanup_ctx``): the commit thread, the lake and the REST clients, the
        HTTP server, the capture recorders, then the supervised tasks. Stopping unwinds the
        stack in reverse, so each part stops after everything that uses it."""
        async with contextlib.AsyncExitStack() as parts:
            await parts.enter_async_context(self._commit_thread())
            clients = await parts.enter_async_context(self._lake_and_clients())
            await parts.enter_async_context(self._http_server())
            recorders = await parts.enter_async_context(self._recorders())
            await parts.enter_async_context(self._tasks(clients, recorders))
            if ready:
                ready(self)
            await stop.wait()

    @contextlib.asynccontextmanager
    async def _commit_thread(self) -> AsyncIterator[None]:
        """The worker thread commits run in; stopped last, after the final flush."""
        try:
            yield
        finally:
            self._executor.shutdown(wait=True)

    @contextlib.asynccontextmanager
    async def _lake_and_clients(self) -> AsyncIterator[dict[str, HistoryClient]]:
        """The committed state read from the lake, the venues' REST clients (closed at stop),
        the symbols checked, and the ingest parts built on that state."""
        start = await self._in_thread(self.prepare_lake)
        venues = self.config.venues.enabled()
        clients = {name: history_client(name, vc) for name, vc in venues.items()}
        try:
            await self._check_symbols(clients)
            self.build(start)
            self._committed_streams = sum(map(self._owns, start.offsets))
            yield clients
        finally:
            for client in clients.values():
                await client.close()

    @contextlib.asynccontextmanager
    async def _http_server(self) -> AsyncIterator[None]:
        """/healthz, /readyz, /metrics, the feed and replay endpoints (cleaned up at stop)."""
        app = ops_app(self.metrics.registry, self.readiness)
        if self.feed is not None:
            add_feed_routes(app, self.feed)
        add_replay_routes(app, ReplayService(self.config))
        runner = await start_ops_server(app, self.config.http.host, self.config.http.port)
        self.http_port = bound_port(runner)
        try:
            self._log_serving()
            yield
        finally:
            await runner.cleanup()

    def _log_serving(self) -> None:
        log.info(
            "serving",
            extra={
                "http_port": self.http_port,
                "streams": self._committed_streams,
                "shard": f"{self.config.shard.index}/{self.config.shard.count}",
                "shard_streams": len(configured_streams(self.config.venues)),
                "venues": list(self.config.venues.enabled()),
                # msgspec means the native decoder was not built (same results, slower)
                "frame_decoder": "native" if NATIVE_AVAILABLE else "msgspec",
            },
        )

    @contextlib.asynccontextmanager
    async def _recorders(self) -> AsyncIterator[dict[str, Any]]:
        """Each venue's capture recorder (None unless capture is configured), closed at stop."""
        recorders = {
            name: _recorder_for(name, self.config.capture) for name in self.config.venues.enabled()
        }
        try:
            yield recorders
        finally:
            for recorder in recorders.values():
                if recorder is not None:
                    await asyncio.to_thread(recorder.close)

    def supervise(self, name: str, factory: TaskFactory, *, stage: str = WORKERS) -> None:
        """Run ``factory()`` as a supervised task of this daemon (restarted when it fails,
        reported in /readyz and /metrics, cancelled at stop after the readers)."""
        self.supervisor.add(name, factory, stage=stage)

    def readiness(self) -> Readiness:
        """Ready when every enabled venue has a live connection, the lake takes commits and
        no supervised task is waiting to be restarted."""
        reasons = []
        connected = self.ingest.connected if self.ingest else {}
        for venue in self.status.venues:
            if not connected.get(venue):
                error = self.venue_errors.get(venue)
                reasons.append(f"{venue}: no live connection" + (f" ({error})" if error else ""))
        reasons.extend(self.supervisor.down_reasons())
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

    def prepare_lake(self) -> LakeStart:
        """Create or evolve the tables and read what the daemon starts from (blocking: ``run``
        calls it in a worker thread). Then :meth:`build`."""
        init_all(self.lake, self.config.mappings_path())
        unified = self.lake.table(UNIFIED_TABLE)
        mappings = unified_mappings(unified, self.config.mappings_path())
        offsets, head = load_offsets(self.lake)
        self.status.lake_ok = True
        return LakeStart(mappings, offsets, head)

    async def _check_symbols(self, clients: dict[str, HistoryClient]) -> None:
        """Check every venue's symbols against its catalogue, concurrently. A configuration
        error stops start-up; a venue that fails otherwise (or does not answer in time) is
        noted in :attr:`venue_errors` and checked again by its own task."""
        checks = {
            name: asyncio.create_task(self._check_venue(name, client), name=f"check-{name}")
            for name, client in clients.items()
        }
        if not checks:  # a replica whose shard has no stream
            return
        _, late = await asyncio.wait(checks.values(), timeout=_STARTUP_CHECK_SECONDS)
        await _cancel(list(late))
        for name, check in checks.items():
            error = TimeoutError("no answer at start-up") if check in late else check.exception()
            if error is None:
                continue
            if isinstance(error, _CONFIG_ERRORS) or not _is_venue_failure(error):
                raise error
            self.venue_errors[name] = f"{type(error).__name__}: {error}"
            log.error(
                "venue unavailable at start-up; retrying it while the others ingest",
                extra={"venue": name, "error": self.venue_errors[name]},
            )

    async def _check_venue(self, name: str, client: HistoryClient) -> None:
        catalogue = await client.fetch_catalogue()
        catalogue.resolve(getattr(self.config.venues, name).symbols)

    def _owns(self, key: StreamKey) -> bool:
        venue = self.config.venues.enabled().get(key[0])
        return venue is not None and key[1] in venue.symbols

    def build(self, start: LakeStart) -> None:
        """Build the sequencer, buffers, ingest and committer from what :meth:`prepare_lake`
        read; the streams of other replicas' shards are carried, not read. ``run`` calls it
        before opening any connection; the benchmark replays captures through what it builds."""
        ours = {k: v for k, v in start.offsets.items() if self._owns(k)}
        others = {k: v for k, v in start.offsets.items() if not self._owns(k)}
        decoders = [decoder_for(v) for v in self.config.venues.enabled()]
        buffers = {d.RAW_TABLE: RawBuffer(d.NATIVE_SCHEMA, name=d.RAW_TABLE) for d in decoders}
        self.buffers = BufferSet(buffers, self.config.flush.max_buffered_rows)
        self.sequencer = Sequencer(ours)
        self.ingest = Ingest(self.sequencer, self.buffers, self.metrics, self.config.flush.max_rows)
        if self.config.discrepancy.enabled:
            self.ingest.tracker = Tracker(self.config.discrepancy)
            metrics = FeedMetrics.create(self.metrics.registry)
            self.feed = Feed(self.ingest.tracker, metrics=metrics)
        mappings = {name: start.mappings[name] for name in buffers}
        self.committer = Committer(
            self.lake, mappings, self.metrics, start.head, others, self.config.lake.commit_retries
        )
        self.committer.last_offsets = dict(ours)

    # -- running ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _tasks(
        self, clients: dict[str, HistoryClient], recorders: dict[str, Any]
    ) -> AsyncIterator[None]:
        """The supervised tasks: a session and a gap worker per venue, the flush loop,
        maintenance, compaction and the feed. At stop: reading stops first, then the REST
        workers and the rest, then one last flush commits what is buffered."""
        assert self.ingest is not None
        for name, vc in self.config.venues.enabled().items():
            self.sessions[name] = open_session(
                name,
                vc,
                self.ingest,
                recorder=recorders[name],
                keep_payload=self.KEEP_PAYLOAD,
                quote_symbols=self._quote_symbols(name),
                burst_seconds=self._burst_seconds(),
            )
        self.metrics.registry.add_collector(self._collect)
        self.gap_filler = filler = GapFiller(
            self.ingest,
            clients,
            min_gap_age=self.config.gaps.min_age_seconds,
            probe_quiet_seconds=self.config.gaps.probe_quiet_seconds,
        )
        for name in self.sessions:
            reader = functools.partial(self._run_venue, name, clients[name])
            self.supervise(f"session-{name}", reader, stage=READERS)
        for name in filler.venues:
            self.supervise(f"gapfill-{name}", functools.partial(filler.run_venue, name))
        self.supervise("flush", self._flush_loop)
        self.supervise("maintenance", self._maintenance_loop)
        if self.config.lake.compaction_interval_seconds > 0:  # 0: never (the worker returns)
            self.supervise(
                "compaction", functools.partial(compaction_worker, self.config.lake, self.config.s3)
            )
        if self.feed is not None:
            self.supervise("discrepancy", self.feed.run)
        try:
            self.supervisor.start()
            yield
        finally:
            stopping = time.monotonic()
            await self.supervisor.stop(READERS)
            await self.supervisor.stop()
            await self._final_flush()
            log.info(
                "stopped",
                extra={
                    "seconds": round(time.monotonic() - stopping, 3),
                    "uncommitted_rows": sum(p.drained.rows for p in self._pending),
                },
            )

    async def _run_venue(self, name: str, client: HistoryClient) -> None:
        """A venue's reader: its symbols checked first if start-up could not, then its
        session until cancelled (a fatal venue error raises to the supervisor)."""
        if name in self.venue_errors:
            try:
                await self._check_venue(name, client)
            except Exception as exc:
                self.venue_errors[name] = f"{type(exc).__name__}: {exc}"
                raise
            del self.venue_errors[name]
            log.info("venue reachable again; its symbols are listed", extra={"venue": name})
        await self.sessions[name].run()

    def _burst_seconds(self) -> float:
        """The venues' burst window: closing just before the discrepancy feed publishes,
        when it runs."""
        feed = self.config.discrepancy
        return burst_period(feed.coalesce_ms / 1000.0 if feed.enabled else None)

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
            except Exception:  # our own code: the loop must outlive it (rows stay buffered)
                self.metrics.internal_errors.inc(venue="*", stage="flush")
                log.exception("the flush loop met an error of ours; trying again next interval")

    async def _maintenance_loop(self) -> None:
        """Table upkeep, checked as often as the flushes run (see :meth:`maintain_if_due`)."""
        while True:
            await asyncio.sleep(self.config.flush.interval_seconds)
            await self.maintain_if_due()

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
        connected = self.ingest.connected if self.ingest else {}
        for venue in self.status.venues:
            self.metrics.venue_connections.set(len(connected.get(venue, ())), venue=venue)
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.metrics.buffered_rows.set(self.buffers.total_rows)
        self.metrics.buffered_bytes.set(self.buffers.total_bytes)
        self.metrics.open_gap_ids.set(sum(g.size for g in self.sequencer.open_gaps()))
        self.status.pending_flushes = len(self._pending)

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)


def _is_venue_failure(error: BaseException) -> bool:
    """Whether ``error`` is a venue refusing or failing us (retried), not a bug."""
    return isinstance(error, SchemaHubError | aiohttp.ClientError | OSError | TimeoutError)


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.warning("task ended with an error at stop", extra={"error": repr(result)})
