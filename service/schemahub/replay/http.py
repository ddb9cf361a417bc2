"""``GET /replay?pair=BTC&at=...&window=12s[&as_of=...][&format=html|json]`` on the daemon.

A public read-only page, so it is bounded: the window is at most ``MAX_WINDOW``; replays run
in their own threads (never on the event loop), at most ``CONCURRENCY`` at once (more is HTTP
429 at once, not a queue) and each within ``TIME_LIMIT_S`` (else HTTP 503). Bad input is HTTP
400 with ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import orjson
from aiohttp import web

from schemahub.config import Config
from schemahub.errors import SchemaHubError
from schemahub.lake import Lake
from schemahub.replay.report import render_html
from schemahub.replay.run import replay

CONCURRENCY = 2
TIME_LIMIT_S = 20.0
PARAMETERS = {"pair", "at", "window", "as_of", "format"}


class ReplayService:
    """What the handler needs: the config, the lake, and the bounded worker threads."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lake = Lake(config.lake, config.s3)
        self.executor = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="schemahub-replay")
        self.busy = 0


REPLAY = web.AppKey("replay", ReplayService)


def add_replay_routes(app: web.Application, service: ReplayService) -> None:
    """Serve ``/replay`` from ``app``."""
    app[REPLAY] = service
    app.router.add_get("/replay", _replay)
    app.on_cleanup.append(_shutdown)


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps({"error": message}), content_type="application/json"
    )


async def _replay(request: web.Request) -> web.Response:
    service = request.app[REPLAY]
    query = request.query
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        return _error(
            400, f"unknown parameter {unknown[0]!r}; expected: {', '.join(sorted(PARAMETERS))}"
        )
    missing = [name for name in ("pair", "at") if not query.get(name)]
    if missing:
        return _error(400, f"missing parameter {missing[0]!r}")
    form = query.get("format", "html")
    if form not in ("html", "json"):
        return _error(400, f"format {form!r}: expected html or json")
    if service.busy >= CONCURRENCY:
        return _error(429, "too many replays running; try again shortly")
    service.busy += 1
    try:
        work = asyncio.get_running_loop().run_in_executor(
            service.executor,
            replay,
            service.config,
            service.lake,
            query["pair"],
            query["at"],
            query.get("window", "12s"),
            query.get("as_of"),
        )
        report = await asyncio.wait_for(work, TIME_LIMIT_S)
    except SchemaHubError as exc:
        return _error(400, str(exc))
    except TimeoutError:
        return _error(503, f"the replay took longer than {TIME_LIMIT_S:g} s")
    finally:
        service.busy -= 1
    if form == "json":
        return web.Response(body=orjson.dumps(report), content_type="application/json")
    return web.Response(text=render_html(report), content_type="text/html")


async def _shutdown(app: web.Application) -> None:
    app[REPLAY].executor.shutdown(wait=False, cancel_futures=True)
