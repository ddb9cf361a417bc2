"""A tail probe counts as done only once the venue answered: whoever waits for every stream
to be probed (a rolling stop, the test harness's settle) must find the gaps it revealed."""

from __future__ import annotations

import asyncio

from schemahub.batching import BufferSet, RawBuffer
from schemahub.config import VenueConfig
from schemahub.daemon.gapfill import GapFiller
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import kraken
from schemahub.sequencing import Sequencer, StreamKey, StreamState
from schemahub.sim import SimConfig, Simulator
from schemahub.venues import history_client


async def test_a_probe_waiting_for_its_answer_has_not_probed_the_stream():
    async with Simulator(SimConfig(seed=5, symbols=("BTC",), rate_per_stream=50)) as sim:
        await asyncio.sleep(1.0)
        sim.pause()
        (symbol,) = sim.symbols("kraken")
        # one request every 2 s: after ours, the filler's probe waits in the limiter
        venue = VenueConfig(
            ws_url=sim.ws_url("kraken"),
            rest_url=sim.rest_url("kraken"),
            rest_requests_per_second=0.5,
        )
        async with history_client("kraken", venue) as client:
            newest = await client.latest_trade_id(symbol)
            assert newest is not None and newest > 10
            key = StreamKey("kraken", symbol)
            # the tail (newest-9..newest) was missed live; only a probe can notice it
            sequencer = Sequencer({key: StreamState(newest - 10)})
            buffers = BufferSet({kraken.RAW_TABLE: RawBuffer(kraken.NATIVE_SCHEMA)}, 10**6)
            ingest = Ingest(sequencer, buffers, DaemonMetrics.create(), flush_rows=10**6)
            filler = GapFiller(ingest, {"kraken": client}, probe_quiet_seconds=0.0)
            worker = asyncio.create_task(filler.run_venue("kraken"))
            try:
                while filler.probed_at(*key) is None:
                    await asyncio.sleep(0.01)
                    assert not worker.done(), worker
                state = sequencer.state(*key)
            finally:
                worker.cancel()
    # probed means answered: the missed tail is known (open, or already filled)
    assert state.high_water == newest, state
