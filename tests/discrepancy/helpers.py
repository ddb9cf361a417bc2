"""What the live-feed tests share: a daemon on the simulator, feed readers, truth lookups."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa

from schemahub.discrepancy.client import follow_sse, follow_ws
from schemahub.sim import Simulator
from tests.daemon.harness import daemon_config, running


@contextlib.asynccontextmanager
async def feed_daemon(sim: Simulator, folder: Path, **discrepancy: Any) -> AsyncIterator[Any]:
    """A daemon on ``sim`` with the feed configured by ``discrepancy``; yields its base URL
    and the daemon."""
    config = daemon_config(sim, folder / "warehouse", discrepancy=discrepancy)
    async with running(config) as daemon:
        yield f"http://127.0.0.1:{daemon.http_port}", daemon


async def collect(url: str, updates: list[dict]) -> None:
    """Append every update of the WebSocket or event stream at ``url`` (until cancelled)."""
    follow = follow_ws if url.startswith("ws") else follow_sse
    async with aiohttp.ClientSession() as http:
        await follow(http, url, updates.append)


async def stop_collecting(*tasks: asyncio.Task) -> None:
    """Cancel collectors and wait for them."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def stuck_client(port: int, path: str) -> socket.socket:
    """A client that asks for ``path`` (a websocket upgrade or an event stream) and then never
    reads: a tiny receive buffer, so the daemon's side fills up soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    upgrade = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if path.startswith("/discrepancy/ws")
        else ""
    )
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{upgrade}\r\n"
    await asyncio.get_running_loop().sock_sendall(sock, request.encode())
    return sock


def truth_index(truth: pa.Table) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Ground-truth trades by (VENUE, symbol, trade id text)."""
    return {
        (row["exchange"].upper(), row["symbol"], str(row["trade_id"])): row
        for row in truth.to_pylist()
    }


def iso(moment: datetime) -> str:
    """A truth timestamp as the feed writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> float:
    """The feed's ISO time as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def scrape(base: str, name: str) -> dict[str, float]:
    """The samples of metric ``name`` on the daemon's ``/metrics``, by their label text
    (``transport="sse"``)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line[len(name) + 1 :].rpartition("} ")
            samples[labels] = float(value)
    return samples
