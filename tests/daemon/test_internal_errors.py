"""An error of our own code on a burst is not the venue's failure (issue 14).

Before, an exception raised while buffering a burst ended the connection's reader, the session
called it "not retryable" and the daemon stopped. Here a real session reads the simulator's
Kraken feed into the real ingest, whose Kraken buffer was wired with another venue's columns
(a genuine bug of ours: every columnar append is refused). The session must keep reading; each
failed burst is logged with its traceback, counted, its frames quarantined with the reason, and
the trades the sequencer had admitted from it are open gaps again (for the REST gap filler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from schemahub.batching import BufferSet, RawBuffer
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import binance, kraken
from schemahub.sequencing import Sequencer
from schemahub.sim import SimConfig, Simulator
from schemahub.venues import open_session
from tests.venues.simtools import FAST_RETRY, venue_config


async def test_a_burst_our_code_cannot_take_is_quarantined_and_the_feed_goes_on(caplog):
    miswired = RawBuffer(binance.NATIVE_SCHEMA, name=kraken.RAW_TABLE)
    buffers = BufferSet({kraken.RAW_TABLE: miswired}, 10**6)
    metrics = DaemonMetrics.create()
    ingest = Ingest(Sequencer(), buffers, metrics, flush_rows=10**6)
    async with Simulator(SimConfig(seed=5, rate_per_stream=50)) as sim:
        config = venue_config(sim, "kraken")
        # as the daemon reads: bursts decoded in columns, no per-trade payload
        session = open_session("kraken", config, ingest, retry=FAST_RETRY, keep_payload=False)
        reader = asyncio.create_task(session.run())
        with caplog.at_level(logging.ERROR, logger="schemahub.daemon.ingest"):
            for _ in range(100):  # bounded: until a few bursts failed
                await asyncio.sleep(0.1)
                if metrics.internal_errors.values.get(("kraken", "ingest"), 0) >= 3:
                    break
            await asyncio.sleep(0.3)
            still_reading = not reader.done()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader

    assert still_reading, "the session ended on our own error"
    failed = metrics.internal_errors.values.get(("kraken", "ingest"), 0)
    assert failed >= 3
    assert session.stats.reconnects == 0  # nothing wrong with the connection
    records = [r for r in caplog.records if r.message.startswith("our code failed on a burst")]
    assert len(records) == failed and all(r.exc_info for r in records)

    quarantined = ingest.take_quarantine()
    assert quarantined and all("UsageError" in e.reason for e in quarantined)
    assert all(e.reason.startswith("burst not ingested, our code raised") for e in quarantined)
    frames = [orjson.loads(e.raw_payload) for e in quarantined]
    trades = [t for f in frames if f.get("channel") == "trade" for t in f["data"]]
    assert trades, "the failed bursts' trade frames are in the quarantine"

    # every trade of a quarantined frame is missing, and the sequencer knows it: each id lies
    # in an open gap of its stream, for the gap filler to fetch
    sequencer = ingest.sequencer
    for trade in trades:
        gaps = sequencer.gaps_for("kraken", trade["symbol"])
        tid = trade["trade_id"]
        assert any(g.first_missing_id <= tid <= g.last_missing_id for g in gaps), trade
    assert miswired.rows == 0
