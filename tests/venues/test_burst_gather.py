"""While a burst window is open a connection does not read its socket: what the venue sends
meanwhile waits in the kernel and is read at the window's end, all of it, in that window's
burst. A connection whose bursts outgrow half its socket's receive buffer keeps reading (a
window of them might not fit), and starts gathering again once its bursts are small. Windows
are the multiples of the burst period on the wall clock, and the discrepancy feed publishes
just after them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection

from schemahub.config import DiscrepancyConfig
from schemahub.discrepancy import Feed, Tracker
from schemahub.discrepancy.feed import PUBLISH_LAG
from schemahub.venues.connection import BURST_SECONDS, Connection, burst_period, window_end
from schemahub.venues.events import ReceivedBatch
from schemahub.venues.session import VenueSession
from tests.venues.fakews import FakeVenue, ack_binance, binance_trade, fake_venue, session
from tests.venues.helpers import BatchCountingSink, wait_until

PERIOD = 0.5  # long enough for a server to send many frames inside one window


async def into_next_window(period: float = PERIOD, past: float = 0.05) -> None:
    """Sleep until ``past`` seconds after the next window boundary."""
    now = time.time()
    await asyncio.sleep(window_end(now, period) + past - now)


@contextlib.asynccontextmanager
async def open_connection(
    handler: Callable[[ServerConnection, FakeVenue], Awaitable[None]], sink: BatchCountingSink
) -> AsyncIterator[tuple[VenueSession, Connection]]:
    """One Binance connection with PERIOD windows to a fake venue running ``handler``, opened
    and acknowledged; closed on the way out."""
    async with fake_venue(handler) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink, burst_seconds=PERIOD)
        conn = live.new_connection("binance-0.0", ["BTCUSDT"])
        await conn.open()
        try:
            await conn.wait_ready()
            yield live, conn
        finally:
            await conn.close("test over")


async def test_frames_sent_while_a_window_is_open_are_read_together_in_its_burst() -> None:
    halfway, done = asyncio.Event(), asyncio.Event()

    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        await into_next_window()
        for trade_id in range(1, 21):  # over ~200 ms, well inside the 500 ms window
            await ws.send(binance_trade(trade_id))
            await asyncio.sleep(0.01)
            if trade_id == 10:
                halfway.set()
        await done.wait()
        await ws.wait_closed()

    sink = BatchCountingSink()
    async with open_connection(handler, sink) as (live, conn):
        try:
            await halfway.wait()
            assert conn._ws is not None
            reading = conn._ws.transport.is_reading()  # mid-window: the socket is left alone
            await wait_until(lambda: 20 in sink.ids["BTCUSDT"], "the window's trades")
        finally:
            done.set()
    assert not reading
    assert sink.batches == [list(range(1, 21))]  # one burst, every trade once, in order
    assert live.stats.gathered >= 2  # the acknowledgement's window and the trades' window


async def test_bursts_past_half_the_receive_buffer_are_read_as_they_come() -> None:
    rcvbuf: list[int] = []
    seen = [asyncio.Event() for _ in range(3)]
    frame = binance_trade(1)

    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        await wait_until(lambda: bool(rcvbuf), "the client's receive buffer set")
        big = 3 * rcvbuf[0] // (4 * len(frame)) + 1  # three quarters of the buffer
        next_id = 1
        for window, count in enumerate((big, 1, 1)):  # big, then small twice
            await into_next_window()
            for trade_id in range(next_id, next_id + count):
                await ws.send(binance_trade(trade_id))
            next_id += count
            await seen[window].wait()
        await ws.wait_closed()

    sink = BatchCountingSink()
    async with open_connection(handler, sink) as (live, conn):
        assert conn._ws is not None
        sock = conn._ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32_768)  # fixed, not tuned
        rcvbuf.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        gathered = []
        for window in range(3):
            total = len(sink.batches)
            await wait_until(lambda total=total: len(sink.batches) > total, "a burst")
            gathered.append(live.stats.gathered)
            seen[window].set()
    big = 3 * rcvbuf[0] // (4 * len(frame)) + 1
    assert [len(b) for b in sink.batches] == [big, 1, 1]
    assert [i for b in sink.batches for i in b] == list(range(1, big + 3))
    # the big burst was gathered (the one before it was small); the next was read as it
    # came; after a small burst, gathering again
    assert gathered[1] == gathered[0]
    assert gathered[2] == gathered[1] + 1


class HoldingSink(BatchCountingSink):
    """Holds the first batch that may be held (backpressure) until the test ends."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        trades = any(frame.decoded.trades for frame in batch.frames())
        if backpressure and trades and not self.holding.is_set():
            self.holding.set()
            await asyncio.Event().wait()  # until the close cancels the reader
        await super().on_batch(batch, backpressure=backpressure)


async def test_frames_waiting_to_be_taken_when_the_connection_closes_are_handed_on() -> None:
    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        await ws.send(binance_trade(1))
        await sink.holding.wait()  # the reader is stuck handing trade 1 on
        for trade_id in range(2, 6):
            await ws.send(binance_trade(trade_id))
        await ws.wait_closed()

    sink = HoldingSink()
    async with open_connection(handler, sink) as (_, conn):
        assert conn._ws is not None
        ws = conn._ws
        await wait_until(lambda: ws.waiting == 4, "trades 2-5 waiting in the client")
        await conn.close("test over")
    assert sink.ids["BTCUSDT"] == [2, 3, 4, 5]  # trade 1 went with the cancelled hand-on


@pytest.mark.parametrize(
    ("align_to", "period"),
    [(None, BURST_SECONDS), (0.25, 0.25), (0.1, 0.1), (1.0, 0.25), (0.3, 0.15)],
)
def test_the_burst_period_divides_what_it_lines_up_with(align_to, period) -> None:
    assert burst_period(align_to) == pytest.approx(period)
    if align_to is not None:
        assert align_to / burst_period(align_to) == pytest.approx(round(align_to / period))


def test_windows_end_on_the_multiples_of_the_period() -> None:
    assert window_end(100.0, 0.25) == 100.25  # a frame on a boundary opens the next window
    assert window_end(100.1, 0.25) == 100.25
    assert window_end(100.2499, 0.25) == 100.25


def test_the_feed_publishes_just_after_the_windows_close() -> None:
    clock = [1_000.0]
    feed = Feed(Tracker(DiscrepancyConfig(coalesce_ms=250)), clock=lambda: clock[0])
    for now in (1_000.0, 1_000.01, 1_000.1, 1_000.2499, 1_000.25, 1_000.26, 1_000.274):
        clock[0] = now
        wait = feed._until_next_publish(0.25)
        assert 0.0 < wait <= 0.25
        # publishing lands PUBLISH_LAG of an interval past a multiple of it
        assert (now + wait) % 0.25 == pytest.approx(PUBLISH_LAG * 0.25, abs=1e-6)
