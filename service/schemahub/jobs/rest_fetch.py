"""Fetching id ranges of streams over REST into the lake, the way the daemon's gap filler does.

The shared engine of ``run ingest`` and ``gap-fill``: pages from the venue clients go through
:meth:`Ingest.accept` (decode -> sequence -> raw buffers), and the buffers are committed by the
daemon's :class:`Committer` (raw tables, then ``trades_unified`` with the stream offsets in the
same snapshot). The committer rechecks keys against the table, carries the committed state of
the streams we did not touch, and unites ours with a daemon's where both moved the same stream
(:func:`~schemahub.sequencing.union.union_offsets`), so the job can run beside daemons:
nothing is doubled, and nobody's progress is undone.

One commit per run (one snapshot per table), unless the rows fetched exceed
``flush.max_buffered_rows``: then the buffers are committed each time they fill.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from schemahub.batching import BufferSet, RawBuffer
from schemahub.config import Config
from schemahub.daemon.committer import Committer, PendingFlush
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import decoder_for
from schemahub.errors import HistoryUnavailableError, SchemaHubError
from schemahub.jobs.progress import Progress
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.mapped import unified_mappings
from schemahub.lake.offsets import committed_offsets
from schemahub.sequencing import Gap, Sequencer, StreamKey, StreamState
from schemahub.sequencing.merge import ids_in, union
from schemahub.sequencing.ranges import Range, difference
from schemahub.venues import HistoryClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamWork:
    """What to fetch for one stream: ``ranges`` (ascending, inclusive) of a stream whose
    committed state was ``state`` (the sequencer starts from it with the ranges opened as
    gaps, see :func:`opened`). ``hints`` gives, per
    range start, an epoch time at or before it (Kraken searches its history by time).
    ``keep_state`` False: the commit leaves the stream's offsets as they were (a stream
    without committed state gets none from a one-off fill). ``anchored``: ``ranges`` include the
    ids a stream is owed from its subscription (see :func:`owed_ranges`), so the sequencer
    starts without the owed mark."""

    venue: str
    symbol: str
    state: StreamState
    ranges: tuple[Range, ...]
    hints: Mapping[int, float] = field(default_factory=dict)
    keep_state: bool = True
    anchored: bool = False

    @property
    def key(self) -> StreamKey:
        """The stream."""
        return StreamKey(self.venue, self.symbol)

    @property
    def base(self) -> StreamState:
        """The state the sequencer starts from."""
        state = self.state
        if self.anchored:
            state = dataclasses.replace(state, owed_since=None, owed_below=None)
        return opened(state, list(self.ranges))


@dataclass
class RangeResult:
    """What fetching one range did; ``reason`` says why ids may still be missing."""

    venue: str
    symbol: str
    first_id: int
    last_id: int
    fetched: int = 0
    admitted: int = 0
    lost: bool = False
    reason: str | None = None


@dataclass
class FetchRun:
    """Every range's result, the REST requests made and the commits done."""

    results: list[RangeResult] = field(default_factory=list)
    requests: int = 0
    commits: int = 0
    rows_committed: int = 0


async def fetch_and_commit(
    lake: Lake,
    config: Config,
    clients: Mapping[str, HistoryClient],
    work: list[StreamWork],
    progress: str | None = None,
) -> FetchRun:
    """Fetch every range of ``work`` and commit what is new; returns what happened.
    ``progress``: the job's name, to show its progress (see :class:`Progress`)."""
    total = sum(ids_in(item.ranges) for item in work)
    bar = Progress(progress, total, unit="ids") if progress is not None else None
    try:
        return await _fetch_and_commit(lake, config, clients, work, bar)
    finally:
        if bar is not None:
            bar.close()


async def _fetch_and_commit(
    lake: Lake,
    config: Config,
    clients: Mapping[str, HistoryClient],
    work: list[StreamWork],
    progress: Progress | None,
) -> FetchRun:
    job = _FetchJob(lake, config, work, progress)
    await asyncio.to_thread(job.prepare)
    by_venue: dict[str, list[StreamWork]] = {}
    for item in work:
        by_venue.setdefault(item.venue, []).append(item)
    # One worker per venue, as the daemon does: each venue's rate limiter sees one caller.
    try:
        async with asyncio.TaskGroup() as group:
            for venue, items in by_venue.items():
                group.create_task(job.fetch_venue(clients[venue], items))
    except ExceptionGroup as failed:  # e.g. a commit when the buffers filled: its own error
        raise failed.exceptions[0] from None
    await job.commit()
    if job.run.commits:
        assert job.committer is not None
        await asyncio.to_thread(job.committer.mirror_final_state)  # for humans; best effort
    job.run.requests = sum(_requests(clients[v]) for v in by_venue)
    return job.run


