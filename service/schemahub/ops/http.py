"""The HTTP operations server: ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from schemahub.ops.metrics import Registry
from schemahub.redact import mask_uri_passwords


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
    body, content_type = request.app[REGISTRY].exposition(request.headers.get("Accept", ""))
    # aiohttp takes the type's parameters (version, charset) only through the raw header.
    return web.Response(body=body, headers={"Content-Type": content_type})


def ops_app(registry: Registry, readiness: Callable[[], Readiness]) -> web.Application:
    """The aiohttp application serving the operations endpoints; the daemon adds its other
    routes (the live discrepancy feed, replay) to it, so this module imports none of them."""
    app = web.Application()
    app[REGISTRY] = registry
    app[READINESS] = readiness
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
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
