"""Reading the feed from outside the daemon (the ``discrepancy`` command, tests, the load
bench): the snapshot, and the two streams, each update handed to a callback as a dict."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from schemahub.errors import FeedError

Update = dict[str, Any]


async def checked_body(response: aiohttp.ClientResponse, read: bool = True) -> bytes:
    """The body of a 200 answer; a FeedError with the daemon's own message otherwise."""
    if response.status != 200:
        text = await response.text()
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
            text = orjson.loads(text)["error"]
        raise FeedError(f"{response.url}: HTTP {response.status}: {text}")
    return await response.read() if read else b""


async def follow_ws(
    http: aiohttp.ClientSession, url: str, on_update: Callable[[Update], None]
) -> None:
    """Hand every update of the WebSocket at ``url`` to ``on_update`` until it closes."""
    async with http.ws_connect(url) as ws:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                return
            on_update(orjson.loads(message.data))


async def follow_sse(
    http: aiohttp.ClientSession,
    url: str,
    on_update: Callable[[Update], None],
    params: list[tuple[str, str]] | None = None,
) -> None:
    """Hand every update of the event stream at ``url`` to ``on_update`` until it ends."""
    async with http.get(url, params=params) as response:
        await checked_body(response, read=False)
        async for line in response.content:
            if line.startswith(b"data: "):
                on_update(orjson.loads(line[6:]))
