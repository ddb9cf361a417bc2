"""``schemahub update-seed``: refresh the product list of the original tool's seed file."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from schemahub.cli._batch import add_venue, open_history
from schemahub.cli._common import config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``update-seed`` command."""
    parser = subparsers.add_parser(
        "update-seed",
        help="refresh the product id seed file from the venue's product list",
        description="Without --write nothing is written and the added/removed ids are printed.",
    )
    parser.add_argument(
        "--path",
        default=None,
        help="seed file (default config/mappings/product_ids_seed.yaml; "
        "product_ids_seed_<venue>.yaml for other venues)",
    )
    parser.add_argument("--fetch", action="store_true", help="fetch the venue's product list")
    parser.add_argument("--write", action="store_true", help="write the seed file")
    parser.add_argument("--merge", action="store_true", help="keep ids already in the file")
    parser.add_argument("--filter-regex", default=None, help="keep only ids matching this")
    parser.add_argument("--dry-run", action="store_true", help="print, never write")
    add_venue(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from schemahub.jobs.seed import combine, default_seed_path, read_seed, write_seed

    config = config_from(args)
    path = Path(args.path) if args.path else default_seed_path(args.venue)
    old = read_seed(path) if path.exists() else []
    fetched = asyncio.run(_fetch(config, args.venue)) if args.fetch else None
    change = combine(old, fetched, args.merge, args.filter_regex)
    print(f"{path}: {len(old)} -> {len(change.ids)} product ids")
    for product in change.added:
        print(f"  + {product}")
    for product in change.removed:
        print(f"  - {product}")
    if args.write and not args.dry_run:
        source = f"{args.venue} {'products' if args.fetch else 'seed'}"
        write_seed(path, change.ids, source)
        print(f"wrote {path}")
    else:
        print("nothing written (use --write)" if not args.dry_run else "dry run: nothing written")
    return 0


async def _fetch(config, venue: str) -> list[str]:
    from schemahub.jobs.seed import fetch_products

    async with open_history(config, venue) as history:
        return await fetch_products(history, venue)
