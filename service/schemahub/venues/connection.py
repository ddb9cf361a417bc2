"""One websocket connection: open, subscribe, check acks, read, decode, deliver, notice silence.

A :class:`Connection` lives once: when it fails or is closed, the session (session.py) opens a
new one. Bad input never ends it: binary frames, frames over the size cap and frames the decoder
calls MALFORMED are counted, logged (rate-limited) and handed on as MALFORMED for the quarantine.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from schemahub.decode.base import DecodedFrame, FrameKind, malformed
from schemahub.decode.batch import DecodedBatch, decode_batch
from schemahub.decode.columnar import output_schema
from schemahub.errors import StaleConnectionError, SubscriptionError, WebSocketClosed
from schemahub.logs import RateLimitedLog
from schemahub.venues.backoff import RetryPolicy
from schemahub.venues.events import (
    Connected,
    Disconnected,
    FrameSink,
    ReceivedBatch,
    SequenceGap,
    SessionStats,
    SubscriptionRejected,
)
from schemahub.venues.ratelimit import TokenBucket
from schemahub.venues.recording import CaptureRecorder
from schemahub.venues.wsbase import Subscribe, WsVenue
from schemahub.venues.wsclient import WebSocket, open_websocket

log = logging.getLogger(__name__)

DEFAULT_MAX_FRAME_BYTES = 1 << 20  # trade frames are a few KB; snapshots a few tens of KB
# Frames past this multiple of the cap end the connection (memory guard, close code 1009).
HARD_LIMIT_FACTOR = 8
QUARANTINE_EXCERPT = 4096
# Frames are decoded in bursts: up to this many frames or bytes, or what arrived in one burst
# window. Live, the window closes almost every burst; the size bounds only matter when frames
# wait in the socket (a backlog, a busy process), which is when throughput counts: a burst has
# a fixed cost of a millisecond or two (a hundred-odd array calls, a sequencer step per
# stream) that 8 MiB bursts spread over ~45,000 Coinbase or Kraken trades (4 MiB ones cost them
# ~0.04 us a trade more, 1 MiB ones ~0.15). The byte bound caps the text a connection holds
# waiting, and by how much a burst can overrun flush.max_buffered_rows before backpressure
# holds the connection (a few percent of the default cap).
BURST_FRAMES = 16_384
BURST_BYTES = 8 << 20
# The longest burst window. It sets how many bursts a live feed costs a second whatever its
# rate: 20 Coinbase products at 1,000 trades/s cost 41 us of CPU a trade with 100 ms windows,
# 25-29 with 250 ms ones (bench/live_efficiency.py). A trade waits at most one window before it
# is sequenced: nothing next to the flush interval, and the discrepancy feed publishes right
# after the windows close (see burst_period), so it adds nothing to the feed's latency.
BURST_SECONDS = 0.25
# While a burst window is open the connection does not read its socket: the window's frames
# wait in the kernel and come in one read, one wake-up and one parse call for all of them
# instead of one per frame (over a quarter of the CPU of a 1,000 trades/s feed). Reading resumes
# this long before the window ends, so they are in the burst it hands on.
GATHER_MARGIN = 0.005


def burst_period(align_to: float | None = None) -> float:
    """The burst window: BURST_SECONDS, or, when bursts must close just before something
    that happens every ``align_to`` seconds (the discrepancy feed's publishing), the largest
    whole fraction of ``align_to`` not over BURST_SECONDS."""
    if align_to is None:
        return BURST_SECONDS
    # the epsilon keeps a whole multiple that float division left a hair above it whole
    return align_to / math.ceil(align_to / BURST_SECONDS - 1e-9)


def window_end(now: float, period: float) -> float:
    """The end of the burst window holding ``now``. Windows are the multiples of ``period``
    on the wall clock, so every connection of the process hands its burst on at the same
    instants, and whatever wakes just after a multiple of ``period`` sees all of them."""
    return (math.floor(now / period) + 1) * period


class Decoder(Protocol):
    """The part of a venue decoder a session uses."""

    NATIVE_SCHEMA: pa.Schema

    def decode_frame(self, frame: str | bytes, keep_payload: bool = True) -> DecodedFrame: ...


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Timings and limits of a session (built from VenueConfig by the session)."""

    silence_timeout: float = 30.0
    ack_timeout: float = 10.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_connection_age: float | None = None
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keep_payload: bool = True
    burst_seconds: float = BURST_SECONDS  # the burst window (see burst_period)


@dataclass(slots=True)
class Shared:
    """What every connection of one session shares."""

    venue: WsVenue
    base_url: str
    decoder: Decoder
    sink: FrameSink
    options: SessionOptions
    stats: SessionStats
    recorder: CaptureRecorder | None
    warn: RateLimitedLog
    clock: Callable[[], float] = time.time
    # The venue's per-IP budgets (see WsVenue), one bucket for every connection of the session.
    connect_pace: TokenBucket | None = None
    message_pace: TokenBucket | None = None

    @classmethod
    def pacing(cls, venue: WsVenue) -> dict[str, TokenBucket | None]:
        """The shared buckets for ``venue``: each lets at most its rate through in any second
        (capacity 1 plus a refill a little under the rate)."""
        return {
            "connect_pace": per_ip_bucket(venue.connects_per_second_per_ip),
            "message_pace": per_ip_bucket(venue.messages_per_second_per_ip),
        }


def per_ip_bucket(per_second: float | None) -> TokenBucket | None:
    """A bucket letting at most ``per_second`` through in any one-second window."""
    if per_second is None:
        return None
    return TokenBucket(max(per_second - 1.0, 0.5), 1.0)


class Connection:
    """One websocket connection carrying ``symbols``."""

    def __init__(self, shared: Shared, conn_id: str, symbols: list[str]) -> None:
        self.shared = shared
        self.conn_id = conn_id
        self.symbols = list(symbols)
        self.url = shared.venue.connect_url(shared.base_url, self.symbols)
        self.opened_at: float | None = None
        self.last_frame_at: float | None = None
        self.rejected: dict[str, str] = {}
        self._ws: WebSocket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._sent: list[Subscribe] = []
        self._pending: set[str] = set(self.symbols)
        self._ready = asyncio.Event()
        self._next_seq: int | None = 0 if shared.venue.counts_frames else None
        self._req_id = 1
        self._pinged = False
        self._closed = False
        self.burst: list[str | bytes] = []  # received, not yet decoded and handed on
        self.burst_at: list[float] = []  # when each of those arrived
        self._burst_bytes = 0
        self._burst_due = 0.0  # when the open burst's window ends (wall clock)
        self._last_burst_bytes = 0
        self._clock, self._recorder = shared.clock, shared.recorder  # read once per frame
        rate = shared.venue.control_messages_per_second
        self._pace = TokenBucket(rate, 1.0) if rate else None

    @property
    def venue(self) -> str:
        return self.shared.venue.name

    @property
    def ready(self) -> bool:
        """Every symbol of the connection is acknowledged or refused."""
        return self._ready.is_set()

    async def open(self) -> None:
        """Connect, announce, start reading, and send the subscriptions (paced)."""
        opts = self.shared.options
        if self.shared.connect_pace is not None:
            await self.shared.connect_pace.acquire()
        self._ws = await open_websocket(
            self.url,
            max_size=opts.max_frame_bytes * HARD_LIMIT_FACTOR,
            open_timeout=opts.open_timeout,
        )
        self.opened_at = self.shared.clock()
        self.shared.stats.connects += 1
        if self.shared.recorder:
            self.shared.recorder.connect(self.url, self.opened_at)
        await self.shared.sink.on_event(
            Connected(self.venue, self.conn_id, tuple(self.symbols), self.opened_at)
        )
        self._reader = asyncio.create_task(self._read_loop(), name=f"read-{self.conn_id}")
        if not self._pending:
            self._ready.set()
        messages = self.shared.venue.subscribe_messages(self.symbols, self._req_id)
        self._req_id += len(messages)
        for message in messages:
            self._sent.append(message)
            await self._send(message.text)

    async def wait_ready(self) -> None:
        """Wait until every symbol is acknowledged or refused; a silent venue, or a connection
        that ends first, raises (the session reconnects)."""
        assert self._reader is not None
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._reader},
                timeout=self.shared.options.ack_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
        if self._reader in done:
            raise self._reader.exception() or StaleConnectionError(f"{self.conn_id} ended")
        if not self._ready.is_set():
            missing = ", ".join(sorted(self._pending)[:5])
            raise StaleConnectionError(
                f"{self.conn_id}: no acknowledgement within {self.shared.options.ack_timeout}s "
                f"for {len(self._pending)} subscription(s) ({missing})"
            )

    async def wait_ended(self, timeout: float | None) -> BaseException | None:
        """Wait up to ``timeout`` for the reader to stop; returns why it stopped, or None if it
        is still running."""
        assert self._reader is not None
        done, _ = await asyncio.wait({self._reader}, timeout=timeout)
        if not done:
            return None
        if self._reader.cancelled():
            return StaleConnectionError(f"{self.conn_id} reader cancelled")
        return self._reader.exception() or StaleConnectionError(f"{self.conn_id} ended")

    async def close(self, reason: str, planned: bool = False) -> None:
        """Stop reading, close the socket, and report the window that may have been missed."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()  # no effect on a reader that already ended
            # also takes the error of a reader that ended on its own (the session has it)
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:  # frames that arrived but were not taken yet count too
            self.take_all(self._ws.take_messages(BURST_FRAMES))
        if self.burst:
            # Frames read before the close still count; a full sink must not hold up a close.
            await self.deliver_burst(backpressure=False)
        if self._ws is not None:
            await self._ws.close(self.shared.options.close_timeout)
        if self.opened_at is None:
            return
        stats = self.shared.stats
        stats.disconnects += 1
        stats.rotations += planned
        at = self.shared.clock()
        await self.shared.sink.on_event(
            Disconnected(
                self.venue,
                self.conn_id,
                tuple(self.symbols),
                self.last_frame_at or self.opened_at,
                at,
                reason,
                planned,
            )
        )

    async def _send(self, text: str) -> None:
        if self._pace is not None:
            await self._pace.acquire()
        if self.shared.message_pace is not None:
            await self.shared.message_pace.acquire()
        assert self._ws is not None
        await self._ws.send(text)
        self.shared.stats.sends += 1
        if self.shared.recorder:
            self.shared.recorder.send(self.url, text, self.shared.clock())

    async def _read_loop(self) -> None:
        assert self._ws is not None and self.opened_at is not None
        try:
            while True:
                if await self._read_until_due() or self.burst:
                    await self.deliver_burst()
                else:
                    await self._on_idle()
        except WebSocketClosed as exc:
            if not exc.clean:
                self.shared.stats.error_closes += 1
                self.shared.warn.warning(
                    f"close-{self.venue}",
                    "the connection ended with an error",
                    venue=self.venue,
                    conn_id=self.conn_id,
                    code=exc.code,
                    reason=exc.reason,
                )
            raise

    async def _read_until_due(self) -> bool:
        """Take frames until the burst is due (True) or the wait ran out (False). One timer
        per burst, not per frame: it is moved only when a frame starts a new burst."""
        ws = self._ws
        assert ws is not None
        try:
            async with asyncio.timeout(self._time_to_wait()) as scope:
                while True:
                    await ws.wait_messages()
                    starts_burst = not self.burst
                    if self.take_all(ws.take_messages(BURST_FRAMES - len(self.burst))):
                        return True
                    if starts_burst:
                        left = self._burst_left()
                        scope.reschedule(asyncio.get_running_loop().time() + left)
                        await self._let_frames_gather(left)
        except TimeoutError:
            return False

    async def _let_frames_gather(self, left: float) -> None:
        """Stop reading the socket for the ``left`` seconds of the open burst window (but
        GATHER_MARGIN). Not when the last burst was more than half of what the socket's
        receive buffer holds (a window of it might not fit, and the venue would have to wait
        on us), nor when reading is already paused (too much is waiting to be taken)."""
        ws = self._ws
        assert ws is not None
        if left <= GATHER_MARGIN or ws.reading_paused:
            return
        buffer_bytes = ws.receive_buffer_bytes()
        if buffer_bytes is None or 2 * self._last_burst_bytes > buffer_bytes:
            return
        ws.hold_reading()
        self.shared.stats.gathered += 1
        try:
            await asyncio.sleep(left - GATHER_MARGIN)
        finally:
            ws.release_reading()

    def _burst_left(self) -> float:
        """Seconds until the open burst is due; never more than one window, even if the wall
        clock stepped back meanwhile."""
        period = self.shared.options.burst_seconds
        return min(period, max(0.0, self._burst_due - self.shared.clock()))

    def _time_to_wait(self) -> float:
        """Seconds until the next action: handing on a burst, an app-level ping, or giving up
        on silence."""
        if self.burst:
            return self._burst_left()
        opts = self.shared.options
        since = self.last_frame_at or self.opened_at or self.shared.clock()
        idle = self.shared.clock() - since
        fraction = self.shared.venue.app_ping_fraction
        if fraction is not None and not self._pinged:
            return max(0.0, opts.silence_timeout * fraction - idle)
        return max(0.0, opts.silence_timeout - idle)

    async def _on_idle(self) -> None:
        since = self.last_frame_at or self.opened_at or 0.0
        silent_for = self.shared.clock() - since
        if silent_for >= self.shared.options.silence_timeout:
            self.shared.stats.silences += 1
            raise StaleConnectionError(f"{self.conn_id}: no frame for {silent_for:.1f}s")
        if not self._pinged:
            self._pinged = True
            ping = self.shared.venue.ping_message(self._req_id)
            if ping is not None:
                self._req_id += 1
                await self._send(ping)

    def take(self, frame: str | bytes) -> bool:
        """Add one received frame to the current burst; see :meth:`take_all`."""
        return self.take_all([frame])

    def take_all(self, frames: list[str | bytes]) -> bool:
        """Add frames received together to the current burst (the rest waits for the
        burst); True when the burst is due: full, or its window has ended."""
        now = self._clock()
        burst = self.burst
        if not burst:
            self._burst_due = window_end(now, self.shared.options.burst_seconds)
        burst += frames
        self.burst_at += [now] * len(frames)
        self._burst_bytes += sum(map(len, frames))
        if self._recorder is not None:
            for frame in frames:
                self._recorder.recv(self.url, frame, now)
        return (
            len(burst) >= BURST_FRAMES or self._burst_bytes >= BURST_BYTES or now >= self._burst_due
        )

    async def deliver_burst(self, backpressure: bool = True) -> None:
        """Decode the frames received since the last burst together and hand them on; with
        ``backpressure`` the sink may hold the call while it is full.

        The burst is taken first, so a cancellation while handing it on never delivers a frame
        twice (a frame it loses shows up as a gap, which the REST workers fill).
        """
        frames, times = self.burst, self.burst_at
        self.burst, self.burst_at, self._burst_bytes = [], [], 0
        if not frames:
            return
        self.last_frame_at = times[-1]
        self._pinged = False
        sizes = list(map(len, frames))
        stats = self.shared.stats
        stats.frames += len(frames)
        stats.bursts += 1
        self._last_burst_bytes = sum(sizes)
        stats.bytes += self._last_burst_bytes
        batch = self._decode(frames, sizes)
        stats.trades += batch.trades.num_rows
        acking = not self._ready.is_set()  # once every ack is in, control frames are not read
        for index, decoded in sorted(batch.slow.items()):
            self._count(decoded)
            frame = frames[index]
            if acking and decoded.kind is not FrameKind.TRADES and isinstance(frame, str):
                await self._check_acks(frame, times[index])
        if batch.sequence_nums is not None and self._next_seq is not None:
            for seq, at in zip(batch.sequence_nums, times, strict=True):
                if seq is not None:
                    await self._check_sequence(seq, at)
        received = ReceivedBatch(self.venue, self.conn_id, times, sizes, batch, frames)
        await self.shared.sink.on_batch(received, backpressure=backpressure)

    def _decode(self, frames: list[str | bytes], sizes: list[int]) -> DecodedBatch:
        """The burst decoded: frames the decoder must not see (binary, over the size cap) and,
        when payloads are kept, every frame go through the per-frame path."""
        options = self.shared.options
        cap = options.max_frame_bytes
        special = max(sizes) > cap or set(map(type, frames)) != {str}
        if options.keep_payload or special:
            return self._per_frame(frames)
        try:
            return decode_batch(self.venue, frames)
        except Exception:  # a decoder bug must not end the feed (invariant 4)
            log.exception("batch decoder raised", extra={"venue": self.venue})
            return self._per_frame(frames)

    def _per_frame(self, frames: list[str | bytes]) -> DecodedBatch:
        """The burst decoded frame by frame, every frame in ``slow``."""
        slow = {i: self._decode_one(frame) for i, frame in enumerate(frames)}
        schema = output_schema(self.shared.decoder.NATIVE_SCHEMA)
        sequence_nums = None
        if self.shared.venue.counts_frames:
            sequence_nums = [slow[i].sequence_num for i in range(len(frames))]
        return DecodedBatch(schema.empty_table(), slow, sequence_nums)

    def _decode_one(self, frame: str | bytes) -> DecodedFrame:
        stats = self.shared.stats
        size = len(frame)
        if isinstance(frame, bytes):
            stats.binary += 1
            return malformed(frame[:QUARANTINE_EXCERPT], "binary frame (venue sends text JSON)")
        if size > self.shared.options.max_frame_bytes:
            stats.oversize += 1
            cap = self.shared.options.max_frame_bytes
            return malformed(frame[:QUARANTINE_EXCERPT], f"frame of {size} bytes over cap {cap}")
        try:
            return self.shared.decoder.decode_frame(frame, self.shared.options.keep_payload)
        except Exception as exc:  # a decoder bug must not end the feed (invariant 4)
            log.exception("decoder raised on a frame", extra={"venue": self.venue})
            return malformed(frame, f"decoder raised {type(exc).__name__}: {exc}")

    def _count(self, decoded: DecodedFrame) -> None:
        """Count one frame of the per-frame path."""
        stats = self.shared.stats
        stats.rejects += len(decoded.rejects)
        if decoded.kind is FrameKind.TRADES:
            stats.trades += len(decoded.trades)
        elif decoded.kind is FrameKind.CONTROL:
            stats.control += 1
            label = decoded.label or "?"
            stats.by_label[label] = stats.by_label.get(label, 0) + 1
        else:
            stats.malformed += 1
            reason = decoded.rejects[0].reason if decoded.rejects else "malformed"
            self.shared.warn.warning(
                f"malformed-{self.venue}",
                "malformed frame",
                venue=self.venue,
                conn_id=self.conn_id,
                reason=reason[:200],
            )

    async def _check_acks(self, text: str, now: float) -> None:
        if not self._sent or self._ready.is_set():
            return
        update = self.shared.venue.read_ack(text, self._sent)
        self._pending -= update.acked
        for symbol, words in update.rejected.items():
            if symbol not in self._pending:
                continue
            await self._reject(symbol, words, now)
        if not self._pending:
            self._ready.set()

    async def _reject(self, symbol: str, words: str, now: float) -> None:
        self.rejected[symbol] = words
        self._pending.discard(symbol)
        self.shared.stats.subscriptions_rejected += 1
        error = SubscriptionError(f"{self.venue} rejected the subscription to '{symbol}': {words}")
        log.error(str(error), extra={"venue": self.venue, "conn_id": self.conn_id})
        await self.shared.sink.on_event(
            SubscriptionRejected(self.venue, self.conn_id, symbol, error, now)
        )

    async def _check_sequence(self, got: int, now: float) -> None:
        expected = self._next_seq
        assert expected is not None
        if got > expected:
            self.shared.stats.sequence_gaps += 1
            await self.shared.sink.on_event(
                SequenceGap(self.venue, self.conn_id, expected, got, now)
            )
        if got >= expected:
            self._next_seq = got + 1
