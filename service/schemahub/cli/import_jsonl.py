"""``schemahub import-jsonl SOURCE``: land the original tool's JSONL history into the lake."""

from __future__ import annotations

import argparse

from schemahub.cli._common import lake_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import-jsonl`` command."""
    parser = subparsers.add_parser(
        "import-jsonl",
        help="land raw_<venue>_trades_*.jsonl objects into the raw tables and unify",
        description="Idempotent: trades the raw table already holds are not added again.",
    )
    parser.add_argument("source", help="s3://BUCKET/PREFIX or a local folder")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from schemahub.jobs.import_jsonl import import_jsonl
    from schemahub.s3 import endpoint_url

    config, lake = lake_from(args)
    report = import_jsonl(
        lake,
        args.source,
        config.mappings_path(),
        endpoint_url(config.s3.endpoint_url),
        config.s3.region,
    )
    for venue, lines in report.lines.items():
        print(f"{venue}: {lines} records read, {report.landed[venue]} new in raw_{venue}_trades")
    print(f"import done: {report.objects} objects; trades_unified +{report.unified} rows")
    return 0
