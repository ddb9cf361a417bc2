"""Write a large benchmark capture offline from the simulator (no network, deterministic).

Run: ``.venv/bin/python bench/make_capture.py --venue binance --trades 1000000 OUT.jsonl``
then ``schemahub bench --venue binance OUT.jsonl``. See ``schemahub.benchmark.capture_gen``
for the frame shapes.
"""

from __future__ import annotations

import argparse
import time

from schemahub.benchmark.capture_gen import DEFAULT_SYMBOLS, write_capture
from schemahub.registry import BUILTIN_NAMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="capture file to (over)write")
    parser.add_argument("--venue", required=True, choices=BUILTIN_NAMES)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS), help="base assets")
    parser.add_argument(
        "--rate", type=float, default=5_000.0, help="trades a second over all symbols"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    started = time.perf_counter()
    summary = write_capture(
        args.out, args.venue, args.trades, symbols=symbols, rate=args.rate, seed=args.seed
    )
    print(
        f"wrote {summary.path}: {summary.trades:,} {summary.venue} trades in "
        f"{summary.frames:,} frames ({summary.trades / summary.frames:.2f} a frame), "
        f"{summary.bytes / 2**20:.1f} MiB, in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
