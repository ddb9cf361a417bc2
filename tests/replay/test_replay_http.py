"""`/replay` is bounded, through real concurrent HTTP requests on 127.0.0.1: beyond its
concurrency it answers 429 at once, and a replay over its time limit answers 503, stops at its
next checkpoint and only then gives its slot to the next request.

A replay is held in place by the service's checkpoint hook (it blocks on an event the test
sets), so which request finds the slot taken does not depend on timing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import pyarrow as pa
from aiohttp import web

from schemahub.config import Config
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.schemas import UNIFIED_SCHEMA
from schemahub.ops.http import bound_port, start_ops_server
from schemahub.replay.http import ReplayService, add_replay_routes

AT = datetime(2024, 2, 8, 15, 12, 4, tzinfo=UTC)
QUERY = {"pair": "BTC", "at": "2024-02-08T15:12:04Z", "window": "4s", "format": "json"}
MEMBERS = {"binance": "BTCUSDT", "coinbase": "BTC-USD", "kraken": "BTC/USD"}


def _lake_with_trades(folder) -> Config:
    """A warehouse whose trades_unified holds 40 BTC trades per venue around ``AT``."""
    config = Config.model_validate({"lake": {"warehouse": str(folder)}})
    lake = Lake(config.lake, config.s3)
    lake.init()
    rows = [
        {"exchange": venue, "symbol": symbol, "trade_id": i, "side": "BUY",
         "price": 42_000.0 + i + offset, "quantity": 0.01,
         "trade_ts": AT + timedelta(milliseconds=50 * i - 1_000), "ingest_ts": AT}
        for offset, (venue, symbol) in enumerate(MEMBERS.items())
        for i in range(40)
    ]  # fmt: skip
    lake.table(UNIFIED_TABLE).append(pa.Table.from_pylist(rows, schema=UNIFIED_SCHEMA))
    return config


class Gate:
    """A checkpoint hook that holds the first replay at its first checkpoint until opened."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls == 1:
            self.reached.set()
            self.opened.wait(60)  # a hang guard; the test opens it


@asynccontextmanager
async def _server(service: ReplayService) -> AsyncIterator[str]:
    app = web.Application()
    add_replay_routes(app, service)
    runner = await start_ops_server(app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{bound_port(runner)}/replay"
    finally:
        await runner.cleanup()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    async with http.get(url, params=QUERY) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_replays_beyond_the_limit_are_refused_with_429(tmp_path):
    gate = Gate()
    service = ReplayService(_lake_with_trades(tmp_path), concurrency=1, hook=gate)
    async with _server(service) as url, aiohttp.ClientSession() as http:
        first = asyncio.create_task(_get(http, url))
        assert await asyncio.to_thread(gate.reached.wait, 60)
        status, body = await _get(http, url)  # while the first one runs
        assert status == 429 and "too many replays" in body["error"]
        gate.opened.set()
        status, report = await first
        assert status == 200, report
        assert report["trades"] == {"BINANCE": 40, "COINBASE": 40, "KRAKEN": 40}
        status, report = await _get(http, url)  # the slot is free again
        assert status == 200 and report["trades"]["KRAKEN"] == 40


async def test_a_timed_out_replay_stops_and_frees_its_slot(tmp_path):
    gate = Gate()
    service = ReplayService(_lake_with_trades(tmp_path), concurrency=1, time_limit_s=0.2, hook=gate)
    async with _server(service) as url, aiohttp.ClientSession() as http:
        status, body = await _get(http, url)  # held at its first checkpoint past its time
        assert status == 503 and "longer than 0.2 s" in body["error"]
        status, body = await _get(http, url)  # its thread still runs, so still no slot
        assert status == 429, body
        gate.opened.set()
        await service.drained()
        assert gate.calls == 1  # it stopped at the checkpoint after the hold, went no further
        service.time_limit_s = 60.0  # the next replay is not held and has all the time
        status, report = await _get(http, url)
        assert status == 200, report
        assert report["trades"]["BINANCE"] == 40 and len(report["lead_lag"]) == 3
