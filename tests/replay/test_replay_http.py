"""`/replay` is bounded: beyond its concurrency it answers 429 at once."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from schemahub.config import Config
from schemahub.ops.http import bound_port, start_ops_server
from schemahub.replay.http import CONCURRENCY, REPLAY, ReplayService, add_replay_routes


async def test_replays_beyond_the_limit_are_refused_with_429(tmp_path):
    app = web.Application()
    add_replay_routes(
        app, ReplayService(Config.model_validate({"lake": {"warehouse": str(tmp_path)}}))
    )
    runner = await start_ops_server(app, "127.0.0.1", 0)
    try:
        app[REPLAY].busy = CONCURRENCY  # as if that many replays were running
        query = {"pair": "BTC", "at": "2024-02-08T15:12:04Z"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{bound_port(runner)}/replay", params=query) as response,
        ):
            assert response.status == 429
            assert "too many replays" in (await response.json())["error"]
    finally:
        await runner.cleanup()
