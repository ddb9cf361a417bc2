"""Scanning a stream's ids in trades_unified by id ranges and by time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from schemahub.jobs.lake_ids import TimeWindow, committed_ids, holes, trade_times
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake.schemas import UNIFIED_SCHEMA
from schemahub.lake.writer import commit_append
from schemahub.sequencing import StreamKey

START = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
KEY = StreamKey("binance", "BTCUSDT")


def _rows(exchange: str, symbol: str, ids: list[int]) -> pa.Table:
    times = [START + timedelta(seconds=i) for i in ids]
    columns = {
        "exchange": [exchange] * len(ids),
        "symbol": [symbol] * len(ids),
        "trade_id": ids,
        "side": ["BUY"] * len(ids),
        "price": [1.0] * len(ids),
        "quantity": [1.0] * len(ids),
        "trade_ts": times,
        "ingest_ts": times,
    }
    return pa.table(columns, schema=UNIFIED_SCHEMA)


def test_scans_by_ranges_and_window_see_only_the_stream(lake):
    table = lake.table(UNIFIED_TABLE)
    ids = [i for i in range(1, 301) if not 40 <= i <= 44 and i != 100]
    other = _rows("binance", "ETHUSDT", list(range(1, 301)))
    commit_append(table, lambda _t: (pa.concat_tables([_rows(*KEY, ids), other]), {}))
    table.refresh()

    found = committed_ids(table, KEY, id_ranges=[(35, 50), (99, 101)])
    assert found.tolist() == [35, 36, 37, 38, 39, 45, 46, 47, 48, 49, 50, 99, 101]
    many = [(i, i) for i in range(30, 230, 2)]  # past the filter's range count: one span
    wanted = {i for i, _ in many if i in ids}
    assert set(committed_ids(table, KEY, id_ranges=many).tolist()) >= wanted
    window = TimeWindow(START + timedelta(seconds=30), START + timedelta(seconds=120))
    assert holes(committed_ids(table, KEY, window=window)) == [(40, 44), (100, 100)]
    assert trade_times(table, KEY, {39, 40, 45}) == {
        39: (START + timedelta(seconds=39)).timestamp(),
        45: (START + timedelta(seconds=45)).timestamp(),
    }
