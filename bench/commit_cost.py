"""CPU and wall time of ``Committer.commit`` for flushes of 100,000 rows, split into parts.

Run: ``.venv/bin/python bench/commit_cost.py [--venue V ...] [--captures DIR] [--rows N]``.

For each venue: a fresh daemon (``schemahub.benchmark.replay.fresh_daemon``) takes the frames of
``DIR/<venue>-<size>.jsonl`` through its normal per-frame path (decode, ``Ingest.accept``); each
time ``N`` rows are buffered, the buffers are drained into a :class:`PendingFlush` exactly as
``Daemon._enqueue_drain`` builds one, and ``daemon.committer.commit`` runs on it in this thread.
Each commit is timed whole and by part: raw commit, mapping, unified commit (offsets included),
quarantine commit (rejects only), watermarks mirror (forced on every flush here; the daemon
mirrors at most every 5 s). CPU is ``time.process_time()``, which counts every thread: pyiceberg
encodes Parquet in its own pool. Also printed: Parquet bytes per row each table received.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from schemahub.benchmark.frames import frame_blocks
from schemahub.benchmark.replay import BenchDaemon, fresh_daemon
from schemahub.daemon.committer import Committer, PendingFlush
from schemahub.decode import decoder_for
from schemahub.lake import QUARANTINE_TABLE, UNIFIED_TABLE
from schemahub.registry import BUILTIN_NAMES

PARTS = ("raw", "mapping", "unified", "quarantine", "watermarks")


@dataclass
class Timings:
    """CPU and wall seconds per part of each measured commit."""

    rows: list[int] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    file_bytes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


class _Clock:
    """Adds the CPU and wall time of wrapped calls to the part they belong to."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def wrap(self, part: Callable[..., str], fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                name = part(*args, **kwargs)
                self.cpu[name] += time.process_time() - cpu
                self.wall[name] += time.perf_counter() - wall

        return timed


def instrument(committer: Committer) -> _Clock:
    """Time the committer's parts by wrapping its bound methods on this instance only."""
    clock = _Clock()
    committer._map = clock.wrap(lambda *_: "mapping", committer._map)
    table_part = {UNIFIED_TABLE: "unified", QUARANTINE_TABLE: "quarantine"}
    committer._timed = clock.wrap(lambda name, *_: table_part.get(name, "raw"), committer._timed)
    mirror = committer._mirror_watermarks

    def always_mirror(offsets):
        committer._mirrored_at = 0.0  # measure the mirror on every flush
        return mirror(offsets)

    committer._mirror_watermarks = clock.wrap(lambda *_: "watermarks", always_mirror)
    return clock


def commit_one(bench: BenchDaemon, clock: _Clock, timings: Timings) -> None:
    """Drain the buffers as ``Daemon._enqueue_drain`` does and commit the flush, timed."""
    daemon = bench.daemon
    assert daemon.ingest is not None
    quarantine = daemon.ingest.take_quarantine()
    drained = daemon.buffers.drain()
    flush = PendingFlush(drained, daemon.sequencer.snapshot(), quarantine)
    clock.cpu.clear()
    clock.wall.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    daemon.committer.commit(flush)
    timings.cpu["total"].append(time.process_time() - cpu)
    timings.wall["total"].append(time.perf_counter() - wall)
    for part in PARTS:
        timings.cpu[part].append(clock.cpu[part])
        timings.wall[part].append(clock.wall[part])
    timings.rows.append(drained.rows)
    daemon.buffers.release(drained)
    for name in (*drained.tables, UNIFIED_TABLE):  # untimed: what the flush wrote, in bytes
        summary = daemon.lake.table(name).current_snapshot().summary
        timings.file_bytes[name].append(int(summary["added-files-size"]))


async def fill_and_commit(
    venue: str, capture: Path, rows: int, flushes: int, warmup_rows: int
) -> Timings:
    """Replay ``capture`` through a fresh daemon, committing every ``rows`` buffered rows, at
    most ``flushes`` times, after one untimed commit of ``warmup_rows`` rows (first-call costs:
    imports, caches, table creation on the first append)."""
    timings, warmup = Timings(), Timings()
    # flush.max_rows above the block size: the flag is ignored and draining is ours.
    with fresh_daemon(venue, rows * 2) as bench:
        daemon = bench.daemon
        ingest = daemon.ingest
        assert ingest is not None
        clock = instrument(daemon.committer)
        decode = decoder_for(venue).decode_frame
        keep = daemon.KEEP_PAYLOAD
        for block in frame_blocks(capture):
            for frame in block:
                decoded = decode(frame.text, keep)
                ingest.accept(venue, decoded, f"ws:{venue}/bench", frame.received_at, live=True)
                await ingest.wait_for_room()
                if not warmup.rows and daemon.buffers.buffered_rows >= warmup_rows:
                    commit_one(bench, clock, warmup)
                elif daemon.buffers.buffered_rows >= rows:
                    commit_one(bench, clock, timings)
                    if len(timings.rows) >= flushes:
                        return timings
    return timings


def report(venue: str, timings: Timings) -> None:
    """One line per flush, then the median per row of each part."""
    for i, rows in enumerate(timings.rows):
        parts = ", ".join(
            f"{p} {timings.cpu[p][i] * 1e3:.0f}/{timings.wall[p][i] * 1e3:.0f}"
            for p in (*PARTS, "total")
        )
        print(f"  {venue} flush {i + 1}: {rows:,} rows; ms cpu/wall: {parts}")
    if not timings.rows:
        print(f"  {venue}: capture too small for one flush")
        return
    per_row = {
        p: (
            statistics.median(c / r for c, r in zip(timings.cpu[p], timings.rows, strict=True)),
            statistics.median(w / r for w, r in zip(timings.wall[p], timings.rows, strict=True)),
        )
        for p in (*PARTS, "total")
    }
    print(
        f"{venue}: us per row (median of {len(timings.rows)} flushes), cpu/wall: "
        + ", ".join(f"{p} {c * 1e6:.2f}/{w * 1e6:.2f}" for p, (c, w) in per_row.items())
    )
    sizes = {name: sum(b) / sum(timings.rows) for name, b in timings.file_bytes.items()}
    print(f"{venue}: Parquet bytes per row: " + ", ".join(f"{n} {b:.1f}" for n, b in sizes.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venue", action="append", choices=BUILTIN_NAMES)
    parser.add_argument("--captures", type=Path, default=Path("/tmp/shbench"))
    parser.add_argument("--size", default="1m", help="capture name suffix: <venue>-<size>.jsonl")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per flush")
    parser.add_argument("--flushes", type=int, default=5, help="timed flushes per venue")
    parser.add_argument("--warmup-rows", type=int, default=2_000, help="untimed first flush")
    args = parser.parse_args()
    for venue in args.venue or BUILTIN_NAMES:
        capture = args.captures / f"{venue}-{args.size}.jsonl"
        run = fill_and_commit(venue, capture, args.rows, args.flushes, args.warmup_rows)
        timings = asyncio.run(run)
        report(venue, timings)


if __name__ == "__main__":
    main()
