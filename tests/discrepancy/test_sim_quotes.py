"""The simulator's top-of-book frames: each venue's own shape, consistent with its trades."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from schemahub.decode import decoder_for
from schemahub.sim import SimConfig, Simulator
from schemahub.sim.markets import market
from schemahub.venues import ws_venue

VENUES = ("binance", "coinbase", "kraken")


async def _quotes(sim: Simulator, venue: str, seconds: float) -> list:
    """Subscribe every symbol's trades and quotes as the daemon would; decode what comes."""
    protocol = ws_venue(venue)
    protocol.quote_symbols = frozenset(sim.symbols(venue))
    url = protocol.connect_url(sim.ws_url(venue), sim.symbols(venue))
    quotes = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for message in protocol.subscribe_messages(sim.symbols(venue), 1):
            await ws.send_str(message.text)
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until:
            with contextlib.suppress(TimeoutError):
                frame = await ws.receive(timeout=0.2)
                decoded = decoder_for(venue).decode_frame(frame.data)
                assert not decoded.rejects, frame.data
                quotes.extend(decoded.quotes)
    return quotes


async def test_every_venue_quotes_the_book_its_trades_printed_against():
    async with Simulator(SimConfig(seed=61, rate_per_stream=20)) as sim:
        found = {venue: await _quotes(sim, venue, 1.5) for venue in VENUES}
        truth = sim.ground_truth().to_pylist()
    for venue, quotes in found.items():
        assert len(quotes) > 10, venue
        prices = {(r["symbol"], r["side"], r["price"]) for r in truth if r["exchange"] == venue}
        for quote in quotes:
            tick = market(venue, quote.symbol.replace("USDT", "").split("-")[0].split("/")[0])
            assert round(quote.ask - quote.bid, 8) == tick.tick_units / 1e8, (venue, quote)
            # a taker bought at this ask or sold at this bid
            assert (quote.symbol, "BUY", quote.ask) in prices or (
                quote.symbol,
                "SELL",
                quote.bid,
            ) in prices, (venue, quote)
