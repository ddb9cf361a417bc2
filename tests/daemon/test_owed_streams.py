"""A stream is owed from its first subscription, even when the daemon saw none of its first
trades: its connection dropped before delivering one, or the daemon that subscribed stopped
before the stream traded. The simulator's ground truth says what is owed (the first trade
published after the stream's first subscription); the daemon must hold every trade from there.

The simulator's feeds are muted meanwhile: trades go on, none reaches a websocket. Coinbase and
Kraken still send their snapshot of recent trades at subscription, which starts those streams;
Binance sends none, so its streams stay without state: the ones these tests are about.
"""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.offsets import committed_offsets
from schemahub.sim import SimConfig, Simulator
from schemahub.sim.server import VENUES
from tests.daemon.harness import (
    all_connected,
    all_streaming,
    assert_same_trades,
    daemon_config,
    pause_and_settle,
    running,
    unified,
    wait_until,
)
from tests.gaps.cli import schemahub, write_config

pytestmark = pytest.mark.slow

SIM = SimConfig(seed=77, symbols=("BTC", "ETH"), rate_per_stream=20)


def every_stream(sim: Simulator) -> list[tuple[str, str]]:
    return [(venue, symbol) for venue in VENUES for symbol in sim.symbols(venue)]


def traded_since_subscription(sim: Simulator, at_least: int) -> bool:
    """Whether every stream was subscribed and has published ``at_least`` trades since."""
    stats, truth = sim.stats(), sim.ground_truth()
    first = stats.first_live_id
    newest: dict[tuple[str, str], int] = {}
    for exchange, symbol, trade_id in zip(
        *truth.select(["exchange", "symbol", "trade_id"]).to_pydict().values(), strict=True
    ):
        newest[(exchange, symbol)] = max(trade_id, newest.get((exchange, symbol), trade_id))
    return all(
        f"{v}:{s}" in first and newest.get((v, s), -1) - first[f"{v}:{s}"] + 1 >= at_least
        for v, s in every_stream(sim)
    )


async def binance_streams_fresh(daemon, sim: Simulator) -> set[tuple[str, str]]:
    """Once the other venues' snapshots started their streams: the Binance streams, which must
    still be without state (nothing delivered)."""
    binance = {key for key in every_stream(sim) if key[0] == "binance"}
    others = set(every_stream(sim)) - binance
    await wait_until(lambda: others <= set(daemon.sequencer.streams()), "snapshots taken")
    assert not binance & set(daemon.sequencer.streams())
    return binance


async def test_a_stream_whose_first_connection_drops_before_its_first_trade(tmp_path):
    async with Simulator(SIM) as sim:
        for venue in VENUES:
            sim.mute(venue)  # trades go on, none reaches a websocket
        config = daemon_config(sim, tmp_path / "warehouse")
        async with running(config) as daemon:
            await wait_until(lambda: all_connected(daemon), "every venue connected")
            await wait_until(lambda: traded_since_subscription(sim, 20), "trades while muted")
            fresh = await binance_streams_fresh(daemon, sim)
            for venue in VENUES:
                assert sim.drop_connections(venue) > 0
                sim.unmute(venue)
            await wait_until(lambda: all_streaming(daemon, sim), "every stream took a trade")
            table, _ = await pause_and_settle(daemon, sim)
            anchors = daemon.sequencer.stats.anchors
    assert anchors == len(fresh)
    assert_same_trades(table, sim.ground_truth())


async def owed_when_stopped(sim: Simulator, config, tmp_path) -> set[tuple[str, str]]:
    """A daemon subscribes with the feeds muted and stops once the Binance streams, still
    without a trade, are committed as owed (``gaps`` lists them so); those streams. The feeds
    are unmuted and have traded for a while when this returns."""
    for venue in VENUES:
        sim.mute(venue)
    lake = Lake(config.lake)
    async with running(config) as first:
        await wait_until(lambda: all_connected(first), "every venue connected")
        await wait_until(lambda: traded_since_subscription(sim, 1), "subscribed")
        fresh = await binance_streams_fresh(first, sim)

        def owed_committed() -> bool:
            states = committed_offsets(lake.table(UNIFIED_TABLE))
            return all(key in states and states[key].owed_since for key in fresh)

        await wait_until(owed_committed, "the owed streams committed")
    # between daemons, the operator sees them owed
    listed = await schemahub(write_config(config, tmp_path), "gaps", "--format", "json")
    assert listed.code == 0, listed.err
    streams = json.loads(listed.out)["streams"]
    assert {(s["venue"], s["symbol"]) for s in streams if s["owed_since"]} == fresh
    for venue in VENUES:
        sim.unmute(venue)
    await wait_until(lambda: traded_since_subscription(sim, 40), "trades between daemons")
    return fresh


async def test_a_stream_owed_when_its_daemon_stopped_is_anchored_by_the_next(tmp_path):
    async with Simulator(SIM) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        fresh = await owed_when_stopped(sim, config, tmp_path)
        async with running(config) as second:
            await wait_until(lambda: all_streaming(second, sim), "every stream took a trade")
            table, _ = await pause_and_settle(second, sim)
            anchors = second.sequencer.stats.anchors
    assert anchors == len(fresh)
    assert_same_trades(table, sim.ground_truth())
    states = committed_offsets(Lake(config.lake).table(UNIFIED_TABLE))
    assert all(states[key].owed_since is None for key in every_stream(sim))


@pytest.mark.parametrize("command", [("run", "ingest", "binance"), ("gap-fill",)])
async def test_a_stream_owed_when_its_daemon_stopped_is_fetched_by_the_batch_commands(
    tmp_path, command
):
    """No daemon after the stop: ``run ingest`` or ``gap-fill`` fetches what the owed streams
    traded since their subscription."""
    async with Simulator(SIM) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        fresh = await owed_when_stopped(sim, config, tmp_path)
        sim.pause()
        done = await schemahub(write_config(config, tmp_path), *command)
        truth = sim.ground_truth()
    assert done.code == 0, done.err
    binance = pc.equal(truth["exchange"], "binance")
    table = unified(config.lake)
    assert_same_trades(table.filter(pc.equal(table["exchange"], "binance")), truth.filter(binance))
    states = committed_offsets(Lake(config.lake).table(UNIFIED_TABLE))
    assert all(states[key].owed_since is None and states[key].high_water for key in fresh)
