"""BufferSet: one row cap over every venue's buffer, drained rows counted until released."""

from __future__ import annotations

import pytest

from schemahub.batching import BufferSet, RawBuffer
from schemahub.decode import binance, coinbase, kraken
from schemahub.errors import UsageError
from tests.batching.records import binance_record, coinbase_record, kraken_record


def make_set(cap: int) -> BufferSet:
    return BufferSet(
        {
            binance.RAW_TABLE: RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=16),
            coinbase.RAW_TABLE: RawBuffer(coinbase.NATIVE_SCHEMA, chunk_rows=16),
            kraken.RAW_TABLE: RawBuffer(kraken.NATIVE_SCHEMA, chunk_rows=16),
        },
        max_buffered_rows=cap,
    )


def test_cap_counts_rows_of_every_buffer() -> None:
    buffers = make_set(cap=100)
    assert buffers.has_room() and buffers.total_rows == 0 and buffers.total_bytes == 0
    buffers[binance.RAW_TABLE].append([binance_record(i) for i in range(60)], "ws:binance/0", 1)
    buffers[kraken.RAW_TABLE].append([kraken_record(i) for i in range(39)], "ws:kraken/0", 1)
    assert buffers.total_rows == 99
    assert buffers.has_room()
    buffers[coinbase.RAW_TABLE].append([coinbase_record(0)], "ws:coinbase/0", 1)
    assert buffers.total_rows == 100
    assert not buffers.has_room()
    assert buffers.total_bytes == sum(buffers[name].nbytes for name in buffers)


def test_drained_rows_count_until_released() -> None:
    buffers = make_set(cap=50)
    buffers[binance.RAW_TABLE].append([binance_record(i) for i in range(30)], "ws:binance/0", 1)
    buffers[coinbase.RAW_TABLE].append([coinbase_record(i) for i in range(20)], "ws:coinbase/0", 1)
    assert not buffers.has_room()

    first = buffers.drain()
    assert sorted(first.tables) == [binance.RAW_TABLE, coinbase.RAW_TABLE]  # no empty kraken
    assert first.rows == 50 and first.rejects == {}
    assert buffers.buffered_rows == 0 and buffers.in_flight_rows == 50
    assert not buffers.has_room()  # the lake has not taken them yet
    assert buffers.total_bytes >= first.nbytes > 0

    buffers.release(first)
    assert buffers.has_room() and buffers.total_rows == 0 and buffers.total_bytes == 0
    with pytest.raises(UsageError, match="already released"):
        buffers.release(first)


def test_two_drains_in_flight_are_released_independently() -> None:
    buffers = make_set(cap=1_000)
    buffers[kraken.RAW_TABLE].append([kraken_record(i) for i in range(10)], "ws:kraken/0", 1)
    a = buffers.drain()
    buffers[kraken.RAW_TABLE].append([kraken_record(i) for i in range(10, 13)], "ws:kraken/0", 2)
    b = buffers.drain()
    assert buffers.in_flight_rows == 13
    buffers.release(a)
    assert buffers.total_rows == 3
    buffers.release(b)
    assert buffers.total_rows == 0


def test_drain_hands_over_rejects() -> None:
    buffers = make_set(cap=10)
    bad = binance_record(1) | {"price": 1.5}
    buffers[binance.RAW_TABLE].append([bad, binance_record(2)], "ws:binance/0", 1)
    drained = buffers.drain()
    assert drained.tables[binance.RAW_TABLE].column("trade_id").to_pylist() == [5_000_000_002]
    (reject,) = drained.rejects[binance.RAW_TABLE]
    assert "price" in reject.reason
    assert drained.rows == 1
    empty = buffers.drain()
    assert (empty.tables, empty.rejects, empty.rows) == ({}, {}, 0)


def test_unknown_buffer_and_bad_cap_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="no buffer named 'raw_x'"):
        make_set(cap=1)["raw_x"]
    with pytest.raises(UsageError, match="max_buffered_rows"):
        make_set(cap=0)
