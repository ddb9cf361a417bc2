"""The native decoder's buffers: sized once per call, grown past the estimate, rolled back.

parse() reserves its buffers up front from the frames' text (native.first_sizes): room for
every row the text can hold, and a share of the text per string column. These tests drive
bursts past that share (the buffers must grow), fill the row bound with the smallest rows the
grammar takes, and refuse frames after their rows were written (the rows must be rewritten,
nulls included). Every result is checked against decode_frame by check_batch, and every
returned buffer must be cut to exactly what Arrow reads.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemahub.benchmark.capture_gen import venue_frames
from schemahub.decode import VENUES
from schemahub.decode.native import first_sizes
from tests.decode import frames as F
from tests.decode.batch_check import check_batch

# The fewest bytes a Kraken trade object can take in a frame the parser accepts.
SMALLEST_KRAKEN_TRADE = F.text(
    F.kraken_trade(
        symbol="X", side="buy", price=1, qty=1, trade_id=1,
        timestamp="2024-01-01T00:00:00Z", ord_type=F.MISSING,
    )
)  # fmt: skip


def kraken(*trades: dict) -> str:
    return F.kraken_v2(list(trades))


def kraken_raw(trades: list[str]) -> str:
    """A Kraken frame around trade objects given as text."""
    return '{"channel":"trade","type":"update","data":[' + ",".join(trades) + "]}"


def refused_last(*trades: dict) -> str:
    """A frame whose last trade the parser refuses, after it wrote the rows before it."""
    return kraken(*trades, F.kraken_trade(price="x"))


def assert_buffers_cut(table: pa.Table) -> None:
    """Each buffer holds exactly the bytes Arrow reads: nothing left over from the reserve."""
    for column in table.columns:
        for array in column.chunks:
            assert_array_cut(array)


def assert_array_cut(array: pa.Array) -> None:
    validity, values, *chars = array.buffers()
    rows = len(array)
    assert validity is None or validity.size == (rows + 7) // 8
    if isinstance(array, pa.DictionaryArray):  # int8 indices, then the dictionary itself
        assert values.size == rows
        assert_array_cut(array.dictionary)
    elif pa.types.is_string(array.type):
        assert values.size == (rows + 1) * 4
        assert chars[0].size == sum(len(v.encode()) for v in array.to_pylist() if v)
    elif pa.types.is_boolean(array.type):
        assert values.size == (rows + 7) // 8
    else:
        assert values.size == rows * array.type.bit_width // 8


def assert_null_counts(table: pa.Table) -> None:
    """The null count the parser reports is the one its validity bitmap holds."""
    for name in table.column_names:
        column = table.column(name)
        assert column.null_count == column.to_pylist().count(None), name


def test_text_past_the_estimate_grows_the_buffers():
    long_symbol, long_order = "X" * 6000, "y" * 5000
    frames = [kraken(F.kraken_trade())] * 3 + [
        kraken(F.kraken_trade(symbol=long_symbol), F.kraken_trade(ord_type=long_order)),
        kraken(F.kraken_trade(ord_type=None)),
    ]
    _rows, chars = first_sizes("kraken", frames)
    assert len(long_symbol) > chars and len(long_order) > chars  # past the first reserve
    batch = check_batch("kraken", frames)
    assert batch.slow == {}
    symbols = batch.trades.column("symbol").to_pylist()
    assert symbols.count(long_symbol) == 1 and len(symbols) == 6
    assert_buffers_cut(batch.trades)
    assert_null_counts(batch.trades)


def test_the_smallest_rows_fill_the_row_bound_without_passing_it():
    frames = [kraken_raw([SMALLEST_KRAKEN_TRADE] * count) for count in (1, 40, 400, 2)]
    rows, _chars = first_sizes("kraken", frames)
    batch = check_batch("kraken", frames)
    assert batch.slow == {} and batch.trade_count == 443
    # A bound, and a tight one: the frames' wrappers and commas are the only slack.
    assert batch.trade_count <= rows <= batch.trade_count * 1.02 + 2
    assert_buffers_cut(batch.trades)


def test_rows_of_a_refused_frame_are_rewritten():
    frames = [
        refused_last(F.kraken_trade(ord_type=None), F.kraken_trade()),
        # its rows rewritten: row 0 now has an order type, row 1 none
        kraken(F.kraken_trade(symbol="A"), F.kraken_trade(symbol="BB", ord_type=None)),
        refused_last(F.kraken_trade(symbol="Z" * 9000, ord_type=None)),  # grows, then rolls back
        kraken(F.kraken_trade(ord_type=None), F.kraken_trade(symbol="C")),
        refused_last(F.kraken_trade(symbol="tail", ord_type=None)),  # the burst's last frame
    ]
    _rows, chars = first_sizes("kraken", frames)
    assert chars < 9000
    batch = check_batch("kraken", frames)
    assert set(batch.slow) == {0, 2, 4}
    table = batch.trades
    assert table.column("symbol").to_pylist() == ["A", "BB", "MATIC/USD", "C"]
    assert table.column("ord_type").to_pylist() == ["limit", None, None, "limit"]
    assert_null_counts(table)
    assert_buffers_cut(table)


def test_a_burst_of_only_refused_frames_returns_empty_columns():
    frames = [refused_last(F.kraken_trade(ord_type=None))] * 3
    batch = check_batch("kraken", frames)
    assert set(batch.slow) == {0, 1, 2} and batch.trades.num_rows == 0
    assert_buffers_cut(batch.trades)


@pytest.mark.parametrize("venue", VENUES)
def test_simulator_bursts_fit_the_first_reserve_and_come_back_cut(venue):
    frames = [text for _ts, text in venue_frames(venue, 2000)]
    rows, chars = first_sizes(venue, frames)
    batch = check_batch(venue, frames)
    assert batch.slow == {} and batch.trade_count <= rows
    for name in batch.trades.column_names:
        if pa.types.is_string(batch.trades.schema.field(name).type):
            text = batch.trades.column(name).to_pylist()
            assert sum(len(v) for v in text if v) <= chars, name  # the usual burst never grows
    assert_buffers_cut(batch.trades)
    assert_null_counts(batch.trades)


@pytest.mark.parametrize("venue", VENUES)
def test_empty_and_slow_only_bursts(venue):
    assert first_sizes(venue, [])[0] >= 1
    for frames in ([], ["not json"], [b"{}", "{}"]):
        batch = check_batch(venue, frames)
        assert batch.trades.num_rows == 0 and set(batch.slow) == set(range(len(frames)))
        assert_buffers_cut(batch.trades)
