"""``schemahub sim``: run the offline venue simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from schemahub.registry import BUILTIN_NAMES

log = logging.getLogger("schemahub.sim")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sim`` command."""
    from schemahub.sim.faults import FAULT_PRESETS

    parser = subparsers.add_parser(
        "sim",
        help="serve Binance/Coinbase/Kraken-compatible endpoints on 127.0.0.1",
        description="Binance on PORT_BASE, Coinbase on PORT_BASE+1, Kraken on PORT_BASE+2.",
    )
    parser.add_argument("--port-base", type=int, default=9100, help="0 picks free ports")
    parser.add_argument(
        "--symbols", default="BTC,ETH", help="base assets listed on every venue (BTC,ETH,SOL)"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="trades a second per stream")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=[*FAULT_PRESETS, "all"],
        help="switch a fault on (repeatable)",
    )
    parser.add_argument(
        "--history-limit", type=int, default=None, help="REST keeps this many trades a stream"
    )
    parser.add_argument(
        "--history-seconds",
        type=float,
        default=0.0,
        help="start the tape this many seconds in the past (REST history from the start)",
    )
    parser.add_argument(
        "--lag",
        action="append",
        default=[],
        metavar="VENUE=MS",
        help="how late VENUE sees the shared price path (default binance=0 coinbase=80 kraken=150)",
    )
    parser.add_argument(
        "--truth-out", default=None, help="write the ground truth here on stop (.parquet or jsonl)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from schemahub.errors import UsageError
    from schemahub.sim import SimConfig, faults_from_names

    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    if args.rate < 0:
        raise UsageError(f"--rate {args.rate}: expected a number of trades a second >= 0")
    config = SimConfig(
        lags_ms=_lags(args.lag),
        port_base=args.port_base,
        symbols=symbols,
        rate_per_stream=args.rate,
        seed=args.seed,
        faults=faults_from_names(args.fault),
        history_limit=args.history_limit,
        history_seconds=max(0.0, args.history_seconds),
    )
    asyncio.run(_serve(config, args.truth_out))
    return 0


def _lags(given: list[str]) -> dict[str, int]:
    """The default venue lags with ``VENUE=MS`` overrides."""
    from schemahub.errors import UsageError
    from schemahub.sim.server import DEFAULT_LAGS_MS

    lags = dict(DEFAULT_LAGS_MS)
    for item in given:
        venue, _, ms = item.partition("=")
        if venue not in lags or not ms.isdigit():
            raise UsageError(
                f"--lag {item!r}: expected VENUE=MS with VENUE one of {', '.join(lags)} and MS "
                "a whole number of milliseconds >= 0"
            )
        lags[venue] = int(ms)
    return lags


async def _serve(config: object, truth_out: str | None) -> None:
    from schemahub.sim import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = Simulator(config)  # type: ignore[arg-type]
    await sim.start()
    try:
        for venue in BUILTIN_NAMES:  # the simulator serves the product venues
            log.info(
                "simulated venue ready",
                extra={
                    "venue": venue,
                    "ws_url": sim.ws_url(venue),
                    "rest_url": sim.rest_url(venue),
                },
            )
        await stop.wait()
    finally:
        await sim.stop()
        if truth_out:
            path = sim.write_ground_truth(truth_out)
            log.info(
                "ground truth written",
                extra={"path": str(path), "rows": sim.ground_truth().num_rows},
            )
        log.info("simulator stopped", extra={"stats": sim.stats().to_dict()})
