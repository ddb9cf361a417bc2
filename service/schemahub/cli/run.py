"""``schemahub run unify TABLE``: the seed tool's batch jobs."""

from __future__ import annotations

import argparse

from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    parser = subparsers.add_parser("run", help="run a batch job")
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    unify = jobs.add_parser("unify", help="map new raw rows into the unified table")
    unify.add_argument("target", nargs="?", default="trades_unified")
    unify.add_argument("--full", action="store_true", help="rebuild the table from the raw tables")
    unify.set_defaults(handler=_unify)


def _unify(args: argparse.Namespace) -> int:
    from schemahub.jobs.unify import run_unify

    config, lake = lake_from(args)
    report = run_unify(lake, config.mappings_path(), args.target, full=args.full)
    read = ", ".join(f"{n} from {t}" for t, n in report.read.items()) or "nothing new"
    print(
        f"{args.target}: read {read}; wrote {report.written} rows, "
        f"dropped {report.duplicates} duplicates, quarantined {report.rejected}"
    )
    return 0
