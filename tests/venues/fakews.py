"""Tiny websocket servers on 127.0.0.1 that behave like a venue, or misbehave on purpose."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from schemahub.decode import decoder_for
from schemahub.venues import ws_venue
from schemahub.venues.backoff import RetryPolicy
from schemahub.venues.connection import SessionOptions
from schemahub.venues.recording import CaptureRecorder
from schemahub.venues.session import VenueSession

FAST_RETRY = RetryPolicy(base_seconds=0.01, cap_seconds=0.05)
Handler = Callable[[ServerConnection], Awaitable[None]]


class FakeVenue:
    """Runs ``handler`` for each connection; keeps what clients sent, per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[list[Any]] = []
        self.url = ""

    async def _serve(self, ws: ServerConnection) -> None:
        self.received.append([])
        await self.handler(ws)

    def note(self, ws_index: int, message: Any) -> None:
        self.received[ws_index].append(message)


@contextlib.asynccontextmanager
async def fake_venue(
    handler: Callable[[ServerConnection, FakeVenue], Awaitable[None]], **kw: Any
) -> AsyncIterator[FakeVenue]:
    """A server running ``handler(ws, venue)`` per connection; yields it with ``url`` set."""
    venue = FakeVenue(lambda ws: handler(ws, venue))
    async with serve(venue._serve, "127.0.0.1", 0, **kw) as server:
        port = server.sockets[0].getsockname()[1]
        venue.url = f"ws://127.0.0.1:{port}"
        yield venue


async def recv_json(ws: ServerConnection, venue: FakeVenue) -> Any:
    """The next message a client sent, parsed and noted."""
    message = json.loads(await ws.recv())
    venue.note(len(venue.received) - 1, message)
    return message


def session(
    name: str,
    url: str,
    symbols: list[str],
    sink: Any,
    feed: str | None = None,
    recorder: CaptureRecorder | None = None,
    **options: Any,
) -> VenueSession:
    """A session with short timings for tests."""
    opts = {"silence_timeout": 5.0, "ack_timeout": 5.0, "retry": FAST_RETRY, **options}
    return VenueSession(
        ws_venue(name, feed),
        url,
        symbols,
        decoder_for(name),
        sink,
        options=SessionOptions(**opts),
        recorder=recorder,
    )


def binance_trade(trade_id: int, symbol: str = "BTCUSDT", **changes: Any) -> str:
    """A combined-stream trade frame in the real shape, with optional field changes."""
    data = {
        "e": "trade",
        "E": 1_700_000_000_001,
        "s": symbol,
        "t": trade_id,
        "p": "42000.10",
        "q": "0.010",
        "T": 1_700_000_000_000,
        "m": True,
        "M": True,
    }
    data.update(changes)
    return json.dumps({"stream": f"{symbol.lower()}@trade", "data": data})


async def ack_binance(ws: ServerConnection, venue: FakeVenue) -> dict[str, Any]:
    """Read one SUBSCRIBE and acknowledge it."""
    request = await recv_json(ws, venue)
    await ws.send(json.dumps({"result": None, "id": request["id"]}))
    return request
