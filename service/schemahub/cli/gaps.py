"""``schemahub gaps``: the missing trades of each stream (state, and with --audit the data)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from schemahub.cli._common import lake_from

if TYPE_CHECKING:
    from schemahub.jobs.gaps import GapsReport
    from schemahub.sequencing import StreamState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gaps`` command."""
    parser = subparsers.add_parser(
        "gaps",
        help="list open gaps and lost ids (--audit: also scan the table and ask the venues)",
    )
    add_stream_options(parser)
    parser.add_argument(
        "--audit",
        action="store_true",
        help="also scan trades_unified's ids over --since..--until for holes the state does not "
        "know, and ask each venue for trades above the committed high-water mark",
    )
    add_window_options(parser)
    add_format_option(parser)
    parser.set_defaults(handler=_gaps)


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    """``--venue`` and ``--symbol`` (checked against the config and the committed state)."""
    parser.add_argument(
        "--venue", metavar="V", help="binance, coinbase or kraken (default: every venue)"
    )
    parser.add_argument(
        "--symbol", metavar="S", help="a stream's symbol as the venue names it, e.g. BTCUSDT"
    )


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--since`` and ``--until`` (ISO 8601 or epoch seconds)."""
    parser.add_argument(
        "--since", metavar="T", help="window start: ISO 8601 (2026-12-07T05:00:00Z) or epoch secs"
    )
    parser.add_argument("--until", metavar="T", help="window end (default: now)")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """``--format table|json``."""
    parser.add_argument("--format", choices=["table", "json"], default="table")


def _gaps(args: argparse.Namespace) -> int:
    from schemahub.errors import UsageError
    from schemahub.jobs.gaps import find_gaps
    from schemahub.jobs.scope import time_window

    window = time_window(args.since, args.until)
    if args.audit and window is None:
        raise UsageError("--audit needs --since (and optionally --until): the window to scan")
    if window is not None and not args.audit:
        raise UsageError("--since/--until only apply with --audit")
    config, lake = lake_from(args)
    report = find_gaps(lake, config, args.venue, args.symbol, window)
    print(_json(report) if args.format == "json" else _table(report))
    return 0


def _json(report: GapsReport) -> str:
    streams = [
        {
            "venue": key.exchange,
            "symbol": key.symbol,
            "high_water": state.high_water if state else None,
            "open_gaps": [list(g) for g in state.gaps] if state else [],
            "lost": [list(g) for g in state.lost] if state else [],
            "owed_since": _owed_since(state),
        }
        for key in report.streams
        for state in [report.states.get(key)]
    ]
    entries = [
        {
            "venue": e.venue,
            "symbol": e.symbol,
            "kind": e.kind,
            "first_id": e.first_id,
            "last_id": e.last_id,
            "ids": e.ids,
        }
        for e in report.entries
    ]
    window = report.window
    audit = None
    if window is not None:
        audit = {"since": window.since.isoformat(), "until": window.until.isoformat()}
    body = {"streams": streams, "entries": entries, "audit": audit, "problems": report.problems}
    return orjson.dumps(body).decode()


def _owed_since(state: StreamState | None) -> str | None:
    """When a stream without a first id yet is owed from (ISO 8601), else None."""
    if state is None or state.owed_since is None:
        return None
    return datetime.fromtimestamp(state.owed_since, UTC).isoformat().replace("+00:00", "Z")


def _table(report: GapsReport) -> str:
    header = ("VENUE", "SYMBOL", "KIND", "FIRST_ID", "LAST_ID", "IDS")
    lines = ["{:<9} {:<12} {:<5} {:>14} {:>14} {:>10}".format(*header)]
    for e in report.entries:
        lines.append(
            f"{e.venue:<9} {e.symbol:<12} {e.kind:<5} {e.first_id:>14} {e.last_id:>14} {e.ids:>10}"
        )
    summary = []
    for kind, words in (
        ("gap", "open gaps"),
        ("lost", "lost ranges"),
        ("hole", "holes the state does not know"),
        ("tail", "streams behind the venue"),
    ):
        if kind in ("hole", "tail") and report.window is None:
            continue
        count, ids = report.count(kind)
        summary.append(f"{count} {words} ({ids} ids)")
    lines.append(f"{len(report.streams)} streams: " + ", ".join(summary))
    owed = [key for key, state in report.states.items() if state.owed_since is not None]
    if owed:
        lines.append(
            f"{len(owed)} streams owed from their subscription, first id not known yet (the "
            "daemon asks the venue when it runs): " + ", ".join(f"{v}/{s}" for v, s in owed[:5])
        )
    lines.extend(f"could not check: {problem}" for problem in report.problems)
    return "\n".join(lines)
