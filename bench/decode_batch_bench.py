"""Time decode_batch (native and msgspec paths) against decode_frame on benchmark captures.

Not a test (no timing is asserted anywhere): run it by hand::

    taskset -c 1 .venv/bin/python bench/decode_batch_bench.py [--dir /tmp/shbench] [--size 200k]
        [--batch 1000] [--repeat 3] [--venues kraken ...] [--native-only]

Captures are ``<dir>/<venue>-<size>.jsonl`` (make them with ``bench/make_capture.py``). Frames
are read with :func:`schemahub.benchmark.frames.frame_blocks` before any timing; the garbage
collector stays on. Prints, per venue, the best of ``--repeat`` runs in microseconds per frame
and per trade, then one JSON line with every figure. ``batch_*`` figures are decode_batch as the
daemon runs it (the native parser when built), ``msgspec_*`` the same with ``native=False``.
``--native-only`` times decode_batch alone (the other two paths take most of the run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from schemahub.benchmark.frames import frame_blocks
from schemahub.decode import VENUES, decoder_for
from schemahub.decode.batch import NATIVE_AVAILABLE, decode_batch


def load(path: Path) -> list[str]:
    """Every received frame of the capture, as text."""
    return [frame.text for block in frame_blocks(path) for frame in block]


def time_batches(
    venue: str, frames: list[str], batch: int, native: bool = True
) -> tuple[float, int]:
    """(seconds, trades) to decode ``frames`` with decode_batch, ``batch`` frames a call."""
    trades = 0
    start = time.perf_counter()
    for first in range(0, len(frames), batch):
        trades += decode_batch(venue, frames[first : first + batch], native=native).trade_count
    return time.perf_counter() - start, trades


def time_frames(venue: str, frames: list[str]) -> float:
    """Seconds to decode ``frames`` one by one as the per-frame path does."""
    decode = decoder_for(venue).decode_frame
    start = time.perf_counter()
    for frame in frames:
        decode(frame, False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/shbench"))
    parser.add_argument("--size", default="200k", help="capture name: <venue>-<size>.jsonl")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venues", nargs="*", default=list(VENUES))
    parser.add_argument("--native-only", action="store_true", help="time decode_batch only")
    args = parser.parse_args()
    results = {}
    for venue in args.venues:
        frames = load(args.dir / f"{venue}-{args.size}.jsonl")
        results[venue] = figures = measure(venue, frames, args.batch, args.repeat, args.native_only)
        line = (
            f"{venue:9s} {figures['batch_us_per_frame']:7.3f} us/frame "
            f"{figures['batch_us_per_trade']:7.3f} us/trade"
        )
        if not args.native_only:
            line += (
                f" (msgspec {figures['msgspec_us_per_trade']:.3f} us/trade, decode_frame "
                f"{figures['per_frame_us_per_trade']:.3f} us/trade, x{figures['speedup']})"
            )
        print(line)
    print(json.dumps(results))


def measure(venue: str, frames: list[str], batch: int, repeat: int, native_only: bool) -> dict:
    """The figures of one venue: best of ``repeat`` runs of each path."""
    best_batch = min(time_batches(venue, frames, batch)[0] for _ in range(repeat))
    trades = time_batches(venue, frames, batch)[1]
    figures = {
        "frames": len(frames),
        "trades": trades,
        "batch_us_per_frame": round(best_batch / len(frames) * 1e6, 3),
        "batch_us_per_trade": round(best_batch / trades * 1e6, 3),
        "native": NATIVE_AVAILABLE,
    }
    if native_only:
        return figures
    best_msgspec = min(time_batches(venue, frames, batch, native=False)[0] for _ in range(repeat))
    best_frame = min(time_frames(venue, frames) for _ in range(repeat))
    figures.update(
        msgspec_us_per_frame=round(best_msgspec / len(frames) * 1e6, 3),
        msgspec_us_per_trade=round(best_msgspec / trades * 1e6, 3),
        per_frame_us_per_trade=round(best_frame / trades * 1e6, 3),
        speedup=round(best_frame / best_batch, 2),
    )
    return figures


if __name__ == "__main__":
    main()