class _FetchJob:
    """One run's sequencer, buffers and committer, shared by the venue workers."""

    def __init__(
        self, lake: Lake, config: Config, work: list[StreamWork], progress: Progress | None
    ) -> None:
        self.lake = lake
        self.config = config
        self.progress = progress
        self.run = FetchRun()
        self.metrics = DaemonMetrics.create()
        self.read = {item.key: item.state for item in work}
        self.bases = {item.key: item.base for item in work}
        self.dropped = {item.key for item in work if not item.keep_state}
        self.sequencer = Sequencer(self.bases)
        decoders = [decoder_for(v) for v in sorted({item.venue for item in work})]
        buffers = {d.RAW_TABLE: RawBuffer(d.NATIVE_SCHEMA, name=d.RAW_TABLE) for d in decoders}
        self.buffers = BufferSet(buffers, config.flush.max_buffered_rows)
        # the row count that asks for a flush is never reached: we commit at the end
        self.ingest = Ingest(self.sequencer, self.buffers, self.metrics, 2**62)
        self.committer: Committer | None = None
        self._lock = asyncio.Lock()

    def prepare(self) -> None:
        """Load the mappings and set up the committer (in a thread: catalog I/O)."""
        unified = self.lake.table(UNIFIED_TABLE)
        mappings = unified_mappings(unified, self.config.mappings_path())
        names = list(self.buffers)
        self.committer = Committer(
            self.lake,
            {name: mappings[name] for name in names},
            self.metrics,
            None,  # no known head: every commit rechecks keys against the table
            {},
            self.config.lake.commit_retries,
        )
        # The states as read: while the table still records just these, our states replace
        # them; once another writer (a daemon) moved a stream on, the committer unites both.
        self.committer.last_offsets = self._offsets(self.read)

    async def fetch_venue(self, client: HistoryClient, items: list[StreamWork]) -> None:
        """Every range of ``items`` (one venue), one after the other."""
        for item in items:
            for lo, hi in item.ranges:
                result = RangeResult(item.venue, item.symbol, lo, hi)
                self.run.results.append(result)
                await self._fetch_range(client, item, result)

    async def _fetch_range(
        self, client: HistoryClient, item: StreamWork, result: RangeResult
    ) -> None:
        hint = item.hints.get(result.first_id)
        try:
            first, last = result.first_id, result.last_id
            async for page in client.fetch_trades(item.symbol, first, last, since_hint=hint):
                result.fetched += len(page.trades)
                admitted = self.ingest.accept(item.venue, page, f"rest:{item.venue}", time.time())
                result.admitted += admitted
                if self.progress is not None:
                    self.progress.advance(len(page.trades) + len(page.rejects))
                if not self.buffers.has_room():
                    await self.commit()
        except HistoryUnavailableError as exc:
            gap = Gap(item.venue, item.symbol, result.first_id, result.last_id)
            self.sequencer.mark_lost(gap, str(exc))
            result.lost, result.reason = True, str(exc)
            log.warning("trades lost: the venue no longer holds them", extra={"error": str(exc)})
        except (SchemaHubError, aiohttp.ClientError, TimeoutError) as exc:
            result.reason = f"REST request failed: {exc}"
            log.warning("range not fetched", extra={"error": str(exc)})

    def _offsets(self, states: Mapping[StreamKey, StreamState]) -> dict[StreamKey, StreamState]:
        """The states to commit: those with a high-water mark, except the streams whose state
        the job leaves alone."""
        return {
            k: v for k, v in states.items() if v.high_water is not None and k not in self.dropped
        }

    async def commit(self) -> None:
        """Commit what the buffers hold and the stream states (one snapshot per table)."""
        async with self._lock:
            assert self.committer is not None
            quarantine = self.ingest.take_quarantine()
            snapshot = self._offsets(self.sequencer.snapshot())
            unchanged = snapshot == self._offsets(self.bases)
            if not self.buffers.buffered_rows and not quarantine and unchanged:
                return
            drained = self.buffers.drain()
            pending = PendingFlush(drained, snapshot, quarantine)
            await asyncio.to_thread(self.committer.commit, pending)
            self.buffers.release(drained)
            self.run.commits += 1
            self.run.rows_committed += drained.rows


def committed_states(lake: Lake) -> dict[StreamKey, StreamState]:
    """The committed state of every stream (``schemahub.offsets.v1`` of trades_unified)."""
    return committed_offsets(lake.table(UNIFIED_TABLE))


def _requests(client: HistoryClient) -> int:
    rest = getattr(client, "client", None)
    return int(getattr(rest, "requests", 0))


def owed_ranges(state: StreamState, anchor: int | None, latest: int | None) -> list[Range]:
    """The ids a stream still owed from its subscription is missing, once the venue said its
    first trade since then is ``anchor``: from there to the stream's first trade, or to the
    venue's newest (``latest``) for a stream without a trade yet. Empty when nothing is owed."""
    if state.owed_since is None or anchor is None:
        return []
    if state.high_water is None:
        top = latest
    else:
        top = None if state.owed_below is None else state.owed_below - 1
    return [(anchor, top)] if top is not None and anchor <= top else []


def opened(state: StreamState, ranges: list[Range]) -> StreamState:
    """``state`` with ``ranges`` opened as gaps for the sequencer to take, the high-water mark
    raised to their top (ids above the old mark not in ``ranges`` stay gaps) and no longer
    counted as lost."""
    if not ranges:
        return state
    top = max(hi for _, hi in ranges)
    if state.high_water is None:
        return StreamState(top, tuple(union(ranges)), ())
    rise = [(state.high_water + 1, top)] if top > state.high_water else []
    return dataclasses.replace(
        state,
        high_water=max(top, state.high_water),
        gaps=tuple(union(state.gaps, ranges, rise)),
        lost=tuple(difference(state.lost, ranges)),
    )
