"""Benchmark of the raw buffer: memory per buffered trade and appends per second.

Appends realistic Binance native records (one BTCUSDT-like random walk of prices, 8-decimal
strings as Binance sends them, a handful of symbols) into a RawBuffer, the way the daemon does
(one call per websocket frame, one trade per frame on Binance's @trade stream), then prints:

- bytes per buffered trade = ``RawBuffer.nbytes / rows`` (the buffer's own accounting), and,
  to check that accounting, the growth of Arrow's memory pool and of the process RSS;
- appends per second (records), timed over the append calls only, record generation excluded,
  by the wall clock and per second of this process's CPU time (steadier on a shared machine).

Run: ``.venv/bin/python bench/buffer_bench.py [--records N] [--per-call K] [--payload]``.
The last line is JSON for scripts.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time

import orjson
import psutil
import pyarrow as pa

from schemahub.batching import RawBuffer
from schemahub.decode import binance

SYMBOLS = {"BTCUSDT": 43_250.0, "ETHUSDT": 2_250.0, "SOLUSDT": 98.0, "BNBUSDT": 310.0}


def records(n: int, seed: int = 1) -> list[dict]:
    """``n`` Binance @trade native records, most of them BTCUSDT, ids and times increasing."""
    rng = random.Random(seed)
    prices = dict(SYMBOLS)
    names = list(SYMBOLS)
    weights = [0.6, 0.25, 0.1, 0.05]
    next_id = {s: 3_000_000_000 + 10_000_000 * i for i, s in enumerate(names)}
    t = 1_700_000_000_000
    out = []
    for _ in range(n):
        symbol = rng.choices(names, weights)[0]
        tick = 0.01 if prices[symbol] > 1_000 else 0.001
        prices[symbol] = max(tick, prices[symbol] + tick * rng.choice((-2, -1, 0, 0, 1, 2)))
        t += rng.randrange(0, 4)
        next_id[symbol] += 1
        out.append(
            {
                "symbol": symbol,
                "trade_id": next_id[symbol],
                "price": f"{prices[symbol]:.8f}",
                "qty": f"{rng.expovariate(20):.8f}"[:10].ljust(10, "0"),
                "trade_time": t,
                "is_buyer_maker": rng.random() < 0.5,
                "event_time": t + rng.randrange(0, 3),
            }
        )
        r = out[-1]
        payload = {"e": "trade", "E": r["event_time"], "s": symbol, "t": r["trade_id"]}
        payload |= {"p": r["price"], "q": r["qty"], "T": t, "m": r["is_buyer_maker"], "M": True}
        r["_raw_payload"] = orjson.dumps(payload).decode()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--per-call", type=int, default=1, help="records per append (frame)")
    parser.add_argument("--payload", action="store_true", help="keep _raw_payload")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="let the garbage collector rescan the bench's own million input records",
    )
    args = parser.parse_args()

    data = records(args.records)
    # the frames a websocket session would hand over, built before timing
    calls = [data[i : i + args.per_call] for i in range(0, len(data), args.per_call)]
    now_us = [1_700_000_000_000_000 + 1_000 * i for i in range(len(calls))]
    # The daemon never holds a million record dicts; freezing them keeps the garbage collector
    # from rescanning the bench's own input on every collection.
    gc.collect()
    if not args.no_gc_freeze:
        gc.freeze()
    process = psutil.Process()
    rss_before, pool_before = process.memory_info().rss, pa.total_allocated_bytes()

    buffer = RawBuffer(binance.NATIVE_SCHEMA, keep_payload=args.payload, name=binance.RAW_TABLE)
    append = buffer.append
    start, start_cpu = time.perf_counter(), time.process_time()
    for call, ts in zip(calls, now_us, strict=True):
        append(call, "ws:binance/0", ts)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu

    rows, nbytes = buffer.rows, buffer.nbytes
    pool_growth = pa.total_allocated_bytes() - pool_before
    rss_growth = process.memory_info().rss - rss_before
    drain_start = time.perf_counter()
    table = buffer.drain()
    drain_s = time.perf_counter() - drain_start
    assert table.num_rows == rows == args.records, (table.num_rows, rows)

    result = {
        "records": rows,
        "records_per_call": args.per_call,
        "keep_payload": args.payload,
        "gc_freeze": not args.no_gc_freeze,
        "appends_per_s": round(rows / elapsed),
        "appends_per_cpu_s": round(rows / cpu),  # less sensitive to other processes
        "bytes_per_buffered_trade": round(nbytes / rows, 1),
        "arrow_pool_bytes_per_trade": round(pool_growth / rows, 1),
        "rss_growth_bytes_per_trade": round(rss_growth / rows, 1),
        "drain_s": round(drain_s, 3),
        "bytes_after_drain": buffer.nbytes,
    }
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
