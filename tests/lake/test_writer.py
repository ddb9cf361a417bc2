from datetime import UTC, datetime

import pyarrow as pa
import pytest

from schemahub.errors import LakeError
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake.dedupe import dedupe_within, drop_committed
from schemahub.lake.schemas import UNIFIED_KEY, UNIFIED_SCHEMA, concat_alike, decoded
from schemahub.lake.writer import commit_append, latest_property
from tests.lake.test_tables import unified_rows


def keys(table):
    return sorted(zip(*(table[k].to_pylist() for k in UNIFIED_KEY), strict=True))


def test_commit_carries_properties_and_latest_property_walks_history(lake):
    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (unified_rows([1]), {"schemahub.test": "a"}))
    commit_append(table, lambda _t: (unified_rows([2]), {}))
    assert latest_property(table, "schemahub.test") == "a"
    commit_append(table, lambda _t: (unified_rows([3]), {"schemahub.test": "b"}))
    assert latest_property(lake.table(UNIFIED_TABLE), "schemahub.test") == "b"
    assert latest_property(table, "schemahub.absent") is None


def test_conflicting_writer_retries_on_refreshed_table_without_doubling(lake):
    ours = lake.table(UNIFIED_TABLE)
    theirs = lake.table(UNIFIED_TABLE)
    commit_append(theirs, lambda _t: (unified_rows([1, 2, 3]), {}))

    attempts = []

    def prepare(table):
        attempts.append(table.current_snapshot())
        return drop_committed(table, unified_rows([2, 3, 4, 5])), {"p": "ours"}

    result = commit_append(ours, prepare, sleep=lambda _s: None)

    assert result.attempts == 2
    assert attempts[0] is None  # our stale view saw an empty table and lost the race
    assert result.rows == 2
    final = lake.table(UNIFIED_TABLE).scan().to_arrow()
    assert keys(final) == [("binance", "BTCUSDT", i) for i in (1, 2, 3, 4, 5)]


def test_failed_commit_leaves_the_table_as_it_was(lake):
    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (unified_rows([1]), {}))
    before = table.metadata_location
    wrong = pa.table({"exchange": ["binance"], "nonsense": [1]})
    with pytest.raises(LakeError, match="trades_unified"):
        commit_append(table, lambda _t: (wrong, {}))
    fresh = lake.table(UNIFIED_TABLE)
    assert fresh.metadata_location == before
    assert fresh.scan().to_arrow().num_rows == 1


def test_dedupe_within_keeps_the_first_of_each_key_in_order():
    rows = pa.concat_tables(
        [
            unified_rows([5, 6]),
            unified_rows([6], symbol="ETHUSDT"),
            unified_rows([5, 7]),
        ]
    )
    unique = dedupe_within(rows, UNIFIED_KEY)
    assert list(zip(unique["symbol"].to_pylist(), unique["trade_id"].to_pylist(), strict=True)) == [
        ("BTCUSDT", 5),
        ("BTCUSDT", 6),
        ("ETHUSDT", 6),
        ("BTCUSDT", 7),
    ]
    # the first occurrence wins: its price is the one from the first batch
    assert unique["price"].to_pylist()[0] == 105.0


def test_drop_committed_only_drops_exact_keys(lake):
    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (unified_rows([10, 11]), {}))
    incoming = pa.concat_tables(
        [
            unified_rows([11, 12]),
            unified_rows([10], symbol="ETHUSDT"),
            unified_rows([10], exchange="kraken"),
        ]
    )
    kept = drop_committed(lake.table(UNIFIED_TABLE), incoming)
    assert keys(kept) == [
        ("binance", "BTCUSDT", 12),
        ("binance", "ETHUSDT", 10),
        ("kraken", "BTCUSDT", 10),
    ]


def encoded_strings(rows: pa.Table) -> pa.Table:
    """``rows`` with its string columns dictionary-encoded, as a flush's mapping keeps them."""
    for i, field in enumerate(rows.schema):
        if field.type == pa.string():
            array = rows.column(i).combine_chunks().dictionary_encode()
            rows = rows.set_column(i, field.with_type(array.type), array)
    return rows


def test_drop_committed_takes_dictionary_encoded_rows(lake):
    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (encoded_strings(unified_rows([10, 11])), {}))
    incoming = concat_alike(
        [encoded_strings(unified_rows([11, 12])), unified_rows([10], symbol="ETHUSDT")]
    )
    kept = drop_committed(lake.table(UNIFIED_TABLE), incoming)
    assert keys(kept) == [("binance", "BTCUSDT", 12), ("binance", "ETHUSDT", 10)]


def test_concat_alike_widens_index_types_and_decodes_only_mixed_columns():
    plain = unified_rows([1])
    encoded = encoded_strings(unified_rows([2], symbol="ETHUSDT"))
    int16 = pa.dictionary(pa.int16(), pa.string())
    exchange = encoded.schema.field("exchange").with_type(int16)
    wide = encoded.set_column(0, exchange, encoded["exchange"].cast(int16))
    both = concat_alike([encoded, wide])
    assert both.schema.field("symbol").type == pa.dictionary(pa.int32(), pa.string())
    # int32 vs int16 indices: the widest, each table keeping its own dictionary
    assert both.schema.field("exchange").type == pa.dictionary(pa.int32(), pa.string())
    assert decoded(both).equals(decoded(pa.concat_tables([encoded, encoded])))
    mixed = concat_alike([plain, encoded])
    assert mixed.schema == UNIFIED_SCHEMA
    assert mixed["symbol"].to_pylist() == ["BTCUSDT", "ETHUSDT"]


def test_rows_written_are_read_back_identically_by_duckdb(lake, duckdb_con):
    table = lake.table(UNIFIED_TABLE)
    written = unified_rows(range(50))
    commit_append(table, lambda _t: (written, {}))
    location = lake.table(UNIFIED_TABLE).metadata_location
    got = duckdb_con.execute(
        f"SELECT * FROM iceberg_scan('{location}') ORDER BY trade_id"
    ).to_arrow_table()
    assert got.column_names == written.column_names
    assert got["trade_id"].to_pylist() == list(range(50))
    assert got["price"].to_pylist() == written["price"].to_pylist()
    ts = got["trade_ts"].cast(pa.timestamp("us", tz="UTC")).to_pylist()
    assert ts == [datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)] * 50


def test_drop_committed_with_a_thousand_streams_in_one_batch(lake):
    # one key-range term per stream: a chain of 1,000 ORs once overflowed Python's recursion
    table = lake.table(UNIFIED_TABLE)
    symbols = [f"T{i:04d}USDT" for i in range(1000)]
    commit_append(table, lambda _t: (unified_rows([10], symbol=symbols[0]), {}))
    incoming = pa.concat_tables(unified_rows([10, 11], symbol=s) for s in symbols)
    kept = drop_committed(lake.table(UNIFIED_TABLE), incoming)
    assert len(keys(kept)) == 2 * len(symbols) - 1
    assert ("binance", symbols[0], 10) not in keys(kept)
