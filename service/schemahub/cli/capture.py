"""``schemahub capture load VENUE FILE...``: land recorded frames into a raw table."""

from __future__ import annotations

import argparse

from schemahub import registry
from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``capture`` command."""
    parser = subparsers.add_parser("capture", help="work with capture files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("load", help="decode capture files into the venue's raw table")
    load.add_argument("venue", choices=registry.names())
    load.add_argument("files", nargs="+", metavar="FILE")
    load.set_defaults(handler=_load)


def _load(args: argparse.Namespace) -> int:
    from schemahub.jobs.capture_load import load_captures

    _, lake = lake_from(args)
    for report in load_captures(lake, args.venue, args.files):
        if report.already_loaded:
            print(f"{report.path}: already loaded, nothing added")
            continue
        refused = sum(report.problems.values())
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(report.problems.items()))
        print(
            f"{report.path}: {report.frames} frames, {report.trades} trades landed, "
            f"{report.control_frames} control frames, {refused} quarantined"
            + (f" ({detail})" if detail else "")
        )
    return 0
