"""Dictionary-encoded string columns of the native decoder, and what the daemon does with them.

The parser writes the venues' repetitive string columns (symbols, sides, order types) as int8
indices into a small per-call table of distinct values. These tests go past the table's bound
(the column must come plain, values intact), refuse frames after they added entries (the
table must be cut back: no entry only a dropped row used), mix nulls in, and hand the encoded
bursts to the ingest, which must land the same rows as frame by frame. Every decode goes
through check_batch (values compared with decode_frame after decoding the dictionaries).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemahub.batching import BufferSet, RawBuffer
from schemahub.benchmark.capture_gen import venue_frames
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.daemon.streams import split_streams
from schemahub.decode import VENUES, decoder_for
from schemahub.decode.batch import decode_batch
from schemahub.decode.native import DICTIONARY_BOUND, native_columns
from schemahub.sequencing import Sequencer
from schemahub.venues.events import ReceivedBatch
from tests.decode import frames as F
from tests.decode.batch_check import check_batch, plain
from tests.decode.test_native_buffers import assert_buffers_cut, assert_null_counts, refused_last

ENCODED = pa.dictionary(pa.int8(), pa.string())


def encoded_columns(venue: str) -> set[str]:
    return {name for name, *_, dictionary in native_columns(venue) if dictionary}


def kraken(*trades: dict) -> str:
    return F.kraken_v2(list(trades))


def trade(symbol: str = "BTC/USD", trade_id: int = 1, **overrides) -> dict:
    return F.kraken_trade(symbol=symbol, trade_id=trade_id, **overrides)


def dictionary(table: pa.Table, name: str) -> list:
    column = table.column(name)
    assert column.type == ENCODED, f"{name} is {column.type}, expected dictionary-encoded"
    return column.chunk(0).dictionary.to_pylist()


def assert_every_entry_used(table: pa.Table, name: str) -> None:
    """The table holds exactly the column's distinct values: rolled-back entries are gone."""
    entries = dictionary(table, name)
    values = {v for v in table.column(name).to_pylist() if v is not None}
    assert sorted(entries) == sorted(values)


def test_the_repetitive_string_columns_are_the_encoded_ones():
    assert encoded_columns("binance") == {"symbol"}
    assert encoded_columns("coinbase") == {"product_id", "side"}
    assert encoded_columns("kraken") == {"symbol", "side", "ord_type"}


@pytest.mark.parametrize("venue", VENUES)
def test_simulator_bursts_come_encoded_with_each_value_once(venue):
    frames = [text for _ts, text in venue_frames(venue, 1000)]
    table = check_batch(venue, frames).trades
    constants = {"feed"} if venue == "coinbase" else set()
    for name in table.column_names:
        encoded = name in encoded_columns(venue) | constants
        assert (table.column(name).type == ENCODED) is encoded, name
        if encoded:
            assert_every_entry_used(table, name)
    plain_only = decode_batch(venue, frames, native=False).trades
    assert plain(table).equals(plain_only)


@pytest.mark.parametrize("extra", [0, 1, 40])
def test_more_distinct_values_than_the_bound_come_plain(extra):
    count = DICTIONARY_BOUND + extra
    trades = [
        trade(f"S{i}/USD", i, side=("buy", "sell")[i % 2], ord_type=None if i % 3 else f"o{i}")
        for i in range(count)
    ]
    frames = [kraken(*trades[i : i + 10]) for i in range(0, count, 10)]
    batch = check_batch("kraken", frames)
    table = batch.trades
    assert batch.slow == {} and table.num_rows == count
    symbols = table.column("symbol")
    assert symbols.type == (ENCODED if extra == 0 else pa.string())
    assert symbols.to_pylist() == [t["symbol"] for t in trades]
    assert dictionary(table, "side") == ["buy", "sell"]  # the others stay encoded
    assert_every_entry_used(table, "ord_type")
    assert_buffers_cut(table)
    assert_null_counts(table)


def test_a_nullable_column_past_the_bound_keeps_its_nulls():
    values = [None if i % 3 == 0 else f"type-{i}" for i in range(3 * DICTIONARY_BOUND)]
    trades = [
        trade(trade_id=i, ord_type=v if v or i % 2 else F.MISSING) for i, v in enumerate(values)
    ]
    frames = [kraken(*trades[i : i + 7]) for i in range(0, len(trades), 7)]
    table = check_batch("kraken", frames).trades
    column = table.column("ord_type")
    assert column.type == pa.string()
    assert column.to_pylist() == values and column.null_count == values.count(None)
    assert dictionary(table, "symbol") == ["BTC/USD"]
    assert_buffers_cut(table)
    assert_null_counts(table)


def test_nulls_in_a_dictionary_column():
    frames = [
        kraken(trade(ord_type=None), trade(ord_type=F.MISSING)),  # nulls before any entry
        kraken(trade(ord_type="limit"), trade(ord_type=None), trade(ord_type="market")),
        kraken(trade(ord_type="limit")),
    ]
    table = check_batch("kraken", frames).trades
    column = table.column("ord_type")
    assert column.to_pylist() == [None, None, "limit", None, "market", "limit"]
    assert column.null_count == 3
    assert_every_entry_used(table, "ord_type")
    assert_null_counts(table)


def test_a_burst_of_nulls_only_has_an_empty_dictionary():
    table = check_batch("kraken", [kraken(trade(ord_type=None), trade(ord_type=None))]).trades
    assert dictionary(table, "ord_type") == []
    assert table.column("ord_type").null_count == 2
    assert_buffers_cut(table)


