"""``schemahub maintain``: compact closed partitions, expire snapshots, delete orphan files."""

from __future__ import annotations

import argparse

from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``maintain`` command."""
    parser = subparsers.add_parser(
        "maintain",
        help="compact small files, expire old snapshots, delete orphan files",
        description="Compact each day partition whose newest row is older than the horizon "
        "into a few large files sorted by symbol and time (one replace commit per partition; "
        "concurrent appends are kept), expire snapshots past lake.snapshot_retention_seconds "
        "(tags are kept) and delete unreferenced files older than lake.orphan_age_seconds.",
    )
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="T",
        help="only this table (repeatable; default: every table)",
    )
    parser.add_argument(
        "--horizon",
        default=None,
        metavar="DURATION",
        help="how old a partition's newest row must be to compact it (e.g. 6h, 1d; 0: every "
        "partition, today's included; default: lake.compaction_horizon_seconds, one day)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.set_defaults(handler=_maintain)


def _maintain(args: argparse.Namespace) -> int:
    from schemahub.jobs.maintain import maintain, options_from, report_lines
    from schemahub.jobs.timeref import parse_duration

    horizon = None if args.horizon is None else parse_duration(args.horizon, "--horizon")
    _, lake = lake_from(args)
    options = options_from(lake, horizon, tables=tuple(args.table), dry_run=args.dry_run)
    report = maintain(lake, options)
    for line in report_lines(report, dry_run=args.dry_run):
        print(line)
    return 2 if report.failed else 0
