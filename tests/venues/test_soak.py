"""All faults on: the sessions stay up, and what they miss is exactly what REST gives back."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import datetime

import pytest

from schemahub.sim.faults import faults_from_names
from schemahub.sim.server import SimConfig, Simulator
from schemahub.venues.events import Disconnected, ReceivedFrame
from tests.venues.helpers import KeepingSink, running
from tests.venues.simtools import holes, sim_history, sim_session, truth_ids

VENUES = ("binance", "coinbase", "kraken")
# About a minute in CI; set SCHEMAHUB_SOAK_SECONDS=300 for the few-minute run.
SOAK_SECONDS = float(os.environ.get("SCHEMAHUB_SOAK_SECONDS", "45"))


class TimedSink(KeepingSink):
    """Also keeps each trade's time (epoch seconds), to give Kraken a search hint."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[tuple[str, int], float] = {}

    async def on_frame(self, frame: ReceivedFrame) -> None:
        await super().on_frame(frame)
        for record in frame.decoded.trades:
            stamp = record.get("timestamp")
            if isinstance(stamp, str):
                moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
                self.times[(record["symbol"], int(record["trade_id"]))] = moment


async def _fill(sim: Simulator, venue: str, sink: TimedSink) -> dict[str, set[int]]:
    """What REST returns for every hole the websocket left, stream by stream."""
    filled: dict[str, set[int]] = {}
    async with sim_history(sim, venue) as client:
        for symbol, ids in sink.ids.items():
            got: set[int] = set()
            for first, last in holes(ids):
                hint = sink.times.get((symbol, first - 1))
                async for page in client.fetch_trades(symbol, first, last, since_hint=hint):
                    got.update(int(r["trade_id"]) for r in page.trades)
            filled[symbol] = got
    return filled


@pytest.mark.slow
async def test_all_faults_on_sessions_survive_and_rest_fills_exactly_the_holes() -> None:
    # Every preset on; disconnects more often than the preset, so a short run still has some.
    faults = replace(faults_from_names(["all"]), disconnect_probability=0.05)
    config = SimConfig(port_base=0, rate_per_stream=20.0, faults=faults)
    async with Simulator(config) as sim:
        sinks = {venue: TimedSink() for venue in VENUES}
        sessions = {venue: sim_session(sim, venue, sinks[venue]) for venue in VENUES}
        async with (
            running(sessions["binance"]) as b,
            running(sessions["coinbase"]) as c,
            running(sessions["kraken"]) as k,
        ):
            await asyncio.sleep(SOAK_SECONDS)
            assert not any(task.done() for task in (b, c, k)), "a session ended"
        filled = dict(
            zip(
                VENUES,
                await asyncio.gather(*(_fill(sim, venue, sinks[venue]) for venue in VENUES)),
                strict=True,
            )
        )
        stats = sim.stats()

    assert sum(stats.malformed_sent.values()) > 0 and sum(stats.disconnects.values()) > 0
    for venue in VENUES:
        sink, live = sinks[venue], sessions[venue]
        assert len(sink.of(Disconnected)) >= stats.disconnects.get(venue, 0)
        for symbol, received in sink.ids.items():
            lo, hi = min(received), max(received)
            truth = {i for i in truth_ids(sim, venue, symbol) if lo <= i <= hi}
            got = set(received) | filled[venue][symbol]
            assert got == truth, f"{venue} {symbol}: missing {sorted(truth - got)[:10]}"
            assert not filled[venue][symbol] & set(received), "REST fetched more than the holes"
            dropped = {
                i
                for a, z in stats.dropped_runs.get(f"{venue}:{symbol}", [])
                for i in range(a, z + 1)
                if lo <= i <= hi
            }
            assert dropped <= got  # runs the websocket never carried came back
        assert live.stats.malformed > 0 or venue not in {
            k.split(":")[0] for k in stats.malformed_sent
        }
    assert not stats.rest_rate_limited, stats.rest_rate_limited
    assert not any(stats.ws_limit_violations.values()), stats.ws_limit_violations
