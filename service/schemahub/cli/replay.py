"""``schemahub replay``: a volatility event tick by tick across venues, from trades_unified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` command."""
    parser = subparsers.add_parser(
        "replay", help="replay a pair's trades across venues for a window, with lead/lag"
    )
    parser.add_argument("--pair", required=True, help="a pair group of the config (BTC)")
    parser.add_argument("--at", required=True, help="the moment, ISO 8601 (2024-02-08T15:12:04Z)")
    parser.add_argument("--window", default="12s", help="centred on --at: 12s, 500ms, 2m")
    parser.add_argument("--as-of", default=None, help="a snapshot id, tag or time (time travel)")
    parser.add_argument("--format", choices=("text", "json", "html"), default="text")
    parser.add_argument("--out", default=None, help="write here instead of standard output")
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from schemahub.replay.report import render_html, render_text
    from schemahub.replay.run import replay

    config, lake = lake_from(args)
    report = replay(config, lake, args.pair, args.at, args.window, args.as_of)
    render = {"json": lambda r: orjson.dumps(r).decode(), "html": render_html, "text": render_text}
    text = render[args.format](report)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0
