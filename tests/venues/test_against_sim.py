"""Sessions and REST clients against the offline simulator, compared with its ground truth."""

from __future__ import annotations

import asyncio

import pytest

from schemahub.decode.base import FrameKind
from schemahub.sim.faults import FaultConfig
from schemahub.sim.server import SimConfig, Simulator
from schemahub.venues.events import Connected, Disconnected, SequenceGap
from tests.venues.helpers import KeepingSink, running, wait_until
from tests.venues.simtools import holes, sim_history, sim_session, truth_ids, truth_rows

VENUES = ("binance", "coinbase", "kraken")


@pytest.fixture
async def sim() -> Simulator:
    async with Simulator(SimConfig(port_base=0, rate_per_stream=300.0)) as simulator:
        yield simulator


def _received_match_truth(sim: Simulator, venue: str, symbol: str, received: list[int]) -> None:
    """Every id between the first and last received is there once or more, nothing else."""
    lo, hi = min(received), max(received)
    expected = [i for i in truth_ids(sim, venue, symbol) if lo <= i <= hi]
    assert sorted(set(received)) == expected, f"{venue} {symbol}: {holes(received)[:5]}"


@pytest.mark.parametrize("venue", VENUES)
async def test_subscriptions_are_acked_and_every_trade_flows(sim: Simulator, venue: str) -> None:
    sink = KeepingSink()
    live = sim_session(sim, venue, sink)
    symbols = sim.symbols(venue)
    async with running(live):
        await wait_until(
            lambda: all(len(sink.ids[s]) >= 50 for s in symbols), f"50 trades a {venue} stream"
        )
    (connected,) = sink.of(Connected)
    assert sorted(connected.streams) == sorted(symbols)
    assert live.stats.connects == 1 and live.stats.malformed == 0
    for symbol in symbols:
        _received_match_truth(sim, venue, symbol, sink.ids[symbol])
    assert not any(sim.stats().ws_limit_violations.values())


async def test_coinbase_exchange_feed_flows_too(sim: Simulator) -> None:
    sink = KeepingSink()
    live = sim_session(sim, "coinbase", sink, feed="exchange")
    async with running(live):
        await wait_until(lambda: len(sink.ids["BTC-USD"]) >= 30, "30 Exchange matches")
    _received_match_truth(sim, "coinbase", "BTC-USD", sink.ids["BTC-USD"])
    assert {r["feed"] for f in sink.frames for r in f.decoded.trades} == {"exchange"}


@pytest.mark.slow
async def test_two_thousand_binance_streams_take_two_connections_and_rotation_loses_nothing() -> (
    None
):
    extra = tuple(f"X{i:04d}" for i in range(1998))
    quiet = {f"{base}USDT": 0.0 for base in extra}
    config = SimConfig(
        port_base=0,
        rate_per_stream=100.0,
        extra_symbols={"binance": extra},
        rates=quiet,
        max_connection_age_s=6.0,  # the venue's cut, shortened; we rotate well before
    )
    async with Simulator(config) as sim:
        assert len(sim.symbols("binance")) == 2000
        sink = KeepingSink()
        live = sim_session(sim, "binance", sink, max_connection_age=2.0, ack_timeout=10.0)
        assert [len(slot) for slot in live.slots] == [1000, 1000]
        async with running(live):
            await wait_until(lambda: live.stats.rotations >= 4, "two rotations a connection")
            await wait_until(lambda: len(live.live_connections()) == 2, "rotations settled")
        stats = sim.stats()
    assert not any(stats.ws_limit_violations.values()), stats.ws_limit_violations
    assert not stats.disconnects.get("binance")
    rotated = [d for d in sink.of(Disconnected) if d.planned]
    assert len(rotated) >= 4 and {len(d.streams) for d in rotated} == {1000}
    for symbol in ("BTCUSDT", "ETHUSDT"):
        _received_match_truth(sim, "binance", symbol, sink.ids[symbol])
        assert len(sink.ids[symbol]) >= 300


