"""What the original tool's commands (``update-seed``, ``ingest``, ``backfill``) share:
argument types that refuse impossible values, the venue's REST client, products, sinks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from schemahub.config import VENUE_NAMES, Config
from schemahub.errors import UsageError

if TYPE_CHECKING:  # the command modules are imported for every command: keep them light
    from schemahub.jobs.sinks import ChunkSink
    from schemahub.s3 import Bucket
    from schemahub.venues.rest import VenueHistory


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``, refused with what it should have been."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not allowed: expected {what}")
        return value

    return parse


positive_int = _int_at_least(1, "an integer >= 1")
trade_id_arg = _int_at_least(0, "a trade id (an integer >= 0)")


def add_venue(parser: argparse.ArgumentParser) -> None:
    """``--venue`` (default coinbase, as the original tool only knew Coinbase)."""
    parser.add_argument(
        "--venue", choices=VENUE_NAMES, default="coinbase", help="default: coinbase"
    )


def add_s3(parser: argparse.ArgumentParser) -> None:
    """``--s3-bucket`` and ``--s3-prefix``."""
    parser.add_argument(
        "--s3-bucket", default=None, help="write JSONL objects here (default: the Iceberg lake)"
    )
    parser.add_argument(
        "--s3-prefix",
        default=None,
        help="key prefix (default: schemahub/raw_<venue>_trades)",
    )


def s3_prefix(args: argparse.Namespace) -> str:
    """The prefix given, or the original default for the venue."""
    return (args.s3_prefix or f"schemahub/raw_{args.venue}_trades").strip("/")


def products(args: argparse.Namespace, single: str | None = None) -> list[str]:
    """``single`` when given, else the seed file's products; each checked for the venue."""
    from schemahub.jobs.rawjsonl import validate_product
    from schemahub.jobs.seed import default_seed_path, read_seed

    if single is not None:
        return [validate_product(args.venue, single)]
    path = Path(args.seed_path) if args.seed_path else default_seed_path(args.venue)
    ids = read_seed(path)
    if not ids:
        raise UsageError(f"seed file {path} lists no products")
    return [validate_product(args.venue, p) for p in ids]


def open_history(config: Config, venue: str) -> VenueHistory:
    """The venue's REST client (limiter, Retry-After, backoff), at the configured URL."""
    from schemahub.venues import history_client

    return history_client(venue, getattr(config.venues, venue))


def open_bucket(config: Config, name: str) -> Bucket:
    """The bucket, checked now: missing, refused or unreachable is one line and exit 2."""
    from schemahub.s3 import Bucket, endpoint_url

    bucket = Bucket(name, endpoint_url(config.s3.endpoint_url), config.s3.region)
    bucket.check()
    return bucket


def open_sink(
    args: argparse.Namespace,
    config: Config,
    job: str,
    checkpoints_in: str,
    local_checkpoints: bool,
) -> ChunkSink:
    """An S3 sink (with checkpoints under ``checkpoints_in`` or in ``--state-dir``) when
    ``--s3-bucket`` is given, else the lake's raw table."""
    from schemahub.jobs.checkpoints import CheckpointStore, LocalCheckpoints, S3Checkpoints
    from schemahub.jobs.sinks import LakeSink, S3Sink

    with_count = job == "backfill"
    if not args.s3_bucket:
        from schemahub.lake import Lake

        create = not getattr(args, "dry_run", False)
        lake = Lake(config.lake, config.s3)
        return LakeSink(lake, args.venue, job, config.mappings_path(), with_count, create)
    bucket = open_bucket(config, args.s3_bucket)
    prefix = s3_prefix(args)
    store: CheckpointStore
    if local_checkpoints:
        store = LocalCheckpoints(args.state_dir, with_count=with_count)
    else:
        store = S3Checkpoints(bucket, f"{prefix}/{checkpoints_in}", with_count=with_count)
    return S3Sink(bucket, prefix, args.venue, job, store)
