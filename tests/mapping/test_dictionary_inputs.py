"""Dictionary-encoded source columns (as the raw buffers drain repetitive ones) map exactly as
their plain form does: same rows, same rejects with the same reasons and payloads."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.mapping import CompiledMapping
from schemahub.schemas import decoded

from .conftest import SOURCE_SCHEMAS, raw_table

# Small pools, so values repeat (what makes a buffer encode a column); each mixes values the
# mappings take with values they refuse, and nulls.
_SIDES = ["BUY", "SELL", "buy", "sell", "b", "", None]
_DECIMALS = ["100.5", "0.001", "1e3", "-5", "0", "abc", "nan", " 7", None]
_TIMES = [
    "2026-08-09T21:05:42.514318Z",
    "2026-08-09T21:05:42.514318123Z",
    "2026-08-09 21:05:42+02:00",
    "2026-02-30T00:00:00Z",
    "yesterday",
    None,
]
_SYMBOLS = ["BTC-USD", "ETH-USD", "", None]

POOLS: dict[str, dict[str, list]] = {
    "raw_coinbase_trades": {
        "product_id": _SYMBOLS,
        "trade_id": ["1", "2", "0042", "-3", "x", None],
        "price": _DECIMALS,
        "size": _DECIMALS,
        "side": _SIDES,
        "time": _TIMES,
        "sequence_num": [None, 7],
        "feed": ["advanced", "exchange"],
    },
    "raw_kraken_trades": {
        "symbol": ["BTC/USD", "ETH/USD", None],
        "trade_id": [1, 2, 3, None],
        "price": [10.0, -1.0, 0.0, float("nan"), None],
        "qty": [1.5, 0.0, None],
        "side": _SIDES,
        "ord_type": ["market", "limit", None],
        "timestamp": _TIMES,
    },
    "raw_binance_trades": {
        "symbol": ["BTCUSDT", "ETHUSDT", None],
        "trade_id": [1, 2, None],
        "price": _DECIMALS,
        "qty": _DECIMALS,
        "trade_time": [1_000, 2**62, None],
        "is_buyer_maker": [True, False, None],
        "event_time": [None, 5],
    },
}


@st.composite
def raw_rows(draw: st.DrawFn) -> tuple[str, pa.Table, list[str]]:
    """A raw table of one venue and the string columns to encode."""
    source = draw(st.sampled_from(sorted(POOLS)))
    pools = POOLS[source]
    rows = draw(
        st.lists(
            st.fixed_dictionaries({name: st.sampled_from(pool) for name, pool in pools.items()}),
            min_size=1,
            max_size=40,
        )
    )
    strings = [f.name for f in SOURCE_SCHEMAS[source] if pa.types.is_string(f.type)]
    encode = draw(st.lists(st.sampled_from(strings), unique=True))
    return source, raw_table(source, rows), encode


def encoded(table: pa.Table, names: list[str], sliced: bool) -> pa.Table:
    """``table`` with ``names`` dictionary-encoded (over a shifted slice when ``sliced``, so
    the dictionaries hold values no row refers to and the arrays have an offset)."""
    for name in names:
        column = table.column(name).combine_chunks()
        if sliced:
            padded = pa.concat_arrays([pa.array(["unused", "abc"]), column])
            array = padded.dictionary_encode().slice(2)
        else:
            array = column.dictionary_encode()
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


def coinbase_trade(trade_id: str, price: str) -> dict:
    return dict(product_id="BTC-USD", trade_id=trade_id, price=price, size="1", side="BUY",
                time="2026-08-09T21:05:42Z", sequence_num=None, feed="advanced")  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(raw_rows(), st.booleans())
def test_encoded_columns_map_as_their_plain_form(
    shipped: dict[str, CompiledMapping], drawn: tuple[str, pa.Table, list[str]], sliced: bool
) -> None:
    source, plain, names = drawn
    mapping = shipped[source]
    expected = mapping.apply(plain)
    got = mapping.apply(encoded(plain, names, sliced))
    assert got.table.equals(expected.table)
    assert got.rejected.equals(expected.rejected)


def test_a_refused_value_is_reported_on_every_row_that_holds_it(
    shipped: dict[str, CompiledMapping],
) -> None:
    natives = [coinbase_trade(str(i), "abc" if i % 3 == 0 else "10") for i in range(9)]
    table = encoded(raw_table("raw_coinbase_trades", natives), ["price"], sliced=False)
    assert pa.types.is_dictionary(table.column("price").type)
    result = shipped["raw_coinbase_trades"].apply(table)
    assert result.rejected.column("row").to_pylist() == [0, 3, 6]
    assert set(result.reasons) == {"price: to_double refused 'abc' (expected a decimal number)"}
    assert result.table.column("trade_id").to_pylist() == [1, 2, 4, 5, 7, 8]


@settings(max_examples=150, deadline=None)
@given(raw_rows(), st.booleans())
def test_kept_encoded_outputs_hold_the_rows_of_the_plain_mapping(
    shipped: dict[str, CompiledMapping], drawn: tuple[str, pa.Table, list[str]], sliced: bool
) -> None:
    source, plain, names = drawn
    mapping = shipped[source]
    expected = mapping.apply(plain)
    got = mapping.apply(encoded(plain, names, sliced), keep_encoded=True)
    assert decoded(got.table).equals(expected.table)
    assert got.rejected.equals(expected.rejected)
    # The constant exchange stays encoded whatever the input; the other columns keep the
    # target's type unless they are strings.
    assert got.table.schema.field("exchange").type == pa.dictionary(pa.int8(), pa.string())
    for name, field in zip(got.table.column_names, expected.table.schema, strict=True):
        kept = got.table.schema.field(name).type
        assert kept == field.type or kept.value_type == field.type == pa.string()


def test_kept_encoded_string_columns_come_from_their_source_dictionary(
    shipped: dict[str, CompiledMapping],
) -> None:
    natives = [coinbase_trade(str(i), "10") for i in range(1, 6)]
    natives[2]["side"] = "sell"
    table = encoded(raw_table("raw_coinbase_trades", natives), ["product_id", "side"], False)
    result = shipped["raw_coinbase_trades"].apply(table, keep_encoded=True)
    side = result.table.column("side").combine_chunks()
    assert pa.types.is_dictionary(side.type)
    # Coinbase names the maker's side: one taker side per distinct value, spread by index.
    assert side.dictionary.to_pylist() == ["SELL", "BUY"]
    assert side.to_pylist() == ["SELL", "SELL", "BUY", "SELL", "SELL"]
    assert result.table.column("symbol").to_pylist() == ["BTC-USD"] * 5
    assert result.table.column("exchange").to_pylist() == ["coinbase"] * 5


def test_a_column_with_a_refused_value_is_kept_plain(
    shipped: dict[str, CompiledMapping],
) -> None:
    natives = [coinbase_trade(str(i), "10") for i in range(1, 5)]
    natives[1]["side"] = "sideways"
    table = encoded(raw_table("raw_coinbase_trades", natives), ["side"], sliced=False)
    result = shipped["raw_coinbase_trades"].apply(table, keep_encoded=True)
    assert result.table.schema.field("side").type == pa.string()
    assert result.table.column("side").to_pylist() == ["SELL", "SELL", "SELL"]
    assert result.rejected.column("row").to_pylist() == [1]


@settings(max_examples=100, deadline=None)
@given(raw_rows(), st.integers(min_value=1, max_value=7), st.booleans())
def test_chunked_columns_map_as_one_chunk(
    shipped: dict[str, CompiledMapping],
    drawn: tuple[str, pa.Table, list[str]],
    pieces: int,
    keep_encoded: bool,
) -> None:
    source, plain, _ = drawn
    mapping = shipped[source]
    expected = mapping.apply(plain, keep_encoded=keep_encoded)
    size = max(1, plain.num_rows // pieces)
    chunked = pa.concat_tables(
        [plain.slice(start, size) for start in range(0, plain.num_rows, size)]
    )  # several chunks per column, as a drained buffer holds them
    got = mapping.apply(chunked, keep_encoded=keep_encoded)
    assert got.table.equals(expected.table)
    assert got.rejected.equals(expected.rejected)
