"""``schemahub shards``: which replica owns which of the configured streams."""

from __future__ import annotations

import argparse

from schemahub.cli._common import config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``shards`` command."""
    parser = subparsers.add_parser(
        "shards", help="print which replica (shard.index) owns which configured stream"
    )
    parser.add_argument(
        "--count",
        type=_positive,
        default=None,
        help="the number of replicas to plan for (default: the configured shard.count)",
    )
    parser.set_defaults(handler=_shards)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 1024, got {text!r}")
    return value


def _shards(args: argparse.Namespace) -> int:
    from schemahub.daemon.shards import assignment, configured_streams

    config = config_from(args)
    count = args.count or config.shard.count
    for index, streams in assignment(configured_streams(config.venues), count).items():
        names = ", ".join(f"{exchange} {symbol}" for exchange, symbol in streams) or "(none)"
        noun = "stream" if len(streams) == 1 else "streams"
        print(f"shard {index} of {count}: {len(streams)} {noun}: {names}")
    return 0
