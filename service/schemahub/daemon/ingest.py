"""The daemon's frame sink: decoded trades -> sequencer -> raw buffers, with backpressure.

Websocket frames (through :meth:`Ingest.on_frame`) and REST pages from the gap filler (through
:meth:`Ingest.accept`) take the same path, so a trade is admitted exactly once whichever way it
arrives first.
"""

from __future__ import annotations

import asyncio
import logging

from schemahub.batching import BufferSet
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import decoder_for
from schemahub.decode.base import DecodedFrame
from schemahub.lake.quarantine import QuarantineEntry
from schemahub.logs import RateLimitedLog
from schemahub.sequencing import Sequencer
from schemahub.venues import (
    Connected,
    Disconnected,
    ReceivedFrame,
    SequenceGap,
    SessionEvent,
    SubscriptionRejected,
)

log = logging.getLogger(__name__)
# The column holding the stream symbol in each venue's native records.
STREAM_FIELD = {"binance": "symbol", "coinbase": "product_id", "kraken": "symbol"}
# How far before the last trade seen a REST search for a gap should start.
_HINT_MARGIN_SECONDS = 5.0


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

    async def on_frame(self, frame: ReceivedFrame) -> None:
        """A websocket frame: admit its trades, then wait while the buffers are full."""
        self.metrics.frames.inc(venue=frame.venue)
        self.accept(
            frame.venue, frame.decoded, f"ws:{frame.venue}/{frame.conn_id}", frame.received_at
        )
        await self.wait_for_room()

    async def on_event(self, event: SessionEvent) -> None:
        """Connection events: kept for readiness and metrics (gaps show up as id jumps)."""
        kind = type(event).__name__
        self.metrics.session_events.inc(venue=event.venue, event=kind)
        if isinstance(event, Connected):
            self.connected.setdefault(event.venue, set()).add(event.conn_id)
        elif isinstance(event, Disconnected):
            self.connected.get(event.venue, set()).discard(event.conn_id)
            if not event.planned:
                log.info("disconnected", extra={"venue": event.venue, "reason": event.reason})
                self.probe_requests.update((event.venue, symbol) for symbol in event.streams)
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
        for reject in frame.rejects:
            self.quarantine.append(QuarantineEntry(venue, source, reject.reason, reject.payload))
            self.metrics.quarantined.inc(venue=venue)
        if not frame.trades:
            return 0
        gaps_before = self.sequencer.stats.gaps_opened
        fresh = self.sequencer.admit_records(venue, frame.trades, symbol_field=STREAM_FIELD[venue])
        self.metrics.duplicates.inc(len(frame.trades) - len(fresh), venue=venue)
        if fresh:
            table = decoder_for(venue).RAW_TABLE
            self.buffers[table].append(fresh, source, int(received_at * 1_000_000))
            self.metrics.trades.inc(len(fresh), venue=venue, source=source.split(":", 1)[0])
        opened = self.sequencer.stats.gaps_opened - gaps_before
        if opened:
            self.metrics.gaps_opened.inc(opened)
        if fresh and live:
            self._note_progress(venue, fresh, received_at, gap_opened=opened > 0)
        if self.buffers.buffered_rows >= self._flush_rows:
            self.flush_requested.set()
        return len(fresh)

    def since_hint(self, venue: str, symbol: str) -> float | None:
        """A time at or before the first open gap of this stream (for Kraken's REST search)."""
        began = self.gap_began.get((venue, symbol))
        return None if began is None else began - _HINT_MARGIN_SECONDS

    def gaps_closed(self, venue: str, symbol: str) -> None:
        """The stream has no open gap any more: forget when its gaps began."""
        self.gap_began.pop((venue, symbol), None)

    async def wait_for_room(self) -> None:
        """Return once the buffers are under their cap (immediately when they are)."""
        while not self.buffers.has_room():
            self._room.clear()
            self.metrics.backpressure.set(1)
            self.flush_requested.set()
            await self._room.wait()
        self.metrics.backpressure.set(0)

    def room_changed(self) -> None:
        """Called after a commit released rows: wake the readers if there is room again."""
        if self.buffers.has_room():
            self._room.set()

    def take_quarantine(self) -> list[QuarantineEntry]:
        """The quarantine entries gathered since the last call."""
        taken, self.quarantine = self.quarantine, []
        return taken

    def _note_progress(
        self, venue: str, records: list[dict], received_at: float, gap_opened: bool
    ) -> None:
        field = STREAM_FIELD[venue]
        for symbol in {r[field] for r in records}:
            key = (venue, symbol)
            previous = self.last_seen.get(key)
            if gap_opened and key not in self.gap_began:
                self.gap_began[key] = previous if previous is not None else received_at
            self.last_seen[key] = received_at
