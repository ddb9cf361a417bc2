"""``schemahub serve``: run the daemon until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal

from schemahub.cli._common import config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve", help="run the daemon: venues -> Iceberg, exactly once, until SIGTERM"
    )
    parser.add_argument(
        "--capture", metavar="DIR", default=None, help="also record every frame into DIR"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.capture:
        config = config.model_copy(
            update={"capture": config.capture.model_copy(update={"dir": args.capture})}
        )
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_run(config))
    return 0


async def _run(config) -> None:
    from schemahub.daemon.heap import settle_heap
    from schemahub.daemon.service import Daemon

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Daemon(config).run(stop, ready=lambda _daemon: settle_heap())


def _loop_factory():
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows)
        return None
    return uvloop.new_event_loop
