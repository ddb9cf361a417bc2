"""CPU of a 100-row commit at many snapshots, before and after snapshot expiry.

Run: ``.venv/bin/python bench/retention_cost.py [--snapshots 1000] [--streams 0]``.

A fresh embedded lake gets ``--snapshots`` commits of 100 rows to ``trades_unified`` (each with
the offsets of ``--streams`` streams in its summary, as the daemon writes them); then 20 more
commits are timed (CPU: ``time.process_time()``, all threads); then every snapshot but the
newest is expired (lake/maintenance.py) and 20 commits are timed again. Also printed: the size
of the current metadata.json before and after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa

from schemahub.config import LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.maintenance import expire_snapshots
from schemahub.lake.writer import commit_append
from schemahub.sequencing import StreamState, encode_offsets


def rows(first: int, count: int = 100) -> pa.Table:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    return pa.table(
        {
            "exchange": ["binance"] * count,
            "symbol": ["BTCUSDT"] * count,
            "trade_id": list(range(first, first + count)),
            "side": ["BUY"] * count,
            "price": [60000.5] * count,
            "quantity": [0.01] * count,
            "trade_ts": [start + timedelta(milliseconds=i) for i in range(first, first + count)],
            "ingest_ts": [start] * count,
        }
    )


def commit(table, n: int, props: dict[str, str]) -> float:
    data = rows(n * 100)
    data = data.cast(table.schema().as_arrow())
    cpu = time.process_time()
    commit_append(table, lambda _t: (data, props))
    return time.process_time() - cpu


def metadata_bytes(table) -> int:
    return Path(urlparse(table.metadata_location).path).stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=0)
    parser.add_argument("--timed", type=int, default=20)
    parser.add_argument("--merge", action="store_true", help="commit.manifest-merge.enabled")
    args = parser.parse_args()
    offsets = {
        ("binance", f"S{i}USDT"): StreamState(high_water=i * 1000) for i in range(args.streams)
    }
    props = encode_offsets(offsets) if offsets else {}
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(LakeConfig(warehouse=str(Path(folder) / "warehouse")))
        lake.init()
        table = lake.table(UNIFIED_TABLE)
        if args.merge:
            with table.transaction() as txn:
                txn.set_properties({"commit.manifest-merge.enabled": "true"})
        for n in range(args.snapshots):
            commit(table, n, props)
        n = args.snapshots
        before = [commit(table, n + i, props) for i in range(args.timed)]
        size_before = metadata_bytes(table)
        cpu = time.process_time()
        result = expire_snapshots(table, 1.0, now=time.time() + 3600)
        expiry_cpu = time.process_time() - cpu
        n += args.timed
        after = [commit(table, n + i, props) for i in range(args.timed)]
        print(
            f"snapshots {args.snapshots + args.timed}, streams in offsets {args.streams}, "
            f"manifests in the list {len(table.current_snapshot().manifests(table.io))}"
        )
        print(f"100-row commit CPU before expiry: median {statistics.median(before) * 1000:.1f} ms")
        print(
            f"expiry: {result.expired} snapshots, {result.files_deleted} files, "
            f"{expiry_cpu * 1000:.0f} ms CPU"
        )
        print(f"100-row commit CPU after expiry:  median {statistics.median(after) * 1000:.1f} ms")
        print(f"metadata.json: {size_before} bytes before, {metadata_bytes(table)} after")


if __name__ == "__main__":
    main()
