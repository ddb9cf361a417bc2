"""``schemahub tag``: name a snapshot so expiry and compaction keep it readable."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from schemahub.cli._common import lake_from
from schemahub.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tag`` command."""
    parser = subparsers.add_parser(
        "tag",
        help="tag a snapshot (kept by expiry), list or delete tags",
        description="Tag the current snapshot of a table, or the one given by --snapshot or "
        "current at --at; a tagged snapshot is never expired and `schemahub query --as-of NAME` "
        "reads it.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the tag to create")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--snapshot", type=int, metavar="ID", help="tag this snapshot id")
    which.add_argument("--at", metavar="TIMESTAMP", help="tag the snapshot current then (ISO)")
    parser.add_argument(
        "--table", default="trades_unified", metavar="T", help="default: trades_unified"
    )
    parser.add_argument("--list", action="store_true", help="list the table's tags")
    parser.add_argument("--delete", metavar="NAME", help="delete this tag")
    parser.set_defaults(handler=_tag)


def _tag(args: argparse.Namespace) -> int:
    from schemahub.jobs.timeref import parse_moment
    from schemahub.lake.tags import create_tag, delete_tag, list_tags, snapshot_at

    actions = sum([bool(args.name), args.list, args.delete is not None])
    if actions != 1:
        raise UsageError("give exactly one of NAME, --list or --delete NAME")
    if (args.snapshot is not None or args.at) and not args.name:
        raise UsageError("--snapshot and --at choose the snapshot for a new tag NAME")
    _, lake = lake_from(args)
    table = lake.table(args.table)
    if args.list:
        for tag in list_tags(table):
            print(f"{tag.name}\t{tag.snapshot_id}\t{_when(tag.committed_at_ms)}")
        return 0
    if args.delete is not None:
        delete_tag(table, args.delete)
        print(f"deleted tag {args.delete} of {lake.namespace}.{args.table}")
        return 0
    snapshot = args.snapshot
    if args.at:
        snapshot = snapshot_at(table, parse_moment(args.at, "--at"))
    tag = create_tag(table, args.name, snapshot)
    print(f"tagged snapshot {tag.snapshot_id} of {tag.table} as {tag.name}")
    return 0


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
