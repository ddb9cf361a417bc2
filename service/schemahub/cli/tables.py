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


def _init(args: argparse.Namespace) -> int:
    from schemahub.jobs.tables import init_all

    config, lake = lake_from(args)
    changes = init_all(lake, config.mappings_path())
    for name, change in changes.items():
        print(f"{lake.namespace}.{name}: {change.value}")
    return 0
