"""What the three simulated venues share: the aiohttp app, connections, faults, REST guards.

A venue subclass says how frames look and what the REST routes answer; this module owns the
websocket lifecycle (outgoing queue, server pings, silence, disconnects, injected bad frames)
and the REST middleware (request counting, injected 429/500, the venue's rate limit).

Everything that touches subscriptions and the tape runs synchronously between awaits, so a
snapshot taken at subscribe time and the live updates published afterwards never overlap or
leave a hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from aiohttp import WSMsgType, web

from schemahub.sim.faults import FaultConfig, FaultDice, RestRateMeter, SimStats
from schemahub.sim.markets import Market
from schemahub.sim.tape import Tape, Trade

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 200_000  # a client this far behind is cut off, as venues do
_conn_ids = itertools.count(1)


@dataclass
class SimContext:
    """What every venue server reads from the simulator."""

    tape: Tape
    stats: SimStats
    dice: FaultDice
    faults: Callable[[], FaultConfig]
    ping_interval_s: float | None = 20.0
    max_connection_age_s: float | None = None
    history_limit: int | None = None  # REST serves at most this many newest trades a stream
    faults_age: Callable[[], float] = lambda: 0.0  # seconds since the faults were set


class Connection:
    """One websocket client: an outgoing queue drained by a writer task, plus venue state."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.id = next(_conn_ids)
        self.ws = ws
        self.transport = request.transport
        self.path = request.path
        self.query = request.query
        self.opened = time.monotonic()
        self.silent = False
        self.subs: set[str] = set()  # venue-native symbols (or stream names) subscribed
        self.quotes: set[str] = set()  # venue-native symbols whose top of book is subscribed
        self.state: dict[str, Any] = {}  # per-venue extras (sequence counters, channels)
        self._queue: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None

    def send(self, frame: str | bytes) -> None:
        """Queue a frame (text, or bytes for a binary frame). Silent connections drop it."""
        if self.silent or self.ws.closed:
            return
        if self._queue.qsize() >= MAX_QUEUED_FRAMES:
            self.abort()
            return
        self._queue.put_nowait(frame)

    def send_json(self, obj: Any) -> None:
        self.send(dumps(obj))

    async def drain(self) -> None:
        """Write queued frames until the socket closes."""
        while True:
            frame = await self._queue.get()
            if self.ws.closed:
                return
            try:
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        if self.transport is not None:
            self.transport.abort()


def dumps(obj: Any) -> str:
    """Compact JSON text, as the venues send it."""
    return orjson.dumps(obj).decode()


