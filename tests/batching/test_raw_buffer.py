"""RawBuffer: what is appended is what drains, in compact memory, and bad records are set aside."""

from __future__ import annotations

import sys
import tracemalloc

import orjson
import pyarrow as pa
import pytest

from schemahub.batching import RawBuffer
from schemahub.decode import binance, coinbase, kraken
from schemahub.errors import UsageError
from schemahub.schemas import plain_schema, raw_table_schema
from tests.batching.records import binance_record, coinbase_record, kraken_record, ts_of

VENUES = [
    (binance.NATIVE_SCHEMA, binance_record),
    (coinbase.NATIVE_SCHEMA, coinbase_record),
    (kraken.NATIVE_SCHEMA, kraken_record),
]


def expected_rows(schema: pa.Schema, calls: list, payload: bool = False) -> list[dict]:
    rows = []
    for records, source, ts in calls:
        for r in records:
            row = {name: r.get(name) for name in schema.names}
            rows.append(
                row
                | {
                    "_source": source,
                    "_source_ingest_ts": ts_of(ts),
                    "_raw_payload": r.get("_raw_payload") if payload else None,
                }
            )
    return rows


@pytest.mark.parametrize("chunk_rows", [1, 7, 4096])
@pytest.mark.parametrize(("schema", "make"), VENUES, ids=["binance", "coinbase", "kraken"])
def test_drain_returns_exactly_what_was_appended(schema, make, chunk_rows) -> None:
    buffer = RawBuffer(schema, chunk_rows=chunk_rows)
    calls, i = [], 0
    for n in (1, 5, 0, 13, 2, 30):
        calls.append(([make(i + k) for k in range(n)], f"ws:venue/{n % 2}", 1_000_000 * (i + 1)))
        i += n
    calls.append(([make(999)], "rest:venue", 5))
    for records, source, ts in calls:
        buffer.append(records, source, ts)
    assert buffer.rows == i + 1

    table = buffer.drain()
    assert plain_schema(table.schema).equals(raw_table_schema(schema), check_metadata=True)
    assert table.to_pylist() == expected_rows(schema, calls)
    assert buffer.rows == 0
    assert buffer.nbytes == 0
    assert buffer.drain().to_pylist() == []
    assert buffer.take_rejects() == []


def test_payload_is_kept_only_when_asked() -> None:
    records = [binance_record(i) | {"_raw_payload": f'{{"t":{i}}}'} for i in range(10)]
    records[3].pop("_raw_payload")
    kept, dropped = (
        RawBuffer(binance.NATIVE_SCHEMA, keep_payload=True),
        RawBuffer(binance.NATIVE_SCHEMA),
    )
    for buffer in (kept, dropped):
        buffer.append(records, "ws:binance/0", 42)
    calls = [(records, "ws:binance/0", 42)]
    assert kept.drain().to_pylist() == expected_rows(binance.NATIVE_SCHEMA, calls, True)
    drained = dropped.drain()
    assert drained.column("_raw_payload").null_count == 10
    assert plain_schema(drained.schema) == raw_table_schema(binance.NATIVE_SCHEMA)


def test_missing_nullable_column_is_null_and_extra_keys_are_ignored() -> None:
    record = binance_record(1) | {"unexpected": [1, 2]}
    del record["event_time"]
    buffer = RawBuffer(binance.NATIVE_SCHEMA)
    buffer.append([record], "rest:binance", 7)
    (row,) = buffer.drain().to_pylist()
    assert row["event_time"] is None
    assert "unexpected" not in row


def test_bad_records_become_rejects_and_their_siblings_land() -> None:
    good = [binance_record(i) for i in range(6)]
    missing = binance_record(100)
    del missing["price"]
    wrong_type = binance_record(101) | {"trade_id": "101"}
    null_required = binance_record(102) | {"qty": None}
    buffer = RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=4, name="raw_binance_trades")
    buffer.append([good[0], missing, good[1]], "ws:binance/0", 1)
    buffer.append([good[2], wrong_type, good[3], null_required, good[4], good[5]], "ws:b/1", 2)
    assert buffer.rows == 6
    table = buffer.drain()
    assert table.column("trade_id").to_pylist() == [r["trade_id"] for r in good]
    assert table.column("_source").to_pylist() == ["ws:binance/0"] * 2 + ["ws:b/1"] * 4
    rejects = buffer.take_rejects()
    assert [orjson.loads(r.payload)["trade_id"] for r in rejects] == [
        5_000_000_100,
        "101",
        5_000_000_102,
    ]
    assert "price" in rejects[0].reason
    assert "trade_id" in rejects[1].reason and "int64" in rejects[1].reason
    assert "qty" in rejects[2].reason and "required" in rejects[2].reason
    assert all(r.reason.startswith("raw_binance_trades") for r in rejects)
    assert buffer.take_rejects() == []


