"""The REST paging the batch commands walk with, on every venue, against the simulator's
history: pages just older than a cursor, ranges newer than a watermark, the oldest held id."""

from __future__ import annotations

import pytest

from schemahub.sim import Simulator
from schemahub.venues.binance import BinanceHistory
from schemahub.venues.coinbase import CoinbaseHistory
from schemahub.venues.history import trade_id
from schemahub.venues.kraken import KrakenHistory
from tests.batch.conftest import fast_config

CLIENTS = {"coinbase": CoinbaseHistory, "binance": BinanceHistory, "kraken": KrakenHistory}
SYMBOLS = {"coinbase": "ETH-USD", "binance": "ETHUSDT", "kraken": "ETH/USD"}


@pytest.fixture
async def deep_sim():
    config = fast_config(symbols=("ETH",), rate_per_stream=40.0, history_seconds=40.0, seed=5)
    async with Simulator(config) as sim:
        sim.pause()
        yield sim


@pytest.mark.parametrize("venue", ["coinbase", "binance", "kraken"])
async def test_walking_down_and_up_covers_the_history_once(deep_sim, venue):
    stream = deep_sim.tape.stream(venue, SYMBOLS[venue])
    truth = list(range(stream.first_id, stream.last_id + 1))
    async with CLIENTS[venue](deep_sim.rest_url(venue), 400.0) as history:
        symbol = SYMBOLS[venue]
        newest = await history.latest_trade_id(symbol)
        assert newest == truth[-1]
        down, cursor = [], newest + 1
        while page := await history.older_trades(symbol, cursor, 170):
            ids = [trade_id(t) for t in page]
            assert ids == sorted(ids, reverse=True) and max(ids) < cursor and len(ids) <= 170
            down.extend(ids)
            cursor = min(ids)
        assert sorted(down) == truth
        up = []
        for low in range(truth[0] - 1, newest, 230):
            up.extend(
                trade_id(t) for t in await history.newer_trades(symbol, low, min(low + 230, newest))
            )
        assert up == truth
        # A range that starts below the oldest trade held keeps what is held of it.
        straddling = await history.newer_trades(symbol, truth[0] - 60, truth[0] + 39)
        assert [trade_id(t) for t in straddling] == truth[:40]
        if history.oldest_probe_requests is not None:
            assert await history.oldest_trade_id(symbol, newest) == truth[0]
