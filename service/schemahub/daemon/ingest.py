"""The daemon's frame sink: decoded trades -> sequencer -> raw buffers, with backpressure.

Websocket bursts (through :meth:`Ingest.on_batch`) and REST pages from the gap filler (through
:meth:`Ingest.accept`) are admitted by the one sequencer, so a trade is admitted exactly once
whichever way it arrives first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

# pa.array() of a numpy array looks at np.ma, which numpy 2 imports on first touch (~9 ms, in
# the first burst otherwise): imported with this module, at start-up.
import numpy.ma
import pyarrow as pa

from schemahub.batching import BufferSet, RawBuffer
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.daemon.streams import StreamRows, Streams, single_array, split_streams
from schemahub.decode import decoder_for
from schemahub.decode.base import DecodedFrame
from schemahub.decode.batch import FRAME_COLUMN
from schemahub.discrepancy.tracker import Tracker
from schemahub.lake.quarantine import QuarantineEntry
from schemahub.logs import RateLimitedLog
from schemahub.ops.metrics import Child
from schemahub.registry import STREAM_FIELDS
from schemahub.sequencing import Gap, Sequencer
from schemahub.venues import (
    Connected,
    Disconnected,
    ReceivedBatch,
    SequenceGap,
    SessionEvent,
    SubscriptionRejected,
)

log = logging.getLogger(__name__)
# The column holding the stream symbol in each venue's native records.
STREAM_FIELD = STREAM_FIELDS
# How far before the last trade seen a REST search for a gap should start.
_HINT_MARGIN_SECONDS = 5.0
# How far before its subscription a fresh stream's trades are owed: the venue's clock may run
# behind ours, and a trade or two more at the start of a stream's history costs nothing.
OWED_MARGIN_SECONDS = 5.0


@dataclass(slots=True)
class _Route:
    """What :meth:`Ingest.accept` needs for one venue, resolved once instead of per frame."""

    stream_field: str | None  # None for a venue we do not know (accept then fails as before)
    frames: Child
    slow_frames: Child
    duplicates: Child
    quarantined: Child
    metrics: DaemonMetrics
    venue: str
    buffer: RawBuffer | None = None  # looked up at the first admitted trade
    trades: dict[str, Child] = field(default_factory=dict)  # by source kind: ws, rest

    @classmethod
    def of(cls, venue: str, metrics: DaemonMetrics) -> _Route:
        return cls(
            STREAM_FIELD.get(venue),
            metrics.frames.labels(venue=venue),
            metrics.slow_frames.labels(venue=venue),
            metrics.duplicates.labels(venue=venue),
            metrics.quarantined.labels(venue=venue),
            metrics,
            venue,
        )

    def trades_from(self, source: str) -> Child:
        """The trades counter of ``source``'s kind (the part before its first colon)."""
        kind = "ws" if source.startswith("ws:") else source.split(":", 1)[0]
        child = self.trades.get(kind)
        if child is None:
            child = self.trades[kind] = self.metrics.trades.labels(venue=self.venue, source=kind)
        return child


