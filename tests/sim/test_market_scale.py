"""The simulator at market scale: thousands of symbols a venue with a skewed activity."""

from __future__ import annotations

import asyncio

import pyarrow.compute as pc
import pytest

from schemahub.sim import SimConfig, Simulator
from schemahub.sim.markets import skewed_rates


def test_skewed_rates_put_most_trades_on_a_few_symbols():
    bases = [f"T{i:04d}" for i in range(2000)]
    rates = skewed_rates(bases, 10_000.0)
    binance = sorted((r for s, r in rates.items() if s.endswith("USDT")), reverse=True)
    assert len(rates) == 3 * 2000
    assert sum(binance) == pytest.approx(10_000.0)
    assert sum(binance[:20]) > 0.5 * sum(binance)  # 1 % of the symbols, most of the trades
    assert binance[-1] > 0  # and every symbol trades now and then
    assert rates["T0000-USD"] == rates["T0000/USD"] == rates["T0000USDT"]


def test_skewed_rates_refuse_a_negative_rate():
    with pytest.raises(ValueError, match="must be >= 0"):
        skewed_rates(["BTC"], -1.0)


async def test_two_thousand_symbols_a_venue_are_listed_and_trade_skewed():
    bases = tuple(f"T{i:04d}" for i in range(2000))
    config = SimConfig(seed=4, symbols=bases, rates=skewed_rates(bases, 3_000.0))
    async with Simulator(config) as sim:
        assert all(len(sim.symbols(v)) == 2000 for v in ("binance", "coinbase", "kraken"))
        await asyncio.sleep(1.5)
        sim.pause()
        truth = sim.ground_truth()
    binance = truth.filter(pc.equal(truth["exchange"], "binance"))
    counts = binance.group_by("symbol").aggregate([("trade_id", "count")]).to_pylist()
    top = max(counts, key=lambda c: c["trade_id_count"])
    assert top["symbol"] == "T0000USDT"
    assert top["trade_id_count"] > 10 * (binance.num_rows / len(counts))


def test_a_burst_multiplies_every_streams_rate_and_ends():
    from schemahub.sim.markets import market
    from schemahub.sim.tape import Tape

    bases = [f"T{i:04d}" for i in range(200)]
    markets = [market("kraken", b) for b in bases]
    tape = Tape(markets, 3, 0, 0.0, {}, rates=skewed_rates(bases, 300.0))
    before = len(tape.advance_to(10_000))  # 10 s at 300 trades/s
    tape.set_rate_factor(5.0)
    during = len(tape.advance_to(20_000))
    tape.set_rate_factor(1.0)
    after = len(tape.advance_to(30_000))
    assert during > 3 * before and during > 3 * after
    # every trade is kept for the ground truth
    assert sum(len(s) for s in tape.streams()) == before + during + after
    with pytest.raises(ValueError, match="rate factor"):
        tape.set_rate_factor(0)
