"""Subscribing a thousand streams a venue within the venues' documented limits (issue 14).

Binance: at most 1,024 streams a connection and 5 control messages a second. Coinbase Advanced
Trade: 8 connections and 8 unauthenticated messages a second per IP, counted over all
connections. A real session subscribes to 1,000 symbols of the simulator while recording what
it sends (the capture recorder), and the record is checked window by window.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from schemahub.sim import SimConfig, Simulator
from schemahub.venues import open_session
from schemahub.venues.recording import CaptureRecorder
from tests.venues.helpers import KeepingSink
from tests.venues.simtools import FAST_RETRY, venue_config

pytestmark = pytest.mark.slow

SYMBOLS = tuple(f"T{i:04d}" for i in range(1000))


async def subscribe_all(venue: str, folder) -> tuple[list[dict], int]:
    """Run a session over every listed symbol until fully subscribed (bounded); the recorded
    capture lines and the number of connections it used."""
    recorder = CaptureRecorder(folder, venue, 1 << 30)
    async with Simulator(SimConfig(seed=9, symbols=SYMBOLS, rate_per_stream=0.0)) as sim:
        config = venue_config(sim, venue, silence_timeout_seconds=30.0)
        session = open_session(
            venue, config, KeepingSink(), recorder=recorder, retry=FAST_RETRY, keep_payload=False
        )
        reader = asyncio.create_task(session.run())
        for _ in range(600):  # bounded: 60 s
            await asyncio.sleep(0.1)
            if session.subscribed() or reader.done():
                break
        done = session.subscribed()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    await asyncio.to_thread(recorder.close)
    assert done, "the session did not get every subscription answered"
    assert session.stats.subscriptions_rejected == 0 and session.stats.reconnects == 0
    lines = [orjson.loads(line) for path in folder.iterdir() for line in path.open("rb")]
    return lines, len(session.slots)


def most_in_one_second(times: list[float]) -> int:
    """The most events in any window of one second."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_binance_puts_a_thousand_streams_on_one_connection_paced(tmp_path):
    lines, connections = await subscribe_all("binance", tmp_path)
    sends = [line for line in lines if line["dir"] == "send"]
    asked = [p for line in sends for p in orjson.loads(line["data"]).get("params", [])]
    assert connections == 1  # 1,000 <= 1,024 streams a connection
    assert len(set(asked)) == 1000
    assert most_in_one_second([line["ts"] for line in sends]) <= 5


async def test_coinbase_spreads_a_thousand_products_within_its_per_ip_limits(tmp_path):
    lines, connections = await subscribe_all("coinbase", tmp_path)
    connects = [line["ts"] for line in lines if line["dir"] == "connect"]
    sends = [line for line in lines if line["dir"] == "send"]
    asked = [p for line in sends for p in orjson.loads(line["data"])["product_ids"]]
    assert connections == len(connects) == 10
    assert len(set(asked)) == 1000
    assert most_in_one_second(connects) <= 8
    assert most_in_one_second([line["ts"] for line in sends]) <= 8