class Ingest:
    """Admits new trades into the buffers; pauses readers while the buffers are at their cap."""

    def __init__(
        self,
        sequencer: Sequencer,
        buffers: BufferSet,
        metrics: DaemonMetrics,
        flush_rows: int,
    ) -> None:
        self.sequencer = sequencer
        self.buffers = buffers
        self.metrics = metrics
        self.flush_requested = asyncio.Event()
        self.quarantine: list[QuarantineEntry] = []
        self.connected: dict[str, set[str]] = {}  # venue -> live connection ids
        # (venue, symbol) -> receive time of the newest live trade, and of the last live trade
        # before the stream's oldest open gap (where a REST search for the gap should start).
        self.last_seen: dict[tuple[str, str], float] = {}
        self.gap_began: dict[tuple[str, str], float] = {}
        # Streams whose connection dropped: the gap filler asks the venue how far they went.
        self.probe_requests: set[tuple[str, str]] = set()
        self._flush_rows = flush_rows
        self._room = asyncio.Event()
        self._room.set()
        self._warn = RateLimitedLog(log)
        self._routes: dict[str, _Route] = {}
        self._backpressure_clear = False  # the gauge already reads 0
        # The live discrepancy feed's state, fed with admitted trades and quotes (optional).
        self.tracker: Tracker | None = None

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        """A burst of websocket frames: admit their trades, then (with ``backpressure``) wait
        while the buffers are full. Everything is admitted before the first await, so a
        cancelled reader never leaves a burst half taken.

        If our own code fails on the burst (a bug, not the venue's doing), the failure is
        logged with its traceback and counted, the burst's frames are quarantined with the
        reason, and the trades it held are fetched again as gaps; the stream goes on."""
        venue = batch.venue
        route = self._routes.get(venue) or self._route(venue)
        route.frames.inc(len(batch))
        source = f"ws:{venue}/{batch.conn_id}"
        try:
            self._admit_batch(route, batch, source)
        except Exception as exc:  # our code, not the venue: contained (invariant 4)
            self._burst_failed(route, batch, source, exc)
        if backpressure and not (self._backpressure_clear and self.buffers.has_room()):
            await self.wait_for_room()

    def _admit_batch(self, route: _Route, batch: ReceivedBatch, source: str) -> None:
        venue = batch.venue
        decoded, times = batch.decoded, batch.received_at
        trades = decoded.trades
        if decoded.slow:
            ordered = self._take_controls(venue, decoded.slow, times, route)
            # Frame order matters where a stream starts (at its first trade): the columnar
            # rows are taken in runs between the slow frames that hold trades or rejects.
            frame_of = trades.column(FRAME_COLUMN).to_numpy()
            start = 0
            for index, frame in ordered:
                end = int(np.searchsorted(frame_of, index))
                if end > start:
                    self.accept_columns(venue, trades.slice(start, end - start), source, times)
                self.accept(venue, frame, source, times[index], live=True)
                start = end
            trades = trades.slice(start)
        if trades.num_rows:
            self.accept_columns(venue, trades, source, times)

    def _burst_failed(
        self, route: _Route, batch: ReceivedBatch, source: str, exc: Exception
    ) -> None:
        """Report a burst our code could not take and quarantine its frames."""
        self.metrics.internal_errors.inc(venue=route.venue, stage="ingest")
        log.error(
            "our code failed on a burst: its frames are quarantined and its trades will be "
            "fetched again as gaps",
            exc_info=exc,
            extra={"venue": route.venue, "conn_id": batch.conn_id, "frames": len(batch)},
        )
        reason = f"burst not ingested, our code raised {type(exc).__name__}: {exc}"[:1000]
        for text in batch.texts:
            payload = text if isinstance(text, str) else text.decode("utf-8", "replace")
            self.quarantine.append(QuarantineEntry(route.venue, source, reason, payload))
        route.quarantined.inc(len(batch.texts))

    def _take_controls(
        self,
        venue: str,
        slow: dict[int, DecodedFrame],
        times: Sequence[float],
        route: _Route,
    ) -> list[tuple[int, DecodedFrame]]:
        """Hand the quotes of a burst's slow frames to the tracker; return, in frame order,
        the slow frames that hold trades or rejects (the others need nothing more). Quote
        frames are the venue's usual top-of-book frames, so they are not counted as slow."""
        quoted = 0
        ordered = []
        for index, frame in sorted(slow.items()):
            if frame.trades or frame.rejects:
                ordered.append((index, frame))
            elif frame.quotes:
                quoted += 1
                if self.tracker is not None:
                    self.tracker.on_quotes(venue, frame.quotes, times[index])
        if len(slow) > quoted:
            route.slow_frames.inc(len(slow) - quoted)
        return ordered

    def accept_columns(
        self, venue: str, trades: pa.Table, source: str, received_at: Sequence[float]
    ) -> int:
        """Admit the new trades of a columnar burst (see :mod:`schemahub.decode.batch`): rows
        of the venue's native columns plus the index of the frame each came from, whose
        receive time is ``received_at[index]``. Returns trades admitted."""
        route = self._routes.get(venue) or self._route(venue)
        stream_field = route.stream_field or STREAM_FIELD[venue]
        stats = self.sequencer.stats
        gaps_before = stats.gaps_opened
        split = split_streams(trades, stream_field)
        admitted_ids: list[tuple[str, np.ndarray]] = []
        try:
            return self._admit_columns(route, trades, split, (source, received_at), admitted_ids)
        except Exception:
            self._reopen(venue, admitted_ids)  # admitted, never buffered: fetched again
            raise
        finally:
            opened = stats.gaps_opened - gaps_before
            if opened:
                self.metrics.gaps_opened.inc(opened)
            if self.buffers.buffered_rows >= self._flush_rows:
                self.flush_requested.set()

    def _admit_columns(
        self,
        route: _Route,
        trades: pa.Table,
        split: Streams,
        arrival: tuple[str, Sequence[float]],
        admitted_ids: list[tuple[str, np.ndarray]],
    ) -> int:
        """The sequencer's verdict on each stream of ``split``, then the new rows buffered;
        ``arrival`` is (source, receive time per frame); ``admitted_ids`` gathers what the
        sequencer took, in case buffering fails."""
        venue = route.venue
        source, received_at = arrival
        stats = self.sequencer.stats
        admitted_before = stats.admitted
        stream_field = route.stream_field or STREAM_FIELD[venue]
        keep = None
        for stream in split.streams:
            gaps = stats.gaps_opened
            mask = self._admit_stream(venue, stream)
            if mask is not None:
                if keep is None:
                    keep = np.ones(trades.num_rows, dtype=bool)
                keep[stream.rows] = mask
            admitted = stream.frames if mask is None else stream.frames[mask]
            admitted_ids.append((stream.symbol, stream.ids if mask is None else stream.ids[mask]))
            if len(admitted):
                self._note_stream(
                    venue, stream.symbol, admitted, received_at, stats.gaps_opened > gaps
                )
        fresh = stats.admitted - admitted_before
        route.duplicates.inc(trades.num_rows - fresh)
        trades = trades.set_column(
            trades.schema.get_field_index(stream_field), stream_field, split.encoded
        )
        if keep is not None:
            trades = trades.filter(pa.array(keep))
        if fresh:
            frame_of = trades.column(FRAME_COLUMN).to_numpy()
            # only the frames these rows came from (a burst split by slow frames comes in runs)
            first, last = int(frame_of[0]), int(frame_of[-1])
            spanned = received_at[first : last + 1]
            seconds = np.fromiter(spanned, dtype=np.float64, count=last + 1 - first)
            times = (seconds * 1_000_000).astype(np.int64)
            buffer = route.buffer
            if buffer is None:
                buffer = route.buffer = self.buffers[decoder_for(venue).RAW_TABLE]
            native = trades.columns[: trades.num_columns - 1]  # FRAME_COLUMN is last
            arrays = [single_array(column) for column in native]
            row_times = times[frame_of - first]
            buffer.append_columns(arrays, source, pa.array(row_times))
            if self.tracker is not None:
                self.tracker.on_columns(venue, stream_field, trades, row_times)
            route.trades_from(source).inc(fresh)
        return fresh

    def _reopen_records(self, venue: str, stream_field: str, records: list[dict]) -> None:
        """Admitted records that never reached a buffer: their ids become open gaps again."""
        by_symbol: dict[str, list[int]] = {}
        for record in records:
            by_symbol.setdefault(record[stream_field], []).append(int(record["trade_id"]))
        for symbol, ids in by_symbol.items():
            self.sequencer.reopen(venue, symbol, ids)

    def _reopen(self, venue: str, admitted: list[tuple[str, np.ndarray]]) -> None:
        """Admitted trades that never reached a buffer become open gaps again."""
        for symbol, ids in admitted:
            self.sequencer.reopen(venue, symbol, ids.tolist())

    def _admit_stream(self, venue: str, stream: StreamRows) -> np.ndarray | None:
        """The sequencer's mask for one stream of a burst (None: all new). A stream without
        state starts at its first frame's trades, as it would frame by frame."""
        sequencer = self.sequencer
        if sequencer.has_state(venue, stream.symbol):
            return sequencer.admit_array(venue, stream.symbol, stream.ids)
        first = int(np.searchsorted(stream.frames, stream.frames[0], side="right"))
        head = sequencer.admit_array(venue, stream.symbol, stream.ids[:first])
        tail = sequencer.admit_array(venue, stream.symbol, stream.ids[first:])
        if head is None and tail is None:
            return None
        return np.concatenate(
            [
                np.ones(first, dtype=bool) if head is None else head,
                np.ones(len(stream.ids) - first, dtype=bool) if tail is None else tail,
            ]
        )

    def _note_stream(
        self,
        venue: str,
        symbol: str,
        frames: np.ndarray,
        received_at: Sequence[float],
        gap_opened: bool,
    ) -> None:
        """A live stream took new trades from ``frames`` (ascending frame indexes): when its
        newest trade arrived, and where a gap it opened began."""
        key = (venue, symbol)
        previous = self.last_seen.get(key)
        if gap_opened and key not in self.gap_began:
            self.gap_began[key] = previous if previous is not None else received_at[int(frames[0])]
        self.last_seen[key] = received_at[int(frames[-1])]

    async def on_event(self, event: SessionEvent) -> None:
        """Connection events: kept for readiness and metrics (gaps show up as id jumps)."""
        kind = type(event).__name__
        self.metrics.session_events.inc(venue=event.venue, event=kind)
        if isinstance(event, Connected):
            self.connected.setdefault(event.venue, set()).add(event.conn_id)
            self._owe_fresh_streams(event)
        elif isinstance(event, Disconnected):
            self.connected.get(event.venue, set()).discard(event.conn_id)
            if not event.planned:
                log.info("disconnected", extra={"venue": event.venue, "reason": event.reason})
                self._dropped(event)
        elif isinstance(event, SequenceGap):
            self._warn.warning(
                f"sequence:{event.venue}",
                "frames lost on a connection; the missed trades become gaps",
                venue=event.venue,
                expected=event.expected,
                got=event.got,
            )
        elif isinstance(event, SubscriptionRejected):
            log.error("subscription rejected", extra={"venue": event.venue, "symbol": event.symbol})

    def _owe_fresh_streams(self, event: Connected) -> None:
        """The streams of a new connection that have no state are owed from now on."""
        sequencer, since = self.sequencer, event.at - OWED_MARGIN_SECONDS
        for symbol in event.streams:
            if not sequencer.has_state(event.venue, symbol):
                sequencer.owe_since(event.venue, symbol, since)

    def _dropped(self, event: Disconnected) -> None:
        """A connection dropped: its streams with state are probed for missed trades; those
        still waiting for their first trade need an anchor instead."""
        for symbol in event.streams:
            if self.sequencer.has_state(event.venue, symbol):
                self.probe_requests.add((event.venue, symbol))
            else:
                self.sequencer.need_anchor(event.venue, symbol)

    def accept(
        self,
        venue: str,
        frame: DecodedFrame,
        source: str,
        received_at: float,
        live: bool = False,
    ) -> int:
        """Admit the new trades of ``frame``; quarantine its rejects. Returns trades admitted.

        ``live`` frames also move each stream's "last seen" time, which dates the gaps they open.
        """
        route = self._routes.get(venue) or self._route(venue)
        for reject in frame.rejects:
            self.quarantine.append(QuarantineEntry(venue, source, reject.reason, reject.payload))
            route.quarantined.inc()
        trades = frame.trades
        if not trades:
            return 0
        stats = self.sequencer.stats
        gaps_before = stats.gaps_opened
        stream_field = route.stream_field or STREAM_FIELD[venue]
        fresh = self.sequencer.admit_records(venue, trades, symbol_field=stream_field)
        route.duplicates.inc(len(trades) - len(fresh))
        if fresh:
            buffer = route.buffer
            if buffer is None:
                buffer = route.buffer = self.buffers[decoder_for(venue).RAW_TABLE]
            try:
                buffer.append(fresh, source, int(received_at * 1_000_000))
            except Exception:
                self._reopen_records(venue, stream_field, fresh)
                raise
            route.trades_from(source).inc(len(fresh))
        opened = stats.gaps_opened - gaps_before
        if opened:
            self.metrics.gaps_opened.inc(opened)
        if fresh and live:
            self._note_progress(venue, stream_field, fresh, received_at, gap_opened=opened > 0)
            if self.tracker is not None:
                self.tracker.on_records(venue, stream_field, fresh, received_at)
        if self.buffers.buffered_rows >= self._flush_rows:
            self.flush_requested.set()
        return len(fresh)

    def since_hint(self, venue: str, symbol: str) -> float | None:
        """A time at or before the first open gap of this stream (for Kraken's REST search)."""
        began = self.gap_began.get((venue, symbol))
        return None if began is None else began - _HINT_MARGIN_SECONDS

    # -- what the gap filler asks (see schemahub.daemon.gapfill.GapSource) -----------------

    def open_gaps(self) -> list[Gap]:
        """Every open gap, oldest stream state first."""
        return self.sequencer.open_gaps()

    def stream_symbols(self, venue: str) -> list[str]:
        """The symbols of ``venue`` that have a stream state."""
        return [symbol for exchange, symbol in self.sequencer.streams() if exchange == venue]

    def take_probe_request(self, venue: str) -> str | None:
        """A stream of ``venue`` whose connection dropped and that has a high-water mark to
        compare with the venue's newest id (taken off the list), else None."""
        for key in sorted(self.probe_requests):
            if key[0] == venue:
                self.probe_requests.discard(key)
                if self.sequencer.state(*key).high_water is not None:
                    return key[1]
        return None

    def next_anchor(self, venue: str) -> tuple[str, float] | None:
        """A stream of ``venue`` owed from a time whose first id must be asked of the venue,
        with that time (epoch seconds), else None."""
        needed = self.sequencer.anchors_needed(venue)
        return needed[0] if needed else None

    def anchor(self, venue: str, symbol: str, since: float, first_id: int | None) -> Gap | None:
        """The venue's first id at or after ``since`` is ``first_id``: the stream starts there
        (see :meth:`Sequencer.anchor`). Returns the gap opened below its first trade, if any;
        gaps of the stream are dated from ``since`` on (Kraken's REST search starts there)."""
        gap = self.sequencer.anchor(venue, symbol, first_id)
        key = (venue, symbol)
        self.last_seen.setdefault(key, since)
        if gap is not None:
            self.metrics.gaps_opened.inc()
            self.gap_began[key] = min(self.gap_began.get(key, since), since)
        return gap

    def request_probe(self, venue: str, symbol: str) -> None:
        """Ask for the stream to be probed (again, e.g. after a failed probe)."""
        self.probe_requests.add((venue, symbol))

    def last_live(self, venue: str, symbol: str) -> float | None:
        """When the stream's newest live trade arrived (epoch seconds), None before any."""
        return self.last_seen.get((venue, symbol))

    def expect_through(self, venue: str, symbol: str, latest_id: int) -> Gap | None:
        """The venue holds ids up to ``latest_id``: those above our high-water mark become a
        gap (counted, and dated from the stream's last live trade). Returns the new gap."""
        gap = self.sequencer.expect_through(venue, symbol, latest_id)
        if gap is not None:
            self.metrics.gaps_opened.inc()
            key = (venue, symbol)
            self.gap_began.setdefault(key, self.last_seen.get(key, time.time()))
        return gap

    def accept_history(self, venue: str, page: DecodedFrame) -> int:
        """Admit a REST history page (the same path as live frames); returns ids filled."""
        admitted = self.accept(venue, page, f"rest:{venue}", time.time())
        self.metrics.gap_ids_filled.inc(admitted, venue=venue)
        return admitted

    def mark_lost(self, gap: Gap, reason: str) -> int:
        """The venue no longer holds the ids of ``gap``: record them as lost; returns how many."""
        lost = self.sequencer.mark_lost(gap, reason)
        count = sum(piece.size for piece in lost)
        self.metrics.ids_lost.inc(count, venue=gap.exchange)
        return count

    def settle_stream(self, venue: str, symbol: str) -> None:
        """After gap work on the stream: once it has no open gap, forget when its gaps began."""
        if not self.sequencer.gaps_for(venue, symbol):
            self.gaps_closed(venue, symbol)

    def gaps_closed(self, venue: str, symbol: str) -> None:
        """The stream has no open gap any more: forget when its gaps began."""
        self.gap_began.pop((venue, symbol), None)

    async def wait_for_room(self) -> None:
        """Return once the buffers are under their cap (immediately when they are)."""
        while not self.buffers.has_room():
            self._room.clear()
            self.metrics.backpressure.set(1)
            self._backpressure_clear = False
            self.flush_requested.set()
            await self._room.wait()
        self.metrics.backpressure.set(0)
        self._backpressure_clear = True

    def room_changed(self) -> None:
        """Called after a commit released rows: wake the readers if there is room again."""
        if self.buffers.has_room():
            self._room.set()

    def take_quarantine(self) -> list[QuarantineEntry]:
        """The quarantine entries gathered since the last call."""
        taken, self.quarantine = self.quarantine, []
        return taken

    def _route(self, venue: str) -> _Route:
        route = self._routes[venue] = _Route.of(venue, self.metrics)
        return route

    def _note_progress(
        self,
        venue: str,
        stream_field: str,
        records: list[dict],
        received_at: float,
        gap_opened: bool,
    ) -> None:
        symbol = records[0][stream_field]
        if len(records) == 1 or all(r[stream_field] == symbol for r in records):
            symbols: Iterable[str] = (symbol,)  # the usual frame: one stream
        else:
            symbols = {r[stream_field] for r in records}
        for symbol in symbols:
            key = (venue, symbol)
            previous = self.last_seen.get(key)
            if gap_opened and key not in self.gap_began:
                self.gap_began[key] = previous if previous is not None else received_at
            self.last_seen[key] = received_at
