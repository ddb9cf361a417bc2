"""Map synthetic Binance raw rows through the shipped mapping and print rows per second.

Not a test (no timing is asserted anywhere): run it by hand to see whether mapping keeps up with
the daemon's budget of about 100k rows/s on one core::

    .venv/bin/python bench/mapping_bench.py [--rows 1000000] [--batch 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.decode import binance
from schemahub.mapping import load_mapping
from schemahub.schemas import UNIFIED_SCHEMA, raw_table_schema

MAPPING = Path(__file__).resolve().parents[1] / "config" / "mappings" / "binance_trades.yaml"


def synthetic_binance(rows: int) -> pa.Table:
    """``rows`` raw Binance trades built with Arrow kernels (no per-row Python)."""
    schema = raw_table_schema(binance.NATIVE_SCHEMA)
    ids = pa.array(range(rows), pa.int64())
    price = pc.add(pc.multiply(pc.cast(pc.bit_wise_and(ids, 4095), pa.float64()), 0.01), 27000.0)
    qty = pc.divide(pc.cast(pc.add(pc.bit_wise_and(ids, 255), 1), pa.float64()), 1000.0)
    trade_ms = pc.add(ids, 1_754_773_542_000)
    columns = {
        "symbol": pa.repeat(pa.scalar("BTCUSDT"), rows),
        "trade_id": pc.add(ids, 3_000_000_000),
        "price": pc.cast(price, pa.string()),
        "qty": pc.cast(qty, pa.string()),
        "trade_time": trade_ms,
        "is_buyer_maker": pc.equal(pc.bit_wise_and(ids, 1), 1),
        "event_time": pc.add(trade_ms, 1),
        "_source": pa.repeat(pa.scalar("ws"), rows),
        "_source_ingest_ts": pa.repeat(pa.scalar(datetime.now(UTC), schema.field(8).type), rows),
        "_raw_payload": pa.repeat(pa.scalar('{"e":"trade"}'), rows),
    }
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="rows per apply() call")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    schema = raw_table_schema(binance.NATIVE_SCHEMA)
    mapping = load_mapping(MAPPING, schema, UNIFIED_SCHEMA)
    table = synthetic_binance(args.rows)
    batches = [table.slice(start, args.batch) for start in range(0, args.rows, args.batch)]
    for attempt in range(1, args.repeat + 1):
        started = time.perf_counter()
        mapped = sum(mapping.apply(batch).table.num_rows for batch in batches)
        elapsed = time.perf_counter() - started
        print(
            f"run {attempt}: mapped {mapped:,} rows in {elapsed:.3f} s "
            f"= {mapped / elapsed:,.0f} rows/s (batches of {args.batch:,})"
        )


if __name__ == "__main__":
    main()
