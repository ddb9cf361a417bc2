"""How close ``gap-fill`` gets to the venues' REST ceiling (requests/s x 1,000 trades a page).

``run ingest`` starts every stream at the venue's newest trade (stream state committed); the
venues trade on at ``--rate`` trades/s a stream for ``--seconds``; then ``gap-fill`` fetches
the tails. Prints, per venue, ids, requests and seconds, and the ceiling our client's limiter
allows. Run: ``python bench/gapfill_rate.py`` (about a minute; Kraken's 1 request/s dominates).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from schemahub.config import Config
from schemahub.jobs.gapfill import FillRequest, gap_fill
from schemahub.jobs.run_ingest import run_ingest
from schemahub.lake import Lake
from schemahub.sim import SimConfig, Simulator, sim_venue_overrides


async def main(rate: float, seconds: float) -> None:
    folder = Path(tempfile.mkdtemp())
    async with Simulator(SimConfig(seed=7, rate_per_stream=rate)) as sim:
        config = Config.model_validate(
            {"lake": {"warehouse": str(folder / "warehouse")}, "venues": sim_venue_overrides(sim)}
        )
        lake = Lake(config.lake)
        lake.init()
        await asyncio.to_thread(run_ingest, lake, config, list(config.venues.enabled()))
        await asyncio.sleep(seconds)
        sim.pause()
        started = time.monotonic()
        report = await asyncio.to_thread(gap_fill, lake, config, FillRequest(), progress=False)
        elapsed = time.monotonic() - started
    assert report.complete, report.still_missing
    print(f"gap-fill: {report.found} ids in {elapsed:.1f} s ({report.found / elapsed:,.0f} ids/s)")
    for estimate in report.estimates:
        print(
            f"  {estimate.venue}: {estimate.ids} ids, {estimate.requests} requests planned, "
            f"{estimate.seconds:.1f} s at our limiter's rate"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    options = parser.parse_args()
    asyncio.run(main(options.rate, options.seconds))