class VenueServer:
    """Base of a simulated venue: one aiohttp app serving websocket and REST."""

    name: ClassVar[str]
    ws_paths: ClassVar[tuple[str, ...]]

    def __init__(self, ctx: SimContext, markets: list[Market]) -> None:
        self.ctx = ctx
        self.markets = {m.symbol: m for m in markets}
        self.connections: set[Connection] = set()
        self._meter = RestRateMeter()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- to be provided by each venue ----------------------------------------------------
    def rest_routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def on_open(self, conn: Connection) -> None:
        """A client connected (after the silent-accept decision)."""

    def on_message(self, conn: Connection, text: str) -> Awaitable[None] | None:
        raise NotImplementedError

    def publish(self, trades: list[Trade], dropped: list[Trade]) -> None:
        """Deliver new trades of this venue; ``dropped`` ones are left out of every socket."""
        raise NotImplementedError

    def on_second(self, conn: Connection) -> None:
        """Once a second per connection (heartbeats)."""

    def unknown_frame(self) -> str:
        """A well-formed frame of a type the venue does not document."""
        raise NotImplementedError

    def quote_frame(self, conn: Connection, trade: Trade) -> str:
        """The venue's top-of-book frame for the book ``trade`` printed against."""
        raise NotImplementedError

    def publish_quotes(self, trades: list[Trade]) -> None:
        """One top-of-book frame per symbol that traded, from its newest trade, to the
        connections that subscribed its quotes."""
        newest = {trade.symbol: trade for trade in trades}
        for conn in list(self.connections):
            for symbol in conn.quotes & newest.keys():
                conn.send(self.quote_frame(conn, newest[symbol]))

    def rate_limited(self, retry_after: float | None) -> web.Response:
        """The venue's 429 answer; ``Retry-After`` only when ``retry_after`` is given."""
        raise NotImplementedError

    def injected_429(self, retry_after: float | None) -> web.Response:
        """The answer of the ``rest_429`` fault: an HTTP 429 in the venue's error shape."""
        return self.rate_limited(retry_after)

    # -- app -------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._rest_guard])
        app.add_routes([web.get(path, self._ws_handler) for path in self.ws_paths])
        app.add_routes(self.rest_routes())
        app.on_shutdown.append(self._on_shutdown)
        return app

    def start_background(self) -> None:
        self._spawn(self._second_loop())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_shutdown(self, app: web.Application) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")

    # -- websocket -------------------------------------------------------------------------
    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        # A short close timeout: a client that never answers a close frame must not hold up
        # the server; no compression, to keep the CPU for the tape.
        refused = self.ctx.faults().refusal(self.name, websocket=True)
        if refused:
            self.ctx.stats.refusals[f"{self.name}:ws"] += 1
            return web.Response(status=refused, text=f"refused by the simulator ({refused})")
        ws = web.WebSocketResponse(
            heartbeat=self.ctx.ping_interval_s, autoping=True, timeout=2.0, compress=False
        )
        await ws.prepare(request)
        conn = Connection(ws, request)
        stats, faults = self.ctx.stats, self.ctx.faults()
        stats.ws_connections[self.name] += 1
        if self.ctx.dice.hit(faults.silent_accept_probability):
            conn.silent = True
            stats.silent_connections[f"{self.name}:accept"] += 1
        self.connections.add(conn)
        conn.writer = asyncio.create_task(conn.drain())
        try:
            if not conn.silent:
                self.on_open(conn)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and not conn.silent:
                    pending = self.on_message(conn, msg.data)
                    if pending is not None:
                        await pending
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(conn)
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.writer
        return ws

    def drop_connections(self) -> int:
        """Drop every websocket of this venue abruptly (no close frame); returns how many."""
        dropped = list(self.connections)
        for conn in dropped:
            self.connections.discard(conn)
            conn.abort()
        self.ctx.stats.disconnects[f"{self.name}:forced"] += len(dropped)
        return len(dropped)

    async def close_with(self, conn: Connection, code: int, reason: str) -> None:
        """Close ``conn`` with a close frame carrying ``code``."""
        self.connections.discard(conn)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode())

    async def _second_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for conn in list(self.connections):
                self._connection_second(conn)

    def _connection_second(self, conn: Connection) -> None:
        faults, dice, stats = self.ctx.faults(), self.ctx.dice, self.ctx.stats
        age = self.ctx.max_connection_age_s
        if age is not None and time.monotonic() - conn.opened >= age:
            stats.disconnects[f"{self.name}:max_age"] += 1
            self._spawn(self.close_with(conn, 1000, "connection lifetime reached"))
            return
        if dice.hit(faults.disconnect_probability):
            if dice.hit(faults.disconnect_abrupt_share):
                stats.disconnects[f"{self.name}:abrupt"] += 1
                self.connections.discard(conn)
                conn.abort()
            else:
                stats.disconnects[f"{self.name}:close_{faults.disconnect_close_code}"] += 1
                self._spawn(self.close_with(conn, faults.disconnect_close_code, "internal error"))
            return
        if not conn.silent and dice.hit(faults.go_silent_probability):
            conn.silent = True
            stats.silent_connections[f"{self.name}:midstream"] += 1
        if not conn.silent:
            self.on_second(conn)

    def send_trade_frame(self, conn: Connection, frame: str) -> None:
        """Send a trade frame, preceded by injected bad or unknown frames when switched on."""
        faults, dice, stats = self.ctx.faults(), self.ctx.dice, self.ctx.stats
        if dice.hit(faults.malformed_probability):
            kind = dice.choice(["truncated", "binary", "garbage"])
            stats.malformed_sent[f"{self.name}:{kind}"] += 1
            if kind == "truncated":
                conn.send(frame[: max(1, len(frame) // 2)])
            elif kind == "binary":
                conn.send(frame.encode())
            else:
                conn.send("\x00\x01<<not json>>")
        if dice.hit(faults.unknown_type_probability):
            stats.unknown_sent[self.name] += 1
            conn.send(self.unknown_frame())
        conn.send(frame)

    def replay_count(self) -> int:
        """How many recent trades to replay after a subscription (0 unless the fault hits)."""
        faults = self.ctx.faults()
        if self.ctx.dice.hit(faults.duplicate_replay_probability):
            return faults.duplicate_replay_count
        return 0

    def note_subscribed(self, symbol: str) -> None:
        """Record the first trade owed to the first subscriber of ``symbol`` (see
        :attr:`SimStats.first_live_id`): the next one the tape generates."""
        key = f"{self.name}:{symbol}"
        stream = self.ctx.tape.stream(self.name, symbol)
        if stream is not None and key not in self.ctx.stats.first_live_id:
            self.ctx.stats.first_live_id[key] = stream.last_id + 1

    def recent(self, symbol: str, count: int) -> list[Trade]:
        """The newest ``count`` trades of ``symbol`` already generated (oldest first)."""
        stream = self.ctx.tape.stream(self.name, symbol)
        if stream is None or count <= 0:
            return []
        return stream.trades(len(stream) - count, len(stream))

    def held(self, symbol: str) -> tuple[int, int]:
        """Positions [lo, hi) of the trades of ``symbol`` that REST still serves."""
        stream = self.ctx.tape.stream(self.name, symbol)
        if stream is None:
            return 0, 0
        hi = len(stream)
        limit = self.ctx.history_limit
        return (0 if limit is None else max(0, hi - limit)), hi

    # -- REST ------------------------------------------------------------------------------
    @web.middleware
    async def _rest_guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if (
            request.path in self.ws_paths
            or request.headers.get("Upgrade", "").lower() == "websocket"
        ):
            return await handler(request)
        stats, faults, dice = self.ctx.stats, self.ctx.faults(), self.ctx.dice
        stats.rest_requests[self.name] += 1
        in_second = self._meter.add(time.time())
        stats.rest_peak_per_second[self.name] = max(
            stats.rest_peak_per_second[self.name], in_second
        )
        refused = faults.refusal(self.name, websocket=False)
        if refused:
            stats.refusals[f"{self.name}:rest"] += 1
            return web.Response(status=refused, text=f"refused by the simulator ({refused})")
        if faults.rest_down(self.name, self.ctx.faults_age()):
            stats.rest_down_answers[self.name] += 1
            return web.Response(status=503, text="Service Unavailable", content_type="text/plain")
        if dice.hit(faults.rest_error_probability):
            stats.rest_errors_injected[self.name] += 1
            return web.Response(
                status=500,
                text="<html><body><h1>500 Internal Server Error</h1></body></html>",
                content_type="text/html",
            )
        if dice.hit(faults.rest_429_probability):
            stats.rest_429_injected[self.name] += 1
            with_header = dice.hit(faults.rest_429_retry_after_share)
            return self.injected_429(1.0 if with_header else None)
        return await handler(request)

    def json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        """A JSON response with the venue's compact encoding."""
        return web.Response(
            status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
        )

    def count_rate_limited(self) -> None:
        self.ctx.stats.rest_rate_limited[self.name] += 1


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` in whole seconds (at least 1), or nothing."""
    if seconds is None:
        return {}
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}


def int_param(request: web.Request, name: str) -> int | None:
    """An integer query parameter, None when absent; ValueError when not an integer."""
    raw = request.query.get(name)
    return None if raw is None or raw == "" else int(raw)
