"""The gap filler driven through its GapSource interface, against the simulator's REST: a probe
or an anchor that fails (REST down) is asked again after a backoff and the worker lives on."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.daemon.gapfill import GapFiller
from schemahub.decode.base import DecodedFrame
from schemahub.sequencing import Gap
from schemahub.sim import FaultConfig, SimConfig, Simulator
from schemahub.venues.backoff import RetryPolicy
from schemahub.venues.binance import BinanceHistory
from tests.daemon.harness import wait_until

FAST = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, max_attempts=2)


class ProbeOnlySource:
    """A GapSource with one stream whose connection dropped and no gaps: records what the
    filler asks for and reports."""

    def __init__(self, venue: str, symbol: str) -> None:
        self.probe_requests = [(venue, symbol)]
        self.re_requested: list[tuple[str, str]] = []
        self.latest: list[tuple[str, str, int]] = []
        self.owed: dict[tuple[str, str], float] = {}  # streams that want an anchor
        self.anchored: list[tuple[str, str, float, int | None]] = []

    def open_gaps(self) -> list[Gap]:
        return []

    def stream_symbols(self, venue: str) -> list[str]:
        return []

    def take_probe_request(self, venue: str) -> str | None:
        for key in self.probe_requests:
            if key[0] == venue:
                self.probe_requests.remove(key)
                return key[1]
        return None

    def request_probe(self, venue: str, symbol: str) -> None:
        self.re_requested.append((venue, symbol))
        self.probe_requests.append((venue, symbol))

    def next_anchor(self, venue: str) -> tuple[str, float] | None:
        owed = [(symbol, since) for (v, symbol), since in self.owed.items() if v == venue]
        return owed[0] if owed else None

    def anchor(self, venue: str, symbol: str, since: float, first_id: int | None) -> Gap | None:
        del self.owed[(venue, symbol)]
        self.anchored.append((venue, symbol, since, first_id))
        return None

    def last_live(self, venue: str, symbol: str) -> float | None:
        return None

    def expect_through(self, venue: str, symbol: str, latest_id: int) -> Gap | None:
        self.latest.append((venue, symbol, latest_id))
        return None

    def since_hint(self, venue: str, symbol: str) -> float | None:
        return None

    def accept_history(self, venue: str, page: DecodedFrame) -> int:
        return 0

    def mark_lost(self, gap: Gap, reason: str) -> int:
        return 0

    def settle_stream(self, venue: str, symbol: str) -> None:
        pass

    async def wait_for_room(self) -> None:
        pass


DOWN = FaultConfig(rest_down_seconds=3600.0, rest_down_venues=("binance",))


@contextlib.asynccontextmanager
async def binance_worker(sim: Simulator, source: ProbeOnlySource) -> AsyncIterator[GapFiller]:
    """A gap filler's Binance worker on ``source``, against the simulator, until the block
    ends; it must still be alive then."""
    client = BinanceHistory(sim.rest_url("binance"), retry=FAST)
    filler = GapFiller(source, {"binance": client}, poll_seconds=0.01, retry=FAST, rand=lambda: 1.0)
    worker = asyncio.create_task(filler.run_venue("binance"))
    try:
        yield filler
        assert not worker.done()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await client.close()


def rest_back(sim: Simulator) -> None:
    """The tape stops (so the truth stays put) and REST answers again."""
    sim.pause()
    sim.set_faults(FaultConfig())


def btc_trades(truth: pa.Table) -> pa.Table:
    mine = pc.and_(pc.equal(truth["exchange"], "binance"), pc.equal(truth["symbol"], "BTCUSDT"))
    return truth.filter(mine)


async def test_a_failed_probe_is_asked_again_and_answered_once_rest_is_back():
    async with Simulator(SimConfig(seed=51, rate_per_stream=50, faults=DOWN)) as sim:
        source = ProbeOnlySource("binance", "BTCUSDT")
        async with binance_worker(sim, source) as filler:
            await wait_until(lambda: len(source.re_requested) >= 3, "the probe asked again")
            assert filler.probed_at("binance", "BTCUSDT") is None  # never answered yet
            rest_back(sim)
            await wait_until(lambda: source.latest, "the probe answered")
        newest = pc.max(btc_trades(sim.ground_truth())["trade_id"]).as_py()
    assert source.latest[0] == ("binance", "BTCUSDT", newest)
    assert filler.probed_at("binance", "BTCUSDT") is not None
    assert sim.stats().rest_down_answers["binance"] >= 3 * FAST.max_attempts


async def test_an_anchor_that_fails_stays_wanted_and_is_answered_once_rest_is_back():
    async with Simulator(SimConfig(seed=52, rate_per_stream=50, faults=DOWN)) as sim:
        await wait_until(lambda: sim.ground_truth().num_rows > 200, "a tape to search")
        since = time.time() - 1.0
        source = ProbeOnlySource("binance", "BTCUSDT")
        source.probe_requests.clear()
        source.owed[("binance", "BTCUSDT")] = since
        refused = 3 * FAST.max_attempts
        async with binance_worker(sim, source):
            await wait_until(
                lambda: sim.stats().rest_down_answers.get("binance", 0) >= refused, "REST down"
            )
            assert not source.anchored
            rest_back(sim)
            await wait_until(lambda: source.anchored, "the anchor answered")
        stream = btc_trades(sim.ground_truth())
    micros = stream["trade_ts"].cast(pa.int64())
    after = stream.filter(pc.greater_equal(micros, math.ceil(since * 1_000_000)))
    assert source.anchored == [("binance", "BTCUSDT", since, pc.min(after["trade_id"]).as_py())]
