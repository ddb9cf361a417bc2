"""``first_id_since``: the REST search for the first trade a venue holds at or after a time,
against the simulator over real HTTP, each answer computed from the simulator's ground truth.

The simulator starts with ``HISTORY_S`` seconds of tape behind it (REST history only), of which
REST serves the newest ``HELD`` trades; the walk-backs below cross several 1,000-trade pages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from schemahub.config import VenueConfig
from schemahub.sim import SimConfig, Simulator
from schemahub.sim.markets import market
from schemahub.venues import history_client
from schemahub.venues.rest import VenueHistory

VENUES = ["binance", "coinbase", "kraken"]
RATE = 300.0  # trades a second of the traded symbol: ~14 % of them share a millisecond
HISTORY_S = 20.0
HELD = 4_000  # REST serves only this many newest trades (of ~6,000 generated)
FAST = 50.0  # requests a second, on both sides (the venues' real limits would make this slow)


@dataclass
class Venue:
    """A paused simulator's venue: its client and the ground truth of its two symbols."""

    sim: Simulator
    client: VenueHistory
    symbol: str  # trades at RATE
    quiet: str  # never trades
    tape: list[tuple[int, float]]  # (trade id, venue time in epoch seconds), ascending

    def read_tape(self) -> None:
        """Take the simulator's ground truth of ``symbol`` as it is now."""
        rows = self.sim.ground_truth().to_pylist()
        venue = self.client.venue
        self.tape = sorted(
            (r["trade_id"], r["trade_ts"].timestamp())
            for r in rows
            if r["exchange"] == venue and r["symbol"] == self.symbol
        )

    @property
    def newest(self) -> tuple[int, float]:
        return self.tape[-1]

    def held(self) -> list[tuple[int, float]]:
        """The part of the tape REST still serves."""
        return self.tape[-HELD:]

    def expected(self, since: float) -> int:
        """The first id at or after ``since`` among the held trades (newest + 1 if none)."""
        return next((tid for tid, at in self.held() if at >= since), self.newest[0] + 1)


@pytest.fixture(params=VENUES)
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    name = request.param
    quiet = market(name, "ETH").symbol
    config = SimConfig(
        seed=5,
        symbols=("BTC", "ETH"),
        rate_per_stream=RATE,
        rates={quiet: 0.0},
        history_seconds=HISTORY_S,
        history_limit=HELD,
        coinbase_rest_rate=FAST,
        kraken_rest_rate=FAST,
        kraken_rest_burst=FAST,
    )
    async with Simulator(config) as sim:
        sim.pause()  # a still tape: the ground truth is what REST serves
        urls = VenueConfig(
            ws_url=sim.ws_url(name), rest_url=sim.rest_url(name), rest_requests_per_second=FAST
        )
        async with history_client(name, urls) as client:
            venue = Venue(sim, client, market(name, "BTC").symbol, quiet, [])
            venue.read_tape()
            yield venue


def shared_millisecond(held: list[tuple[int, float]], start: int) -> int:
    """The position, from ``start`` on, of the first of two trades sharing a millisecond (the
    boundary a time search most easily gets wrong)."""
    return next(
        i
        for i in range(max(start, 1), len(held) - 1)
        if held[i][1] == held[i + 1][1] and held[i - 1][1] < held[i][1]
    )


@pytest.mark.parametrize("offset", [0.0, 0.0005], ids=["at-a-trade", "between-trades"])
async def test_a_time_inside_the_tape_gives_the_first_trade_at_or_after_it(venue, offset):
    held = venue.held()
    # Several boundaries: whether a float time rounds to just below or just above its
    # millisecond in nanoseconds varies from one to the next.
    for start in range(1_000, 1_600, 150):
        at = shared_millisecond(held, start)
        since = held[at][1] + offset
        assert sum(1 for _, t in held if t >= since) > 2 * venue.client.page_limit  # paging
        found = await venue.client.first_id_since(venue.symbol, since)
        assert found == venue.expected(since)
        if offset == 0.0:
            assert found == held[at][0]  # the first of the trades at that millisecond
        else:
            assert held[found - held[0][0] - 1][1] < since <= held[found - held[0][0]][1]


async def test_a_time_after_the_newest_trade_gives_newest_plus_one(venue):
    newest_id, newest_at = venue.newest
    for since in (newest_at + 0.001, newest_at + 60.0):
        assert await venue.client.first_id_since(venue.symbol, since) == newest_id + 1


async def test_a_time_before_the_oldest_held_trade_gives_the_oldest_held_id(venue):
    oldest_held = venue.held()[0][0]
    assert venue.tape[0][0] < oldest_held  # the venue really pruned its history
    since = venue.tape[0][1] - 1.0
    assert await venue.client.first_id_since(venue.symbol, since) == oldest_held


async def test_a_symbol_without_trades_gives_none(venue):
    assert await venue.client.first_id_since(venue.quiet, venue.newest[1] - 5.0) is None


async def test_while_the_tape_runs_the_search_finds_the_first_trade_at_or_after_the_time(venue):
    venue.sim.resume()  # trades keep arriving during the search, as when the daemon asks
    await asyncio.sleep(1.0)
    since = time.time() - 0.5  # the simulator stamps trades with this wall clock
    found = await venue.client.first_id_since(venue.symbol, since)
    venue.sim.pause()
    venue.read_tape()
    assert venue.tape[0][1] < since  # a time inside the tape, not past its start
    assert found == next(tid for tid, at in venue.tape if at >= since)
