"""An aiohttp app on 127.0.0.1 for the tests that need a real HTTP or websocket peer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def local_app(routes: dict[str, Handler]) -> AsyncIterator[str]:
    """Serve GET ``routes`` (path to handler) on a free port; yields the base URL,
    ``http://127.0.0.1:PORT``, and stops the server on the way out."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