@pytest.mark.parametrize("keep_payload", [True, False])
def test_reject_payload_is_the_raw_payload_when_kept(keep_payload: bool) -> None:
    buffer = RawBuffer(kraken.NATIVE_SCHEMA, keep_payload=keep_payload)
    record = kraken_record(1) | {"price": "abc", "_raw_payload": "RAW"}
    buffer.append([record], "ws:kraken/0", 1)
    assert buffer.drain().num_rows == 0
    (reject,) = buffer.take_rejects()
    if keep_payload:
        assert reject.payload == "RAW"
    else:  # the native columns as JSON
        assert orjson.loads(reject.payload) == {k: record[k] for k in kraken.NATIVE_SCHEMA.names}


def test_nbytes_grows_with_rows_and_returns_to_zero() -> None:
    buffer = RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=1_000)
    sealed, with_pending = [], []
    for start in range(0, 5_000, 250):
        buffer.append([binance_record(i) for i in range(start, start + 250)], "ws:binance/0", 9)
        (sealed if buffer.rows % 1_000 == 0 else with_pending).append(buffer.nbytes)
    # every chunk adds memory, and pending rows add to what the chunks hold
    assert sealed == sorted(set(sealed))
    assert with_pending[-1] > sealed[-2]
    assert sealed[-1] > 5_000 * 20  # at least the fixed-width columns
    buffer.drain()
    assert (buffer.rows, buffer.nbytes) == (0, 0)


def test_sealed_rows_are_accounted_as_arrow_memory() -> None:
    records = [binance_record(i) for i in range(20_000)]
    buffer = RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=4_000)
    before = pa.total_allocated_bytes()
    buffer.append(records, "ws:binance/0", 1)
    held = pa.total_allocated_bytes() - before
    assert buffer.rows == 20_000
    assert 0.8 * held <= buffer.nbytes <= 1.2 * held
    # repeating strings are held dictionary-encoded: less than the plain table it drains to
    assert buffer.nbytes < buffer.drain().get_total_buffer_size()


def test_pending_rows_estimate_tracks_python_memory() -> None:
    records = [coinbase_record(i) for i in range(3_000)]
    buffer = RawBuffer(coinbase.NATIVE_SCHEMA, chunk_rows=1_000_000)  # nothing sealed
    tracemalloc.start()
    try:
        for i in range(0, 3_000, 3):
            buffer.append(records[i : i + 3], "ws:coinbase/0", 1_000 + i)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the record values are shared with ``records``; the estimate counts them as the buffer's own,
    # which they are once the decoder's dicts are gone
    values = sum(sys.getsizeof(v) for r in records for v in r.values() if v is not None)
    assert 0.6 * (held + values) <= buffer.nbytes <= 1.5 * (held + values)


@pytest.mark.parametrize(
    ("source", "ts"), [(b"ws", 1), ("ws", 1.5), ("ws", -1), ("ws", 2**63), (None, 1)]
)
def test_bad_source_or_time_is_a_usage_error(source, ts) -> None:
    buffer = RawBuffer(kraken.NATIVE_SCHEMA)
    with pytest.raises(UsageError, match="ingest_ts_us"):
        buffer.append([kraken_record(0)], source, ts)
    assert buffer.rows == 0


def test_reserved_column_names_and_chunk_size_are_checked() -> None:
    clash = pa.schema([pa.field("symbol", pa.string()), pa.field("_source", pa.string())])
    with pytest.raises(UsageError, match="_source"):
        RawBuffer(clash)
    with pytest.raises(UsageError, match="chunk_rows"):
        RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=0)


def test_a_repetitive_column_drains_as_one_dictionary_of_its_type() -> None:
    buffer = RawBuffer(binance.NATIVE_SCHEMA, chunk_rows=4_000)
    records = [binance_record(i) for i in range(10_000)]
    buffer.append(records, "ws:binance/0", 1)
    drained = buffer.drain()
    symbols = drained.column("symbol")
    assert isinstance(symbols, pa.ChunkedArray) and symbols.num_chunks == 1
    assert pa.types.is_dictionary(symbols.type) and symbols.type.value_type == pa.string()
    assert symbols.to_pylist() == [r["symbol"] for r in records]
    assert drained.column("trade_id").type == pa.int64()  # ids never repeat: kept plain
