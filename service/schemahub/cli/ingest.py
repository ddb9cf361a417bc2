"""``schemahub ingest [PRODUCT]``: every trade since the last run, per product."""

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
    trade_id_arg,
)
from schemahub.cli._common import config_from


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` command."""
    parser = subparsers.add_parser(
        "ingest",
        help="fetch every trade newer than each product's watermark",
        description="Resumes from {s3_prefix}/ingest_checkpoints/{product_id}.json.",
    )
    parser.add_argument("product", nargs="?", default=None, help="one product (default: seed)")
    parser.add_argument("--seed-path", default=None, help="seed file of product ids")
    parser.add_argument(
        "--limit", type=positive_int, default=100, help="trades a request (venue maximum 1000)"
    )
    parser.add_argument("--before", type=trade_id_arg, default=None, help="only ids below this")
    parser.add_argument("--after", type=trade_id_arg, default=None, help="only ids above this")
    add_s3(parser)
    parser.add_argument(
        "--skip-checkpoint", action="store_true", help="ignore the watermark (read or write)"
    )
    add_venue(parser)
    parser.set_defaults(handler=_run, parser=parser)


def _run(args: argparse.Namespace) -> int:
    if args.before is not None and args.after is not None and args.before <= args.after + 1:
        args.parser.error(
            f"--before {args.before} must be above --after {args.after} + 1 (no id between)"
        )
    config = config_from(args)
    wanted = products(args, args.product)
    sink = open_sink(args, config, "ingest", "ingest_checkpoints", local_checkpoints=False)
    if args.skip_checkpoint:
        sink = _NoCheckpoint(sink)
    return asyncio.run(_ingest(args, config, wanted, sink))


async def _ingest(args, config, wanted, sink) -> int:
    from schemahub.jobs.ingest import IngestOptions, run_ingest
    from schemahub.jobs.progress import Progress

    options = IngestOptions(
        args.venue, wanted, args.limit, args.after, args.before, args.skip_checkpoint
    )
    async with open_history(config, args.venue) as history:
        progress = Progress(f"ingest {args.venue}")
        try:
            report = await run_ingest(history, sink, options, progress)
        finally:
            progress.close()
        requests = history.client.requests
    ending = await asyncio.to_thread(sink.finish)
    for product, count in report.trades.items():
        print(f"{product}: {count} new trades")
    print(f"ingest done: {report.chunks} chunks, {requests} requests; {ending}")
    return 0


class _NoCheckpoint:
    """A sink that neither reads nor moves the watermark (``--skip-checkpoint``)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def checkpoint(self, product):
        return None

    def anchor(self, product, checkpoint) -> None:
        return None

    def write_chunk(self, product, chunk, checkpoint) -> None:
        self.inner.write_chunk(product, chunk, None)

    def finish(self) -> str:
        return self.inner.finish()
