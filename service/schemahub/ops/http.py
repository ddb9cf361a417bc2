"""The HTTP operations server: ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from schemahub.ops.metrics import Registry
from schemahub.redact import mask_uri_passwords

if TYPE_CHECKING:
    from schemahub.discrepancy.feed import Feed


@dataclass(frozen=True)
class Readiness:
    """Whether the daemon can do its job, and if not, why."""

    ready: bool
    reasons: tuple[str, ...] = ()


READINESS = web.AppKey("readiness", Callable[[], Readiness])
REGISTRY = web.AppKey("registry", Registry)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    state = request.app[READINESS]()
    body = {"ready": state.ready, "reasons": [mask_uri_passwords(r) for r in state.reasons]}
    return web.json_response(body, status=200 if state.ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    text = request.app[REGISTRY].render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def ops_app(
    registry: Registry, readiness: Callable[[], Readiness], feed: Feed | None = None
) -> web.Application:
    """The aiohttp application serving the operations endpoints (and the live discrepancy
    feed and its page, when ``feed`` is given)."""
    app = web.Application()
    app[REGISTRY] = registry
    app[READINESS] = readiness
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    if feed is not None:
        from schemahub.discrepancy.http import add_routes

        add_routes(app, feed)
    return app


async def start_ops_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving ``app``; returns the runner (``await runner.cleanup()`` to stop)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the server listens on (useful when configured with port 0)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the ops server is not listening")
