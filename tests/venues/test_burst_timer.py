"""The read loop keeps one timer per burst, not one per frame: a burst that never fills is still
handed on by its timer while the venue stays silent, and the next frame starts a new burst."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection

from tests.venues.fakews import FakeVenue, ack_binance, binance_trade, fake_venue, session
from tests.venues.helpers import BatchCountingSink, running, wait_until


async def test_a_burst_that_never_fills_is_handed_on_while_the_venue_is_silent() -> None:
    handed_on = asyncio.Event()

    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        for trade_id in (1, 2, 3):
            await ws.send(binance_trade(trade_id))
        await handed_on.wait()  # silent until the client has the first burst
        await ws.send(binance_trade(4))
        await ws.wait_closed()

    sink = BatchCountingSink()
    async with fake_venue(handler) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink, silence_timeout=30.0)
        async with running(live):
            await wait_until(lambda: 3 in sink.ids["BTCUSDT"], "the first burst, unfilled")
            first = [b for b in sink.batches if b]
            handed_on.set()
            await wait_until(lambda: 4 in sink.ids["BTCUSDT"], "the frame after the silence")
    assert sink.ids["BTCUSDT"] == [1, 2, 3, 4]
    assert [i for b in first for i in b] == [1, 2, 3]  # all of it before the venue spoke again
    assert [b for b in sink.batches if b][-1] == [4]  # a burst of its own
