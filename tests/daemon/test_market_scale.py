"""The whole market in one daemon (issue 14): hundreds and thousands of streams per venue.

300 symbols a venue used to crash the daemon within a minute (ArrowInvalid: the unified
dictionary requires a larger index type). Each test runs the daemon against the simulator
listing that many symbols on every venue, subscribed to all of them, and compares
trades_unified with the simulator's ground truth row by row.
"""

from __future__ import annotations

import asyncio

import pytest

from schemahub.daemon.service import Daemon
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import (
    assert_same_trades,
    daemon_config,
    expected_rows,
    running,
    unified,
)

pytestmark = pytest.mark.slow


async def run_market(
    tmp_path, symbols: int, rate: float, seconds: float, flush_seconds: float = 2.0
) -> None:
    """Every listed symbol of every venue, ``rate`` trades/s each, for ``seconds``; then the
    table must equal the ground truth and no error of ours may have happened."""
    bases = tuple(f"T{i:04d}" for i in range(symbols))
    async with Simulator(SimConfig(seed=14, symbols=bases, rate_per_stream=rate)) as sim:
        config = daemon_config(
            sim, tmp_path / "warehouse", flush={"interval_seconds": flush_seconds}
        )
        assert all(len(v["symbols"]) == symbols for v in config.model_dump()["venues"].values())
        async with running(config) as daemon:
            await asyncio.sleep(seconds)
            sim.pause()
            table = await committed_all(daemon, sim, config)
            errors = dict(daemon.metrics.internal_errors.values)
            stats = {name: s.stats for name, s in daemon.sessions.items()}
        truth = sim.ground_truth()
    assert not errors
    assert all(s.internal_errors == 0 and s.subscriptions_rejected == 0 for s in stats.values())
    streams = set(zip(table["exchange"].to_pylist(), table["symbol"].to_pylist(), strict=True))
    assert len(streams) > 2 * symbols  # most streams traded in the window
    assert_same_trades(table, truth)


async def committed_all(daemon: Daemon, sim: Simulator, config, timeout: float = 60.0):
    """trades_unified once it holds every trade owed (bounded wait; the comparison after it
    says what is missing). A clean feed has no gaps, so nothing waits on REST probes, which
    for thousands of streams would take Kraken's 1 request/s far too long."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await asyncio.sleep(1.0)
        await daemon.flush()
        table = unified(config.lake)
        owed = expected_rows(sim.ground_truth(), table).num_rows
        quiet = not daemon.sequencer.open_gaps() and daemon.buffers.total_rows == 0
        if (quiet and table.num_rows >= owed) or loop.time() > deadline:
            return table


async def test_three_hundred_symbols_a_venue_land_exactly(tmp_path):
    # a flush then holds a few thousand trades over ~300 symbols, in bursts of a few dozen
    await run_market(tmp_path, symbols=300, rate=2.0, seconds=8)


async def test_every_listed_symbol_of_a_thousand_a_venue_lands_exactly(tmp_path):
    await run_market(tmp_path, symbols=1000, rate=0.5, seconds=6)
