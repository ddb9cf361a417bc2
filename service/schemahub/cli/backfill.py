"""``schemahub backfill``: each seed product's history, newest to oldest, resumable."""

from __future__ import annotations

import argparse
import asyncio

from schemahub.cli._batch import (
    add_s3,
    add_venue,
    open_history,
    open_sink,
    positive_int,
    products,
)
from schemahub.cli._common import config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        help="fetch each product's history from the newest trade down to the oldest",
        description="Writes each chunk, then its checkpoint; rerun with --resume after a stop.",
    )
    parser.add_argument("--seed-path", default=None, help="seed file of product ids")
    parser.add_argument(
        "--chunk-size", type=positive_int, default=100, help="trades a request and a chunk"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="products fetched at the same time"
    )
    parser.add_argument("--resume", action="store_true", help="go on from the checkpoints")
    parser.add_argument(
        "--checkpoint-s3",
        action="store_true",
        help="keep checkpoints in S3 ({prefix}/checkpoints/) instead of --state-dir",
    )
    parser.add_argument("--state-dir", default="state", help="local checkpoints (default state)")
    add_s3(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (ranges, requests, time) only"
    )
    add_venue(parser)
    parser.set_defaults(handler=_run, parser=parser)


def _run(args: argparse.Namespace) -> int:
    if args.checkpoint_s3 and not args.s3_bucket:
        args.parser.error("--checkpoint-s3 needs --s3-bucket")
    config = config_from(args)
    wanted = products(args)
    sink = open_sink(
        args, config, "backfill", "checkpoints", local_checkpoints=not args.checkpoint_s3
    )
    return asyncio.run(_backfill(args, config, wanted, sink))


async def _backfill(args, config, wanted, sink) -> int:
    from schemahub.jobs.backfill import BackfillOptions, plan_backfill, run_backfill
    from schemahub.jobs.progress import Progress

    options = BackfillOptions(args.venue, wanted, args.chunk_size, args.workers, args.resume)
    async with open_history(config, args.venue) as history:
        if args.dry_run:
            plans = await plan_backfill(history, sink, options)
            _print_plan(plans, history.history_requests_per_second(), args.venue)
            return 0
        progress = Progress(f"backfill {args.venue}")
        try:
            report = await run_backfill(history, sink, options, progress)
        finally:
            progress.close()
    ending = await asyncio.to_thread(sink.finish)
    for product, count in report.trades.items():
        print(f"{product}: {count} trades")
    print(
        f"backfill done: {sum(report.trades.values())} trades in {report.chunks} chunks, "
        f"{report.requests} requests ({report.retries} retried); {ending}"
    )
    return 0


def _print_plan(plans, per_second: float, venue: str) -> None:
    total_requests = 0
    for plan in plans:
        total_requests += plan.requests
        if plan.oldest_id is None or plan.start_below is None:
            print(f"{plan.product}: unknown id range, {plan.requests} requests at least")
            continue
        print(
            f"{plan.product}: ids {plan.oldest_id}..{plan.start_below - 1} "
            f"({plan.trades} trades), {plan.requests} requests"
        )
    seconds = total_requests / per_second
    print(
        f"plan: {len(plans)} products, {total_requests} requests, about {seconds:.0f} s "
        f"at {venue}'s {per_second:g} requests/s; nothing written (dry run)"
    )
