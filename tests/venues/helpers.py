"""What the venue tests share: a sink that keeps everything, and waiting on conditions."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

from schemahub.decode.base import FrameKind
from schemahub.venues.events import ReceivedBatch, ReceivedFrame, SessionEvent
from schemahub.venues.session import VenueSession

WAIT_LIMIT = 20.0  # seconds before a waited-for condition counts as never happening


class KeepingSink:
    """Keeps every frame and event; trade ids by symbol."""

    def __init__(self) -> None:
        self.frames: list[ReceivedFrame] = []
        self.events: list[SessionEvent] = []
        self.ids: dict[str, list[int]] = defaultdict(list)

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        for frame in batch.frames():
            await self.on_frame(frame)

    async def on_frame(self, frame: ReceivedFrame) -> None:
        """One frame of a batch, as the per-frame decoder gives it."""
        self.frames.append(frame)
        for record in frame.decoded.trades:
            symbol = record.get("symbol") or record.get("product_id")
            self.ids[symbol].append(int(record["trade_id"]))

    async def on_event(self, event: SessionEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        """The events of one type."""
        return [e for e in self.events if isinstance(e, kind)]

    def malformed(self) -> list[ReceivedFrame]:
        """Frames delivered as MALFORMED."""
        return [f for f in self.frames if f.decoded.kind is FrameKind.MALFORMED]


class BatchCountingSink(KeepingSink):
    """Also keeps the BTCUSDT trade ids of each batch handed on that held any."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        before = len(self.ids["BTCUSDT"])
        await super().on_batch(batch, backpressure=backpressure)
        if len(self.ids["BTCUSDT"]) > before:
            self.batches.append(self.ids["BTCUSDT"][before:])


async def wait_until(condition: Callable[[], bool], what: str, limit: float = WAIT_LIMIT) -> None:
    """Poll ``condition`` until true; fail the test naming ``what`` after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(session: VenueSession) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``session`` in a task for the duration of the block, then cancel it."""
    task = asyncio.create_task(session.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
