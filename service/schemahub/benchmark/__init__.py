"""``schemahub bench``: the daemon's pipeline replayed from a capture, and the comparison.

    summary = write_capture("binance.jsonl", "binance", 1_000_000)   # capture_gen
    report = run_bench("binance", "binance.jsonl", flush_rows=100_000)
    report.lines()     # human-readable figures
    report.figures()   # {"trades_per_s": ..., "peak_rss_bytes": ..., ...}

Module map: ``capture_gen`` (large captures from the simulator's tape), ``frames`` (reading a
capture in blocks), ``replay`` (the daemon's own path on a fresh lake), ``cryptofeed_cmp``
(cryptofeed's per-frame handler on the same trades), ``report`` (figures and the JSON line).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

# Imported by module, so that ``schemahub.benchmark.replay`` stays the module, not its function.
from schemahub.benchmark import cryptofeed_cmp, replay
from schemahub.benchmark.report import BenchReport, peak_rss_bytes

__all__ = ["BenchReport", "run_bench"]


def run_bench(
    venue: str,
    capture: str | Path,
    flush_rows: int,
    *,
    commit: bool = True,
    cryptofeed: bool = True,
    one_cpu: bool = True,
) -> BenchReport:
    """Replay ``capture`` through the daemon's pipeline, then (if asked and installed) time
    cryptofeed on the same frames. Peak RSS is taken before cryptofeed runs.

    With ``one_cpu`` (the default) both run pinned to one CPU, threads included (the commit
    worker and pyarrow's writers), so the figures compare the work of one core each."""
    with on_one_cpu(one_cpu) as cpus:
        pipeline = replay.replay(venue, capture, flush_rows, commit=commit)
        rss = peak_rss_bytes()
        theirs = cryptofeed_cmp.run_cryptofeed(venue, capture) if cryptofeed else None
    return BenchReport(pipeline, rss, theirs, cpus)


@contextlib.contextmanager
def on_one_cpu(wanted: bool) -> Iterator[int | None]:
    """Pin this thread, and the threads it starts meanwhile, to one CPU for the block; yields
    how many CPUs the block may use (None where the OS does not say)."""
    if not hasattr(os, "sched_getaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    if not wanted:
        yield len(allowed)
        return
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield 1
    finally:
        os.sched_setaffinity(0, allowed)
