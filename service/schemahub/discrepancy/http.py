"""The feed's HTTP side, added to the operations server: the page at ``/``, its assets, a JSON
snapshot at ``/discrepancy``, and the streams ``/discrepancy/ws`` and ``/discrepancy/sse``.

Every endpoint takes ``?pair=BTC`` (repeat it, or separate with commas; default: every
group). An unknown pair is HTTP 400 with ``{"error": "..."}``; more clients than
``max_clients`` is HTTP 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from importlib import resources

import orjson
from aiohttp import WSMsgType, web

from schemahub.discrepancy.feed import Client, Feed

FEED = web.AppKey("discrepancy_feed", Feed)
# The kernel's send buffer per feed client: small and fixed (no autotuning to megabytes), so
# a client that stops reading fills it, then its queue, and is dropped within seconds; and
# hundreds of clients cannot hold much memory in socket buffers.
SEND_BUFFER_BYTES = 64 * 1024
# The page's files (service/schemahub/web/), served as they are.
ASSETS = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}


class BadRequest(web.HTTPBadRequest):
    """HTTP 400 with a JSON body naming what was wrong."""

    def __init__(self, message: str) -> None:
        body = orjson.dumps({"error": message}).decode()
        super().__init__(text=body, content_type="application/json")


def add_routes(app: web.Application, feed: Feed) -> None:
    """Serve ``feed`` from ``app``."""
    app[FEED] = feed
    app.router.add_get("/", _page)
    app.router.add_get("/web/{name}", _asset)
    app.router.add_get("/discrepancy", _snapshot)
    app.router.add_get("/discrepancy/ws", _websocket)
    app.router.add_get("/discrepancy/sse", _sse)
    app.on_shutdown.append(_close_clients)


def requested_pairs(request: web.Request, known: list[str]) -> list[str]:
    """The pairs named by ``pair`` query values (all when none); BadRequest for an unknown
    one."""
    named = [p.strip() for v in request.query.getall("pair", []) for p in v.split(",")]
    named = [p for p in named if p]
    if not named:
        return list(known)
    for pair in named:
        if pair not in known:
            raise BadRequest(f"unknown pair {pair!r}; expected one of: {', '.join(known)}")
    return list(dict.fromkeys(named))


def _read_asset(name: str) -> bytes:
    return resources.files("schemahub").joinpath("web", name).read_bytes()


async def _page(_request: web.Request) -> web.Response:
    return web.Response(body=_read_asset("index.html"), content_type="text/html", charset="utf-8")


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound(text=f"no asset {name!r}")
    return web.Response(body=_read_asset(name), content_type=ASSETS[name], charset="utf-8")


async def _snapshot(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    return web.json_response(feed.snapshot(requested_pairs(request, feed.pairs)))


def _join(request: web.Request, transport: str) -> Client:
    feed = request.app[FEED]
    pairs = requested_pairs(request, feed.pairs)
    if feed.full():
        raise web.HTTPServiceUnavailable(
            text='{"error": "too many feed clients"}', content_type="application/json"
        )
    client = feed.subscribe(pairs, transport)
    transport = request.transport
    if transport is not None:
        client.abort = transport.abort
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    return client


async def _websocket(request: web.Request) -> web.StreamResponse:
    client = _join(request, "websocket")
    feed = request.app[FEED]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096, compress=False)
    try:
        await ws.prepare(request)
        writer = asyncio.create_task(_write_ws(ws, client, feed))
        try:
            async for message in ws:  # clients send nothing we need; this sees the close
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
    finally:
        feed.unsubscribe(client)
    return ws


async def _write_ws(ws: web.WebSocketResponse, client: Client, feed: Feed) -> None:
    ended = asyncio.ensure_future(client.closed.wait())
    try:
        while (texts := await _next(client, ended, feed)) is not None:
            for text in texts:
                await ws.send_str(text.decode())
        await ws.close()
    finally:
        ended.cancel()


async def _next(client: Client, ended: asyncio.Future, feed: Feed) -> list[bytes] | None:
    """Every queued update (waiting for one when none is), or None once the client was
    closed."""
    if client.queue.empty():
        getter = asyncio.ensure_future(client.queue.get())
        await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            return None
        return [getter.result(), *client.take_all(feed.clock())]
    return client.take_all(feed.clock())


async def _sse(request: web.Request) -> web.StreamResponse:
    client = _join(request, "sse")
    feed = request.app[FEED]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    ended = asyncio.ensure_future(client.closed.wait())
    try:
        await response.prepare(request)
        while (texts := await _next(client, ended, feed)) is not None:
            await response.write(b"".join(b"data: %s\n\n" % text for text in texts))
    except ConnectionError:
        pass  # the client went away
    finally:
        ended.cancel()
        feed.unsubscribe(client)
    return response


async def _close_clients(app: web.Application) -> None:
    app[FEED].close_all()
