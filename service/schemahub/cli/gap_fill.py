"""``schemahub gap-fill``: fetch the missing trade ids over REST and commit them.

Exit status: 0 when every id asked for is in trades_unified afterwards (or, with --dry-run,
when the plan was made); 3 when some are still missing (lost: the venue no longer serves them;
a REST failure; ids the venue does not hold yet), each listed with why; 2 for bad input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import orjson

from schemahub.cli._common import lake_from
from schemahub.cli.gaps import add_format_option, add_stream_options, add_window_options

if TYPE_CHECKING:
    from schemahub.jobs.gapfill import FillReport

EXIT_INCOMPLETE = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gap-fill`` command."""
    parser = subparsers.add_parser(
        "gap-fill",
        help="fetch missing trade ids over REST into the lake (exit 0: all filled, 3: not all)",
        description="Fetch the missing trade ids over REST through the daemon's path.",
        epilog="exit status: 0 every id asked for is in trades_unified (or the dry run printed "
        "its plan); 3 some are still missing (each listed with why); 2 bad input",
    )
    add_stream_options(parser)
    parser.add_argument(
        "--from-id", type=int, metavar="A", help="first id of a range (needs --venue, --symbol)"
    )
    parser.add_argument("--to-id", type=int, metavar="B", help="last id of the range (inclusive)")
    add_window_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (ids, requests, time); fetch nothing"
    )
    add_format_option(parser)
    parser.set_defaults(handler=_gap_fill)


def _gap_fill(args: argparse.Namespace) -> int:
    from schemahub.errors import UsageError
    from schemahub.jobs.gapfill import FillRequest, gap_fill
    from schemahub.jobs.scope import time_window

    if (args.from_id is None) != (args.to_id is None):
        raise UsageError("--from-id and --to-id go together (an inclusive id range)")
    id_range = (args.from_id, args.to_id) if args.from_id is not None else None
    request = FillRequest(args.venue, args.symbol, id_range, time_window(args.since, args.until))
    request.check()
    config, lake = lake_from(args)
    report = gap_fill(lake, config, request, dry_run=args.dry_run)
    print(_json(report, args.dry_run) if args.format == "json" else _text(report, args.dry_run))
    if args.dry_run or report.complete:
        return 0
    return EXIT_INCOMPLETE


def _streams(report: FillReport) -> list[dict]:
    out = []
    for plan in report.plans:
        out.append(
            {
                "venue": plan.key.exchange,
                "symbol": plan.key.symbol,
                "missing": [list(r) for r in plan.missing],
                "not_at_venue_yet": [list(r) for r in plan.not_yet],
                "still_missing": [list(r) for r in report.still_missing.get(plan.key, [])],
                "reasons": report.reasons.get(plan.key, []),
                "problem": plan.problem,
            }
        )
    return out


def _json(report: FillReport, dry_run: bool) -> str:
    run = report.run
    body = {
        "dry_run": dry_run,
        "found_ids": report.found,
        "fetched_ids": sum(r.fetched for r in run.results) if run else 0,
        "filled_ids": report.found - report.open_ids if run else 0,
        "still_open_ids": report.open_ids,
        "requests": run.requests if run else None,
        "complete": report.complete,
        "plan": [vars(e) for e in report.estimates],
        "streams": _streams(report),
    }
    return orjson.dumps(body).decode()


def _text(report: FillReport, dry_run: bool) -> str:
    lines = []
    gaps = sum(len(p.missing) + len(p.not_yet) for p in report.plans)
    lines.append(f"gaps found: {gaps} ({report.found} ids) in {len(report.plans)} streams")
    for plan in report.plans:
        if plan.problem:
            lines.append(f"  {plan.key.exchange} {plan.key.symbol}: not planned: {plan.problem}")
        for lo, hi in plan.missing:
            lines.append(f"  {plan.key.exchange} {plan.key.symbol} {lo}..{hi} ({hi - lo + 1} ids)")
        for lo, hi in plan.not_yet:
            lines.append(
                f"  {plan.key.exchange} {plan.key.symbol} {lo}..{hi}: above the venue's newest "
                "trade id (not traded yet)"
            )
    if dry_run:
        lines.append("plan (dry run, nothing fetched):")
        for e in report.estimates:
            lines.append(
                f"  {e.venue}: {e.ids} ids, about {e.requests} requests, "
                f"{e.seconds:.1f} s at the venue's rate limit"
            )
        return "\n".join(lines)
    run = report.run
    fetched = sum(r.fetched for r in run.results) if run else 0
    unplanned = sum(1 for p in report.plans if p.problem)
    lines.append(
        f"ids fetched: {fetched} in {run.requests if run else 0} requests; "
        f"filled: {report.found - report.open_ids}; still open: {report.open_ids}"
        + (f"; not planned: {unplanned} streams (venue not reachable)" if unplanned else "")
    )
    for key, left in report.still_missing.items():
        why = "; ".join(report.reasons.get(key, [])) or "the venue did not return them"
        for lo, hi in left:
            lines.append(f"  still open {key.exchange} {key.symbol} {lo}..{hi}: {why}")
    lines.append("all filled" if report.complete else "NOT all filled")
    return "\n".join(lines)
