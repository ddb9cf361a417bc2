"""Per-trade time of each part of the daemon's path: decode, ``Ingest.on_frame``, flush.

Run: ``.venv/bin/python bench/hot_path_parts.py --venue binance CAPTURE [--no-payload]``.
Builds the same fresh daemon as ``schemahub bench`` and replays the capture frame by frame,
timing the three parts separately in the full loop (so each part pays the cache pressure of
the others, as in the daemon). ``--no-payload`` decodes with ``keep_payload=False``, to show
what the sessions would save by not asking for ``_raw_payload``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from schemahub.benchmark.frames import frame_blocks
from schemahub.benchmark.replay import BenchDaemon, fresh_daemon
from schemahub.decode import decoder_for
from schemahub.venues.events import ReceivedFrame

FLUSH_ROWS = 100_000


async def measure(bench: BenchDaemon, venue: str, capture: Path, keep: bool) -> dict[str, float]:
    """Seconds spent in each part over the whole capture, and the trades decoded."""
    daemon, ingest = bench.daemon, bench.daemon.ingest
    assert ingest is not None
    decode = decoder_for(venue).decode_frame
    clock = time.perf_counter
    spent = {"decode": 0.0, "on_frame": 0.0, "flush": 0.0, "trades": 0}
    for block in frame_blocks(capture):
        for frame in block:
            started = clock()
            decoded = decode(frame.text, keep)
            decoded_at = clock()
            received = ReceivedFrame(venue, "bench", frame.received_at, len(frame.text), decoded)
            await ingest.on_frame(received)
            spent["decode"] += decoded_at - started
            spent["on_frame"] += clock() - decoded_at
            spent["trades"] += len(decoded.trades)
            if ingest.flush_requested.is_set():
                ingest.flush_requested.clear()
                started = clock()
                await daemon.flush()
                spent["flush"] += clock() - started
    started = clock()
    await daemon.flush()
    spent["flush"] += clock() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--venue", required=True, choices=["binance", "coinbase", "kraken"])
    parser.add_argument("--no-payload", action="store_true", help="decode with keep_payload=False")
    args = parser.parse_args()
    keep = not args.no_payload
    with fresh_daemon(args.venue, FLUSH_ROWS) as bench:
        spent = asyncio.run(measure(bench, args.venue, args.capture, keep))
    trades = spent["trades"] or 1
    parts = {name: spent[name] / trades * 1e6 for name in ("decode", "on_frame", "flush")}
    total = sum(parts.values())
    print(
        f"{args.venue} keep_payload={keep}: {spent['trades']:,} trades; per trade "
        + ", ".join(f"{name} {us:.2f} us" for name, us in parts.items())
        + f"; total {total:.2f} us ({1e6 / total:,.0f} trades/s)"
    )


if __name__ == "__main__":
    main()
