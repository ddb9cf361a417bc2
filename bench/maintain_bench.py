"""DuckDB query times before and after `schemahub maintain`, and maintain's time and peak memory.

Run: ``.venv/bin/python bench/maintain_bench.py [--rows 1000000] [--days 3]
[--files-per-day 8640] [--commits 600]``.

A fresh embedded lake gets ``--rows`` trades of three venues and six symbols spread evenly over
``--days`` closed days, in ``--files-per-day`` data files a day: the daemon's default 10 s
flush makes 8,640 a day, and that is the state compaction exists for. Each file holds one
flush's worth of trades in arrival order (every symbol and venue mixed), written by the
product's own writer (:mod:`schemahub.lake.datafiles`) into its ``day(trade_ts)`` partition;
a flush spanning midnight becomes one file per day, as the daemon's would.

The files land in ``--commits`` appends to ``trades_unified``, each one snapshot adding an
equal share of them in one new manifest. A daemon commits every flush, one snapshot and one
manifest each, but that is far too slow for a bench: every commit rewrites a manifest list and
a metadata file that grow with each snapshot kept (the daemon expires them; the build cannot,
since maintain's expiry of them is measured). The manifests end up about as a daemon's do: the
table merges them (``commit.manifest-merge.enabled``, at pyiceberg's default of 100
manifests), so a reader finds between one and about a hundred of them either way.

The before-lake's data files and manifests are counted (and again after maintain). Then, each
timed seven times in a fresh DuckDB connection (the median is printed):

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
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from schemahub.config import LakeConfig
from schemahub.jobs.query import connect
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.append import single_partition_key
from schemahub.lake.datafiles import file_layout, write_data_files
from schemahub.lake.pyiceberg_private import LeanTransaction, append_producer
from schemahub.schemas import UNIFIED_SCHEMA

RUNS = 7  # each query, each in a fresh connection; the median is kept
EXCHANGES = ("binance", "coinbase", "kraken")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT")
FIRST_DAY = datetime(2026, 1, 5, tzinfo=UTC)
DAY_US = 86_400_000_000
FLUSHES_PER_DAY = 8_640  # the daemon flushes every 10 s by default


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


def share(n: int, parts: int, total: int) -> tuple[int, int]:
    """First index and count of the ``n``-th of ``parts`` even shares of ``total`` items."""
    first = n * total // parts
    return first, (n + 1) * total // parts - first


def by_day(data: pa.Table) -> list[pa.Table]:
    """``data`` (in ``trade_ts`` order) cut at each UTC midnight: one slice per day partition."""
    days = pc.floor_temporal(data.column("trade_ts").combine_chunks(), unit="day")
    ends = pc.run_end_encode(days).run_ends.to_pylist()
    return [data.slice(start, end - start) for start, end in pairwise([0, *ends])]


def write_flush(table: Table, data: pa.Table) -> list[DataFile]:
    """One flush's data files, as the daemon's append writes them (one per day it spans)."""
    metadata = table.metadata
    files: list[DataFile] = []
    for part in by_day(data):
        key = single_partition_key(metadata, part)
        layout = file_layout(metadata, part.schema)
        if key is None or layout is None:
            # the bench measures the product's files: pyiceberg's fallback would be others
            raise SystemExit("the bench's rows do not take the project's writer")
        # a fresh write uuid per call: file names are uuid and task number, which restarts at 0
        files += write_data_files(table.io, metadata, layout, part, key, uuid.uuid4())
    return files


def append_files(table: Table, files: list[DataFile]) -> None:
    """One snapshot adding ``files``, made by the append producer the daemon's commits use
    (a merge append when the table sets ``commit.manifest-merge.enabled``)."""
    # The daemon's transaction: pyiceberg's own deep-copies the metadata (every snapshot) on
    # each read, which made 900 commits of a 1 M-row build take 320 s instead of 45 s.
    with LeanTransaction(table) as txn, append_producer(txn, {}) as append:
        for data_file in files:
            append.append_data_file(data_file)


def build(lake: Lake, rows: int, days: int, files: int, commits: int) -> None:
    """``rows`` trades over ``days`` days in ``files`` flushes, landed in ``commits`` appends."""
    table = lake.table(UNIFIED_TABLE)
    for n in range(commits):
        first_file, file_count = share(n, commits, files)
        first_row = share(first_file, files, rows)[0]
        last_row = sum(share(first_file + file_count - 1, files, rows))
        # one batch per commit, sliced into flushes: the same rows, without a table per flush
        data = batch(first_row, last_row - first_row, DAY_US, days, rows)
        written: list[DataFile] = []
        for flush in range(first_file, first_file + file_count):
            start, count = share(flush, files, rows)
            written += write_flush(table, data.slice(start - first_row, count))
        append_files(table, written)


def lake_shape(table: Table) -> tuple[int, int]:
    """Live data files and manifests of the table's current snapshot."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0, 0
    return len(list(table.scan().plan_files())), len(snapshot.manifests(table.io))


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
    parser.add_argument("--files-per-day", type=int, default=FLUSHES_PER_DAY)
    parser.add_argument("--commits", type=int, default=600)
    args = parser.parse_args()
    files = args.files_per_day * args.days
    if not 0 < args.commits <= files <= args.rows:
        parser.error("need 0 < --commits <= --files-per-day * --days <= --rows")
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse"
        lake = Lake(LakeConfig(warehouse=str(warehouse)))
        lake.init()
        started = time.perf_counter()
        build(lake, args.rows, args.days, files, args.commits)
        print(
            f"built {args.rows:,} rows in {files:,} flushes, {args.commits} commits: "
            f"{time.perf_counter() - started:.1f} s"
        )
        middle = FIRST_DAY + timedelta(days=args.days // 2)
        table = lake.table(UNIFIED_TABLE)
        print("before maintain: {:,} data files, {:,} manifests".format(*lake_shape(table)))
        before = timed_queries(table.metadata_location, middle)
        seconds, peak_kib = run_maintain(warehouse)
        table.refresh()
        print("after maintain: {:,} data files, {:,} manifests".format(*lake_shape(table)))
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
