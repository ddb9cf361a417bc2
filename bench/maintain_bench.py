"""DuckDB query times before and after `schemahub maintain`, and maintain's time and peak memory.

Run: ``.venv/bin/python bench/maintain_bench.py [--rows 1000000] [--days 3] [--commits 600]``.

A fresh embedded lake gets ``--rows`` trades of three venues and six symbols spread evenly over
``--days`` closed days, landed in ``--commits`` appends to ``trades_unified`` (as a daemon's
flushes land them: every file holds every symbol, in arrival order). Then, each timed seven
times in a fresh DuckDB connection (the median is printed):

- one symbol over one day: ``count(*), avg(price)`` for BTCUSDT on the middle day;
- a count per exchange and day over the whole table;

then ``schemahub maintain --table trades_unified`` runs as a child process, with a 1 s
snapshot retention (the build's snapshots are history), (wall time, and its
peak resident memory from ``getrusage``), and the queries are timed again.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from schemahub.config import LakeConfig
from schemahub.jobs.query import connect
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.schemas import UNIFIED_SCHEMA
from schemahub.lake.writer import commit_append

RUNS = 7  # each query, each in a fresh connection; the median is kept
EXCHANGES = ("binance", "coinbase", "kraken")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT")
FIRST_DAY = datetime(2026, 1, 5, tzinfo=UTC)


def batch(first: int, count: int, span_us: int, days: int, total: int) -> pa.Table:
    """Trades ``first`` .. ``first + count`` of ``total``, evenly spread over ``days`` days."""
    ids = pa.array(range(first, first + count), pa.int64())
    per_us = span_us * days / total
    ts = [FIRST_DAY + timedelta(microseconds=int(i * per_us)) for i in range(first, first + count)]
    n = count
    return pa.table(
        {
            "exchange": [EXCHANGES[i % 3] for i in range(first, first + n)],
            "symbol": [SYMBOLS[(i // 3) % 6] for i in range(first, first + n)],
            "trade_id": ids,
            "side": ["BUY" if i % 2 else "SELL" for i in range(first, first + n)],
            "price": [100.0 + (i * 7919 % 100_000) / 100 for i in range(first, first + n)],
            "quantity": [0.001 * (1 + i % 13) for i in range(first, first + n)],
            "trade_ts": ts,
            "ingest_ts": ts,
        },
        schema=UNIFIED_SCHEMA,
    )


def build(lake: Lake, rows: int, days: int, commits: int) -> None:
    table = lake.table(UNIFIED_TABLE)
    size = rows // commits
    day_us = 86_400_000_000
    for n in range(commits):
        data = batch(n * size, size, day_us, days, size * commits)
        commit_append(table, lambda _t, d=data: (d, {}))


def timed_queries(metadata_location: str, middle_day: datetime) -> dict[str, float]:
    queries = {
        "one symbol, one day": (
            "SELECT count(*), avg(price) FROM t WHERE symbol = 'BTCUSDT' "
            f"AND trade_ts >= TIMESTAMPTZ '{middle_day.isoformat()}' "
            f"AND trade_ts < TIMESTAMPTZ '{(middle_day + timedelta(days=1)).isoformat()}'"
        ),
        "count per exchange and day": (
            "SELECT exchange, date_trunc('day', trade_ts) AS day, count(*) FROM t GROUP BY ALL"
        ),
    }
    best = {}
    for name, sql in queries.items():
        times = []
        for _ in range(RUNS):
            con = connect()
            con.execute(f"CREATE VIEW t AS SELECT * FROM iceberg_scan('{metadata_location}')")
            started = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - started)
            con.close()
        best[name] = statistics.median(times)
    return best


def run_maintain(warehouse: Path) -> tuple[float, int]:
    env = {
        **os.environ,
        "SCHEMAHUB_LAKE__WAREHOUSE": str(warehouse),
        # every snapshot of the build is history: expire it, as a daemon's retention would
        "SCHEMAHUB_LAKE__SNAPSHOT_RETENTION_SECONDS": "1",
    }
    command = [sys.executable, "-m", "schemahub.cli", "maintain", "--table", UNIFIED_TABLE]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"maintain failed: {done.stderr}")
    print(done.stdout, end="")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--commits", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse"
        lake = Lake(LakeConfig(warehouse=str(warehouse)))
        lake.init()
        started = time.perf_counter()
        build(lake, args.rows, args.days, args.commits)
        print(
            f"built {args.rows:,} rows in {args.commits} commits: "
            f"{time.perf_counter() - started:.1f} s"
        )
        middle = FIRST_DAY + timedelta(days=args.days // 2)
        table = lake.table(UNIFIED_TABLE)
        before = timed_queries(table.metadata_location, middle)
        seconds, peak_kib = run_maintain(warehouse)
        table.refresh()
        after = timed_queries(table.metadata_location, middle)
    for name in before:
        print(
            f"{name}: {before[name] * 1000:.1f} ms -> {after[name] * 1000:.1f} ms "
            f"({before[name] / after[name]:.1f}x)"
        )
    millions = args.rows / 1_000_000
    print(
        f"maintain: {seconds:.1f} s ({seconds / millions:.1f} s per million rows), "
        f"peak RSS {peak_kib / 1024:.0f} MiB ({peak_kib / 1024 / millions:.0f} MiB per million)"
    )


if __name__ == "__main__":
    main()
