"""``schemahub tables init``: create or evolve the tables of the design."""

from __future__ import annotations

import argparse

from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tables`` command."""
    parser = subparsers.add_parser("tables", help="manage the Iceberg tables")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", help="create the namespace and tables; add columns new mappings need"
    )
    init.set_defaults(handler=_init)
    listing = actions.add_parser(
        "list", help="each table with its row count and current metadata file"
    )
    listing.set_defaults(handler=_list)


def _init(args: argparse.Namespace) -> int:
    from schemahub.lake.mapped import init_all

    config, lake = lake_from(args)
    changes = init_all(lake, config.mappings_path())
    for name, change in changes.items():
        print(f"{lake.namespace}.{name}: {change.value}")
    return 0


def _list(args: argparse.Namespace) -> int:
    _, lake = lake_from(args)
    for identifier in sorted(lake.catalog.list_tables(lake.namespace)):
        table = lake.catalog.load_table(identifier)
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot else None
        rows = summary["total-records"] if summary and summary["total-records"] else "0"
        print(f"{'.'.join(identifier)}\t{rows} rows\t{table.metadata_location}")
    return 0
