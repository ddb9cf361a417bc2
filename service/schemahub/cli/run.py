"""``schemahub run unify|ingest|pipeline``: the coordinator's batch jobs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from schemahub.cli._common import config_from, lake_from
from schemahub.errors import UsageError

if TYPE_CHECKING:
    from schemahub.jobs.run_ingest import IngestReport
    from schemahub.jobs.unify import UnifyReport


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
    ingest = jobs.add_parser(
        "ingest", help="fetch each stream's trades since its committed high-water mark over REST"
    )
    ingest.add_argument("venues", nargs="+", metavar="VENUE", help="binance, coinbase, kraken")
    ingest.set_defaults(handler=_ingest)
    pipeline = jobs.add_parser("pipeline", help="run ingest (every enabled venue), then unify")
    pipeline.add_argument("target", nargs="?", default="trades_unified")
    pipeline.set_defaults(handler=_pipeline)


def _unify(args: argparse.Namespace) -> int:
    if args.emit_sql:
        return _emit_unify_sql(args)
    from schemahub.jobs.unify import run_unify

    config, lake = lake_from(args)
    _print_unify(args.target, run_unify(lake, config.mappings_path(), args.target, full=args.full))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from schemahub.jobs.run_ingest import run_ingest
    from schemahub.jobs.scope import check_venues

    check_venues(args.venues)
    config, lake = lake_from(args)
    _print_ingest(run_ingest(lake, config, args.venues))
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from schemahub.jobs.run_ingest import run_ingest
    from schemahub.jobs.unify import UNIFY_TARGETS, run_unify

    if args.target not in UNIFY_TARGETS:
        raise UsageError(f"unknown pipeline target {args.target!r}; expected {UNIFY_TARGETS}")
    config, lake = lake_from(args)
    _print_ingest(run_ingest(lake, config, list(config.venues.enabled())))
    _print_unify(args.target, run_unify(lake, config.mappings_path(), args.target))
    return 0


def _print_ingest(report: IngestReport) -> None:
    for key, (first, last) in sorted(report.ranges.items()):
        print(f"{key.exchange} {key.symbol}: ids {first}..{last}")
    lost = [r for r in report.run.results if r.reason]
    for result in lost:
        print(f"{result.venue} {result.symbol}: not all fetched: {result.reason}")
    print(
        f"run ingest: {report.trades} trades fetched from {len(report.ranges)} streams "
        f"in {report.run.requests} requests, {report.run.commits} commit(s)"
    )


def _print_unify(target: str, report: UnifyReport) -> None:
    read = ", ".join(f"{n} from {t}" for t, n in report.read.items()) or "nothing new"
    print(
        f"{target}: read {read}; wrote {report.written} rows, "
        f"dropped {report.duplicates} duplicates, quarantined {report.rejected}"
    )


def _emit_unify_sql(args: argparse.Namespace) -> int:
    """Print the unify job as Spark SQL, generated from the same mappings."""
    from schemahub.jobs.unify_sql import SqlNames, unify_merge_sql

    if args.full:
        raise UsageError("--emit-sql merges new rows; it cannot be combined with --full")
    config = config_from(args)
    names = SqlNames(args.spark_catalog or config.lake.catalog.name, config.lake.namespace)
    print(unify_merge_sql(config.mappings_path(), names, args.target))
    return 0
