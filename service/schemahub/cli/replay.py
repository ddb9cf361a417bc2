"""``schemahub replay``: a volatility event tick by tick across venues, from trades_unified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from schemahub.cli._common import lake_from
from schemahub.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` command."""
    parser = subparsers.add_parser(
        "replay", help="replay a pair's trades across venues for a window, with lead/lag"
    )
    parser.add_argument("--pair", required=True, help="a pair group of the config (BTC)")
    parser.add_argument("--at", required=True, help="the moment, ISO 8601 (2024-02-08T15:12:04Z)")
    parser.add_argument("--window", default="12s", help="centred on --at: 12s, 500ms, 2m")
    parser.add_argument("--as-of", default=None, help="a snapshot id, tag or time (time travel)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--out", default=None, help="write here instead of standard output")
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from schemahub.lake import UNIFIED_TABLE
    from schemahub.replay.read import members, read_window, snapshot_for
    from schemahub.replay.report import build_report, render_text
    from schemahub.replay.window import Window, iso, parse_at, parse_window

    window = Window.around(parse_at(args.at), parse_window(args.window))
    config, lake = lake_from(args)
    streams = members(config.discrepancy, args.pair)
    table = lake.table(UNIFIED_TABLE)
    snapshot = snapshot_for(table, args.as_of)
    trades = read_window(table, streams, window, snapshot)
    if not trades.num_rows:
        raise UsageError(
            f"no {args.pair} trades between {iso(window.start)} and {iso(window.end)}"
            + (f" in snapshot {snapshot}" if snapshot else "")
        )
    report = build_report(args.pair, window, trades, snapshot)
    text = orjson.dumps(report).decode() if args.format == "json" else render_text(report)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0