async def test_disconnect_windows_cover_every_trade_missed(tmp_path) -> None:
    faults = FaultConfig(disconnect_probability=0.5, disconnect_abrupt_share=0.5)
    config = SimConfig(port_base=0, rate_per_stream=100.0, faults=faults)
    async with Simulator(config) as sim:
        sink = KeepingSink()
        live = sim_session(sim, "binance", sink)
        async with running(live):
            await wait_until(lambda: len(sink.of(Disconnected)) >= 3, "three disconnects")
            await wait_until(lambda: len(sink.of(Connected)) >= 4, "a fourth connection")
            await asyncio.sleep(0.3)
        truth = truth_rows(sim, "binance", "BTCUSDT")
    assert live.stats.reconnects >= 3
    connects = [c.at for c in sink.of(Connected)]
    windows = [
        (d.last_frame_at, min((c for c in connects if c > d.at), default=d.at))
        for d in sink.of(Disconnected)
    ]
    slack = 1.0  # trade time (venue clock) vs receive time (ours), on a loaded machine
    missed = [i for lo, hi in holes(sink.ids["BTCUSDT"]) for i in range(lo, hi + 1)]
    assert missed, "the disconnects should have cost some trades"
    for trade_id in missed:
        at = truth[trade_id]["trade_ts"].timestamp()
        assert any(lo - slack <= at <= hi + slack for lo, hi in windows), trade_id


async def test_coinbase_sequence_jumps_are_reported_for_dropped_frames() -> None:
    faults = FaultConfig(drop_run_probability=0.02, drop_run_length=(1, 5))
    config = SimConfig(port_base=0, rate_per_stream=100.0, faults=faults)
    async with Simulator(config) as sim:
        sink = KeepingSink()
        live = sim_session(sim, "coinbase", sink)
        async with running(live):
            await wait_until(lambda: len(sink.of(SequenceGap)) >= 3, "three sequence gaps")
            await wait_until(lambda: len(sink.ids["BTC-USD"]) >= 200, "200 trades")
        dropped = {
            i
            for lo, hi in sim.stats().dropped_runs.get("coinbase:BTC-USD", [])
            for i in range(lo, hi + 1)
        }
    received = sink.ids["BTC-USD"]
    expected = {
        i for i in truth_ids(sim, "coinbase", "BTC-USD") if min(received) <= i <= max(received)
    }
    assert set(received) == expected - dropped
    assert all(g.got > g.expected for g in sink.of(SequenceGap))
    assert live.stats.sequence_gaps == len(sink.of(SequenceGap))


@pytest.mark.parametrize("venue", VENUES)
async def test_rest_history_fetches_exactly_the_requested_ids(sim: Simulator, venue: str) -> None:
    symbol = sim.symbols(venue)[0]
    await wait_until(lambda: len(truth_ids(sim, venue, symbol)) >= 1060, "1,060 trades of history")
    ids = truth_ids(sim, venue, symbol)
    first, last = ids[5], ids[1050]
    truth = truth_rows(sim, venue, symbol)
    got: list[int] = []
    async with sim_history(sim, venue) as client:
        async for page in client.fetch_trades(symbol, first, last):
            assert page.kind is FrameKind.TRADES and not page.rejects
            got += [int(r["trade_id"]) for r in page.trades]
            for record in page.trades[:3]:
                assert float(record["price"]) == pytest.approx(
                    truth[int(record["trade_id"])]["price"]
                )
    assert sorted(got) == list(range(first, last + 1))
    assert len(got) == len(set(got))
    assert not sim.stats().rest_rate_limited.get(venue)


async def test_kraken_uses_a_time_hint_to_find_old_ids_cheaply(sim: Simulator) -> None:
    await wait_until(lambda: len(truth_ids(sim, "kraken", "ETH/USD")) >= 200, "200 trades")
    truth = truth_rows(sim, "kraken", "ETH/USD")
    ids = sorted(truth)
    first, last = ids[20], ids[60]
    hint = truth[ids[19]]["trade_ts"].timestamp()
    async with sim_history(sim, "kraken") as client:
        await client.catalogue()
        before = client.client.requests
        got = [
            int(r["trade_id"])
            async for p in client.fetch_trades("ETH/USD", first, last, since_hint=hint)
            for r in p.trades
        ]
        assert client.client.requests - before == 1
    assert got == list(range(first, last + 1))
