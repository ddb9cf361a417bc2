"""Fixtures: a running simulator on free ports, and small websocket/REST helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pyarrow.compute as pc
import pytest
from websockets.asyncio.client import ClientConnection

from schemahub.sim import SimConfig, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator with the default markets, 50 trades a second a stream, faults off."""
    async with Simulator(SimConfig(rate_per_stream=50.0, seed=3)) as running:
        yield running


async def send_json(ws: ClientConnection, obj: Any) -> None:
    """Send ``obj`` as a JSON text frame."""
    await ws.send(orjson.dumps(obj).decode())


def truth_ids(sim: Simulator, venue: str, symbol: str) -> list[int]:
    """The trade ids of one stream in the simulator's ground truth, ascending."""
    truth = sim.ground_truth()
    mask = pc.and_(pc.equal(truth["exchange"], venue), pc.equal(truth["symbol"], symbol))
    return sorted(truth.filter(mask)["trade_id"].to_pylist())


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    """The next frame, decoded."""
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: ClientConnection, predicate: Any, limit: int = 500) -> Any:
    """Frames until one satisfies ``predicate``; returns it."""
    for _ in range(limit):
        frame = await recv_json(ws)
        if predicate(frame):
            return frame
    raise AssertionError(f"no matching frame within {limit} frames")
