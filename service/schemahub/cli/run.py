"""``schemahub run unify TABLE``: the seed tool's batch jobs."""

from __future__ import annotations

import argparse

from schemahub.cli._common import config_from, lake_from
from schemahub.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    parser = subparsers.add_parser("run", help="run a batch job")
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    unify = jobs.add_parser("unify", help="map new raw rows into the unified table")
    unify.add_argument("target", nargs="?", default="trades_unified")
    unify.add_argument("--full", action="store_true", help="rebuild the table from the raw tables")
    unify.add_argument(
        "--emit-sql",
        choices=("spark",),
        help="print the job as one Spark SQL MERGE instead of running it (no lake access)",
    )
    unify.add_argument(
        "--spark-catalog",
        metavar="NAME",
        help="the Spark catalog holding the tables (default: lake.catalog.name)",
    )
    unify.set_defaults(handler=_unify)


def _unify(args: argparse.Namespace) -> int:
    if args.emit_sql:
        return _emit_unify_sql(args)
    from schemahub.jobs.unify import run_unify

    config, lake = lake_from(args)
    report = run_unify(lake, config.mappings_path(), args.target, full=args.full)
    read = ", ".join(f"{n} from {t}" for t, n in report.read.items()) or "nothing new"
    print(
        f"{args.target}: read {read}; wrote {report.written} rows, "
        f"dropped {report.duplicates} duplicates, quarantined {report.rejected}"
    )
    return 0


def _emit_unify_sql(args: argparse.Namespace) -> int:
    """Print the unify job as Spark SQL, generated from the same mappings."""
    from schemahub.jobs.unify_sql import SqlNames, unify_merge_sql

    if args.full:
        raise UsageError("--emit-sql merges new rows; it cannot be combined with --full")
    config = config_from(args)
    names = SqlNames(args.spark_catalog or config.lake.catalog.name, config.lake.namespace)
    print(unify_merge_sql(config.mappings_path(), names, args.target))
    return 0
