"""Per-trade CPU time of each part of the daemon's path: take, decode, on_batch, flush.

Run: ``.venv/bin/python bench/hot_path_parts.py --venue binance CAPTURE``.
Builds the same fresh daemon and connection as ``schemahub bench`` and replays the capture in
the connection's bursts, timing separately (in the full loop, so each part pays the cache
pressure of the others): ``Connection.take`` per frame, ``decode_batch`` per burst,
``Ingest.on_batch`` (sequencer + raw buffer) per burst, and each flush (drain + commits).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from schemahub.benchmark import on_one_cpu
from schemahub.benchmark.frames import frame_blocks
from schemahub.benchmark.replay import BenchDaemon, bench_connection, fresh_daemon
from schemahub.decode.batch import decode_batch
from schemahub.registry import BUILTIN_NAMES
from schemahub.venues.connection import BURST_FRAMES, Connection
from schemahub.venues.events import ReceivedBatch

FLUSH_ROWS = 500_000  # the shipped flush.max_rows
PARTS = ("take", "decode", "on_batch", "flush")


async def measure(bench: BenchDaemon, venue: str, capture: Path) -> dict[str, float]:
    """CPU seconds spent in each part over the whole capture, and the trades decoded."""
    daemon, ingest = bench.daemon, bench.daemon.ingest
    assert ingest is not None
    connection = bench_connection(daemon, venue, time.time)
    clock = time.process_time
    spent = dict.fromkeys(PARTS, 0.0) | {"trades": 0}
    timed = 0.0  # CPU of everything below except reading the capture file between blocks
    for block in frame_blocks(capture):
        began = clock()
        for frame in block:
            if connection.take(frame.text):
                await _deliver(bench, connection, spent)
        timed += clock() - began
    began = clock()
    await _deliver(bench, connection, spent)  # the last burst, then the stop's flush
    flushing = clock()
    await daemon.flush()
    spent["flush"] += clock() - flushing
    timed += clock() - began
    spent["take"] = timed - spent["decode"] - spent["on_batch"] - spent["flush"]
    return spent


async def _deliver(bench: BenchDaemon, connection: Connection, spent: dict[str, float]) -> None:
    """One burst, as ``Connection.deliver_burst`` hands it on, with each part timed; then the
    flush it asked for, if any."""
    daemon, ingest = bench.daemon, bench.daemon.ingest
    assert ingest is not None
    clock = time.process_time
    frames, times = connection.burst, connection.burst_at
    connection.burst, connection.burst_at, connection._burst_bytes = [], [], 0
    if not frames:
        return
    venue = connection.venue
    began = clock()
    batch = decode_batch(venue, frames)
    decoded = clock()
    await ingest.on_batch(ReceivedBatch(venue, "bench", times, list(map(len, frames)), batch))
    spent["decode"] += decoded - began
    spent["on_batch"] += clock() - decoded
    spent["trades"] += batch.trade_count
    if ingest.flush_requested.is_set():
        ingest.flush_requested.clear()
        began = clock()
        await daemon.flush()
        spent["flush"] += clock() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--venue", required=True, choices=BUILTIN_NAMES)
    args = parser.parse_args()
    with on_one_cpu(True), fresh_daemon(args.venue, FLUSH_ROWS) as bench:  # as schemahub bench
        spent = asyncio.run(measure(bench, args.venue, args.capture))
    trades = spent["trades"] or 1
    parts = {name: spent[name] / trades * 1e6 for name in PARTS}
    total = sum(parts.values())
    print(
        f"{args.venue}: {spent['trades']:,} trades in bursts of up to {BURST_FRAMES} frames; CPU "
        "per trade "
        + ", ".join(f"{name} {us:.2f} us" for name, us in parts.items())
        + f"; total {total:.2f} us ({1e6 / total:,.0f} trades per CPU second)"
    )


if __name__ == "__main__":
    main()
