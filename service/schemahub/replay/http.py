"""``GET /replay?pair=BTC&at=...&window=12s[&as_of=...][&format=html|json]`` on the daemon.

A public read-only page, so it is bounded: the window is at most ``MAX_WINDOW``; replays run
in their own threads (never on the event loop), at most ``concurrency`` at once (more is HTTP
429 at once, not a queue) and each within ``time_limit_s`` (else HTTP 503). A replay over its
time stops at its next checkpoint (see :mod:`.budget`), and its slot is freed only then, so
the limit counts the threads really working. Bad input is HTTP 400 with ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import orjson
from aiohttp import web

from schemahub.config import Config
from schemahub.errors import SchemaHubError
from schemahub.lake import Lake
from schemahub.replay.budget import Budget, Checkpoint, ReplayStopped, no_checkpoint
from schemahub.replay.report import render_html
from schemahub.replay.run import replay

CONCURRENCY = 2
TIME_LIMIT_S = 20.0
PARAMETERS = {"pair", "at", "window", "as_of", "format"}


class ReplaySlotsFull(Exception):
    """Every replay slot is taken."""


class ReplayService:
    """What the handler needs: the config, the lake, and the bounded worker threads.
    ``hook`` runs at each checkpoint of every replay (tests hold a replay in place with it)."""

    def __init__(
        self,
        config: Config,
        concurrency: int = CONCURRENCY,
        time_limit_s: float = TIME_LIMIT_S,
        hook: Checkpoint = no_checkpoint,
    ) -> None:
        self.config = config
        self.lake = Lake(config.lake, config.s3)
        self.time_limit_s = time_limit_s
        self.hook = hook
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="schemahub-replay")
        self._slots = threading.BoundedSemaphore(concurrency)
        self._running: dict[Future, Budget] = {}

    def start(self, pair: str, at: str, window: str, as_of: str | None) -> Future:
        """Start one replay in a worker thread; ReplaySlotsFull if none is free. The slot is
        given back when the thread finishes, not when the caller stops waiting."""
        if not self._slots.acquire(blocking=False):
            raise ReplaySlotsFull
        budget = Budget(self.time_limit_s, self.hook)
        work = partial(replay, self.config, self.lake, pair, at, window, as_of, budget.check)
        future = self.executor.submit(work)
        self._running[future] = budget
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future) -> None:
        self._running.pop(future, None)
        self._slots.release()

    async def drained(self) -> None:
        """Wait until no replay thread is running."""
        running = list(self._running)
        await asyncio.gather(*(asyncio.wrap_future(f) for f in running), return_exceptions=True)

    def cancel_all(self) -> None:
        """Make every running replay stop at its next checkpoint."""
        for budget in list(self._running.values()):
            budget.cancelled.set()


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


def _bad_query(query) -> str | None:
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        return f"unknown parameter {unknown[0]!r}; expected: {', '.join(sorted(PARAMETERS))}"
    missing = [name for name in ("pair", "at") if not query.get(name)]
    if missing:
        return f"missing parameter {missing[0]!r}"
    form = query.get("format", "html")
    if form not in ("html", "json"):
        return f"format {form!r}: expected html or json"
    return None


async def _replay(request: web.Request) -> web.Response:
    service = request.app[REPLAY]
    query = request.query
    problem = _bad_query(query)
    if problem:
        return _error(400, problem)
    try:
        future = service.start(query["pair"], query["at"], query.get("window", "12s"),
                               query.get("as_of"))  # fmt: skip
    except ReplaySlotsFull:
        return _error(429, "too many replays running; try again shortly")
    try:
        # On timeout the thread keeps its slot until its next checkpoint stops it.
        report = await asyncio.wait_for(asyncio.wrap_future(future), service.time_limit_s)
    except ReplayStopped as exc:
        return _error(503, str(exc))
    except SchemaHubError as exc:
        return _error(400, str(exc))
    except TimeoutError:
        return _error(503, f"the replay took longer than {service.time_limit_s:g} s")
    if query.get("format", "html") == "json":
        return web.Response(body=orjson.dumps(report), content_type="application/json")
    return web.Response(text=render_html(report), content_type="text/html")


async def _shutdown(app: web.Application) -> None:
    service = app[REPLAY]
    service.cancel_all()
    service.executor.shutdown(wait=False, cancel_futures=True)
