"""``schemahub replay``: a volatility event tick by tick across venues, from trades_unified;
with ``--find-spikes``, the moments worth replaying."""

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
    parser.add_argument("--at", help="the moment, ISO 8601 (2024-02-08T15:12:04Z)")
    parser.add_argument("--window", default="12s", help="centred on --at: 12s, 500ms, 2m")
    parser.add_argument("--as-of", default=None, help="a snapshot id, tag or time (time travel)")
    parser.add_argument("--format", choices=("text", "json", "html"), default="text")
    parser.add_argument("--out", default=None, help="write here instead of standard output")
    parser.add_argument("--png", default=None, metavar="FILE", help="also draw a static chart")
    parser.add_argument(
        "--find-spikes",
        action="store_true",
        help="instead of a replay: list the seconds with the widest spread and largest 1 s "
        "returns between --since and --until",
    )
    parser.add_argument("--since", help="with --find-spikes: from this time (ISO 8601)")
    parser.add_argument("--until", help="with --find-spikes: to this time (ISO 8601)")
    parser.add_argument("--top", type=int, default=5, help="with --find-spikes: how many")
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from schemahub.replay.report import render_html, render_text
    from schemahub.replay.run import replay

    if args.find_spikes:
        return _find_spikes(args)
    if not args.at:
        raise UsageError("--at is required (or --find-spikes with --since and --until)")
    config, lake = lake_from(args)
    report = replay(config, lake, args.pair, args.at, args.window, args.as_of)
    render = {"json": lambda r: orjson.dumps(r).decode(), "html": render_html, "text": render_text}
    _write(args, render[args.format](report))
    if args.png:
        from schemahub.replay.chart import write_png

        write_png(report, args.png)
    return 0


def _find_spikes(args: argparse.Namespace) -> int:
    from schemahub.replay.run import spikes

    if not (args.since and args.until) or args.top < 1:
        raise UsageError("--find-spikes needs --since and --until (and --top of 1 or more)")
    if args.format == "html":
        raise UsageError("--find-spikes writes text or json, not html")
    config, lake = lake_from(args)
    found = spikes(config, lake, args.pair, args.since, args.until, args.top)
    if args.format == "json":
        _write(args, orjson.dumps(found).decode())
        return 0
    lines = [f"{found['pair']} from {found['window']['start']} to {found['window']['end']}"]
    lines.append("widest cross-venue spreads:")
    lines += [
        f"  {s['at']}  {s['spread_bps']:8.2f} bps  {s['highest']} over {s['lowest']}"
        for s in found["spread"]
    ]
    lines.append("largest 1 s returns:")
    lines += [f"  {r['at']}  {r['return_bps']:+8.2f} bps  {r['venue']}" for r in found["return"]]
    _write(args, "\n".join(lines))
    return 0


def _write(args: argparse.Namespace, text: str) -> None:
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
