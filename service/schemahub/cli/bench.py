"""``schemahub bench --venue V CAPTURE``: replay a capture through the daemon's pipeline.

Prints human-readable figures, then exactly one JSON object as the last line of stdout.
Generate a large capture first with ``bench/make_capture.py`` (or ``--make-capture N``).
"""

from __future__ import annotations

import argparse
import logging
import sys

import orjson

from schemahub import registry
from schemahub.config import FlushConfig

DEFAULT_FLUSH_ROWS = FlushConfig.model_fields["max_rows"].default  # the shipped flush.max_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    parser = subparsers.add_parser(
        "bench",
        help="replay a capture through decode -> sequence -> buffer -> commit and time it",
        description=(
            "Replays the capture's received frames through the daemon's own path on a fresh "
            "embedded lake in a temp dir, then times cryptofeed's handler on the same frames "
            "(when installed). The last line of stdout is one JSON object."
        ),
    )
    parser.add_argument("capture", metavar="CAPTURE_FILE", help="capture file (JSON lines)")
    parser.add_argument("--venue", required=True, choices=registry.BUILTIN_NAMES, help="its venue")
    parser.add_argument(
        "--flush-rows",
        type=int,
        default=DEFAULT_FLUSH_ROWS,
        help=f"flush.max_rows: rows buffered before a flush (default {DEFAULT_FLUSH_ROWS:,})",
    )
    parser.add_argument(
        "--no-commit",
        action="store_true",
        help="drain and map at each flush but write nothing to the lake",
    )
    parser.add_argument(
        "--no-cryptofeed", action="store_true", help="skip the cryptofeed comparison"
    )
    parser.add_argument(
        "--all-cpus",
        action="store_true",
        help="let the run use every CPU (default: pinned to one, threads included)",
    )
    parser.add_argument(
        "--make-capture",
        type=int,
        metavar="TRADES",
        default=None,
        help="first (over)write CAPTURE_FILE with this many simulated trades of the venue",
    )
    parser.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from schemahub.benchmark import run_bench
    from schemahub.benchmark.capture_gen import write_capture
    from schemahub.errors import UsageError

    if args.flush_rows < 1:
        raise UsageError(f"--flush-rows {args.flush_rows}: expected a number of rows >= 1")
    if args.make_capture is not None:
        summary = write_capture(args.capture, args.venue, args.make_capture)
        print(
            f"wrote {summary.path}: {summary.trades:,} trades in {summary.frames:,} frames, "
            f"{summary.bytes / 2**20:.1f} MiB"
        )
    # One log line per flush would interleave with the figures; warnings still show.
    logging.getLogger("schemahub.daemon").setLevel(logging.WARNING)
    report = run_bench(
        args.venue,
        args.capture,
        args.flush_rows,
        commit=not args.no_commit,
        cryptofeed=not args.no_cryptofeed,
        one_cpu=not args.all_cpus,
    )
    for line in report.lines():
        print(line)
    sys.stdout.write(orjson.dumps(report.figures()).decode() + "\n")
    return 0
