"""Rows and checks the compaction, tag and query tests share."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.schemas import UNIFIED_SCHEMA
from schemahub.lake.writer import commit_append

EXCHANGES = ("binance", "coinbase", "kraken")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def day_start(days_ago: int) -> datetime:
    """Midnight UTC ``days_ago`` days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def unified_rows(first_id: int, count: int, start: datetime) -> pa.Table:
    """``count`` unified trades with ids from ``first_id``, a second apart from ``start``,
    the symbols and venues interleaved (so an unsorted file mixes them)."""
    ids = range(first_id, first_id + count)
    return pa.Table.from_pydict(
        {
            "exchange": [EXCHANGES[i % 3] for i in ids],
            "symbol": [SYMBOLS[(i // 3) % 3] for i in ids],
            "trade_id": list(ids),
            "side": ["BUY" if i % 2 else "SELL" for i in ids],
            "price": [100.0 + (i * 7919 % 1000) / 100 for i in ids],
            "quantity": [0.001 * (1 + i % 13) for i in ids],
            "trade_ts": [start + timedelta(seconds=i - first_id) for i in ids],
            "ingest_ts": [start + timedelta(seconds=i - first_id, milliseconds=5) for i in ids],
        },
        schema=UNIFIED_SCHEMA,
    )


def append_commits(lake: Lake, commits: int, size: int, start: datetime, first_id: int = 0):
    """``commits`` appends of ``size`` rows each to trades_unified, one per call."""
    table = lake.table(UNIFIED_TABLE)
    for n in range(commits):
        rows = unified_rows(first_id + n * size, size, start + timedelta(seconds=n * size))
        commit_append(table, lambda _t, r=rows: (r, {}))


def row_fingerprint(rows: pa.Table) -> tuple[list[tuple], str]:
    """The sorted keys of ``rows`` and a checksum over every value of every row (in key
    order), so two tables with the same rows give the same answer whatever their file layout."""
    columns = [c for c in UNIFIED_SCHEMA.names if c in rows.column_names]
    ordered = rows.select(columns).sort_by(
        [(k, "ascending") for k in ("exchange", "symbol", "trade_id")]
    )
    keys = list(
        zip(
            *(ordered.column(k).to_pylist() for k in ("exchange", "symbol", "trade_id")),
            strict=True,
        )
    )
    digest = hashlib.sha256()
    for name in columns:
        column = ordered.column(name)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.int64())
        digest.update(name.encode())
        digest.update(repr(column.to_pylist()).encode())
    return keys, digest.hexdigest()


RAW = "raw_binance_trades"


def raw_rows(first_id: int, count: int, start: datetime) -> pa.Table:
    """``count`` binance raw rows with ids from ``first_id``, ingested a second apart from
    ``start`` (their partition is the day of ``start``)."""
    from schemahub.lake.tables import raw_schemas

    ids = range(first_id, first_id + count)
    return pa.Table.from_pydict(
        {
            "symbol": [SYMBOLS[i % 3] for i in ids],
            "trade_id": list(ids),
            "price": [f"{60000 + i % 100}.5" for i in ids],
            "qty": ["0.01"] * count,
            "trade_time": [int(start.timestamp() * 1000) + i for i in ids],
            "is_buyer_maker": [i % 2 == 0 for i in ids],
            "event_time": [int(start.timestamp() * 1000) + i for i in ids],
            "_source": ["test"] * count,
            "_source_ingest_ts": [start + timedelta(seconds=i - first_id) for i in ids],
            "_raw_payload": [None] * count,
        },
        schema=raw_schemas()[RAW],
    )


def append_raw_commits(lake: Lake, commits: int, size: int, start: datetime, first_id: int = 0):
    """``commits`` appends of ``size`` binance raw rows each, one per call."""
    table = lake.table(RAW)
    for n in range(commits):
        rows = raw_rows(first_id + n * size, size, start + timedelta(seconds=n * size))
        commit_append(table, lambda _t, r=rows: (r, {}))
