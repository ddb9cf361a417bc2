"""The one-request "newest trade id" probe of each venue's REST client, against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from schemahub.config import VenueConfig
from schemahub.sim import SimConfig, Simulator
from schemahub.venues import history_client


@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken"])
async def test_latest_trade_id_is_the_newest_id_in_the_venue_history(venue):
    async with Simulator(SimConfig(seed=21, rate_per_stream=50)) as sim:
        while sim.ground_truth().num_rows < 60:  # let the tape run a little
            await asyncio.sleep(0.05)
        sim.pause()
        symbol = sim.symbols(venue)[0]
        config = VenueConfig(ws_url=sim.ws_url(venue), rest_url=sim.rest_url(venue))
        truth = sim.ground_truth()
        ids = [
            t["trade_id"]
            for t in truth.to_pylist()
            if t["exchange"] == venue and t["symbol"] == symbol
        ]
        async with history_client(venue, config) as client:
            latest = await client.latest_trade_id(symbol)
    assert ids, "the simulator generated nothing"
    assert latest == max(ids)
