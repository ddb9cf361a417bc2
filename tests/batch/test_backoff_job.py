"""A backfill whose client is set faster than the venue allows: the venue refuses with 429,
the client backs off and retries, and the walk still lands every trade once."""

from __future__ import annotations

from pathlib import Path

from schemahub.config import LakeConfig
from schemahub.jobs.backfill import BackfillOptions, run_backfill
from schemahub.jobs.progress import Progress
from schemahub.jobs.sinks import LakeSink
from schemahub.lake import Lake
from schemahub.sim import SimConfig, Simulator
from schemahub.venues.coinbase import CoinbaseHistory

REPO = Path(__file__).resolve().parents[2]


async def test_refusals_are_backed_off_and_nothing_is_lost(tmp_path):
    config = SimConfig(
        symbols=("ETH",), rate_per_stream=20.0, history_seconds=30.0, coinbase_rest_rate=4.0
    )
    async with Simulator(config) as sim:
        sim.pause()
        lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
        sink = LakeSink(lake, "coinbase", "backfill", REPO / "config" / "mappings")
        options = BackfillOptions("coinbase", ["ETH-USD"], chunk_size=40, resume=True)
        async with CoinbaseHistory(sim.rest_url("coinbase"), 50.0) as history:
            report = await run_backfill(history, sink, options, Progress("test"))
        sink.finish()
        refused = sim.stats().rest_rate_limited["coinbase"]
        stream = sim.tape.stream("coinbase", "ETH-USD")
    assert refused > 0 and report.retries >= refused
    unified = lake.table("trades_unified").scan().to_arrow()
    assert sorted(unified["trade_id"].to_pylist()) == list(
        range(stream.first_id, stream.last_id + 1)
    )