def test_refused_frames_leave_the_table_as_it_was():
    frames = [
        kraken(trade("A"), trade("B", ord_type="market")),
        refused_last(trade("C", ord_type="iceberg"), trade("B")),  # C added, then dropped
        kraken(trade("B"), trade("D", ord_type=None)),
        refused_last(trade("E"), trade("F", ord_type="stop")),
        kraken(trade("C", ord_type="iceberg")),  # C again: a new entry after D
    ]
    batch = check_batch("kraken", frames)
    assert set(batch.slow) == {1, 3}
    table = batch.trades
    assert table.column("symbol").to_pylist() == ["A", "B", "B", "D", "C"]
    assert dictionary(table, "symbol") == ["A", "B", "D", "C"]
    assert dictionary(table, "ord_type") == ["limit", "market", "iceberg"]
    for name in ("symbol", "side", "ord_type"):
        assert_every_entry_used(table, name)
    assert_buffers_cut(table)
    assert_null_counts(table)


@pytest.mark.parametrize("position", ["first", "last"])
def test_a_refused_frame_that_overflowed_the_table(position):
    known = [trade(f"S{i}", i) for i in range(DICTIONARY_BOUND)]
    newcomer = trade("NEW", 999, ord_type=None)
    # the new symbol overflows the table, then the frame is refused (its rows were written)
    overflow = [newcomer, known[0]] if position == "first" else [known[0], newcomer]
    frames = [kraken(*known), refused_last(*overflow), kraken(trade("S1", 5), trade("S2", 6))]
    batch = check_batch("kraken", frames)
    assert set(batch.slow) == {1}
    table = batch.trades
    expected = [t["symbol"] for t in known] + ["S1", "S2"]
    assert table.column("symbol").to_pylist() == expected
    assert_buffers_cut(table)
    assert_null_counts(table)


def test_an_encoded_stream_column_is_split_as_it_is():
    frames = [
        F.binance_wrapped(F.binance_trade(s=("BTCUSDT", "ETHUSDT")[i % 2], t=100 + i))
        for i in range(12)
    ]
    trades = check_batch("binance", frames).trades
    column = trades.column("symbol")
    assert isinstance(column.combine_chunks(), pa.DictionaryArray)
    split = split_streams(trades, "symbol")
    # dictionary_encode of an encoded column is a no-op, and the burst's one chunk is used as
    # it is (no copy of the indices)
    assert (
        split.encoded.indices.buffers()[1].address == column.chunk(0).indices.buffers()[1].address
    )
    reference = split_streams(plain(trades), "symbol")
    assert [s.symbol for s in split.streams] == [s.symbol for s in reference.streams]
    for ours, theirs in zip(split.streams, reference.streams, strict=True):
        assert ours.rows.tolist() == theirs.rows.tolist()
        assert ours.ids.tolist() == theirs.ids.tolist()


def new_ingest(venue: str) -> Ingest:
    module = decoder_for(venue)
    buffers = BufferSet({module.RAW_TABLE: RawBuffer(module.NATIVE_SCHEMA, chunk_rows=50)}, 10**6)
    return Ingest(Sequencer(), buffers, DaemonMetrics.create(), flush_rows=10**6)


async def land_both_ways(venue: str, bursts: list[list[str]]) -> tuple[list, list]:
    """The raw rows the ingest buffers from ``bursts`` decoded natively, and frame by frame."""
    by_burst, by_frame = new_ingest(venue), new_ingest(venue)
    decode = decoder_for(venue).decode_frame
    clock = 1_700_000_000.0
    for frames in bursts:
        times = [clock + i * 0.001 for i in range(len(frames))]
        clock += 1
        decoded = decode_batch(venue, frames)
        await by_burst.on_batch(ReceivedBatch(venue, "c0", times, [100] * len(frames), decoded))
        for frame, at in zip(frames, times, strict=True):
            by_frame.accept(venue, decode(frame, False), f"ws:{venue}/c0", at, live=True)
    table = decoder_for(venue).RAW_TABLE
    rows = [ingest.buffers.drain().tables[table].to_pylist() for ingest in (by_burst, by_frame)]
    assert by_burst.sequencer.snapshot() == by_frame.sequencer.snapshot()
    return rows[0], rows[1]


async def test_a_burst_split_by_a_slow_frame_lands_as_frame_by_frame():
    # the rows before the slow frame are a slice whose dictionary also holds ETHUSDT
    btc = [F.binance_wrapped(F.binance_trade(s="BTCUSDT", t=10 + i)) for i in range(3)]
    eth = [F.binance_wrapped(F.binance_trade(s="ETHUSDT", t=50 + i)) for i in range(3)]
    slow = F.binance_wrapped(F.binance_trade(s="BTCUSDT", t=13)).replace("BTCUSDT", "BTC\\u0055SDT")
    burst = [btc[0], btc[1], slow, eth[0], btc[2], eth[1], eth[2]]
    assert set(decode_batch("binance", burst).slow) == {2}
    by_burst, by_frame = await land_both_ways("binance", [burst])
    assert len(by_burst) == 7 and by_burst == by_frame


async def test_encoded_and_overflowed_bursts_land_together():
    usual = [kraken(trade("BTC/USD", 1), trade("ETH/USD", 1, ord_type=None))]
    many = [kraken(*(trade(f"S{i}/USD", 1) for i in range(DICTIONARY_BOUND + 1)))]
    assert decode_batch("kraken", many).trades.column("symbol").type == pa.string()
    later = [kraken(trade("BTC/USD", 2), trade("ETH/USD", 2, ord_type="market"))]
    by_burst, by_frame = await land_both_ways("kraken", [usual, many, later])
    assert len(by_burst) == DICTIONARY_BOUND + 5 and by_burst == by_frame
