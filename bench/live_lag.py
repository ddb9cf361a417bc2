"""Live tick-to-queryable lag: the simulator at a total trade rate, the daemon against it.

The simulator runs in a child process (its own core), the daemon in this one on the embedded
lake in a temp dir, for ``--seconds``. The lag of each trade is its commit time minus its venue
timestamp, as the daemon's ``schemahub_tick_to_commit_seconds`` histogram records it (a row is
queryable once its ``trades_unified`` commit lands). Percentiles are interpolated inside the
histogram's buckets, so they are approximate; the bucket bounds are printed too.

Run: ``.venv/bin/python bench/live_lag.py [--rate 5000] [--seconds 60] [--interval 10]``.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

from schemahub.config import Config
from schemahub.daemon.service import Daemon
from schemahub.sim import SimConfig, Simulator, sim_venue_overrides

SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
STREAMS = 3 * len(SYMBOLS)


def _simulator(rate_per_stream: float, conn: Any) -> None:
    async def serve() -> None:
        async with Simulator(SimConfig(symbols=SYMBOLS, rate_per_stream=rate_per_stream)) as sim:
            conn.send(sim_venue_overrides(sim))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told

    asyncio.run(serve())


def _quantile(bounds: tuple[float, ...], counts: list[int], q: float) -> float:
    """Linear interpolation inside the bucket that holds the q-quantile."""
    total = sum(counts)
    target, seen, lower = q * total, 0, 0.0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        if count and seen + count >= target:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (target - seen) / count
        seen += count
        lower = bound
    return lower


async def _run_daemon(overrides: dict, warehouse: Path, args: argparse.Namespace) -> dict:
    config = Config.model_validate(
        {
            "lake": {"warehouse": str(warehouse)},
            "flush": {"interval_seconds": args.interval},
            "venues": overrides,
            "http": {"port": 0},
        }
    )
    stop = asyncio.Event()
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run(stop))
    await asyncio.sleep(args.seconds)
    stop.set()
    await task
    hist = daemon.metrics.tick_to_commit_seconds
    counts = [sum(c[i] for c in hist.counts.values()) for i in range(len(hist.buckets) + 1)]
    trades = sum(counts)
    return {
        "rate_target": args.rate,
        "seconds": args.seconds,
        "flush_interval_s": args.interval,
        "trades_committed": trades,
        "trades_per_s_committed": round(trades / args.seconds, 1),
        "lag_p50_s": round(_quantile(hist.buckets, counts, 0.50), 3),
        "lag_p99_s": round(_quantile(hist.buckets, counts, 0.99), 3),
        "lag_target_s": args.interval + 2,
        "buckets": dict(zip([*map(str, hist.buckets), "+Inf"], counts, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5_000.0, help="trades a second, all venues")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0, help="flush.interval_seconds")
    args = parser.parse_args()
    ours, theirs = mp.Pipe()
    child = mp.get_context("spawn").Process(target=_simulator, args=(args.rate / STREAMS, theirs))
    child.start()
    try:
        overrides = ours.recv()
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="shlag-") as warehouse:
            result = asyncio.run(_run_daemon(overrides, Path(warehouse), args))
        result["wall_s"] = round(time.monotonic() - started, 1)
    finally:
        ours.send("stop")
        child.join(timeout=30)
    print(
        f"{result['trades_committed']:,} trades committed in {args.seconds:.0f} s "
        f"({result['trades_per_s_committed']:,.0f}/s); tick-to-commit p50 "
        f"{result['lag_p50_s']} s, p99 {result['lag_p99_s']} s (target <= {args.interval + 2} s)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
