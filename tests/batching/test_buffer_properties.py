"""Property test: any records of any venue schema, split into any calls, drain back unchanged."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.batching import RawBuffer
from schemahub.decode import binance, coinbase, kraken
from schemahub.schemas import plain_schema, raw_table_schema
from tests.batching.records import ts_of

I64 = st.integers(-(2**63), 2**63 - 1)
VALUES = {
    pa.string(): st.text(max_size=12),
    pa.int64(): I64,
    pa.float64(): st.floats(allow_nan=False),
    pa.bool_(): st.booleans(),
}


def records_of(schema: pa.Schema, payload: bool) -> st.SearchStrategy[dict]:
    fields = {
        f.name: st.one_of(st.none(), VALUES[f.type]) if f.nullable else VALUES[f.type]
        for f in schema
    }
    if payload:
        fields["_raw_payload"] = st.one_of(st.none(), st.text(max_size=30))
    # few symbols, as in a real feed, so that dictionary encoding is exercised
    symbol = "product_id" if "product_id" in fields else "symbol"
    fields[symbol] = st.sampled_from(["BTC-USD", "ETH/USD", "SOLUSDT", ""])
    return st.fixed_dictionaries(fields)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    schema = draw(
        st.sampled_from([binance.NATIVE_SCHEMA, coinbase.NATIVE_SCHEMA, kraken.NATIVE_SCHEMA])
    )
    payload = draw(st.booleans())
    calls = draw(
        st.lists(
            st.tuples(
                st.lists(records_of(schema, payload), max_size=12),
                st.sampled_from(["ws:v/0", "ws:v/1", "rest:v"]),
                st.integers(0, 4_102_444_800_000_000),  # up to 2100
            ),
            max_size=12,
        )
    )
    return schema, payload, calls, draw(st.integers(1, 40))


@settings(max_examples=80, deadline=None)
@given(scenarios())
def test_drain_equals_appended(scenario: tuple) -> None:
    schema, payload, calls, chunk_rows = scenario
    buffer = RawBuffer(schema, keep_payload=payload, chunk_rows=chunk_rows)
    expected = []
    for records, source, ts in calls:
        buffer.append(records, source, ts)
        for r in records:
            row = {name: r[name] for name in schema.names}
            extra = {"_source": source, "_source_ingest_ts": ts_of(ts)}
            expected.append(row | extra | {"_raw_payload": r["_raw_payload"] if payload else None})
    assert buffer.rows == len(expected)
    table = buffer.drain()
    assert plain_schema(table.schema).equals(raw_table_schema(schema))
    assert table.to_pylist() == expected
    assert buffer.take_rejects() == []
    assert (buffer.rows, buffer.nbytes) == (0, 0)


WRONG = {pa.string(): 7, pa.int64(): "x", pa.float64(): "1.5", pa.bool_(): "true"}


@st.composite
def spoiled(draw: st.DrawFn, schema: pa.Schema) -> dict:
    """A record that cannot land: a value of the wrong type, or a required column absent/null."""
    record = draw(records_of(schema, payload=False))
    field = draw(st.sampled_from(list(schema)))
    how = draw(st.sampled_from(["wrong type", "absent", "null"]))
    if how == "wrong type" or field.nullable:
        record[field.name] = WRONG[field.type]
    elif how == "absent":
        del record[field.name]
    else:
        record[field.name] = None
    return record


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_bad_records_are_rejected_and_the_rest_land_in_order(data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from([binance.NATIVE_SCHEMA, kraken.NATIVE_SCHEMA]))
    good, bad = records_of(schema, payload=False), spoiled(schema)
    calls = data.draw(st.lists(st.lists(st.booleans(), max_size=8), max_size=8))
    buffer = RawBuffer(schema, chunk_rows=data.draw(st.integers(1, 20)))
    landed, rejected = [], 0
    for n, call in enumerate(calls):
        records = []
        for is_bad in call:
            records.append(data.draw(bad if is_bad else good))
            if is_bad:
                rejected += 1
            else:
                landed.append(records[-1])
        buffer.append(records, "ws:v/0", n)
    table = buffer.drain()
    assert table.select(schema.names).to_pylist() == landed
    assert len(buffer.take_rejects()) == rejected


@settings(max_examples=80, deadline=None)
@given(scenarios(), st.lists(st.booleans(), min_size=12, max_size=12))
def test_columnar_and_record_appends_drain_in_append_order(
    scenario: tuple, columnar: list[bool]
) -> None:
    """Appends of Arrow columns (a decoded burst) mixed with appends of records land the same
    rows, in append order; columnar rows carry no payload."""
    schema, payload, calls, chunk_rows = scenario
    buffer = RawBuffer(schema, keep_payload=payload, chunk_rows=chunk_rows)
    expected = []
    for (records, source, ts), as_columns in zip(calls, columnar, strict=False):
        if as_columns:
            arrays = [pa.array([r[f.name] for r in records], f.type) for f in schema]
            if ts % 2:  # the ingest hands the stream column over dictionary-encoded
                arrays = [a.dictionary_encode() if a.type == pa.string() else a for a in arrays]
            buffer.append_columns(arrays, source, pa.array([ts] * len(records), pa.int64()))
        else:
            buffer.append(records, source, ts)
        for r in records:
            row = {name: r[name] for name in schema.names}
            kept = r["_raw_payload"] if payload and not as_columns else None
            extra = {"_source": source, "_source_ingest_ts": ts_of(ts), "_raw_payload": kept}
            expected.append(row | extra)
    assert buffer.rows == len(expected)
    table = buffer.drain()
    assert plain_schema(table.schema).equals(raw_table_schema(schema))
    assert table.to_pylist() == expected
    assert buffer.take_rejects() == []


def test_a_columnar_row_missing_a_required_value_is_rejected_and_its_siblings_land() -> None:
    schema = kraken.NATIVE_SCHEMA
    records = [
        dict(zip(schema.names, ("BTC/USD", i, 1.5, 0.25, "buy", None, "t"), strict=True))
        for i in range(3)
    ]
    arrays = [pa.array([r[f.name] for r in records], f.type) for f in schema]
    arrays[1] = pa.array([1, None, 3], pa.int64())  # trade_id is required
    buffer = RawBuffer(schema)
    buffer.append_columns(arrays, "ws:kraken/0", pa.array([10, 11, 12], pa.int64()))
    table = buffer.drain()
    assert table.column("trade_id").to_pylist() == [1, 3]
    assert table.column("_source_ingest_ts").to_pylist() == [ts_of(10), ts_of(12)]
    (reject,) = buffer.take_rejects()
    assert "trade_id" in reject.reason and '"trade_id":null' in reject.payload
