"""Time the ``iso8601`` transform's two paths (native C, Arrow) and print microseconds per row.

Not a test (no timing is asserted anywhere): run it by hand, ideally pinned to one core::

    taskset -c 0 .venv/bin/python bench/iso_bench.py [--rows 250000] [--batch 250000] [--repeat 5]

The texts are the venues' real shapes: Coinbase nanoseconds (``...00.123456789Z``, the path that
needs truncating), Coinbase with fewer digits (``...00.01Z``) and Kraken microseconds
(``...00.000000Z``), plus a few with zone offsets; ``--bad`` mixes in refused texts, which cost
the Arrow path a bisection.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pyarrow as pa

from schemahub.mapping import isoparse
from schemahub.mapping.kernels import StepResult
from schemahub.mapping.transforms import iso8601_arrow


def texts(rows: int, bad_every: int) -> pa.Array:
    """``rows`` distinct ISO texts in the venues' shapes (one in ``bad_every`` refused, 0: none)."""
    shapes = (
        "2026-01-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{nanos:09d}Z",  # Coinbase
        "2026-01-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{centis:02d}Z",  # Coinbase, short
        "2026-01-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{micros:06d}Z",  # Kraken
        "2026-01-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{micros:06d}+05:30",
    )
    out = []
    for i in range(rows):
        if bad_every and i % bad_every == 0:
            out.append("2026-02-30T00:00:00Z")
            continue
        fields = {
            "day": 1 + i % 28, "hour": i % 24, "minute": i % 60, "second": (i // 60) % 60,
            "nanos": (i * 7919) % 10**9, "centis": i % 100, "micros": (i * 104729) % 10**6,
        }  # fmt: skip
        out.append(shapes[i % len(shapes)].format(**fields))
    return pa.array(out, pa.string())


def native(values: pa.Array) -> StepResult:
    return StepResult(*isoparse.parse_iso8601_us(values))


def us_per_row(path: Callable[[pa.Array], StepResult], batches: list[pa.Array]) -> float:
    rows = sum(len(batch) for batch in batches)
    started = time.perf_counter()
    for batch in batches:
        path(batch)
    return (time.perf_counter() - started) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--batch", type=int, default=250_000, help="rows per transform call")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bad", type=int, default=0, help="one refused text every N rows")
    args = parser.parse_args()
    if not isoparse.AVAILABLE:
        raise SystemExit("the _iso extension is not built (pip install -e . with a C compiler)")

    column = texts(args.rows, args.bad)
    batches = [column.slice(start, args.batch) for start in range(0, args.rows, args.batch)]
    paths = {"native": native, "arrow": iso8601_arrow}
    best = {name: min(us_per_row(fn, batches) for _ in range(args.repeat))
            for name, fn in paths.items()}  # fmt: skip
    print(f"{args.rows:,} texts, batches of {args.batch:,}, best of {args.repeat}:")
    for name, us in best.items():
        print(f"  {name:<7} {us:.4f} us/row")
    print(f"  native is {best['arrow'] / best['native']:.1f}x faster")


if __name__ == "__main__":
    main()
