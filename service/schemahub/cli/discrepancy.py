"""``schemahub discrepancy``: the daemon's live cross-venue feed as a table in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
import orjson

from schemahub.cli._common import config_from
from schemahub.discrepancy.client import checked_body, follow_sse
from schemahub.discrepancy.table import render
from schemahub.errors import FeedError

_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=30)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``discrepancy`` command."""
    parser = subparsers.add_parser(
        "discrepancy",
        help="print the live cross-venue discrepancy table of a running daemon",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="print the table once (default)")
    mode.add_argument("--follow", action="store_true", help="print every update until Ctrl-C")
    parser.add_argument(
        "--url",
        default=None,
        help="the daemon's HTTP address (default: http://<http.host>:<http.port> of the config)",
    )
    parser.add_argument(
        "--pair", action="append", default=None, help="only this pair group (repeatable)"
    )
    parser.set_defaults(handler=_discrepancy)


def _discrepancy(args: argparse.Namespace) -> int:
    base = args.url
    if base is None:
        http = config_from(args).http
        base = f"http://{http.host}:{http.port}"
    base = base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise FeedError(f"--url {base!r}: expected the daemon's address, http://HOST:PORT")
    params = [("pair", p) for p in args.pair or []]
    run = _follow(base, params) if args.follow else _once(base, params)
    try:
        asyncio.run(run)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise FeedError(f"cannot read the feed at {base}: {exc or type(exc).__name__}") from None
    return 0


async def _once(base: str, params: list[tuple[str, str]]) -> None:
    async with (
        aiohttp.ClientSession(timeout=_TIMEOUT) as http,
        http.get(f"{base}/discrepancy", params=params) as response,
    ):
        body = await checked_body(response)
    for update in orjson.loads(body)["groups"].values():
        print(render(update), end="\n\n")


async def _follow(base: str, params: list[tuple[str, str]]) -> None:
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    shown: dict[str, str] = {}

    def show(update: dict) -> None:
        shown[update["pair"]] = render(update)
        print(clear + "\n\n".join(shown.values()), end="\n\n", flush=True)

    async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
        await follow_sse(http, f"{base}/discrepancy/sse", show, params)
    raise FeedError(f"{base}: the daemon closed the feed")
